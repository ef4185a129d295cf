//! The size limits of commands and responses, enforced in one place.
//!
//! A command is a replicated log entry: every replica stores it, sends it and
//! applies it, so its size must be bounded before it is proposed. The server
//! checks client input against these constants (see
//! [`Command::validate`](crate::Command::validate)) and answers with an error
//! instead of proposing; the decoder enforces them again so that a corrupted or
//! hostile log entry cannot make a replica allocate without bound.

use thiserror::Error;

/// The largest key, in bytes. Keys are compared and copied on every access and
/// live in memory on every replica; 64 KiB is far above any sane key yet keeps
/// a multi-key command small.
pub const KEY_SIZE_MAX_BYTES: usize = 64 * 1024;

/// The largest value, in bytes. One value travels in one log entry, so this
/// bounds the size of a slot that Paxos must replicate and persist.
pub const VALUE_SIZE_MAX_BYTES: usize = 1024 * 1024;

/// The most keys one multi-key command (`DEL`, `EXISTS`) may name. It bounds
/// the work one log entry makes every replica do.
pub const KEYS_PER_COMMAND_MAX: usize = 1024;

/// The most key and value bytes one command may carry in total. A `SET` of the
/// largest key and value reaches it exactly; multi-key commands must fit in it
/// too, so that `KEYS_PER_COMMAND_MAX` large keys cannot make a 64 MiB entry.
pub const PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES: usize = KEY_SIZE_MAX_BYTES + VALUE_SIZE_MAX_BYTES;

use synod_codec::{DecodeError, VARINT_SIZE_MAX_BYTES};

/// The most bytes that a command's encoding spends outside its keys and
/// values: the format version, the flags, session id and sequence, the user
/// id, the operation code, the set condition, the key count, and one length prefix per
/// key or value.
pub const COMMAND_OVERHEAD_MAX_BYTES: usize = 1
    + 1
    + 3 * VARINT_SIZE_MAX_BYTES
    + 1
    + 1
    + VARINT_SIZE_MAX_BYTES
    + VARINT_SIZE_MAX_BYTES * (KEYS_PER_COMMAND_MAX + 1);

/// The largest encoded command, in bytes: the bound on one replicated log
/// entry's payload. The storage layer and the peer transport may size buffers
/// by it.
pub const COMMAND_SIZE_MAX_BYTES: usize =
    PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES + COMMAND_OVERHEAD_MAX_BYTES;

/// The largest encoded response, in bytes: a found value of the largest size
/// plus the format version, the response code, the presence flag and the
/// length prefix.
pub const RESPONSE_SIZE_MAX_BYTES: usize = VALUE_SIZE_MAX_BYTES + 3 + VARINT_SIZE_MAX_BYTES;

/// A command that breaks one of the limits above. The server turns it into an
/// error reply to the client; it is never proposed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LimitError {
    /// A key is longer than [`KEY_SIZE_MAX_BYTES`].
    #[error("key of {size_bytes} bytes exceeds the limit of {KEY_SIZE_MAX_BYTES} bytes")]
    KeyTooLarge {
        /// The size of the offending key.
        size_bytes: usize,
    },
    /// A value is longer than [`VALUE_SIZE_MAX_BYTES`].
    #[error("value of {size_bytes} bytes exceeds the limit of {VALUE_SIZE_MAX_BYTES} bytes")]
    ValueTooLarge {
        /// The size of the offending value.
        size_bytes: usize,
    },
    /// A multi-key command names no key: `DEL` and `EXISTS` need at least one.
    #[error("a multi-key command needs at least one key")]
    KeysEmpty,
    /// A multi-key command names more than [`KEYS_PER_COMMAND_MAX`] keys.
    #[error("{count} keys exceed the limit of {KEYS_PER_COMMAND_MAX} keys per command")]
    KeysTooMany {
        /// How many keys the command named.
        count: usize,
    },
    /// An `Expire` that names no time (clear or keep).
    #[error("an expire names no time")]
    ExpiryWithoutTime,
    /// A clock reading beyond the signed 64-bit milliseconds Redis allows.
    #[error("a clock reading is out of range")]
    TimeOutOfRange,
    /// A transaction queues more than [`KEYS_PER_COMMAND_MAX`] operations or
    /// watches as many keys, or encodes beyond
    /// [`COMMAND_SIZE_MAX_BYTES`].
    #[error("the transaction is too large for one log entry")]
    TransactionTooLarge,
    /// A transaction queues something that cannot be part of one (a
    /// session registration, a clock advance, a version read, a
    /// transaction).
    #[error("the operation cannot be part of a transaction")]
    NotAllowedInTransaction,
    /// A user operation that breaks a limit of [`crate::access`].
    #[error("{reason}")]
    AccessInvalid {
        /// Which limit, in words.
        reason: &'static str,
    },
    /// `SetMany` with the `if present` condition, which no command asks for.
    #[error("a multi-key set takes no 'if present' condition")]
    ConditionUnsupported,
    /// The keys and values together exceed
    /// [`PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES`].
    #[error(
        "{size_bytes} bytes of keys and values exceed the limit of \
         {PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES} bytes per command"
    )]
    PayloadTooLarge {
        /// The total size of the keys and values.
        size_bytes: usize,
    },
}

impl From<LimitError> for DecodeError {
    /// A decoded command or response that breaks a limit: a corrupted or
    /// hostile entry, refused before anything is sized by it.
    fn from(error: LimitError) -> DecodeError {
        DecodeError::LimitExceeded {
            field: "command",
            reason: error.to_string(),
        }
    }
}

/// Checks one key against [`KEY_SIZE_MAX_BYTES`].
pub(crate) fn check_key(key: &[u8]) -> Result<(), LimitError> {
    if key.len() > KEY_SIZE_MAX_BYTES {
        return Err(LimitError::KeyTooLarge {
            size_bytes: key.len(),
        });
    }
    Ok(())
}

/// Checks one value against [`VALUE_SIZE_MAX_BYTES`].
pub(crate) fn check_value(value: &[u8]) -> Result<(), LimitError> {
    if value.len() > VALUE_SIZE_MAX_BYTES {
        return Err(LimitError::ValueTooLarge {
            size_bytes: value.len(),
        });
    }
    Ok(())
}

/// Checks the number of keys of a multi-key command.
pub(crate) fn check_key_count(count: usize) -> Result<(), LimitError> {
    if count == 0 {
        return Err(LimitError::KeysEmpty);
    }
    if count > KEYS_PER_COMMAND_MAX {
        return Err(LimitError::KeysTooMany { count });
    }
    Ok(())
}

/// Checks the total of key and value bytes of one command.
pub(crate) fn check_payload(size_bytes: usize) -> Result<(), LimitError> {
    if size_bytes > PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES {
        return Err(LimitError::PayloadTooLarge { size_bytes });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_accept_the_boundary_and_reject_one_past_it() {
        assert_eq!(check_key(&vec![0; KEY_SIZE_MAX_BYTES]), Ok(()));
        assert_eq!(
            check_key(&vec![0; KEY_SIZE_MAX_BYTES + 1]),
            Err(LimitError::KeyTooLarge {
                size_bytes: KEY_SIZE_MAX_BYTES + 1
            })
        );
        assert_eq!(check_value(&vec![0; VALUE_SIZE_MAX_BYTES]), Ok(()));
        assert!(check_value(&vec![0; VALUE_SIZE_MAX_BYTES + 1]).is_err());
        assert_eq!(check_key_count(0), Err(LimitError::KeysEmpty));
        assert_eq!(check_key_count(KEYS_PER_COMMAND_MAX), Ok(()));
        assert!(check_key_count(KEYS_PER_COMMAND_MAX + 1).is_err());
        assert_eq!(check_payload(PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES), Ok(()));
        assert!(check_payload(PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES + 1).is_err());
    }
}
