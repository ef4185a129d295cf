//! The commands about users: `AUTH`, `ACL` and its subcommands, and
//! `CONFIG SET requirepass` (see `synod_kv::access` for the model and where
//! the rights are enforced).
//!
//! Passwords are parsed as [`Password`], whose `Debug` shows no byte of
//! them, so that a logged request never leaks one. The server hashes them
//! before anything is proposed.

use std::fmt;

use bytes::Bytes;
use synod_kv::access::check_user_name;
use synod_kv::{Categories, Category, Rule};

use super::{echoed, keyword, Arguments, CommandError, CommandSpecification, Request};

pub(super) const AUTH: CommandSpecification = CommandSpecification::without_keys(
    "auth",
    -2,
    &["noscript", "loading", "stale", "fast", "no-auth"],
    parse_auth,
);

pub(super) const ACL: CommandSpecification =
    CommandSpecification::without_keys("acl", -2, &["admin", "noscript", "loading"], parse_acl);

/// A password as a client sent it: kept out of `Debug` output.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Password(pub Bytes);

impl fmt::Debug for Password {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Password(<{} bytes>)", self.0.len())
    }
}

/// One rule of `ACL SETUSER`, as parsed: the store's rules, and the
/// password rules whose password the server still has to hash or look up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AclRule {
    /// A rule the store takes as it is.
    Stored(Rule),
    /// `>password`.
    AddPassword(Password),
    /// `<password`.
    RemovePassword(Password),
}

/// An `ACL` subcommand.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AclRequest {
    /// `ACL SETUSER name [rule …]`.
    SetUser {
        /// The user.
        name: Bytes,
        /// The rules, in order.
        rules: Vec<AclRule>,
    },
    /// `ACL DELUSER name [name …]`: how many existed.
    DeleteUsers {
        /// The users.
        names: Vec<Bytes>,
    },
    /// `ACL GETUSER name`: the user's rules, or nil.
    GetUser {
        /// The user.
        name: Bytes,
    },
    /// `ACL LIST`: every user as the rules that make it.
    List,
    /// `ACL USERS`: every user's name.
    Users,
    /// `ACL WHOAMI`: the connection's user.
    WhoAmI,
    /// `ACL CAT [category]`: the categories, or the commands of one.
    Categories {
        /// The category asked about.
        category: Option<Bytes>,
    },
}

/// `AUTH [username] password`: one argument names the default user.
fn parse_auth(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let first = arguments.next()?;
    Ok(match arguments.next_optional() {
        None => Request::Auth {
            username: None,
            password: Password(first),
        },
        Some(password) => Request::Auth {
            username: Some(first),
            password: Password(password),
        },
    })
}

fn parse_acl(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let subcommand = arguments.next()?;
    let arity = |command| CommandError::Arity { command };
    let request = match keyword(
        &subcommand,
        &[
            "SETUSER", "DELUSER", "GETUSER", "LIST", "USERS", "WHOAMI", "CAT",
        ],
    ) {
        Some("SETUSER") => {
            let name = checked_name(arguments.next().map_err(|_| arity("acl|setuser"))?)?;
            let rules = arguments
                .rest()
                .iter()
                .filter_map(|word| parse_rule(word).transpose())
                .collect::<Result<_, _>>()?;
            AclRequest::SetUser { name, rules }
        }
        Some("DELUSER") => {
            let names = arguments.rest();
            if names.is_empty() {
                return Err(arity("acl|deluser"));
            }
            let names = names
                .into_iter()
                .map(checked_name)
                .collect::<Result<_, _>>()?;
            AclRequest::DeleteUsers { names }
        }
        Some("GETUSER") => AclRequest::GetUser {
            name: checked_name(arguments.next().map_err(|_| arity("acl|getuser"))?)?,
        },
        Some("LIST") => AclRequest::List,
        Some("USERS") => AclRequest::Users,
        Some("WHOAMI") => AclRequest::WhoAmI,
        Some(_) => AclRequest::Categories {
            category: arguments.next_optional(),
        },
        None => {
            return Err(CommandError::SubcommandUnknown {
                command: "acl",
                subcommand: echoed(&subcommand),
            })
        }
    };
    Ok(Request::Acl(request))
}

fn checked_name(name: Bytes) -> Result<Bytes, CommandError> {
    check_user_name(&name).map_err(|reason| CommandError::AclUserName { reason })?;
    Ok(name)
}

/// One `ACL SETUSER` rule, as Redis spells them. Rules about channels
/// (`&pattern`, `allchannels`, `resetchannels`) are accepted and do
/// nothing, since synod has no channels: clients that send Redis's full
/// rule sets keep working. `None` for those.
fn parse_rule(word: &[u8]) -> Result<Option<AclRule>, CommandError> {
    let stored = |rule| Ok(Some(AclRule::Stored(rule)));
    let refused = |reason: &'static str| {
        Err(CommandError::AclRule {
            rule: echoed(word),
            reason,
        })
    };
    match word {
        [b'>', password @ ..] => {
            return Ok(Some(AclRule::AddPassword(Password(
                Bytes::copy_from_slice(password),
            ))))
        }
        [b'<', password @ ..] => {
            return Ok(Some(AclRule::RemovePassword(Password(
                Bytes::copy_from_slice(password),
            ))))
        }
        [b'~', pattern @ ..] => {
            return stored(Rule::AddKeyPattern(Bytes::copy_from_slice(pattern)))
        }
        [b'&', ..] => return Ok(None),
        [sign @ (b'+' | b'-'), b'@', category @ ..] => {
            let categories = if category.eq_ignore_ascii_case(b"all") {
                Categories::ALL
            } else {
                match Category::from_name(category) {
                    Some(category) => Categories::of(category),
                    None => return refused("Unknown command or category name in ACL"),
                }
            };
            return stored(if *sign == b'+' {
                Rule::Allow(categories)
            } else {
                Rule::Deny(categories)
            });
        }
        [b'+' | b'-', ..] => {
            return refused("synod grants command categories only: +@read, +@write, +@admin, +@all")
        }
        [b'#' | b'!', ..] => return refused("synod takes passwords as >password, never as a hash"),
        _ => {}
    }
    let rules = [
        "on",
        "off",
        "nopass",
        "resetpass",
        "allcommands",
        "nocommands",
        "allkeys",
        "resetkeys",
        "reset",
        "allchannels",
        "resetchannels",
    ];
    match keyword(word, &rules) {
        Some("on") => stored(Rule::On),
        Some("off") => stored(Rule::Off),
        Some("nopass") => stored(Rule::NoPassword),
        Some("resetpass") => stored(Rule::ResetPasswords),
        Some("allcommands") => stored(Rule::Allow(Categories::ALL)),
        Some("nocommands") => stored(Rule::Deny(Categories::ALL)),
        Some("allkeys") => stored(Rule::AddKeyPattern(Bytes::from_static(b"*"))),
        Some("resetkeys") => stored(Rule::ResetKeys),
        Some("reset") => stored(Rule::Reset),
        Some(_) => Ok(None),
        None => refused("Syntax error"),
    }
}

/// `CONFIG SET requirepass password`: Redis's way to give the default user
/// a password (an empty one takes it away: `nopass`).
pub(super) fn parse_config_set(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let parameter = arguments.next()?;
    let value = arguments.next()?;
    if !parameter.eq_ignore_ascii_case(b"requirepass") {
        return Err(CommandError::ConfigParameterUnsupported {
            parameter: echoed(&parameter),
        });
    }
    Ok(Request::ConfigSetPassword {
        password: Password(value),
    })
}

impl AclRequest {
    /// The store operation, for the subcommands that are one as they are.
    pub(super) fn operation(&self) -> Option<synod_kv::Operation> {
        use synod_kv::{AccessOperation, Operation};
        let access = match self {
            AclRequest::DeleteUsers { names } => AccessOperation::DeleteUsers {
                names: names.clone(),
            },
            AclRequest::GetUser { name } => AccessOperation::ReadUser { name: name.clone() },
            AclRequest::List | AclRequest::Users => AccessOperation::ListUsers,
            AclRequest::SetUser { .. } | AclRequest::WhoAmI | AclRequest::Categories { .. } => {
                return None
            }
        };
        Some(Operation::Access(access))
    }
}
