//! The key-value commands: `GET`, `SET`, `DEL`, `EXISTS`.

use synod_kv::SetCondition;

use super::{keyword, Arguments, CommandError, CommandSpecification, Request};

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

fn parse_get(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::Get {
        key: arguments.next()?,
    })
}

/// `SET key value [NX|XX]`. The expiry options are refused by name rather
/// than as a syntax error, so a client learns why; `GET` (return the old
/// value) is refused as unsupported.
fn parse_set(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let key = arguments.next()?;
    let value = arguments.next()?;
    let mut condition = SetCondition::Always;
    while let Some(option) = arguments.next_optional() {
        let option = keyword(
            &option,
            &["NX", "XX", "EX", "PX", "EXAT", "PXAT", "KEEPTTL", "GET"],
        );
        condition = match (option, condition) {
            (Some("NX"), SetCondition::Always | SetCondition::IfAbsent) => SetCondition::IfAbsent,
            (Some("XX"), SetCondition::Always | SetCondition::IfPresent) => SetCondition::IfPresent,
            (Some("GET"), _) => return Err(CommandError::OptionUnsupported { option: "SET GET" }),
            (Some(option @ ("EX" | "PX" | "EXAT" | "PXAT" | "KEEPTTL")), _) => {
                return Err(CommandError::ExpiryUnsupported { option })
            }
            _ => return Err(CommandError::Syntax),
        };
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
