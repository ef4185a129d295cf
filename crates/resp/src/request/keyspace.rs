//! The keyspace commands that move, copy or drop values whole: `RENAME`,
//! `RENAMENX`, `COPY`, `FLUSHALL`, `FLUSHDB`.

use super::{keyword, Arguments, CommandError, CommandSpecification, Request};

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
