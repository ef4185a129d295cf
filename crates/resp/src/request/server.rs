//! The commands about the server: `INFO` and `COMMAND`.

use super::{
    echoed, keyword, Arguments, CommandError, CommandQuery, CommandSpecification, Request,
};

pub(super) const INFO: CommandSpecification =
    CommandSpecification::without_keys("info", -1, &["loading", "stale"], parse_info);

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
