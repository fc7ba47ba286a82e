//! The request context: condition keys (case-insensitive names) and their one or many string values.

use std::cmp::Ordering;

/// Condition-key values for one request.
///
/// Key names are case-insensitive, as in AWS: they are stored ASCII-lowercased once at insertion, and a lookup
/// compares while folding, so looking up any spelling never allocates. Entries are kept sorted for binary search,
/// which beats hashing for the dozen or so keys a request carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    entries: Vec<(String, Vec<String>)>,
}

impl Context {
    pub fn new() -> Context {
        Context::default()
    }

    /// Sets `key` to a single value, replacing any earlier values.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.insert_multi(key, vec![value.into()]);
    }

    /// Sets `key` to several values (a multi-valued key such as `aws:TagKeys`), replacing any earlier values.
    pub fn insert_multi(&mut self, key: &str, values: Vec<String>) {
        match self.position(key) {
            Ok(i) => self.entries[i].1 = values,
            Err(i) => self.entries.insert(i, (key.to_ascii_lowercase(), values)),
        }
    }

    /// Removes `key`; returns whether it was present.
    pub fn remove(&mut self, key: &str) -> bool {
        match self.position(key) {
            Ok(i) => {
                self.entries.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// The values of `key` (any case), if present.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.position(key)
            .ok()
            .map(|i| self.entries[i].1.as_slice())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All entries, keys lowercased, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(k, _)| cmp_folded(k.as_bytes(), key.as_bytes()))
    }
}

/// Compares a stored (already lowercased) key with a query key folded to lowercase on the fly.
fn cmp_folded(stored: &[u8], query: &[u8]) -> Ordering {
    let folded = query.iter().map(u8::to_ascii_lowercase);
    stored.iter().copied().cmp(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_keys() {
        let mut c = Context::new();
        c.insert("aws:SourceArn", "arn:x");
        c.insert("AWS:sourcearn", "arn:y");
        c.insert_multi("aws:TagKeys", vec!["a".into(), "b".into()]);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("aws:sourceARN"), Some(&["arn:y".to_string()][..]));
        assert_eq!(c.get("aws:tagkeys").map(<[String]>::len), Some(2));
        assert!(c.get("aws:other").is_none());
        assert!(c.remove("AWS:TAGKEYS"));
        assert!(c.get("aws:tagkeys").is_none());
    }
}
