//! The replies about users: `-NOAUTH` and `-NOPERM` as Redis words them,
//! and what `ACL LIST`, `ACL GETUSER`, `ACL USERS` and `ACL CAT` answer.

use std::fmt::Write as _;

use bytes::Bytes;
use synod_kv::{Categories, Category, Denial, User};

use crate::frame::Frame;
use crate::reply::error_code;
use crate::request::{AclRequest, COMMANDS};

/// `-NOAUTH Authentication required.`: a connection that has not
/// authenticated, on a cluster whose default user has a password.
pub fn authentication_required() -> Frame {
    Frame::Error(format!(
        "{} Authentication required.",
        error_code::NO_AUTHENTICATION
    ))
}

/// The reply to a command the store refused for its principal.
/// `command` names the command, as Redis 7.0's message does.
pub fn denied(denial: Denial, command: &str) -> Frame {
    let message = match denial {
        Denial::AuthenticationRequired => return authentication_required(),
        Denial::Category(_) => {
            format!("this user has no permissions to run the '{command}' command")
        }
        Denial::Key => {
            "this user has no permissions to access one of the keys used as arguments".to_owned()
        }
        Denial::UserRemoved => {
            "the user this connection authenticated as was removed; authenticate again".to_owned()
        }
    };
    Frame::Error(format!("{} {message}", error_code::NO_PERMISSION))
}

/// The reply to a read of users, shaped for the `ACL` subcommand asked.
pub fn users_reply(request: &AclRequest, users: &[User]) -> Option<Frame> {
    match request {
        AclRequest::List => Some(Frame::Array(
            users
                .iter()
                .map(|user| Frame::Bulk(Bytes::from(rules_line(user))))
                .collect(),
        )),
        AclRequest::Users => {
            let mut names: Vec<&Bytes> = users.iter().map(|user| &user.name).collect();
            names.sort();
            Some(Frame::Array(
                names.into_iter().cloned().map(Frame::Bulk).collect(),
            ))
        }
        AclRequest::GetUser { .. } => Some(users.first().map_or(Frame::Null, user_map)),
        _ => None,
    }
}

/// A user as `ACL LIST` shows it: `user <name> on|off [nopass]
/// [#<digest>…] [~pattern…] resetchannels -@all [+@category…]`. The
/// digests are of salted hashes, so they identify passwords without
/// revealing them, and cannot be fed back as rules.
fn rules_line(user: &User) -> String {
    let mut line = String::from("user ");
    line.push_str(&String::from_utf8_lossy(&user.name));
    line.push_str(if user.enabled { " on" } else { " off" });
    for flag in password_flags(user) {
        line.push(' ');
        line.push_str(&flag);
    }
    for pattern in &user.key_patterns {
        line.push_str(" ~");
        line.push_str(&String::from_utf8_lossy(pattern));
    }
    line.push_str(" resetchannels ");
    line.push_str(&commands_text(user.categories));
    line
}

fn password_flags(user: &User) -> Vec<String> {
    let mut flags = Vec::new();
    if user.no_password {
        flags.push("nopass".to_owned());
    }
    for hash in &user.passwords {
        flags.push(format!("#{}", hex(&hash.digest)));
    }
    flags
}

/// The categories as rules: `+@all`, or `-@all` then each one granted.
fn commands_text(categories: Categories) -> String {
    if categories == Categories::ALL {
        return "+@all".to_owned();
    }
    let mut text = String::from("-@all");
    for category in Category::ALL {
        if categories.contains(category) {
            let _ = write!(text, " +@{}", category.name());
        }
    }
    text
}

/// `ACL GETUSER`'s map: flags, passwords, commands, keys, channels.
fn user_map(user: &User) -> Frame {
    let bulk = |text: String| Frame::Bulk(Bytes::from(text));
    let mut flags = vec![bulk(if user.enabled { "on" } else { "off" }.to_owned())];
    if user.no_password {
        flags.push(bulk("nopass".to_owned()));
    }
    let passwords = user
        .passwords
        .iter()
        .map(|hash| bulk(hex(&hash.digest)))
        .collect();
    let keys = user
        .key_patterns
        .iter()
        .map(|pattern| format!("~{}", String::from_utf8_lossy(pattern)))
        .collect::<Vec<_>>()
        .join(" ");
    Frame::Map(vec![
        (bulk("flags".to_owned()), Frame::Array(flags)),
        (bulk("passwords".to_owned()), Frame::Array(passwords)),
        (
            bulk("commands".to_owned()),
            bulk(commands_text(user.categories)),
        ),
        (bulk("keys".to_owned()), bulk(keys)),
        (bulk("channels".to_owned()), bulk(String::new())),
        (bulk("selectors".to_owned()), Frame::Array(Vec::new())),
    ])
}

/// `ACL CAT`: the categories; `ACL CAT category`: its commands.
pub fn categories_reply(category: Option<&Bytes>) -> Frame {
    let bulk = |text: &str| Frame::Bulk(Bytes::copy_from_slice(text.as_bytes()));
    let Some(name) = category else {
        return Frame::Array(
            Category::ALL
                .iter()
                .map(|category| bulk(category.name()))
                .collect(),
        );
    };
    let Some(category) = Category::from_name(name) else {
        return crate::reply::error(format_args!(
            "Unknown category '{}'",
            crate::request::echoed(name)
        ));
    };
    Frame::Array(
        COMMANDS
            .iter()
            .filter(|command| command_category(command.flags) == Some(category))
            .map(|command| bulk(command.name))
            .collect(),
    )
}

/// The category of a command of the table, from its Redis flags: what
/// `ACL CAT` lists. The store decides from the operation itself, so the
/// two agree as long as the flags do.
fn command_category(flags: &[&str]) -> Option<Category> {
    if flags.contains(&"admin") {
        Some(Category::Admin)
    } else if flags.contains(&"write") {
        Some(Category::Write)
    } else if flags.contains(&"readonly") {
        Some(Category::Read)
    } else {
        None
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}
