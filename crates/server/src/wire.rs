//! The bytes on a peer connection: frames, the handshake and the binary
//! encoding of [`Message`].
//!
//! A peer connection carries frames: a little-endian `u32` payload length,
//! then the payload. The first frame in each direction is the handshake
//! ([`Hello`], answered by a [`HelloReply`]); every later frame holds one
//! encoded [`Message`]. The writer puts many frames into one socket write.
//!
//! The message encoding is hand-written so that it is stable across builds
//! and cheap: a format version byte leads, then a kind byte, then the fields.
//! Integers are unsigned LEB128 in their shortest form (so one message has
//! one encoding); byte strings and lists carry a LEB128 length first.
//! Version 1:
//!
//! ```text
//! message  = version:u8=1  kind:u8  fields
//! ballot   = round  node                      (two integers)
//! value    = 0 (no-op) | 1 count command*     (command: length bytes)
//! entry    = ballot value
//! slot-entry = slot entry
//! kind  1 prepare            ballot first_undecided
//!       2 promise            ballot committed count slot-entry*
//!       3 accept             ballot committed count (slot value)*
//!       4 accepted           ballot count slot*
//!       5 heartbeat          ballot committed round
//!       6 heartbeat-ack      ballot round committed
//!       7 reject             rejected-ballot promised-ballot
//!       8 forward            count command*
//!       9 forward-rejected   count command*  leader-present:u8 [leader]
//!      10 read-index-request request
//!      11 read-index-reply   request ballot read_index committed
//!      12 read-index-rejected request
//!      13 catch-up-request   from
//!      14 catch-up           count slot-entry* committed
//!      15 install-snapshot   end state:(length bytes) committed
//! ```
//!
//! Decoding never panics and never allocates more than a small multiple of
//! its input: every length is checked against the bytes that remain before
//! anything is reserved. Commands are handed out as slices of the frame
//! (no copy); the state machine copies what it keeps.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use synod_paxos::{
    Ballot, Entry, Message, NodeId, Proposal, ReadRequestId, ReadRound, Slot, SlotEntry, Snapshot,
    Value,
};
use thiserror::Error;

/// The version of the message encoding this build writes and reads.
pub const WIRE_FORMAT_VERSION: u8 = 1;

/// The peer protocol version carried in the handshake. A peer that speaks
/// another version is refused before any message is exchanged.
pub const PROTOCOL_VERSION: u16 = 1;

/// The first bytes of every handshake, so that a stray client (say, a Redis
/// client pointed at the peer port) is told apart from a peer at once.
pub const HANDSHAKE_MAGIC: [u8; 4] = *b"SYNP";

/// Bytes of the length prefix in front of every frame.
pub const FRAME_HEADER_SIZE_BYTES: usize = 4;

/// The largest frame payload accepted or sent. A snapshot of the whole state
/// machine travels in one frame, so this is the storage crate's snapshot
/// limit plus room for the message header. The reader grows its buffer only
/// as bytes arrive, so a lying length prefix costs only what is sent.
pub const FRAME_SIZE_MAX_BYTES: usize = 1024 * 1024 * 1024 + 64 * 1024;

/// The most elements one list field may claim (commands in a batch, slots in
/// an Accept, entries in a Promise). Far above what the core sends, it keeps
/// a hostile frame full of empty elements from inflating in memory.
pub const LIST_LENGTH_MAX: usize = 1 << 22;

/// Size of an encoded [`Hello`].
pub const HELLO_SIZE_BYTES: usize = 4 + 2 + 8 + 8 + 8;

/// Size of an encoded [`HelloReply`].
pub const HELLO_REPLY_SIZE_BYTES: usize = 4 + 2 + 1 + 8;

/// The most bytes of a LEB128-encoded `u64`.
const VARINT_SIZE_MAX_BYTES: usize = 10;

/// Why bytes are not a valid frame, handshake or message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// The input ended in the middle of a field.
    #[error("input ends in the middle of a field")]
    Truncated,
    /// Bytes follow a complete message.
    #[error("{count} bytes follow a complete message")]
    TrailingBytes {
        /// How many bytes follow.
        count: usize,
    },
    /// The message format version is not one this build reads.
    #[error("message format version {version} is not supported (this build reads {WIRE_FORMAT_VERSION})")]
    VersionUnsupported {
        /// The version found.
        version: u8,
    },
    /// A variable-length integer is overlong or does not fit in 64 bits.
    #[error("variable-length integer is overlong or overflows 64 bits")]
    IntegerInvalid,
    /// A one-byte tag has no meaning here.
    #[error("{field} has the unknown tag {tag}")]
    TagUnknown {
        /// Which field held the tag.
        field: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A list claims more elements than [`LIST_LENGTH_MAX`] or than the
    /// remaining bytes could hold.
    #[error("a list claims {length} elements, more than the frame can hold")]
    ListTooLong {
        /// The claimed length.
        length: u64,
    },
    /// A frame is larger than [`FRAME_SIZE_MAX_BYTES`].
    #[error("a frame of {size_bytes} bytes exceeds the limit of {FRAME_SIZE_MAX_BYTES} bytes")]
    FrameTooLarge {
        /// The claimed or actual payload size.
        size_bytes: u64,
    },
    /// The handshake does not start with [`HANDSHAKE_MAGIC`]: not a peer.
    #[error("the handshake does not start with the synod peer magic")]
    MagicMismatch,
}

// --------------------------------------------------------------------------
// Frames
// --------------------------------------------------------------------------

/// Appends one frame holding `payload` to `buffer`.
///
/// # Errors
///
/// [`WireError::FrameTooLarge`] when the payload is above
/// [`FRAME_SIZE_MAX_BYTES`]; nothing is appended then.
pub fn put_frame(buffer: &mut BytesMut, payload: &[u8]) -> Result<(), WireError> {
    if payload.len() > FRAME_SIZE_MAX_BYTES {
        return Err(WireError::FrameTooLarge {
            size_bytes: payload.len() as u64,
        });
    }
    buffer.reserve(FRAME_HEADER_SIZE_BYTES + payload.len());
    buffer.put_u32_le(payload.len() as u32);
    buffer.put_slice(payload);
    Ok(())
}

/// Takes the first complete frame's payload off the front of `buffer`.
/// `Ok(None)` means more bytes are needed; that is not an error.
///
/// # Errors
///
/// [`WireError::FrameTooLarge`] as soon as the header announces a payload
/// above [`FRAME_SIZE_MAX_BYTES`]; the connection cannot continue.
pub fn take_frame(buffer: &mut BytesMut) -> Result<Option<Bytes>, WireError> {
    if buffer.len() < FRAME_HEADER_SIZE_BYTES {
        return Ok(None);
    }
    let header: [u8; FRAME_HEADER_SIZE_BYTES] = buffer[..FRAME_HEADER_SIZE_BYTES]
        .try_into()
        .expect("the slice has the header's length");
    let size_bytes = u32::from_le_bytes(header) as usize;
    if size_bytes > FRAME_SIZE_MAX_BYTES {
        return Err(WireError::FrameTooLarge {
            size_bytes: size_bytes as u64,
        });
    }
    if buffer.len() < FRAME_HEADER_SIZE_BYTES + size_bytes {
        return Ok(None);
    }
    buffer.advance(FRAME_HEADER_SIZE_BYTES);
    Ok(Some(buffer.split_to(size_bytes).freeze()))
}

// --------------------------------------------------------------------------
// Handshake
// --------------------------------------------------------------------------

/// The dialing peer introduces itself. The layout is the same in every
/// protocol version (magic, version, cluster, sender, receiver), so that a
/// node can always read enough of it to refuse with a reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The protocol version the dialer speaks.
    pub version: u16,
    /// The cluster the dialer belongs to.
    pub cluster_id: u64,
    /// The dialer.
    pub from: NodeId,
    /// The node the dialer means to reach.
    pub to: NodeId,
}

/// Why a node refused a handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum Refusal {
    /// The dialer speaks a protocol version this node does not.
    #[error("protocol version unsupported; this node speaks version {supported}")]
    VersionUnsupported {
        /// The version this node speaks.
        supported: u16,
    },
    /// The dialer belongs to another cluster.
    #[error("wrong cluster; this node belongs to cluster {expected}")]
    ClusterMismatch {
        /// This node's cluster.
        expected: u64,
    },
    /// The dialer's node id is not a member of this cluster (or is this
    /// node's own id).
    #[error("the dialer's node id is not a member of this cluster")]
    NodeUnknown,
    /// The dialer meant to reach another node (its address book is wrong).
    #[error("wrong node; this is node {actual}")]
    WrongNode {
        /// This node's id.
        actual: u64,
    },
}

/// The answer to a [`Hello`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelloReply {
    /// Messages may flow.
    Accepted,
    /// The connection will be closed.
    Refused(Refusal),
}

/// Encodes a handshake.
pub fn encode_hello(hello: &Hello) -> Bytes {
    let mut buffer = BytesMut::with_capacity(HELLO_SIZE_BYTES);
    buffer.put_slice(&HANDSHAKE_MAGIC);
    buffer.put_u16_le(hello.version);
    buffer.put_u64_le(hello.cluster_id);
    buffer.put_u64_le(hello.from.0);
    buffer.put_u64_le(hello.to.0);
    buffer.freeze()
}

/// Decodes a handshake.
///
/// # Errors
///
/// [`WireError::MagicMismatch`] for anything that is not a synod peer,
/// [`WireError::Truncated`] or [`WireError::TrailingBytes`] for a payload of
/// the wrong size.
pub fn decode_hello(payload: &[u8]) -> Result<Hello, WireError> {
    let mut input = check_handshake(payload, HELLO_SIZE_BYTES)?;
    Ok(Hello {
        version: input.get_u16_le(),
        cluster_id: input.get_u64_le(),
        from: NodeId(input.get_u64_le()),
        to: NodeId(input.get_u64_le()),
    })
}

/// Encodes the answer to a handshake.
pub fn encode_hello_reply(reply: &HelloReply) -> Bytes {
    let (code, detail) = match reply {
        HelloReply::Accepted => (0, 0),
        HelloReply::Refused(Refusal::VersionUnsupported { supported }) => {
            (1, u64::from(*supported))
        }
        HelloReply::Refused(Refusal::ClusterMismatch { expected }) => (2, *expected),
        HelloReply::Refused(Refusal::NodeUnknown) => (3, 0),
        HelloReply::Refused(Refusal::WrongNode { actual }) => (4, *actual),
    };
    let mut buffer = BytesMut::with_capacity(HELLO_REPLY_SIZE_BYTES);
    buffer.put_slice(&HANDSHAKE_MAGIC);
    buffer.put_u16_le(PROTOCOL_VERSION);
    buffer.put_u8(code);
    buffer.put_u64_le(detail);
    buffer.freeze()
}

/// Decodes the answer to a handshake.
///
/// # Errors
///
/// As [`decode_hello`], and [`WireError::TagUnknown`] for an unknown answer.
pub fn decode_hello_reply(payload: &[u8]) -> Result<HelloReply, WireError> {
    let mut input = check_handshake(payload, HELLO_REPLY_SIZE_BYTES)?;
    let _version = input.get_u16_le();
    let code = input.get_u8();
    let detail = input.get_u64_le();
    let refusal = match code {
        0 => return Ok(HelloReply::Accepted),
        1 => Refusal::VersionUnsupported {
            supported: u16::try_from(detail).map_err(|_| WireError::IntegerInvalid)?,
        },
        2 => Refusal::ClusterMismatch { expected: detail },
        3 => Refusal::NodeUnknown,
        4 => Refusal::WrongNode { actual: detail },
        tag => {
            return Err(WireError::TagUnknown {
                field: "handshake reply",
                tag,
            })
        }
    };
    Ok(HelloReply::Refused(refusal))
}

/// Checks the magic and the exact size of a handshake payload and returns
/// the bytes after the magic.
fn check_handshake(payload: &[u8], size_bytes: usize) -> Result<&[u8], WireError> {
    if payload.len() < HANDSHAKE_MAGIC.len() || payload[..HANDSHAKE_MAGIC.len()] != HANDSHAKE_MAGIC
    {
        return Err(WireError::MagicMismatch);
    }
    if payload.len() < size_bytes {
        return Err(WireError::Truncated);
    }
    if payload.len() > size_bytes {
        return Err(WireError::TrailingBytes {
            count: payload.len() - size_bytes,
        });
    }
    Ok(&payload[HANDSHAKE_MAGIC.len()..])
}

// --------------------------------------------------------------------------
// Messages
// --------------------------------------------------------------------------

mod kind {
    pub const PREPARE: u8 = 1;
    pub const PROMISE: u8 = 2;
    pub const ACCEPT: u8 = 3;
    pub const ACCEPTED: u8 = 4;
    pub const HEARTBEAT: u8 = 5;
    pub const HEARTBEAT_ACK: u8 = 6;
    pub const REJECT: u8 = 7;
    pub const FORWARD: u8 = 8;
    pub const FORWARD_REJECTED: u8 = 9;
    pub const READ_INDEX_REQUEST: u8 = 10;
    pub const READ_INDEX_REPLY: u8 = 11;
    pub const READ_INDEX_REJECTED: u8 = 12;
    pub const CATCH_UP_REQUEST: u8 = 13;
    pub const CATCH_UP: u8 = 14;
    pub const INSTALL_SNAPSHOT: u8 = 15;
}

const VALUE_NOOP: u8 = 0;
const VALUE_BATCH: u8 = 1;

/// Encodes a message (without the frame header).
pub fn encode_message(message: &Message) -> Bytes {
    let mut buffer = BytesMut::with_capacity(64 + message_payload_size_bytes(message));
    encode_message_into(&mut buffer, message);
    buffer.freeze()
}

/// Appends one frame holding `message` to `buffer`, encoding in place.
///
/// # Errors
///
/// [`WireError::FrameTooLarge`] when the encoding is above
/// [`FRAME_SIZE_MAX_BYTES`]; `buffer` is left as it was.
pub fn put_message_frame(buffer: &mut BytesMut, message: &Message) -> Result<(), WireError> {
    let start = buffer.len();
    buffer.reserve(FRAME_HEADER_SIZE_BYTES + 64 + message_payload_size_bytes(message));
    buffer.put_u32_le(0);
    encode_message_into(buffer, message);
    let size_bytes = buffer.len() - start - FRAME_HEADER_SIZE_BYTES;
    if size_bytes > FRAME_SIZE_MAX_BYTES {
        buffer.truncate(start);
        return Err(WireError::FrameTooLarge {
            size_bytes: size_bytes as u64,
        });
    }
    let header = (size_bytes as u32).to_le_bytes();
    buffer[start..start + FRAME_HEADER_SIZE_BYTES].copy_from_slice(&header);
    Ok(())
}

fn encode_message_into(buffer: &mut BytesMut, message: &Message) {
    let mut writer = Writer(buffer);
    writer.0.put_u8(WIRE_FORMAT_VERSION);
    match message {
        Message::Prepare {
            ballot,
            first_undecided,
        } => {
            writer.0.put_u8(kind::PREPARE);
            writer.ballot(*ballot);
            writer.slot(*first_undecided);
        }
        Message::Promise {
            ballot,
            committed,
            entries,
        } => {
            writer.0.put_u8(kind::PROMISE);
            writer.ballot(*ballot);
            writer.slot(*committed);
            writer.slot_entries(entries);
        }
        Message::Accept {
            ballot,
            committed,
            proposals,
        } => {
            writer.0.put_u8(kind::ACCEPT);
            writer.ballot(*ballot);
            writer.slot(*committed);
            writer.length(proposals.len());
            for proposal in proposals {
                writer.slot(proposal.slot);
                writer.value(&proposal.value);
            }
        }
        Message::Accepted { ballot, slots } => {
            writer.0.put_u8(kind::ACCEPTED);
            writer.ballot(*ballot);
            writer.length(slots.len());
            for slot in slots {
                writer.slot(*slot);
            }
        }
        Message::Heartbeat {
            ballot,
            committed,
            round,
        } => {
            writer.0.put_u8(kind::HEARTBEAT);
            writer.ballot(*ballot);
            writer.slot(*committed);
            writer.integer(round.0);
        }
        Message::HeartbeatAck {
            ballot,
            round,
            committed,
        } => {
            writer.0.put_u8(kind::HEARTBEAT_ACK);
            writer.ballot(*ballot);
            writer.integer(round.0);
            writer.slot(*committed);
        }
        Message::Reject { rejected, promised } => {
            writer.0.put_u8(kind::REJECT);
            writer.ballot(*rejected);
            writer.ballot(*promised);
        }
        Message::Forward { commands } => {
            writer.0.put_u8(kind::FORWARD);
            writer.commands(commands);
        }
        Message::ForwardRejected { commands, leader } => {
            writer.0.put_u8(kind::FORWARD_REJECTED);
            writer.commands(commands);
            match leader {
                None => writer.0.put_u8(0),
                Some(leader) => {
                    writer.0.put_u8(1);
                    writer.integer(leader.0);
                }
            }
        }
        Message::ReadIndexRequest { request } => {
            writer.0.put_u8(kind::READ_INDEX_REQUEST);
            writer.integer(request.0);
        }
        Message::ReadIndexReply {
            request,
            ballot,
            read_index,
            committed,
        } => {
            writer.0.put_u8(kind::READ_INDEX_REPLY);
            writer.integer(request.0);
            writer.ballot(*ballot);
            writer.slot(*read_index);
            writer.slot(*committed);
        }
        Message::ReadIndexRejected { request } => {
            writer.0.put_u8(kind::READ_INDEX_REJECTED);
            writer.integer(request.0);
        }
        Message::CatchUpRequest { from } => {
            writer.0.put_u8(kind::CATCH_UP_REQUEST);
            writer.slot(*from);
        }
        Message::CatchUp { entries, committed } => {
            writer.0.put_u8(kind::CATCH_UP);
            writer.slot_entries(entries);
            writer.slot(*committed);
        }
        Message::InstallSnapshot {
            snapshot,
            committed,
        } => {
            writer.0.put_u8(kind::INSTALL_SNAPSHOT);
            writer.slot(snapshot.end);
            writer.bytes(&snapshot.state);
            writer.slot(*committed);
        }
    }
}

/// Payload bytes a message carries in commands and snapshots, to size the
/// encoding buffer once.
fn message_payload_size_bytes(message: &Message) -> usize {
    let commands_size = |commands: &[Bytes]| {
        commands
            .iter()
            .map(|command| command.len() + VARINT_SIZE_MAX_BYTES)
            .sum::<usize>()
    };
    let entries_size = |entries: &[SlotEntry]| {
        entries
            .iter()
            .map(|entry| 32 + commands_size(entry.entry.value.commands()))
            .sum::<usize>()
    };
    match message {
        Message::Promise { entries, .. } | Message::CatchUp { entries, .. } => {
            entries_size(entries)
        }
        Message::Accept { proposals, .. } => proposals
            .iter()
            .map(|proposal| 16 + commands_size(proposal.value.commands()))
            .sum(),
        Message::Accepted { slots, .. } => slots.len() * VARINT_SIZE_MAX_BYTES,
        Message::Forward { commands } | Message::ForwardRejected { commands, .. } => {
            commands_size(commands)
        }
        Message::InstallSnapshot { snapshot, .. } => snapshot.state.len(),
        _ => 0,
    }
}

/// Decodes one message from a frame payload.
///
/// # Errors
///
/// Any [`WireError`] other than the frame and handshake ones; arbitrary
/// input gives an error, never a panic.
pub fn decode_message(payload: Bytes) -> Result<Message, WireError> {
    let mut reader = Reader { input: payload };
    let version = reader.u8()?;
    if version != WIRE_FORMAT_VERSION {
        return Err(WireError::VersionUnsupported { version });
    }
    let message = match reader.u8()? {
        kind::PREPARE => Message::Prepare {
            ballot: reader.ballot()?,
            first_undecided: reader.slot()?,
        },
        kind::PROMISE => Message::Promise {
            ballot: reader.ballot()?,
            committed: reader.slot()?,
            entries: reader.slot_entries()?,
        },
        kind::ACCEPT => {
            let ballot = reader.ballot()?;
            let committed = reader.slot()?;
            let count = reader.length(2)?;
            let mut proposals = Vec::with_capacity(count);
            for _ in 0..count {
                proposals.push(Proposal {
                    slot: reader.slot()?,
                    value: reader.value()?,
                });
            }
            Message::Accept {
                ballot,
                committed,
                proposals,
            }
        }
        kind::ACCEPTED => {
            let ballot = reader.ballot()?;
            let count = reader.length(1)?;
            let mut slots = Vec::with_capacity(count);
            for _ in 0..count {
                slots.push(reader.slot()?);
            }
            Message::Accepted { ballot, slots }
        }
        kind::HEARTBEAT => Message::Heartbeat {
            ballot: reader.ballot()?,
            committed: reader.slot()?,
            round: ReadRound(reader.integer()?),
        },
        kind::HEARTBEAT_ACK => Message::HeartbeatAck {
            ballot: reader.ballot()?,
            round: ReadRound(reader.integer()?),
            committed: reader.slot()?,
        },
        kind::REJECT => Message::Reject {
            rejected: reader.ballot()?,
            promised: reader.ballot()?,
        },
        kind::FORWARD => Message::Forward {
            commands: reader.commands()?,
        },
        kind::FORWARD_REJECTED => {
            let commands = reader.commands()?;
            let leader = match reader.u8()? {
                0 => None,
                1 => Some(NodeId(reader.integer()?)),
                tag => {
                    return Err(WireError::TagUnknown {
                        field: "leader presence",
                        tag,
                    })
                }
            };
            Message::ForwardRejected { commands, leader }
        }
        kind::READ_INDEX_REQUEST => Message::ReadIndexRequest {
            request: ReadRequestId(reader.integer()?),
        },
        kind::READ_INDEX_REPLY => Message::ReadIndexReply {
            request: ReadRequestId(reader.integer()?),
            ballot: reader.ballot()?,
            read_index: reader.slot()?,
            committed: reader.slot()?,
        },
        kind::READ_INDEX_REJECTED => Message::ReadIndexRejected {
            request: ReadRequestId(reader.integer()?),
        },
        kind::CATCH_UP_REQUEST => Message::CatchUpRequest {
            from: reader.slot()?,
        },
        kind::CATCH_UP => Message::CatchUp {
            entries: reader.slot_entries()?,
            committed: reader.slot()?,
        },
        kind::INSTALL_SNAPSHOT => Message::InstallSnapshot {
            snapshot: Snapshot {
                end: reader.slot()?,
                state: reader.bytes()?,
            },
            committed: reader.slot()?,
        },
        tag => {
            return Err(WireError::TagUnknown {
                field: "message kind",
                tag,
            })
        }
    };
    if !reader.input.is_empty() {
        return Err(WireError::TrailingBytes {
            count: reader.input.len(),
        });
    }
    Ok(message)
}

struct Writer<'a>(&'a mut BytesMut);

impl Writer<'_> {
    fn integer(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.put_u8((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.put_u8(value as u8);
    }

    fn length(&mut self, length: usize) {
        self.integer(length as u64);
    }

    fn slot(&mut self, slot: Slot) {
        self.integer(slot.0);
    }

    fn ballot(&mut self, ballot: Ballot) {
        self.integer(ballot.round);
        self.integer(ballot.node.0);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.length(bytes.len());
        self.0.put_slice(bytes);
    }

    fn commands(&mut self, commands: &[Bytes]) {
        self.length(commands.len());
        for command in commands {
            self.bytes(command);
        }
    }

    fn value(&mut self, value: &Value) {
        match value {
            Value::Noop => self.0.put_u8(VALUE_NOOP),
            Value::Batch(commands) => {
                self.0.put_u8(VALUE_BATCH);
                self.commands(commands);
            }
        }
    }

    fn slot_entries(&mut self, entries: &[SlotEntry]) {
        self.length(entries.len());
        for entry in entries {
            self.slot(entry.slot);
            self.ballot(entry.entry.ballot);
            self.value(&entry.entry.value);
        }
    }
}

struct Reader {
    input: Bytes,
}

impl Reader {
    fn u8(&mut self) -> Result<u8, WireError> {
        if self.input.is_empty() {
            return Err(WireError::Truncated);
        }
        Ok(self.input.get_u8())
    }

    /// Reads a LEB128 integer, accepting only its shortest form.
    fn integer(&mut self) -> Result<u64, WireError> {
        let mut value: u64 = 0;
        for index in 0..VARINT_SIZE_MAX_BYTES {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            let shift = 7 * index as u32;
            if index == VARINT_SIZE_MAX_BYTES - 1 && bits > 1 {
                return Err(WireError::IntegerInvalid);
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                if index > 0 && bits == 0 {
                    return Err(WireError::IntegerInvalid);
                }
                return Ok(value);
            }
        }
        Err(WireError::IntegerInvalid)
    }

    /// Reads a list length and checks it against [`LIST_LENGTH_MAX`] and
    /// against the remaining input, where every element takes at least
    /// `element_size_min_bytes`.
    fn length(&mut self, element_size_min_bytes: usize) -> Result<usize, WireError> {
        let length = self.integer()?;
        let fits = usize::try_from(length).ok().filter(|length| {
            *length <= LIST_LENGTH_MAX
                && length.saturating_mul(element_size_min_bytes) <= self.input.len()
        });
        fits.ok_or(WireError::ListTooLong { length })
    }

    fn slot(&mut self) -> Result<Slot, WireError> {
        Ok(Slot(self.integer()?))
    }

    fn ballot(&mut self) -> Result<Ballot, WireError> {
        Ok(Ballot {
            round: self.integer()?,
            node: NodeId(self.integer()?),
        })
    }

    fn bytes(&mut self) -> Result<Bytes, WireError> {
        let length = self.integer()?;
        match usize::try_from(length) {
            Ok(length) if length <= self.input.len() => Ok(self.input.split_to(length)),
            _ => Err(WireError::Truncated),
        }
    }

    fn commands(&mut self) -> Result<Vec<Bytes>, WireError> {
        let count = self.length(1)?;
        let mut commands = Vec::with_capacity(count);
        for _ in 0..count {
            commands.push(self.bytes()?);
        }
        Ok(commands)
    }

    fn value(&mut self) -> Result<Value, WireError> {
        match self.u8()? {
            VALUE_NOOP => Ok(Value::Noop),
            VALUE_BATCH => Ok(Value::Batch(Arc::from(self.commands()?))),
            tag => Err(WireError::TagUnknown {
                field: "value",
                tag,
            }),
        }
    }

    fn slot_entries(&mut self) -> Result<Vec<SlotEntry>, WireError> {
        // Slot, round, node and value tag: at least four bytes an entry.
        let count = self.length(4)?;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            entries.push(SlotEntry {
                slot: self.slot()?,
                entry: Entry {
                    ballot: self.ballot()?,
                    value: self.value()?,
                },
            });
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_waits_for_all_its_bytes() {
        let mut buffer = BytesMut::new();
        put_frame(&mut buffer, b"hello").unwrap();
        put_frame(&mut buffer, b"").unwrap();
        let mut partial = BytesMut::from(&buffer[..6]);
        assert_eq!(take_frame(&mut partial), Ok(None));
        assert_eq!(
            take_frame(&mut buffer),
            Ok(Some(Bytes::from_static(b"hello")))
        );
        assert_eq!(take_frame(&mut buffer), Ok(Some(Bytes::new())));
        assert_eq!(take_frame(&mut buffer), Ok(None));
    }

    #[test]
    fn a_frame_header_above_the_limit_is_refused_before_its_payload_arrives() {
        let mut buffer = BytesMut::new();
        buffer.put_u32_le(u32::MAX);
        assert_eq!(
            take_frame(&mut buffer),
            Err(WireError::FrameTooLarge {
                size_bytes: u64::from(u32::MAX)
            })
        );
    }

    #[test]
    fn a_handshake_survives_a_round_trip_and_a_stranger_is_told_apart() {
        let hello = Hello {
            version: PROTOCOL_VERSION,
            cluster_id: 42,
            from: NodeId(1),
            to: NodeId(2),
        };
        assert_eq!(decode_hello(&encode_hello(&hello)), Ok(hello));
        assert_eq!(
            decode_hello(b"*1\r\n$4\r\nPING\r\n"),
            Err(WireError::MagicMismatch)
        );
        for reply in [
            HelloReply::Accepted,
            HelloReply::Refused(Refusal::VersionUnsupported { supported: 1 }),
            HelloReply::Refused(Refusal::ClusterMismatch { expected: 9 }),
            HelloReply::Refused(Refusal::NodeUnknown),
            HelloReply::Refused(Refusal::WrongNode { actual: 3 }),
        ] {
            assert_eq!(decode_hello_reply(&encode_hello_reply(&reply)), Ok(reply));
        }
    }

    #[test]
    fn integers_have_exactly_one_encoding() {
        for value in [0, 1, 127, 128, 300, u64::MAX >> 1, u64::MAX] {
            let mut buffer = BytesMut::new();
            Writer(&mut buffer).integer(value);
            let mut reader = Reader {
                input: buffer.freeze(),
            };
            assert_eq!(reader.integer(), Ok(value));
            assert!(reader.input.is_empty());
        }
        // Zero written in two bytes, and eleven bits above 64.
        for overlong in [
            &[0x80, 0x00][..],
            &[0xff; 9].iter().chain(&[0x02]).copied().collect::<Vec<_>>(),
        ] {
            let mut reader = Reader {
                input: Bytes::copy_from_slice(overlong),
            };
            assert_eq!(reader.integer(), Err(WireError::IntegerInvalid));
        }
    }

    #[test]
    fn a_list_longer_than_its_frame_is_refused_without_allocating() {
        let mut buffer = BytesMut::new();
        buffer.put_u8(WIRE_FORMAT_VERSION);
        buffer.put_u8(kind::FORWARD);
        Writer(&mut buffer).integer(u64::MAX);
        assert_eq!(
            decode_message(buffer.freeze()),
            Err(WireError::ListTooLong { length: u64::MAX })
        );
    }

    #[test]
    fn another_format_version_is_refused() {
        let mut encoded = BytesMut::from(
            &encode_message(&Message::ReadIndexRequest {
                request: ReadRequestId(3),
            })[..],
        );
        encoded[0] = 2;
        assert_eq!(
            decode_message(encoded.freeze()),
            Err(WireError::VersionUnsupported { version: 2 })
        );
    }
}
