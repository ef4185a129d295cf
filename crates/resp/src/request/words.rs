//! A request written back as the words a client sends: the client library
//! encodes its requests with this, and [`Request::parse`] of the result
//! gives the request back.

use bytes::Bytes;
use synod_kv::{ExpireCondition, Expiry, SetCondition};

use super::{expiry, AclRequest, AclRule, ClientAttribute, CommandQuery, HelloAuth, Request};
use crate::frame::{Frame, Protocol};
use synod_kv::{Categories, Category, Rule};

impl Request {
    /// The request as a frame, the way a client sends it: an array of bulk
    /// strings, command name in uppercase. [`Request::parse`] of it gives the
    /// request back.
    pub fn to_frame(&self) -> Frame {
        let mut words = Vec::new();
        self.push_words(&mut words);
        Frame::Array(words.into_iter().map(Frame::Bulk).collect())
    }

    fn push_words(&self, words: &mut Vec<Bytes>) {
        let mut push = |word: &'static str| words.push(Bytes::from_static(word.as_bytes()));
        match self {
            Request::Get { key } => {
                push("GET");
                words.push(key.clone());
            }
            Request::Exchange {
                key,
                value,
                condition,
            } => {
                set_words(words, key, value, *condition);
                words.push(Bytes::from_static(b"GET"));
            }
            Request::GetDel { key } => {
                push("GETDEL");
                words.push(key.clone());
            }
            Request::Append { key, value } => {
                push("APPEND");
                words.extend([key.clone(), value.clone()]);
            }
            Request::DbSize => push("DBSIZE"),
            Request::MGet { keys } => {
                push("MGET");
                words.extend(keys.iter().cloned());
            }
            Request::SetRange { key, offset, value } => {
                push("SETRANGE");
                words.extend([key.clone(), Bytes::from(offset.to_string()), value.clone()]);
            }
            Request::Rename {
                from,
                to,
                only_if_absent,
            } => {
                push(if *only_if_absent {
                    "RENAMENX"
                } else {
                    "RENAME"
                });
                words.extend([from.clone(), to.clone()]);
            }
            Request::Copy { from, to, replace } => {
                push("COPY");
                words.extend([from.clone(), to.clone()]);
                if *replace {
                    words.push(Bytes::from_static(b"REPLACE"));
                }
            }
            Request::Flush => push("FLUSHALL"),
            Request::Keys { pattern } => {
                push("KEYS");
                words.push(pattern.clone());
            }
            Request::Scan {
                cursor,
                pattern,
                count,
                type_filter,
            } => {
                push("SCAN");
                words.push(Bytes::from(cursor.to_string()));
                if let Some(pattern) = pattern {
                    words.extend([Bytes::from_static(b"MATCH"), pattern.clone()]);
                }
                words.extend([Bytes::from_static(b"COUNT"), Bytes::from(count.to_string())]);
                if let Some(name) = type_filter {
                    words.extend([Bytes::from_static(b"TYPE"), name.clone()]);
                }
            }
            Request::RandomKey => push("RANDOMKEY"),
            Request::SetMany { pairs, condition } => {
                push(if *condition == SetCondition::IfAbsent {
                    "MSETNX"
                } else {
                    "MSET"
                });
                for (key, value) in pairs {
                    words.extend([key.clone(), value.clone()]);
                }
            }
            Request::SetIfAbsent { key, value } => {
                push("SETNX");
                words.extend([key.clone(), value.clone()]);
            }
            Request::StringLength { key } => {
                push("STRLEN");
                words.push(key.clone());
            }
            Request::GetRange { key, start, end } => {
                push("GETRANGE");
                words.extend([
                    key.clone(),
                    Bytes::from(start.to_string()),
                    Bytes::from(end.to_string()),
                ]);
            }
            Request::Type { key } => {
                push("TYPE");
                words.push(key.clone());
            }
            Request::IncrementBy { key, delta } => {
                push("INCRBY");
                words.extend([key.clone(), Bytes::from(delta.to_string())]);
            }
            Request::IncrementByFloat { key, increment } => {
                push("INCRBYFLOAT");
                words.extend([key.clone(), increment.clone()]);
            }
            Request::Set {
                key,
                value,
                condition,
            } => set_words(words, key, value, *condition),
            Request::SetExpiring {
                key,
                value,
                condition,
                expiry,
                answer_previous,
                command,
            } => expiring_set_words(
                words,
                [key, value],
                *condition,
                *expiry,
                *answer_previous,
                command,
            ),
            Request::Expire {
                key,
                expiry,
                condition,
                command,
            } => expire_words(words, key, *expiry, *condition, command),
            Request::Ttl { key, report } => {
                words.push(Bytes::from(report.name().to_ascii_uppercase()));
                words.push(key.clone());
            }
            Request::Persist { key } => {
                push("PERSIST");
                words.push(key.clone());
            }
            Request::Multi => push("MULTI"),
            Request::Exec | Request::Queued { .. } | Request::Refused { .. } => push("EXEC"),
            Request::Discard => push("DISCARD"),
            Request::Watch { keys } => {
                push("WATCH");
                words.extend(keys.iter().cloned());
            }
            Request::Unwatch => push("UNWATCH"),
            Request::GetEx { key, expiry } => {
                push("GETEX");
                words.push(key.clone());
                let word = |text: &'static str| Bytes::from_static(text.as_bytes());
                match expiry {
                    Expiry::Keep => {}
                    Expiry::Clear => words.push(word("PERSIST")),
                    Expiry::After(milliseconds) => {
                        words.extend([word("PX"), Bytes::from(milliseconds.to_string())]);
                    }
                    Expiry::At(milliseconds) => {
                        words.extend([word("PXAT"), Bytes::from(milliseconds.to_string())]);
                    }
                }
            }
            Request::Del { keys } => {
                push("DEL");
                words.extend(keys.iter().cloned());
            }
            Request::Exists { keys } => {
                push("EXISTS");
                words.extend(keys.iter().cloned());
            }
            Request::Ping { message } => {
                push("PING");
                words.extend(message.iter().cloned());
            }
            Request::Echo { message } => {
                push("ECHO");
                words.push(message.clone());
            }
            Request::Quit => push("QUIT"),
            Request::Info { section } => {
                push("INFO");
                words.extend(section.iter().cloned());
            }
            Request::ConfigGet { parameters } => {
                push("CONFIG");
                push("GET");
                words.extend(parameters.iter().cloned());
            }
            Request::Command(query) => {
                push("COMMAND");
                match query {
                    CommandQuery::Table => {}
                    CommandQuery::Docs => words.push(Bytes::from_static(b"DOCS")),
                    CommandQuery::Count => words.push(Bytes::from_static(b"COUNT")),
                }
            }
            Request::Auth { username, password } => {
                push("AUTH");
                words.extend(username.iter().cloned());
                words.push(password.0.clone());
            }
            Request::ConfigSetPassword { password } => {
                push("CONFIG");
                push("SET");
                push("requirepass");
                words.push(password.0.clone());
            }
            Request::Acl(acl) => {
                push("ACL");
                acl_words(acl, words);
            }
            Request::Hello {
                protocol,
                auth,
                client_name,
            } => {
                push("HELLO");
                if let Some(protocol) = protocol {
                    push(match protocol {
                        Protocol::Resp2 => "2",
                        Protocol::Resp3 => "3",
                    });
                }
                if let Some(HelloAuth { username, password }) = auth {
                    words.extend([
                        Bytes::from_static(b"AUTH"),
                        username.clone(),
                        password.0.clone(),
                    ]);
                }
                if let Some(name) = client_name {
                    words.extend([Bytes::from_static(b"SETNAME"), name.clone()]);
                }
            }
            Request::ClientSetName { name } => {
                words.extend(["CLIENT", "SETNAME"].map(|word| Bytes::from_static(word.as_bytes())));
                words.push(name.clone());
            }
            Request::ClientGetName => client_words(words, "GETNAME"),
            Request::ClientId => client_words(words, "ID"),
            Request::ClientInfo => client_words(words, "INFO"),
            Request::ClientSetInfo { attribute, value } => {
                client_words(words, "SETINFO");
                words.push(Bytes::from_static(match attribute {
                    ClientAttribute::LibraryName => b"LIB-NAME",
                    ClientAttribute::LibraryVersion => b"LIB-VER",
                }));
                words.push(value.clone());
            }
            Request::Select => {
                push("SELECT");
                push("0");
            }
            Request::ReadOnly => push("READONLY"),
            Request::ReadWrite => push("READWRITE"),
            Request::SessionRegister => push("SYNOD.SESSION"),
            Request::Tagged { tag, write } => {
                push("SYNOD.TAGGED");
                words.push(Bytes::from(tag.session.0.to_string()));
                words.push(Bytes::from(tag.sequence.0.to_string()));
                write.push_words(words);
            }
        }
    }
}

/// `SET key value [NX|XX] [GET] <expiry>`, or `SETEX`/`PSETEX key time
/// value`, as a client sends it.
fn expiring_set_words(
    words: &mut Vec<Bytes>,
    [key, value]: [&Bytes; 2],
    condition: SetCondition,
    expiry: Expiry,
    answer_previous: bool,
    command: &'static str,
) {
    if let (Expiry::After(milliseconds), "setex" | "psetex") = (expiry, command) {
        let time = if command == "setex" {
            milliseconds / 1_000
        } else {
            milliseconds
        };
        words.extend([
            Bytes::from(command.to_ascii_uppercase()),
            key.clone(),
            Bytes::from(time.to_string()),
            value.clone(),
        ]);
        return;
    }
    set_words(words, key, value, condition);
    if answer_previous {
        words.push(Bytes::from_static(b"GET"));
    }
    if let Some([option, time]) = expiry::set_expiry_words(expiry) {
        words.push(option);
        if !time.is_empty() {
            words.push(time);
        }
    }
}

/// `EXPIRE` and its kin as a client sends them, in milliseconds
/// (`PEXPIRE`, `PEXPIREAT`) unless the command counts in seconds.
fn expire_words(
    words: &mut Vec<Bytes>,
    key: &Bytes,
    expiry: Expiry,
    condition: ExpireCondition,
    command: &'static str,
) {
    let milliseconds = match expiry {
        Expiry::After(milliseconds) | Expiry::At(milliseconds) => milliseconds,
        Expiry::Clear | Expiry::Keep => 0,
    };
    let time = if command.starts_with('p') {
        milliseconds
    } else {
        milliseconds / 1_000
    };
    words.extend([
        Bytes::from(command.to_ascii_uppercase()),
        key.clone(),
        Bytes::from(time.to_string()),
    ]);
    let options: &[&'static str] = match condition {
        ExpireCondition::Always => &[],
        ExpireCondition::IfNone => &["NX"],
        ExpireCondition::IfSome => &["XX"],
        ExpireCondition::IfLater => &["GT"],
        ExpireCondition::IfEarlier => &["LT"],
        ExpireCondition::IfSomeAndEarlier => &["XX", "LT"],
    };
    words.extend(
        options
            .iter()
            .map(|option| Bytes::from_static(option.as_bytes())),
    );
}

fn client_words(words: &mut Vec<Bytes>, subcommand: &'static str) {
    words.push(Bytes::from_static(b"CLIENT"));
    words.push(Bytes::from_static(subcommand.as_bytes()));
}

/// `SET key value [NX|XX]`, as a client sends it.
fn set_words(words: &mut Vec<Bytes>, key: &Bytes, value: &Bytes, condition: SetCondition) {
    words.extend([Bytes::from_static(b"SET"), key.clone(), value.clone()]);
    match condition {
        SetCondition::Always => {}
        SetCondition::IfAbsent => words.push(Bytes::from_static(b"NX")),
        SetCondition::IfPresent => words.push(Bytes::from_static(b"XX")),
    }
}

/// The words after `ACL`.
fn acl_words(acl: &AclRequest, words: &mut Vec<Bytes>) {
    let mut push = |word: &'static str| words.push(Bytes::from_static(word.as_bytes()));
    match acl {
        AclRequest::SetUser { .. } => push("SETUSER"),
        AclRequest::DeleteUsers { .. } => push("DELUSER"),
        AclRequest::GetUser { .. } => push("GETUSER"),
        AclRequest::List => push("LIST"),
        AclRequest::Users => push("USERS"),
        AclRequest::WhoAmI => push("WHOAMI"),
        AclRequest::Categories { .. } => push("CAT"),
    }
    match acl {
        AclRequest::SetUser { name, rules } => {
            words.push(name.clone());
            words.extend(rules.iter().map(rule_word));
        }
        AclRequest::DeleteUsers { names } => words.extend(names.iter().cloned()),
        AclRequest::GetUser { name } => words.push(name.clone()),
        AclRequest::Categories { category } => words.extend(category.iter().cloned()),
        AclRequest::List | AclRequest::Users | AclRequest::WhoAmI => {}
    }
}

/// A rule as `ACL SETUSER` spells it.
fn rule_word(rule: &AclRule) -> Bytes {
    let prefixed = |prefix: u8, bytes: &[u8]| {
        let mut word = Vec::with_capacity(1 + bytes.len());
        word.push(prefix);
        word.extend_from_slice(bytes);
        Bytes::from(word)
    };
    let categories = |sign: u8, categories: Categories| {
        let name = if categories == Categories::ALL {
            "all"
        } else {
            Category::ALL
                .into_iter()
                .find(|category| categories == Categories::of(*category))
                .map_or("all", Category::name)
        };
        prefixed(sign, format!("@{name}").as_bytes())
    };
    match rule {
        AclRule::AddPassword(password) => prefixed(b'>', &password.0),
        AclRule::RemovePassword(password) => prefixed(b'<', &password.0),
        AclRule::Stored(rule) => match rule {
            Rule::On => Bytes::from_static(b"on"),
            Rule::Off => Bytes::from_static(b"off"),
            Rule::NoPassword => Bytes::from_static(b"nopass"),
            Rule::ResetPasswords => Bytes::from_static(b"resetpass"),
            Rule::Allow(allowed) => categories(b'+', *allowed),
            Rule::Deny(denied) => categories(b'-', *denied),
            Rule::AddKeyPattern(pattern) => prefixed(b'~', pattern),
            Rule::ResetKeys => Bytes::from_static(b"resetkeys"),
            Rule::Reset => Bytes::from_static(b"reset"),
            Rule::AddPassword(_) | Rule::RemovePassword(_) => {
                unreachable!("a parsed rule carries its password in the clear")
            }
        },
    }
}
