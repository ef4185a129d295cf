//! The keyspace commands: `RENAME`, `RENAMENX`, `COPY`, `FLUSHALL`,
//! `FLUSHDB`, and the whole-keyspace reads `KEYS`, `SCAN`, `RANDOMKEY`.

use super::{keyword, parse_unsigned, Arguments, CommandError, CommandSpecification, Request};

pub(super) const KEYS: CommandSpecification =
    CommandSpecification::without_keys("keys", 2, &["readonly"], parse_keys);

pub(super) const SCAN: CommandSpecification =
    CommandSpecification::without_keys("scan", -2, &["readonly"], parse_scan);

pub(super) const RANDOMKEY: CommandSpecification =
    CommandSpecification::without_keys("randomkey", 1, &["readonly"], |_| Ok(Request::RandomKey));

/// `SCAN`'s `COUNT` when none is given, as in Redis.
const SCAN_COUNT_DEFAULT: u64 = 10;

fn parse_keys(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::Keys {
        pattern: arguments.next()?,
    })
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`, with Redis's
/// errors.
fn parse_scan(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let cursor = parse_unsigned(&arguments.next()?).map_err(|_| CommandError::CursorInvalid)?;
    let (mut pattern, mut count, mut type_filter) = (None, SCAN_COUNT_DEFAULT, None);
    while let Some(option) = arguments.next_optional() {
        let value = arguments.next_or_syntax()?;
        match keyword(&option, &["MATCH", "COUNT", "TYPE"]) {
            Some("MATCH") => pattern = Some(value),
            Some("COUNT") => {
                count = super::parse_signed(&value)?
                    .try_into()
                    .ok()
                    .filter(|count| *count >= 1)
                    .ok_or(CommandError::Syntax)?;
            }
            Some(_) => type_filter = Some(value),
            None => return Err(CommandError::Syntax),
        }
    }
    Ok(Request::Scan {
        cursor,
        pattern,
        count,
        type_filter,
    })
}

pub(super) const RENAME: CommandSpecification =
    CommandSpecification::with_keys("rename", 3, &["write"], [1, 2, 1], parse_rename);

pub(super) const RENAMENX: CommandSpecification =
    CommandSpecification::with_keys("renamenx", 3, &["write", "fast"], [1, 2, 1], parse_renamenx);

pub(super) const COPY: CommandSpecification =
    CommandSpecification::with_keys("copy", -3, &["write", "denyoom"], [1, 2, 1], parse_copy);

pub(super) const FLUSHALL: CommandSpecification =
    CommandSpecification::without_keys("flushall", -1, &["write"], parse_flush);

pub(super) const FLUSHDB: CommandSpecification =
    CommandSpecification::without_keys("flushdb", -1, &["write"], parse_flush);

fn parse_rename(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let from = arguments.next()?;
    let to = arguments.next()?;
    Ok(Request::Rename {
        from,
        to,
        only_if_absent: false,
    })
}

fn parse_renamenx(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let from = arguments.next()?;
    let to = arguments.next()?;
    Ok(Request::Rename {
        from,
        to,
        only_if_absent: true,
    })
}

/// `COPY source destination [DB 0] [REPLACE]`: synod has one database, so
/// `DB` accepts only 0.
fn parse_copy(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let from = arguments.next()?;
    let to = arguments.next()?;
    let mut replace = false;
    while let Some(option) = arguments.next_optional() {
        match keyword(&option, &["REPLACE", "DB"]) {
            Some("REPLACE") => replace = true,
            Some(_) => {
                let database = arguments.next_or_syntax()?;
                if super::parse_signed(&database)? != 0 {
                    return Err(CommandError::DatabaseOutOfRange);
                }
            }
            None => return Err(CommandError::Syntax),
        }
    }
    Ok(Request::Copy { from, to, replace })
}

/// `FLUSHALL`/`FLUSHDB [ASYNC|SYNC]`: synod always flushes in the log
/// entry, so both modes mean the same.
fn parse_flush(arguments: &mut Arguments) -> Result<Request, CommandError> {
    match arguments.rest().as_slice() {
        [] => Ok(Request::Flush),
        [mode] if keyword(mode, &["ASYNC", "SYNC"]).is_some() => Ok(Request::Flush),
        _ => Err(CommandError::Syntax),
    }
}
