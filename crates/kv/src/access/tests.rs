use super::*;
use crate::{Command, Refusal, Response, SetCondition, Store, StoreConfig};

fn hash(seed: u8) -> PasswordHash {
    PasswordHash {
        iterations: 4096,
        salt: Bytes::from(vec![seed; 16]),
        digest: Bytes::from(vec![seed; PASSWORD_DIGEST_SIZE_BYTES]),
    }
}

fn set_user(name: &str, rules: Vec<Rule>) -> Command {
    Command::untagged(Operation::Access(AccessOperation::SetUser {
        name: Bytes::copy_from_slice(name.as_bytes()),
        rules,
    }))
}

fn set(key: &str) -> Operation {
    Operation::Set {
        key: Bytes::copy_from_slice(key.as_bytes()),
        value: Bytes::from_static(b"v"),
        condition: SetCondition::Always,
    }
}

fn get(key: &str) -> Operation {
    Operation::Get {
        key: Bytes::copy_from_slice(key.as_bytes()),
    }
}

fn user_id(store: &Store, name: &str) -> Principal {
    Principal::User(store.access().user_named(name.as_bytes()).unwrap().id)
}

/// Applies `command` through its encoding, as a replica does.
fn apply(store: &mut Store, command: &Command) -> Response {
    store.apply_encoded(&command.encode())
}

#[test]
fn a_new_store_lets_anonymous_clients_do_everything() {
    let mut store = Store::new(StoreConfig::default());
    assert!(!store.access().authentication_required());
    assert_eq!(
        apply(&mut store, &Command::untagged(set("x"))),
        Response::Stored(true)
    );
    assert_eq!(
        store.read_as(Principal::Anonymous, &get("x")),
        Response::Value(Some(Bytes::from_static(b"v")))
    );
}

#[test]
fn a_default_password_requires_authentication_for_every_command_after_it() {
    let mut store = Store::new(StoreConfig::default());
    let requirepass = set_user(
        "default",
        vec![Rule::ResetPasswords, Rule::AddPassword(hash(1))],
    );
    assert_eq!(apply(&mut store, &requirepass), Response::Stored(true));
    assert!(store.access().authentication_required());
    assert_eq!(
        apply(&mut store, &Command::untagged(set("x"))),
        Response::Denied(Denial::AuthenticationRequired)
    );
    assert_eq!(
        store.read_as(Principal::Anonymous, &get("x")),
        Response::Denied(Denial::AuthenticationRequired)
    );
    // Authenticating needs the credentials; nothing else is allowed, not
    // even a session, whose registration could evict others' sessions.
    let credentials = Operation::Access(AccessOperation::Credentials {
        name: Bytes::from_static(b"default"),
    });
    assert!(matches!(
        store.read_as(Principal::Anonymous, &credentials),
        Response::Users(users) if users.len() == 1
    ));
    assert_eq!(
        apply(&mut store, &Command::untagged(Operation::RegisterSession)),
        Response::Denied(Denial::AuthenticationRequired)
    );
    // Authenticated as the default user, everything is allowed again.
    let default = Command::untagged(set("x")).on_behalf_of(Principal::User(UserId::DEFAULT));
    assert_eq!(apply(&mut store, &default), Response::Stored(true));
}

#[test]
fn a_read_only_user_reads_but_may_not_write_or_manage_users() {
    let mut store = Store::new(StoreConfig::default());
    let reader = set_user(
        "reader",
        vec![
            Rule::On,
            Rule::AddPassword(hash(2)),
            Rule::Allow(Categories::of(Category::Read)),
            Rule::AddKeyPattern(Bytes::from_static(b"*")),
        ],
    );
    assert_eq!(apply(&mut store, &reader), Response::Stored(true));
    let principal = user_id(&store, "reader");
    assert_eq!(
        apply(
            &mut store,
            &Command::untagged(set("x")).on_behalf_of(principal)
        ),
        Response::Denied(Denial::Category(Category::Write))
    );
    assert_eq!(store.read_as(principal, &get("x")), Response::Value(None));
    let list = Operation::Access(AccessOperation::ListUsers);
    assert_eq!(
        store.read_as(principal, &list),
        Response::Denied(Denial::Category(Category::Admin))
    );
    // A transaction is judged operation by operation.
    let transaction = Operation::Transaction {
        watches: Vec::new(),
        operations: vec![get("x"), set("x")],
    };
    assert_eq!(
        apply(
            &mut store,
            &Command::untagged(transaction).on_behalf_of(principal)
        ),
        Response::Denied(Denial::Category(Category::Write))
    );
}

#[test]
fn key_patterns_bound_the_keys_a_user_touches() {
    let mut store = Store::new(StoreConfig::default());
    let cache = set_user(
        "cache",
        vec![
            Rule::On,
            Rule::NoPassword,
            Rule::Allow(Categories::ALL),
            Rule::AddKeyPattern(Bytes::from_static(b"cache:*")),
        ],
    );
    apply(&mut store, &cache);
    let principal = user_id(&store, "cache");
    let run = |store: &mut Store, operation: Operation| {
        apply(store, &Command::untagged(operation).on_behalf_of(principal))
    };
    assert_eq!(run(&mut store, set("cache:1")), Response::Stored(true));
    assert_eq!(run(&mut store, set("other")), Response::Denied(Denial::Key));
    let rename = Operation::Rename {
        from: Bytes::from_static(b"cache:1"),
        to: Bytes::from_static(b"other"),
        only_if_absent: false,
    };
    assert_eq!(run(&mut store, rename), Response::Denied(Denial::Key));
    // The whole keyspace needs every key.
    assert_eq!(
        run(&mut store, Operation::Flush),
        Response::Denied(Denial::Key)
    );
    assert_eq!(
        store.read_as(
            principal,
            &Operation::Keys {
                pattern: Bytes::from_static(b"*")
            }
        ),
        Response::Denied(Denial::Key)
    );
}

#[test]
fn a_removed_user_is_refused_and_a_new_one_of_its_name_is_someone_else() {
    let mut store = Store::new(StoreConfig::default());
    let rules = vec![Rule::On, Rule::NoPassword, Rule::Allow(Categories::ALL)];
    apply(&mut store, &set_user("alice", rules.clone()));
    let old = user_id(&store, "alice");
    let remove = Command::untagged(Operation::Access(AccessOperation::DeleteUsers {
        names: vec![Bytes::from_static(b"alice"), Bytes::from_static(b"nobody")],
    }));
    assert_eq!(apply(&mut store, &remove), Response::Count(1));
    assert_eq!(
        store.read_as(old, &get("x")),
        Response::Denied(Denial::UserRemoved)
    );
    apply(&mut store, &set_user("alice", rules));
    assert_ne!(user_id(&store, "alice"), old);
    assert_eq!(
        store.read_as(old, &get("x")),
        Response::Denied(Denial::UserRemoved)
    );
}

#[test]
fn the_default_user_cannot_be_removed_and_a_refused_change_changes_nothing() {
    let mut store = Store::new(StoreConfig::default());
    apply(&mut store, &set_user("alice", vec![Rule::On]));
    let before = store.digest();
    let remove = Command::untagged(Operation::Access(AccessOperation::DeleteUsers {
        names: vec![Bytes::from_static(b"alice"), Bytes::from_static(b"default")],
    }));
    assert_eq!(
        apply(&mut store, &remove),
        Response::Refused(Refusal::Access(AccessRefusal::DefaultUserUndeletable))
    );
    assert!(store.access().user_named(b"alice").is_some());
    let too_many = (0..=PASSWORDS_PER_USER_MAX as u8)
        .map(|seed| Rule::AddPassword(hash(seed)))
        .collect();
    assert_eq!(
        apply(&mut store, &set_user("alice", too_many)),
        Response::Refused(Refusal::Access(AccessRefusal::UserTooLarge))
    );
    assert!(store
        .access()
        .user_named(b"alice")
        .unwrap()
        .passwords
        .is_empty());
    // Only the applied-command counter moved.
    assert_ne!(store.digest(), before);
}

#[test]
fn users_travel_in_snapshots_and_change_the_digest() {
    let mut store = Store::new(StoreConfig::default());
    let empty = store.digest();
    apply(
        &mut store,
        &set_user("alice", vec![Rule::On, Rule::AddPassword(hash(3))]),
    );
    let restored = Store::restore(&store.snapshot()).expect("an intact snapshot");
    assert_eq!(restored.digest(), store.digest());
    assert_eq!(restored, store);
    let mut plain = Store::new(StoreConfig::default());
    plain.apply(&Command::untagged(Operation::CountKeys));
    assert_ne!(plain.digest(), store.digest());
    assert_ne!(empty, store.digest());
}

#[test]
fn commands_keep_their_principal_through_the_encoding_and_old_entries_are_anonymous() {
    let command = Command::tagged(crate::SessionId(7), crate::Sequence(3), get("x"))
        .on_behalf_of(Principal::User(UserId(300)));
    assert_eq!(Command::decode(&command.encode()).unwrap(), command);
    let anonymous = Command::untagged(set("x"));
    let bytes = anonymous.encode();
    // Version 1, no flags: the layout written before users existed.
    assert_eq!(&bytes[..2], &[1, 0]);
    assert_eq!(
        Command::decode(&bytes).unwrap().principal,
        Principal::Anonymous
    );
    let mut unknown = bytes.to_vec();
    unknown[1] = 4;
    assert!(Command::decode(&unknown).is_err());
}

#[test]
fn user_operations_round_trip_and_are_bounded() {
    let operation = Operation::Access(AccessOperation::SetUser {
        name: Bytes::from_static(b"alice"),
        rules: vec![
            Rule::Reset,
            Rule::On,
            Rule::AddPassword(hash(4)),
            Rule::RemovePassword(hash(5)),
            Rule::Allow(Categories::ALL),
            Rule::Deny(Categories::of(Category::Admin)),
            Rule::AddKeyPattern(Bytes::from_static(b"a:*")),
            Rule::ResetKeys,
            Rule::NoPassword,
            Rule::ResetPasswords,
            Rule::Off,
        ],
    });
    let command = Command::untagged(operation);
    assert_eq!(Command::decode(&command.encode()).unwrap(), command);
    let spaced = Operation::Access(AccessOperation::ReadUser {
        name: Bytes::from_static(b"a b"),
    });
    assert!(spaced.validate().is_err());
    let nobody = Operation::Access(AccessOperation::DeleteUsers { names: Vec::new() });
    assert!(nobody.validate().is_err());
}

#[test]
fn a_session_serves_only_its_owner_and_a_retry_keeps_its_answer_after_a_revoke() {
    let mut store = Store::new(StoreConfig::default());
    let all = vec![Rule::On, Rule::NoPassword, Rule::Allow(Categories::ALL)];
    let mut alice_rules = all.clone();
    alice_rules.push(Rule::AddKeyPattern(Bytes::from_static(b"*")));
    let mut mallory_rules = all;
    mallory_rules.push(Rule::AddKeyPattern(Bytes::from_static(b"pub:*")));
    apply(&mut store, &set_user("alice", alice_rules));
    apply(&mut store, &set_user("mallory", mallory_rules));
    let (alice, mallory) = (user_id(&store, "alice"), user_id(&store, "mallory"));
    let register = Command::untagged(Operation::RegisterSession).on_behalf_of(alice);
    let Response::SessionRegistered(session) = apply(&mut store, &register) else {
        panic!("alice registers a session");
    };
    let take = |key: &str| Operation::Take {
        key: Bytes::copy_from_slice(key.as_bytes()),
    };
    let tagged = |sequence, operation, principal| {
        Command::tagged(session, crate::Sequence(sequence), operation).on_behalf_of(principal)
    };
    apply(
        &mut store,
        &Command::untagged(set("secret")).on_behalf_of(alice),
    );
    assert_eq!(
        apply(&mut store, &tagged(1, take("secret"), alice)),
        Response::Value(Some(Bytes::from_static(b"v")))
    );
    // Mallory names alice's session: told it does not exist, answered
    // nothing kept for alice, and her step does not run under it.
    for sequence in [1, 2] {
        assert_eq!(
            apply(&mut store, &tagged(sequence, take("pub:x"), mallory)),
            Response::SessionExpired
        );
    }
    // Alice's write is applied; her write right is revoked; the retry of
    // the applied step still gets its answer, a new step is refused.
    assert_eq!(
        apply(&mut store, &tagged(2, set("x"), alice)),
        Response::Stored(true)
    );
    let revoke = set_user("alice", vec![Rule::Deny(Categories::of(Category::Write))]);
    apply(&mut store, &revoke);
    assert_eq!(
        apply(&mut store, &tagged(2, set("x"), alice)),
        Response::Stored(true)
    );
    assert_eq!(
        apply(&mut store, &tagged(3, set("x"), alice)),
        Response::Denied(Denial::Category(Category::Write))
    );
    // Owners travel in snapshots.
    let restored = Store::restore(&store.snapshot()).expect("an intact snapshot");
    assert_eq!(restored, store);
}
