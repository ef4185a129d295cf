//! The commands about the connection: `PING`, `ECHO`, `QUIT`, `SELECT`,
//! `HELLO`, `CLIENT`, `READONLY`, `READWRITE`.

use bytes::Bytes;

use super::{
    echoed, keyword, parse_signed, Arguments, ClientAttribute, CommandError, CommandSpecification,
    HelloAuth, Request,
};
use crate::frame::Protocol;
use crate::limits::CLIENT_NAME_SIZE_MAX_BYTES;

pub(super) const PING: CommandSpecification =
    CommandSpecification::without_keys("ping", -1, &["fast"], parse_ping);

pub(super) const ECHO: CommandSpecification =
    CommandSpecification::without_keys("echo", 2, &["fast"], parse_echo);

pub(super) const QUIT: CommandSpecification =
    CommandSpecification::without_keys("quit", -1, &["fast"], parse_quit);

pub(super) const SELECT: CommandSpecification =
    CommandSpecification::without_keys("select", 2, &["loading", "stale", "fast"], parse_select);

pub(super) const READONLY: CommandSpecification = CommandSpecification::without_keys(
    "readonly",
    1,
    &["loading", "stale", "fast"],
    parse_read_only,
);

pub(super) const READWRITE: CommandSpecification = CommandSpecification::without_keys(
    "readwrite",
    1,
    &["loading", "stale", "fast"],
    parse_read_write,
);

pub(super) const HELLO: CommandSpecification =
    CommandSpecification::without_keys("hello", -1, &["loading", "stale", "fast"], parse_hello);

pub(super) const CLIENT: CommandSpecification =
    CommandSpecification::without_keys("client", -2, &["loading", "stale"], parse_client);

/// `PING [message]`: at most one argument, as in Redis.
fn parse_ping(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::Ping {
        message: arguments.next_optional(),
    })
}

fn parse_echo(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::Echo {
        message: arguments.next()?,
    })
}

/// `QUIT` ignores any arguments, as Redis does: the client is leaving.
fn parse_quit(arguments: &mut Arguments) -> Result<Request, CommandError> {
    arguments.rest();
    Ok(Request::Quit)
}

fn parse_read_only(_: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::ReadOnly)
}

fn parse_read_write(_: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::ReadWrite)
}

fn parse_select(arguments: &mut Arguments) -> Result<Request, CommandError> {
    match parse_signed(&arguments.next()?)? {
        0 => Ok(Request::Select),
        _ => Err(CommandError::DatabaseOutOfRange),
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME name]]`, parsed as
/// Redis 7 parses it: the version first (2 or 3), then the options in any
/// order, an option missing its arguments a syntax error naming it.
fn parse_hello(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let Some(version) = arguments.next_optional() else {
        return Ok(Request::Hello {
            protocol: None,
            auth: None,
            client_name: None,
        });
    };
    let protocol = match parse_signed(&version) {
        Ok(2) => Protocol::Resp2,
        Ok(3) => Protocol::Resp3,
        Ok(_) => return Err(CommandError::ProtocolVersionUnsupported),
        Err(_) => return Err(CommandError::ProtocolVersionNotInteger),
    };
    let mut auth = None;
    let mut client_name = None;
    while let Some(option) = arguments.next_optional() {
        let syntax = || CommandError::HelloOption {
            option: echoed(&option),
        };
        match keyword(&option, &["SETNAME", "AUTH"]) {
            Some("SETNAME") => {
                let name = arguments.next_optional().ok_or_else(syntax)?;
                client_name = Some(checked_client_name(name)?);
            }
            Some(_) => {
                let username = arguments.next_optional().ok_or_else(syntax)?;
                let password = arguments.next_optional().ok_or_else(syntax)?;
                auth = Some(HelloAuth {
                    username,
                    password: super::Password(password),
                });
            }
            None => return Err(syntax()),
        }
    }
    Ok(Request::Hello {
        protocol: Some(protocol),
        auth,
        client_name,
    })
}

/// `CLIENT SETNAME name | GETNAME | ID | INFO | SETINFO attribute value`.
fn parse_client(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let subcommand = arguments.next()?;
    match keyword(
        &subcommand,
        &["SETNAME", "GETNAME", "ID", "INFO", "SETINFO"],
    ) {
        Some("SETNAME") => Ok(Request::ClientSetName {
            name: checked_client_name(arguments.next()?)?,
        }),
        Some("GETNAME") => Ok(Request::ClientGetName),
        Some("ID") => Ok(Request::ClientId),
        Some("INFO") => Ok(Request::ClientInfo),
        Some(_) => {
            let attribute = arguments.next()?;
            let attribute = match keyword(&attribute, &["LIB-NAME", "LIB-VER"]) {
                Some("LIB-NAME") => ClientAttribute::LibraryName,
                Some(_) => ClientAttribute::LibraryVersion,
                None => {
                    return Err(CommandError::ClientAttributeUnknown {
                        attribute: echoed(&attribute),
                    })
                }
            };
            Ok(Request::ClientSetInfo {
                attribute,
                value: checked_client_name(arguments.next()?)?,
            })
        }
        None => Err(CommandError::SubcommandUnknown {
            command: "client",
            subcommand: echoed(&subcommand),
        }),
    }
}

/// A client name (or library name or version): bounded, printable, no
/// spaces, since `CLIENT INFO` prints it between spaces.
fn checked_client_name(name: Bytes) -> Result<Bytes, CommandError> {
    if name.len() > CLIENT_NAME_SIZE_MAX_BYTES {
        return Err(CommandError::ClientNameTooLong);
    }
    if !name.iter().all(|byte| (b'!'..=b'~').contains(byte)) {
        return Err(CommandError::ClientNameInvalid);
    }
    Ok(name)
}
