//! The commands about the server: `INFO` and `COMMAND`.

use super::{
    echoed, keyword, Arguments, CommandError, CommandQuery, CommandSpecification, Request,
};

pub(super) const INFO: CommandSpecification =
    CommandSpecification::without_keys("info", -1, &["loading", "stale"], parse_info);

pub(super) const CONFIG: CommandSpecification = CommandSpecification::without_keys(
    "config",
    -2,
    &["admin", "noscript", "loading", "stale"],
    parse_config,
);

/// `CONFIG GET parameter [parameter …]`: the few Redis parameters synod
/// shares the meaning of (see `reply::CONFIG_PARAMETERS`); any other is
/// answered empty, as Redis answers a parameter it does not know.
/// `CONFIG SET requirepass` (see `access`). Other subcommands are unknown.
fn parse_config(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let subcommand = arguments.next()?;
    if subcommand.eq_ignore_ascii_case(b"SET") {
        return super::access::parse_config_set(arguments);
    }
    if !subcommand.eq_ignore_ascii_case(b"GET") {
        return Err(CommandError::SubcommandUnknown {
            command: "config",
            subcommand: super::echoed(&subcommand),
        });
    }
    let parameters = arguments.rest();
    if parameters.is_empty() {
        return Err(CommandError::Arity {
            command: "config|get",
        });
    }
    Ok(Request::ConfigGet { parameters })
}

pub(super) const COMMAND: CommandSpecification =
    CommandSpecification::without_keys("command", -1, &["loading", "stale"], parse_command);

/// `INFO [section]`. Redis 7 accepts several sections; one is enough for
/// redis-cli and for people.
fn parse_info(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::Info {
        section: arguments.next_optional(),
    })
}

/// `COMMAND`, `COMMAND DOCS [name …]`, `COMMAND COUNT`.
fn parse_command(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let Some(subcommand) = arguments.next_optional() else {
        return Ok(Request::Command(CommandQuery::Table));
    };
    match keyword(&subcommand, &["DOCS", "COUNT"]) {
        Some("DOCS") => {
            // The names ask for documentation of particular commands; there
            // is none for any of them.
            arguments.rest();
            Ok(Request::Command(CommandQuery::Docs))
        }
        Some(_) => Ok(Request::Command(CommandQuery::Count)),
        None => Err(CommandError::SubcommandUnknown {
            command: "command",
            subcommand: echoed(&subcommand),
        }),
    }
}
