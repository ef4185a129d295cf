//! The string and keyspace commands with operations of their own: `GETSET`,
//! `GETDEL`, `APPEND`, `SETRANGE`, `DBSIZE`, `MGET`, `MSET`, `MSETNX`.

use bytes::Bytes;
use synod_kv::SetCondition;

use super::{Arguments, CommandError, CommandSpecification, Request};

pub(super) const GETSET: CommandSpecification = CommandSpecification::with_keys(
    "getset",
    3,
    &["write", "denyoom", "fast"],
    [1, 1, 1],
    parse_getset,
);

pub(super) const GETDEL: CommandSpecification =
    CommandSpecification::with_keys("getdel", 2, &["write", "fast"], [1, 1, 1], parse_getdel);

pub(super) const APPEND: CommandSpecification = CommandSpecification::with_keys(
    "append",
    3,
    &["write", "denyoom", "fast"],
    [1, 1, 1],
    parse_append,
);

pub(super) const SETRANGE: CommandSpecification = CommandSpecification::with_keys(
    "setrange",
    4,
    &["write", "denyoom"],
    [1, 1, 1],
    parse_setrange,
);

pub(super) const DBSIZE: CommandSpecification =
    CommandSpecification::without_keys("dbsize", 1, &["readonly", "fast"], parse_dbsize);

pub(super) const MGET: CommandSpecification =
    CommandSpecification::with_keys("mget", -2, &["readonly", "fast"], [1, -1, 1], parse_mget);

pub(super) const MSET: CommandSpecification =
    CommandSpecification::with_keys("mset", -3, &["write", "denyoom"], [1, -1, 2], parse_mset);

pub(super) const MSETNX: CommandSpecification = CommandSpecification::with_keys(
    "msetnx",
    -3,
    &["write", "denyoom"],
    [1, -1, 2],
    parse_msetnx,
);

/// `GETSET key value`: `SET key value GET`.
fn parse_getset(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let key = arguments.next()?;
    let value = arguments.next()?;
    Ok(Request::Exchange {
        key,
        value,
        condition: SetCondition::Always,
    })
}

fn parse_getdel(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::GetDel {
        key: arguments.next()?,
    })
}

fn parse_append(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let key = arguments.next()?;
    let value = arguments.next()?;
    Ok(Request::Append { key, value })
}

/// `SETRANGE key offset value`, with Redis's checks: a negative offset is
/// out of range, and a write past the value limit is refused (an empty
/// value writes nothing, so it is not).
fn parse_setrange(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let key = arguments.next()?;
    let offset = super::parse_signed(&arguments.next()?)?;
    let value = arguments.next()?;
    let offset = u64::try_from(offset).map_err(|_| CommandError::OffsetOutOfRange)?;
    let end = offset.saturating_add(value.len() as u64);
    if !value.is_empty() && end > synod_kv::VALUE_SIZE_MAX_BYTES as u64 {
        return Err(CommandError::StringTooLarge);
    }
    Ok(Request::SetRange { key, offset, value })
}

fn parse_dbsize(_: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::DbSize)
}

fn parse_mget(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::MGet {
        keys: arguments.rest(),
    })
}

fn parse_mset(arguments: &mut Arguments) -> Result<Request, CommandError> {
    parse_pairs(arguments, "mset", SetCondition::Always)
}

fn parse_msetnx(arguments: &mut Arguments) -> Result<Request, CommandError> {
    parse_pairs(arguments, "msetnx", SetCondition::IfAbsent)
}

/// Keys and values in alternation; an odd count is an arity error, as in
/// Redis.
fn parse_pairs(
    arguments: &mut Arguments,
    command: &'static str,
    condition: SetCondition,
) -> Result<Request, CommandError> {
    let words: Vec<Bytes> = arguments.rest();
    if words.len() % 2 != 0 {
        return Err(CommandError::Arity { command });
    }
    let pairs = words
        .chunks_exact(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect();
    Ok(Request::SetMany { pairs, condition })
}
