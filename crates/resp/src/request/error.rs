//! Errors in a well-formed frame: the request is refused, the connection
//! stays open.

use synod_kv::LimitError;
use thiserror::Error;

use crate::frame::Frame;
use crate::limits::CLIENT_NAME_SIZE_MAX_BYTES;
use crate::reply::error_code;

/// The longest piece of client input an error message repeats, in bytes, so
/// that a huge unknown command name does not make a huge reply (Redis's
/// bound too).
const ECHOED_INPUT_SIZE_MAX_BYTES: usize = 128;

/// A request that is valid RESP but not a valid command: unknown, wrong
/// arity, bad option, or over a kv limit. The frame was read whole, so the
/// stream is still in step: the server answers [`CommandError::reply`] and
/// reads the next request.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// An empty array, or an inline line of whitespace that was not skipped.
    #[error("empty command")]
    Empty,
    /// The frame is not an array of bulk strings (for example a bare integer,
    /// or an array holding a nested array).
    #[error("a request must be an array of bulk strings")]
    NotBulkStrings,
    /// No command has this name. The words are Redis 7's, arguments
    /// included, so that clients and tests that match them still do.
    #[error("unknown command '{command}', with args beginning with: {arguments}")]
    CommandUnknown {
        /// The name as sent, shortened and made printable.
        command: String,
        /// The first arguments, each quoted and followed by a space, as
        /// Redis shows them (see [`echoed_arguments`]).
        arguments: String,
    },
    /// The command has no such subcommand.
    #[error("unknown subcommand '{subcommand}' of '{command}'")]
    SubcommandUnknown {
        /// The command, lowercase.
        command: &'static str,
        /// The subcommand as sent, shortened and made printable.
        subcommand: String,
    },
    /// Too few or too many arguments.
    #[error("wrong number of arguments for '{command}' command")]
    Arity {
        /// The command, lowercase (as Redis names it in this message).
        command: &'static str,
    },
    /// An option is unknown or contradicts another (`SET k v NX XX`).
    #[error("syntax error")]
    Syntax,
    /// An expiry time that is not positive where it must be, or whose
    /// milliseconds overflow.
    #[error("invalid expire time in '{command}' command")]
    InvalidExpireTime {
        /// The command, lowercase.
        command: &'static str,
    },
    /// An `EXPIRE` option other than NX, XX, GT and LT.
    #[error("Unsupported option {option}")]
    OptionUnknown {
        /// The option as sent, shortened and made printable.
        option: String,
    },
    /// `EXPIRE … NX` with XX, GT or LT.
    #[error("NX and XX, GT or LT options at the same time are not compatible")]
    ExpireNxIncompatible,
    /// `EXPIRE … GT LT`.
    #[error("GT and LT options at the same time are not compatible")]
    ExpireGtLtIncompatible,
    /// An option synod does not implement (`SET … GET`, `HELLO … AUTH`).
    #[error("{option} is not supported")]
    OptionUnsupported {
        /// The command and option, uppercase.
        option: &'static str,
    },
    /// An argument that must be an integer is not one, or is out of range.
    #[error("value is not an integer or out of range")]
    NotInteger,
    /// `DECRBY key -9223372036854775808`: its negation is out of range.
    #[error("decrement would overflow")]
    DecrementOverflow,
    /// `INCRBYFLOAT` by something that is not a number.
    #[error("value is not a valid float")]
    NotFloat,
    /// `SCAN` with a cursor that is not an unsigned integer.
    #[error("invalid cursor")]
    CursorInvalid,
    /// `SETRANGE` at a negative offset.
    #[error("offset is out of range")]
    OffsetOutOfRange,
    /// `SETRANGE` past the value limit.
    #[error("string exceeds maximum allowed size (synod's value limit, 1048576 bytes)")]
    StringTooLarge,
    /// `SELECT` of a database other than 0: synod has one keyspace.
    #[error("DB index is out of range")]
    DatabaseOutOfRange,
    /// `HELLO` asks for a protocol version other than 2 or 3. The reply
    /// code is `NOPROTO`, which clients recognise (and fall back on).
    #[error("unsupported protocol version")]
    ProtocolVersionUnsupported,
    /// `HELLO` with a version that is not a number.
    #[error("Protocol version is not an integer or out of range")]
    ProtocolVersionNotInteger,
    /// A `HELLO` option that is unknown or lacks its arguments.
    #[error("Syntax error in HELLO option '{option}'")]
    HelloOption {
        /// The option as sent, shortened and made printable.
        option: String,
    },
    /// A `CLIENT SETNAME` name with spaces, line breaks or non-printable
    /// bytes, which would garble `CLIENT INFO` (Redis refuses them too).
    #[error("Client names cannot contain spaces, newlines or special characters.")]
    ClientNameInvalid,
    /// A `CLIENT SETNAME` name longer than [`CLIENT_NAME_SIZE_MAX_BYTES`].
    #[error("client name exceeds the limit of {CLIENT_NAME_SIZE_MAX_BYTES} bytes")]
    ClientNameTooLong,
    /// `CLIENT SETINFO` of an attribute other than `LIB-NAME` and `LIB-VER`.
    #[error("Unrecognized option '{attribute}'")]
    ClientAttributeUnknown {
        /// The attribute as sent, shortened and made printable.
        attribute: String,
    },
    /// A user name that is empty, too long, or has spaces or unprintable
    /// bytes.
    #[error("{reason}")]
    AclUserName {
        /// Which, in words.
        reason: &'static str,
    },
    /// An `ACL SETUSER` rule synod does not know or take.
    #[error("Error in ACL SETUSER modifier '{rule}': {reason}")]
    AclRule {
        /// The rule as sent, shortened and made printable.
        rule: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// `CONFIG SET` of a parameter other than `requirepass`.
    #[error("Unknown option or number of arguments for CONFIG SET - '{parameter}'")]
    ConfigParameterUnsupported {
        /// The parameter as sent, shortened and made printable.
        parameter: String,
    },
    /// The command breaks a limit of the state machine.
    #[error("{0}")]
    Limit(#[from] LimitError),
    /// `SYNOD.TAGGED` with sequence 0, which stands for the registration.
    #[error("sequence 0 stands for the session's registration; the first tagged command carries sequence 1")]
    SequenceZero,
    /// `SYNOD.TAGGED` around something that is not a write. Reads need
    /// no exactly-once tag, and a tag on them would cost a log entry.
    #[error("SYNOD.TAGGED wraps only writes (no reads, no SYNOD commands), not '{command}'")]
    TaggedNotWrite {
        /// The wrapped command, lowercase.
        command: &'static str,
    },
}

impl CommandError {
    /// The error code the reply starts with: `NOPROTO` for an unsupported
    /// protocol version, `ERR` for everything else.
    pub fn code(&self) -> &'static str {
        match self {
            CommandError::ProtocolVersionUnsupported => error_code::NO_PROTOCOL,
            _ => error_code::ERROR,
        }
    }

    /// Whether Redis refuses the command while queuing it in `MULTI` (an
    /// unknown command, a wrong number of arguments), which aborts the
    /// `EXEC`; other errors are found when `EXEC` runs the command.
    pub fn refuses_queuing(&self) -> bool {
        matches!(
            self,
            CommandError::Empty
                | CommandError::NotBulkStrings
                | CommandError::CommandUnknown { .. }
                | CommandError::SubcommandUnknown { .. }
                | CommandError::Arity { .. }
        )
    }

    /// The error reply, `-<code> <message>`, after which the connection
    /// stays open.
    pub fn reply(&self) -> Frame {
        Frame::Error(format!("{} {self}", self.code()))
    }
}

/// The arguments of an unknown command as Redis 7 repeats them: each
/// quoted and followed by a space, until [`ECHOED_INPUT_SIZE_MAX_BYTES`]
/// are shown.
pub(crate) fn echoed_arguments(arguments: &[bytes::Bytes]) -> String {
    let mut shown = String::new();
    for argument in arguments {
        if shown.len() >= ECHOED_INPUT_SIZE_MAX_BYTES {
            break;
        }
        let room = ECHOED_INPUT_SIZE_MAX_BYTES - shown.len();
        let part = &argument[..argument.len().min(room)];
        shown.push('\'');
        shown.push_str(&String::from_utf8_lossy(part));
        shown.push_str("' ");
    }
    shown
}

/// Client input made safe to repeat in an error message: at most
/// [`ECHOED_INPUT_SIZE_MAX_BYTES`] bytes, invalid UTF-8 replaced. (Line
/// breaks are replaced when the reply is encoded.)
pub(crate) fn echoed(input: &[u8]) -> String {
    let shortened = &input[..input.len().min(ECHOED_INPUT_SIZE_MAX_BYTES)];
    String::from_utf8_lossy(shortened).into_owned()
}
