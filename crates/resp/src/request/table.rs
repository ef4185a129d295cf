//! The command table: every command synod understands, what `COMMAND`
//! reports about it, and the dispatch of a request's words to its parser.

use bytes::Bytes;

use super::error::{self, echoed};
use super::{
    access, connection, expiry, keys, keyspace, server, strings, synod, transactions, Arguments,
    CommandError, Request,
};

/// One command synod understands: what `COMMAND` reports about it, and how
/// to parse its arguments.
pub(crate) struct CommandSpecification {
    /// The name, lowercase, as Redis reports names.
    pub(crate) name: &'static str,
    /// The number of words including the name: exactly this many when
    /// positive, at least its magnitude when negative (the Redis convention).
    pub(crate) arity: i64,
    /// The Redis command flags (`write`, `readonly`, `fast`, …).
    pub(crate) flags: &'static [&'static str],
    /// The position of the first key, 0 for none.
    pub(crate) first_key: i64,
    /// The position of the last key, -1 for "the last argument", 0 for none.
    pub(crate) last_key: i64,
    /// The distance between keys, 0 for none.
    pub(crate) key_step: i64,
    /// Parses the arguments after the name; the arity is already checked.
    parse: fn(&mut Arguments) -> Result<Request, CommandError>,
}

impl CommandSpecification {
    /// A command that names no keys (`PING`, `CLIENT`, …).
    pub(super) const fn without_keys(
        name: &'static str,
        arity: i64,
        flags: &'static [&'static str],
        parse: fn(&mut Arguments) -> Result<Request, CommandError>,
    ) -> CommandSpecification {
        CommandSpecification::with_keys(name, arity, flags, [0, 0, 0], parse)
    }

    /// A command whose keys are at `[first, last, step]` positions.
    pub(super) const fn with_keys(
        name: &'static str,
        arity: i64,
        flags: &'static [&'static str],
        [first_key, last_key, key_step]: [i64; 3],
        parse: fn(&mut Arguments) -> Result<Request, CommandError>,
    ) -> CommandSpecification {
        CommandSpecification {
            name,
            arity,
            flags,
            first_key,
            last_key,
            key_step,
            parse,
        }
    }
}

/// Every command synod understands. `COMMAND` and `COMMAND COUNT` report
/// exactly this table, so what is advertised is what parses.
pub(crate) const COMMANDS: &[CommandSpecification] = &[
    keys::GET,
    keys::SET,
    keys::DEL,
    keys::EXISTS,
    keys::SETNX,
    strings::GETSET,
    strings::GETDEL,
    strings::APPEND,
    strings::DBSIZE,
    strings::MGET,
    strings::SETRANGE,
    keyspace::RENAME,
    keyspace::RENAMENX,
    keyspace::COPY,
    keyspace::FLUSHALL,
    keyspace::FLUSHDB,
    keyspace::KEYS,
    keyspace::SCAN,
    keyspace::RANDOMKEY,
    strings::MSET,
    strings::MSETNX,
    keys::STRLEN,
    keys::GETRANGE,
    keys::TYPE,
    keys::UNLINK,
    keys::TOUCH,
    keys::INCR,
    keys::DECR,
    keys::INCRBY,
    keys::DECRBY,
    keys::INCRBYFLOAT,
    expiry::SETEX,
    expiry::PSETEX,
    expiry::EXPIRE,
    expiry::PEXPIRE,
    expiry::EXPIREAT,
    expiry::PEXPIREAT,
    expiry::TTL,
    expiry::PTTL,
    expiry::EXPIRETIME,
    expiry::PEXPIRETIME,
    expiry::PERSIST,
    expiry::GETEX,
    transactions::MULTI,
    transactions::EXEC,
    transactions::DISCARD,
    transactions::WATCH,
    transactions::UNWATCH,
    connection::PING,
    connection::ECHO,
    connection::QUIT,
    connection::SELECT,
    connection::READONLY,
    connection::READWRITE,
    connection::HELLO,
    connection::CLIENT,
    server::INFO,
    server::COMMAND,
    server::CONFIG,
    access::AUTH,
    access::ACL,
    synod::SESSION,
    synod::TAGGED,
];

/// The request the words name, parsed by its command's entry in
/// [`COMMANDS`] once the arity holds.
pub(super) fn dispatch(words: Vec<Bytes>) -> Result<Request, CommandError> {
    let mut words = words.into_iter();
    let name = words.next().ok_or(CommandError::Empty)?;
    let specification = COMMANDS
        .iter()
        .find(|specification| specification.name.as_bytes().eq_ignore_ascii_case(&name))
        .ok_or_else(|| CommandError::CommandUnknown {
            command: echoed(&name),
            arguments: error::echoed_arguments(words.as_slice()),
        })?;
    let word_count = words.len() as u64 + 1;
    let arity_holds = match u64::try_from(specification.arity) {
        Ok(exact) => word_count == exact,
        Err(_) => word_count >= specification.arity.unsigned_abs(),
    };
    if !arity_holds {
        return Err(CommandError::Arity {
            command: specification.name,
        });
    }
    let mut arguments = Arguments {
        command: specification.name,
        words,
    };
    let request = (specification.parse)(&mut arguments)?;
    arguments.finish()?;
    Ok(request)
}
