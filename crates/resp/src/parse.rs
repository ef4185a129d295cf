//! Incremental parsing of frames from a connection's read buffer.
//!
//! [`parse_frame`] makes two passes over the buffer. The first checks that a
//! whole frame is there and within every limit of [`crate::limits`], without
//! allocating; only then does the second pass split the frame off the buffer
//! and build it, slicing bulk strings out of the frame's bytes instead of
//! copying them. So a peer that declares a huge length is refused before
//! anything is allocated or waited for, and a frame that arrives in many
//! small reads costs a cheap re-check per read, not a rebuild.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use crate::frame::Frame;
use crate::limits::{
    ARRAY_ELEMENTS_MAX, BULK_SIZE_MAX_BYTES, INLINE_SIZE_MAX_BYTES, NESTING_DEPTH_MAX,
    NUMBER_LINE_SIZE_MAX_BYTES, REQUEST_SIZE_MAX_BYTES,
};

/// The byte stream is not valid RESP, or breaks a limit of
/// [`crate::limits`]. After one, the framing of the rest of the stream cannot
/// be trusted: the server answers [`ProtocolError::reply`] and closes the
/// connection (see the crate doc for the connection-error rule).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// A `$` header is not an integer, or is negative but not `-1`.
    #[error("invalid bulk length")]
    BulkLengthInvalid,
    /// A `$` header declares more than [`BULK_SIZE_MAX_BYTES`].
    #[error("bulk string of {size_bytes} bytes exceeds the limit of {BULK_SIZE_MAX_BYTES} bytes")]
    BulkTooLarge {
        /// The declared length.
        size_bytes: u64,
    },
    /// The bytes after a bulk string's contents are not `\r\n`: the declared
    /// length is wrong.
    #[error("bulk string is not followed by CRLF")]
    BulkTerminatorMissing,
    /// A `*` header is not an integer, or is negative but not `-1`.
    #[error("invalid multibulk length")]
    ArrayLengthInvalid,
    /// The frame has more than [`ARRAY_ELEMENTS_MAX`] elements, counted over
    /// all its nested arrays and inline words.
    #[error("{count} elements exceed the limit of {ARRAY_ELEMENTS_MAX} elements per frame")]
    ArrayTooLarge {
        /// The element count including the array or line that broke the limit.
        count: u64,
    },
    /// Arrays are nested more than [`NESTING_DEPTH_MAX`] levels deep.
    #[error("arrays nested deeper than {NESTING_DEPTH_MAX} levels")]
    NestingTooDeep,
    /// A `:` line is not a 64-bit signed integer.
    #[error("invalid integer")]
    IntegerInvalid,
    /// An element inside an array starts with a byte that is no RESP2 type.
    /// (At the top level such a byte starts an inline command.)
    #[error("unexpected type byte {byte:#04x} in an array")]
    TypeUnknown {
        /// The offending byte.
        byte: u8,
    },
    /// An inline command, simple string or error is longer than
    /// [`INLINE_SIZE_MAX_BYTES`].
    #[error("line longer than {INLINE_SIZE_MAX_BYTES} bytes")]
    LineTooLong,
    /// A simple string, error, integer or header line ends in a bare `\n`.
    #[error("line does not end with CRLF")]
    LineEndingInvalid,
    /// A simple string or error is not UTF-8.
    #[error("simple string is not UTF-8")]
    TextInvalid,
    /// The frame is larger than [`REQUEST_SIZE_MAX_BYTES`].
    #[error("frame exceeds the limit of {REQUEST_SIZE_MAX_BYTES} bytes")]
    RequestTooLarge,
}

impl ProtocolError {
    /// The reply that the server sends before it closes the connection, in
    /// the words Redis uses: `-ERR Protocol error: …`.
    pub fn reply(&self) -> Frame {
        Frame::Error(format!("ERR Protocol error: {self}"))
    }
}

/// Takes the first frame off the front of `buffer`.
///
/// Returns `Ok(None)` when the buffer holds only the beginning of a frame: an
/// incomplete frame is the normal state of a stream, not an error. Nothing is
/// consumed then; call again after more bytes arrive. `Ok(None)` is only
/// returned while the frame so far fits in [`REQUEST_SIZE_MAX_BYTES`], so a
/// caller that reads in chunks buffers at most that plus one chunk.
///
/// At the top level, a line that does not start with a RESP type byte is an
/// inline command (`PING\r\n`, or `SET k v\n` from telnet): it is returned as
/// an array of bulk strings, one per word separated by whitespace. Quoting
/// is not supported. Blank lines are skipped, as Redis does.
///
/// # Errors
///
/// A [`ProtocolError`] when the bytes are not RESP or break a limit; the
/// buffer is left as it was, and the stream must be abandoned.
pub fn parse_frame(buffer: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
    loop {
        let mut check = Scanner::check(buffer);
        if check.frame(0)?.is_none() {
            return Ok(None);
        }
        let (frame_size_bytes, blank_line) = (check.position, check.blank_line);
        let frame_bytes = buffer.split_to(frame_size_bytes).freeze();
        if blank_line {
            continue;
        }
        let mut build = Scanner::build(&frame_bytes);
        let frame = build
            .frame(0)
            .expect("a frame that passed the check builds")
            .expect("a frame that passed the check is complete");
        assert_eq!(build.position, frame_bytes.len());
        return Ok(Some(frame));
    }
}

/// The result of one parsing step: `Ok(None)` when more bytes are needed.
type Step<T> = Result<Option<T>, ProtocolError>;

/// Unwraps a complete step, or returns "incomplete" from the caller.
macro_rules! complete {
    ($step:expr) => {
        match $step? {
            Some(value) => value,
            None => return Ok(None),
        }
    };
}

/// A cursor over one frame's bytes. In the checking pass `source` is `None`
/// and the frames returned are placeholders (nothing is allocated); in the
/// building pass it is the frame's own bytes, which bulk strings slice.
struct Scanner<'a> {
    input: &'a [u8],
    source: Option<&'a Bytes>,
    position: usize,
    /// Elements seen so far in this frame, over all nesting levels.
    elements: usize,
    /// Whether the frame was a blank inline line, which is skipped.
    blank_line: bool,
}

impl<'a> Scanner<'a> {
    fn check(input: &'a [u8]) -> Scanner<'a> {
        Scanner {
            input,
            source: None,
            position: 0,
            elements: 0,
            blank_line: false,
        }
    }

    fn build(source: &'a Bytes) -> Scanner<'a> {
        Scanner {
            source: Some(source),
            ..Scanner::check(source)
        }
    }

    fn frame(&mut self, depth: usize) -> Step<Frame> {
        let Some(&type_byte) = self.input.get(self.position) else {
            return Ok(None);
        };
        match type_byte {
            b'+' => {
                let text = complete!(self.text_line());
                Ok(Some(Frame::Simple(text)))
            }
            b'-' => {
                let text = complete!(self.text_line());
                Ok(Some(Frame::Error(text)))
            }
            b':' => {
                self.advance_type_byte()?;
                let value = complete!(self.number_line(ProtocolError::IntegerInvalid));
                Ok(Some(Frame::Integer(value)))
            }
            b'$' => self.bulk(),
            b'*' => self.array(depth),
            _ if depth == 0 => self.inline(),
            byte => Err(ProtocolError::TypeUnknown { byte }),
        }
    }

    fn bulk(&mut self) -> Step<Frame> {
        self.advance_type_byte()?;
        let length = complete!(self.number_line(ProtocolError::BulkLengthInvalid));
        if length == -1 {
            return Ok(Some(Frame::Null));
        }
        let size_bytes = u64::try_from(length).map_err(|_| ProtocolError::BulkLengthInvalid)?;
        if size_bytes > BULK_SIZE_MAX_BYTES as u64 {
            return Err(ProtocolError::BulkTooLarge { size_bytes });
        }
        let start = self.position;
        let end = start + size_bytes as usize;
        if end + 2 > REQUEST_SIZE_MAX_BYTES {
            return Err(ProtocolError::RequestTooLarge);
        }
        if self.input.len() < end + 2 {
            return Ok(None);
        }
        if &self.input[end..end + 2] != b"\r\n" {
            return Err(ProtocolError::BulkTerminatorMissing);
        }
        self.position = end + 2;
        Ok(Some(match self.source {
            Some(source) => Frame::Bulk(source.slice(start..end)),
            None => Frame::Null,
        }))
    }

    fn array(&mut self, depth: usize) -> Step<Frame> {
        self.advance_type_byte()?;
        let length = complete!(self.number_line(ProtocolError::ArrayLengthInvalid));
        if length == -1 {
            return Ok(Some(Frame::NullArray));
        }
        let count = usize::try_from(length).map_err(|_| ProtocolError::ArrayLengthInvalid)?;
        if depth + 1 > NESTING_DEPTH_MAX {
            return Err(ProtocolError::NestingTooDeep);
        }
        self.count_elements(count)?;
        // Bounded by the check above, and only allocated when building.
        let mut elements = Vec::with_capacity(if self.source.is_some() { count } else { 0 });
        for _ in 0..count {
            let element = complete!(self.frame(depth + 1));
            if self.source.is_some() {
                elements.push(element);
            }
        }
        Ok(Some(Frame::Array(elements)))
    }

    fn inline(&mut self) -> Step<Frame> {
        let Some(line) = self.find_line(INLINE_SIZE_MAX_BYTES, ProtocolError::LineTooLong)? else {
            return Ok(None);
        };
        // A bare `\n` ends an inline line (telnet sends it); a `\r` before it
        // is whitespace like any other and disappears in the split.
        let content = &self.input[line.start..line.end - 1];
        let words = || {
            content
                .split(u8::is_ascii_whitespace)
                .filter(|word| !word.is_empty())
        };
        let count = words().count();
        self.count_elements(count)?;
        let frame = match self.source {
            Some(source) => Frame::Array(
                words()
                    .map(|word| Frame::Bulk(source.slice_ref(word)))
                    .collect(),
            ),
            None => Frame::NullArray,
        };
        self.blank_line = count == 0;
        self.position = line.end;
        Ok(Some(frame))
    }

    /// A simple string or error line, after its type byte.
    fn text_line(&mut self) -> Step<String> {
        self.advance_type_byte()?;
        let content = complete!(self.crlf_line(INLINE_SIZE_MAX_BYTES, ProtocolError::LineTooLong));
        let text =
            std::str::from_utf8(&self.input[content]).map_err(|_| ProtocolError::TextInvalid)?;
        Ok(Some(match self.source {
            Some(_) => text.to_owned(),
            None => String::new(),
        }))
    }

    /// An integer or length line. It is short, so a line that has no ending
    /// within [`NUMBER_LINE_SIZE_MAX_BYTES`] is refused at once as `invalid`.
    fn number_line(&mut self, invalid: ProtocolError) -> Step<i64> {
        let content = complete!(self.crlf_line(NUMBER_LINE_SIZE_MAX_BYTES, invalid.clone()));
        parse_decimal(&self.input[content]).map(Some).ok_or(invalid)
    }

    /// A line that must end with `\r\n`; returns its contents.
    fn crlf_line(
        &mut self,
        content_size_max_bytes: usize,
        too_long: ProtocolError,
    ) -> Step<Range<usize>> {
        let line = complete!(self.find_line(content_size_max_bytes, too_long));
        let content_end = line.end - 1;
        if content_end == line.start || self.input[content_end - 1] != b'\r' {
            return Err(ProtocolError::LineEndingInvalid);
        }
        self.position = line.end;
        Ok(Some(line.start..content_end - 1))
    }

    /// Finds the next `\n` from the current position, allowing
    /// `content_size_max_bytes` bytes before a two-byte line ending. Returns
    /// the line including its `\n`, without consuming it.
    fn find_line(
        &self,
        content_size_max_bytes: usize,
        too_long: ProtocolError,
    ) -> Step<Range<usize>> {
        let start = self.position;
        let line_end_max = start + content_size_max_bytes + 2;
        let (search_end, limit_error) = if line_end_max <= REQUEST_SIZE_MAX_BYTES {
            (line_end_max, too_long)
        } else {
            (REQUEST_SIZE_MAX_BYTES, ProtocolError::RequestTooLarge)
        };
        let window = &self.input[start..self.input.len().min(search_end)];
        match window.iter().position(|&byte| byte == b'\n') {
            Some(offset) => Ok(Some(start..start + offset + 1)),
            None if self.input.len() >= search_end => Err(limit_error),
            None => Ok(None),
        }
    }

    fn advance_type_byte(&mut self) -> Result<(), ProtocolError> {
        if self.position + 1 > REQUEST_SIZE_MAX_BYTES {
            return Err(ProtocolError::RequestTooLarge);
        }
        self.position += 1;
        Ok(())
    }

    fn count_elements(&mut self, count: usize) -> Result<(), ProtocolError> {
        let total = self.elements as u64 + count as u64;
        if total > ARRAY_ELEMENTS_MAX as u64 {
            return Err(ProtocolError::ArrayTooLarge { count: total });
        }
        self.elements = total as usize;
        Ok(())
    }
}

/// Parses a decimal `i64` strictly: an optional `-`, then at least one
/// digit, nothing else, no overflow.
pub(crate) fn parse_decimal(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate on the negative side, which reaches i64::MIN.
    let mut value: i64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_sub(i64::from(byte - b'0'))?;
    }
    if negative {
        Some(value)
    } else {
        value.checked_neg()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> (Result<Vec<Frame>, ProtocolError>, usize) {
        let mut buffer = BytesMut::from(input);
        let mut frames = Vec::new();
        loop {
            match parse_frame(&mut buffer) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => return (Ok(frames), buffer.len()),
                Err(error) => return (Err(error), buffer.len()),
            }
        }
    }

    fn parse_one(input: &[u8]) -> Result<Option<Frame>, ProtocolError> {
        parse_frame(&mut BytesMut::from(input))
    }

    fn bulk(text: &'static str) -> Frame {
        Frame::Bulk(Bytes::from_static(text.as_bytes()))
    }

    #[test]
    fn every_kind_parses() {
        let cases: [(&[u8], Frame); 9] = [
            (b"+OK\r\n", Frame::Simple("OK".into())),
            (b"-ERR no\r\n", Frame::Error("ERR no".into())),
            (b":-9223372036854775808\r\n", Frame::Integer(i64::MIN)),
            (b":9223372036854775807\r\n", Frame::Integer(i64::MAX)),
            (b"$5\r\na\r\nbc\r\n", bulk("a\r\nbc")),
            (b"$0\r\n\r\n", bulk("")),
            (b"$-1\r\n", Frame::Null),
            (b"*-1\r\n", Frame::NullArray),
            (
                b"*2\r\n$3\r\nGET\r\n*1\r\n:1\r\n",
                Frame::Array(vec![bulk("GET"), Frame::Array(vec![Frame::Integer(1)])]),
            ),
        ];
        for (input, expected) in cases {
            let (frames, left) = parse_all(input);
            assert_eq!(frames, Ok(vec![expected]), "{input:?}");
            assert_eq!(left, 0);
        }
    }

    #[test]
    fn every_proper_prefix_is_incomplete_and_consumes_nothing() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n:12\r\n";
        for end in 0..input.len() {
            let mut buffer = BytesMut::from(&input[..end]);
            assert_eq!(parse_frame(&mut buffer), Ok(None), "prefix of {end} bytes");
            assert_eq!(buffer.len(), end);
        }
    }

    #[test]
    fn pipelined_frames_come_out_in_order_and_leave_the_tail() {
        let (frames, left) = parse_all(b"+A\r\n:1\r\n$1\r\nx\r\n*1\r\n$3\r\nP");
        assert_eq!(
            frames,
            Ok(vec![
                Frame::Simple("A".into()),
                Frame::Integer(1),
                bulk("x")
            ])
        );
        assert_eq!(left, "*1\r\n$3\r\nP".len());
    }

    #[test]
    fn a_bulk_length_of_two_to_the_forty_is_refused_from_its_header_alone() {
        let mut buffer = BytesMut::from(&b"$1099511627776\r\n"[..]);
        assert_eq!(
            parse_frame(&mut buffer),
            Err(ProtocolError::BulkTooLarge {
                size_bytes: 1 << 40
            })
        );
        assert_eq!(buffer.len(), 16, "an error consumes nothing");
        assert_eq!(
            parse_one(b"*1\r\n$1099511627776\r\n"),
            Err(ProtocolError::BulkTooLarge {
                size_bytes: 1 << 40
            })
        );
    }

    #[test]
    fn a_bulk_string_at_the_limit_parses_and_one_past_it_does_not() {
        let mut input = format!("${BULK_SIZE_MAX_BYTES}\r\n").into_bytes();
        input.resize(input.len() + BULK_SIZE_MAX_BYTES, b'v');
        input.extend_from_slice(b"\r\n");
        let Ok(Some(Frame::Bulk(value))) = parse_one(&input) else {
            panic!("a bulk string at the limit parses");
        };
        assert_eq!(value.len(), BULK_SIZE_MAX_BYTES);
        let over = format!("${}\r\n", BULK_SIZE_MAX_BYTES + 1);
        assert_eq!(
            parse_one(over.as_bytes()),
            Err(ProtocolError::BulkTooLarge {
                size_bytes: BULK_SIZE_MAX_BYTES as u64 + 1
            })
        );
    }

    #[test]
    fn a_frame_over_the_request_limit_is_refused_before_its_data_arrives() {
        let size = BULK_SIZE_MAX_BYTES;
        let mut input = format!("*2\r\n${size}\r\n").into_bytes();
        input.resize(input.len() + size, b'v');
        input.extend_from_slice(format!("\r\n${size}\r\n").as_bytes());
        assert_eq!(parse_one(&input), Err(ProtocolError::RequestTooLarge));
    }

    #[test]
    fn malformed_lengths_are_refused() {
        assert_eq!(parse_one(b"$-2\r\n"), Err(ProtocolError::BulkLengthInvalid));
        assert_eq!(parse_one(b"$1x\r\n"), Err(ProtocolError::BulkLengthInvalid));
        assert_eq!(parse_one(b"$\r\n"), Err(ProtocolError::BulkLengthInvalid));
        assert_eq!(
            parse_one(b"*-2\r\n"),
            Err(ProtocolError::ArrayLengthInvalid)
        );
        assert_eq!(
            parse_one(b"*+1\r\n"),
            Err(ProtocolError::ArrayLengthInvalid)
        );
        assert_eq!(
            parse_one(b":9223372036854775808\r\n"),
            Err(ProtocolError::IntegerInvalid)
        );
        // A length line that cannot end within 20 characters is refused
        // without waiting for its end.
        assert_eq!(
            parse_one(b"$0000000000000000000001"),
            Err(ProtocolError::BulkLengthInvalid)
        );
        assert_eq!(parse_one(b"$000000000000000000001"), Ok(None));
    }

    #[test]
    fn framing_errors_are_refused() {
        assert_eq!(
            parse_one(b"$1\r\nab\r\n"),
            Err(ProtocolError::BulkTerminatorMissing)
        );
        assert_eq!(parse_one(b"+OK\n"), Err(ProtocolError::LineEndingInvalid));
        assert_eq!(parse_one(b":1\n"), Err(ProtocolError::LineEndingInvalid));
        assert_eq!(parse_one(b"+\xff\r\n"), Err(ProtocolError::TextInvalid));
        assert_eq!(
            parse_one(b"*1\r\nPING\r\n"),
            Err(ProtocolError::TypeUnknown { byte: b'P' })
        );
    }

    #[test]
    fn element_count_is_bounded_over_all_nesting_levels() {
        let header = format!("*{}\r\n", ARRAY_ELEMENTS_MAX + 1);
        assert_eq!(
            parse_one(header.as_bytes()),
            Err(ProtocolError::ArrayTooLarge {
                count: ARRAY_ELEMENTS_MAX as u64 + 1
            })
        );
        let half = ARRAY_ELEMENTS_MAX / 2;
        let nested = format!("*2\r\n*{half}\r\n");
        let mut input = nested.into_bytes();
        input.extend(b":1\r\n".repeat(half));
        input.extend(format!("*{half}\r\n").as_bytes());
        // 2 + half + half elements: just over.
        assert_eq!(
            parse_one(&input),
            Err(ProtocolError::ArrayTooLarge {
                count: ARRAY_ELEMENTS_MAX as u64 + 2
            })
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let at_limit = "*1\r\n".repeat(NESTING_DEPTH_MAX) + ":1\r\n";
        assert!(matches!(parse_one(at_limit.as_bytes()), Ok(Some(_))));
        let over = "*1\r\n".repeat(NESTING_DEPTH_MAX + 1);
        assert_eq!(
            parse_one(over.as_bytes()),
            Err(ProtocolError::NestingTooDeep)
        );
    }

    #[test]
    fn inline_commands_split_on_whitespace_and_blank_lines_are_skipped() {
        let (frames, left) = parse_all(b"PING\r\n\r\n\n  \r\nset k \t v\nGET");
        assert_eq!(
            frames,
            Ok(vec![
                Frame::Array(vec![bulk("PING")]),
                Frame::Array(vec![bulk("set"), bulk("k"), bulk("v")]),
            ])
        );
        assert_eq!(left, 3);
    }

    #[test]
    fn inline_commands_are_bounded_in_length_and_words() {
        let long = vec![b'a'; INLINE_SIZE_MAX_BYTES + 2];
        assert_eq!(parse_one(&long), Err(ProtocolError::LineTooLong));
        let at_limit = [vec![b'a'; INLINE_SIZE_MAX_BYTES], b"\r\n".to_vec()].concat();
        assert!(matches!(parse_one(&at_limit), Ok(Some(_))));
        let words = "a ".repeat(ARRAY_ELEMENTS_MAX + 1) + "\n";
        assert_eq!(
            parse_one(words.as_bytes()),
            Err(ProtocolError::ArrayTooLarge {
                count: ARRAY_ELEMENTS_MAX as u64 + 1
            })
        );
    }

    #[test]
    fn simple_strings_are_bounded_in_length() {
        let mut long = b"+".to_vec();
        long.resize(INLINE_SIZE_MAX_BYTES + 3, b'a');
        assert_eq!(parse_one(&long), Err(ProtocolError::LineTooLong));
    }

    #[test]
    fn protocol_error_replies_use_the_redis_prefix() {
        assert_eq!(
            ProtocolError::BulkLengthInvalid.reply(),
            Frame::Error("ERR Protocol error: invalid bulk length".into())
        );
    }

    #[test]
    fn decimals_are_strict() {
        assert_eq!(parse_decimal(b"-0"), Some(0));
        assert_eq!(parse_decimal(b"-"), None);
        assert_eq!(parse_decimal(b"+1"), None);
        assert_eq!(parse_decimal(b" 1"), None);
        assert_eq!(parse_decimal(b"-9223372036854775809"), None);
    }
}
