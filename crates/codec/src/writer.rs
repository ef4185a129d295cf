//! Appending the fields of an encoding to a growing buffer.

use bytes::{BufMut, Bytes, BytesMut};

use crate::VARINT_SIZE_MAX_BYTES;

/// Appends fields to a buffer. Writing cannot fail: limits are checked
/// before encoding, by whoever accepts the value.
#[derive(Debug, Default)]
pub struct Writer {
    buffer: BytesMut,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Writer {
        Writer::default()
    }

    /// A writer whose buffer starts with room for `capacity_bytes`, so that
    /// an encoding whose size is known up front is written without
    /// reallocation.
    pub fn with_capacity(capacity_bytes: usize) -> Writer {
        Writer {
            buffer: BytesMut::with_capacity(capacity_bytes),
        }
    }

    /// A writer that appends to what `buffer` already holds (frames
    /// encoded in place behind each other).
    pub fn appending_to(buffer: BytesMut) -> Writer {
        Writer { buffer }
    }

    /// One byte.
    pub fn put_u8(&mut self, byte: u8) {
        self.buffer.put_u8(byte);
    }

    /// A flag as one byte, 0 or 1.
    pub fn put_bool(&mut self, flag: bool) {
        self.put_u8(u8::from(flag));
    }

    /// An unsigned LEB128 integer in its shortest form.
    pub fn put_u64(&mut self, mut value: u64) {
        let length_before = self.buffer.len();
        while value >= 0x80 {
            self.buffer.put_u8((value as u8) | 0x80);
            value >>= 7;
        }
        self.buffer.put_u8(value as u8);
        debug_assert!(self.buffer.len() - length_before <= VARINT_SIZE_MAX_BYTES);
    }

    /// A length (of a byte string or a list).
    pub fn put_length(&mut self, length: usize) {
        self.put_u64(u64::try_from(length).expect("a length always fits in 64 bits"));
    }

    /// A byte string preceded by its length.
    pub fn put_bytes(&mut self, bytes: &[u8]) {
        self.put_length(bytes.len());
        self.buffer.put_slice(bytes);
    }

    /// Bytes with no length prefix, for fixed-size fields.
    pub fn put_raw(&mut self, bytes: &[u8]) {
        self.buffer.put_slice(bytes);
    }

    /// A fixed-width little-endian `u16`.
    pub fn put_u16_le(&mut self, value: u16) {
        self.buffer.put_u16_le(value);
    }

    /// A fixed-width little-endian `u32`.
    pub fn put_u32_le(&mut self, value: u32) {
        self.buffer.put_u32_le(value);
    }

    /// A fixed-width little-endian `u64`.
    pub fn put_u64_le(&mut self, value: u64) {
        self.buffer.put_u64_le(value);
    }

    /// Reserves room for `additional_bytes` more.
    pub fn reserve(&mut self, additional_bytes: usize) {
        self.buffer.reserve(additional_bytes);
    }

    /// Bytes in the buffer (including what it held when it was handed in).
    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    /// True when the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// The bytes written so far, for fields that are patched after the fact
    /// (a length or checksum in a header written before its body).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buffer
    }

    /// Drops everything after the first `length` bytes.
    pub fn truncate(&mut self, length: usize) {
        self.buffer.truncate(length);
    }

    /// The buffer, to keep appending to it elsewhere.
    pub fn into_buffer(self) -> BytesMut {
        self.buffer
    }

    /// The encoding, frozen.
    pub fn into_bytes(self) -> Bytes {
        self.buffer.freeze()
    }
}
