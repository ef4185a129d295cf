//! The frame: one value of the protocol, and its encoding in RESP2 or RESP3.

use bytes::{BufMut, Bytes, BytesMut};

/// The protocol version a connection speaks, chosen by the client with
/// `HELLO 2` or `HELLO 3`. Requests are the same in both (arrays of bulk
/// strings); only the encoding of replies differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// RESP2, what a connection speaks until it says `HELLO 3`.
    #[default]
    Resp2,
    /// RESP3: nulls, maps, sets and verbatim strings have types of their
    /// own.
    Resp3,
}

impl Protocol {
    /// The version number `HELLO` names and reports.
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// One value of the protocol. A request is an [`Frame::Array`] of
/// [`Frame::Bulk`] strings; a reply may be any frame. The RESP3 kinds
/// ([`Frame::Map`], [`Frame::Set`], [`Frame::Verbatim`]) are encoded for a
/// RESP2 connection the way Redis does: a map as a flat array of keys and
/// values, a set as an array, a verbatim string as a bulk string.
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
    /// RESP3 `%1\r\n…`: pairs of frames, in the order given.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~2\r\n…`: an unordered collection without duplicates.
    Set(Vec<Frame>),
    /// RESP3 `=8\r\ntxt:text\r\n`: text meant for people, with its
    /// three-letter format (`txt` or `mkd`).
    Verbatim {
        /// The format, three bytes: `txt` or `mkd`.
        format: &'static str,
        /// The text.
        text: Bytes,
    },
}

/// Appends the RESP2 encoding of `frame` to `buffer`; see [`encode_for`].
pub fn encode(frame: &Frame, buffer: &mut BytesMut) {
    encode_for(frame, Protocol::Resp2, buffer);
}

/// Appends the encoding of `frame` in `protocol` to `buffer`.
///
/// Simple strings and errors cannot contain a line break: a peer would read
/// the rest as a new frame, so a message that echoes client input could
/// otherwise inject replies. Encoding replaces every `\r` and `\n` in them
/// with a space; everything else is encoded as is.
pub fn encode_for(frame: &Frame, protocol: Protocol, buffer: &mut BytesMut) {
    let resp3 = protocol == Protocol::Resp3;
    match frame {
        Frame::Simple(text) => encode_line(b'+', text, buffer),
        Frame::Error(text) => encode_line(b'-', text, buffer),
        Frame::Integer(value) => encode_number(b':', *value, buffer),
        Frame::Bulk(bytes) => {
            encode_length(b'$', bytes.len(), buffer);
            buffer.put_slice(bytes);
            buffer.put_slice(b"\r\n");
        }
        Frame::Null | Frame::NullArray if resp3 => buffer.put_slice(b"_\r\n"),
        Frame::Null => buffer.put_slice(b"$-1\r\n"),
        Frame::NullArray => buffer.put_slice(b"*-1\r\n"),
        Frame::Array(elements) => encode_elements(b'*', elements, protocol, buffer),
        Frame::Set(elements) => {
            encode_elements(if resp3 { b'~' } else { b'*' }, elements, protocol, buffer);
        }
        Frame::Map(pairs) => {
            if resp3 {
                encode_length(b'%', pairs.len(), buffer);
            } else {
                encode_length(b'*', pairs.len() * 2, buffer);
            }
            for (key, value) in pairs {
                encode_for(key, protocol, buffer);
                encode_for(value, protocol, buffer);
            }
        }
        Frame::Verbatim { format, text } if resp3 => {
            assert_eq!(format.len(), 3, "a verbatim format is three bytes");
            encode_length(b'=', text.len() + 4, buffer);
            buffer.put_slice(format.as_bytes());
            buffer.put_u8(b':');
            buffer.put_slice(text);
            buffer.put_slice(b"\r\n");
        }
        Frame::Verbatim { text, .. } => {
            encode_length(b'$', text.len(), buffer);
            buffer.put_slice(text);
            buffer.put_slice(b"\r\n");
        }
    }
}

fn encode_elements(type_byte: u8, elements: &[Frame], protocol: Protocol, buffer: &mut BytesMut) {
    encode_length(type_byte, elements.len(), buffer);
    for element in elements {
        encode_for(element, protocol, buffer);
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
    fn resp3_kinds_encode_to_their_documented_bytes_in_both_protocols() {
        let bulk = |text: &'static str| Frame::Bulk(Bytes::from_static(text.as_bytes()));
        let cases: [(Frame, &[u8], &[u8]); 5] = [
            (Frame::Null, b"$-1\r\n", b"_\r\n"),
            (Frame::NullArray, b"*-1\r\n", b"_\r\n"),
            (
                Frame::Map(vec![(bulk("proto"), Frame::Integer(3))]),
                b"*2\r\n$5\r\nproto\r\n:3\r\n",
                b"%1\r\n$5\r\nproto\r\n:3\r\n",
            ),
            (
                Frame::Set(vec![bulk("a")]),
                b"*1\r\n$1\r\na\r\n",
                b"~1\r\n$1\r\na\r\n",
            ),
            (
                Frame::Verbatim {
                    format: "txt",
                    text: Bytes::from_static(b"a\r\nb"),
                },
                b"$4\r\na\r\nb\r\n",
                b"=8\r\ntxt:a\r\nb\r\n",
            ),
        ];
        for (frame, resp2, resp3) in cases {
            let mut buffer = BytesMut::new();
            encode_for(&frame, Protocol::Resp2, &mut buffer);
            assert_eq!(&buffer[..], resp2, "{frame:?} in RESP2");
            buffer.clear();
            encode_for(&frame, Protocol::Resp3, &mut buffer);
            assert_eq!(&buffer[..], resp3, "{frame:?} in RESP3");
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
