use super::*;
use synod_codec::{decode_exactly, encode_to_bytes};

#[test]
fn a_prepare_has_the_documented_layout() {
    let message = Message::Prepare {
        ballot: Ballot {
            round: 300,
            node: NodeId(2),
        },
        first_undecided: Slot(5),
    };
    let encoded = encode_to_bytes(&message);
    assert_eq!(
        encoded.as_ref(),
        &[MESSAGE_FORMAT_VERSION, kind::PREPARE, 0xac, 0x02, 2, 5]
    );
    assert_eq!(decode_exactly(&encoded), Ok(message));
}

#[test]
fn commands_decoded_from_a_frame_are_views_of_it() {
    let message = Message::Forward {
        commands: vec![Bytes::from_static(b"set k v")],
    };
    let encoded = encode_to_bytes(&message);
    let Ok(Message::Forward { commands }) = decode_exactly::<Message>(&encoded) else {
        panic!("a forward decodes");
    };
    assert_eq!(commands[0].as_ptr(), encoded[4..].as_ptr());
}

#[test]
fn an_unknown_kind_and_another_version_are_refused() {
    assert_eq!(
        decode_exactly::<Message>(&Bytes::from_static(&[MESSAGE_FORMAT_VERSION, 99])),
        Err(DecodeError::TagUnknown {
            field: "message kind",
            tag: 99
        })
    );
    assert_eq!(
        decode_exactly::<Message>(&Bytes::from_static(&[1, 1])),
        Err(DecodeError::VersionUnsupported {
            format: "message",
            version: 1
        })
    );
}

#[test]
fn a_list_longer_than_its_frame_is_refused_without_allocating() {
    let mut writer = Writer::new();
    writer.put_u8(MESSAGE_FORMAT_VERSION);
    writer.put_u8(kind::FORWARD);
    writer.put_u64(u64::MAX);
    assert_eq!(
        decode_exactly::<Message>(&writer.into_bytes()),
        Err(DecodeError::ListTooLong { length: u64::MAX })
    );
}
