//! `AUTH`, `ACL …` and `CONFIG SET requirepass`: parsing, the words the
//! client library sends, and the replies about users.

use bytes::Bytes;
use synod_kv::{Categories, Category, Denial, PasswordHash, Response, Rule, User, UserId};
use synod_resp::reply::reply_for;
use synod_resp::{AclRequest, AclRule, CommandError, Frame, Password, Request};

mod common;

use common::{bytes, parse};

#[test]
fn auth_takes_a_password_or_a_user_and_a_password() {
    assert_eq!(
        parse(&[b"AUTH", b"secret"]),
        Ok(Request::Auth {
            username: None,
            password: Password(bytes("secret")),
        })
    );
    assert_eq!(
        parse(&[b"auth", b"alice", b"secret"]),
        Ok(Request::Auth {
            username: Some(bytes("alice")),
            password: Password(bytes("secret")),
        })
    );
    assert!(matches!(parse(&[b"AUTH"]), Err(CommandError::Arity { .. })));
    assert!(matches!(
        parse(&[b"AUTH", b"a", b"b", b"c"]),
        Err(CommandError::Arity { .. })
    ));
}

#[test]
fn a_password_never_shows_in_debug_output() {
    let request = parse(&[b"ACL", b"SETUSER", b"alice", b">hunter2", b"<swordfish"]).unwrap();
    let shown = format!("{request:?}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("swordfish"),
        "{shown}"
    );
    let auth = format!("{:?}", parse(&[b"AUTH", b"alice", b"hunter2"]).unwrap());
    assert!(!auth.contains("hunter2"), "{auth}");
}

#[test]
fn setuser_parses_the_rules_redis_spells() {
    let request = parse(&[
        b"ACL",
        b"SETUSER",
        b"alice",
        b"reset",
        b"on",
        b">pw",
        b"<old",
        b"~cache:*",
        b"allkeys",
        b"+@read",
        b"-@write",
        b"+@ALL",
        b"nocommands",
        b"allcommands",
        b"nopass",
        b"resetpass",
        b"resetkeys",
        b"off",
        b"&*",
        b"resetchannels",
        b"allchannels",
    ])
    .unwrap();
    let stored = AclRule::Stored;
    assert_eq!(
        request,
        Request::Acl(AclRequest::SetUser {
            name: bytes("alice"),
            rules: vec![
                stored(Rule::Reset),
                stored(Rule::On),
                AclRule::AddPassword(Password(bytes("pw"))),
                AclRule::RemovePassword(Password(bytes("old"))),
                stored(Rule::AddKeyPattern(bytes("cache:*"))),
                stored(Rule::AddKeyPattern(bytes("*"))),
                stored(Rule::Allow(Categories::of(Category::Read))),
                stored(Rule::Deny(Categories::of(Category::Write))),
                stored(Rule::Allow(Categories::ALL)),
                stored(Rule::Deny(Categories::ALL)),
                stored(Rule::Allow(Categories::ALL)),
                stored(Rule::NoPassword),
                stored(Rule::ResetPasswords),
                stored(Rule::ResetKeys),
                stored(Rule::Off),
            ],
        })
    );
    // What the client library sends parses back to the same request.
    assert_eq!(Request::parse(request.to_frame()), Ok(request));
}

#[test]
fn rules_synod_does_not_take_are_refused_with_the_reason() {
    for (rule, reason) in [
        (&b"+get"[..], "command categories only"),
        (b"+@dangerous", "Unknown command or category"),
        (b"#5e884898da28", "never as a hash"),
        (b"bogus", "Syntax error"),
    ] {
        let error = parse(&[b"ACL", b"SETUSER", b"alice", rule]).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("Error in ACL SETUSER modifier") && text.contains(reason),
            "{text}"
        );
    }
    assert!(matches!(
        parse(&[b"ACL", b"SETUSER", b"two words"]),
        Err(CommandError::AclUserName { .. })
    ));
    assert!(matches!(
        parse(&[b"ACL", b"DELUSER"]),
        Err(CommandError::Arity { .. })
    ));
    assert!(matches!(
        parse(&[b"ACL", b"LOAD"]),
        Err(CommandError::SubcommandUnknown { .. })
    ));
}

#[test]
fn denials_are_worded_as_redis_words_them() {
    let set = parse(&[b"SET", b"k", b"v"]).unwrap();
    let reply = |denial| reply_for(&Response::Denied(denial), &set);
    assert_eq!(
        reply(Denial::AuthenticationRequired),
        Frame::Error("NOAUTH Authentication required.".to_owned())
    );
    assert_eq!(
        reply(Denial::Category(Category::Write)),
        Frame::Error("NOPERM this user has no permissions to run the 'set' command".to_owned())
    );
    assert!(matches!(reply(Denial::Key), Frame::Error(text) if text.starts_with("NOPERM ")));
    // A tagged write is refused as the command it wraps.
    let tagged = parse(&[b"SYNOD.TAGGED", b"1", b"1", b"DEL", b"k"]).unwrap();
    assert_eq!(
        reply_for(
            &Response::Denied(Denial::Category(Category::Write)),
            &tagged
        ),
        Frame::Error("NOPERM this user has no permissions to run the 'del' command".to_owned())
    );
    assert!(
        matches!(reply(Denial::UserRemoved), Frame::Error(text) if text.starts_with("NOPERM "))
    );
}

#[test]
fn acl_list_users_and_getuser_show_the_rules_and_no_password() {
    let alice = User {
        id: UserId(1),
        name: bytes("alice"),
        enabled: true,
        no_password: false,
        passwords: vec![PasswordHash {
            iterations: 10_000,
            salt: Bytes::from(vec![7; 16]),
            digest: Bytes::from(vec![0xab; 32]),
        }],
        categories: Categories::of(Category::Read),
        key_patterns: vec![bytes("cache:*")],
    };
    let list = parse(&[b"ACL", b"LIST"]).unwrap();
    let Frame::Array(lines) = reply_for(&Response::Users(vec![alice.clone()]), &list) else {
        panic!("ACL LIST answers an array");
    };
    let expected = format!(
        "user alice on #{} ~cache:* resetchannels -@all +@read",
        "ab".repeat(32)
    );
    assert_eq!(lines, vec![Frame::Bulk(Bytes::from(expected))]);
    let users = parse(&[b"ACL", b"USERS"]).unwrap();
    assert_eq!(
        reply_for(&Response::Users(vec![alice.clone()]), &users),
        Frame::Array(vec![Frame::Bulk(bytes("alice"))])
    );
    let get = parse(&[b"ACL", b"GETUSER", b"alice"]).unwrap();
    assert!(matches!(
        reply_for(&Response::Users(vec![alice]), &get),
        Frame::Map(_)
    ));
    assert_eq!(reply_for(&Response::Users(Vec::new()), &get), Frame::Null);
}

#[test]
fn acl_cat_lists_the_categories_and_their_commands() {
    let Frame::Array(categories) = synod_resp::acl::categories_reply(None) else {
        panic!("an array");
    };
    assert_eq!(categories.len(), 3);
    let Frame::Array(reads) = synod_resp::acl::categories_reply(Some(&bytes("read"))) else {
        panic!("an array");
    };
    assert!(reads.contains(&Frame::Bulk(bytes("get"))));
    assert!(!reads.contains(&Frame::Bulk(bytes("set"))));
    assert!(matches!(
        synod_resp::acl::categories_reply(Some(&bytes("nope"))),
        Frame::Error(_)
    ));
}
