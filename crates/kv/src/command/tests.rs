use super::encoding::operation_code;
use super::*;
use crate::limits::{KEYS_PER_COMMAND_MAX, KEY_SIZE_MAX_BYTES, VALUE_SIZE_MAX_BYTES};

fn key(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

#[test]
fn reads_are_get_contains_and_count_existing() {
    let reads = [
        Operation::Get { key: key("k") },
        Operation::Contains { key: key("k") },
        Operation::CountExisting {
            keys: vec![key("k")],
        },
    ];
    let writes = [
        Operation::Set {
            key: key("k"),
            value: key("v"),
            condition: SetCondition::Always,
        },
        Operation::Remove { key: key("k") },
        Operation::RemoveMany {
            keys: vec![key("k")],
        },
        Operation::RegisterSession,
    ];
    assert!(reads.iter().all(Operation::is_read));
    assert!(!writes.iter().any(Operation::is_read));
}

#[test]
fn increment_by_encodes_to_the_documented_layout() {
    let increment = Command::untagged(Operation::IncrementBy {
        key: Bytes::from_static(b"k"),
        delta: 300,
    });
    assert_eq!(increment.encode().as_ref(), &[1, 0, 8, 1, b'k', 0xac, 0x02]);
    let decrement = Command::untagged(Operation::IncrementBy {
        key: Bytes::from_static(b"k"),
        delta: i64::MIN,
    });
    assert_eq!(Command::decode(&decrement.encode()), Ok(decrement));
}

#[test]
fn set_encodes_to_the_documented_layout() {
    let command = Command::tagged(
        SessionId(3),
        Sequence(300),
        Operation::Set {
            key: key("k"),
            value: key("vv"),
            condition: SetCondition::IfAbsent,
        },
    );
    let expected: &[u8] = &[1, 1, 3, 0xac, 0x02, 3, 1, 1, b'k', 2, b'v', b'v'];
    assert_eq!(command.encode().as_ref(), expected);
    assert_eq!(Command::decode(expected), Ok(command));
}

#[test]
fn decode_rejects_unknown_version_operation_condition_and_flag() {
    let register = Command::untagged(Operation::RegisterSession).encode();
    assert_eq!(register.as_ref(), &[1, 0, 7]);
    assert_eq!(
        Command::decode(&[2, 0, 7]),
        Err(DecodeError::VersionUnsupported {
            format: "command",
            version: 2
        })
    );
    assert_eq!(
        Command::decode(&[1, 0, 32]),
        Err(DecodeError::TagUnknown {
            field: "operation code",
            tag: 32
        })
    );
    assert_eq!(
        Command::decode(&[1, 0, 3, 3, 1, b'k', 0]),
        Err(DecodeError::TagUnknown {
            field: "set condition",
            tag: 3
        })
    );
    assert_eq!(
        Command::decode(&[1, 4, 7]),
        Err(DecodeError::TagUnknown {
            field: "command flags",
            tag: 4
        })
    );
    assert_eq!(Command::decode(&[]), Err(DecodeError::Truncated));
    assert_eq!(
        Command::decode(&[1, 0, 7, 0]),
        Err(DecodeError::TrailingBytes { count: 1 })
    );
}

#[test]
fn decode_enforces_the_limits() {
    let mut oversized_key = vec![1, 0, operation_code::GET];
    let mut writer = Writer::new();
    writer.put_bytes(&vec![b'k'; KEY_SIZE_MAX_BYTES + 1]);
    oversized_key.extend(writer.into_bytes());
    assert_eq!(
        Command::decode(&oversized_key),
        Err(LimitError::KeyTooLarge {
            size_bytes: KEY_SIZE_MAX_BYTES + 1
        }
        .into())
    );

    let mut writer = Writer::new();
    writer.put_u8(COMMAND_FORMAT_VERSION);
    writer.put_bool(false);
    writer.put_u8(operation_code::REMOVE_MANY);
    writer.put_length(KEYS_PER_COMMAND_MAX + 1);
    assert_eq!(
        Command::decode(&writer.into_bytes()),
        Err(LimitError::KeysTooMany {
            count: KEYS_PER_COMMAND_MAX + 1
        }
        .into())
    );
    assert_eq!(
        Command::decode(&[1, 0, operation_code::COUNT_EXISTING, 0]),
        Err(LimitError::KeysEmpty.into())
    );
}

#[test]
fn multi_key_commands_are_bounded_by_the_payload_limit() {
    let keys = vec![Bytes::from(vec![b'k'; KEY_SIZE_MAX_BYTES]); KEYS_PER_COMMAND_MAX];
    let command = Command::untagged(Operation::RemoveMany { keys });
    assert!(matches!(
        command.validate(),
        Err(LimitError::PayloadTooLarge { .. })
    ));
}

#[test]
fn the_largest_set_fits_in_the_command_size_limit() {
    let command = Command::tagged(
        SessionId(u64::MAX),
        Sequence(u64::MAX),
        Operation::Set {
            key: Bytes::from(vec![b'k'; KEY_SIZE_MAX_BYTES]),
            value: Bytes::from(vec![b'v'; VALUE_SIZE_MAX_BYTES]),
            condition: SetCondition::IfPresent,
        },
    );
    let encoded = command.encode();
    assert!(encoded.len() <= COMMAND_SIZE_MAX_BYTES);
    assert_eq!(Command::decode(&encoded), Ok(command));
}

#[test]
#[should_panic(expected = "breaks a limit")]
fn encode_refuses_a_command_that_breaks_a_limit() {
    let command = Command::untagged(Operation::Get {
        key: Bytes::from(vec![0; KEY_SIZE_MAX_BYTES + 1]),
    });
    let _ = command.encode();
}
