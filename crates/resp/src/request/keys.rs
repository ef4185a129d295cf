//! The key-value commands: `GET`, `SET`, `DEL`, `EXISTS`, and the counters
//! `INCR`, `DECR`, `INCRBY`, `DECRBY`.

use super::{parse_signed, Arguments, CommandError, CommandSpecification, Request};

pub(super) const GET: CommandSpecification =
    CommandSpecification::with_keys("get", 2, &["readonly", "fast"], [1, 1, 1], parse_get);

pub(super) const SET: CommandSpecification =
    CommandSpecification::with_keys("set", -3, &["write", "denyoom"], [1, 1, 1], parse_set);

pub(super) const DEL: CommandSpecification =
    CommandSpecification::with_keys("del", -2, &["write"], [1, -1, 1], parse_del);

pub(super) const EXISTS: CommandSpecification = CommandSpecification::with_keys(
    "exists",
    -2,
    &["readonly", "fast"],
    [1, -1, 1],
    parse_exists,
);

pub(super) const SETNX: CommandSpecification = CommandSpecification::with_keys(
    "setnx",
    3,
    &["write", "denyoom", "fast"],
    [1, 1, 1],
    parse_setnx,
);

pub(super) const STRLEN: CommandSpecification =
    CommandSpecification::with_keys("strlen", 2, &["readonly", "fast"], [1, 1, 1], parse_strlen);

pub(super) const GETRANGE: CommandSpecification =
    CommandSpecification::with_keys("getrange", 4, &["readonly"], [1, 1, 1], parse_getrange);

pub(super) const TYPE: CommandSpecification =
    CommandSpecification::with_keys("type", 2, &["readonly", "fast"], [1, 1, 1], parse_type);

/// `UNLINK` is `DEL`: synod frees a value as it removes it, which Redis's
/// `UNLINK` defers to a background thread. Same reply, same atomicity.
pub(super) const UNLINK: CommandSpecification =
    CommandSpecification::with_keys("unlink", -2, &["write", "fast"], [1, -1, 1], parse_del);

/// `TOUCH` counts the keys that exist, as `EXISTS` does (a key named twice
/// counts twice); synod keeps no access times for it to update.
pub(super) const TOUCH: CommandSpecification =
    CommandSpecification::with_keys("touch", -2, &["readonly", "fast"], [1, -1, 1], parse_exists);

fn parse_setnx(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let key = arguments.next()?;
    let value = arguments.next()?;
    Ok(Request::SetIfAbsent { key, value })
}

fn parse_strlen(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::StringLength {
        key: arguments.next()?,
    })
}

fn parse_getrange(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let key = arguments.next()?;
    let start = parse_signed(&arguments.next()?)?;
    let end = parse_signed(&arguments.next()?)?;
    Ok(Request::GetRange { key, start, end })
}

fn parse_type(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::Type {
        key: arguments.next()?,
    })
}

/// The flags Redis gives its counter commands.
const COUNTER_FLAGS: &[&str] = &["write", "denyoom", "fast"];

pub(super) const INCR: CommandSpecification =
    CommandSpecification::with_keys("incr", 2, COUNTER_FLAGS, [1, 1, 1], parse_incr);

pub(super) const DECR: CommandSpecification =
    CommandSpecification::with_keys("decr", 2, COUNTER_FLAGS, [1, 1, 1], parse_decr);

pub(super) const INCRBY: CommandSpecification =
    CommandSpecification::with_keys("incrby", 3, COUNTER_FLAGS, [1, 1, 1], parse_incrby);

pub(super) const INCRBYFLOAT: CommandSpecification = CommandSpecification::with_keys(
    "incrbyfloat",
    3,
    COUNTER_FLAGS,
    [1, 1, 1],
    parse_incrbyfloat,
);

/// `INCRBYFLOAT key increment`: the increment must be a number Redis's
/// `string2ld` accepts.
fn parse_incrbyfloat(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let key = arguments.next()?;
    let increment = arguments.next()?;
    if synod_kv::float::parse(&increment).is_none() {
        return Err(CommandError::NotFloat);
    }
    Ok(Request::IncrementByFloat { key, increment })
}

pub(super) const DECRBY: CommandSpecification =
    CommandSpecification::with_keys("decrby", 3, COUNTER_FLAGS, [1, 1, 1], parse_decrby);

fn parse_incr(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::IncrementBy {
        key: arguments.next()?,
        delta: 1,
    })
}

fn parse_decr(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::IncrementBy {
        key: arguments.next()?,
        delta: -1,
    })
}

fn parse_incrby(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let key = arguments.next()?;
    let delta = parse_signed(&arguments.next()?)?;
    Ok(Request::IncrementBy { key, delta })
}

/// `DECRBY key n` adds `-n`; `-i64::MIN` does not exist, and Redis refuses
/// it with these words.
fn parse_decrby(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let key = arguments.next()?;
    let decrement = parse_signed(&arguments.next()?)?;
    let delta = decrement
        .checked_neg()
        .ok_or(CommandError::DecrementOverflow)?;
    Ok(Request::IncrementBy { key, delta })
}

fn parse_get(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::Get {
        key: arguments.next()?,
    })
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]`. With
/// `GET` it is an exchange: the reply is the value found. With an expiry
/// option, it is [`Request::SetExpiring`].
fn parse_set(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let key = arguments.next()?;
    let value = arguments.next()?;
    let (condition, exchange, expiry) = super::expiry::parse_set_options(arguments)?;
    if let Some(expiry) = expiry {
        return Ok(Request::SetExpiring {
            key,
            value,
            condition,
            expiry,
            answer_previous: exchange,
            command: SET.name,
        });
    }
    if exchange {
        return Ok(Request::Exchange {
            key,
            value,
            condition,
        });
    }
    Ok(Request::Set {
        key,
        value,
        condition,
    })
}

fn parse_del(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::Del {
        keys: arguments.rest(),
    })
}

fn parse_exists(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::Exists {
        keys: arguments.rest(),
    })
}
