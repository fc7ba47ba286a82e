//! Tags on keys: TagResource, UntagResource, ListResourceTags, with AWS's limits.

use crate::keys::{check_limit, require_not_pending};
use crate::model::{KeyRecord, Tag};
use crate::{Kms, KmsError, Page};

/// AWS's quota of tags per key.
pub const MAX_TAGS: usize = 50;

fn tag_char_ok(c: char) -> bool {
    // AWS's pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

fn validate_tag_key(k: &str) -> Result<(), KmsError> {
    let n = k.chars().count();
    if n == 0 || n > 128 {
        return Err(KmsError::Tag(format!(
            "Tag key '{k}' must be between 1 and 128 characters long."
        )));
    }
    if !k.chars().all(tag_char_ok) {
        return Err(KmsError::Tag(format!(
            "Tag key '{k}' contains invalid characters."
        )));
    }
    if k.len() >= 4 && k[..4].eq_ignore_ascii_case("aws:") {
        return Err(KmsError::Tag(
            "Tags beginning with aws: are reserved and cannot be set by users.".into(),
        ));
    }
    Ok(())
}

/// Checks `new` tags and that merging them into `existing` stays within the quota.
pub(crate) fn validate_tags(existing: &[Tag], new: &[Tag]) -> Result<(), KmsError> {
    for (i, t) in new.iter().enumerate() {
        validate_tag_key(&t.key)?;
        if t.value.chars().count() > 256 || !t.value.chars().all(tag_char_ok) {
            return Err(KmsError::Tag(format!(
                "Tag value for key '{}' must be at most 256 characters of the allowed set.",
                t.key
            )));
        }
        if new[..i].iter().any(|o| o.key == t.key) {
            return Err(KmsError::Tag(format!("Duplicate tag key '{}'.", t.key)));
        }
    }
    let added = new
        .iter()
        .filter(|t| !existing.iter().any(|e| e.key == t.key))
        .count();
    if existing.len() + added > MAX_TAGS {
        return Err(KmsError::Tag(format!(
            "A key can have at most {MAX_TAGS} tags."
        )));
    }
    Ok(())
}

impl Kms {
    /// TagResource: adds tags, replacing the values of keys already present.
    pub async fn tag_resource(&self, key: &KeyRecord, tags: Vec<Tag>) -> Result<(), KmsError> {
        self.update_key(key, move |k| {
            require_not_pending(k)?;
            validate_tags(&k.tags, &tags)?;
            for t in tags {
                match k.tags.iter_mut().find(|e| e.key == t.key) {
                    Some(e) => e.value = t.value,
                    None => k.tags.push(t),
                }
            }
            Ok(())
        })
        .await
    }

    /// UntagResource: removes tags by key; absent keys are ignored, as in AWS.
    pub async fn untag_resource(&self, key: &KeyRecord, keys: Vec<String>) -> Result<(), KmsError> {
        for k in &keys {
            validate_tag_key(k)?;
        }
        self.update_key(key, move |k| {
            require_not_pending(k)?;
            k.tags.retain(|t| !keys.contains(&t.key));
            Ok(())
        })
        .await
    }

    /// ListResourceTags, in the order tags were added; `marker` is the index to continue from.
    pub fn list_resource_tags(
        &self,
        key: &KeyRecord,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<Tag>, KmsError> {
        let limit = check_limit(limit)?;
        let start = match marker {
            None => 0,
            Some(m) => m
                .parse::<usize>()
                .map_err(|_| KmsError::InvalidMarker(format!("Invalid marker {m}")))?,
        };
        let tags = key.tags();
        let items: Vec<Tag> = tags.iter().skip(start).take(limit).cloned().collect();
        let end = start + items.len();
        Ok(Page {
            items,
            next_marker: (end < tags.len()).then(|| end.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn tag_rules() {
        assert!(validate_tags(&[], &[tag("Project", "alpha beta"), tag("env", "")]).is_ok());
        for bad in [
            vec![tag("", "x")],
            vec![tag(&"k".repeat(129), "x")],
            vec![tag("k", &"v".repeat(257))],
            vec![tag("aws:x", "v")],
            vec![tag("AWS:x", "v")],
            vec![tag("a", "1"), tag("a", "2")],
            vec![tag("bad*char", "v")],
        ] {
            assert_eq!(validate_tags(&[], &bad).unwrap_err().code(), "TagException");
        }
        let full: Vec<Tag> = (0..MAX_TAGS).map(|i| tag(&format!("k{i}"), "")).collect();
        assert!(validate_tags(&full, &[tag("k0", "new")]).is_ok());
        assert_eq!(
            validate_tags(&full, &[tag("extra", "")])
                .unwrap_err()
                .code(),
            "TagException"
        );
    }
}
