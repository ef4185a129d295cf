//! Requests: the commands synod understands, parsed from frames, mapped to
//! state machine commands, and encoded again (for the client library, in
//! [`words`]).
//!
//! Each command is one entry of [`COMMANDS`] ([`table`]): its name, its arity and key
//! positions (which `COMMAND` reports, the Redis way) and its parse
//! function. The parse functions live in one file per family: [`keys`]
//! (`GET`, `SET`, `DEL`, `EXISTS`, the counters), [`strings`] (`GETSET`,
//! `GETDEL`, `APPEND`, `DBSIZE`, `MSET`, `MSETNX`), [`connection`] (`PING`, `ECHO`, `QUIT`,
//! `SELECT`, `HELLO`, `CLIENT`), [`server`] (`INFO`, `COMMAND`),
//! [`expiry`] (`EXPIRE` and its kin, `TTL` and its kin, `PERSIST`, `GETEX`,
//! `SETEX`, `PSETEX`, `SET`'s expiry options), [`transactions`] (`MULTI`,
//! `EXEC`, `DISCARD`, `WATCH`, `UNWATCH`) and [`synod`] (`SYNOD.SESSION`,
//! `SYNOD.TAGGED`).

mod access;
mod connection;
mod error;
mod expiry;
mod keys;
mod keyspace;
mod server;
mod strings;
mod synod;
mod table;
mod transactions;
mod words;

use bytes::Bytes;
use synod_kv::{Command, ExpireCondition, Expiry, Operation, SessionTag, SetCondition};

pub use access::{AclRequest, AclRule, Password};
pub(crate) use error::echoed;
pub use error::CommandError;
pub(crate) use expiry::ttl_reply;
pub use expiry::TtlReport;
use table::dispatch;
pub(crate) use table::{CommandSpecification, COMMANDS};

use crate::frame::{Frame, Protocol};

/// One request of a client, parsed and checked against the kv limits.
///
/// Variants are named after the Redis commands they stand for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Request {
    /// `GET key`: read a value.
    Get {
        /// The key to read.
        key: Bytes,
    },
    /// `SET key value [NX|XX] GET` and `GETSET key value`: store as `SET`
    /// does and answer the value found (nil when there was none).
    Exchange {
        /// The key to write.
        key: Bytes,
        /// The value to store.
        value: Bytes,
        /// When to store.
        condition: SetCondition,
    },
    /// `GETDEL key`: delete the key and answer its value, or nil.
    GetDel {
        /// The key to delete.
        key: Bytes,
    },
    /// `APPEND key value`: append to the value, answered with the new
    /// length.
    Append {
        /// The key to write.
        key: Bytes,
        /// The bytes to append.
        value: Bytes,
    },
    /// `DBSIZE`: the number of keys.
    DbSize,
    /// `SETRANGE key offset value`: overwrite from `offset` on, answered
    /// with the new length.
    SetRange {
        /// The key.
        key: Bytes,
        /// Where to write.
        offset: u64,
        /// What to write.
        value: Bytes,
    },
    /// `RENAME key newkey` (`OK`) and `RENAMENX key newkey` (1 or 0).
    Rename {
        /// The key to move.
        from: Bytes,
        /// Its new name.
        to: Bytes,
        /// `RENAMENX`.
        only_if_absent: bool,
    },
    /// `COPY source destination [DB 0] [REPLACE]`: 1 when copied.
    Copy {
        /// The key to copy.
        from: Bytes,
        /// The copy's name.
        to: Bytes,
        /// `REPLACE`.
        replace: bool,
    },
    /// `FLUSHALL` and `FLUSHDB`: remove every key.
    Flush,
    /// `KEYS pattern`: every key that matches.
    Keys {
        /// The glob-style pattern.
        pattern: Bytes,
    },
    /// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`: one page,
    /// and the cursor of the next (any node continues it).
    Scan {
        /// Where to continue.
        cursor: u64,
        /// `MATCH`.
        pattern: Option<Bytes>,
        /// `COUNT`, 10 by default.
        count: u64,
        /// `TYPE`.
        type_filter: Option<Bytes>,
    },
    /// `RANDOMKEY`: a key at random, or nil.
    RandomKey,
    /// `MGET key [key …]`: each value or nil, read from one state.
    MGet {
        /// The keys, at least one.
        keys: Vec<Bytes>,
    },
    /// `MSET key value [key value …]` (`OK`) and `MSETNX …` (1 when all
    /// were stored, 0 when a key existed and none was): atomic, one log
    /// entry.
    SetMany {
        /// The keys and values, in order.
        pairs: Vec<(Bytes, Bytes)>,
        /// [`SetCondition::Always`] (`MSET`) or [`SetCondition::IfAbsent`]
        /// (`MSETNX`).
        condition: SetCondition,
    },
    /// `SETNX key value`: `SET key value NX`, answered 1 or 0.
    SetIfAbsent {
        /// The key to write.
        key: Bytes,
        /// The value to store if the key does not exist.
        value: Bytes,
    },
    /// `STRLEN key`: the length of the value, 0 when missing.
    StringLength {
        /// The key to read.
        key: Bytes,
    },
    /// `GETRANGE key start end`: the bytes of the value from `start` to
    /// `end` inclusive, negative offsets counted from the end, as Redis
    /// clamps them.
    GetRange {
        /// The key to read.
        key: Bytes,
        /// The first byte's offset.
        start: i64,
        /// The last byte's offset.
        end: i64,
    },
    /// `TYPE key`: `string`, or `none` when missing.
    Type {
        /// The key to look up.
        key: Bytes,
    },
    /// `INCR key`, `DECR key`, `INCRBY key n`, `DECRBY key n`: add to a
    /// counter (`DECRBY n` adds `-n`), answered with the new value.
    IncrementBy {
        /// The counter's key.
        key: Bytes,
        /// What to add.
        delta: i64,
    },
    /// `INCRBYFLOAT key increment`: add a decimal number, answered with the
    /// sum as stored (a bulk string).
    IncrementByFloat {
        /// The key.
        key: Bytes,
        /// The increment as sent.
        increment: Bytes,
    },
    /// `SET key value [NX|XX]`: store a value.
    Set {
        /// The key to write.
        key: Bytes,
        /// The value to store.
        value: Bytes,
        /// `NX` ([`SetCondition::IfAbsent`]), `XX`
        /// ([`SetCondition::IfPresent`]) or neither.
        condition: SetCondition,
    },
    /// `SET` with an expiry option, `SETEX key seconds value` and `PSETEX
    /// key milliseconds value`.
    SetExpiring {
        /// The key to write.
        key: Bytes,
        /// The value to store.
        value: Bytes,
        /// `NX`, `XX` or neither.
        condition: SetCondition,
        /// The key's time to live once stored.
        expiry: Expiry,
        /// `GET`: answer the value found.
        answer_previous: bool,
        /// `set`, `setex` or `psetex`, for error messages.
        command: &'static str,
    },
    /// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT key time [NX|XX|GT|LT]`:
    /// 1 when the deadline was set (or the key deleted, the time being
    /// past), 0 otherwise.
    Expire {
        /// The key.
        key: Bytes,
        /// [`Expiry::After`] or [`Expiry::At`], in milliseconds.
        expiry: Expiry,
        /// The options.
        condition: ExpireCondition,
        /// Which of the four, lowercase.
        command: &'static str,
    },
    /// `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME key`.
    Ttl {
        /// The key.
        key: Bytes,
        /// What to report.
        report: TtlReport,
    },
    /// `PERSIST key`: 1 when a deadline was removed.
    Persist {
        /// The key.
        key: Bytes,
    },
    /// `GETEX key [EX|PX|EXAT|PXAT time|PERSIST]`: the value, and a new
    /// deadline for it.
    GetEx {
        /// The key.
        key: Bytes,
        /// [`Expiry::Keep`] without an option, [`Expiry::Clear`] for
        /// `PERSIST`.
        expiry: Expiry,
    },
    /// `MULTI`: queue the following commands until `EXEC`.
    Multi,
    /// `EXEC`: run the queued commands as one log entry.
    Exec,
    /// `DISCARD`: drop the queued commands and the watches.
    Discard,
    /// `WATCH key [key …]`: `EXEC` runs only if none of them changes first.
    Watch {
        /// The keys, at least one.
        keys: Vec<Bytes>,
    },
    /// `UNWATCH`: forget the watches.
    Unwatch,
    /// A command inside `MULTI` whose arguments were refused (never
    /// parsed): Redis checks arguments when `EXEC` runs the command, so
    /// its error is answered in its place in `EXEC`'s reply.
    Refused {
        /// The error reply, `-ERR …`.
        reply: String,
    },
    /// The shape of an `EXEC`'s answer (never parsed): the queued requests
    /// in order, each answered in its place of the reply array.
    Queued {
        /// The requests between `MULTI` and `EXEC`.
        requests: Vec<Request>,
    },
    /// `DEL key [key …]`: delete keys, answering how many existed.
    Del {
        /// The keys, at least one.
        keys: Vec<Bytes>,
    },
    /// `EXISTS key [key …]`: count the keys that exist (a key named twice
    /// counts twice).
    Exists {
        /// The keys, at least one.
        keys: Vec<Bytes>,
    },
    /// `PING [message]`: `+PONG`, or the message back.
    Ping {
        /// The message to echo, if any.
        message: Option<Bytes>,
    },
    /// `ECHO message`: the message back.
    Echo {
        /// The message.
        message: Bytes,
    },
    /// `QUIT`: answer `+OK`, then close the connection.
    Quit,
    /// `INFO [section]`: the server's description of itself.
    Info {
        /// The section asked for, as sent; all sections when absent.
        section: Option<Bytes>,
    },
    /// `CONFIG GET parameter …`: `save`, `appendonly`, `appendfsync`, or
    /// nothing (see `server`).
    ConfigGet {
        /// The parameters asked for.
        parameters: Vec<Bytes>,
    },
    /// `CONFIG SET requirepass password`: give the default user this
    /// password, or none (`nopass`) when empty.
    ConfigSetPassword {
        /// The password.
        password: Password,
    },
    /// `AUTH [username] password`: authenticate the connection, as the
    /// default user when no name is given.
    Auth {
        /// The user; `None` for the default user.
        username: Option<Bytes>,
        /// Its password.
        password: Password,
    },
    /// `ACL …`: manage and inspect users.
    Acl(AclRequest),
    /// `COMMAND`, `COMMAND DOCS`, `COMMAND COUNT`: what redis-cli asks to
    /// learn the server's commands.
    Command(CommandQuery),
    /// `HELLO [protover [AUTH username password] [SETNAME name]]`: the
    /// handshake of newer clients, which also switches the connection to
    /// RESP3 (`HELLO 3`) or back (`HELLO 2`). A version other than 2 or 3
    /// is [`CommandError::ProtocolVersionUnsupported`].
    Hello {
        /// The protocol to speak from this reply on; `None` keeps the
        /// connection's.
        protocol: Option<Protocol>,
        /// `AUTH username password`, checked by the server.
        auth: Option<HelloAuth>,
        /// The name to give the connection, if any.
        client_name: Option<Bytes>,
    },
    /// `CLIENT SETNAME name`: name the connection.
    ClientSetName {
        /// The name: printable, without spaces, at most
        /// [`crate::limits::CLIENT_NAME_SIZE_MAX_BYTES`].
        name: Bytes,
    },
    /// `CLIENT GETNAME`: the connection's name, or null.
    ClientGetName,
    /// `CLIENT ID`: the connection's id.
    ClientId,
    /// `CLIENT INFO`: one line describing the connection.
    ClientInfo,
    /// `CLIENT SETINFO LIB-NAME|LIB-VER value`: what client library is
    /// connected. Redis client libraries send it on connect.
    ClientSetInfo {
        /// Which attribute.
        attribute: ClientAttribute,
        /// Its value.
        value: Bytes,
    },
    /// `SELECT 0`: synod has a single database, so only 0 parses.
    Select,
    /// `READONLY`: from now on this connection's reads are served from the
    /// node's applied state without confirming with a quorum: available
    /// without one, possibly stale. Redis Cluster's word for reads a replica
    /// may serve.
    ReadOnly,
    /// `READWRITE`: this connection's reads are linearizable again (the
    /// default).
    ReadWrite,
    /// `SYNOD.SESSION`: register a session for exactly-once writes; answered
    /// with its id.
    SessionRegister,
    /// `SYNOD.TAGGED session sequence <SET …|DEL …>`: a write that is step
    /// `sequence` of session `session`, which the store applies at most
    /// once however often it is retried.
    Tagged {
        /// The session and sequence.
        tag: SessionTag,
        /// The wrapped write: [`Request::Set`], [`Request::Del`] or
        /// [`Request::IncrementBy`].
        write: Box<Request>,
    },
}

/// The credentials of `HELLO … AUTH username password`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HelloAuth {
    /// The user to authenticate as.
    pub username: Bytes,
    /// Its password.
    pub password: Password,
}

/// What a `COMMAND` request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandQuery {
    /// `COMMAND`: the table of commands.
    Table,
    /// `COMMAND DOCS [name …]`: documentation, of which synod has none (an
    /// empty reply; redis-cli then uses its own hints).
    Docs,
    /// `COMMAND COUNT`: how many commands there are.
    Count,
}

/// An attribute of `CLIENT SETINFO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAttribute {
    /// `LIB-NAME`: the client library's name.
    LibraryName,
    /// `LIB-VER`: the client library's version.
    LibraryVersion,
}

impl Request {
    /// Parses a request from a frame: an array of bulk strings whose first
    /// element names the command, in any case. A request that maps to a
    /// state machine command is checked against the kv limits here, so that
    /// [`Request::to_command`] always yields a command that may be proposed.
    ///
    /// # Errors
    ///
    /// Why the frame is not a valid request. The connection stays open.
    pub fn parse(frame: Frame) -> Result<Request, CommandError> {
        let request = dispatch(bulk_strings(frame)?)?;
        if let Some(operation) = request.operation() {
            operation.validate()?;
        }
        Ok(request)
    }

    /// The state machine command this request stands for, or `None` for a
    /// request the server answers itself (`PING`, `CLIENT …`, …).
    ///
    /// `DEL` and `EXISTS` of one key map to the single-key operations
    /// ([`Operation::Remove`], [`Operation::Contains`]), which encode
    /// shorter; their replies are the same integers.
    pub fn to_command(&self) -> Option<Command> {
        let operation = self.operation()?;
        Some(match self {
            Request::Tagged { tag, .. } => Command::tagged(tag.session, tag.sequence, operation),
            _ => Command::untagged(operation),
        })
    }

    /// The command's name, lowercase, as error messages and `COMMAND` give
    /// it.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Get { .. } => keys::GET.name,
            Request::IncrementBy { .. } => keys::INCRBY.name,
            Request::IncrementByFloat { .. } => keys::INCRBYFLOAT.name,
            Request::SetIfAbsent { .. } => keys::SETNX.name,
            Request::Exchange { .. } => keys::SET.name,
            Request::GetDel { .. } => strings::GETDEL.name,
            Request::Append { .. } => strings::APPEND.name,
            Request::DbSize => strings::DBSIZE.name,
            Request::MGet { .. } => strings::MGET.name,
            Request::SetRange { .. } => strings::SETRANGE.name,
            Request::Rename {
                only_if_absent: true,
                ..
            } => keyspace::RENAMENX.name,
            Request::Rename { .. } => keyspace::RENAME.name,
            Request::Copy { .. } => keyspace::COPY.name,
            Request::Flush => keyspace::FLUSHALL.name,
            Request::Keys { .. } => keyspace::KEYS.name,
            Request::Scan { .. } => keyspace::SCAN.name,
            Request::RandomKey => keyspace::RANDOMKEY.name,
            Request::SetMany {
                condition: SetCondition::IfAbsent,
                ..
            } => strings::MSETNX.name,
            Request::SetMany { .. } => strings::MSET.name,
            Request::StringLength { .. } => keys::STRLEN.name,
            Request::GetRange { .. } => keys::GETRANGE.name,
            Request::Type { .. } => keys::TYPE.name,
            Request::Set { .. } => keys::SET.name,
            Request::SetExpiring { command, .. } | Request::Expire { command, .. } => command,
            Request::Ttl { report, .. } => report.name(),
            Request::Persist { .. } => expiry::PERSIST.name,
            Request::Multi => transactions::MULTI.name,
            Request::Exec | Request::Queued { .. } => transactions::EXEC.name,
            Request::Refused { .. } => "refused",
            Request::Discard => transactions::DISCARD.name,
            Request::Watch { .. } => transactions::WATCH.name,
            Request::Unwatch => transactions::UNWATCH.name,
            Request::GetEx { .. } => expiry::GETEX.name,
            Request::Del { .. } => keys::DEL.name,
            Request::Exists { .. } => keys::EXISTS.name,
            Request::Ping { .. } => connection::PING.name,
            Request::Echo { .. } => connection::ECHO.name,
            Request::Quit => connection::QUIT.name,
            Request::Info { .. } => server::INFO.name,
            Request::Command(_) => server::COMMAND.name,
            Request::ConfigGet { .. } | Request::ConfigSetPassword { .. } => server::CONFIG.name,
            Request::Auth { .. } => access::AUTH.name,
            Request::Acl(_) => access::ACL.name,
            Request::Hello { .. } => connection::HELLO.name,
            Request::ClientSetName { .. }
            | Request::ClientGetName
            | Request::ClientId
            | Request::ClientInfo
            | Request::ClientSetInfo { .. } => connection::CLIENT.name,
            Request::Select => connection::SELECT.name,
            Request::ReadOnly => connection::READONLY.name,
            Request::ReadWrite => connection::READWRITE.name,
            Request::SessionRegister => synod::SESSION.name,
            Request::Tagged { .. } => synod::TAGGED.name,
        }
    }

    fn operation(&self) -> Option<Operation> {
        match self {
            Request::Get { key } => Some(Operation::Get { key: key.clone() }),
            // Answered from the value: the reply is shaped from the whole
            // value where the request is served.
            Request::StringLength { key } | Request::GetRange { key, .. } => {
                Some(Operation::Get { key: key.clone() })
            }
            Request::Type { key } => Some(Operation::Contains { key: key.clone() }),
            Request::Exchange {
                key,
                value,
                condition,
            } => Some(Operation::Exchange {
                key: key.clone(),
                value: value.clone(),
                condition: *condition,
            }),
            Request::GetDel { key } => Some(Operation::Take { key: key.clone() }),
            Request::Append { key, value } => Some(Operation::Append {
                key: key.clone(),
                value: value.clone(),
            }),
            Request::DbSize => Some(Operation::CountKeys),
            Request::MGet { keys } => Some(Operation::GetMany { keys: keys.clone() }),
            Request::SetRange { key, offset, value } => Some(Operation::SetRange {
                key: key.clone(),
                offset: *offset,
                value: value.clone(),
            }),
            Request::Rename {
                from,
                to,
                only_if_absent,
            } => Some(Operation::Rename {
                from: from.clone(),
                to: to.clone(),
                only_if_absent: *only_if_absent,
            }),
            Request::Copy { from, to, replace } => Some(Operation::Copy {
                from: from.clone(),
                to: to.clone(),
                replace: *replace,
            }),
            Request::Flush => Some(Operation::Flush),
            Request::Keys { pattern } => Some(Operation::Keys {
                pattern: pattern.clone(),
            }),
            Request::Scan {
                cursor,
                pattern,
                count,
                type_filter,
            } => Some(Operation::Scan {
                cursor: *cursor,
                pattern: pattern.clone(),
                count: *count,
                type_filter: type_filter.clone(),
            }),
            // The server draws the seed (see `Request::to_command`'s users).
            Request::RandomKey => Some(Operation::RandomKey { seed: 0 }),
            Request::SetMany { pairs, condition } => Some(Operation::SetMany {
                pairs: pairs.clone(),
                condition: *condition,
            }),
            Request::SetIfAbsent { key, value } => Some(Operation::Set {
                key: key.clone(),
                value: value.clone(),
                condition: SetCondition::IfAbsent,
            }),
            Request::IncrementBy { key, delta } => Some(Operation::IncrementBy {
                key: key.clone(),
                delta: *delta,
            }),
            Request::IncrementByFloat { key, increment } => Some(Operation::IncrementByFloat {
                key: key.clone(),
                increment: increment.clone(),
            }),
            Request::Set {
                key,
                value,
                condition,
            } => Some(Operation::Set {
                key: key.clone(),
                value: value.clone(),
                condition: *condition,
            }),
            Request::SetExpiring {
                key,
                value,
                condition,
                expiry,
                answer_previous,
                ..
            } => Some(Operation::SetExpiring {
                key: key.clone(),
                value: value.clone(),
                condition: *condition,
                expiry: *expiry,
                answer_previous: *answer_previous,
            }),
            Request::Expire {
                key,
                expiry,
                condition,
                ..
            } => Some(Operation::Expire {
                key: key.clone(),
                expiry: *expiry,
                condition: *condition,
            }),
            Request::Ttl { key, .. } => Some(Operation::ReadExpiry { key: key.clone() }),
            Request::Persist { key } => Some(Operation::Persist { key: key.clone() }),
            Request::GetEx { key, expiry } => Some(Operation::GetAndExpire {
                key: key.clone(),
                expiry: *expiry,
            }),
            Request::Del { keys } => Some(match keys.as_slice() {
                [key] => Operation::Remove { key: key.clone() },
                _ => Operation::RemoveMany { keys: keys.clone() },
            }),
            Request::Exists { keys } => Some(match keys.as_slice() {
                [key] => Operation::Contains { key: key.clone() },
                _ => Operation::CountExisting { keys: keys.clone() },
            }),
            Request::SessionRegister => Some(Operation::RegisterSession),
            Request::Tagged { write, .. } => write.operation(),
            Request::Watch { keys } => Some(Operation::ReadVersions { keys: keys.clone() }),
            Request::Acl(acl) => acl.operation(),
            Request::Multi
            | Request::Exec
            | Request::Discard
            | Request::Unwatch
            | Request::Queued { .. }
            | Request::Refused { .. }
            | Request::Ping { .. }
            | Request::Echo { .. }
            | Request::Quit
            | Request::Info { .. }
            | Request::Command(_)
            | Request::ConfigGet { .. }
            | Request::ConfigSetPassword { .. }
            | Request::Auth { .. }
            | Request::Hello { .. }
            | Request::ClientSetName { .. }
            | Request::ClientGetName
            | Request::ClientId
            | Request::ClientInfo
            | Request::ClientSetInfo { .. }
            | Request::Select
            | Request::ReadOnly
            | Request::ReadWrite => None,
        }
    }
}

/// The words of a request frame.
fn bulk_strings(frame: Frame) -> Result<Vec<Bytes>, CommandError> {
    let Frame::Array(elements) = frame else {
        return Err(CommandError::NotBulkStrings);
    };
    elements
        .into_iter()
        .map(|element| match element {
            Frame::Bulk(word) => Ok(word),
            _ => Err(CommandError::NotBulkStrings),
        })
        .collect()
}

/// Finds the command named by the first word, checks the arity, and parses
/// The arguments of one command, taken in order. Running out, or leaving
/// some over, is an arity error naming the command.
pub(crate) struct Arguments {
    command: &'static str,
    words: std::vec::IntoIter<Bytes>,
}

impl Arguments {
    fn next(&mut self) -> Result<Bytes, CommandError> {
        self.words.next().ok_or(CommandError::Arity {
            command: self.command,
        })
    }

    fn next_optional(&mut self) -> Option<Bytes> {
        self.words.next()
    }

    /// The argument an option needs (`EX 10`); its absence is a syntax
    /// error, as Redis words it.
    fn next_or_syntax(&mut self) -> Result<Bytes, CommandError> {
        self.words.next().ok_or(CommandError::Syntax)
    }

    /// Every argument that is left.
    fn rest(&mut self) -> Vec<Bytes> {
        self.words.by_ref().collect()
    }

    fn finish(&self) -> Result<(), CommandError> {
        if self.words.len() > 0 {
            return Err(CommandError::Arity {
                command: self.command,
            });
        }
        Ok(())
    }
}

/// The keyword among `keywords` that `word` spells, in any case.
fn keyword(word: &[u8], keywords: &[&'static str]) -> Option<&'static str> {
    keywords
        .iter()
        .copied()
        .find(|keyword| keyword.as_bytes().eq_ignore_ascii_case(word))
}

/// A decimal `u64` argument: digits only, no sign, no overflow.
fn parse_unsigned(word: &[u8]) -> Result<u64, CommandError> {
    if word.is_empty() || !word.iter().all(u8::is_ascii_digit) {
        return Err(CommandError::NotInteger);
    }
    word.iter().try_fold(0u64, |value, &digit| {
        value
            .checked_mul(10)
            .and_then(|value| value.checked_add(u64::from(digit - b'0')))
            .ok_or(CommandError::NotInteger)
    })
}

/// A decimal `i64` argument.
fn parse_signed(word: &[u8]) -> Result<i64, CommandError> {
    crate::parse::parse_decimal(word).ok_or(CommandError::NotInteger)
}
