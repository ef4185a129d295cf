//! The request tag wrapped around every proposed command so that the node a
//! client talked to can route the answer back, for every kind of command
//! (plain writes and session registrations have no (session, sequence) of
//! their own). The state machine sees only the inner command.
//!
//! The tag is two fixed-width little-endian `u64`s. It is part of every log
//! entry ever written, so its layout never changes: every replica must
//! split old entries exactly as their writer did.

use bytes::Bytes;
use synod_codec::{Reader, Writer};

/// Size of the tag in front of the command.
pub const TAG_SIZE_BYTES: usize = 16;

/// Who asked: a client and its request number (unique per client).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestTag {
    /// The client.
    pub client: u64,
    /// The client's request number.
    pub request: u64,
}

/// The tag of the leader's clock stamp (see [`crate::Node::set_time`]).
/// No incarnation's tags use client 0 with request 0 to wait on (a node's
/// client part carries its id in the top bits, and the node never routes
/// this tag's answer), so the stamp's answer reaches no one.
pub const CLOCK_STAMP: RequestTag = RequestTag {
    client: 0,
    request: 0,
};

/// Prefixes `command` with `tag`.
pub fn wrap(tag: RequestTag, command: &[u8]) -> Bytes {
    let mut writer = Writer::with_capacity(TAG_SIZE_BYTES + command.len());
    writer.put_u64_le(tag.client);
    writer.put_u64_le(tag.request);
    writer.put_raw(command);
    writer.into_bytes()
}

/// Splits a proposal into its tag and command; `None` when too short.
pub fn unwrap(proposal: &[u8]) -> Option<(RequestTag, &[u8])> {
    let mut reader = Reader::new(proposal);
    let client = reader.take_u64_le().ok()?;
    let request = reader.take_u64_le().ok()?;
    let command = &proposal[TAG_SIZE_BYTES..];
    Some((RequestTag { client, request }, command))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_survives_a_round_trip() {
        let tag = RequestTag {
            client: 7,
            request: 99,
        };
        let wrapped = wrap(tag, b"payload");
        assert_eq!(&wrapped[..8], &7u64.to_le_bytes());
        assert_eq!(unwrap(&wrapped), Some((tag, &b"payload"[..])));
        assert_eq!(unwrap(b"short"), None);
    }
}
