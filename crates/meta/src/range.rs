//! Key ranges for ordered scans: bounds, direction and a result limit.

use std::ops::Bound;

/// A scan over one table: keys between two bounds, in key-byte order or its reverse, at most
/// `limit` entries.
///
/// Bounds only ever tighten through the builder methods ([`Range::after`], [`Range::before`]),
/// so a pagination cursor can never widen a prefix scan beyond its prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub(crate) start: Bound<Vec<u8>>,
    pub(crate) end: Bound<Vec<u8>>,
    pub(crate) limit: Option<usize>,
    pub(crate) reverse: bool,
}

impl Range {
    /// Every key of the table, forward, unlimited.
    pub fn all() -> Self {
        Range {
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            limit: None,
            reverse: false,
        }
    }

    /// Keys between `start` and `end`, forward, unlimited.
    pub fn new(start: Bound<Vec<u8>>, end: Bound<Vec<u8>>) -> Self {
        Range {
            start,
            end,
            ..Range::all()
        }
    }

    /// Every key that starts with `prefix`.
    pub fn prefix(prefix: &[u8]) -> Self {
        let end = match prefix_successor(prefix) {
            Some(next) => Bound::Excluded(next),
            None => Bound::Unbounded,
        };
        Range::new(Bound::Included(prefix.to_vec()), end)
    }

    /// Restricts the range to keys strictly greater than `key` (a forward pagination cursor).
    pub fn after(mut self, key: &[u8]) -> Self {
        let tighter = match &self.start {
            Bound::Unbounded => true,
            Bound::Included(s) => key >= s.as_slice(),
            Bound::Excluded(s) => key > s.as_slice(),
        };
        if tighter {
            self.start = Bound::Excluded(key.to_vec());
        }
        self
    }

    /// Restricts the range to keys strictly less than `key` (a reverse pagination cursor).
    pub fn before(mut self, key: &[u8]) -> Self {
        let tighter = match &self.end {
            Bound::Unbounded => true,
            Bound::Included(e) => key <= e.as_slice(),
            Bound::Excluded(e) => key < e.as_slice(),
        };
        if tighter {
            self.end = Bound::Excluded(key.to_vec());
        }
        self
    }

    /// Returns at most `limit` entries.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Returns entries in descending key order; the limit then keeps the greatest keys.
    pub fn rev(mut self) -> Self {
        self.reverse = !self.reverse;
        self
    }

    /// The lower bound.
    pub fn start(&self) -> Bound<&[u8]> {
        as_slice_bound(&self.start)
    }

    /// The upper bound.
    pub fn end(&self) -> Bound<&[u8]> {
        as_slice_bound(&self.end)
    }

    /// The maximum number of entries to return, if any.
    pub fn max_len(&self) -> Option<usize> {
        self.limit
    }

    /// Whether entries come in descending key order.
    pub fn is_reverse(&self) -> bool {
        self.reverse
    }

    /// Whether `key` lies between the bounds (ignoring limit and direction).
    pub fn contains(&self, key: &[u8]) -> bool {
        let above = match &self.start {
            Bound::Unbounded => true,
            Bound::Included(s) => key >= s.as_slice(),
            Bound::Excluded(s) => key > s.as_slice(),
        };
        let below = match &self.end {
            Bound::Unbounded => true,
            Bound::Included(e) => key <= e.as_slice(),
            Bound::Excluded(e) => key < e.as_slice(),
        };
        above && below
    }

    /// Whether no key can satisfy the range. Backends check this first because ordered maps
    /// (std's `BTreeMap` among them) panic on inverted bounds, and a cursor past the end of a
    /// prefix legitimately produces them.
    pub fn is_empty(&self) -> bool {
        if self.limit == Some(0) {
            return true;
        }
        match (&self.start, &self.end) {
            (Bound::Unbounded, _) | (_, Bound::Unbounded) => false,
            (Bound::Included(s), Bound::Included(e)) => s > e,
            (Bound::Included(s), Bound::Excluded(e))
            | (Bound::Excluded(s), Bound::Included(e))
            | (Bound::Excluded(s), Bound::Excluded(e)) => s >= e,
        }
    }

    /// The bounds as borrowed slices, the form ordered maps take.
    pub(crate) fn slice_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (self.start(), self.end())
    }
}

fn as_slice_bound(bound: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// The smallest byte string greater than every string starting with `prefix`, or `None` when
/// there is none (the prefix is empty or all `0xff`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut next = prefix.to_vec();
    while let Some(last) = next.pop() {
        if last < u8::MAX {
            next.push(last + 1);
            return Some(next);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_carries_over_ff() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
        assert_eq!(prefix_successor(b""), None);
    }

    #[test]
    fn prefix_range_contains_only_prefixed_keys() {
        let r = Range::prefix(b"u/");
        assert!(r.contains(b"u/"));
        assert!(r.contains(b"u/zzz\xff"));
        assert!(!r.contains(b"u"));
        assert!(!r.contains(b"u0"));
        assert!(!r.contains(b"v/"));
    }

    #[test]
    fn cursors_only_tighten() {
        let r = Range::prefix(b"b").after(b"a");
        assert_eq!(r.start(), Bound::Included(&b"b"[..]));
        let r = Range::prefix(b"b").after(b"b1");
        assert_eq!(r.start(), Bound::Excluded(&b"b1"[..]));
        let r = Range::prefix(b"b").before(b"z");
        assert_eq!(r.end(), Bound::Excluded(&b"c"[..]));
        let r = Range::prefix(b"b").before(b"b5");
        assert_eq!(r.end(), Bound::Excluded(&b"b5"[..]));
    }

    #[test]
    fn inverted_or_zero_limit_ranges_are_empty() {
        assert!(Range::prefix(b"b").after(b"c").is_empty());
        assert!(Range::new(
            Bound::Excluded(b"a".to_vec()),
            Bound::Excluded(b"a".to_vec())
        )
        .is_empty());
        assert!(!Range::new(
            Bound::Included(b"a".to_vec()),
            Bound::Included(b"a".to_vec())
        )
        .is_empty());
        assert!(Range::all().limit(0).is_empty());
        assert!(!Range::all().is_empty());
    }
}
