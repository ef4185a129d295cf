//! Replies: the error codes synod uses, the reply to each request, and the
//! error replies of the server's operating conditions.
//!
//! The first word of an error reply is its code, which a client dispatches
//! on (see [`error_code`]); the rest is for people.

use std::fmt::Display;

use bytes::Bytes;
use synod_kv::{Refusal, Response, SetCondition};

use crate::frame::{Frame, Protocol};
use crate::request::{ttl_reply, CommandQuery, Request, COMMANDS};

/// The codes that start synod's error replies.
pub mod error_code {
    /// A request that was refused; retrying it unchanged fails the same way.
    pub const ERROR: &str = "ERR";
    /// No quorum of replicas answered: the cluster cannot commit now.
    /// Another node, or the same one later, may.
    pub const CLUSTER_DOWN: &str = "CLUSTERDOWN";
    /// The write was proposed but its fate was not learnt (the leader was
    /// lost): it may or may not have been applied. A tagged write can be
    /// retried safely; an untagged one cannot.
    pub const OUTCOME_UNKNOWN: &str = "UNKNOWN";
    /// A transient condition (no leader yet, leader changing): retry, here
    /// or on another node.
    pub const TRY_AGAIN: &str = "TRYAGAIN";
    /// The session of a tagged write is unknown: never registered, or
    /// evicted. The write was not applied; register a new session.
    pub const SESSION_EXPIRED: &str = "SESSIONEXPIRED";
    /// The tagged write's sequence is below the session's last: an old
    /// duplicate, not applied.
    pub const SEQUENCE_STALE: &str = "STALE";
    /// `HELLO` asked for a protocol version other than 2 or 3.
    pub const NO_PROTOCOL: &str = "NOPROTO";
    /// `AUTH` or `HELLO … AUTH` named an unknown user or a wrong password.
    pub const WRONG_PASSWORD: &str = "WRONGPASS";
    /// The connection must authenticate first.
    pub const NO_AUTHENTICATION: &str = "NOAUTH";
    /// The connection's user may not run the command or touch its keys.
    pub const NO_PERMISSION: &str = "NOPERM";
}

/// The code of an error reply's message: its first word.
pub fn error_code_of(message: &str) -> &str {
    message.split(' ').next().unwrap_or_default()
}

/// `+OK`.
pub fn ok() -> Frame {
    Frame::Simple("OK".to_owned())
}

/// `-ERR <message>`: a refused request.
pub fn error(message: impl Display) -> Frame {
    Frame::Error(format!("{} {message}", error_code::ERROR))
}

/// `-CLUSTERDOWN no quorum: <detail>`: the node could not reach a quorum.
pub fn cluster_down(detail: impl Display) -> Frame {
    Frame::Error(format!("{} no quorum: {detail}", error_code::CLUSTER_DOWN))
}

/// `-UNKNOWN outcome unknown: …`: the leader was lost between proposing a
/// write and learning whether it was chosen. Saying "failed" instead would
/// be a lie that a client could act on.
pub fn outcome_unknown() -> Frame {
    Frame::Error(format!(
        "{} outcome unknown: the leader was lost before the write was confirmed; \
         it may or may not have been applied",
        error_code::OUTCOME_UNKNOWN
    ))
}

/// `-TRYAGAIN <detail>`: a transient condition; the request was not
/// proposed.
pub fn try_again(detail: impl Display) -> Frame {
    Frame::Error(format!("{} {detail}", error_code::TRY_AGAIN))
}

/// `-SESSIONEXPIRED …`: the answer to [`Response::SessionExpired`].
pub fn session_expired() -> Frame {
    Frame::Error(format!(
        "{} session unknown or evicted: the command was not applied; \
         register a new session with SYNOD.SESSION",
        error_code::SESSION_EXPIRED
    ))
}

/// `-WRONGPASS …`, worded as Redis words it: the credentials of `AUTH` or
/// `HELLO … AUTH` do not match a user.
pub fn wrong_password() -> Frame {
    Frame::Error(format!(
        "{} invalid username-password pair or user is disabled.",
        error_code::WRONG_PASSWORD
    ))
}

/// `-STALE …`: the answer to [`Response::SequenceStale`].
pub fn sequence_stale() -> Frame {
    Frame::Error(format!(
        "{} sequence below the session's last: an old duplicate, not applied",
        error_code::SEQUENCE_STALE
    ))
}

/// The reply to `request` given the state machine's `response` to its
/// command ([`Request::to_command`]): `GET` a bulk string or null, `SET`
/// `+OK` or null when its `NX`/`XX` condition did not hold, `DEL` and
/// `EXISTS` an integer, `SYNOD.SESSION` the session id as an integer.
///
/// A response that does not fit the request (it may come from another node,
/// so it is input, not an invariant) gets an `-ERR` naming both.
pub fn reply_for(response: &Response, request: &Request) -> Frame {
    let reply = match (request, response) {
        (_, Response::SessionExpired) => Some(session_expired()),
        (_, Response::SequenceStale) => Some(sequence_stale()),
        (_, Response::InvalidCommand) => Some(error("invalid command")),
        // The command refused is the one wrapped, not `SYNOD.TAGGED`.
        (Request::Tagged { write, .. }, Response::Denied(denial)) => {
            Some(crate::acl::denied(*denial, write.name()))
        }
        (_, Response::Denied(denial)) => Some(crate::acl::denied(*denial, request.name())),
        (Request::Acl(acl), Response::Users(users)) => crate::acl::users_reply(acl, users),
        (Request::Acl(_) | Request::ConfigSetPassword { .. }, Response::Stored(true)) => Some(ok()),
        (Request::Acl(_), Response::Count(count)) => i64::try_from(*count).ok().map(Frame::Integer),
        (_, Response::Refused(Refusal::InvalidExpireTime)) => Some(error(format_args!(
            "invalid expire time in '{}' command",
            request.name()
        ))),
        (_, Response::Refused(refusal)) => Some(error(refusal.message())),
        (
            Request::SetExpiring {
                answer_previous: true,
                ..
            }
            | Request::GetEx { .. },
            Response::Value(value),
        ) => Some(value.clone().map_or(Frame::Null, Frame::Bulk)),
        (Request::SetExpiring { .. }, Response::Stored(stored)) => {
            Some(if *stored { ok() } else { Frame::Null })
        }
        (Request::Expire { .. } | Request::Persist { .. }, Response::Count(count)) => {
            i64::try_from(*count).ok().map(Frame::Integer)
        }
        (Request::Queued { requests }, Response::Transaction(responses)) => {
            Some(exec_reply(requests, responses))
        }
        (Request::Queued { .. }, Response::Aborted) => Some(Frame::NullArray),
        (
            Request::Rename {
                only_if_absent: false,
                ..
            }
            | Request::Flush,
            Response::Stored(true),
        ) => Some(ok()),
        (
            Request::Rename { .. } | Request::Copy { .. } | Request::SetRange { .. },
            Response::Count(count),
        ) => i64::try_from(*count).ok().map(Frame::Integer),
        (Request::Keys { .. }, Response::Keys(keys)) => Some(Frame::Array(
            keys.iter().cloned().map(Frame::Bulk).collect(),
        )),
        (Request::Scan { .. }, Response::ScanPage { cursor, keys }) => Some(Frame::Array(vec![
            Frame::Bulk(Bytes::from(cursor.to_string())),
            Frame::Array(keys.iter().cloned().map(Frame::Bulk).collect()),
        ])),
        (Request::RandomKey, Response::Value(key)) => {
            Some(key.clone().map_or(Frame::Null, Frame::Bulk))
        }
        (Request::MGet { .. }, Response::Values(values)) => Some(Frame::Array(
            values
                .iter()
                .map(|value| value.clone().map_or(Frame::Null, Frame::Bulk))
                .collect(),
        )),
        (Request::Ttl { report, .. }, Response::Expiry(expiry)) => {
            Some(Frame::Integer(ttl_reply(*expiry, *report)))
        }
        (Request::IncrementBy { .. }, Response::Integer(value)) => Some(Frame::Integer(*value)),
        (Request::IncrementByFloat { .. }, Response::Value(Some(value))) => {
            Some(Frame::Bulk(value.clone()))
        }
        (Request::Exchange { .. } | Request::GetDel { .. }, Response::Value(value)) => {
            Some(value.clone().map_or(Frame::Null, Frame::Bulk))
        }
        (Request::Append { .. } | Request::DbSize, Response::Count(count)) => {
            i64::try_from(*count).ok().map(Frame::Integer)
        }
        (
            Request::SetMany {
                condition: SetCondition::IfAbsent,
                ..
            },
            Response::Stored(stored),
        ) => Some(Frame::Integer(i64::from(*stored))),
        (Request::SetMany { .. }, Response::Stored(true)) => Some(ok()),
        (Request::SetIfAbsent { .. }, Response::Stored(stored)) => {
            Some(Frame::Integer(i64::from(*stored)))
        }
        (Request::StringLength { .. }, Response::Value(value)) => {
            i64::try_from(value.as_ref().map_or(0, Bytes::len))
                .ok()
                .map(Frame::Integer)
        }
        (Request::GetRange { start, end, .. }, Response::Value(value)) => {
            let value = value.clone().unwrap_or_default();
            Some(Frame::Bulk(byte_range(&value, *start, *end)))
        }
        (Request::Type { .. }, Response::Found(found)) => Some(Frame::Simple(
            if *found { "string" } else { "none" }.to_owned(),
        )),
        (Request::Tagged { write, .. }, _) => Some(reply_for(response, write)),
        (Request::Get { .. }, Response::Value(value)) => Some(match value {
            Some(value) => Frame::Bulk(value.clone()),
            None => Frame::Null,
        }),
        (Request::Set { .. }, Response::Stored(stored)) => {
            Some(if *stored { ok() } else { Frame::Null })
        }
        (Request::Del { .. }, Response::Removed(flag))
        | (Request::Exists { .. }, Response::Found(flag)) => Some(Frame::Integer(i64::from(*flag))),
        (Request::Del { .. } | Request::Exists { .. }, Response::Count(count)) => {
            i64::try_from(*count).ok().map(Frame::Integer)
        }
        (Request::SessionRegister, Response::SessionRegistered(session)) => {
            i64::try_from(session.0).ok().map(Frame::Integer)
        }
        _ => None,
    };
    reply.unwrap_or_else(|| {
        error(format_args!(
            "internal error: the store answered {response:?} to '{}'",
            request.name()
        ))
    })
}

/// The Redis parameters whose meaning synod shares, with synod's values:
/// no RDB `save` points, and an append-only log synced on every write.
/// Tools read them (redis-benchmark warns without them); synod's own
/// settings are its flags and TOML file.
const CONFIG_PARAMETERS: [(&str, &str); 3] = [
    ("save", ""),
    ("appendonly", "yes"),
    ("appendfsync", "always"),
];

/// `CONFIG GET pattern …`: the parameters above that match, as a map.
fn config_reply(patterns: &[Bytes]) -> Frame {
    let pairs = CONFIG_PARAMETERS
        .iter()
        .filter(|(name, _)| {
            patterns.iter().any(|pattern| {
                synod_kv::pattern::matches(&pattern.to_ascii_lowercase(), name.as_bytes())
            })
        })
        .map(|(name, value)| {
            (
                Frame::Bulk(Bytes::from_static(name.as_bytes())),
                Frame::Bulk(Bytes::from_static(value.as_bytes())),
            )
        })
        .collect();
    Frame::Map(pairs)
}

/// `EXEC`'s array: each queued request answered in its place, from the
/// transaction's responses for those that went to the log and locally for
/// the others (`PING` in a transaction).
fn exec_reply(requests: &[Request], responses: &[Response]) -> Frame {
    let mut responses = responses.iter();
    let replies = requests
        .iter()
        .map(|request| {
            if request.to_command().is_none() {
                return local_reply(request)
                    .unwrap_or_else(|| error("Command not allowed inside a transaction"));
            }
            match responses.next() {
                Some(response) => reply_for(response, request),
                None => error("internal error: the transaction answered too few commands"),
            }
        })
        .collect();
    Frame::Array(replies)
}

/// `GETRANGE`'s slice of `value`, with Redis 7's clamping: negative
/// offsets count from the end, both are clamped into the value, and an
/// empty range (or two negative offsets out of order) is the empty string.
fn byte_range(value: &Bytes, start: i64, end: i64) -> Bytes {
    let length = i64::try_from(value.len()).expect("a value's length fits in an i64");
    if start < 0 && end < 0 && start > end {
        return Bytes::new();
    }
    let start = if start < 0 { length + start } else { start }.max(0);
    let end = if end < 0 { length + end } else { end }
        .max(0)
        .min(length - 1);
    if start > end || length == 0 {
        return Bytes::new();
    }
    let start = usize::try_from(start).expect("clamped to the value");
    let end = usize::try_from(end).expect("clamped to the value");
    value.slice(start..=end)
}

/// The reply to a request that needs neither the store nor the
/// connection's state: `PING`, `ECHO`, `QUIT` (after which the server
/// closes the connection), `SELECT 0`, `COMMAND …`, and `CLIENT SETINFO`
/// (whose attribute is not kept). `None` for every other request.
pub fn local_reply(request: &Request) -> Option<Frame> {
    match request {
        Request::Ping { message: None } => Some(Frame::Simple("PONG".to_owned())),
        Request::Ping {
            message: Some(message),
        }
        | Request::Echo { message } => Some(Frame::Bulk(message.clone())),
        // UNWATCH is answered here once the server forgot the watches (and
        // in its place in an EXEC's reply).
        Request::Quit | Request::Select | Request::ClientSetInfo { .. } | Request::Unwatch => {
            Some(ok())
        }
        Request::Command(CommandQuery::Table) => Some(command_table()),
        Request::Command(CommandQuery::Docs) => Some(Frame::Array(Vec::new())),
        Request::ConfigGet { parameters } => Some(config_reply(parameters)),
        Request::Command(CommandQuery::Count) => Some(Frame::Integer(COMMANDS.len() as i64)),
        Request::Refused { reply } => Some(Frame::Error(reply.clone())),
        Request::Get { .. }
        | Request::IncrementBy { .. }
        | Request::IncrementByFloat { .. }
        | Request::SetIfAbsent { .. }
        | Request::Exchange { .. }
        | Request::GetDel { .. }
        | Request::Append { .. }
        | Request::DbSize
        | Request::MGet { .. }
        | Request::SetRange { .. }
        | Request::Rename { .. }
        | Request::Copy { .. }
        | Request::Flush
        | Request::Keys { .. }
        | Request::Scan { .. }
        | Request::RandomKey
        | Request::SetMany { .. }
        | Request::StringLength { .. }
        | Request::GetRange { .. }
        | Request::Type { .. }
        | Request::Set { .. }
        | Request::SetExpiring { .. }
        | Request::Expire { .. }
        | Request::Ttl { .. }
        | Request::Persist { .. }
        | Request::GetEx { .. }
        | Request::Multi
        | Request::Exec
        | Request::Discard
        | Request::Watch { .. }
        | Request::Queued { .. }
        | Request::Del { .. }
        | Request::Exists { .. }
        | Request::Info { .. }
        | Request::Hello { .. }
        | Request::Auth { .. }
        | Request::Acl(_)
        | Request::ConfigSetPassword { .. }
        | Request::ClientSetName { .. }
        | Request::ClientGetName
        | Request::ClientId
        | Request::ClientInfo
        | Request::ReadOnly
        | Request::ReadWrite
        | Request::SessionRegister
        | Request::Tagged { .. } => None,
    }
}

/// The reply to `COMMAND`: for each command its name, arity, flags and key
/// positions (the six fields every Redis version reports).
fn command_table() -> Frame {
    Frame::Array(
        COMMANDS
            .iter()
            .map(|command| {
                Frame::Array(vec![
                    Frame::Bulk(Bytes::from_static(command.name.as_bytes())),
                    Frame::Integer(command.arity),
                    Frame::Array(
                        command
                            .flags
                            .iter()
                            .map(|flag| Frame::Simple((*flag).to_owned()))
                            .collect(),
                    ),
                    Frame::Integer(command.first_key),
                    Frame::Integer(command.last_key),
                    Frame::Integer(command.key_step),
                ])
            })
            .collect(),
    )
}

/// The reply to `HELLO`: the server's description as a map (a flat array
/// of alternating names and values in RESP2), with the fields Redis 7
/// reports. `protocol` is the one the connection speaks from this reply on;
/// `role` is `master` on the leader and `replica` elsewhere, the words
/// Redis clients expect.
pub fn hello(client_id: u64, role: &str, protocol: Protocol) -> Frame {
    let bulk = |text: &str| Frame::Bulk(Bytes::copy_from_slice(text.as_bytes()));
    Frame::Map(vec![
        (bulk("server"), bulk("synod")),
        (bulk("version"), bulk(env!("CARGO_PKG_VERSION"))),
        (bulk("proto"), Frame::Integer(protocol.version())),
        (
            bulk("id"),
            Frame::Integer(i64::try_from(client_id).unwrap_or(i64::MAX)),
        ),
        (bulk("mode"), bulk("standalone")),
        (bulk("role"), bulk(role)),
        (bulk("modules"), Frame::Array(Vec::new())),
    ])
}

/// The reply to `CLIENT INFO`: one line of `field=value` pairs, in Redis's
/// format, for the fields synod knows (a verbatim string in RESP3, as in
/// Redis).
pub fn client_info(
    client_id: u64,
    address: &str,
    name: Option<&[u8]>,
    protocol: Protocol,
) -> Frame {
    let name = String::from_utf8_lossy(name.unwrap_or_default());
    Frame::Verbatim {
        format: "txt",
        text: Bytes::from(format!(
            "id={client_id} addr={address} name={name} db=0 resp={}\n",
            protocol.version()
        )),
    }
}

/// One section of the `INFO` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoSection {
    /// The section's name, capitalised as Redis does (`Server`,
    /// `Replication`).
    pub name: String,
    /// The fields, in order, as name and value.
    pub fields: Vec<(String, String)>,
}

/// The reply to `INFO`: a bulk string of sections, each a `# Name` line
/// followed by `name:value` lines. Line breaks inside names and values are
/// replaced by spaces so that they cannot forge lines.
pub fn info(sections: &[InfoSection]) -> Frame {
    let clean = |text: &str| text.replace(['\r', '\n'], " ");
    let mut text = String::new();
    for (index, section) in sections.iter().enumerate() {
        if index > 0 {
            text.push_str("\r\n");
        }
        text.push_str(&format!("# {}\r\n", clean(&section.name)));
        for (name, value) in &section.fields {
            text.push_str(&format!("{}:{}\r\n", clean(name), clean(value)));
        }
    }
    Frame::Verbatim {
        format: "txt",
        text: Bytes::from(text),
    }
}
