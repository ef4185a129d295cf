//! Key versions for `WATCH`, and transactions (`MULTI`/`EXEC`).
//!
//! # Versions
//!
//! Every stored value remembers when it last changed: the applied-command
//! count of the command that last wrote it or its deadline (the entry's
//! `changed`). A removed key leaves a tombstone with the count of its
//! removal, kept for [`TOMBSTONE_RETENTION_COMMANDS`] commands. `WATCH`
//! reads a [`KeyVersion`] for each key through the linearizable read path;
//! `EXEC` carries them in its [`Operation::Transaction`], and the store
//! applies the transaction only if no watched key changed since. Both are
//! functions of the log, so every replica decides alike.
//!
//! A key watched while absent and without a tombstone is "unchanged as of"
//! the read. At `EXEC` it is still unchanged if it is still absent with no
//! tombstone and fewer than [`TOMBSTONE_RETENTION_COMMANDS`] commands have
//! passed: a removal within that window would have left a tombstone. A
//! watch held longer than that over an absent key aborts (a false abort,
//! which Redis clients retry, never a false commit).
//!
//! # Transactions
//!
//! The queued commands of `MULTI` are one log entry, applied one after the
//! other with nothing in between. As in Redis, a command that fails at run
//! time (an `INCR` of a word) answers its error and the others still apply:
//! there is no rollback.

use std::collections::BTreeMap;

use bytes::Bytes;
use imbl::{OrdMap, Vector};

use crate::command::Operation;
use crate::fingerprint::Fingerprint;
use crate::key::StoredKey;
use crate::response::Response;
use crate::store::{Entry, Store};

/// How long a tombstone is kept, in applied commands. It bounds their
/// memory (at most one per removal within the window, about 60 bytes plus
/// the key each: 6 MiB of small keys at most) and is the longest a `WATCH`
/// over an absent key can last without aborting: ten seconds at 10,000
/// writes per second.
pub const TOMBSTONE_RETENTION_COMMANDS: u64 = 100_000;

/// The domain of tombstone fingerprints.
const FINGERPRINT_DOMAIN_TOMBSTONE: u64 = 5;

/// What `WATCH` saw of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyVersion {
    /// The key (or its tombstone) last changed at this applied-command
    /// count.
    Changed(u64),
    /// No change of the key is remembered as of this applied-command count.
    UnchangedAsOf(u64),
}

/// The tombstones of removed keys: when each was removed, and the removals
/// in order, to drop the old ones.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tombstones {
    pub(crate) by_key: OrdMap<StoredKey, u64>,
    /// Removals in the order they happened. An item whose key was written
    /// again, or removed again later, is stale and skipped when dropped.
    queue: Vector<(u64, StoredKey)>,
    digest: u64,
}

impl PartialEq for Tombstones {
    /// The queue is bookkeeping: its stale items depend on history, not on
    /// the state.
    fn eq(&self, other: &Tombstones) -> bool {
        self.by_key == other.by_key
    }
}

impl Eq for Tombstones {}

impl Tombstones {
    /// Rebuilds the tombstones from a snapshot's pairs.
    pub(crate) fn restore(by_key: OrdMap<StoredKey, u64>) -> Tombstones {
        let mut ordered: Vec<(u64, StoredKey)> = by_key
            .iter()
            .map(|(key, removed)| (*removed, key.clone()))
            .collect();
        ordered.sort();
        let digest = by_key.iter().fold(0u64, |sum, (key, removed)| {
            sum.wrapping_add(tombstone_fingerprint(key, *removed))
        });
        Tombstones {
            by_key,
            queue: ordered.into_iter().collect(),
            digest,
        }
    }

    pub(crate) fn digest(&self) -> u64 {
        self.digest
    }

    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }

    /// `key` was removed by command `now`; tombstones older than the
    /// retention go.
    pub(crate) fn record(&mut self, key: StoredKey, now: u64) {
        self.forget(&key);
        self.digest = self.digest.wrapping_add(tombstone_fingerprint(&key, now));
        self.by_key.insert(key.clone(), now);
        self.queue.push_back((now, key));
        while let Some((removed, _)) = self.queue.front() {
            if removed + TOMBSTONE_RETENTION_COMMANDS >= now {
                break;
            }
            let (removed, key) = self.queue.pop_front().expect("checked");
            if self.by_key.get(&key) == Some(&removed) {
                self.forget(&key);
            }
        }
    }

    /// `key` exists again (or was removed again): its old tombstone goes.
    pub(crate) fn forget(&mut self, key: &StoredKey) {
        if self.by_key.is_empty() {
            return;
        }
        if let Some(removed) = self.by_key.remove(key) {
            self.digest = self
                .digest
                .wrapping_sub(tombstone_fingerprint(key, removed));
        }
    }

    pub(crate) fn check_invariants(
        &self,
        entries: &OrdMap<StoredKey, Entry>,
        applied_commands: u64,
    ) -> Result<(), &'static str> {
        let mut digest = 0u64;
        for (key, removed) in &self.by_key {
            if entries.contains_key(key) {
                return Err("a key that exists has a tombstone");
            }
            if *removed > applied_commands {
                return Err("a tombstone is newer than the last applied command");
            }
            digest = digest.wrapping_add(tombstone_fingerprint(key, *removed));
        }
        if digest != self.digest {
            return Err("the tombstones digest disagrees with the tombstones");
        }
        Ok(())
    }
}

fn tombstone_fingerprint(key: &StoredKey, removed: u64) -> u64 {
    let mut fingerprint = Fingerprint::new(FINGERPRINT_DOMAIN_TOMBSTONE);
    fingerprint.write_bytes(key.bytes());
    fingerprint.write_u64(removed);
    fingerprint.finish()
}

impl Store {
    /// The version of each key, for `WATCH`.
    pub(crate) fn read_versions(&self, keys: &[Bytes]) -> Response {
        Response::Versions(keys.iter().map(|key| self.version(key)).collect())
    }

    fn version(&self, key: &Bytes) -> KeyVersion {
        let stored_key = StoredKey::new(key.clone());
        if let Some(entry) = self.entries.get(&stored_key) {
            return KeyVersion::Changed(entry.changed);
        }
        match self.tombstones.by_key.get(&stored_key) {
            Some(removed) => KeyVersion::Changed(*removed),
            None => KeyVersion::UnchangedAsOf(self.applied_commands),
        }
    }

    /// Whether `key` is as `WATCH` saw it.
    fn unchanged_since(&self, key: &Bytes, watched: KeyVersion) -> bool {
        match (watched, self.version(key)) {
            (KeyVersion::Changed(then), KeyVersion::Changed(now)) => then == now,
            // A watch from "the future" cannot come from a read of this
            // log (a forged command): it aborts rather than underflows.
            (KeyVersion::UnchangedAsOf(then), KeyVersion::UnchangedAsOf(now)) => now
                .checked_sub(then)
                .is_some_and(|elapsed| elapsed < TOMBSTONE_RETENTION_COMMANDS),
            _ => false,
        }
    }

    /// `EXEC`: [`Response::Aborted`] when a watched key changed, else every
    /// operation in order, each answered as it would be alone.
    pub(crate) fn run_transaction(
        &mut self,
        watches: &[(Bytes, KeyVersion)],
        operations: Vec<Operation>,
        now: u64,
    ) -> Response {
        let aborted = watches
            .iter()
            .any(|(key, watched)| !self.unchanged_since(key, *watched));
        if aborted {
            return Response::Aborted;
        }
        let responses = operations
            .into_iter()
            .map(|operation| self.execute(operation, now))
            .collect();
        Response::Transaction(responses)
    }
}

/// The tombstones of a snapshot in key order, checked.
pub(crate) fn tombstones_in_order(
    pairs: Vec<(StoredKey, u64)>,
) -> Result<OrdMap<StoredKey, u64>, &'static str> {
    let mut checked = BTreeMap::new();
    for (key, removed) in pairs {
        if checked
            .last_key_value()
            .is_some_and(|(last, _)| *last >= key)
        {
            return Err("tombstones are not in strictly increasing key order");
        }
        checked.insert(key, removed);
    }
    Ok(checked.into_iter().collect())
}
