//! The one binary encoding of the protocol's vocabulary, used on the wire
//! between replicas and in the write-ahead log alike (see `synod-codec` for
//! the primitives).
//!
//! ```text
//! node, slot, read round, read request  = integer
//! ballot      = round node
//! value       = 0 (no-op) | 1 count command*        (command: length bytes)
//!             | 2 configuration
//! configuration = epoch count voter:node* count learner:node*
//! membership  = count (start:slot configuration)*
//! entry       = ballot value
//! slot-entry  = slot entry
//! snapshot    = end state:(length bytes) 0 | end state 1 membership
//! reject-reason = 0 (no leader) | 1 leader-present:u8 [leader] (not leader)
//!               | 2 (overloaded)
//! read-error  = 0 (no leader) | 1 (not leader) | 2 (timeout) | 3 (overloaded)
//! message     = version:u8=5 kind:u8 fields
//!   kind  1 prepare             ballot first_undecided
//!         2 promise             ballot committed count slot-entry*
//!         3 accept              ballot committed count (slot value)*
//!         4 accepted            ballot count slot*
//!         5 heartbeat           ballot committed round
//!         6 heartbeat-ack       ballot round committed
//!         7 reject              rejected-ballot promised-ballot
//!         8 forward             count command*
//!         9 forward-rejected    count command* reject-reason
//!        10 read-index-request  request reads
//!        11 read-index-reply    request ballot read_index committed
//!        12 read-index-rejected request read-error
//!        13 catch-up-request    from
//!        14 catch-up            count slot-entry* committed
//!        15 (retired: install-snapshot, the whole snapshot in one message)
//!        16 pre-vote            ballot
//!        17 pre-vote-reply      ballot granted:u8 promised-ballot
//!        18 resign              ballot successor:(0 | 1 node)
//!        19 snapshot-chunk      end state-size state-checksum:u32
//!                               membership:(0 | 1 membership) offset
//!                               data:(length bytes) data-checksum:u32 committed
//!        20 snapshot-chunk-request end offset
//! ```
//!
//! Decoding never panics, and commands and snapshot states decoded from a
//! shared buffer are views of it, not copies.

use std::sync::Arc;

use bytes::Bytes;
use synod_codec::{decode_list, Decode, DecodeError, Encode, Reader, Writer};

use crate::membership::{Configuration, Membership};
use crate::message::{Message, Proposal};
use crate::ready::{ReadError, RejectReason};
use crate::types::{
    Ballot, Entry, NodeId, ReadRequestId, ReadRound, Slot, SlotEntry, Snapshot, SnapshotChunk,
    Value,
};

/// The version of the message encoding this build writes and reads.
/// Version 2: a refused forward and a refused read batch say why, and a
/// read batch says how many reads it holds. Version 3: pre-vote and
/// resignation messages. Version 4: configuration values, and snapshots
/// that carry the membership. Version 5: snapshots travel in chunks.
pub const MESSAGE_FORMAT_VERSION: u8 = 5;

const VALUE_NOOP: u8 = 0;
const VALUE_BATCH: u8 = 1;
const VALUE_RECONFIGURE: u8 = 2;

/// The smallest encodings of list elements, so that a list's claimed length
/// is checked against the input before anything is allocated.
const COMMAND_SIZE_MIN_BYTES: usize = 1;
const SLOT_SIZE_MIN_BYTES: usize = 1;
const NODE_SIZE_MIN_BYTES: usize = 1;
/// A slot, an epoch and two list lengths.
const MEMBERSHIP_STEP_SIZE_MIN_BYTES: usize = 4;
/// A slot and a value tag.
const PROPOSAL_SIZE_MIN_BYTES: usize = 2;
/// A slot, a round, a node and a value tag.
const SLOT_ENTRY_SIZE_MIN_BYTES: usize = 4;

/// The kind byte of each message; never reuse or renumber one.
mod kind {
    pub(super) const PREPARE: u8 = 1;
    pub(super) const PROMISE: u8 = 2;
    pub(super) const ACCEPT: u8 = 3;
    pub(super) const ACCEPTED: u8 = 4;
    pub(super) const HEARTBEAT: u8 = 5;
    pub(super) const HEARTBEAT_ACK: u8 = 6;
    pub(super) const REJECT: u8 = 7;
    pub(super) const FORWARD: u8 = 8;
    pub(super) const FORWARD_REJECTED: u8 = 9;
    pub(super) const READ_INDEX_REQUEST: u8 = 10;
    pub(super) const READ_INDEX_REPLY: u8 = 11;
    pub(super) const READ_INDEX_REJECTED: u8 = 12;
    pub(super) const CATCH_UP_REQUEST: u8 = 13;
    pub(super) const CATCH_UP: u8 = 14;
    // 15 was install-snapshot (format 4 and before).
    pub(super) const PRE_VOTE: u8 = 16;
    pub(super) const PRE_VOTE_REPLY: u8 = 17;
    pub(super) const RESIGN: u8 = 18;
    pub(super) const SNAPSHOT_CHUNK: u8 = 19;
    pub(super) const SNAPSHOT_CHUNK_REQUEST: u8 = 20;
}

/// Implements the codec for a newtype over a `u64`.
macro_rules! integer_newtype {
    ($($name:ident),*) => {$(
        impl Encode for $name {
            fn encode(&self, writer: &mut Writer) {
                writer.put_u64(self.0);
            }
        }

        impl Decode for $name {
            fn decode(reader: &mut Reader<'_>) -> Result<$name, DecodeError> {
                Ok($name(reader.take_u64()?))
            }
        }
    )*};
}

integer_newtype!(NodeId, Slot, ReadRound, ReadRequestId);

impl Encode for Ballot {
    fn encode(&self, writer: &mut Writer) {
        writer.put_u64(self.round);
        self.node.encode(writer);
    }
}

impl Decode for Ballot {
    fn decode(reader: &mut Reader<'_>) -> Result<Ballot, DecodeError> {
        Ok(Ballot {
            round: reader.take_u64()?,
            node: NodeId::decode(reader)?,
        })
    }
}

impl Encode for Value {
    fn encode(&self, writer: &mut Writer) {
        match self {
            Value::Noop => writer.put_u8(VALUE_NOOP),
            Value::Batch(commands) => {
                writer.put_u8(VALUE_BATCH);
                commands.encode(writer);
            }
            Value::Reconfigure(config) => {
                writer.put_u8(VALUE_RECONFIGURE);
                config.encode(writer);
            }
        }
    }
}

impl Decode for Value {
    fn decode(reader: &mut Reader<'_>) -> Result<Value, DecodeError> {
        match reader.take_u8()? {
            VALUE_NOOP => Ok(Value::Noop),
            VALUE_BATCH => Ok(Value::Batch(Arc::from(decode_commands(reader)?))),
            VALUE_RECONFIGURE => Ok(Value::Reconfigure(Arc::new(Configuration::decode(reader)?))),
            tag => Err(DecodeError::TagUnknown {
                field: "value",
                tag,
            }),
        }
    }
}

impl Encode for Entry {
    fn encode(&self, writer: &mut Writer) {
        self.ballot.encode(writer);
        self.value.encode(writer);
    }
}

impl Decode for Entry {
    fn decode(reader: &mut Reader<'_>) -> Result<Entry, DecodeError> {
        Ok(Entry {
            ballot: Ballot::decode(reader)?,
            value: Value::decode(reader)?,
        })
    }
}

impl Encode for SlotEntry {
    fn encode(&self, writer: &mut Writer) {
        self.slot.encode(writer);
        self.entry.encode(writer);
    }
}

impl Decode for SlotEntry {
    fn decode(reader: &mut Reader<'_>) -> Result<SlotEntry, DecodeError> {
        Ok(SlotEntry {
            slot: Slot::decode(reader)?,
            entry: Entry::decode(reader)?,
        })
    }
}

impl Encode for Configuration {
    fn encode(&self, writer: &mut Writer) {
        writer.put_u64(self.epoch);
        for nodes in [&self.voters, &self.learners] {
            writer.put_length(nodes.len());
            for node in nodes {
                node.encode(writer);
            }
        }
        writer.put_length(self.addresses.len());
        for (node, address) in &self.addresses {
            node.encode(writer);
            writer.put_bytes(address.as_bytes());
        }
        writer.put_length(self.retired.len());
        for node in &self.retired {
            node.encode(writer);
        }
    }
}

impl Decode for Configuration {
    fn decode(reader: &mut Reader<'_>) -> Result<Configuration, DecodeError> {
        let epoch = reader.take_u64()?;
        let voters = decode_list(reader, NODE_SIZE_MIN_BYTES, NodeId::decode)?;
        let learners = decode_list(reader, NODE_SIZE_MIN_BYTES, NodeId::decode)?;
        let addresses = decode_list(reader, NODE_SIZE_MIN_BYTES + 1, |reader| {
            let node = NodeId::decode(reader)?;
            let address = std::str::from_utf8(reader.take_bytes()?)
                .map_err(|_| DecodeError::Inconsistent {
                    field: "configuration",
                    reason: format!("{node}'s address is not UTF-8"),
                })?
                .to_owned();
            Ok((node, address))
        })?;
        let retired = decode_list(reader, NODE_SIZE_MIN_BYTES, NodeId::decode)?;
        let config = Configuration {
            epoch,
            voters: voters.iter().copied().collect(),
            learners: learners.iter().copied().collect(),
            addresses: addresses.iter().cloned().collect(),
            retired: retired.iter().copied().collect(),
        };
        if config.voters.len() != voters.len()
            || config.learners.len() != learners.len()
            || config.addresses.len() != addresses.len()
            || config.retired.len() != retired.len()
        {
            return Err(DecodeError::Inconsistent {
                field: "configuration",
                reason: "a node is listed twice".into(),
            });
        }
        config
            .validate()
            .map_err(|reason| DecodeError::Inconsistent {
                field: "configuration",
                reason,
            })?;
        Ok(config)
    }
}

impl Encode for Membership {
    fn encode(&self, writer: &mut Writer) {
        let starts: Vec<(Slot, &Configuration)> = self.starts().collect();
        writer.put_length(starts.len());
        for (start, config) in starts {
            start.encode(writer);
            config.encode(writer);
        }
    }
}

impl Decode for Membership {
    fn decode(reader: &mut Reader<'_>) -> Result<Membership, DecodeError> {
        let starts = decode_list(reader, MEMBERSHIP_STEP_SIZE_MIN_BYTES, |reader| {
            Ok((Slot::decode(reader)?, Configuration::decode(reader)?))
        })?;
        let length = starts.len();
        let by_start: std::collections::BTreeMap<Slot, Configuration> =
            starts.into_iter().collect();
        if by_start.len() != length {
            return Err(DecodeError::Inconsistent {
                field: "membership",
                reason: "two configurations start at the same slot".into(),
            });
        }
        Membership::from_starts(by_start).ok_or_else(|| DecodeError::Inconsistent {
            field: "membership",
            reason: "empty, or epochs that do not rise by one".into(),
        })
    }
}

/// A snapshot's membership, absent in snapshots of builds before
/// membership changes.
fn encode_optional_membership(membership: &Option<Membership>, writer: &mut Writer) {
    match membership {
        None => writer.put_u8(0),
        Some(membership) => {
            writer.put_u8(1);
            membership.encode(writer);
        }
    }
}

fn decode_optional_membership(
    reader: &mut Reader<'_>,
    field: &'static str,
) -> Result<Option<Membership>, DecodeError> {
    match reader.take_u8()? {
        0 => Ok(None),
        1 => Ok(Some(Membership::decode(reader)?)),
        tag => Err(DecodeError::TagUnknown { field, tag }),
    }
}

impl Snapshot {
    /// Encodes what precedes the state machine's bytes in
    /// [`Snapshot::encode`], for writers that pass those bytes on without
    /// copying them.
    pub fn encode_head(&self, writer: &mut Writer) {
        self.end.encode(writer);
        writer.put_length(self.state.len());
    }

    /// Encodes what follows the state machine's bytes.
    pub fn encode_tail(&self, writer: &mut Writer) {
        encode_optional_membership(&self.membership, writer);
    }
}

impl Encode for Snapshot {
    fn encode(&self, writer: &mut Writer) {
        self.encode_head(writer);
        writer.put_raw(&self.state);
        self.encode_tail(writer);
    }
}

impl Decode for Snapshot {
    fn decode(reader: &mut Reader<'_>) -> Result<Snapshot, DecodeError> {
        let end = Slot::decode(reader)?;
        let state = reader.take_shared_bytes()?;
        let membership = decode_optional_membership(reader, "snapshot membership")?;
        Ok(Snapshot {
            end,
            state,
            membership,
        })
    }
}

impl Encode for SnapshotChunk {
    fn encode(&self, writer: &mut Writer) {
        self.end.encode(writer);
        writer.put_u64(self.state_size_bytes);
        writer.put_u32_le(self.state_checksum);
        encode_optional_membership(&self.membership, writer);
        writer.put_u64(self.offset);
        writer.put_bytes(&self.data);
        writer.put_u32_le(self.data_checksum);
    }
}

impl Decode for SnapshotChunk {
    fn decode(reader: &mut Reader<'_>) -> Result<SnapshotChunk, DecodeError> {
        let end = Slot::decode(reader)?;
        let state_size_bytes = reader.take_u64()?;
        let state_checksum = reader.take_u32_le()?;
        let membership = decode_optional_membership(reader, "snapshot chunk membership")?;
        Ok(SnapshotChunk {
            end,
            state_size_bytes,
            state_checksum,
            membership,
            offset: reader.take_u64()?,
            data: reader.take_shared_bytes()?,
            data_checksum: reader.take_u32_le()?,
        })
    }
}

/// Decodes a snapshot as builds before membership changes encoded it (end
/// and state), for the storage's older payloads.
pub fn decode_snapshot_without_membership(
    reader: &mut Reader<'_>,
) -> Result<Snapshot, DecodeError> {
    Ok(Snapshot {
        end: Slot::decode(reader)?,
        state: reader.take_shared_bytes()?,
        membership: None,
    })
}

impl Encode for RejectReason {
    fn encode(&self, writer: &mut Writer) {
        match self {
            RejectReason::NoLeader => writer.put_u8(0),
            RejectReason::NotLeader { leader } => {
                writer.put_u8(1);
                leader.encode(writer);
            }
            RejectReason::Overloaded => writer.put_u8(2),
        }
    }
}

impl Decode for RejectReason {
    fn decode(reader: &mut Reader<'_>) -> Result<RejectReason, DecodeError> {
        match reader.take_u8()? {
            0 => Ok(RejectReason::NoLeader),
            1 => Ok(RejectReason::NotLeader {
                leader: Option::<NodeId>::decode(reader)?,
            }),
            2 => Ok(RejectReason::Overloaded),
            tag => Err(DecodeError::TagUnknown {
                field: "reject reason",
                tag,
            }),
        }
    }
}

impl Encode for ReadError {
    fn encode(&self, writer: &mut Writer) {
        writer.put_u8(match self {
            ReadError::NoLeader => 0,
            ReadError::NotLeader => 1,
            ReadError::Timeout => 2,
            ReadError::Overloaded => 3,
        });
    }
}

impl Decode for ReadError {
    fn decode(reader: &mut Reader<'_>) -> Result<ReadError, DecodeError> {
        match reader.take_u8()? {
            0 => Ok(ReadError::NoLeader),
            1 => Ok(ReadError::NotLeader),
            2 => Ok(ReadError::Timeout),
            3 => Ok(ReadError::Overloaded),
            tag => Err(DecodeError::TagUnknown {
                field: "read error",
                tag,
            }),
        }
    }
}

impl Encode for Proposal {
    fn encode(&self, writer: &mut Writer) {
        self.slot.encode(writer);
        self.value.encode(writer);
    }
}

impl Decode for Proposal {
    fn decode(reader: &mut Reader<'_>) -> Result<Proposal, DecodeError> {
        Ok(Proposal {
            slot: Slot::decode(reader)?,
            value: Value::decode(reader)?,
        })
    }
}

fn decode_commands(reader: &mut Reader<'_>) -> Result<Vec<Bytes>, DecodeError> {
    decode_list(reader, COMMAND_SIZE_MIN_BYTES, |reader| {
        reader.take_shared_bytes()
    })
}

/// Takes a list of slot entries (as a Promise, a catch-up batch or the
/// write-ahead log's snapshot payload carry them).
///
/// # Errors
///
/// Why the bytes are not such a list.
pub fn decode_slot_entries(reader: &mut Reader<'_>) -> Result<Vec<SlotEntry>, DecodeError> {
    decode_list(reader, SLOT_ENTRY_SIZE_MIN_BYTES, SlotEntry::decode)
}

impl Encode for Message {
    fn encode(&self, writer: &mut Writer) {
        writer.put_u8(MESSAGE_FORMAT_VERSION);
        match self {
            Message::Prepare {
                ballot,
                first_undecided,
            } => {
                writer.put_u8(kind::PREPARE);
                ballot.encode(writer);
                first_undecided.encode(writer);
            }
            Message::Promise {
                ballot,
                committed,
                entries,
            } => {
                writer.put_u8(kind::PROMISE);
                ballot.encode(writer);
                committed.encode(writer);
                entries.encode(writer);
            }
            Message::Accept {
                ballot,
                committed,
                proposals,
            } => {
                writer.put_u8(kind::ACCEPT);
                ballot.encode(writer);
                committed.encode(writer);
                proposals.encode(writer);
            }
            Message::Accepted { ballot, slots } => {
                writer.put_u8(kind::ACCEPTED);
                ballot.encode(writer);
                slots.encode(writer);
            }
            Message::Heartbeat {
                ballot,
                committed,
                round,
            } => {
                writer.put_u8(kind::HEARTBEAT);
                ballot.encode(writer);
                committed.encode(writer);
                round.encode(writer);
            }
            Message::HeartbeatAck {
                ballot,
                round,
                committed,
            } => {
                writer.put_u8(kind::HEARTBEAT_ACK);
                ballot.encode(writer);
                round.encode(writer);
                committed.encode(writer);
            }
            Message::Reject { rejected, promised } => {
                writer.put_u8(kind::REJECT);
                rejected.encode(writer);
                promised.encode(writer);
            }
            Message::Forward { commands } => {
                writer.put_u8(kind::FORWARD);
                commands.encode(writer);
            }
            Message::ForwardRejected { commands, reason } => {
                writer.put_u8(kind::FORWARD_REJECTED);
                commands.encode(writer);
                reason.encode(writer);
            }
            Message::ReadIndexRequest { request, reads } => {
                writer.put_u8(kind::READ_INDEX_REQUEST);
                request.encode(writer);
                writer.put_u64(*reads);
            }
            Message::ReadIndexReply {
                request,
                ballot,
                read_index,
                committed,
            } => {
                writer.put_u8(kind::READ_INDEX_REPLY);
                request.encode(writer);
                ballot.encode(writer);
                read_index.encode(writer);
                committed.encode(writer);
            }
            Message::ReadIndexRejected { request, reason } => {
                writer.put_u8(kind::READ_INDEX_REJECTED);
                request.encode(writer);
                reason.encode(writer);
            }
            Message::PreVote { ballot } => {
                writer.put_u8(kind::PRE_VOTE);
                ballot.encode(writer);
            }
            Message::PreVoteReply {
                ballot,
                granted,
                promised,
            } => {
                writer.put_u8(kind::PRE_VOTE_REPLY);
                ballot.encode(writer);
                writer.put_bool(*granted);
                promised.encode(writer);
            }
            Message::Resign { ballot, successor } => {
                writer.put_u8(kind::RESIGN);
                ballot.encode(writer);
                successor.encode(writer);
            }
            Message::CatchUpRequest { from } => {
                writer.put_u8(kind::CATCH_UP_REQUEST);
                from.encode(writer);
            }
            Message::CatchUp { entries, committed } => {
                writer.put_u8(kind::CATCH_UP);
                entries.encode(writer);
                committed.encode(writer);
            }
            Message::SnapshotChunk { chunk, committed } => {
                writer.put_u8(kind::SNAPSHOT_CHUNK);
                chunk.encode(writer);
                committed.encode(writer);
            }
            Message::SnapshotChunkRequest { end, offset } => {
                writer.put_u8(kind::SNAPSHOT_CHUNK_REQUEST);
                end.encode(writer);
                writer.put_u64(*offset);
            }
        }
    }
}

impl Decode for Message {
    fn decode(reader: &mut Reader<'_>) -> Result<Message, DecodeError> {
        reader.take_version("message", MESSAGE_FORMAT_VERSION)?;
        let message = match reader.take_u8()? {
            kind::PREPARE => Message::Prepare {
                ballot: Ballot::decode(reader)?,
                first_undecided: Slot::decode(reader)?,
            },
            kind::PROMISE => Message::Promise {
                ballot: Ballot::decode(reader)?,
                committed: Slot::decode(reader)?,
                entries: decode_slot_entries(reader)?,
            },
            kind::ACCEPT => Message::Accept {
                ballot: Ballot::decode(reader)?,
                committed: Slot::decode(reader)?,
                proposals: decode_list(reader, PROPOSAL_SIZE_MIN_BYTES, Proposal::decode)?,
            },
            kind::ACCEPTED => Message::Accepted {
                ballot: Ballot::decode(reader)?,
                slots: decode_list(reader, SLOT_SIZE_MIN_BYTES, Slot::decode)?,
            },
            kind::HEARTBEAT => Message::Heartbeat {
                ballot: Ballot::decode(reader)?,
                committed: Slot::decode(reader)?,
                round: ReadRound::decode(reader)?,
            },
            kind::HEARTBEAT_ACK => Message::HeartbeatAck {
                ballot: Ballot::decode(reader)?,
                round: ReadRound::decode(reader)?,
                committed: Slot::decode(reader)?,
            },
            kind::REJECT => Message::Reject {
                rejected: Ballot::decode(reader)?,
                promised: Ballot::decode(reader)?,
            },
            kind::FORWARD => Message::Forward {
                commands: decode_commands(reader)?,
            },
            kind::FORWARD_REJECTED => Message::ForwardRejected {
                commands: decode_commands(reader)?,
                reason: RejectReason::decode(reader)?,
            },
            kind::READ_INDEX_REQUEST => Message::ReadIndexRequest {
                request: ReadRequestId::decode(reader)?,
                reads: reader.take_u64()?,
            },
            kind::READ_INDEX_REPLY => Message::ReadIndexReply {
                request: ReadRequestId::decode(reader)?,
                ballot: Ballot::decode(reader)?,
                read_index: Slot::decode(reader)?,
                committed: Slot::decode(reader)?,
            },
            kind::READ_INDEX_REJECTED => Message::ReadIndexRejected {
                request: ReadRequestId::decode(reader)?,
                reason: ReadError::decode(reader)?,
            },
            kind::PRE_VOTE => Message::PreVote {
                ballot: Ballot::decode(reader)?,
            },
            kind::PRE_VOTE_REPLY => Message::PreVoteReply {
                ballot: Ballot::decode(reader)?,
                granted: reader.take_bool("pre-vote granted")?,
                promised: Ballot::decode(reader)?,
            },
            kind::RESIGN => Message::Resign {
                ballot: Ballot::decode(reader)?,
                successor: Option::<NodeId>::decode(reader)?,
            },
            kind::CATCH_UP_REQUEST => Message::CatchUpRequest {
                from: Slot::decode(reader)?,
            },
            kind::CATCH_UP => Message::CatchUp {
                entries: decode_slot_entries(reader)?,
                committed: Slot::decode(reader)?,
            },
            kind::SNAPSHOT_CHUNK => Message::SnapshotChunk {
                chunk: SnapshotChunk::decode(reader)?,
                committed: Slot::decode(reader)?,
            },
            kind::SNAPSHOT_CHUNK_REQUEST => Message::SnapshotChunkRequest {
                end: Slot::decode(reader)?,
                offset: reader.take_u64()?,
            },
            tag => {
                return Err(DecodeError::TagUnknown {
                    field: "message kind",
                    tag,
                })
            }
        };
        Ok(message)
    }
}

impl Message {
    /// Payload bytes the message carries in commands and snapshots, plus a
    /// generous allowance per element: enough to size an encoding buffer
    /// once.
    pub fn encoded_size_hint_bytes(&self) -> usize {
        const FIELDS_SIZE_MAX_BYTES: usize = 64;
        const ELEMENT_OVERHEAD_MAX_BYTES: usize = 32;
        let commands_size = |commands: &[Bytes]| {
            commands
                .iter()
                .map(|command| command.len() + synod_codec::VARINT_SIZE_MAX_BYTES)
                .sum::<usize>()
        };
        let payload = match self {
            Message::Promise { entries, .. } | Message::CatchUp { entries, .. } => entries
                .iter()
                .map(|entry| {
                    ELEMENT_OVERHEAD_MAX_BYTES + commands_size(entry.entry.value.commands())
                })
                .sum(),
            Message::Accept { proposals, .. } => proposals
                .iter()
                .map(|proposal| {
                    ELEMENT_OVERHEAD_MAX_BYTES + commands_size(proposal.value.commands())
                })
                .sum(),
            Message::Accepted { slots, .. } => slots.len() * synod_codec::VARINT_SIZE_MAX_BYTES,
            Message::Forward { commands } | Message::ForwardRejected { commands, .. } => {
                commands_size(commands)
            }
            Message::SnapshotChunk { chunk, .. } => chunk.data.len(),
            _ => 0,
        };
        FIELDS_SIZE_MAX_BYTES + payload
    }
}

#[cfg(test)]
mod tests;
