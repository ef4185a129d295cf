//! The consensus core's durable state on top of a [`Storage`] log.
//!
//! Every [`PersistentChanges`] batch the core produces becomes a few records
//! (a promise, accepted entries, a commit marker) appended to the log and
//! made durable by one sync: group commit. A snapshot from the core is
//! written as a storage snapshot whose payload holds the state machine
//! *and* the acceptor state still needed above it (the promise, the commit
//! index and the entries at or after the snapshot's end), so every record
//! before it can be compacted away.
//!
//! Record payloads (all integers little-endian):
//!
//! | kind | layout |
//! |---|---|
//! | promise | `1`, round u64, node u64 |
//! | entry   | `2`, slot u64, round u64, node u64, value |
//! | commit  | `3`, slot u64 (every slot below it is decided) |
//!
//! A value is `0` (no-op) or `1`, command count u32, then per command its
//! length u32 and bytes. The snapshot payload is the magic `SYNA`, version
//! `1`, the snapshot's end slot u64, state length u64 and bytes, the promised
//! ballot, the commit index, an entry count u64 and that many entries laid
//! out as the entry record without its kind byte.
//!
//! The encoding is written by hand because it is part of the on-disk format:
//! it must never change under us with a serialization crate's version.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use synod_paxos::{Ballot, DurableState, Entry, NodeId, PersistentChanges, Slot, Snapshot, Value};
use thiserror::Error;

use crate::{LogPosition, Recovered, Storage, StorageError};

const RECORD_PROMISE: u8 = 1;
const RECORD_ENTRY: u8 = 2;
const RECORD_COMMIT: u8 = 3;
const VALUE_NOOP: u8 = 0;
const VALUE_BATCH: u8 = 1;
const SNAPSHOT_MAGIC: &[u8; 4] = b"SYNA";
const SNAPSHOT_VERSION: u8 = 1;

/// A record or snapshot payload whose checksum was fine but whose content
/// makes no sense: written by another version, or a bug. Never guessed at.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("acceptor state at {location} is unreadable: {reason}; the node refuses to start rather than guess (restore the data directory from a backup, or re-add the node as a new member)")]
pub struct AcceptorDecodeError {
    /// Which record or the snapshot.
    pub location: String,
    /// What was wrong.
    pub reason: String,
}

/// The acceptor's durable state, kept in a storage log.
#[derive(Debug)]
pub struct AcceptorStore<S: Storage> {
    storage: S,
    state: DurableState,
    /// Changes written but not yet covered by a sync.
    unsynced: bool,
}

impl<S: Storage> AcceptorStore<S> {
    /// Rebuilds the durable state from what storage recovered: the newest
    /// snapshot's payload, then every record after it, in order.
    pub fn recover(
        storage: S,
        recovered: &Recovered,
    ) -> Result<AcceptorStore<S>, AcceptorDecodeError> {
        let mut state = DurableState::default();
        if let Some(snapshot) = &recovered.snapshot {
            state = decode_snapshot(&snapshot.payload).map_err(|reason| AcceptorDecodeError {
                location: format!("the snapshot covering {}", snapshot.covers),
                reason,
            })?;
        }
        for (position, record) in &recovered.records {
            let changes = decode_record(record).map_err(|reason| AcceptorDecodeError {
                location: format!("record {position}"),
                reason,
            })?;
            state.apply(&changes);
        }
        Ok(AcceptorStore {
            storage,
            state,
            unsynced: false,
        })
    }

    /// The durable state as of the last successful [`AcceptorStore::sync`].
    /// Hand it to `Replica::new` at start.
    pub fn state(&self) -> &DurableState {
        &self.state
    }

    /// The storage underneath (for fault injection in the simulator).
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    /// Appends the records of one batch of changes, without syncing: several
    /// batches may share one sync (group commit). A snapshot among the
    /// changes is installed at once (installing syncs everything before it).
    pub fn write(&mut self, changes: &PersistentChanges) -> Result<(), StorageError> {
        if let Some(promised) = changes.promised {
            self.append(&encode_promise(promised))?;
        }
        for (slot, entry) in &changes.entries {
            self.append(&encode_entry(*slot, entry))?;
        }
        if let Some(committed) = changes.committed {
            self.append(&encode_commit(committed))?;
        }
        self.state.apply(changes);
        if changes.snapshot.is_some() {
            let covers = self.storage.written_position();
            let payload = encode_snapshot(&self.state);
            self.storage.install_snapshot(covers, &payload)?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Makes everything written so far durable with one sync. After an
    /// error the store is failed for good: the caller must stop
    /// acknowledging and voting (an fsync failure is not retryable).
    pub fn sync(&mut self) -> Result<LogPosition, StorageError> {
        let position = self.storage.sync()?;
        self.unsynced = false;
        Ok(position)
    }

    /// [`AcceptorStore::write`] then [`AcceptorStore::sync`].
    pub fn persist(&mut self, changes: &PersistentChanges) -> Result<(), StorageError> {
        self.write(changes)?;
        if self.unsynced {
            self.sync()?;
        }
        Ok(())
    }

    fn append(&mut self, record: &[u8]) -> Result<LogPosition, StorageError> {
        self.unsynced = true;
        self.storage.append(record)
    }
}

fn put_ballot(output: &mut Vec<u8>, ballot: Ballot) {
    output.extend_from_slice(&ballot.round.to_le_bytes());
    output.extend_from_slice(&ballot.node.0.to_le_bytes());
}

fn put_value(output: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Noop => output.push(VALUE_NOOP),
        Value::Batch(commands) => {
            output.push(VALUE_BATCH);
            let count = u32::try_from(commands.len()).expect("batches are bounded far below 2^32");
            output.extend_from_slice(&count.to_le_bytes());
            for command in commands.iter() {
                let length =
                    u32::try_from(command.len()).expect("commands are bounded far below 4 GiB");
                output.extend_from_slice(&length.to_le_bytes());
                output.extend_from_slice(command);
            }
        }
    }
}

fn put_slot_entry(output: &mut Vec<u8>, slot: Slot, entry: &Entry) {
    output.extend_from_slice(&slot.0.to_le_bytes());
    put_ballot(output, entry.ballot);
    put_value(output, &entry.value);
}

fn encode_promise(ballot: Ballot) -> Vec<u8> {
    let mut output = vec![RECORD_PROMISE];
    put_ballot(&mut output, ballot);
    output
}

fn encode_entry(slot: Slot, entry: &Entry) -> Vec<u8> {
    let mut output = Vec::with_capacity(64 + entry.value.size_bytes());
    output.push(RECORD_ENTRY);
    put_slot_entry(&mut output, slot, entry);
    output
}

fn encode_commit(committed: Slot) -> Vec<u8> {
    let mut output = vec![RECORD_COMMIT];
    output.extend_from_slice(&committed.0.to_le_bytes());
    output
}

fn encode_snapshot(state: &DurableState) -> Vec<u8> {
    let snapshot = state
        .snapshot
        .as_ref()
        .expect("a snapshot payload is written only with a snapshot");
    let mut output = Vec::with_capacity(64 + snapshot.state.len());
    output.extend_from_slice(SNAPSHOT_MAGIC);
    output.push(SNAPSHOT_VERSION);
    output.extend_from_slice(&snapshot.end.0.to_le_bytes());
    output.extend_from_slice(&(snapshot.state.len() as u64).to_le_bytes());
    output.extend_from_slice(&snapshot.state);
    put_ballot(&mut output, state.promised);
    output.extend_from_slice(&state.committed.0.to_le_bytes());
    output.extend_from_slice(&(state.entries.len() as u64).to_le_bytes());
    for (slot, entry) in &state.entries {
        put_slot_entry(&mut output, *slot, entry);
    }
    output
}

/// A bounds-checked reader: every read states what it expected.
struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, length: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self
            .offset
            .checked_add(length)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("ends inside {what} at byte {}", self.offset))?;
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let bytes = self.take(4, what)?;
        Ok(u32::from_le_bytes(bytes.try_into().expect("four bytes")))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let bytes = self.take(8, what)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("eight bytes")))
    }

    fn ballot(&mut self) -> Result<Ballot, String> {
        Ok(Ballot {
            round: self.u64("a ballot round")?,
            node: NodeId(self.u64("a ballot node")?),
        })
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.u8("a value kind")? {
            VALUE_NOOP => Ok(Value::Noop),
            VALUE_BATCH => {
                let count = self.u32("a command count")? as usize;
                // Each command needs at least its length: bound the
                // allocation by what the bytes can actually hold.
                if count > (self.bytes.len() - self.offset) / 4 {
                    return Err(format!(
                        "claims {count} commands, more than its bytes can hold"
                    ));
                }
                let mut commands = Vec::with_capacity(count);
                for _ in 0..count {
                    let length = self.u32("a command length")? as usize;
                    commands.push(Bytes::copy_from_slice(self.take(length, "a command")?));
                }
                Ok(Value::Batch(Arc::from(commands)))
            }
            other => Err(format!("unknown value kind {other}")),
        }
    }

    fn slot_entry(&mut self) -> Result<(Slot, Entry), String> {
        let slot = Slot(self.u64("a slot")?);
        let ballot = self.ballot()?;
        let value = self.value()?;
        Ok((slot, Entry { ballot, value }))
    }

    fn finish(&self) -> Result<(), String> {
        if self.offset == self.bytes.len() {
            Ok(())
        } else {
            Err(format!(
                "{} unexpected trailing bytes",
                self.bytes.len() - self.offset
            ))
        }
    }
}

fn decode_record(bytes: &[u8]) -> Result<PersistentChanges, String> {
    let mut reader = Reader { bytes, offset: 0 };
    let mut changes = PersistentChanges::default();
    match reader.u8("the record kind")? {
        RECORD_PROMISE => changes.promised = Some(reader.ballot()?),
        RECORD_ENTRY => {
            let (slot, entry) = reader.slot_entry()?;
            changes.entries.insert(slot, entry);
        }
        RECORD_COMMIT => changes.committed = Some(Slot(reader.u64("a commit index")?)),
        other => return Err(format!("unknown record kind {other}")),
    }
    reader.finish()?;
    Ok(changes)
}

fn decode_snapshot(bytes: &[u8]) -> Result<DurableState, String> {
    let mut reader = Reader { bytes, offset: 0 };
    if reader.take(4, "the magic")? != SNAPSHOT_MAGIC {
        return Err("not an acceptor snapshot (bad magic)".into());
    }
    let version = reader.u8("the version")?;
    if version != SNAPSHOT_VERSION {
        return Err(format!("unsupported snapshot version {version}"));
    }
    let end = Slot(reader.u64("the snapshot end")?);
    let state_length = reader.u64("the state length")?;
    let state_length =
        usize::try_from(state_length).map_err(|_| "state length overflows".to_string())?;
    let state = Bytes::copy_from_slice(reader.take(state_length, "the state machine")?);
    let promised = reader.ballot()?;
    let committed = Slot(reader.u64("the commit index")?);
    let count = reader.u64("the entry count")?;
    let mut entries = BTreeMap::new();
    for _ in 0..count {
        let (slot, entry) = reader.slot_entry()?;
        if slot < end {
            return Err(format!("holds an entry for {slot}, below its end {end}"));
        }
        entries.insert(slot, entry);
    }
    reader.finish()?;
    if committed < end {
        return Err(format!("commit index {committed} below its end {end}"));
    }
    Ok(DurableState {
        promised,
        entries,
        committed,
        snapshot: Some(Snapshot { end, state }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryStorage, StorageOptions};

    fn batch(commands: &[&'static str]) -> Value {
        Value::Batch(
            commands
                .iter()
                .map(|text| Bytes::from_static(text.as_bytes()))
                .collect(),
        )
    }

    fn ballot(round: u64) -> Ballot {
        Ballot {
            round,
            node: NodeId(2),
        }
    }

    fn reopen(store: AcceptorStore<MemoryStorage>) -> AcceptorStore<MemoryStorage> {
        let mut storage = store.storage;
        storage.crash(crate::CrashFault::LoseUnsynced);
        let recovered = storage.recover().expect("recovers");
        AcceptorStore::recover(storage, &recovered).expect("decodes")
    }

    fn fresh() -> AcceptorStore<MemoryStorage> {
        let storage = MemoryStorage::new(StorageOptions::default()).expect("a new disk");
        AcceptorStore {
            storage,
            state: DurableState::default(),
            unsynced: false,
        }
    }

    #[test]
    fn synced_changes_survive_a_crash_and_unsynced_ones_do_not() {
        let mut store = fresh();
        let mut changes = PersistentChanges {
            promised: Some(ballot(3)),
            ..PersistentChanges::default()
        };
        changes.entries.insert(
            Slot(0),
            Entry {
                ballot: ballot(3),
                value: batch(&["a", "b"]),
            },
        );
        changes.entries.insert(
            Slot(1),
            Entry {
                ballot: ballot(3),
                value: Value::Noop,
            },
        );
        changes.committed = Some(Slot(1));
        store.persist(&changes).expect("persists");
        let expected = store.state().clone();
        store
            .write(&PersistentChanges {
                promised: Some(ballot(9)),
                ..PersistentChanges::default()
            })
            .expect("written, not synced");
        let store = reopen(store);
        assert_eq!(store.state(), &expected);
    }

    #[test]
    fn a_snapshot_carries_the_acceptor_state_above_it_and_compacts_the_rest() {
        let mut store = fresh();
        for slot in 0..10 {
            let mut changes = PersistentChanges::default();
            changes.entries.insert(
                Slot(slot),
                Entry {
                    ballot: ballot(1),
                    value: batch(&["x"]),
                },
            );
            changes.committed = Some(Slot(slot + 1));
            if slot == 3 {
                changes.promised = Some(ballot(4));
            }
            store.persist(&changes).expect("persists");
        }
        store
            .persist(&PersistentChanges {
                snapshot: Some(Snapshot {
                    end: Slot(6),
                    state: Bytes::from_static(b"state machine"),
                }),
                ..PersistentChanges::default()
            })
            .expect("snapshot installed");
        let expected = store.state().clone();
        assert_eq!(expected.entries.len(), 4, "slots 6..10 remain");
        let store = reopen(store);
        assert_eq!(store.state(), &expected);
        assert_eq!(store.state().promised, ballot(4));
        assert_eq!(store.state().log_start(), Slot(6));
    }

    #[test]
    fn garbage_records_are_refused_with_their_position_not_guessed_at() {
        for garbage in [
            &b""[..],
            &[9][..],
            &[RECORD_ENTRY, 1, 2][..],
            &[RECORD_COMMIT, 0, 0, 0, 0, 0, 0, 0, 0, 7][..],
        ] {
            assert!(decode_record(garbage).is_err(), "{garbage:?}");
        }
        assert!(decode_snapshot(b"SYNA\x01").is_err());
        let huge_count = [
            &[RECORD_ENTRY][..],
            &[0; 24],
            &[VALUE_BATCH],
            &u32::MAX.to_le_bytes(),
        ]
        .concat();
        assert!(
            decode_record(&huge_count).is_err(),
            "no allocation from a lying count"
        );
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = decode_record(&bytes);
            let _ = decode_snapshot(&bytes);
        }
    }
}
