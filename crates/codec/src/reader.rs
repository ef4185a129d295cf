//! Taking the fields of an encoding from the front of its bytes.

use bytes::Bytes;

use crate::{DecodeError, LIST_ELEMENTS_MAX, VARINT_SIZE_MAX_BYTES};

/// Takes fields from the front of an input. Never panics and never
/// allocates; every failure is a [`DecodeError`].
#[derive(Debug)]
pub struct Reader<'input> {
    remaining: &'input [u8],
    /// The whole input, when it is a [`Bytes`]: byte strings are then
    /// handed out as views of it instead of copies.
    shared: Option<&'input Bytes>,
}

impl<'input> Reader<'input> {
    /// Reads `input`; [`Reader::take_shared_bytes`] copies.
    pub fn new(input: &'input [u8]) -> Reader<'input> {
        Reader {
            remaining: input,
            shared: None,
        }
    }

    /// Reads `input`; [`Reader::take_shared_bytes`] hands out views of it
    /// (a command decoded from a network frame keeps no copy).
    pub fn shared(input: &'input Bytes) -> Reader<'input> {
        Reader {
            remaining: input,
            shared: Some(input),
        }
    }

    /// Bytes not taken yet.
    pub fn remaining_bytes(&self) -> usize {
        self.remaining.len()
    }

    /// One byte.
    pub fn take_u8(&mut self) -> Result<u8, DecodeError> {
        let (&first, rest) = self.remaining.split_first().ok_or(DecodeError::Truncated)?;
        self.remaining = rest;
        Ok(first)
    }

    /// A flag: 0 or 1, anything else is an unknown tag of `field`.
    pub fn take_bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.take_u8()? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::TagUnknown { field, tag }),
        }
    }

    /// An unsigned LEB128 integer; only its shortest form is accepted.
    pub fn take_u64(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for index in 0..VARINT_SIZE_MAX_BYTES {
            let byte = self.take_u8()?;
            let low_bits = u64::from(byte & 0x7f);
            // The tenth byte may carry only the single top bit of a u64.
            if index == VARINT_SIZE_MAX_BYTES - 1 && byte > 1 {
                return Err(DecodeError::IntegerInvalid);
            }
            value |= low_bits << (7 * index as u32);
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

    /// A length; a length that does not fit in memory cannot be followed by
    /// that many input bytes, so it reads as truncated input.
    pub fn take_length(&mut self) -> Result<usize, DecodeError> {
        usize::try_from(self.take_u64()?).map_err(|_| DecodeError::Truncated)
    }

    /// The length of a list whose every element takes at least
    /// `element_size_min_bytes`: a length above [`LIST_ELEMENTS_MAX`] or than
    /// the remaining input can hold is refused before anything is sized by
    /// it.
    pub fn take_list_length(
        &mut self,
        element_size_min_bytes: usize,
    ) -> Result<usize, DecodeError> {
        let length = self.take_u64()?;
        usize::try_from(length)
            .ok()
            .filter(|length| {
                *length <= LIST_ELEMENTS_MAX
                    && length.saturating_mul(element_size_min_bytes.max(1)) <= self.remaining.len()
            })
            .ok_or(DecodeError::ListTooLong { length })
    }

    /// A length-prefixed byte string, as a slice of the input.
    pub fn take_bytes(&mut self) -> Result<&'input [u8], DecodeError> {
        let length = self.take_length()?;
        self.take_raw(length)
    }

    /// A length-prefixed byte string, as a view of the input when it is
    /// shared (see [`Reader::shared`]) and as a copy otherwise.
    pub fn take_shared_bytes(&mut self) -> Result<Bytes, DecodeError> {
        let slice = self.take_bytes()?;
        Ok(match self.shared {
            Some(whole) => whole.slice_ref(slice),
            None => Bytes::copy_from_slice(slice),
        })
    }

    /// Exactly `length` bytes with no prefix.
    pub fn take_raw(&mut self, length: usize) -> Result<&'input [u8], DecodeError> {
        if length > self.remaining.len() {
            return Err(DecodeError::Truncated);
        }
        let (taken, rest) = self.remaining.split_at(length);
        self.remaining = rest;
        Ok(taken)
    }

    /// Exactly `N` bytes, as an array.
    pub fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take_raw(N)?;
        Ok(bytes.try_into().expect("take_raw returned N bytes"))
    }

    /// A fixed-width little-endian `u16`.
    pub fn take_u16_le(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take_array()?))
    }

    /// A fixed-width little-endian `u32`.
    pub fn take_u32_le(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take_array()?))
    }

    /// A fixed-width little-endian `u64`.
    pub fn take_u64_le(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take_array()?))
    }

    /// A format version byte, which must be `supported`.
    pub fn take_version(&mut self, format: &'static str, supported: u8) -> Result<(), DecodeError> {
        let version = self.take_u8()?;
        if version != supported {
            return Err(DecodeError::VersionUnsupported { format, version });
        }
        Ok(())
    }

    /// Ends decoding: the whole input must have been taken.
    pub fn finish(self) -> Result<(), DecodeError> {
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
    use crate::Writer;

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
        assert_eq!(
            Reader::new(&[0xff; 11]).take_u64(),
            Err(DecodeError::IntegerInvalid)
        );
        assert_eq!(Reader::new(&[0x80]).take_u64(), Err(DecodeError::Truncated));
    }

    #[test]
    fn byte_strings_reject_lengths_past_the_input() {
        let mut writer = Writer::new();
        writer.put_bytes(b"abc");
        let encoded = writer.into_bytes();
        assert_eq!(Reader::new(&encoded).take_bytes(), Ok(&b"abc"[..]));
        assert_eq!(
            Reader::new(&encoded[..3]).take_bytes(),
            Err(DecodeError::Truncated)
        );
        let mut huge = Writer::new();
        huge.put_u64(u64::MAX);
        assert_eq!(
            Reader::new(&huge.into_bytes()).take_bytes(),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn shared_byte_strings_are_views_not_copies() {
        let mut writer = Writer::new();
        writer.put_bytes(b"payload");
        let encoded = writer.into_bytes();
        let taken = Reader::shared(&encoded).take_shared_bytes().unwrap();
        assert_eq!(taken.as_ref(), b"payload");
        assert_eq!(taken.as_ptr(), encoded[1..].as_ptr(), "no copy was made");
    }

    #[test]
    fn fixed_width_integers_are_little_endian() {
        let mut writer = Writer::new();
        writer.put_u16_le(0x0102);
        writer.put_u32_le(0x0304_0506);
        writer.put_u64_le(7);
        let bytes = writer.into_bytes();
        assert_eq!(&bytes[..6], &[2, 1, 6, 5, 4, 3]);
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.take_u16_le(), Ok(0x0102));
        assert_eq!(reader.take_u32_le(), Ok(0x0304_0506));
        assert_eq!(reader.take_u64_le(), Ok(7));
        assert_eq!(reader.take_u8(), Err(DecodeError::Truncated));
    }

    #[test]
    fn flags_and_versions_accept_only_their_values() {
        assert_eq!(Reader::new(&[1]).take_bool("flag"), Ok(true));
        assert_eq!(
            Reader::new(&[2]).take_bool("flag"),
            Err(DecodeError::TagUnknown {
                field: "flag",
                tag: 2
            })
        );
        assert_eq!(
            Reader::new(&[3]).take_version("record", 2),
            Err(DecodeError::VersionUnsupported {
                format: "record",
                version: 3
            })
        );
    }
}
