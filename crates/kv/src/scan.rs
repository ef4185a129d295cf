//! `KEYS`, `SCAN` and `RANDOMKEY`: reads over the whole keyspace.
//!
//! `SCAN`'s cursor must work on any node and across changes: a client may
//! send the next call to another node, and keys come and go meanwhile.
//! Redis's guarantee is kept: every key present from the first call to the
//! last is returned at least once. Keys are visited in the order of a
//! fixed 64-bit fingerprint of their bytes (the same on every node and
//! build), and the cursor is the fingerprint to resume from; a page never
//! ends between two keys of equal fingerprint. The order is derived from
//! the keys, so it is not part of snapshots or the digest: a restore
//! rebuilds it.

use bytes::Bytes;
use imbl::OrdSet;

use crate::fingerprint::Fingerprint;
use crate::key::StoredKey;
use crate::pattern;
use crate::response::Response;
use crate::store::Store;

/// The domain of scan-order fingerprints.
const FINGERPRINT_DOMAIN_SCAN: u64 = 6;

/// The keys in scan order: by fingerprint, then by bytes.
pub(crate) type ScanOrder = OrdSet<(u64, StoredKey)>;

/// Where `key` sits in the scan order.
pub(crate) fn scan_position(key: &StoredKey) -> (u64, StoredKey) {
    let mut fingerprint = Fingerprint::new(FINGERPRINT_DOMAIN_SCAN);
    fingerprint.write_bytes(key.bytes());
    (fingerprint.finish(), key.clone())
}

/// The scan order of `keys`, built from scratch (after a restore).
pub(crate) fn scan_order<'a>(keys: impl Iterator<Item = &'a StoredKey>) -> ScanOrder {
    keys.map(scan_position).collect()
}

/// A `SCAN` filter on the key type: synod stores strings only.
fn type_matches(type_filter: Option<&Bytes>) -> bool {
    type_filter.is_none_or(|name| name.eq_ignore_ascii_case(b"string"))
}

impl Store {
    /// `KEYS pattern`: every key that matches, in key order.
    pub(crate) fn keys_matching(&self, pattern: &[u8]) -> Response {
        let keys = self
            .entries
            .keys()
            .filter(|key| pattern::matches(pattern, key.bytes()))
            .map(|key| key.bytes().clone())
            .collect();
        Response::Keys(keys)
    }

    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`: visits at
    /// least `count` keys (more when fingerprints tie) from `cursor` on,
    /// and answers those that pass the filters and the cursor to continue
    /// from (0 at the end).
    pub(crate) fn scan(
        &self,
        cursor: u64,
        pattern: Option<&Bytes>,
        count: u64,
        type_filter: Option<&Bytes>,
    ) -> Response {
        let start = (cursor, StoredKey::new(Bytes::new()));
        let mut last: Option<u64> = None;
        let mut keys = Vec::new();
        let mut next_cursor = 0;
        for (visited, (fingerprint, key)) in (0u64..).zip(self.scan_order.range(start..)) {
            if visited >= count.max(1) && last != Some(*fingerprint) {
                next_cursor = *fingerprint;
                break;
            }
            last = Some(*fingerprint);
            let matched = pattern.is_none_or(|pattern| pattern::matches(pattern, key.bytes()));
            if matched && type_matches(type_filter) {
                keys.push(key.bytes().clone());
            }
        }
        Response::ScanPage {
            cursor: next_cursor,
            keys,
        }
    }

    /// `RANDOMKEY`: the key at or after `seed` in scan order (wrapping), or
    /// none when the store is empty. The server draws the seed.
    pub(crate) fn random_key(&self, seed: u64) -> Response {
        let start = (seed, StoredKey::new(Bytes::new()));
        let found = self
            .scan_order
            .range(start..)
            .next()
            .or_else(|| self.scan_order.get_min())
            .map(|(_, key)| key.bytes().clone());
        Response::Value(found)
    }
}
