//! The expiry commands: `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT`, `TTL`,
//! `PTTL`, `EXPIRETIME`, `PEXPIRETIME`, `PERSIST`, `GETEX`, `SETEX`,
//! `PSETEX`, and the expiry options of `SET`. Times are measured on the
//! cluster's agreed clock (see `synod_kv::expiry`), with Redis 7's
//! arguments, checks and error words.

use bytes::Bytes;
use synod_kv::{ExpireCondition, Expiry, SetCondition};

use super::{keyword, parse_signed, Arguments, CommandError, CommandSpecification, Request};

/// Milliseconds in a second.
const MILLISECONDS_PER_SECOND: i64 = 1_000;

/// What `TTL` and its kin report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TtlReport {
    /// `TTL`: seconds left, rounded.
    Seconds,
    /// `PTTL`: milliseconds left.
    Milliseconds,
    /// `EXPIRETIME`: the deadline as a Unix time in seconds, rounded.
    UnixSeconds,
    /// `PEXPIRETIME`: the deadline as a Unix time in milliseconds.
    UnixMilliseconds,
}

impl TtlReport {
    /// The command's name, lowercase.
    pub fn name(self) -> &'static str {
        match self {
            TtlReport::Seconds => TTL.name,
            TtlReport::Milliseconds => PTTL.name,
            TtlReport::UnixSeconds => EXPIRETIME.name,
            TtlReport::UnixMilliseconds => PEXPIRETIME.name,
        }
    }
}

const EXPIRE_FLAGS: &[&str] = &["write", "fast"];
const TTL_FLAGS: &[&str] = &["readonly", "fast"];

pub(super) const EXPIRE: CommandSpecification =
    CommandSpecification::with_keys("expire", -3, EXPIRE_FLAGS, [1, 1, 1], parse_expire);
pub(super) const PEXPIRE: CommandSpecification =
    CommandSpecification::with_keys("pexpire", -3, EXPIRE_FLAGS, [1, 1, 1], parse_pexpire);
pub(super) const EXPIREAT: CommandSpecification =
    CommandSpecification::with_keys("expireat", -3, EXPIRE_FLAGS, [1, 1, 1], parse_expireat);
pub(super) const PEXPIREAT: CommandSpecification =
    CommandSpecification::with_keys("pexpireat", -3, EXPIRE_FLAGS, [1, 1, 1], parse_pexpireat);
pub(super) const TTL: CommandSpecification =
    CommandSpecification::with_keys("ttl", 2, TTL_FLAGS, [1, 1, 1], parse_ttl);
pub(super) const PTTL: CommandSpecification =
    CommandSpecification::with_keys("pttl", 2, TTL_FLAGS, [1, 1, 1], parse_pttl);
pub(super) const EXPIRETIME: CommandSpecification =
    CommandSpecification::with_keys("expiretime", 2, TTL_FLAGS, [1, 1, 1], parse_expiretime);
pub(super) const PEXPIRETIME: CommandSpecification =
    CommandSpecification::with_keys("pexpiretime", 2, TTL_FLAGS, [1, 1, 1], parse_pexpiretime);
pub(super) const PERSIST: CommandSpecification =
    CommandSpecification::with_keys("persist", 2, EXPIRE_FLAGS, [1, 1, 1], parse_persist);
pub(super) const GETEX: CommandSpecification =
    CommandSpecification::with_keys("getex", -2, EXPIRE_FLAGS, [1, 1, 1], parse_getex);
pub(super) const SETEX: CommandSpecification =
    CommandSpecification::with_keys("setex", 4, &["write", "denyoom"], [1, 1, 1], parse_setex);
pub(super) const PSETEX: CommandSpecification =
    CommandSpecification::with_keys("psetex", 4, &["write", "denyoom"], [1, 1, 1], parse_psetex);

fn parse_expire(arguments: &mut Arguments) -> Result<Request, CommandError> {
    parse_expire_generic(arguments, EXPIRE.name, true, false)
}

fn parse_pexpire(arguments: &mut Arguments) -> Result<Request, CommandError> {
    parse_expire_generic(arguments, PEXPIRE.name, false, false)
}

fn parse_expireat(arguments: &mut Arguments) -> Result<Request, CommandError> {
    parse_expire_generic(arguments, EXPIREAT.name, true, true)
}

fn parse_pexpireat(arguments: &mut Arguments) -> Result<Request, CommandError> {
    parse_expire_generic(arguments, PEXPIREAT.name, false, true)
}

/// `EXPIRE key time [NX|XX|GT|LT]` and its kin. The time may be zero or
/// negative (the key is then deleted), as in Redis; one in seconds that
/// overflows as milliseconds is refused.
fn parse_expire_generic(
    arguments: &mut Arguments,
    command: &'static str,
    in_seconds: bool,
    absolute: bool,
) -> Result<Request, CommandError> {
    let key = arguments.next()?;
    let time = parse_signed(&arguments.next()?)?;
    let milliseconds =
        to_milliseconds(time, in_seconds).ok_or(CommandError::InvalidExpireTime { command })?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in arguments.rest() {
        match keyword(&option, &["NX", "XX", "GT", "LT"]) {
            Some("NX") => nx = true,
            Some("XX") => xx = true,
            Some("GT") => gt = true,
            Some("LT") => lt = true,
            _ => {
                return Err(CommandError::OptionUnknown {
                    option: super::echoed(&option),
                })
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CommandError::ExpireNxIncompatible);
    }
    if gt && lt {
        return Err(CommandError::ExpireGtLtIncompatible);
    }
    let condition = match (nx, xx, gt, lt) {
        (true, ..) => ExpireCondition::IfNone,
        (_, _, true, _) => ExpireCondition::IfLater,
        (_, _, _, true) => ExpireCondition::IfEarlier,
        (_, true, ..) => ExpireCondition::IfSome,
        _ => ExpireCondition::Always,
    };
    // `XX GT` and `XX LT` are what GT and LT already mean for a key with a
    // deadline; GT alone already refuses a key without one, LT alone does
    // not, so `XX LT` must keep the XX.
    let condition = if xx && lt {
        ExpireCondition::IfSomeAndEarlier
    } else {
        condition
    };
    let expiry = if absolute {
        Expiry::At(milliseconds)
    } else {
        Expiry::After(milliseconds)
    };
    Ok(Request::Expire {
        key,
        expiry,
        condition,
        command,
    })
}

fn parse_ttl(arguments: &mut Arguments) -> Result<Request, CommandError> {
    ttl_request(arguments, TtlReport::Seconds)
}

fn parse_pttl(arguments: &mut Arguments) -> Result<Request, CommandError> {
    ttl_request(arguments, TtlReport::Milliseconds)
}

fn parse_expiretime(arguments: &mut Arguments) -> Result<Request, CommandError> {
    ttl_request(arguments, TtlReport::UnixSeconds)
}

fn parse_pexpiretime(arguments: &mut Arguments) -> Result<Request, CommandError> {
    ttl_request(arguments, TtlReport::UnixMilliseconds)
}

fn ttl_request(arguments: &mut Arguments, report: TtlReport) -> Result<Request, CommandError> {
    Ok(Request::Ttl {
        key: arguments.next()?,
        report,
    })
}

fn parse_persist(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::Persist {
        key: arguments.next()?,
    })
}

/// `GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]`.
fn parse_getex(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let key = arguments.next()?;
    let mut expiry = None;
    while let Some(option) = arguments.next_optional() {
        let parsed = match keyword(&option, &["EX", "PX", "EXAT", "PXAT", "PERSIST"]) {
            Some("PERSIST") => Expiry::Clear,
            Some(option) => timed_option(option, &arguments.next_or_syntax()?, GETEX.name)?,
            None => return Err(CommandError::Syntax),
        };
        if expiry.replace(parsed).is_some() {
            return Err(CommandError::Syntax);
        }
    }
    Ok(Request::GetEx {
        key,
        expiry: expiry.unwrap_or(Expiry::Keep),
    })
}

fn parse_setex(arguments: &mut Arguments) -> Result<Request, CommandError> {
    parse_setex_generic(arguments, SETEX.name, "EX")
}

fn parse_psetex(arguments: &mut Arguments) -> Result<Request, CommandError> {
    parse_setex_generic(arguments, PSETEX.name, "PX")
}

/// `SETEX key seconds value`, `PSETEX key milliseconds value`.
fn parse_setex_generic(
    arguments: &mut Arguments,
    command: &'static str,
    unit: &'static str,
) -> Result<Request, CommandError> {
    let key = arguments.next()?;
    let time = arguments.next()?;
    let value = arguments.next()?;
    Ok(Request::SetExpiring {
        key,
        value,
        condition: SetCondition::Always,
        expiry: timed_option(unit, &time, command)?,
        answer_previous: false,
        command,
    })
}

/// The expiry options of `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT
/// s|PXAT ms|KEEPTTL]`, any order: `None` when none was given. Two expiry
/// options, or NX with XX, are a syntax error.
pub(super) fn parse_set_options(
    arguments: &mut Arguments,
) -> Result<(SetCondition, bool, Option<Expiry>), CommandError> {
    let mut condition = SetCondition::Always;
    let mut answer_previous = false;
    let mut expiry = None;
    while let Some(option) = arguments.next_optional() {
        let option = keyword(
            &option,
            &["NX", "XX", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "GET"],
        );
        match (option, condition) {
            (Some("NX"), SetCondition::Always | SetCondition::IfAbsent) => {
                condition = SetCondition::IfAbsent;
            }
            (Some("XX"), SetCondition::Always | SetCondition::IfPresent) => {
                condition = SetCondition::IfPresent;
            }
            (Some("GET"), _) => answer_previous = true,
            (Some("KEEPTTL"), _) => {
                if expiry.replace(Expiry::Keep).is_some() {
                    return Err(CommandError::Syntax);
                }
            }
            (Some(option @ ("EX" | "PX" | "EXAT" | "PXAT")), _) => {
                let time = arguments.next_or_syntax()?;
                if expiry
                    .replace(timed_option(option, &time, "set")?)
                    .is_some()
                {
                    return Err(CommandError::Syntax);
                }
            }
            _ => return Err(CommandError::Syntax),
        }
    }
    Ok((condition, answer_previous, expiry))
}

/// `EX`, `PX`, `EXAT` or `PXAT` with its time, which must be a positive
/// integer whose milliseconds fit in an `i64`, as Redis requires.
fn timed_option(option: &str, time: &Bytes, command: &'static str) -> Result<Expiry, CommandError> {
    let time = parse_signed(time)?;
    let invalid = CommandError::InvalidExpireTime { command };
    if time <= 0 {
        return Err(invalid);
    }
    let in_seconds = matches!(option, "EX" | "EXAT");
    let milliseconds = to_milliseconds(time, in_seconds).ok_or(invalid)?;
    Ok(match option {
        "EX" | "PX" => Expiry::After(milliseconds),
        _ => Expiry::At(milliseconds),
    })
}

fn to_milliseconds(time: i64, in_seconds: bool) -> Option<i64> {
    if in_seconds {
        time.checked_mul(MILLISECONDS_PER_SECOND)
    } else {
        Some(time)
    }
}

/// The words of an expiry as `SET` takes it (`None` for no option).
pub(super) fn set_expiry_words(expiry: Expiry) -> Option<[Bytes; 2]> {
    let word = |text: &'static str| Bytes::from_static(text.as_bytes());
    match expiry {
        Expiry::Clear => None,
        Expiry::Keep => Some([word("KEEPTTL"), Bytes::new()]),
        Expiry::After(milliseconds) => Some([word("PX"), Bytes::from(milliseconds.to_string())]),
        Expiry::At(milliseconds) => Some([word("PXAT"), Bytes::from(milliseconds.to_string())]),
    }
}

/// The reply to `TTL` and its kin, Redis's way: -2 for a missing key, -1
/// for one without a deadline, and seconds rounded to the nearest.
pub(crate) fn ttl_reply(expiry: synod_kv::KeyExpiry, report: TtlReport) -> i64 {
    let synod_kv::KeyExpiry::At { deadline, now } = expiry else {
        return if expiry == synod_kv::KeyExpiry::Missing {
            -2
        } else {
            -1
        };
    };
    let deadline = i64::try_from(deadline.0).unwrap_or(i64::MAX);
    let now = i64::try_from(now.0).unwrap_or(i64::MAX);
    let milliseconds = match report {
        TtlReport::Seconds | TtlReport::Milliseconds => deadline.saturating_sub(now).max(0),
        TtlReport::UnixSeconds | TtlReport::UnixMilliseconds => deadline,
    };
    match report {
        TtlReport::Milliseconds | TtlReport::UnixMilliseconds => milliseconds,
        TtlReport::Seconds | TtlReport::UnixSeconds => {
            milliseconds.saturating_add(MILLISECONDS_PER_SECOND / 2) / MILLISECONDS_PER_SECOND
        }
    }
}
