//! The size limits of the RESP layer, enforced by the parser before it
//! allocates or waits for more bytes.
//!
//! They are derived from the limits of the state machine ([`synod_kv::limits`]):
//! a frame must be able to carry the largest command the store accepts, and a
//! little more, so that a command just over a kv limit still parses and is
//! refused with a precise error that keeps the connection (see the crate doc
//! for the connection-error rule). Anything beyond these limits is a protocol
//! error, which closes the connection: the parser must not buffer or allocate
//! without bound for a peer that declares a huge length.

use synod_kv::{KEYS_PER_COMMAND_MAX, PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES, VALUE_SIZE_MAX_BYTES};

/// Room above the kv limits, so that a key or value a little too large still
/// parses and reaches [`synod_kv::Command::validate`], whose error names the
/// limit and keeps the connection.
pub const LIMIT_SLACK_BYTES: usize = 64 * 1024;

/// The largest bulk string, in bytes. A bulk string carries one key or one
/// value, and a value is the largest thing the store holds.
pub const BULK_SIZE_MAX_BYTES: usize = VALUE_SIZE_MAX_BYTES + LIMIT_SLACK_BYTES;

/// The most elements in one frame, counted over all its nested arrays (and
/// the words of an inline command). The largest command is a tagged `DEL` of
/// [`KEYS_PER_COMMAND_MAX`] keys plus four words; twice that leaves room for
/// a command that names too many keys to be refused by the kv limit rather
/// than by the parser. Counting over all levels bounds the frames one parse
/// allocates, however they are nested.
pub const ARRAY_ELEMENTS_MAX: usize = 2 * KEYS_PER_COMMAND_MAX;

/// The longest line, in bytes, without its line ending: an inline command
/// (`PING\r\n`, typed into telnet), a simple string or an error. Redis uses
/// the same bound for inline commands.
pub const INLINE_SIZE_MAX_BYTES: usize = 64 * 1024;

/// The deepest nesting of arrays. Requests are flat arrays (depth 1) and the
/// deepest reply synod sends (`COMMAND`) has depth 3; the bound keeps the
/// recursive parser's stack small for any input.
pub const NESTING_DEPTH_MAX: usize = 8;

/// The most bytes of framing one element can take outside its contents: the
/// type byte, a length of up to 20 characters (`-9223372036854775808`), the
/// header's line ending and a bulk string's trailing line ending.
pub const ELEMENT_FRAMING_MAX_BYTES: usize = 1 + 20 + 2 + 2;

/// The largest frame, in bytes, request or reply: the most a connection
/// buffers before it has a whole frame. It fits the largest command the store
/// accepts (keys and values up to
/// [`PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES`]), the slack above it for a value and
/// a key, and the framing of [`ARRAY_ELEMENTS_MAX`] elements plus the
/// enclosing array.
pub const REQUEST_SIZE_MAX_BYTES: usize = PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES
    + 2 * LIMIT_SLACK_BYTES
    + (ARRAY_ELEMENTS_MAX + 1) * ELEMENT_FRAMING_MAX_BYTES;

/// The longest client name (`CLIENT SETNAME`), in bytes. A connection keeps
/// its name for its lifetime, so it is bounded like everything else.
pub const CLIENT_NAME_SIZE_MAX_BYTES: usize = 1024;

/// The longest length or integer line, in bytes, without its line ending:
/// `-9223372036854775808`. A longer line is refused as soon as it is seen,
/// without waiting for a line ending.
pub(crate) const NUMBER_LINE_SIZE_MAX_BYTES: usize = 20;
