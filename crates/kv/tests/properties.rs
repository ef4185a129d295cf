//! Properties of the encodings and snapshots over random inputs.

mod common;

use common::{any_command, any_response, corrupt, operation_with, small_key};
use proptest::prelude::*;
use synod_kv::{
    Command, DecodeError, Operation, Principal, Response, SnapshotError, Store, StoreConfig,
    COMMAND_SIZE_MAX_BYTES, RESPONSE_SIZE_MAX_BYTES, SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC,
};

/// Commands as a replica meets them: mostly untagged operations on a few
/// keys, registrations, and commands tagged with early session ids and small
/// sequences, so sessions are hit, retried and gone stale.
fn log_command() -> impl Strategy<Value = Command> {
    let tag = (1u64..5, 0u64..6).prop_map(|(session, sequence)| {
        Some(synod_kv::SessionTag {
            session: synod_kv::SessionId(session),
            sequence: synod_kv::Sequence(sequence),
        })
    });
    let session = prop_oneof![2 => Just(None), 1 => tag];
    (session, operation_with(small_key().boxed())).prop_map(|(session, operation)| Command {
        session,
        principal: Principal::Anonymous,
        operation,
    })
}

/// Magic, version, body length and body checksum, as documented in the
/// snapshot module.
const SNAPSHOT_HEADER_SIZE_BYTES: usize = 17;

fn with_snapshot_header(body: &[u8]) -> Vec<u8> {
    with_versioned_header(SNAPSHOT_FORMAT_VERSION, body)
}

fn with_versioned_header(version: u8, body: &[u8]) -> Vec<u8> {
    let mut bytes = SNAPSHOT_MAGIC.to_vec();
    bytes.push(version);
    bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32c::crc32c(body).to_le_bytes());
    bytes.extend_from_slice(body);
    bytes
}

fn store_after(commands: &[Command]) -> (Store, Vec<Response>) {
    let mut store = Store::new(StoreConfig { sessions_max: 3 });
    let responses = commands
        .iter()
        .map(|command| store.apply(command))
        .collect();
    (store, responses)
}

proptest! {
    #[test]
    fn commands_round_trip_through_their_encoding(command in any_command()) {
        let encoded = command.encode();
        prop_assert!(encoded.len() <= COMMAND_SIZE_MAX_BYTES);
        prop_assert_eq!(Command::decode(&encoded), Ok(command.clone()));
        // Encoding is a function of the command alone.
        prop_assert_eq!(command.encode(), encoded);
    }

    #[test]
    fn responses_round_trip_through_their_encoding(response in any_response()) {
        let encoded = response.encode();
        prop_assert!(encoded.len() <= RESPONSE_SIZE_MAX_BYTES);
        prop_assert_eq!(Response::decode(&encoded), Ok(response));
    }

    #[test]
    fn command_decode_of_arbitrary_bytes_never_panics_and_is_canonical(
        bytes in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        // Any input that decodes re-encodes to exactly itself: one command,
        // one encoding, no trailing garbage accepted.
        if let Ok(command) = Command::decode(&bytes) {
            prop_assert_eq!(command.encode(), &bytes[..]);
        }
    }

    #[test]
    fn command_decode_of_corrupted_encodings_never_panics_and_is_canonical(
        command in any_command(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let encoded = command.encode();
        let corrupted = corrupt(&encoded, &flips);
        if let Ok(decoded) = Command::decode(&corrupted) {
            prop_assert_eq!(decoded.encode(), &corrupted[..]);
        }
        let truncated = &encoded[..cut % encoded.len()];
        prop_assert!(Command::decode(truncated).is_err());
    }

    #[test]
    fn response_decode_of_arbitrary_or_corrupted_bytes_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..32),
        response in any_response(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        if let Ok(decoded) = Response::decode(&bytes) {
            prop_assert_eq!(decoded.encode(), &bytes[..]);
        }
        let corrupted = corrupt(&response.encode(), &flips);
        if let Ok(decoded) = Response::decode(&corrupted) {
            prop_assert_eq!(decoded.encode(), &corrupted[..]);
        }
    }

    #[test]
    fn apply_encoded_of_arbitrary_bytes_never_panics_and_agrees_across_replicas(
        entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 0..20),
    ) {
        let mut first = Store::new(StoreConfig { sessions_max: 2 });
        let mut second = Store::new(StoreConfig { sessions_max: 2 });
        for entry in &entries {
            prop_assert_eq!(first.apply_encoded(entry), second.apply_encoded(entry));
        }
        prop_assert_eq!(first.applied_commands(), entries.len() as u64);
        prop_assert_eq!(first.digest(), second.digest());
        first.assert_invariants();
    }

    #[test]
    fn restore_of_a_snapshot_gives_the_same_digest_and_the_same_future(
        history in prop::collection::vec(log_command(), 0..60),
        future in prop::collection::vec(log_command(), 0..60),
    ) {
        let (mut original, _) = store_after(&history);
        let snapshot = original.snapshot();
        let mut restored = Store::restore(&snapshot).expect("an intact snapshot restores");
        prop_assert_eq!(restored.digest(), original.digest());
        prop_assert_eq!(restored.snapshot(), snapshot);
        prop_assert_eq!(restored.config(), original.config());
        restored.assert_invariants();
        for command in &future {
            prop_assert_eq!(restored.apply(command), original.apply(command));
            prop_assert_eq!(restored.digest(), original.digest());
        }
        prop_assert_eq!(restored.snapshot(), original.snapshot());
    }

    #[test]
    fn restore_rejects_any_corrupted_byte_of_a_snapshot(
        history in prop::collection::vec(log_command(), 0..30),
        position in any::<usize>(),
        mask in 1u8..,
    ) {
        let (store, _) = store_after(&history);
        let snapshot = store.snapshot();
        let corrupted = corrupt(&snapshot, &[(position, mask)]);
        prop_assert!(Store::restore(&corrupted).is_err());
    }

    #[test]
    fn restore_of_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = Store::restore(&bytes);
    }

    #[test]
    fn restore_of_a_checksummed_corrupted_body_never_panics_and_is_canonical(
        history in prop::collection::vec(log_command(), 0..30),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        random_body in prop::collection::vec(any::<u8>(), 0..48),
    ) {
        // A valid checksum over a damaged body reaches the decoder behind
        // it, as a faulty snapshot writer would.
        let (store, _) = store_after(&history);
        let snapshot = store.snapshot();
        let damaged_body = corrupt(&snapshot[SNAPSHOT_HEADER_SIZE_BYTES..], &flips);
        for body in [damaged_body, random_body] {
            let bytes = with_snapshot_header(&body);
            // Whatever restores is a state that snapshots to the same bytes.
            if let Ok(restored) = Store::restore(&bytes) {
                restored.assert_invariants();
                prop_assert_eq!(restored.snapshot(), &bytes[..]);
            }
        }
    }

    #[test]
    fn replicas_applying_the_same_log_agree(history in prop::collection::vec(log_command(), 0..60)) {
        let (first, first_responses) = store_after(&history);
        let encoded: Vec<_> = history.iter().map(Command::encode).collect();
        let mut second = Store::new(StoreConfig { sessions_max: 3 });
        let second_responses: Vec<_> =
            encoded.iter().map(|entry| second.apply_encoded(entry)).collect();
        prop_assert_eq!(first_responses, second_responses);
        prop_assert_eq!(first.digest(), second.digest());
        prop_assert_eq!(first.snapshot(), second.snapshot());
    }
}

#[test]
fn reads_served_without_the_log_answer_as_the_log_would() {
    let (store, _) = store_after(&[Command::untagged(Operation::Set {
        key: common::key("a"),
        value: common::key("1"),
        condition: synod_kv::SetCondition::Always,
    })]);
    let get = Operation::Get {
        key: common::key("a"),
    };
    let mut through_the_log = store.clone();
    assert_eq!(
        store.read(&get),
        through_the_log.apply(&Command::untagged(get))
    );
}

#[test]
fn restore_rejects_a_checksummed_body_that_describes_an_impossible_state() {
    // Body fields: sessions max, applied commands, next session id, sessions
    // evicted, entry count, entries, session count, sessions, then the
    // clock and the deadlines, which these bodies leave at zero.
    // Version 2 bodies: entries without change counts, no tombstones.
    let restore =
        |body: &[u8]| Store::restore(&with_versioned_header(2, &[body, &[0, 0]].concat()));
    let unordered_entries = [1, 0, 1, 0, 2, 1, b'b', 0, 1, b'a', 0, 0];
    assert!(matches!(
        restore(&unordered_entries),
        Err(SnapshotError::StateInconsistent(_))
    ));
    let no_room_for_sessions = [0, 0, 1, 0, 0, 0];
    assert!(matches!(
        restore(&no_room_for_sessions),
        Err(SnapshotError::StateInconsistent(_))
    ));
    // Session 1 last used at command 2, but only one command was applied.
    let used_in_the_future = [1, 1, 2, 0, 0, 1, 1, 0, 2, 0];
    assert!(matches!(
        restore(&used_in_the_future),
        Err(SnapshotError::StateInconsistent(_))
    ));
    let trailing = [1, 0, 1, 0, 0, 0, 0, 0, 0, 9];
    assert_eq!(
        Store::restore(&with_versioned_header(3, &trailing)).unwrap_err(),
        SnapshotError::BodyMalformed(DecodeError::TrailingBytes { count: 1 })
    );
    // The minimal body, and the same session used at command 1, restore.
    assert!(restore(&[1, 0, 1, 0, 0, 0]).unwrap().is_empty());
    let used_now = [1, 1, 2, 0, 0, 1, 1, 0, 1, 0];
    assert_eq!(restore(&used_now).unwrap().session_count(), 1);
    // Key "a" with a deadline: clock 5, then one deadline.
    let with_deadline = |deadline: u8, key: u8| {
        Store::restore(&with_versioned_header(
            2,
            &[1, 0, 1, 0, 1, 1, b'a', 0, 0, 5, 1, 1, key, deadline],
        ))
    };
    assert_eq!(with_deadline(6, b'a').unwrap().expiring_len(), 1);
    assert!(matches!(
        with_deadline(5, b'a'),
        Err(SnapshotError::StateInconsistent(
            "a key outlived its deadline"
        ))
    ));
    assert!(matches!(
        with_deadline(6, b'b'),
        Err(SnapshotError::StateInconsistent(
            "a deadline names a key that does not exist"
        ))
    ));
}

#[test]
fn a_tombstone_of_a_key_that_exists_is_an_impossible_state() {
    // Version 3: key "a" (changed at command 1), no session, clock 0, no
    // deadline, and a tombstone for "a" itself, then for "b".
    let body = |tombstone: u8| [1, 1, 1, 0, 1, 1, b'a', 0, 1, 0, 0, 0, 1, 1, tombstone, 1];
    assert_eq!(
        Store::restore(&with_versioned_header(3, &body(b'b')))
            .unwrap()
            .len(),
        1
    );
    assert!(matches!(
        Store::restore(&with_versioned_header(3, &body(b'a'))),
        Err(SnapshotError::StateInconsistent(
            "a key that exists has a tombstone"
        ))
    ));
}

#[test]
fn a_snapshot_without_the_default_user_is_an_impossible_state() {
    // Version 4: the empty store's fields, then the next user id (2) and
    // one user, "alice" with id 1: on, no password, no rights, no keys.
    let mut body = vec![1, 0, 1, 0, 0, 0, 0, 0, 0, 2, 1, 1, 5];
    body.extend_from_slice(b"alice");
    body.extend_from_slice(&[1, 0, 0, 0, 0]);
    assert!(matches!(
        Store::restore(&with_snapshot_header(&body)),
        Err(SnapshotError::StateInconsistent(
            "the default user is missing"
        ))
    ));
    // The same with the default user first restores, with both users.
    let mut body = vec![1, 0, 1, 0, 0, 0, 0, 0, 0, 2, 2, 0, 7];
    body.extend_from_slice(b"default");
    body.extend_from_slice(&[1, 1, 0, 7, 1, 1, b'*', 1, 5]);
    body.extend_from_slice(b"alice");
    body.extend_from_slice(&[1, 0, 0, 0, 0]);
    let store = Store::restore(&with_snapshot_header(&body)).unwrap();
    assert_eq!(store.access().users().count(), 2);
    assert!(!store.access().authentication_required());
}

#[test]
fn a_snapshot_written_before_deadlines_still_restores() {
    // Version 1 ends after the sessions: one entry, no session.
    let version_1 = with_versioned_header(1, &[1, 3, 1, 0, 1, 1, b'a', 1, b'1', 0]);
    let store = Store::restore(&version_1).unwrap();
    assert_eq!(store.len(), 1);
    assert_eq!(store.clock(), synod_kv::UnixMillis(0));
    assert_eq!(store.expiring_len(), 0);
}

proptest! {
    /// SCAN's guarantee, with writes between the pages and each page
    /// served by another replica (a restored copy): every key present from
    /// the first call to the last is returned at least once, and a key
    /// returned exists at that page.
    #[test]
    fn a_full_scan_returns_every_key_present_throughout(
        initial in prop::collection::btree_set(0u16..400, 0..200),
        changes in prop::collection::vec((any::<bool>(), 0u16..400), 0..100),
        count in 1u64..20,
    ) {
        use bytes::Bytes;
        let key = |number: u16| Bytes::from(format!("key:{number}"));
        let mut store = Store::new(StoreConfig::default());
        for number in &initial {
            store.apply(&Command::untagged(Operation::Set {
                key: key(*number),
                value: Bytes::from_static(b"v"),
                condition: synod_kv::SetCondition::Always,
            }));
        }
        let mut removed = std::collections::BTreeSet::new();
        let mut returned = std::collections::BTreeSet::new();
        let mut changes = changes.into_iter();
        let mut cursor = 0;
        for page in 0.. {
            prop_assert!(page < 10_000, "the scan ends");
            let replica = Store::restore(&store.snapshot()).unwrap();
            let scan = Operation::Scan { cursor, pattern: None, count, type_filter: None };
            let Response::ScanPage { cursor: next, keys } = replica.read(&scan) else {
                panic!("a scan answers a page");
            };
            for key in keys {
                prop_assert_eq!(store.read(&Operation::Contains { key: key.clone() }), Response::Found(true));
                returned.insert(key);
            }
            if let Some((add, number)) = changes.next() {
                let operation = if add {
                    Operation::Set { key: key(number), value: Bytes::from_static(b"w"), condition: synod_kv::SetCondition::Always }
                } else {
                    removed.insert(number);
                    Operation::Remove { key: key(number) }
                };
                store.apply(&Command::untagged(operation));
            }
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        for number in initial.difference(&removed) {
            prop_assert!(returned.contains(&key(*number)), "key:{} was present throughout", number);
        }
    }
}
