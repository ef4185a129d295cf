//! [`StoredKey`]: a key of the store's ordered map, with its first bytes
//! kept inline so that most comparisons never read the key's allocation.
//!
//! A search of a `BTreeMap<Bytes, _>` compares the sought key with a dozen
//! or more stored keys, and every comparison follows a pointer to a key's
//! own allocation: a cache miss each, on a large map. The flame graph of a
//! leader under writes had a quarter of its loop in those comparisons. With
//! the first [`PREFIX_SIZE_BYTES`] bytes held as a big-endian integer next
//! to the pointer, two keys that differ there (all keys of up to 16 bytes,
//! and most longer ones) compare as integers.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use bytes::Bytes;

/// Bytes of a key kept inline.
pub const PREFIX_SIZE_BYTES: usize = 16;

/// A key of the store. Orders exactly as its bytes do (lexicographically),
/// so iteration, snapshots and their bytes are what they were with plain
/// `Bytes` keys.
#[derive(Clone, Debug)]
pub struct StoredKey {
    /// The first [`PREFIX_SIZE_BYTES`] bytes, big-endian, zero-padded.
    prefix: u128,
    bytes: Bytes,
}

impl StoredKey {
    /// Wraps `bytes`.
    pub fn new(bytes: Bytes) -> StoredKey {
        let mut head = [0u8; PREFIX_SIZE_BYTES];
        let length = bytes.len().min(PREFIX_SIZE_BYTES);
        head[..length].copy_from_slice(&bytes[..length]);
        StoredKey {
            prefix: u128::from_be_bytes(head),
            bytes,
        }
    }

    /// The key's bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

impl Ord for StoredKey {
    /// Zero padding keeps the order: when prefixes differ, the first
    /// difference lies within the prefix, where a shorter key's padding
    /// (0) is below or equal to any byte; equal prefixes (one key a
    /// zero-padded prefix of the other, or both longer than the prefix and
    /// alike in it) fall back to comparing the bytes.
    fn cmp(&self, other: &StoredKey) -> Ordering {
        self.prefix
            .cmp(&other.prefix)
            .then_with(|| self.bytes.cmp(&other.bytes))
    }
}

impl PartialOrd for StoredKey {
    fn partial_cmp(&self, other: &StoredKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for StoredKey {
    fn eq(&self, other: &StoredKey) -> bool {
        self.prefix == other.prefix && self.bytes == other.bytes
    }
}

impl Eq for StoredKey {}

impl Hash for StoredKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes.hash(state);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn key(bytes: &[u8]) -> StoredKey {
        StoredKey::new(Bytes::copy_from_slice(bytes))
    }

    #[test]
    fn zero_padding_does_not_confuse_a_key_with_its_extensions() {
        assert!(key(b"a") < key(b"a\0"));
        assert!(key(b"a\0") < key(b"a\x01"));
        assert!(key(b"") < key(b"\0"));
        let long = [7u8; 20];
        assert!(key(&long[..16]) < key(&long));
        assert_eq!(key(&long), key(&long));
    }

    proptest! {
        #[test]
        fn keys_order_as_their_bytes(
            left in proptest::collection::vec(0u8..4, 0..24),
            right in proptest::collection::vec(0u8..4, 0..24),
        ) {
            prop_assert_eq!(key(&left).cmp(&key(&right)), left.cmp(&right));
            prop_assert_eq!(key(&left) == key(&right), left == right);
        }
    }
}
