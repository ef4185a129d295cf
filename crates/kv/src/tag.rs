//! The request tag wrapped around every proposed command so that the node a
//! client talked to can route the answer back, for every kind of command
//! (plain writes and session registrations have no (session, sequence) of
//! their own). The state machine sees only the inner command.

use bytes::{BufMut, Bytes, BytesMut};

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

/// Prefixes `command` with `tag`.
pub fn wrap(tag: RequestTag, command: &[u8]) -> Bytes {
    let mut buffer = BytesMut::with_capacity(TAG_SIZE_BYTES + command.len());
    buffer.put_u64_le(tag.client);
    buffer.put_u64_le(tag.request);
    buffer.put_slice(command);
    buffer.freeze()
}

/// Splits a proposal into its tag and command; `None` when too short.
pub fn unwrap(proposal: &[u8]) -> Option<(RequestTag, &[u8])> {
    if proposal.len() < TAG_SIZE_BYTES {
        return None;
    }
    let client = u64::from_le_bytes(proposal[0..8].try_into().ok()?);
    let request = u64::from_le_bytes(proposal[8..16].try_into().ok()?);
    Some((RequestTag { client, request }, &proposal[TAG_SIZE_BYTES..]))
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
        assert_eq!(unwrap(&wrapped), Some((tag, &b"payload"[..])));
        assert_eq!(unwrap(b"short"), None);
    }
}
