//! The store's operations and session rules, one scenario per test.

mod common;

use bytes::Bytes;
use common::key;
use synod_kv::{
    Command, Operation, Refusal, Response, Sequence, SessionId, SetCondition, Store, StoreConfig,
    KEY_SIZE_MAX_BYTES, SESSIONS_MAX_DEFAULT, VALUE_SIZE_MAX_BYTES,
};

fn store() -> Store {
    Store::new(StoreConfig::default())
}

fn get(key_text: &'static str) -> Operation {
    Operation::Get { key: key(key_text) }
}

fn set(key_text: &'static str, value: &'static str, condition: SetCondition) -> Operation {
    Operation::Set {
        key: key(key_text),
        value: key(value),
        condition,
    }
}

fn remove(key_text: &'static str) -> Operation {
    Operation::Remove { key: key(key_text) }
}

fn keys(texts: &[&'static str]) -> Vec<Bytes> {
    texts.iter().map(|text| key(text)).collect()
}

/// Applies an untagged operation.
fn apply(store: &mut Store, operation: Operation) -> Response {
    store.apply(&Command::untagged(operation))
}

fn register(store: &mut Store) -> SessionId {
    match apply(store, Operation::RegisterSession) {
        Response::SessionRegistered(session) => session,
        other => panic!("registration answered {other:?}"),
    }
}

fn value(text: &'static str) -> Response {
    Response::Value(Some(key(text)))
}

#[test]
fn get_answers_none_for_a_missing_key_and_the_value_for_a_set_one() {
    let mut store = store();
    assert_eq!(apply(&mut store, get("x")), Response::Value(None));
    apply(&mut store, set("x", "1", SetCondition::Always));
    assert_eq!(apply(&mut store, get("x")), value("1"));
    assert_eq!(store.len(), 1);
}

#[test]
fn contains_reports_presence() {
    let mut store = store();
    let contains = || Operation::Contains { key: key("x") };
    assert_eq!(apply(&mut store, contains()), Response::Found(false));
    apply(&mut store, set("x", "", SetCondition::Always));
    // An empty value is a present key.
    assert_eq!(apply(&mut store, contains()), Response::Found(true));
}

#[test]
fn set_always_overwrites() {
    let mut store = store();
    assert_eq!(
        apply(&mut store, set("x", "1", SetCondition::Always)),
        Response::Stored(true)
    );
    assert_eq!(
        apply(&mut store, set("x", "2", SetCondition::Always)),
        Response::Stored(true)
    );
    assert_eq!(apply(&mut store, get("x")), value("2"));
}

#[test]
fn set_if_absent_stores_only_a_missing_key() {
    let mut store = store();
    assert_eq!(
        apply(&mut store, set("x", "1", SetCondition::IfAbsent)),
        Response::Stored(true)
    );
    assert_eq!(
        apply(&mut store, set("x", "2", SetCondition::IfAbsent)),
        Response::Stored(false)
    );
    assert_eq!(apply(&mut store, get("x")), value("1"));
}

#[test]
fn set_if_present_stores_only_an_existing_key() {
    let mut store = store();
    assert_eq!(
        apply(&mut store, set("x", "1", SetCondition::IfPresent)),
        Response::Stored(false)
    );
    assert_eq!(apply(&mut store, get("x")), Response::Value(None));
    apply(&mut store, set("x", "1", SetCondition::Always));
    assert_eq!(
        apply(&mut store, set("x", "2", SetCondition::IfPresent)),
        Response::Stored(true)
    );
    assert_eq!(apply(&mut store, get("x")), value("2"));
}

#[test]
fn remove_deletes_and_reports_whether_the_key_existed() {
    let mut store = store();
    apply(&mut store, set("x", "1", SetCondition::Always));
    assert_eq!(apply(&mut store, remove("x")), Response::Removed(true));
    assert_eq!(apply(&mut store, remove("x")), Response::Removed(false));
    assert_eq!(apply(&mut store, get("x")), Response::Value(None));
    assert!(store.is_empty());
}

#[test]
fn remove_many_counts_each_removed_key_once() {
    let mut store = store();
    apply(&mut store, set("a", "1", SetCondition::Always));
    apply(&mut store, set("b", "2", SetCondition::Always));
    let removed = apply(
        &mut store,
        Operation::RemoveMany {
            keys: keys(&["a", "a", "c", "b"]),
        },
    );
    assert_eq!(removed, Response::Count(2));
    assert!(store.is_empty());
}

#[test]
fn count_existing_counts_a_repeated_key_each_time_and_is_a_read() {
    let mut store = store();
    apply(&mut store, set("a", "1", SetCondition::Always));
    let exists = Operation::CountExisting {
        keys: keys(&["a", "b", "a"]),
    };
    assert!(exists.is_read());
    assert_eq!(store.read(&exists), Response::Count(2));
    assert_eq!(apply(&mut store, exists), Response::Count(2));
}

#[test]
fn the_read_path_answers_reads_changes_nothing_and_refuses_writes() {
    let mut store = store();
    apply(&mut store, set("x", "1", SetCondition::Always));
    let digest = store.digest();
    assert_eq!(store.read(&get("x")), value("1"));
    assert_eq!(
        store.read(&Operation::Contains { key: key("y") }),
        Response::Found(false)
    );
    assert_eq!(store.read(&remove("x")), Response::InvalidCommand);
    assert_eq!(
        store.read(&Operation::RegisterSession),
        Response::InvalidCommand
    );
    assert_eq!(store.digest(), digest);
    assert_eq!(store.applied_commands(), 1);
    assert_eq!(store.read(&get("x")), value("1"));
}

#[test]
fn an_undecodable_entry_is_an_invalid_command_that_still_counts() {
    let mut store = store();
    let digest_before = store.digest();
    for garbage in [&b""[..], &[0xff], &[1, 0, 7, 0]] {
        assert_eq!(store.apply_encoded(garbage), Response::InvalidCommand);
    }
    assert_eq!(store.applied_commands(), 3);
    assert_ne!(store.digest(), digest_before, "the counter is state");
    assert!(store.is_empty());
}

#[test]
fn a_command_that_breaks_a_limit_is_invalid_and_changes_nothing_else() {
    let mut store = store();
    let oversized = Operation::Set {
        key: Bytes::from(vec![b'k'; KEY_SIZE_MAX_BYTES + 1]),
        value: key("v"),
        condition: SetCondition::Always,
    };
    assert_eq!(
        apply(&mut store, oversized.clone()),
        Response::InvalidCommand
    );
    assert!(store.is_empty());
    assert_eq!(store.applied_commands(), 1);
    let empty_delete = Operation::RemoveMany { keys: Vec::new() };
    assert_eq!(apply(&mut store, empty_delete), Response::InvalidCommand);
    assert_eq!(store.read(&oversized), Response::InvalidCommand);
}

#[test]
fn sessions_get_ids_from_a_replicated_counter() {
    let mut first = store();
    let mut second = store();
    let ids: Vec<_> = (0..3).map(|_| register(&mut first)).collect();
    assert_eq!(ids, [SessionId(1), SessionId(2), SessionId(3)]);
    let ids_elsewhere: Vec<_> = (0..3).map(|_| register(&mut second)).collect();
    assert_eq!(ids, ids_elsewhere);
    assert_eq!(first.session_count(), 3);
    assert_eq!(first.digest(), second.digest());
}

#[test]
fn a_retried_write_answers_the_original_answer_and_applies_once() {
    let mut store = store();
    let session = register(&mut store);
    apply(&mut store, set("a", "1", SetCondition::Always));
    let delete = Command::tagged(
        session,
        Sequence(1),
        Operation::RemoveMany { keys: keys(&["a"]) },
    );
    assert_eq!(store.apply(&delete), Response::Count(1));
    // Another client writes the key again before the retry reaches the log.
    apply(&mut store, set("a", "2", SetCondition::Always));
    assert_eq!(store.apply(&delete), Response::Count(1));
    assert_eq!(
        apply(&mut store, get("a")),
        value("2"),
        "the retry must not remove the key a second time"
    );
}

#[test]
fn a_stale_sequence_is_refused_and_not_applied() {
    let mut store = store();
    let session = register(&mut store);
    let first = Command::tagged(session, Sequence(1), set("a", "old", SetCondition::Always));
    let second = Command::tagged(session, Sequence(2), set("a", "new", SetCondition::Always));
    store.apply(&first);
    store.apply(&second);
    assert_eq!(store.apply(&first), Response::SequenceStale);
    assert_eq!(apply(&mut store, get("a")), value("new"));
}

#[test]
fn sequences_may_skip_numbers() {
    let mut store = store();
    let session = register(&mut store);
    let jump = Command::tagged(session, Sequence(10), set("a", "1", SetCondition::Always));
    assert_eq!(store.apply(&jump), Response::Stored(true));
    let below = Command::tagged(session, Sequence(9), remove("a"));
    assert_eq!(store.apply(&below), Response::SequenceStale);
}

#[test]
fn an_unknown_session_is_expired_and_not_applied() {
    let mut store = store();
    let command = Command::tagged(
        SessionId(1),
        Sequence(1),
        set("a", "1", SetCondition::Always),
    );
    assert_eq!(store.apply(&command), Response::SessionExpired);
    assert!(store.is_empty());
    assert_eq!(store.session_count(), 0);
}

#[test]
fn a_retried_registration_step_answers_the_session_id() {
    let mut store = store();
    let session = register(&mut store);
    let step_zero = Command::tagged(session, Sequence(0), get("a"));
    assert_eq!(
        store.apply(&step_zero),
        Response::SessionRegistered(session)
    );
}

#[test]
fn a_session_cannot_register_a_session() {
    let mut store = store();
    let session = register(&mut store);
    let nested = Command::tagged(session, Sequence(1), Operation::RegisterSession);
    assert_eq!(store.apply(&nested), Response::InvalidCommand);
    assert_eq!(store.session_count(), 1);
    // The sequence was not spent.
    let next = Command::tagged(session, Sequence(1), set("a", "1", SetCondition::Always));
    assert_eq!(store.apply(&next), Response::Stored(true));
}

#[test]
fn a_retried_read_is_evaluated_again_and_its_sequence_cannot_carry_a_write() {
    let mut store = store();
    let session = register(&mut store);
    let read = Command::tagged(session, Sequence(1), get("a"));
    assert_eq!(store.apply(&read), Response::Value(None));
    apply(&mut store, set("a", "1", SetCondition::Always));
    assert_eq!(store.apply(&read), value("1"));
    let write_reusing = Command::tagged(session, Sequence(1), remove("a"));
    assert_eq!(store.apply(&write_reusing), Response::SequenceStale);
    assert_eq!(apply(&mut store, get("a")), value("1"));
}

#[test]
fn registration_evicts_the_least_recently_used_session() {
    let mut store = Store::new(StoreConfig { sessions_max: 2 });
    let first = register(&mut store);
    let second = register(&mut store);
    // The first session is used after the second was registered, so the
    // second is now the least recently used.
    let use_first = Command::tagged(first, Sequence(1), set("a", "1", SetCondition::Always));
    store.apply(&use_first);
    let third = register(&mut store);
    assert_eq!(store.session_count(), 2);
    assert_eq!(store.sessions_evicted(), 1);
    let on_second = Command::tagged(second, Sequence(1), remove("a"));
    assert_eq!(store.apply(&on_second), Response::SessionExpired);
    assert_eq!(apply(&mut store, get("a")), value("1"));
    // The survivors keep their state.
    assert_eq!(store.apply(&use_first), Response::Stored(true));
    let on_third = Command::tagged(third, Sequence(1), get("a"));
    assert_eq!(store.apply(&on_third), value("1"));
}

#[test]
fn any_command_naming_a_session_counts_as_a_use_even_a_stale_one() {
    let mut store = Store::new(StoreConfig { sessions_max: 2 });
    let first = register(&mut store);
    let second = register(&mut store);
    store.apply(&Command::tagged(first, Sequence(5), get("a")));
    store.apply(&Command::tagged(second, Sequence(1), get("a")));
    // A stale command keeps the first session alive.
    let stale = Command::tagged(first, Sequence(4), get("a"));
    assert_eq!(store.apply(&stale), Response::SequenceStale);
    register(&mut store);
    let on_first = Command::tagged(first, Sequence(6), get("a"));
    assert_eq!(store.apply(&on_first), Response::Value(None));
    let on_second = Command::tagged(second, Sequence(2), get("a"));
    assert_eq!(store.apply(&on_second), Response::SessionExpired);
}

#[test]
fn evicted_session_ids_are_never_handed_out_again() {
    let mut store = Store::new(StoreConfig { sessions_max: 1 });
    let ids: Vec<_> = (0..4).map(|_| register(&mut store)).collect();
    assert_eq!(
        ids,
        [SessionId(1), SessionId(2), SessionId(3), SessionId(4)]
    );
    assert_eq!(store.session_count(), 1);
    assert_eq!(store.sessions_evicted(), 3);
}

#[test]
fn the_digest_tells_states_apart_including_when_keys_last_changed() {
    let mut first = store();
    apply(&mut first, set("a", "1", SetCondition::Always));
    apply(&mut first, set("b", "2", SetCondition::Always));
    let same = Store::restore(&first.snapshot()).expect("an intact snapshot");
    assert_eq!(
        first.digest(),
        same.digest(),
        "a function of the state alone"
    );
    // The same keys and values, written in the other order: WATCH tells
    // them apart (each key changed at another command), so the digest must.
    let mut reordered = store();
    apply(&mut reordered, set("b", "2", SetCondition::Always));
    apply(&mut reordered, set("a", "1", SetCondition::Always));
    assert_ne!(first.digest(), reordered.digest());
    let mut changed = first.clone();
    apply(&mut changed, set("a", "3", SetCondition::Always));
    assert_ne!(first.digest(), changed.digest());
    apply(&mut changed, set("a", "1", SetCondition::Always));
    // The values match again, but more commands have been applied.
    assert_ne!(first.digest(), changed.digest());
}

#[test]
fn default_config_and_debug_summary() {
    assert_eq!(StoreConfig::default().sessions_max, SESSIONS_MAX_DEFAULT);
    let mut store = store();
    apply(&mut store, set("secret", "value", SetCondition::Always));
    let summary = format!("{store:?}");
    assert!(summary.contains("len: 1"), "{summary}");
    assert!(!summary.contains("secret"), "{summary}");
}

#[test]
#[should_panic(expected = "at least one session")]
fn a_store_without_room_for_a_session_is_refused() {
    let _ = Store::new(StoreConfig { sessions_max: 0 });
}

#[test]
fn append_grows_a_value_up_to_the_limit_and_refuses_beyond_it() {
    let mut store = store();
    let append = |value: Bytes| {
        Command::untagged(Operation::Append {
            key: key("k"),
            value,
        })
    };
    assert_eq!(store.apply(&append(key("ab"))), Response::Count(2));
    let rest = Bytes::from(vec![b'x'; VALUE_SIZE_MAX_BYTES - 2]);
    assert_eq!(
        store.apply(&append(rest)),
        Response::Count(VALUE_SIZE_MAX_BYTES as u64)
    );
    assert_eq!(
        store.apply(&append(key("y"))),
        Response::Refused(Refusal::TooLarge)
    );
    let Response::Value(Some(value)) = store.read(&get("k")) else {
        panic!("the value is still there");
    };
    assert_eq!(
        value.len(),
        VALUE_SIZE_MAX_BYTES,
        "the refusal changed nothing"
    );
    assert!(Refusal::TooLarge
        .message()
        .contains(&VALUE_SIZE_MAX_BYTES.to_string()));
}

/// A `WATCH` held past the tombstone retention aborts its `EXEC` (it can no
/// longer tell whether the key changed), and a fresh one runs.
#[test]
fn a_watch_held_past_the_tombstone_retention_aborts_and_a_fresh_one_runs() {
    use synod_kv::{KeyVersion, TOMBSTONE_RETENTION_COMMANDS};
    let mut store = Store::new(StoreConfig::default());
    let removed = common::key("removed");
    let never = common::key("never");
    store.apply(&Command::untagged(Operation::Set {
        key: removed.clone(),
        value: common::key("v"),
        condition: SetCondition::Always,
    }));
    store.apply(&Command::untagged(Operation::Remove {
        key: removed.clone(),
    }));
    let keys = vec![removed.clone(), never.clone()];
    let watch = |store: &Store| {
        let Response::Versions(versions) =
            store.read(&Operation::ReadVersions { keys: keys.clone() })
        else {
            panic!("versions");
        };
        keys.iter()
            .cloned()
            .zip(versions)
            .collect::<Vec<(Bytes, KeyVersion)>>()
    };
    let exec = |watches| {
        Command::untagged(Operation::Transaction {
            watches,
            operations: vec![Operation::CountKeys],
        })
    };
    let old = watch(&store);
    assert_eq!(old[0].1, KeyVersion::Changed(2), "the removal's tombstone");
    for _ in 0..TOMBSTONE_RETENTION_COMMANDS {
        store.apply(&Command::untagged(Operation::CountKeys));
    }
    // One more removal drops the tombstones past the retention.
    store.apply(&Command::untagged(Operation::Remove {
        key: common::key("absent"),
    }));
    store.apply(&Command::untagged(Operation::Set {
        key: common::key("x"),
        value: common::key("1"),
        condition: SetCondition::Always,
    }));
    store.apply(&Command::untagged(Operation::Remove {
        key: common::key("x"),
    }));
    assert_eq!(store.apply(&exec(old)), Response::Aborted);
    let fresh = watch(&store);
    assert!(matches!(fresh[0].1, KeyVersion::UnchangedAsOf(_)));
    assert_eq!(
        store.apply(&exec(fresh)),
        Response::Transaction(vec![Response::Count(0)])
    );
    store.assert_invariants();
}
