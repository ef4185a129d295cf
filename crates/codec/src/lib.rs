//! synod's one binary codec.
//!
//! Every binary encoding in synod — commands and responses of the state
//! machine, messages between replicas, records and snapshots of the
//! write-ahead log — is written with one [`Writer`] and read with one
//! [`Reader`], and every decoding failure is one [`DecodeError`]. Each type
//! that is encoded implements [`Encode`] and [`Decode`] once, next to its
//! definition, so a ballot or a value has exactly one encoding wherever it
//! travels or is stored.
//!
//! The primitives:
//!
//! * integers are unsigned LEB128 (seven bits per byte, low bits first), so
//!   the small numbers that dominate — lengths, slots, rounds — take one or
//!   two bytes. The reader accepts only the shortest form, so one value has
//!   one encoding and decoding then re-encoding gives back the same bytes;
//! * byte strings and lists carry their length first, as an integer;
//! * fixed-width little-endian integers exist for headers whose layout must
//!   not depend on the values (handshakes, checksummed frames) and for
//!   reading the storage format of earlier builds.
//!
//! The reader never panics and never allocates: it hands out slices of its
//! input, or, when reading from a [`Bytes`] with [`Reader::shared`], cheap
//! [`Bytes`] views of it. A length is checked against the bytes that remain
//! before anything is sized by it, so a lying length costs nothing.
//!
//! The encoding is written by hand, rather than with a serialization crate,
//! because it is part of the on-disk and on-wire formats: it must never
//! change under us with a dependency's version.
//!
//! ```
//! use synod_codec::{DecodeError, Reader, Writer};
//!
//! let mut writer = Writer::new();
//! writer.put_u64(300);
//! writer.put_bytes(b"key");
//! let bytes = writer.into_bytes();
//! assert_eq!(bytes.as_ref(), &[0xac, 0x02, 3, b'k', b'e', b'y']);
//!
//! let mut reader = Reader::new(&bytes);
//! assert_eq!(reader.take_u64(), Ok(300));
//! assert_eq!(reader.take_bytes(), Ok(&b"key"[..]));
//! reader.finish()?;
//! assert_eq!(Reader::new(&[0x80, 0x00]).take_u64(), Err(DecodeError::IntegerInvalid));
//! # Ok::<(), DecodeError>(())
//! ```
#![deny(missing_docs)]

mod error;
mod reader;
mod writer;

pub use error::DecodeError;
pub use reader::Reader;
pub use writer::Writer;

use bytes::Bytes;

/// The most bytes of a LEB128-encoded `u64`.
pub const VARINT_SIZE_MAX_BYTES: usize = 10;

/// The most elements any list may claim. Far above what any encoder in
/// synod writes (a batch holds at most a few thousand commands, a message a
/// few hundred slots), it keeps input full of empty elements from
/// inflating in memory: a decoded element is larger than its encoding.
pub const LIST_ELEMENTS_MAX: usize = 1 << 22;

/// A type with one binary encoding.
pub trait Encode {
    /// Appends the encoding of `self`.
    fn encode(&self, writer: &mut Writer);
}

/// A type that can be read back from its [`Encode`] encoding.
pub trait Decode: Sized {
    /// Takes one value from the front of `reader`, leaving what follows.
    ///
    /// # Errors
    ///
    /// Why the bytes are not an encoding of this type.
    fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError>;
}

/// The encoding of `value` alone.
pub fn encode_to_bytes<T: Encode + ?Sized>(value: &T) -> Bytes {
    let mut writer = Writer::new();
    value.encode(&mut writer);
    writer.into_bytes()
}

/// Decodes exactly one `T` from `bytes`: trailing bytes are an error.
/// Byte strings inside are views of `bytes`, not copies.
///
/// # Errors
///
/// Why `bytes` are not one encoding of `T`.
pub fn decode_exactly<T: Decode>(bytes: &Bytes) -> Result<T, DecodeError> {
    let mut reader = Reader::shared(bytes);
    let value = T::decode(&mut reader)?;
    reader.finish()?;
    Ok(value)
}

/// The size of [`Writer::put_u64`]'s output for `value`, to size buffers
/// exactly.
pub fn u64_size_bytes(value: u64) -> usize {
    let significant_bits = 64 - value.leading_zeros() as usize;
    significant_bits.div_ceil(7).max(1)
}

/// The size of [`Writer::put_bytes`]'s output for a byte string of `length`.
pub fn bytes_size_bytes(length: usize) -> usize {
    u64_size_bytes(length as u64) + length
}

impl Encode for u64 {
    fn encode(&self, writer: &mut Writer) {
        writer.put_u64(*self);
    }
}

impl Decode for u64 {
    fn decode(reader: &mut Reader<'_>) -> Result<u64, DecodeError> {
        reader.take_u64()
    }
}

impl Encode for Bytes {
    fn encode(&self, writer: &mut Writer) {
        writer.put_bytes(self);
    }
}

impl Decode for Bytes {
    fn decode(reader: &mut Reader<'_>) -> Result<Bytes, DecodeError> {
        reader.take_shared_bytes()
    }
}

impl<T: Encode> Encode for [T] {
    fn encode(&self, writer: &mut Writer) {
        writer.put_length(self.len());
        for element in self {
            element.encode(writer);
        }
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, writer: &mut Writer) {
        self.as_slice().encode(writer);
    }
}

impl<T: Decode> Decode for Vec<T> {
    /// A list: its length, then its elements.
    fn decode(reader: &mut Reader<'_>) -> Result<Vec<T>, DecodeError> {
        decode_list(reader, 1, T::decode)
    }
}

/// Takes a list whose every element takes at least `element_size_min_bytes`
/// of input: the length is checked against [`LIST_ELEMENTS_MAX`] and against
/// what the remaining input can hold before the vector is sized by it.
///
/// # Errors
///
/// [`DecodeError::ListTooLong`], or the first element's error.
pub fn decode_list<T>(
    reader: &mut Reader<'_>,
    element_size_min_bytes: usize,
    mut decode_element: impl FnMut(&mut Reader<'_>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let length = reader.take_list_length(element_size_min_bytes)?;
    let mut elements = Vec::with_capacity(length);
    for _ in 0..length {
        elements.push(decode_element(reader)?);
    }
    Ok(elements)
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, writer: &mut Writer) {
        match self {
            None => writer.put_bool(false),
            Some(value) => {
                writer.put_bool(true);
                value.encode(writer);
            }
        }
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(reader: &mut Reader<'_>) -> Result<Option<T>, DecodeError> {
        if reader.take_bool("presence flag")? {
            Ok(Some(T::decode(reader)?))
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_predicted_exactly() {
        for value in [0, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut writer = Writer::new();
            writer.put_u64(value);
            assert_eq!(writer.len(), u64_size_bytes(value), "{value}");
        }
        assert_eq!(u64_size_bytes(u64::MAX), VARINT_SIZE_MAX_BYTES);
        assert_eq!(bytes_size_bytes(3), 4);
    }

    #[test]
    fn lists_and_options_round_trip() {
        let list: Vec<u64> = vec![1, 300, u64::MAX];
        assert_eq!(
            decode_exactly::<Vec<u64>>(&encode_to_bytes(&list)),
            Ok(list)
        );
        let some = Some(Bytes::from_static(b"x"));
        assert_eq!(decode_exactly(&encode_to_bytes(&some)), Ok(some));
        let none: Option<u64> = None;
        assert_eq!(decode_exactly(&encode_to_bytes(&none)), Ok(none));
    }

    #[test]
    fn a_list_longer_than_its_input_is_refused_before_allocating() {
        let mut writer = Writer::new();
        writer.put_u64(u64::MAX);
        assert_eq!(
            decode_exactly::<Vec<u64>>(&writer.into_bytes()),
            Err(DecodeError::ListTooLong { length: u64::MAX })
        );
    }

    #[test]
    fn decoding_exactly_refuses_trailing_bytes() {
        let bytes = Bytes::from_static(&[1, 2]);
        assert_eq!(
            decode_exactly::<u64>(&bytes),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
    }

    proptest::proptest! {
        #[test]
        fn integers_round_trip(value: u64) {
            let bytes = encode_to_bytes(&value);
            proptest::prop_assert_eq!(decode_exactly::<u64>(&bytes), Ok(value));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let bytes = Bytes::from(bytes);
            let _ = decode_exactly::<Vec<Option<Bytes>>>(&bytes);
        }
    }
}
