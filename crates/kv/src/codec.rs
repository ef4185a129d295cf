//! The primitives of this crate's binary encodings: a writer and a reader of
//! bytes, variable-length integers and length-prefixed byte strings.
//!
//! Integers are unsigned LEB128 (seven bits per byte, low bits first), so the
//! small numbers that dominate — lengths, sequence numbers, operation codes —
//! take one or two bytes. The reader accepts only the canonical (shortest)
//! form of each integer, so every value has exactly one encoding and decoding
//! then re-encoding gives back the same bytes. The reader never panics and
//! never allocates: it only hands out slices of its input.

use thiserror::Error;

use crate::limits::{LimitError, VARINT_SIZE_MAX_BYTES};

/// Why a byte string is not a valid encoding of a command or a response.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended in the middle of a field.
    #[error("input ends in the middle of a field")]
    Truncated,
    /// Bytes follow a complete encoding. They are rejected rather than ignored
    /// so that one value has one encoding and corruption is not hidden.
    #[error("{count} bytes follow a complete encoding")]
    TrailingBytes {
        /// How many bytes follow.
        count: usize,
    },
    /// The format version byte names a version this build does not know.
    #[error("format version {version} is not supported")]
    VersionUnsupported {
        /// The version found.
        version: u8,
    },
    /// A variable-length integer is longer than its shortest form or does not
    /// fit in 64 bits.
    #[error("variable-length integer is overlong or overflows 64 bits")]
    IntegerInvalid,
    /// A one-byte tag (operation code, condition, flag, response code) has a
    /// value with no meaning.
    #[error("{field} has the unknown tag {tag}")]
    TagUnknown {
        /// Which field held the tag.
        field: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A field breaks one of the size limits of [`crate::limits`].
    #[error(transparent)]
    Limit(#[from] LimitError),
}

/// Appends the fields of an encoding to a growing buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buffer: Vec<u8>,
}

impl Writer {
    /// A writer whose buffer starts with room for `capacity_bytes`, so that an
    /// encoding whose size is known up front is written without reallocation.
    pub(crate) fn with_capacity(capacity_bytes: usize) -> Writer {
        Writer {
            buffer: Vec::with_capacity(capacity_bytes),
        }
    }

    pub(crate) fn put_u8(&mut self, byte: u8) {
        self.buffer.push(byte);
    }

    pub(crate) fn put_bool(&mut self, flag: bool) {
        self.put_u8(u8::from(flag));
    }

    pub(crate) fn put_u64(&mut self, mut value: u64) {
        let length_before = self.buffer.len();
        loop {
            let low_bits = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.buffer.push(low_bits);
                break;
            }
            self.buffer.push(low_bits | 0x80);
        }
        debug_assert!(self.buffer.len() - length_before <= VARINT_SIZE_MAX_BYTES);
    }

    pub(crate) fn put_length(&mut self, length: usize) {
        self.put_u64(u64::try_from(length).expect("a length always fits in 64 bits"));
    }

    /// Appends a byte string preceded by its length.
    pub(crate) fn put_bytes(&mut self, bytes: &[u8]) {
        self.put_length(bytes.len());
        self.buffer.extend_from_slice(bytes);
    }

    /// Appends bytes with no length prefix, for fixed-size fields.
    pub(crate) fn put_raw(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    pub(crate) fn len(&self) -> usize {
        self.buffer.len()
    }

    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.buffer
    }
}

/// The size of [`Writer::put_u64`]'s output for `value`, used to size buffers
/// exactly.
pub(crate) fn u64_size_bytes(value: u64) -> usize {
    let significant_bits = 64 - value.leading_zeros() as usize;
    significant_bits.div_ceil(7).max(1)
}

/// The size of [`Writer::put_bytes`]'s output for a byte string of `length`.
pub(crate) fn bytes_size_bytes(length: usize) -> usize {
    u64_size_bytes(length as u64) + length
}

/// Takes the fields of an encoding from the front of a byte slice.
#[derive(Debug)]
pub(crate) struct Reader<'input> {
    remaining: &'input [u8],
}

impl<'input> Reader<'input> {
    pub(crate) fn new(input: &'input [u8]) -> Reader<'input> {
        Reader { remaining: input }
    }

    pub(crate) fn take_u8(&mut self) -> Result<u8, DecodeError> {
        let (&first, rest) = self.remaining.split_first().ok_or(DecodeError::Truncated)?;
        self.remaining = rest;
        Ok(first)
    }

    pub(crate) fn take_bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.take_u8()? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::TagUnknown { field, tag }),
        }
    }

    pub(crate) fn take_u64(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for index in 0..VARINT_SIZE_MAX_BYTES {
            let byte = self.take_u8()?;
            let low_bits = u64::from(byte & 0x7f);
            let shift = 7 * index as u32;
            // The tenth byte may carry only the single top bit of a u64.
            if index == VARINT_SIZE_MAX_BYTES - 1 && byte > 1 {
                return Err(DecodeError::IntegerInvalid);
            }
            value |= low_bits << shift;
            if byte & 0x80 == 0 {
                // A final zero byte after the first adds nothing: an overlong
                // form that would give one value two encodings.
                if byte == 0 && index > 0 {
                    return Err(DecodeError::IntegerInvalid);
                }
                return Ok(value);
            }
        }
        Err(DecodeError::IntegerInvalid)
    }

    /// Takes a length; a length that does not fit in memory cannot be
    /// followed by that many input bytes, so it reads as truncated input.
    pub(crate) fn take_length(&mut self) -> Result<usize, DecodeError> {
        usize::try_from(self.take_u64()?).map_err(|_| DecodeError::Truncated)
    }

    /// Takes a length-prefixed byte string.
    pub(crate) fn take_bytes(&mut self) -> Result<&'input [u8], DecodeError> {
        let length = self.take_length()?;
        self.take_raw(length)
    }

    /// Takes exactly `length` bytes with no prefix.
    pub(crate) fn take_raw(&mut self, length: usize) -> Result<&'input [u8], DecodeError> {
        if length > self.remaining.len() {
            return Err(DecodeError::Truncated);
        }
        let (taken, rest) = self.remaining.split_at(length);
        self.remaining = rest;
        Ok(taken)
    }

    /// Ends decoding: the whole input must have been consumed.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.remaining.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes {
                count: self.remaining.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_u64(value: u64) -> Vec<u8> {
        let mut writer = Writer::default();
        writer.put_u64(value);
        writer.into_vec()
    }

    #[test]
    fn integers_round_trip_with_their_predicted_size() {
        for value in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let encoded = encode_u64(value);
            assert_eq!(encoded.len(), u64_size_bytes(value), "value {value}");
            let mut reader = Reader::new(&encoded);
            assert_eq!(reader.take_u64(), Ok(value));
            assert_eq!(reader.finish(), Ok(()));
        }
        assert_eq!(encode_u64(u64::MAX).len(), VARINT_SIZE_MAX_BYTES);
    }

    #[test]
    fn integers_reject_overlong_and_overflowing_forms() {
        // 0 written as two bytes.
        assert_eq!(
            Reader::new(&[0x80, 0x00]).take_u64(),
            Err(DecodeError::IntegerInvalid)
        );
        // 2^64 needs a tenth byte of 2.
        let mut overflowing = vec![0xff; 9];
        overflowing.push(0x02);
        assert_eq!(
            Reader::new(&overflowing).take_u64(),
            Err(DecodeError::IntegerInvalid)
        );
        // Eleven continuation bytes.
        assert_eq!(
            Reader::new(&[0xff; 11]).take_u64(),
            Err(DecodeError::IntegerInvalid)
        );
        assert_eq!(Reader::new(&[0x80]).take_u64(), Err(DecodeError::Truncated));
    }

    #[test]
    fn byte_strings_reject_lengths_past_the_input() {
        let mut writer = Writer::default();
        writer.put_bytes(b"abc");
        let encoded = writer.into_vec();
        assert_eq!(encoded.len(), bytes_size_bytes(3));
        assert_eq!(Reader::new(&encoded).take_bytes(), Ok(&b"abc"[..]));
        assert_eq!(
            Reader::new(&encoded[..3]).take_bytes(),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            Reader::new(&encode_u64(u64::MAX)).take_bytes(),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn finish_rejects_trailing_bytes() {
        let mut reader = Reader::new(&[1, 2, 3]);
        assert_eq!(reader.take_u8(), Ok(1));
        assert_eq!(
            reader.finish(),
            Err(DecodeError::TrailingBytes { count: 2 })
        );
    }

    #[test]
    fn booleans_accept_only_zero_and_one() {
        assert_eq!(Reader::new(&[0]).take_bool("flag"), Ok(false));
        assert_eq!(Reader::new(&[1]).take_bool("flag"), Ok(true));
        assert_eq!(
            Reader::new(&[2]).take_bool("flag"),
            Err(DecodeError::TagUnknown {
                field: "flag",
                tag: 2
            })
        );
    }
}
