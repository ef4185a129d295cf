//! Reading the acceptor records and snapshot payloads of record format 1,
//! written by builds before the codec was shared (up to commit `0f48ab2`).
//! Nothing writes this format any more; data directories written by those
//! builds stay readable, and `crates/server/tests/fixtures/data-v1-node-1`
//! proves it on every test run.
//!
//! Format 1 used fixed-width little-endian integers (all `u64` but command
//! counts and lengths, which were `u32`):
//!
//! | kind | layout |
//! |---|---|
//! | promise | `1`, round, node |
//! | entry   | `2`, slot, round, node, value |
//! | commit  | `3`, slot |
//!
//! A value is `0` (no-op) or `1`, count, then per command its length and
//! bytes. The snapshot payload was the magic `SYNA`, version `1`, the end
//! slot, the state's length and bytes, the promised ballot, the commit
//! index, an entry count and that many entries laid out as the entry record
//! without its kind byte.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use synod_codec::{DecodeError, Reader};
use synod_paxos::{Ballot, DurableState, Entry, NodeId, Slot, Snapshot, Value};

/// The record kinds of format 1.
pub(super) const RECORD_PROMISE: u8 = 1;
pub(super) const RECORD_ENTRY: u8 = 2;
pub(super) const RECORD_COMMIT: u8 = 3;

/// The snapshot payload version of format 1.
pub(super) const SNAPSHOT_VERSION: u8 = 1;

const VALUE_NOOP: u8 = 0;
const VALUE_BATCH: u8 = 1;
/// A command's length prefix: the least a command can take.
const COMMAND_SIZE_MIN_BYTES: usize = 4;

pub(super) fn take_ballot(reader: &mut Reader<'_>) -> Result<Ballot, DecodeError> {
    Ok(Ballot {
        round: reader.take_u64_le()?,
        node: NodeId(reader.take_u64_le()?),
    })
}

fn take_value(reader: &mut Reader<'_>) -> Result<Value, DecodeError> {
    match reader.take_u8()? {
        VALUE_NOOP => Ok(Value::Noop),
        VALUE_BATCH => {
            let count = reader.take_u32_le()? as usize;
            // Each command needs at least its length: bound the allocation
            // by what the bytes can actually hold.
            if count.saturating_mul(COMMAND_SIZE_MIN_BYTES) > reader.remaining_bytes() {
                return Err(DecodeError::ListTooLong {
                    length: count as u64,
                });
            }
            let mut commands = Vec::with_capacity(count);
            for _ in 0..count {
                let length = reader.take_u32_le()? as usize;
                commands.push(Bytes::copy_from_slice(reader.take_raw(length)?));
            }
            Ok(Value::Batch(Arc::from(commands)))
        }
        tag => Err(DecodeError::TagUnknown {
            field: "value",
            tag,
        }),
    }
}

/// The fields of an entry record after its kind byte.
pub(super) fn take_slot_entry(reader: &mut Reader<'_>) -> Result<(Slot, Entry), DecodeError> {
    let slot = Slot(reader.take_u64_le()?);
    let ballot = take_ballot(reader)?;
    let value = take_value(reader)?;
    Ok((slot, Entry { ballot, value }))
}

/// The fields of a commit record after its kind byte.
pub(super) fn take_commit(reader: &mut Reader<'_>) -> Result<Slot, DecodeError> {
    Ok(Slot(reader.take_u64_le()?))
}

/// The part of a format 1 snapshot payload after its magic and version:
/// the end, the state, the promise, the commit index and the entries.
pub(super) fn take_snapshot_fields(reader: &mut Reader<'_>) -> Result<DurableState, DecodeError> {
    let end = Slot(reader.take_u64_le()?);
    let state_length =
        usize::try_from(reader.take_u64_le()?).map_err(|_| DecodeError::Truncated)?;
    let state = Bytes::copy_from_slice(reader.take_raw(state_length)?);
    let promised = take_ballot(reader)?;
    let committed = Slot(reader.take_u64_le()?);
    let count = reader.take_u64_le()?;
    let mut entries = BTreeMap::new();
    for _ in 0..count {
        let (slot, entry) = take_slot_entry(reader)?;
        entries.insert(slot, entry);
    }
    Ok(DurableState {
        promised,
        entries,
        committed,
        snapshot: Some(Snapshot {
            end,
            state,
            membership: None,
        }),
    })
}
