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
//! Records and snapshot payloads use the core's one encoding of ballots,
//! slots and entries (`synod_paxos`'s `encoding` module, the same bytes as
//! on the wire). Record format 2:
//!
//! | kind | layout |
//! |---|---|
//! | promise | `4`, ballot |
//! | entry   | `5`, slot-entry |
//! | commit  | `6`, slot (every slot below it is decided) |
//!
//! The snapshot payload is the magic `SYNA`, version `3`, the snapshot (end,
//! state and membership; version `2` had no membership), the promised ballot, the commit index, and the list of
//! entries at or above the end. Kinds 1 to 3 and snapshot version 1 are
//! record format 1, which earlier builds wrote; it is still read (see
//! `legacy.rs`), never written.
//!
//! The encoding is written by hand because it is part of the on-disk format:
//! it must never change under us with a serialization crate's version.

mod legacy;

use bytes::Bytes;
use synod_codec::{Decode, DecodeError, Encode, Reader, Writer};
use synod_paxos::{Ballot, DurableState, Entry, PersistentChanges, Slot, SlotEntry, Snapshot};
use thiserror::Error;

use crate::{
    FileStorage, LogPosition, Recovered, SnapshotFileWriter, Storage, StorageError, WrittenSnapshot,
};

/// The record kinds of format 2; never reuse or renumber one.
const RECORD_PROMISE: u8 = 4;
const RECORD_ENTRY: u8 = 5;
const RECORD_COMMIT: u8 = 6;
const SNAPSHOT_MAGIC: [u8; 4] = *b"SYNA";
/// Version 3: the snapshot carries the membership. Version 2 (the
/// snapshot without it) is still read, never written.
const SNAPSHOT_VERSION: u8 = 3;
const SNAPSHOT_VERSION_WITHOUT_MEMBERSHIP: u8 = 2;

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
            state = decode_snapshot(&snapshot.payload).map_err(|error| AcceptorDecodeError {
                location: format!("the snapshot covering {}", snapshot.covers),
                reason: error.to_string(),
            })?;
        }
        for (position, record) in &recovered.records {
            let changes = decode_record(record).map_err(|error| AcceptorDecodeError {
                location: format!("record {position}"),
                reason: error.to_string(),
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
            let parts = encode_snapshot_parts(&self.state);
            let parts: Vec<&[u8]> = parts.iter().map(|part| part.as_ref()).collect();
            self.storage.install_snapshot_parts(covers, &parts)?;
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

fn encode_promise(ballot: Ballot) -> Bytes {
    let mut writer = Writer::with_capacity(24);
    writer.put_u8(RECORD_PROMISE);
    ballot.encode(&mut writer);
    writer.into_bytes()
}

fn encode_entry(slot: Slot, entry: &Entry) -> Bytes {
    let mut writer = Writer::with_capacity(64 + entry.value.size_bytes());
    writer.put_u8(RECORD_ENTRY);
    slot.encode(&mut writer);
    entry.encode(&mut writer);
    writer.into_bytes()
}

fn encode_commit(committed: Slot) -> Bytes {
    let mut writer = Writer::with_capacity(12);
    writer.put_u8(RECORD_COMMIT);
    committed.encode(&mut writer);
    writer.into_bytes()
}

/// The snapshot payload in three parts whose concatenation is the payload:
/// what precedes the state machine's bytes, those bytes (shared, not
/// copied: they can be most of the memory a node holds), and what follows.
fn encode_snapshot_parts(state: &DurableState) -> [Bytes; 3] {
    let snapshot = state
        .snapshot
        .as_ref()
        .expect("a snapshot payload is written only with a snapshot");
    let mut head = Writer::with_capacity(64);
    head.put_raw(&SNAPSHOT_MAGIC);
    head.put_u8(SNAPSHOT_VERSION);
    snapshot.encode_head(&mut head);
    let mut rest = Writer::with_capacity(64);
    snapshot.encode_tail(&mut rest);
    state.promised.encode(&mut rest);
    state.committed.encode(&mut rest);
    rest.put_length(state.entries.len());
    for (slot, entry) in &state.entries {
        slot.encode(&mut rest);
        entry.encode(&mut rest);
    }
    [head.into_bytes(), snapshot.state.clone(), rest.into_bytes()]
}

/// A snapshot of the acceptor's durable state, to write on another thread
/// ([`AcceptorStore::write_deferring_snapshot`]).
#[derive(Debug)]
pub struct SnapshotJob {
    writer: SnapshotFileWriter,
    parts: [Bytes; 3],
}

impl SnapshotJob {
    /// Writes and syncs the snapshot file under its temporary name; hand the
    /// result to [`AcceptorStore::install_written_snapshot`].
    ///
    /// # Errors
    ///
    /// Any I/O error. The store is unaffected: its log still holds
    /// everything the snapshot covers.
    pub fn write(self) -> std::io::Result<WrittenSnapshot> {
        self.writer.write(&self.parts)
    }

    /// The payload's size.
    pub fn size_bytes(&self) -> u64 {
        self.parts.iter().map(|part| part.len() as u64).sum()
    }
}

impl AcceptorStore<FileStorage> {
    /// As [`AcceptorStore::write`], except that a snapshot among the
    /// changes is not written here: it is returned, to be written on
    /// another thread while appends and syncs go on, and installed with
    /// [`AcceptorStore::install_written_snapshot`].
    ///
    /// Safe because the log keeps every record the snapshot covers until
    /// the snapshot is installed: a crash before that recovers from the
    /// previous snapshot and the longer log. The caller must therefore pass
    /// the entries below the snapshot's end that it has not written yet
    /// (the core keeps them in the same changes when it compacts).
    ///
    /// # Errors
    ///
    /// As [`AcceptorStore::write`].
    pub fn write_deferring_snapshot(
        &mut self,
        changes: &PersistentChanges,
    ) -> Result<Option<SnapshotJob>, StorageError> {
        let Some(snapshot) = &changes.snapshot else {
            self.write(changes)?;
            return Ok(None);
        };
        let log_start = self.state.log_start();
        self.write(&PersistentChanges {
            snapshot: None,
            ..changes.clone()
        })?;
        if log_start >= snapshot.end {
            return Ok(None);
        }
        let snapshot_only = PersistentChanges {
            snapshot: Some(snapshot.clone()),
            ..PersistentChanges::default()
        };
        let held = self.state.entries.range(log_start..snapshot.end).count() as u64;
        if held < log_start.distance_to(snapshot.end) {
            // A snapshot installed from a peer covers slots this log never
            // held: until it is durable, a crash would recover a commit
            // index above entries it does not have. Written in order.
            self.write(&snapshot_only)?;
            return Ok(None);
        }
        self.state.apply(&snapshot_only);
        let parts = encode_snapshot_parts(&self.state);
        let length_bytes = parts.iter().map(|part| part.len() as u64).sum();
        let covers = self.storage.written_position();
        let writer = self.storage.prepare_snapshot(covers, length_bytes)?;
        Ok(Some(SnapshotJob { writer, parts }))
    }

    /// Puts a snapshot written by [`SnapshotJob::write`] in place. Returns
    /// `false` when a newer one was installed meanwhile.
    ///
    /// # Errors
    ///
    /// As [`AcceptorStore::sync`]: the store is failed for good.
    pub fn install_written_snapshot(
        &mut self,
        written: WrittenSnapshot,
    ) -> Result<bool, StorageError> {
        let installed = self.storage.install_written_snapshot(written)?;
        self.unsynced = false;
        Ok(installed)
    }
}

/// Decodes one record, of either format.
fn decode_record(bytes: &[u8]) -> Result<PersistentChanges, DecodeError> {
    let mut reader = Reader::new(bytes);
    let mut changes = PersistentChanges::default();
    match reader.take_u8()? {
        RECORD_PROMISE => changes.promised = Some(Ballot::decode(&mut reader)?),
        RECORD_ENTRY => {
            let SlotEntry { slot, entry } = SlotEntry::decode(&mut reader)?;
            changes.entries.insert(slot, entry);
        }
        RECORD_COMMIT => changes.committed = Some(Slot::decode(&mut reader)?),
        legacy::RECORD_PROMISE => changes.promised = Some(legacy::take_ballot(&mut reader)?),
        legacy::RECORD_ENTRY => {
            let (slot, entry) = legacy::take_slot_entry(&mut reader)?;
            changes.entries.insert(slot, entry);
        }
        legacy::RECORD_COMMIT => changes.committed = Some(legacy::take_commit(&mut reader)?),
        tag => {
            return Err(DecodeError::TagUnknown {
                field: "record kind",
                tag,
            })
        }
    }
    reader.finish()?;
    Ok(changes)
}

/// Decodes a snapshot payload, of either format.
fn decode_snapshot(bytes: &[u8]) -> Result<DurableState, DecodeError> {
    let mut reader = Reader::new(bytes);
    if reader.take_array::<4>() != Ok(SNAPSHOT_MAGIC) {
        return Err(DecodeError::MagicMismatch {
            format: "an acceptor snapshot",
        });
    }
    let state = match reader.take_u8()? {
        version @ (SNAPSHOT_VERSION | SNAPSHOT_VERSION_WITHOUT_MEMBERSHIP) => {
            let snapshot = if version == SNAPSHOT_VERSION {
                Snapshot::decode(&mut reader)?
            } else {
                synod_paxos::decode_snapshot_without_membership(&mut reader)?
            };
            let promised = Ballot::decode(&mut reader)?;
            let committed = Slot::decode(&mut reader)?;
            let entries = synod_paxos::decode_slot_entries(&mut reader)?;
            DurableState {
                promised,
                entries: entries
                    .into_iter()
                    .map(|SlotEntry { slot, entry }| (slot, entry))
                    .collect(),
                committed,
                snapshot: Some(snapshot),
            }
        }
        legacy::SNAPSHOT_VERSION => legacy::take_snapshot_fields(&mut reader)?,
        version => {
            return Err(DecodeError::VersionUnsupported {
                format: "acceptor snapshot",
                version,
            })
        }
    };
    reader.finish()?;
    check_snapshot(&state)?;
    Ok(state)
}

/// A snapshot payload holds the acceptor state at and above its end only.
fn check_snapshot(state: &DurableState) -> Result<(), DecodeError> {
    let end = state.log_start();
    let committed = state.committed;
    if let Some((slot, _)) = state.entries.range(..end).next() {
        return Err(DecodeError::Inconsistent {
            field: "acceptor snapshot",
            reason: format!("holds an entry for {slot}, below its end {end}"),
        });
    }
    if committed < end {
        return Err(DecodeError::Inconsistent {
            field: "acceptor snapshot",
            reason: format!("commit index {committed} below its end {end}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use synod_paxos::{NodeId, Value};

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
                    membership: None,
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

    fn open_file_store(path: &std::path::Path) -> AcceptorStore<FileStorage> {
        let (storage, recovered) =
            FileStorage::open(path, StorageOptions::default()).expect("opens");
        AcceptorStore::recover(storage, &recovered).expect("decodes")
    }

    fn snapshot_at(end: u64) -> PersistentChanges {
        PersistentChanges {
            snapshot: Some(Snapshot {
                end: Slot(end),
                state: Bytes::from_static(b"state machine"),
                membership: None,
            }),
            ..PersistentChanges::default()
        }
    }

    #[test]
    fn a_snapshot_written_apart_from_the_log_leaves_the_log_whole_until_it_is_installed() {
        let path = std::env::temp_dir().join(format!(
            "synod-acceptor-deferred-snapshot-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        let mut store = open_file_store(&path);
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
            store.persist(&changes).expect("persists");
        }
        let job = store
            .write_deferring_snapshot(&snapshot_at(6))
            .expect("written")
            .expect("deferred: the log holds every slot it covers");
        store.sync().expect("syncs");
        // A crash before the snapshot is in place: the whole log is there.
        drop(store);
        let mut store = open_file_store(&path);
        assert_eq!(store.state().log_start(), Slot(0));
        assert_eq!(store.state().entries.len(), 10);
        assert_eq!(store.state().committed, Slot(10));
        let written = job.write().expect("the file is written");
        assert!(store.install_written_snapshot(written).expect("installs"));
        drop(store);
        let mut store = open_file_store(&path);
        assert_eq!(store.state().log_start(), Slot(6));
        assert_eq!(store.state().entries.len(), 4, "slots 6..10 remain");
        // A peer's snapshot covers slots this log never held: it is written
        // in order, not deferred.
        assert!(store
            .write_deferring_snapshot(&snapshot_at(20))
            .expect("written")
            .is_none());
        drop(store);
        let store = open_file_store(&path);
        assert_eq!(store.state().log_start(), Slot(20));
        assert_eq!(store.state().committed, Slot(20));
        drop(store);
        std::fs::remove_dir_all(&path).expect("removes the test directory");
    }

    #[test]
    fn garbage_records_are_refused_with_their_position_not_guessed_at() {
        for garbage in [
            &b""[..],
            &[9][..],
            &[RECORD_ENTRY, 1, 2][..],
            &[RECORD_COMMIT, 0x80][..],
            &[RECORD_COMMIT, 7, 0][..],
            &[legacy::RECORD_ENTRY, 1, 2][..],
            &[legacy::RECORD_COMMIT, 0, 0, 0, 0, 0, 0, 0, 0, 7][..],
        ] {
            assert!(decode_record(garbage).is_err(), "{garbage:?}");
        }
        assert!(decode_snapshot(b"SYNA\x01").is_err());
        assert!(decode_snapshot(b"SYNA\x02").is_err());
        assert!(decode_snapshot(b"SYNA\x03").is_err());
        let huge_count = [
            &[legacy::RECORD_ENTRY][..],
            &[0; 24],
            &[1],
            &u32::MAX.to_le_bytes(),
        ]
        .concat();
        assert!(
            decode_record(&huge_count).is_err(),
            "no allocation from a lying count"
        );
    }

    #[test]
    fn records_of_format_one_are_still_read() {
        // A promise, an entry with two commands and a commit, laid out by
        // hand as builds up to 0f48ab2 wrote them.
        let promise = [
            &[legacy::RECORD_PROMISE][..],
            &3u64.to_le_bytes(),
            &2u64.to_le_bytes(),
        ]
        .concat();
        let entry = [
            &[legacy::RECORD_ENTRY][..],
            &5u64.to_le_bytes(),
            &3u64.to_le_bytes(),
            &2u64.to_le_bytes(),
            &[1],
            &2u32.to_le_bytes(),
            &1u32.to_le_bytes(),
            b"a",
            &1u32.to_le_bytes(),
            b"b",
        ]
        .concat();
        let commit = [&[legacy::RECORD_COMMIT][..], &6u64.to_le_bytes()].concat();
        assert_eq!(decode_record(&promise).unwrap().promised, Some(ballot(3)));
        let changes = decode_record(&entry).unwrap();
        assert_eq!(
            changes.entries.get(&Slot(5)),
            Some(&Entry {
                ballot: ballot(3),
                value: batch(&["a", "b"]),
            })
        );
        assert_eq!(decode_record(&commit).unwrap().committed, Some(Slot(6)));
    }

    #[test]
    fn records_of_format_two_round_trip_in_the_core_encoding() {
        let entry = Entry {
            ballot: ballot(300),
            value: batch(&["x"]),
        };
        let encoded = encode_entry(Slot(7), &entry);
        assert_eq!(encoded[0], RECORD_ENTRY);
        assert_eq!(
            &encoded[1..],
            &[&[7][..], &synod_codec::encode_to_bytes(&entry)].concat()[..]
        );
        assert_eq!(decode_record(&encoded).unwrap().entries[&Slot(7)], entry);
        assert_eq!(
            decode_record(&encode_promise(ballot(9))).unwrap().promised,
            Some(ballot(9))
        );
        assert_eq!(
            decode_record(&encode_commit(Slot(300))).unwrap().committed,
            Some(Slot(300))
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
