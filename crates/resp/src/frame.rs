//! The RESP2 frame: one value of the protocol, and its encoding.

use bytes::{BufMut, Bytes, BytesMut};

/// One RESP2 value. A request is an [`Frame::Array`] of [`Frame::Bulk`]
/// strings; a reply may be any frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Frame {
    /// `+OK\r\n`: a short text without line breaks.
    Simple(String),
    /// `-ERR message\r\n`: an error reply. By convention the first word is
    /// an error code (`ERR`, `CLUSTERDOWN`, …); see [`crate::reply`].
    Error(String),
    /// `:42\r\n`: a signed 64-bit integer.
    Integer(i64),
    /// `$3\r\nfoo\r\n`: a binary-safe string.
    Bulk(Bytes),
    /// `$-1\r\n`: the null bulk string, "no value" (`GET` of a missing key).
    Null,
    /// `*2\r\n…`: a sequence of frames.
    Array(Vec<Frame>),
    /// `*-1\r\n`: the null array.
    NullArray,
}

/// Appends the encoding of `frame` to `buffer`.
///
/// Simple strings and errors cannot contain a line break: a peer would read
/// the rest as a new frame, so a message that echoes client input could
/// otherwise inject replies. Encoding replaces every `\r` and `\n` in them
/// with a space; everything else is encoded as is.
pub fn encode(frame: &Frame, buffer: &mut BytesMut) {
    match frame {
        Frame::Simple(text) => encode_line(b'+', text, buffer),
        Frame::Error(text) => encode_line(b'-', text, buffer),
        Frame::Integer(value) => encode_number(b':', *value, buffer),
        Frame::Bulk(bytes) => {
            encode_length(b'$', bytes.len(), buffer);
            buffer.put_slice(bytes);
            buffer.put_slice(b"\r\n");
        }
        Frame::Null => buffer.put_slice(b"$-1\r\n"),
        Frame::Array(elements) => {
            encode_length(b'*', elements.len(), buffer);
            for element in elements {
                encode(element, buffer);
            }
        }
        Frame::NullArray => buffer.put_slice(b"*-1\r\n"),
    }
}

impl Frame {
    /// The frame's encoding as a fresh buffer; see [`encode`].
    pub fn to_bytes(&self) -> Bytes {
        let mut buffer = BytesMut::new();
        encode(self, &mut buffer);
        buffer.freeze()
    }
}

fn encode_line(type_byte: u8, text: &str, buffer: &mut BytesMut) {
    buffer.reserve(text.len() + 3);
    buffer.put_u8(type_byte);
    for &byte in text.as_bytes() {
        buffer.put_u8(if byte == b'\r' || byte == b'\n' {
            b' '
        } else {
            byte
        });
    }
    buffer.put_slice(b"\r\n");
}

fn encode_length(type_byte: u8, length: usize, buffer: &mut BytesMut) {
    let length = i64::try_from(length).expect("a length fits in 63 bits: it is an allocation");
    encode_number(type_byte, length, buffer);
}

fn encode_number(type_byte: u8, value: i64, buffer: &mut BytesMut) {
    buffer.put_u8(type_byte);
    buffer.put_slice(value.to_string().as_bytes());
    buffer.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_encodes_to_its_documented_bytes() {
        let cases: [(Frame, &[u8]); 7] = [
            (Frame::Simple("OK".into()), b"+OK\r\n"),
            (Frame::Error("ERR bad".into()), b"-ERR bad\r\n"),
            (Frame::Integer(-42), b":-42\r\n"),
            (
                Frame::Bulk(Bytes::from_static(b"a\r\nb")),
                b"$4\r\na\r\nb\r\n",
            ),
            (Frame::Null, b"$-1\r\n"),
            (
                Frame::Array(vec![Frame::Integer(1), Frame::Array(vec![])]),
                b"*2\r\n:1\r\n*0\r\n",
            ),
            (Frame::NullArray, b"*-1\r\n"),
        ];
        for (frame, expected) in cases {
            assert_eq!(frame.to_bytes().as_ref(), expected, "{frame:?}");
        }
    }

    #[test]
    fn line_breaks_in_simple_strings_and_errors_become_spaces() {
        let injected = Frame::Error("ERR unknown command 'x\r\n+OK'".into());
        assert_eq!(
            injected.to_bytes().as_ref(),
            b"-ERR unknown command 'x  +OK'\r\n"
        );
        let simple = Frame::Simple("a\nb".into());
        assert_eq!(simple.to_bytes().as_ref(), b"+a b\r\n");
    }
}
