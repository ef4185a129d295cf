//! Strategies and helpers shared by the integration tests.

#![allow(dead_code)] // Each test binary uses its own subset.

use bytes::Bytes;
use proptest::prelude::*;
use synod_kv::{
    Command, ExpireCondition, Expiry, KeyExpiry, KeyVersion, Operation, Principal, Refusal,
    Response, Sequence, SessionId, SessionTag, SetCondition, UnixMillis, UserId,
    KEYS_PER_COMMAND_MAX,
};

/// A key from a small alphabet, so that random operations collide often.
pub fn small_key() -> impl Strategy<Value = Bytes> {
    prop::sample::select(vec!["a", "b", "c", "d", ""]).prop_map(key)
}

/// Any key, including binary and empty ones, short enough to keep tests fast.
pub fn any_key() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from)
}

pub fn any_value() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..80).prop_map(Bytes::from)
}

/// Values a counter may hold or trip over: integers near the `i64` bounds,
/// non-canonical spellings (`-0`, `+1`, `01`, ` 1`), one past the range.
pub fn counter_value() -> impl Strategy<Value = Bytes> {
    let spelled = prop::sample::select(vec![
        "0",
        "-0",
        "+1",
        "01",
        " 1",
        "1 ",
        "",
        "-",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "-9223372036854775809",
    ])
    .prop_map(key);
    prop_oneof![
        spelled,
        any::<i64>().prop_map(|value| Bytes::from(value.to_string())),
        (-3i64..3).prop_map(|value| Bytes::from(value.to_string())),
    ]
}

/// Increments that reach the `i64` bounds now and then.
pub fn any_delta() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -3i64..=3,
        1 => Just(i64::MAX),
        1 => Just(i64::MIN),
        1 => any::<i64>(),
    ]
}

pub fn any_condition() -> impl Strategy<Value = SetCondition> {
    prop_oneof![
        Just(SetCondition::Always),
        Just(SetCondition::IfAbsent),
        Just(SetCondition::IfPresent),
    ]
}

/// Operations over keys drawn from `key`, with multi-key lists within the
/// limit (up to the limit itself, now and then), and now and then a
/// transaction of a few of them with random watches (most of which abort).
pub fn operation_with(key: BoxedStrategy<Bytes>) -> impl Strategy<Value = Operation> {
    let single = single_operation_with(key.clone()).boxed();
    let version = prop_oneof![
        (0u64..40).prop_map(KeyVersion::Changed),
        (0u64..40).prop_map(KeyVersion::UnchangedAsOf),
    ];
    let transaction = (
        prop::collection::vec((key, version), 0..3),
        prop::collection::vec(
            single
                .clone()
                .prop_filter("fits in a transaction", fits_in_transaction),
            0..5,
        ),
    )
        .prop_map(|(watches, operations)| Operation::Transaction {
            watches,
            operations,
        });
    prop_oneof![12 => single, 1 => transaction]
}

/// Whether `operation` may be queued in a transaction.
pub fn fits_in_transaction(operation: &Operation) -> bool {
    !matches!(
        operation,
        Operation::RegisterSession
            | Operation::AdvanceClock { .. }
            | Operation::ReadVersions { .. }
            | Operation::Transaction { .. }
    )
}

/// Every operation but a transaction.
pub fn single_operation_with(key: BoxedStrategy<Bytes>) -> impl Strategy<Value = Operation> {
    let keys = prop_oneof![
        9 => prop::collection::vec(key.clone(), 1..6),
        1 => prop::collection::vec(key.clone(), KEYS_PER_COMMAND_MAX..=KEYS_PER_COMMAND_MAX),
    ];
    prop_oneof![
        key.clone().prop_map(|key| Operation::Get { key }),
        key.clone().prop_map(|key| Operation::Contains { key }),
        (key.clone(), any_value(), any_condition()).prop_map(|(key, value, condition)| {
            Operation::Set {
                key,
                value,
                condition,
            }
        }),
        (key.clone(), counter_value(), any_condition()).prop_map(|(key, value, condition)| {
            Operation::Set {
                key,
                value,
                condition,
            }
        }),
        (key.clone(), any_delta()).prop_map(|(key, delta)| Operation::IncrementBy { key, delta }),
        (key.clone(), any_value(), any_condition()).prop_map(|(key, value, condition)| {
            Operation::Exchange {
                key,
                value,
                condition,
            }
        }),
        key.clone().prop_map(|key| Operation::Take { key }),
        (key.clone(), any_value()).prop_map(|(key, value)| Operation::Append { key, value }),
        Just(Operation::CountKeys),
        (
            prop::collection::vec((key.clone(), any_value()), 1..5),
            prop_oneof![Just(SetCondition::Always), Just(SetCondition::IfAbsent)],
        )
            .prop_map(|(pairs, condition)| Operation::SetMany { pairs, condition }),
        key.clone().prop_map(|key| Operation::Remove { key }),
        keys.clone().prop_map(|keys| Operation::RemoveMany { keys }),
        keys.clone()
            .prop_map(|keys| Operation::CountExisting { keys }),
        keys.clone()
            .prop_map(|keys| Operation::ReadVersions { keys }),
        keys.prop_map(|keys| Operation::GetMany { keys }),
        (key.clone(), key.clone(), any::<bool>()).prop_map(|(from, to, only_if_absent)| {
            Operation::Rename {
                from,
                to,
                only_if_absent,
            }
        }),
        (key.clone(), key.clone(), any::<bool>()).prop_map(|(from, to, replace)| Operation::Copy {
            from,
            to,
            replace
        }),
        (
            key.clone(),
            0u64..24,
            prop::collection::vec(any::<u8>(), 0..6)
        )
            .prop_map(|(key, offset, value)| Operation::SetRange {
                key,
                offset,
                value: Bytes::from(value),
            }),
        Just(Operation::Flush),
        (
            key.clone(),
            prop::sample::select(vec![
                "1.5",
                "-0.25",
                "abc",
                "1e3",
                "0.1",
                "79228162514264337593543950335"
            ])
        )
            .prop_map(|(key, increment)| Operation::IncrementByFloat {
                key,
                increment: Bytes::from_static(increment.as_bytes()),
            }),
        prop::sample::select(vec!["*", "a*", "?", "[ab]*", "k\\*", "*[^a]"]).prop_map(|pattern| {
            Operation::Keys {
                pattern: Bytes::from_static(pattern.as_bytes()),
            }
        }),
        Just(Operation::RegisterSession),
        expiring_operation(key),
    ]
}

/// Times near the start of the epoch, so that clock readings, deadlines and
/// relative expiries meet often, and now and then the extremes.
pub fn any_expiry() -> impl Strategy<Value = Expiry> {
    prop_oneof![
        1 => Just(Expiry::Clear),
        1 => Just(Expiry::Keep),
        4 => (-5i64..400).prop_map(Expiry::At),
        4 => (-5i64..200).prop_map(Expiry::After),
        1 => Just(Expiry::After(i64::MAX)),
        1 => Just(Expiry::At(i64::MIN)),
    ]
}

pub fn any_expire_condition() -> impl Strategy<Value = ExpireCondition> {
    prop_oneof![
        3 => Just(ExpireCondition::Always),
        1 => Just(ExpireCondition::IfNone),
        1 => Just(ExpireCondition::IfSome),
        1 => Just(ExpireCondition::IfLater),
        1 => Just(ExpireCondition::IfEarlier),
        1 => Just(ExpireCondition::IfSomeAndEarlier),
    ]
}

/// The operations that read or change deadlines, and clock readings.
fn expiring_operation(key: BoxedStrategy<Bytes>) -> impl Strategy<Value = Operation> {
    let timed = any_expiry().prop_filter("an expire names a time", |expiry| {
        matches!(expiry, Expiry::At(_) | Expiry::After(_))
    });
    prop_oneof![
        3 => (0u64..400).prop_map(|now| Operation::AdvanceClock { now: UnixMillis(now) }),
        3 => (key.clone(), any_value(), any_condition(), any_expiry(), any::<bool>()).prop_map(
            |(key, value, condition, expiry, answer_previous)| Operation::SetExpiring {
                key,
                value,
                condition,
                expiry,
                answer_previous,
            }
        ),
        2 => (key.clone(), timed, any_expire_condition()).prop_map(|(key, expiry, condition)| {
            Operation::Expire {
                key,
                expiry,
                condition,
            }
        }),
        1 => key.clone().prop_map(|key| Operation::Persist { key }),
        1 => key.clone().prop_map(|key| Operation::ReadExpiry { key }),
        1 => (key, any_expiry()).prop_map(|(key, expiry)| Operation::GetAndExpire { key, expiry }),
    ]
}

pub fn any_command() -> impl Strategy<Value = Command> {
    let tag = (any::<u64>(), any::<u64>()).prop_map(|(session, sequence)| SessionTag {
        session: SessionId(session),
        sequence: Sequence(sequence),
    });
    let principal = prop_oneof![
        Just(Principal::Anonymous),
        any::<u64>().prop_map(|id| Principal::User(UserId(id))),
    ];
    (
        prop::option::of(tag),
        principal,
        operation_with(any_key().boxed()),
    )
        .prop_map(|(session, principal, operation)| Command {
            session,
            principal,
            operation,
        })
}

pub fn any_response() -> impl Strategy<Value = Response> {
    prop_oneof![
        prop::option::of(any_value()).prop_map(Response::Value),
        any::<bool>().prop_map(Response::Found),
        any::<bool>().prop_map(Response::Stored),
        any::<bool>().prop_map(Response::Removed),
        any::<u64>().prop_map(Response::Count),
        any::<u64>().prop_map(|id| Response::SessionRegistered(SessionId(id))),
        Just(Response::SessionExpired),
        Just(Response::SequenceStale),
        Just(Response::InvalidCommand),
        any::<i64>().prop_map(Response::Integer),
        Just(Response::Refused(Refusal::NotInteger)),
        Just(Response::Refused(Refusal::Overflow)),
        Just(Response::Refused(Refusal::TooLarge)),
        Just(Response::Refused(Refusal::InvalidExpireTime)),
        Just(Response::Expiry(KeyExpiry::Missing)),
        Just(Response::Expiry(KeyExpiry::Persistent)),
        Just(Response::Aborted),
        prop::collection::vec(prop::option::of(any_value()), 0..3).prop_map(Response::Values),
        Just(Response::Refused(Refusal::AnswerNotKept)),
        prop::collection::vec((any::<bool>(), any::<u64>()), 0..4).prop_map(|versions| {
            Response::Versions(
                versions
                    .into_iter()
                    .map(|(changed, count)| {
                        if changed {
                            KeyVersion::Changed(count)
                        } else {
                            KeyVersion::UnchangedAsOf(count)
                        }
                    })
                    .collect(),
            )
        }),
        prop::collection::vec(any::<i64>().prop_map(Response::Integer), 0..4)
            .prop_map(Response::Transaction),
        (any::<u64>(), any::<u64>()).prop_map(|(deadline, now)| Response::Expiry(KeyExpiry::At {
            deadline: UnixMillis(deadline),
            now: UnixMillis(now)
        })),
    ]
}

/// Changes bytes of `bytes` at the given positions (taken modulo its
/// length) by the given non-zero masks, to reach deep into a decoder with
/// inputs that are almost valid.
pub fn corrupt(bytes: &[u8], flips: &[(usize, u8)]) -> Vec<u8> {
    let mut corrupted = bytes.to_vec();
    if corrupted.is_empty() {
        return corrupted;
    }
    for &(position, mask) in flips {
        let length = corrupted.len();
        corrupted[position % length] ^= mask.max(1);
    }
    corrupted
}

pub fn key(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}
