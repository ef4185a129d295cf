//! Properties of the frame codec: encoding round-trips, incremental parsing
//! agrees with parsing whole at every split point, arbitrary bytes never
//! panic, requests round-trip, and redis-rs reads what we encode.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use synod_kv::{Sequence, SessionId, SessionTag, SetCondition};
use synod_resp::{
    encode, parse_frame, ClientAttribute, CommandQuery, Frame, HelloAuth, Protocol, ProtocolError,
    Request,
};

/// Text of a simple string or error: anything without a line break.
fn text() -> impl Strategy<Value = String> {
    "[^\r\n]{0,16}"
}

fn bulk() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..48).prop_map(Bytes::from)
}

/// Frames within every limit: at most 4 levels and 64 elements.
fn frame() -> impl Strategy<Value = Frame> {
    let leaf = prop_oneof![
        text().prop_map(Frame::Simple),
        text().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        bulk().prop_map(Frame::Bulk),
        Just(Frame::Null),
        Just(Frame::NullArray),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| vec(inner, 0..8).prop_map(Frame::Array))
}

/// Bytes that look like RESP often enough to reach deep into the parser.
fn resp_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"+".to_vec()),
        Just(b"-".to_vec()),
        Just(b":".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b" ".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"PING".to_vec()),
        (0u32..6).prop_map(|digit| digit.to_string().into_bytes()),
        vec(any::<u8>(), 1..4),
    ];
    vec(token, 0..48).prop_map(|tokens| tokens.concat())
}

fn encoded(frames: &[Frame]) -> Vec<u8> {
    let mut buffer = BytesMut::new();
    frames.iter().for_each(|frame| encode(frame, &mut buffer));
    buffer.to_vec()
}

/// What a connection makes of a stream: the frames, then the error that
/// ended it, if any, and how many bytes the frames took (with skipped blank
/// lines).
#[derive(Debug, PartialEq)]
struct Outcome {
    frames: Vec<Frame>,
    error: Option<ProtocolError>,
    consumed_bytes: usize,
}

/// Feeds `chunks` one after the other, parsing all that can be parsed after
/// each, and stops at the first error, as a server does.
fn feed(chunks: &[&[u8]]) -> Outcome {
    let mut buffer = BytesMut::new();
    let mut frames = Vec::new();
    let mut fed_bytes = 0;
    for chunk in chunks {
        buffer.extend_from_slice(chunk);
        fed_bytes += chunk.len();
        loop {
            match parse_frame(&mut buffer) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => {
                    return Outcome {
                        frames,
                        error: Some(error),
                        consumed_bytes: fed_bytes - buffer.len(),
                    }
                }
            }
        }
    }
    Outcome {
        frames,
        error: None,
        consumed_bytes: fed_bytes - buffer.len(),
    }
}

/// Checks that every single split point, and byte-by-byte feeding, parse
/// like the whole buffer.
fn assert_split_invariant(input: &[u8]) -> Outcome {
    let whole = feed(&[input]);
    for split in 0..=input.len() {
        let (head, tail) = input.split_at(split);
        assert_eq!(feed(&[head, tail]), whole, "split at {split}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(feed(&bytes), whole, "byte by byte");
    whole
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encoding_then_parsing_gives_the_frame_back(frame in frame()) {
        let mut buffer = BytesMut::from(&encoded(std::slice::from_ref(&frame))[..]);
        prop_assert_eq!(parse_frame(&mut buffer), Ok(Some(frame)));
        prop_assert!(buffer.is_empty());
    }

    #[test]
    fn pipelined_frames_parse_the_same_at_any_split_points(
        frames in vec(frame(), 1..6),
        splits in vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let input = encoded(&frames);
        let mut points: Vec<usize> = splits.iter().map(|index| index.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for point in points {
            chunks.push(&input[start..point]);
            start = point;
        }
        chunks.push(&input[start..]);
        prop_assert_eq!(
            feed(&chunks),
            Outcome { frames, error: None, consumed_bytes: input.len() }
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_parse_alike_at_every_split(input in vec(any::<u8>(), 0..96)) {
        assert_split_invariant(&input);
    }

    #[test]
    fn resp_like_bytes_parse_alike_at_every_split(input in resp_like_bytes()) {
        assert_split_invariant(&input);
    }

    #[test]
    fn corrupted_frames_parse_alike_at_every_split(
        frames in vec(frame(), 1..4),
        corruptions in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut input = encoded(&frames);
        for (index, byte) in corruptions {
            let position = index.index(input.len());
            input[position] = byte;
        }
        assert_split_invariant(&input);
    }

    #[test]
    fn requests_survive_encoding_and_parsing(request in request()) {
        let mut buffer = BytesMut::from(&encoded(&[request.to_frame()])[..]);
        let frame = parse_frame(&mut buffer).unwrap().unwrap();
        prop_assert_eq!(Request::parse(frame), Ok(request));
    }

    #[test]
    fn redis_rs_reads_what_we_encode(frame in redis_comparable_frame()) {
        let value = redis::parse_redis_value(&encoded(std::slice::from_ref(&frame)))
            .expect("redis-rs parses our encoding");
        prop_assert_eq!(from_redis(value), without_null_arrays(frame));
    }
}

fn key() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..12).prop_map(Bytes::from)
}

/// A client name: printable, no spaces.
fn name() -> impl Strategy<Value = Bytes> {
    "[!-~]{0,12}".prop_map(Bytes::from)
}

fn any_condition() -> impl Strategy<Value = SetCondition> {
    prop_oneof![
        Just(SetCondition::Always),
        Just(SetCondition::IfAbsent),
        Just(SetCondition::IfPresent),
    ]
}

fn write() -> impl Strategy<Value = Request> {
    let condition = any_condition();
    prop_oneof![
        (key(), key(), condition).prop_map(|(key, value, condition)| Request::Set {
            key,
            value,
            condition
        }),
        vec(key(), 1..5).prop_map(|keys| Request::Del { keys }),
        (key(), any::<i64>()).prop_map(|(key, delta)| Request::IncrementBy { key, delta }),
        (key(), key()).prop_map(|(key, value)| Request::SetIfAbsent { key, value }),
        (key(), key(), any_condition()).prop_map(|(key, value, condition)| {
            Request::Exchange {
                key,
                value,
                condition,
            }
        }),
        key().prop_map(|key| Request::GetDel { key }),
        (key(), key()).prop_map(|(key, value)| Request::Append { key, value }),
        (
            vec((key(), key()), 1..4),
            prop_oneof![Just(SetCondition::Always), Just(SetCondition::IfAbsent)],
        )
            .prop_map(|(pairs, condition)| Request::SetMany { pairs, condition }),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    let attribute = prop_oneof![
        Just(ClientAttribute::LibraryName),
        Just(ClientAttribute::LibraryVersion),
    ];
    let query = prop_oneof![
        Just(CommandQuery::Table),
        Just(CommandQuery::Docs),
        Just(CommandQuery::Count),
    ];
    prop_oneof![
        key().prop_map(|key| Request::Get { key }),
        write(),
        vec(key(), 1..5).prop_map(|keys| Request::Exists { keys }),
        key().prop_map(|key| Request::StringLength { key }),
        (key(), any::<i64>(), any::<i64>()).prop_map(|(key, start, end)| Request::GetRange {
            key,
            start,
            end
        }),
        key().prop_map(|key| Request::Type { key }),
        Just(Request::DbSize),
        option::of(key()).prop_map(|message| Request::Ping { message }),
        key().prop_map(|message| Request::Echo { message }),
        Just(Request::Quit),
        option::of(name()).prop_map(|section| Request::Info { section }),
        query.prop_map(Request::Command),
        (
            option::of(prop_oneof![Just(Protocol::Resp2), Just(Protocol::Resp3)]),
            option::of((key(), key())),
            option::of(name()),
        )
            .prop_map(|(protocol, auth, client_name)| Request::Hello {
                // Options follow a version only.
                auth: protocol.and(auth).map(|(username, password)| HelloAuth {
                    username,
                    password: synod_resp::Password(password),
                }),
                client_name: protocol.and(client_name),
                protocol,
            }),
        name().prop_map(|name| Request::ClientSetName { name }),
        Just(Request::ClientGetName),
        Just(Request::ClientId),
        Just(Request::ClientInfo),
        (attribute, name())
            .prop_map(|(attribute, value)| Request::ClientSetInfo { attribute, value }),
        Just(Request::Select),
        Just(Request::ReadOnly),
        Just(Request::ReadWrite),
        Just(Request::SessionRegister),
        (any::<u64>(), 1..=u64::MAX, write()).prop_map(|(session, sequence, write)| {
            Request::Tagged {
                tag: SessionTag {
                    session: SessionId(session),
                    sequence: Sequence(sequence),
                },
                write: Box::new(write),
            }
        }),
    ]
}

/// Frames whose errors have a code and words, the shape redis-rs splits
/// into code and detail.
fn redis_comparable_frame() -> impl Strategy<Value = Frame> {
    let leaf = prop_oneof![
        "[a-zA-Z0-9 ]{0,16}".prop_map(Frame::Simple),
        "[A-Z]{1,8}( [a-z]{1,8}){0,3}".prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        bulk().prop_map(Frame::Bulk),
        Just(Frame::Null),
        Just(Frame::NullArray),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| vec(inner, 0..6).prop_map(Frame::Array))
}

/// RESP2 has two nulls; redis-rs reads both as one `Nil`.
fn without_null_arrays(frame: Frame) -> Frame {
    match frame {
        Frame::NullArray => Frame::Null,
        Frame::Array(elements) => {
            Frame::Array(elements.into_iter().map(without_null_arrays).collect())
        }
        other => other,
    }
}

fn from_redis(value: redis::Value) -> Frame {
    match value {
        redis::Value::Nil => Frame::Null,
        redis::Value::Int(value) => Frame::Integer(value),
        redis::Value::BulkString(bytes) => Frame::Bulk(Bytes::from(bytes)),
        redis::Value::Array(elements) => {
            Frame::Array(elements.into_iter().map(from_redis).collect())
        }
        redis::Value::SimpleString(text) => Frame::Simple(text),
        redis::Value::Okay => Frame::Simple("OK".to_owned()),
        redis::Value::ServerError(error) => Frame::Error(match error.details() {
            Some(detail) => format!("{} {detail}", error.code()),
            None => error.code().to_owned(),
        }),
        other => panic!("a RESP3 value from RESP2 bytes: {other:?}"),
    }
}

/// Parses a command as redis-rs puts it on the wire.
fn parse_packed(command: &redis::Cmd) -> Result<Request, synod_resp::CommandError> {
    let packed = command.get_packed_command();
    let frame = parse_frame(&mut BytesMut::from(&packed[..]))
        .unwrap()
        .unwrap();
    Request::parse(frame)
}

#[test]
fn redis_rs_commands_parse_into_requests() {
    let set = redis::cmd("SET")
        .arg("key")
        .arg(b"va\r\nlue")
        .arg("NX")
        .clone();
    assert_eq!(
        parse_packed(&set),
        Ok(Request::Set {
            key: Bytes::from_static(b"key"),
            value: Bytes::from_static(b"va\r\nlue"),
            condition: SetCondition::IfAbsent,
        })
    );
    let set_info = redis::cmd("CLIENT")
        .arg("SETINFO")
        .arg("LIB-VER")
        .arg("1.2.2")
        .clone();
    assert_eq!(
        parse_packed(&set_info),
        Ok(Request::ClientSetInfo {
            attribute: ClientAttribute::LibraryVersion,
            value: Bytes::from_static(b"1.2.2"),
        })
    );
}
