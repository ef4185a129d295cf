//! The one decode error of every binary encoding in synod.

use thiserror::Error;

/// Why bytes are not a valid encoding. Decoding arbitrary input yields one
/// of these, never a panic.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended in the middle of a field.
    #[error("input ends in the middle of a field")]
    Truncated,
    /// Bytes follow a complete encoding. They are refused rather than
    /// ignored, so that one value has one encoding and damage is not hidden.
    #[error("{count} bytes follow a complete encoding")]
    TrailingBytes {
        /// How many bytes follow.
        count: usize,
    },
    /// A format version byte names a version this build does not read.
    #[error("{format} format version {version} is not supported")]
    VersionUnsupported {
        /// Which format (command, message, record…).
        format: &'static str,
        /// The version found.
        version: u8,
    },
    /// A variable-length integer is longer than its shortest form or does
    /// not fit in 64 bits.
    #[error("variable-length integer is overlong or overflows 64 bits")]
    IntegerInvalid,
    /// A one-byte tag (a kind, a code, a flag) has a value with no meaning.
    #[error("{field} has the unknown tag {tag}")]
    TagUnknown {
        /// Which field held the tag.
        field: &'static str,
        /// The tag found.
        tag: u8,
    },
    /// A list claims more elements than the remaining input could hold.
    #[error("a list claims {length} elements, more than its input can hold")]
    ListTooLong {
        /// The claimed length.
        length: u64,
    },
    /// A field breaks a size or count limit of its format.
    #[error("{field} breaks a limit: {reason}")]
    LimitExceeded {
        /// Which field.
        field: &'static str,
        /// The limit and by how much it was broken.
        reason: String,
    },
    /// The input does not start with the magic bytes of its format: it is
    /// something else altogether.
    #[error("not {format}: the magic bytes do not match")]
    MagicMismatch {
        /// What the input was expected to be.
        format: &'static str,
    },
    /// The fields decode but describe something impossible.
    #[error("{field} is inconsistent: {reason}")]
    Inconsistent {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}
