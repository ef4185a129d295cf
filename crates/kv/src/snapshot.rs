//! Snapshots: the whole state of a store as bytes, so a replica can compact
//! its log and a lagging replica can catch up without replaying it.
//!
//! The bytes are a pure function of the state (maps are written in key
//! order), so two replicas in the same state write identical snapshots. A
//! CRC32C over the body detects corruption on disk or on the wire; the
//! header is checked field by field. Layout of version 4 (versions 1 to 3
//! are still restored: version 3 ends after the tombstones, with the users
//! of a new store; version 2 also has no change counts and no tombstones,
//! and version 1 also ends after the sessions, with clock 0 and no deadline;
//! their keys count as changed at command 0):
//!
//! ```text
//! magic:        4 bytes "SKVS"
//! version:      u8 = 4
//! body length:  u64, little endian
//! body CRC32C:  u32, little endian
//! body:
//!   sessions max, applied commands, next session id, sessions evicted: varints
//!   entry count: varint, then per entry in key order: key, value
//!     (length-prefixed), changed: varint (the applied-command count)
//!   session count: varint, then per session in id order:
//!     id, last sequence, last use: varints
//!     owner: varint (0 anonymous, else the user's id + 1; not in versions 1-3)
//!     has answer: u8 (0 | 1), [answer: a response encoding]
//!   agreed clock: varint (Unix milliseconds)
//!   deadline count: varint, then per deadline in key order: key, deadline: varint
//!   tombstone count: varint, then per tombstone in key order: key, removed: varint
//!   next user id: varint, then the users in id order (see `crate::access`)
//! ```

use std::collections::BTreeMap;

use bytes::Bytes;
use thiserror::Error;

use crate::access::encoding::{put_users, take_users};
use crate::access::AccessControl;
use crate::command::{Sequence, SessionId};
use crate::deadlines::Deadlines;
use crate::expiry::UnixMillis;
use crate::key::StoredKey;
use crate::limits::{check_key, check_value};
use crate::response::Response;
use crate::session::{Session, SessionTable};
use crate::store::{entries_digest, Entry, Store};
use crate::versions::{tombstones_in_order, Tombstones};
use imbl::OrdMap;
use synod_codec::{DecodeError, Reader, Writer};

/// The first bytes of every snapshot, so that a file of another kind is
/// recognised as such rather than as a corrupted snapshot.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"SKVS";

/// The version of the snapshot layout that [`Store::snapshot`] writes.
pub const SNAPSHOT_FORMAT_VERSION: u8 = 4;

/// The version before users, which [`Store::restore`] still reads.
const SNAPSHOT_FORMAT_VERSION_WITHOUT_USERS: u8 = 3;

/// The version before deadlines, which [`Store::restore`] still reads.
const SNAPSHOT_FORMAT_VERSION_WITHOUT_DEADLINES: u8 = 1;

/// The version before key versions, which [`Store::restore`] still reads.
const SNAPSHOT_FORMAT_VERSION_WITHOUT_VERSIONS: u8 = 2;

/// Magic, version, body length and body checksum.
const HEADER_SIZE_BYTES: usize = 4 + 1 + 8 + 4;
/// The longest LEB128 length prefix (of a 64-bit length).
const LENGTH_PREFIX_SIZE_MAX_BYTES: usize = 10;
/// The counters after the header, at most: four LEB128 numbers, the entry
/// count and the session count.
const COUNTERS_SIZE_MAX_BYTES: usize = 6 * LENGTH_PREFIX_SIZE_MAX_BYTES;
/// A session's share of a snapshot, for sizing the buffer (its last
/// response may make it longer; the buffer then grows).
const SESSION_SIZE_ESTIMATE_BYTES: usize = 64;

/// Why bytes could not be restored as a store.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SnapshotError {
    /// The input is shorter than a snapshot header.
    #[error("snapshot of {size_bytes} bytes is shorter than its header")]
    Truncated {
        /// The size of the input.
        size_bytes: usize,
    },
    /// The input does not start with [`SNAPSHOT_MAGIC`]: not a snapshot.
    #[error("not a snapshot: the magic bytes are wrong")]
    MagicInvalid,
    /// The snapshot was written in a layout this build does not know.
    #[error("snapshot format version {version} is not supported")]
    VersionUnsupported {
        /// The version found.
        version: u8,
    },
    /// The header's body length disagrees with the bytes present: the
    /// snapshot was cut short, extended, or its header is corrupted.
    #[error("snapshot body is {actual_bytes} bytes, the header says {declared_bytes}")]
    LengthMismatch {
        /// The length the header declares.
        declared_bytes: u64,
        /// The length present.
        actual_bytes: usize,
    },
    /// The body's CRC32C disagrees with the header: the snapshot is
    /// corrupted.
    #[error("snapshot checksum mismatch: header {expected:#010x}, body {actual:#010x}")]
    ChecksumMismatch {
        /// The checksum in the header.
        expected: u32,
        /// The checksum of the body present.
        actual: u32,
    },
    /// The body passed its checksum but does not decode: it was written by a
    /// faulty writer, not corrupted afterwards.
    #[error("snapshot body is malformed: {0}")]
    BodyMalformed(#[from] DecodeError),
    /// The body decodes but describes a state that `apply` cannot produce.
    #[error("snapshot describes an impossible state: {0}")]
    StateInconsistent(&'static str),
}

impl Store {
    /// The whole state as bytes: entries, sessions, counters and
    /// configuration. Identical states give identical bytes.
    #[must_use]
    pub fn snapshot(&self) -> Bytes {
        // Sized up front: grown by doubling, the buffer of a 12 MiB
        // snapshot passed through allocations of 38 MiB in all (heaptrack).
        let entries_size_bytes: usize = self
            .entries
            .iter()
            .map(|(key, entry)| {
                key.bytes().len() + entry.value.len() + 3 * LENGTH_PREFIX_SIZE_MAX_BYTES
            })
            .sum();
        let sessions_size_bytes = self.sessions.len() * SESSION_SIZE_ESTIMATE_BYTES;
        let deadlines_size_bytes: usize = self
            .deadlines
            .by_key
            .keys()
            .map(|key| key.bytes().len() + 2 * LENGTH_PREFIX_SIZE_MAX_BYTES)
            .sum();
        let mut writer = Writer::with_capacity(
            HEADER_SIZE_BYTES
                + COUNTERS_SIZE_MAX_BYTES
                + entries_size_bytes
                + sessions_size_bytes
                + 2 * LENGTH_PREFIX_SIZE_MAX_BYTES
                + deadlines_size_bytes,
        );
        writer.put_raw(&[0; HEADER_SIZE_BYTES]);
        writer.put_length(self.sessions.sessions_max());
        writer.put_u64(self.applied_commands);
        writer.put_u64(self.sessions.session_id_next());
        writer.put_u64(self.sessions.sessions_evicted());
        writer.put_length(self.entries.len());
        for (key, entry) in &self.entries {
            writer.put_bytes(key.bytes());
            writer.put_bytes(&entry.value);
            writer.put_u64(entry.changed);
        }
        writer.put_length(self.sessions.len());
        for (id, session) in self.sessions.iter() {
            writer.put_u64(id.0);
            writer.put_u64(session.sequence_last.0);
            writer.put_u64(session.used_last);
            writer.put_u64(crate::session::principal_number(session.owner));
            writer.put_bool(session.response_last.is_some());
            if let Some(response) = &session.response_last {
                writer.put_raw(&response.encode());
            }
        }
        writer.put_u64(self.deadlines.clock.0);
        writer.put_length(self.deadlines.len());
        for (key, deadline) in &self.deadlines.by_key {
            writer.put_bytes(key.bytes());
            writer.put_u64(deadline.0);
        }
        writer.put_length(self.tombstones.len());
        for (key, removed) in &self.tombstones.by_key {
            writer.put_bytes(key.bytes());
            writer.put_u64(*removed);
        }
        writer.put_u64(self.access.user_id_next());
        put_users(
            &mut writer,
            self.access.users().collect::<Vec<_>>().into_iter(),
        );
        let (header, body) = writer.as_mut_slice().split_at_mut(HEADER_SIZE_BYTES);
        let body_length = u64::try_from(body.len()).expect("a length always fits in 64 bits");
        header[0..4].copy_from_slice(&SNAPSHOT_MAGIC);
        header[4] = SNAPSHOT_FORMAT_VERSION;
        header[5..13].copy_from_slice(&body_length.to_le_bytes());
        header[13..17].copy_from_slice(&crc32c::crc32c(body).to_le_bytes());
        writer.into_bytes()
    }

    /// Rebuilds a store from [`Store::snapshot`] bytes. The result behaves
    /// exactly as the store that wrote them, and has the same digest. Never
    /// panics: corrupted, truncated or foreign bytes yield an error.
    ///
    /// # Errors
    ///
    /// Which check the bytes failed: header, checksum, body decoding, or the
    /// consistency of the state they describe.
    pub fn restore(bytes: &[u8]) -> Result<Store, SnapshotError> {
        let (version, body) = check_header(bytes)?;
        let mut reader = Reader::new(body);
        let sessions_max = reader.take_length()?;
        let applied_commands = reader.take_u64()?;
        let session_id_next = reader.take_u64()?;
        let sessions_evicted = reader.take_u64()?;
        let entries = take_entries(
            &mut reader,
            version >= SNAPSHOT_FORMAT_VERSION_WITHOUT_USERS,
        )?;
        let sessions = take_sessions(&mut reader, version >= SNAPSHOT_FORMAT_VERSION)?;
        let deadlines = if version == SNAPSHOT_FORMAT_VERSION_WITHOUT_DEADLINES {
            Deadlines::default()
        } else {
            take_deadlines(&mut reader)?
        };
        let tombstones = if version >= SNAPSHOT_FORMAT_VERSION_WITHOUT_USERS {
            take_tombstones(&mut reader)?
        } else {
            Tombstones::default()
        };
        let access = if version >= SNAPSHOT_FORMAT_VERSION {
            let user_id_next = reader.take_u64()?;
            AccessControl::from_users(take_users(&mut reader)?, user_id_next)
                .map_err(SnapshotError::StateInconsistent)?
        } else {
            AccessControl::default()
        };
        reader.finish()?;
        let sessions = SessionTable::restore(
            sessions_max,
            session_id_next,
            sessions_evicted,
            sessions,
            applied_commands,
        )
        .map_err(SnapshotError::StateInconsistent)?;
        let store = Store {
            scan_order: crate::scan::scan_order(entries.keys()),
            entries_digest: entries_digest(&entries),
            entries,
            sessions,
            applied_commands,
            deadlines,
            tombstones,
            access,
        };
        store
            .check_invariants()
            .map_err(SnapshotError::StateInconsistent)?;
        Ok(store)
    }
}

/// Checks magic, version, length and checksum; returns the version and
/// the body.
fn check_header(bytes: &[u8]) -> Result<(u8, &[u8]), SnapshotError> {
    if bytes.len() < HEADER_SIZE_BYTES {
        return Err(SnapshotError::Truncated {
            size_bytes: bytes.len(),
        });
    }
    let (header, body) = bytes.split_at(HEADER_SIZE_BYTES);
    if header[0..4] != SNAPSHOT_MAGIC {
        return Err(SnapshotError::MagicInvalid);
    }
    let version = header[4];
    if ![
        SNAPSHOT_FORMAT_VERSION,
        SNAPSHOT_FORMAT_VERSION_WITHOUT_USERS,
        SNAPSHOT_FORMAT_VERSION_WITHOUT_VERSIONS,
        SNAPSHOT_FORMAT_VERSION_WITHOUT_DEADLINES,
    ]
    .contains(&version)
    {
        return Err(SnapshotError::VersionUnsupported { version: header[4] });
    }
    let declared_bytes = u64::from_le_bytes(header[5..13].try_into().expect("eight bytes"));
    if u64::try_from(body.len()) != Ok(declared_bytes) {
        return Err(SnapshotError::LengthMismatch {
            declared_bytes,
            actual_bytes: body.len(),
        });
    }
    let expected = u32::from_le_bytes(header[13..17].try_into().expect("four bytes"));
    let actual = crc32c::crc32c(body);
    if expected != actual {
        return Err(SnapshotError::ChecksumMismatch { expected, actual });
    }
    Ok((version, body))
}

/// The tombstones; [`Store::restore`] checks them against the entries
/// afterwards. No allocation is sized by the count.
fn take_tombstones(reader: &mut Reader<'_>) -> Result<Tombstones, SnapshotError> {
    let count = reader.take_length()?;
    let mut pairs = Vec::new();
    for _ in 0..count {
        let key = reader.take_bytes()?;
        check_key(key).map_err(DecodeError::from)?;
        let removed = reader.take_u64()?;
        pairs.push((StoredKey::new(Bytes::copy_from_slice(key)), removed));
    }
    let by_key = tombstones_in_order(pairs).map_err(SnapshotError::StateInconsistent)?;
    Ok(Tombstones::restore(by_key))
}

/// The clock and the deadlines; [`Store::restore`] checks them against the
/// entries afterwards.
fn take_deadlines(reader: &mut Reader<'_>) -> Result<Deadlines, SnapshotError> {
    let mut deadlines = Deadlines {
        clock: UnixMillis(reader.take_u64()?),
        ..Deadlines::default()
    };
    let count = reader.take_length()?;
    let mut last: Option<StoredKey> = None;
    for _ in 0..count {
        let key = reader.take_bytes()?;
        check_key(key).map_err(DecodeError::from)?;
        let deadline = UnixMillis(reader.take_u64()?);
        let key = StoredKey::new(Bytes::copy_from_slice(key));
        if last.as_ref().is_some_and(|last| *last >= key) {
            return Err(SnapshotError::StateInconsistent(
                "deadlines are not in strictly increasing key order",
            ));
        }
        if deadline <= deadlines.clock {
            return Err(SnapshotError::StateInconsistent(
                "a key outlived its deadline",
            ));
        }
        deadlines.set(&key, Some(deadline));
        last = Some(key);
    }
    Ok(deadlines)
}

/// The entries; `with_changes`: each carries its change count (version 3).
fn take_entries(
    reader: &mut Reader<'_>,
    with_changes: bool,
) -> Result<OrdMap<StoredKey, Entry>, SnapshotError> {
    // No allocation is sized by the count: a forged count runs out of input.
    let count = reader.take_length()?;
    let mut entries = OrdMap::new();
    let mut last: Option<&[u8]> = None;
    for _ in 0..count {
        let key = reader.take_bytes()?;
        let value = reader.take_bytes()?;
        let changed = if with_changes { reader.take_u64()? } else { 0 };
        check_key(key).map_err(DecodeError::from)?;
        check_value(value).map_err(DecodeError::from)?;
        if last.is_some_and(|last| last >= key) {
            return Err(SnapshotError::StateInconsistent(
                "entries are not in strictly increasing key order",
            ));
        }
        last = Some(key);
        entries.insert(
            StoredKey::new(Bytes::copy_from_slice(key)),
            Entry {
                value: Bytes::copy_from_slice(value),
                changed,
            },
        );
    }
    Ok(entries)
}

/// The sessions; `with_owners`: each carries its owner (version 4).
fn take_sessions(
    reader: &mut Reader<'_>,
    with_owners: bool,
) -> Result<BTreeMap<SessionId, Session>, SnapshotError> {
    let count = reader.take_length()?;
    let mut sessions = BTreeMap::new();
    for _ in 0..count {
        let id = SessionId(reader.take_u64()?);
        let sequence_last = Sequence(reader.take_u64()?);
        let used_last = reader.take_u64()?;
        let owner = if with_owners {
            crate::session::principal_of_number(reader.take_u64()?)
        } else {
            crate::access::Principal::Anonymous
        };
        let response_last = if reader.take_bool("session answer presence")? {
            Some(Response::decode_from(reader)?)
        } else {
            None
        };
        if sessions
            .last_key_value()
            .is_some_and(|(last, _): (&SessionId, _)| *last >= id)
        {
            return Err(SnapshotError::StateInconsistent(
                "sessions are not in strictly increasing id order",
            ));
        }
        let session = Session {
            sequence_last,
            response_last,
            used_last,
            owner,
        };
        sessions.insert(id, session);
    }
    Ok(sessions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Command, Operation, SetCondition};
    use crate::store::StoreConfig;

    fn store_with_data() -> Store {
        let mut store = Store::new(StoreConfig { sessions_max: 2 });
        store.apply(&Command::untagged(Operation::Set {
            key: Bytes::from_static(b"k"),
            value: Bytes::from_static(b"v"),
            condition: SetCondition::Always,
        }));
        store.apply(&Command::untagged(Operation::RegisterSession));
        store
    }

    #[test]
    fn restore_checks_the_header_field_by_field() {
        let snapshot = store_with_data().snapshot().to_vec();
        assert_eq!(
            Store::restore(&snapshot[..HEADER_SIZE_BYTES - 1]).unwrap_err(),
            SnapshotError::Truncated {
                size_bytes: HEADER_SIZE_BYTES - 1
            }
        );
        let mut foreign = snapshot.clone();
        foreign[0] = b'X';
        assert_eq!(
            Store::restore(&foreign).unwrap_err(),
            SnapshotError::MagicInvalid
        );
        let mut newer = snapshot.clone();
        newer[4] = SNAPSHOT_FORMAT_VERSION + 1;
        assert_eq!(
            Store::restore(&newer).unwrap_err(),
            SnapshotError::VersionUnsupported {
                version: SNAPSHOT_FORMAT_VERSION + 1
            }
        );
        assert!(matches!(
            Store::restore(&snapshot[..snapshot.len() - 1]).unwrap_err(),
            SnapshotError::LengthMismatch { .. }
        ));
        let mut flipped = snapshot.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(
            Store::restore(&flipped).unwrap_err(),
            SnapshotError::ChecksumMismatch { .. }
        ));
    }

    #[test]
    fn snapshots_of_equal_states_are_equal_bytes() {
        let store = store_with_data();
        let restored = Store::restore(&store.snapshot()).unwrap();
        assert_eq!(restored.snapshot(), store.snapshot());
        assert_eq!(restored.digest(), store.digest());
    }
}
