//! What the command tests share: a request parsed from its words.

use bytes::Bytes;
use synod_resp::{CommandError, Frame, Request};

/// The request a client sending these words makes.
pub fn parse(words: &[&[u8]]) -> Result<Request, CommandError> {
    Request::parse(Frame::Array(
        words
            .iter()
            .map(|word| Frame::Bulk(Bytes::copy_from_slice(word)))
            .collect(),
    ))
}

/// A static word as bytes.
pub fn bytes(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}
