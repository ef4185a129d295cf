//! The bytes on a peer connection: frames and the handshake.
//!
//! A peer connection carries frames: a little-endian `u32` payload length,
//! then the payload. The first frame in each direction is the handshake
//! ([`Hello`], answered by a [`HelloReply`]); every later frame holds one
//! [`Message`] in the core's one encoding (the `encoding` module of
//! `synod_paxos`, built on `synod_codec`; the same encoding of ballots,
//! values and entries is used in the write-ahead log). The writer puts many
//! frames into one socket write.
//!
//! The handshake has a fixed layout in every protocol version (fixed-width
//! little-endian integers after a magic), so that a node can always read
//! enough of it to refuse a peer with a reason.
//!
//! Decoding never panics and never allocates more than a small multiple of
//! its input: every length is checked against the bytes that remain before
//! anything is reserved. Commands are handed out as views of the frame (no
//! copy); the state machine copies what it keeps.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use synod_codec::{decode_exactly, DecodeError, Encode, Reader, Writer};
use synod_paxos::{Message, NodeId};
use thiserror::Error;

/// The version of the message encoding this build writes and reads.
pub const WIRE_FORMAT_VERSION: u8 = synod_paxos::MESSAGE_FORMAT_VERSION;

/// The peer protocol version carried in the handshake. A peer that speaks
/// another version is refused before any message is exchanged. Version 2
/// speaks message format 2; version 3 adds pre-votes and resignations
/// (message format 3).
pub const PROTOCOL_VERSION: u16 = 3;

/// The first bytes of every handshake, so that a stray client (say, a Redis
/// client pointed at the peer port) is told apart from a peer at once.
pub const HANDSHAKE_MAGIC: [u8; 4] = *b"SYNP";

/// Bytes of the length prefix in front of every frame.
pub const FRAME_HEADER_SIZE_BYTES: usize = 4;

/// The largest frame payload accepted or sent. Snapshots travel in chunks
/// of a megabyte; the largest messages are catch-up batches (128 slots of
/// up to a megabyte of commands each) and Accepts. The reader grows its
/// buffer only as bytes arrive, so a lying length prefix costs only what is
/// sent.
pub const FRAME_SIZE_MAX_BYTES: usize = 1024 * 1024 * 1024 + 64 * 1024;

/// The most elements one list field may claim (commands in a batch, slots in
/// an Accept, entries in a Promise). Far above what the core sends, it keeps
/// a hostile frame full of empty elements from inflating in memory.
pub const LIST_ELEMENTS_MAX: usize = synod_codec::LIST_ELEMENTS_MAX;

/// Size of an encoded [`Hello`].
pub const HELLO_SIZE_BYTES: usize = 4 + 2 + 8 + 8 + 8;

/// Size of an encoded [`HelloReply`].
pub const HELLO_REPLY_SIZE_BYTES: usize = 4 + 2 + 1 + 8;

/// What a handshake is, for [`DecodeError::MagicMismatch`].
const HANDSHAKE_FORMAT: &str = "a synod peer handshake";

/// Why bytes are not a valid frame, handshake or message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// A frame is larger than [`FRAME_SIZE_MAX_BYTES`].
    #[error("a frame of {size_bytes} bytes exceeds the limit of {FRAME_SIZE_MAX_BYTES} bytes")]
    FrameTooLarge {
        /// The claimed or actual payload size.
        size_bytes: u64,
    },
    /// The payload does not decode (a message or a handshake).
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl WireError {
    /// The error for a stream that is not a synod peer at all.
    pub fn not_a_peer() -> WireError {
        WireError::Decode(DecodeError::MagicMismatch {
            format: HANDSHAKE_FORMAT,
        })
    }
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
    // Copied out, not split off. The messages decoded from a frame keep
    // views of it (a log entry's commands live as long as the entry), and a
    // view into the read buffer keeps that whole buffer alive, so every read
    // needed a fresh one: followers held 137 MiB of read buffers for a
    // 16 MiB log (heaptrack, 100,000 keys under writes). A copy costs one
    // memcpy per frame and lets the read buffer be reused.
    let frame = Bytes::copy_from_slice(&buffer[..size_bytes]);
    buffer.advance(size_bytes);
    Ok(Some(frame))
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
    /// The dialer's id was removed from the cluster by a configuration
    /// change (of epoch `epoch`): ids are never reused, so that node may
    /// come back only as a new member, under a new id, with an empty data
    /// directory.
    #[error(
        "this node's id was removed from the cluster (configuration epoch {epoch}); \
         ids are never reused: move its data directory away and add it as a new member \
         under a new id (synod cluster add --id NEW …, then synod server --id NEW --join …)"
    )]
    Removed {
        /// The configuration that removed it, or a later one.
        epoch: u64,
    },
    /// With peer TLS: the dialer's certificate, signed by the cluster's CA,
    /// names another node than the one the dialer claims to be.
    #[error("the dialer's certificate does not name the node it claims to be")]
    CertificateMismatch,
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
    let mut writer = Writer::with_capacity(HELLO_SIZE_BYTES);
    writer.put_raw(&HANDSHAKE_MAGIC);
    writer.put_u16_le(hello.version);
    writer.put_u64_le(hello.cluster_id);
    writer.put_u64_le(hello.from.0);
    writer.put_u64_le(hello.to.0);
    assert_eq!(writer.len(), HELLO_SIZE_BYTES);
    writer.into_bytes()
}

/// Decodes a handshake.
///
/// # Errors
///
/// [`DecodeError::MagicMismatch`] for anything that is not a synod peer,
/// [`DecodeError::Truncated`] or [`DecodeError::TrailingBytes`] for a
/// payload of the wrong size.
pub fn decode_hello(payload: &[u8]) -> Result<Hello, WireError> {
    let mut reader = handshake_reader(payload, HELLO_SIZE_BYTES)?;
    let hello = Hello {
        version: reader.take_u16_le()?,
        cluster_id: reader.take_u64_le()?,
        from: NodeId(reader.take_u64_le()?),
        to: NodeId(reader.take_u64_le()?),
    };
    reader.finish()?;
    Ok(hello)
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
        HelloReply::Refused(Refusal::Removed { epoch }) => (5, *epoch),
        HelloReply::Refused(Refusal::CertificateMismatch) => (6, 0),
    };
    let mut writer = Writer::with_capacity(HELLO_REPLY_SIZE_BYTES);
    writer.put_raw(&HANDSHAKE_MAGIC);
    writer.put_u16_le(PROTOCOL_VERSION);
    writer.put_u8(code);
    writer.put_u64_le(detail);
    assert_eq!(writer.len(), HELLO_REPLY_SIZE_BYTES);
    writer.into_bytes()
}

/// Decodes the answer to a handshake.
///
/// # Errors
///
/// As [`decode_hello`], and [`DecodeError::TagUnknown`] for an unknown
/// answer.
pub fn decode_hello_reply(payload: &[u8]) -> Result<HelloReply, WireError> {
    let mut reader = handshake_reader(payload, HELLO_REPLY_SIZE_BYTES)?;
    let _version = reader.take_u16_le()?;
    let code = reader.take_u8()?;
    let detail = reader.take_u64_le()?;
    reader.finish()?;
    let refusal = match code {
        0 => return Ok(HelloReply::Accepted),
        1 => Refusal::VersionUnsupported {
            supported: u16::try_from(detail).map_err(|_| DecodeError::IntegerInvalid)?,
        },
        2 => Refusal::ClusterMismatch { expected: detail },
        3 => Refusal::NodeUnknown,
        4 => Refusal::WrongNode { actual: detail },
        5 => Refusal::Removed { epoch: detail },
        6 => Refusal::CertificateMismatch,
        tag => {
            return Err(DecodeError::TagUnknown {
                field: "handshake reply",
                tag,
            }
            .into())
        }
    };
    Ok(HelloReply::Refused(refusal))
}

/// Checks the magic and the exact size of a handshake payload and returns
/// a reader of the bytes after the magic.
fn handshake_reader(payload: &[u8], size_bytes: usize) -> Result<Reader<'_>, WireError> {
    let mut reader = Reader::new(payload);
    if reader.take_array::<4>().ok() != Some(HANDSHAKE_MAGIC) {
        return Err(WireError::not_a_peer());
    }
    if payload.len() < size_bytes {
        return Err(DecodeError::Truncated.into());
    }
    if payload.len() > size_bytes {
        return Err(DecodeError::TrailingBytes {
            count: payload.len() - size_bytes,
        }
        .into());
    }
    Ok(reader)
}

// --------------------------------------------------------------------------
// Messages
// --------------------------------------------------------------------------

/// Encodes a message (without the frame header), in the core's one
/// encoding (see `synod_paxos`'s `encoding` module).
pub fn encode_message(message: &Message) -> Bytes {
    let mut writer = Writer::with_capacity(message.encoded_size_hint_bytes());
    message.encode(&mut writer);
    writer.into_bytes()
}

/// Appends one frame holding `message` to `buffer`, encoding in place.
///
/// # Errors
///
/// [`WireError::FrameTooLarge`] when the encoding is above
/// [`FRAME_SIZE_MAX_BYTES`]; `buffer` is left as it was.
pub fn put_message_frame(buffer: &mut BytesMut, message: &Message) -> Result<(), WireError> {
    let start = buffer.len();
    let mut writer = Writer::appending_to(std::mem::take(buffer));
    writer.reserve(FRAME_HEADER_SIZE_BYTES + message.encoded_size_hint_bytes());
    writer.put_u32_le(0);
    message.encode(&mut writer);
    let size_bytes = writer.len() - start - FRAME_HEADER_SIZE_BYTES;
    if size_bytes > FRAME_SIZE_MAX_BYTES {
        writer.truncate(start);
        *buffer = writer.into_buffer();
        return Err(WireError::FrameTooLarge {
            size_bytes: size_bytes as u64,
        });
    }
    let header = (size_bytes as u32).to_le_bytes();
    writer.as_mut_slice()[start..start + FRAME_HEADER_SIZE_BYTES].copy_from_slice(&header);
    *buffer = writer.into_buffer();
    Ok(())
}

/// Decodes one message from a frame payload; its commands and snapshot are
/// views of the payload, not copies.
///
/// # Errors
///
/// [`WireError::Decode`]; arbitrary input gives an error, never a panic.
pub fn decode_message(payload: Bytes) -> Result<Message, WireError> {
    Ok(decode_exactly(&payload)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_frame_does_not_keep_the_read_buffer_alive() {
        let mut buffer = BytesMut::with_capacity(4096);
        put_frame(&mut buffer, b"payload").unwrap();
        let start = buffer.as_ptr();
        let frame = take_frame(&mut buffer).unwrap().unwrap();
        assert!(buffer.is_empty());
        // While the frame lives, the emptied buffer is reused in place: a
        // frame that viewed it would force a new allocation per read.
        // (4,090 bytes fit only if the consumed front is reclaimed.)
        buffer.reserve(4090);
        assert_eq!(buffer.as_ptr(), start);
        assert_eq!(&frame[..], b"payload");
    }

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
            Err(WireError::not_a_peer())
        );
        for reply in [
            HelloReply::Accepted,
            HelloReply::Refused(Refusal::VersionUnsupported { supported: 1 }),
            HelloReply::Refused(Refusal::ClusterMismatch { expected: 9 }),
            HelloReply::Refused(Refusal::NodeUnknown),
            HelloReply::Refused(Refusal::WrongNode { actual: 3 }),
            HelloReply::Refused(Refusal::Removed { epoch: 7 }),
            HelloReply::Refused(Refusal::CertificateMismatch),
        ] {
            assert_eq!(decode_hello_reply(&encode_hello_reply(&reply)), Ok(reply));
        }
    }

    #[test]
    fn a_message_frame_is_a_length_and_the_core_encoding() {
        let message = Message::ReadIndexRequest {
            request: synod_paxos::ReadRequestId(3),
            reads: 2,
        };
        let mut buffer = BytesMut::from(&b"earlier"[..]);
        put_message_frame(&mut buffer, &message).unwrap();
        assert_eq!(&buffer[..7], b"earlier", "appended after what was there");
        let mut frames = buffer.split_off(7);
        let frame = take_frame(&mut frames).unwrap().expect("a whole frame");
        assert_eq!(frame, encode_message(&message));
        assert_eq!(decode_message(frame), Ok(message));
    }
}
