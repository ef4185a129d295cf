//! One test per command: what parses, what each arity or option error
//! says, and what the command maps to in the state machine and back.

use bytes::Bytes;
use synod_kv::{
    Command, ExpireCondition, Expiry, KeyExpiry, LimitError, Operation, Refusal, Response,
    Sequence, SessionId, SessionTag, SetCondition, UnixMillis, KEYS_PER_COMMAND_MAX,
    KEY_SIZE_MAX_BYTES, VALUE_SIZE_MAX_BYTES,
};
use synod_resp::limits::CLIENT_NAME_SIZE_MAX_BYTES;
use synod_resp::reply::{self, error_code, error_code_of, reply_for};
use synod_resp::{
    ClientAttribute, CommandError, CommandQuery, Frame, HelloAuth, Protocol, Request, TtlReport,
};

mod common;

use common::{bytes, parse};

fn arity(command: &'static str) -> Result<Request, CommandError> {
    Err(CommandError::Arity { command })
}

fn error_text(frame: Frame) -> String {
    match frame {
        Frame::Error(text) => text,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

#[test]
fn get_reads_one_key_in_any_case() {
    let request = parse(&[b"gEt", b"k"]).unwrap();
    assert_eq!(request, Request::Get { key: bytes("k") });
    assert_eq!(
        request.to_command(),
        Some(Command::untagged(Operation::Get { key: bytes("k") }))
    );
    assert_eq!(parse(&[b"GET"]), arity("get"));
    assert_eq!(parse(&[b"GET", b"a", b"b"]), arity("get"));
}

#[test]
fn set_takes_nx_or_xx_and_every_expiry_option() {
    let set = |condition| Request::Set {
        key: bytes("k"),
        value: bytes("v"),
        condition,
    };
    assert_eq!(parse(&[b"SET", b"k", b"v"]), Ok(set(SetCondition::Always)));
    assert_eq!(
        parse(&[b"SET", b"k", b"v", b"nx"]),
        Ok(set(SetCondition::IfAbsent))
    );
    assert_eq!(
        parse(&[b"SET", b"k", b"v", b"XX", b"xx"]),
        Ok(set(SetCondition::IfPresent))
    );
    assert_eq!(
        parse(&[b"SET", b"k", b"v", b"NX", b"XX"]),
        Err(CommandError::Syntax)
    );
    assert_eq!(
        parse(&[b"SET", b"k", b"v", b"FOO"]),
        Err(CommandError::Syntax)
    );
    let expiring = |condition, expiry, answer_previous| Request::SetExpiring {
        key: bytes("k"),
        value: bytes("v"),
        condition,
        expiry,
        answer_previous,
        command: "set",
    };
    assert_eq!(
        parse(&[b"SET", b"k", b"v", b"ex", b"10"]),
        Ok(expiring(SetCondition::Always, Expiry::After(10_000), false))
    );
    assert_eq!(
        parse(&[b"SET", b"k", b"v", b"PXAT", b"10", b"GET", b"XX"]),
        Ok(expiring(SetCondition::IfPresent, Expiry::At(10), true))
    );
    assert_eq!(
        parse(&[b"SET", b"k", b"v", b"KEEPTTL", b"NX"]),
        Ok(expiring(SetCondition::IfAbsent, Expiry::Keep, false))
    );
    assert_eq!(
        parse(&[b"SET", b"k", b"v", b"EXAT", b"2"]),
        Ok(expiring(SetCondition::Always, Expiry::At(2_000), false))
    );
    for (words, message) in [
        ("SET k v EX 0", "ERR invalid expire time in 'set' command"),
        ("SET k v PX -5", "ERR invalid expire time in 'set' command"),
        (
            "SET k v EX 9223372036854775807",
            "ERR invalid expire time in 'set' command",
        ),
        (
            "SET k v EX ten",
            "ERR value is not an integer or out of range",
        ),
        ("SET k v EX 1 PX 1", "ERR syntax error"),
        ("SET k v EX 1 KEEPTTL", "ERR syntax error"),
        ("SET k v EX", "ERR syntax error"),
        ("SETEX k 0 v", "ERR invalid expire time in 'setex' command"),
        (
            "PSETEX k -1 v",
            "ERR invalid expire time in 'psetex' command",
        ),
        ("GETEX k EX 0", "ERR invalid expire time in 'getex' command"),
        ("GETEX k EX 1 PERSIST", "ERR syntax error"),
        (
            "EXPIRE k 10 NX GT",
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ),
        (
            "EXPIRE k 10 GT LT",
            "ERR GT and LT options at the same time are not compatible",
        ),
        ("EXPIRE k 10 SOON", "ERR Unsupported option SOON"),
        (
            "EXPIRE k 9223372036854775807",
            "ERR invalid expire time in 'expire' command",
        ),
    ] {
        let words: Vec<&[u8]> = words.split(' ').map(str::as_bytes).collect();
        let refused = parse(&words).unwrap_err();
        assert_eq!(error_text(refused.reply()), message, "{words:?}");
    }
    let expire = |expiry, condition, command| Request::Expire {
        key: bytes("k"),
        expiry,
        condition,
        command,
    };
    assert_eq!(
        parse(&[b"EXPIRE", b"k", b"-3"]),
        Ok(expire(
            Expiry::After(-3_000),
            ExpireCondition::Always,
            "expire"
        ))
    );
    assert_eq!(
        parse(&[b"pexpireat", b"k", b"77", b"xx", b"lt"]),
        Ok(expire(
            Expiry::At(77),
            ExpireCondition::IfSomeAndEarlier,
            "pexpireat"
        ))
    );
    assert_eq!(
        parse(&[b"EXPIREAT", b"k", b"7", b"XX", b"GT"]),
        Ok(expire(
            Expiry::At(7_000),
            ExpireCondition::IfLater,
            "expireat"
        ))
    );
    assert_eq!(
        parse(&[b"GETEX", b"k"]),
        Ok(Request::GetEx {
            key: bytes("k"),
            expiry: Expiry::Keep
        })
    );
    assert_eq!(
        parse(&[b"GETEX", b"k", b"persist"]),
        Ok(Request::GetEx {
            key: bytes("k"),
            expiry: Expiry::Clear
        })
    );
    assert_eq!(
        parse(&[b"PTTL", b"k"]),
        Ok(Request::Ttl {
            key: bytes("k"),
            report: TtlReport::Milliseconds
        })
    );
    // Every form survives the way back to a frame.
    for words in [
        "SET k v EX 10 NX GET",
        "SET k v KEEPTTL",
        "SETEX k 10 v",
        "PSETEX k 10 v",
        "EXPIRE k 10 XX LT",
        "PEXPIREAT k 10 NX",
        "GETEX k EXAT 10",
        "EXPIRETIME k",
        "PERSIST k",
    ] {
        let words: Vec<&[u8]> = words.split(' ').map(str::as_bytes).collect();
        let request = parse(&words).unwrap();
        assert_eq!(Request::parse(request.to_frame()), Ok(request), "{words:?}");
    }
    assert_eq!(
        parse(&[b"SET", b"k", b"v", b"NX", b"GET"]),
        Ok(Request::Exchange {
            key: bytes("k"),
            value: bytes("v"),
            condition: SetCondition::IfAbsent
        })
    );
    assert_eq!(parse(&[b"SET", b"k"]), arity("set"));
}

#[test]
fn exchanges_appends_and_multi_key_sets_map_to_one_operation_each() {
    let operation = |words: &[&[u8]]| parse(words).unwrap().to_command().unwrap().operation;
    assert_eq!(
        operation(&[b"GETSET", b"k", b"v"]),
        Operation::Exchange {
            key: bytes("k"),
            value: bytes("v"),
            condition: SetCondition::Always
        }
    );
    assert_eq!(
        operation(&[b"GETDEL", b"k"]),
        Operation::Take { key: bytes("k") }
    );
    assert_eq!(
        operation(&[b"APPEND", b"k", b"v"]),
        Operation::Append {
            key: bytes("k"),
            value: bytes("v")
        }
    );
    assert_eq!(operation(&[b"DBSIZE"]), Operation::CountKeys);
    assert_eq!(
        operation(&[b"MSETNX", b"a", b"1", b"b", b"2"]),
        Operation::SetMany {
            pairs: vec![(bytes("a"), bytes("1")), (bytes("b"), bytes("2"))],
            condition: SetCondition::IfAbsent
        }
    );
    assert_eq!(parse(&[b"MSET", b"a", b"1", b"b"]), arity("mset"));
    assert_eq!(parse(&[b"MSETNX", b"a"]), arity("msetnx"));
    let reply = |words: &[&[u8]], response: Response| reply_for(&response, &parse(words).unwrap());
    assert_eq!(
        reply(&[b"GETSET", b"k", b"v"], Response::Value(None)),
        Frame::Null
    );
    assert_eq!(
        reply(
            &[b"SET", b"k", b"v", b"GET"],
            Response::Value(Some(bytes("old")))
        ),
        Frame::Bulk(bytes("old"))
    );
    assert_eq!(
        reply(&[b"APPEND", b"k", b"v"], Response::Count(6)),
        Frame::Integer(6)
    );
    assert_eq!(
        error_text(reply(
            &[b"APPEND", b"k", b"v"],
            Response::Refused(Refusal::TooLarge)
        )),
        "ERR string exceeds maximum allowed size (synod's value limit, 1048576 bytes)"
    );
    assert_eq!(
        reply(&[b"MSET", b"a", b"1"], Response::Stored(true)),
        reply::ok()
    );
    assert_eq!(
        reply(&[b"MSETNX", b"a", b"1"], Response::Stored(false)),
        Frame::Integer(0)
    );
    assert_eq!(reply(&[b"DBSIZE"], Response::Count(3)), Frame::Integer(3));
}

#[test]
fn del_and_exists_map_one_key_to_the_single_key_operations() {
    assert_eq!(
        parse(&[b"DEL", b"a"]).unwrap().to_command(),
        Some(Command::untagged(Operation::Remove { key: bytes("a") }))
    );
    assert_eq!(
        parse(&[b"del", b"a", b"b"]).unwrap().to_command(),
        Some(Command::untagged(Operation::RemoveMany {
            keys: vec![bytes("a"), bytes("b")]
        }))
    );
    assert_eq!(
        parse(&[b"EXISTS", b"a"]).unwrap().to_command(),
        Some(Command::untagged(Operation::Contains { key: bytes("a") }))
    );
    assert_eq!(
        parse(&[b"exists", b"a", b"a"]).unwrap().to_command(),
        Some(Command::untagged(Operation::CountExisting {
            keys: vec![bytes("a"), bytes("a")]
        }))
    );
    assert_eq!(parse(&[b"DEL"]), arity("del"));
    assert_eq!(parse(&[b"EXISTS"]), arity("exists"));
}

#[test]
fn kv_limits_are_command_errors() {
    let key = vec![b'k'; KEY_SIZE_MAX_BYTES + 1];
    assert_eq!(
        parse(&[b"GET", &key]),
        Err(CommandError::Limit(LimitError::KeyTooLarge {
            size_bytes: KEY_SIZE_MAX_BYTES + 1
        }))
    );
    let value = vec![b'v'; VALUE_SIZE_MAX_BYTES + 1];
    let refused = parse(&[b"SET", b"k", &value]).unwrap_err();
    assert_eq!(
        refused,
        CommandError::Limit(LimitError::ValueTooLarge {
            size_bytes: VALUE_SIZE_MAX_BYTES + 1
        })
    );
    assert!(error_text(refused.reply()).starts_with("ERR value of 1048577 bytes exceeds"));
    let mut words: Vec<&[u8]> = vec![b"DEL"];
    words.extend(std::iter::repeat_n(&b"k"[..], KEYS_PER_COMMAND_MAX + 1));
    assert_eq!(
        parse(&words),
        Err(CommandError::Limit(LimitError::KeysTooMany {
            count: KEYS_PER_COMMAND_MAX + 1
        }))
    );
}

#[test]
fn ping_echo_and_quit_are_answered_locally() {
    let ping = parse(&[b"PING"]).unwrap();
    assert_eq!(ping.to_command(), None);
    assert_eq!(
        reply::local_reply(&ping),
        Some(Frame::Simple("PONG".into()))
    );
    let ping_message = parse(&[b"ping", b"hi"]).unwrap();
    assert_eq!(
        reply::local_reply(&ping_message),
        Some(Frame::Bulk(bytes("hi")))
    );
    assert_eq!(parse(&[b"PING", b"a", b"b"]), arity("ping"));
    let echo = parse(&[b"ECHO", b"x"]).unwrap();
    assert_eq!(reply::local_reply(&echo), Some(Frame::Bulk(bytes("x"))));
    assert_eq!(parse(&[b"ECHO"]), arity("echo"));
    assert_eq!(parse(&[b"QUIT", b"now"]), Ok(Request::Quit));
    assert_eq!(reply::local_reply(&Request::Quit), Some(reply::ok()));
}

#[test]
fn info_takes_at_most_one_section() {
    assert_eq!(parse(&[b"INFO"]), Ok(Request::Info { section: None }));
    assert_eq!(
        parse(&[b"info", b"replication"]),
        Ok(Request::Info {
            section: Some(bytes("replication"))
        })
    );
    assert_eq!(parse(&[b"INFO", b"a", b"b"]), arity("info"));
    assert_eq!(reply::local_reply(&Request::Info { section: None }), None);
}

#[test]
fn command_reports_exactly_the_commands_that_parse() {
    let table = parse(&[b"COMMAND"]).unwrap();
    assert_eq!(table, Request::Command(CommandQuery::Table));
    let Some(Frame::Array(entries)) = reply::local_reply(&table) else {
        panic!("COMMAND answers an array");
    };
    let count = parse(&[b"command", b"count"]).unwrap();
    assert_eq!(
        reply::local_reply(&count),
        Some(Frame::Integer(entries.len() as i64))
    );
    for entry in entries {
        let Frame::Array(fields) = entry else {
            panic!("each entry is an array")
        };
        assert_eq!(fields.len(), 6);
        let Frame::Bulk(name) = &fields[0] else {
            panic!("the name is a bulk string")
        };
        // The advertised name parses: the error, if any, is not "unknown".
        let parsed = parse(&[name]);
        assert!(
            !matches!(parsed, Err(CommandError::CommandUnknown { .. })),
            "{name:?}"
        );
    }
    let docs = parse(&[b"COMMAND", b"DOCS", b"get", b"set"]).unwrap();
    assert_eq!(reply::local_reply(&docs), Some(Frame::Array(vec![])));
    assert_eq!(
        parse(&[b"COMMAND", b"GETKEYS"]),
        Err(CommandError::SubcommandUnknown {
            command: "command",
            subcommand: "GETKEYS".into()
        })
    );
}

#[test]
fn string_commands_answer_from_the_value_as_redis_does() {
    let value = |text: &'static str| Response::Value(Some(bytes(text)));
    let range = |start: &[u8], end: &[u8], stored: Response| {
        let request = parse(&[b"GETRANGE", b"k", start, end]).unwrap();
        assert_eq!(
            request.to_command().unwrap().operation,
            Operation::Get { key: bytes("k") }
        );
        reply_for(&stored, &request)
    };
    let bulk = |text: &'static str| Frame::Bulk(bytes(text));
    assert_eq!(range(b"0", b"3", value("This is a string")), bulk("This"));
    assert_eq!(range(b"-3", b"-1", value("This is a string")), bulk("ing"));
    assert_eq!(
        range(b"0", b"-1", value("This is a string")),
        bulk("This is a string")
    );
    assert_eq!(
        range(b"10", b"100", value("This is a string")),
        bulk("string")
    );
    assert_eq!(range(b"5", b"3", value("abcdef")), bulk(""));
    assert_eq!(range(b"-1", b"-5", value("abcdef")), bulk(""));
    assert_eq!(range(b"-100", b"1", value("abcdef")), bulk("ab"));
    assert_eq!(range(b"0", b"0", Response::Value(None)), bulk(""));
    assert_eq!(
        parse(&[b"GETRANGE", b"k", b"a", b"1"]),
        Err(CommandError::NotInteger)
    );
    let strlen = parse(&[b"STRLEN", b"k"]).unwrap();
    assert_eq!(reply_for(&value("hello"), &strlen), Frame::Integer(5));
    assert_eq!(
        reply_for(&Response::Value(None), &strlen),
        Frame::Integer(0)
    );
    let setnx = parse(&[b"SETNX", b"k", b"v"]).unwrap();
    assert_eq!(
        setnx.to_command().unwrap().operation,
        Operation::Set {
            key: bytes("k"),
            value: bytes("v"),
            condition: SetCondition::IfAbsent
        }
    );
    assert_eq!(
        reply_for(&Response::Stored(false), &setnx),
        Frame::Integer(0)
    );
    let kind = parse(&[b"TYPE", b"k"]).unwrap();
    assert_eq!(
        reply_for(&Response::Found(true), &kind),
        Frame::Simple("string".into())
    );
    assert_eq!(
        reply_for(&Response::Found(false), &kind),
        Frame::Simple("none".into())
    );
    assert_eq!(
        parse(&[b"UNLINK", b"a", b"b"]),
        Ok(Request::Del {
            keys: vec![bytes("a"), bytes("b")]
        })
    );
    assert_eq!(
        parse(&[b"TOUCH", b"a"]),
        Ok(Request::Exists {
            keys: vec![bytes("a")]
        })
    );
    assert_eq!(parse(&[b"SETNX", b"k"]), arity("setnx"));
}

#[test]
fn counters_parse_into_one_increment_and_answer_integers_or_redis_errors() {
    let increment = |key: &'static str, delta| {
        Ok(Request::IncrementBy {
            key: bytes(key),
            delta,
        })
    };
    assert_eq!(parse(&[b"INCR", b"c"]), increment("c", 1));
    assert_eq!(parse(&[b"decr", b"c"]), increment("c", -1));
    assert_eq!(parse(&[b"INCRBY", b"c", b"-5"]), increment("c", -5));
    assert_eq!(parse(&[b"DECRBY", b"c", b"5"]), increment("c", -5));
    assert_eq!(
        parse(&[b"DECRBY", b"c", b"9223372036854775807"]),
        increment("c", -i64::MAX)
    );
    assert_eq!(
        error_text(
            parse(&[b"DECRBY", b"c", b"-9223372036854775808"])
                .unwrap_err()
                .reply()
        ),
        "ERR decrement would overflow"
    );
    assert_eq!(
        error_text(parse(&[b"INCRBY", b"c", b"1.5"]).unwrap_err().reply()),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(parse(&[b"INCR"]), arity("incr"));
    assert_eq!(parse(&[b"INCRBY", b"c"]), arity("incrby"));
    let request = parse(&[b"INCR", b"c"]).unwrap();
    assert_eq!(
        reply_for(&Response::Integer(-3), &request),
        Frame::Integer(-3)
    );
    assert_eq!(
        error_text(reply_for(&Response::Refused(Refusal::NotInteger), &request)),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        error_text(reply_for(&Response::Refused(Refusal::Overflow), &request)),
        "ERR increment or decrement would overflow"
    );
}

#[test]
fn hello_parses_as_redis_parses_it() {
    let hello =
        |protocol, auth: Option<(&'static str, &'static str)>, name: Option<&'static str>| {
            Ok(Request::Hello {
                protocol,
                auth: auth.map(|(username, password)| HelloAuth {
                    username: bytes(username),
                    password: synod_resp::Password(bytes(password)),
                }),
                client_name: name.map(bytes),
            })
        };
    assert_eq!(parse(&[b"HELLO"]), hello(None, None, None));
    assert_eq!(
        parse(&[b"hello", b"2", b"setname", b"app"]),
        hello(Some(Protocol::Resp2), None, Some("app"))
    );
    assert_eq!(
        parse(&[b"HELLO", b"3", b"AUTH", b"default", b"secret", b"SETNAME", b"app"]),
        hello(
            Some(Protocol::Resp3),
            Some(("default", "secret")),
            Some("app")
        )
    );
    let refused = parse(&[b"HELLO", b"4"]).unwrap_err();
    assert_eq!(refused, CommandError::ProtocolVersionUnsupported);
    assert_eq!(
        error_text(refused.reply()),
        "NOPROTO unsupported protocol version"
    );
    assert_eq!(
        error_text(parse(&[b"HELLO", b"two"]).unwrap_err().reply()),
        "ERR Protocol version is not an integer or out of range"
    );
    for words in [
        &[&b"HELLO"[..], b"3", b"AUTH", b"default"][..],
        &[b"HELLO", b"3", b"SETNAME"],
        &[b"HELLO", b"3", b"AUTH"],
    ] {
        let option = String::from_utf8_lossy(words[2]).into_owned();
        assert_eq!(parse(words), Err(CommandError::HelloOption { option }));
    }
    assert_eq!(
        error_text(parse(&[b"HELLO", b"2", b"LATER"]).unwrap_err().reply()),
        "ERR Syntax error in HELLO option 'LATER'"
    );
}

#[test]
fn hello_answers_a_map_of_the_protocol_it_switched_to() {
    let Frame::Map(fields) = reply::hello(7, "master", Protocol::Resp3) else {
        panic!("HELLO answers a map");
    };
    assert_eq!(fields.len(), 7, "the seven fields of Redis 7");
    assert_eq!(
        fields[2..4],
        [
            (Frame::Bulk(bytes("proto")), Frame::Integer(3)),
            (Frame::Bulk(bytes("id")), Frame::Integer(7)),
        ]
    );
}

#[test]
fn client_subcommands_parse_and_names_are_checked() {
    assert_eq!(
        parse(&[b"CLIENT", b"setname", b"worker-1"]),
        Ok(Request::ClientSetName {
            name: bytes("worker-1")
        })
    );
    assert_eq!(
        parse(&[b"CLIENT", b"SETNAME", b"two words"]),
        Err(CommandError::ClientNameInvalid)
    );
    let long = vec![b'n'; CLIENT_NAME_SIZE_MAX_BYTES + 1];
    assert_eq!(
        parse(&[b"CLIENT", b"SETNAME", &long]),
        Err(CommandError::ClientNameTooLong)
    );
    assert_eq!(parse(&[b"CLIENT", b"GETNAME"]), Ok(Request::ClientGetName));
    assert_eq!(parse(&[b"client", b"id"]), Ok(Request::ClientId));
    assert_eq!(parse(&[b"CLIENT", b"INFO"]), Ok(Request::ClientInfo));
    assert_eq!(parse(&[b"CLIENT", b"ID", b"extra"]), arity("client"));
    assert_eq!(parse(&[b"CLIENT"]), arity("client"));
    let set_info = parse(&[b"CLIENT", b"SETINFO", b"lib-name", b"redis-rs"]).unwrap();
    assert_eq!(
        set_info,
        Request::ClientSetInfo {
            attribute: ClientAttribute::LibraryName,
            value: bytes("redis-rs")
        }
    );
    assert_eq!(reply::local_reply(&set_info), Some(reply::ok()));
    assert_eq!(
        parse(&[b"CLIENT", b"SETINFO", b"LIB-COLOUR", b"red"]),
        Err(CommandError::ClientAttributeUnknown {
            attribute: "LIB-COLOUR".into()
        })
    );
    assert_eq!(
        parse(&[b"CLIENT", b"KILL", b"x"]),
        Err(CommandError::SubcommandUnknown {
            command: "client",
            subcommand: "KILL".into()
        })
    );
    assert_eq!(
        reply::client_info(3, "127.0.0.1:5000", Some(b"app"), Protocol::Resp3),
        Frame::Verbatim {
            format: "txt",
            text: bytes("id=3 addr=127.0.0.1:5000 name=app db=0 resp=3\n")
        }
    );
}

#[test]
fn select_accepts_database_zero_only() {
    assert_eq!(parse(&[b"SELECT", b"0"]), Ok(Request::Select));
    assert_eq!(parse(&[b"readonly"]), Ok(Request::ReadOnly));
    assert_eq!(parse(&[b"READWRITE"]), Ok(Request::ReadWrite));
    assert!(
        parse(&[b"READONLY", b"extra"]).is_err(),
        "READONLY takes no argument"
    );
    // The connection, not the parser, answers them: they change its reads.
    assert_eq!(reply::local_reply(&Request::ReadOnly), None);
    assert_eq!(reply::local_reply(&Request::Select), Some(reply::ok()));
    assert_eq!(
        parse(&[b"SELECT", b"1"]),
        Err(CommandError::DatabaseOutOfRange)
    );
    assert_eq!(parse(&[b"SELECT", b"zero"]), Err(CommandError::NotInteger));
    assert_eq!(parse(&[b"SELECT"]), arity("select"));
}

#[test]
fn synod_session_registers_untagged() {
    let request = parse(&[b"synod.session"]).unwrap();
    assert_eq!(request, Request::SessionRegister);
    assert_eq!(
        request.to_command(),
        Some(Command::untagged(Operation::RegisterSession))
    );
    assert_eq!(parse(&[b"SYNOD.SESSION", b"x"]), arity("synod.session"));
    assert_eq!(
        reply_for(&Response::SessionRegistered(SessionId(9)), &request),
        Frame::Integer(9)
    );
}

#[test]
fn synod_tagged_wraps_set_and_del_with_a_session_tag() {
    let tagged = parse(&[b"SYNOD.TAGGED", b"4", b"2", b"set", b"k", b"v", b"NX"]).unwrap();
    assert_eq!(
        tagged.to_command(),
        Some(Command::tagged(
            SessionId(4),
            Sequence(2),
            Operation::Set {
                key: bytes("k"),
                value: bytes("v"),
                condition: SetCondition::IfAbsent
            }
        ))
    );
    let Request::Tagged { tag, .. } = parse(&[b"synod.tagged", b"4", b"3", b"DEL", b"k"]).unwrap()
    else {
        panic!("a tagged DEL parses");
    };
    assert_eq!(
        tag,
        SessionTag {
            session: SessionId(4),
            sequence: Sequence(3)
        }
    );
    assert_eq!(
        parse(&[b"SYNOD.TAGGED", b"4", b"3", b"GET", b"k"]),
        Err(CommandError::TaggedNotWrite { command: "get" })
    );
    assert_eq!(
        parse(&[
            b"SYNOD.TAGGED",
            b"4",
            b"3",
            b"SYNOD.TAGGED",
            b"1",
            b"1",
            b"DEL",
            b"k"
        ]),
        Err(CommandError::TaggedNotWrite {
            command: "synod.tagged"
        })
    );
    assert_eq!(
        parse(&[b"SYNOD.TAGGED", b"4", b"0", b"DEL", b"k"]),
        Err(CommandError::SequenceZero)
    );
    assert_eq!(
        parse(&[b"SYNOD.TAGGED", b"-4", b"1", b"DEL", b"k"]),
        Err(CommandError::NotInteger)
    );
    assert_eq!(parse(&[b"SYNOD.TAGGED", b"4", b"1"]), arity("synod.tagged"));
    assert_eq!(parse(&[b"SYNOD.TAGGED", b"4", b"1", b"DEL"]), arity("del"));
    // EXEC closes a transaction that is one write of the session.
    assert_eq!(
        parse(&[b"SYNOD.TAGGED", b"4", b"1", b"EXEC"]),
        Ok(Request::Tagged {
            tag: SessionTag {
                session: SessionId(4),
                sequence: Sequence(1)
            },
            write: Box::new(Request::Exec)
        })
    );
    assert_eq!(
        parse(&[b"SYNOD.TAGGED", b"4", b"1", b"SET", b"k"]),
        arity("set")
    );
    let key = vec![b'k'; KEY_SIZE_MAX_BYTES + 1];
    assert!(matches!(
        parse(&[b"SYNOD.TAGGED", b"4", b"1", b"DEL", &key]),
        Err(CommandError::Limit(LimitError::KeyTooLarge { .. }))
    ));
}

#[test]
fn malformed_requests_are_command_errors() {
    assert_eq!(
        Request::parse(Frame::Array(vec![])),
        Err(CommandError::Empty)
    );
    assert_eq!(
        Request::parse(Frame::Integer(1)),
        Err(CommandError::NotBulkStrings)
    );
    assert_eq!(
        Request::parse(Frame::Array(vec![
            Frame::Bulk(bytes("GET")),
            Frame::Integer(1)
        ])),
        Err(CommandError::NotBulkStrings)
    );
    let unknown = parse(&[b"LPUSH"]).unwrap_err();
    assert_eq!(
        error_text(unknown.reply()),
        "ERR unknown command 'LPUSH', with args beginning with: "
    );
    let unknown = parse(&[b"LPUSH", b"list", b"a"]).unwrap_err();
    assert_eq!(
        error_text(unknown.reply()),
        "ERR unknown command 'LPUSH', with args beginning with: 'list' 'a' "
    );
    let huge_name = vec![b'x'; 100_000];
    let Err(CommandError::CommandUnknown { command, .. }) = parse(&[&huge_name]) else {
        panic!("an unknown command");
    };
    assert!(command.len() <= 128, "the echoed name is shortened");
}

#[test]
fn ttl_replies_round_as_redis_does_and_expiry_refusals_name_the_command() {
    let ttl = |report| Request::Ttl {
        key: bytes("k"),
        report,
    };
    let at = Response::Expiry(KeyExpiry::At {
        deadline: UnixMillis(10_499),
        now: UnixMillis(1_000),
    });
    for (report, expected) in [
        (TtlReport::Seconds, 9),
        (TtlReport::Milliseconds, 9_499),
        (TtlReport::UnixSeconds, 10),
        (TtlReport::UnixMilliseconds, 10_499),
    ] {
        assert_eq!(reply_for(&at, &ttl(report)), Frame::Integer(expected));
    }
    let missing = Response::Expiry(KeyExpiry::Missing);
    let persistent = Response::Expiry(KeyExpiry::Persistent);
    assert_eq!(
        reply_for(&missing, &ttl(TtlReport::Seconds)),
        Frame::Integer(-2)
    );
    assert_eq!(
        reply_for(&persistent, &ttl(TtlReport::UnixMilliseconds)),
        Frame::Integer(-1)
    );
    let expire = parse(&[b"PEXPIRE", b"k", b"9223372036854775807"]).unwrap();
    assert_eq!(
        error_text(reply_for(
            &Response::Refused(Refusal::InvalidExpireTime),
            &expire
        )),
        "ERR invalid expire time in 'pexpire' command"
    );
    assert_eq!(reply_for(&Response::Count(1), &expire), Frame::Integer(1));
    let set_get = parse(&[b"SET", b"k", b"v", b"EX", b"1", b"GET"]).unwrap();
    assert_eq!(reply_for(&Response::Value(None), &set_get), Frame::Null);
    let set_nx = parse(&[b"SET", b"k", b"v", b"EX", b"1", b"NX"]).unwrap();
    assert_eq!(reply_for(&Response::Stored(false), &set_nx), Frame::Null);
    assert_eq!(reply_for(&Response::Stored(true), &set_nx), reply::ok());
}

#[test]
fn replies_map_each_response_to_its_redis_form() {
    let get = Request::Get { key: bytes("k") };
    assert_eq!(
        reply_for(&Response::Value(Some(bytes("v"))), &get),
        Frame::Bulk(bytes("v"))
    );
    assert_eq!(reply_for(&Response::Value(None), &get), Frame::Null);
    let set = Request::Set {
        key: bytes("k"),
        value: bytes("v"),
        condition: SetCondition::IfAbsent,
    };
    assert_eq!(reply_for(&Response::Stored(true), &set), reply::ok());
    assert_eq!(reply_for(&Response::Stored(false), &set), Frame::Null);
    let del = Request::Del {
        keys: vec![bytes("k")],
    };
    assert_eq!(reply_for(&Response::Removed(true), &del), Frame::Integer(1));
    assert_eq!(reply_for(&Response::Count(3), &del), Frame::Integer(3));
    let exists = Request::Exists {
        keys: vec![bytes("k")],
    };
    assert_eq!(
        reply_for(&Response::Found(false), &exists),
        Frame::Integer(0)
    );
    let tagged = Request::Tagged {
        tag: SessionTag {
            session: SessionId(1),
            sequence: Sequence(1),
        },
        write: Box::new(set.clone()),
    };
    assert_eq!(reply_for(&Response::Stored(false), &tagged), Frame::Null);
    let expired = error_text(reply_for(&Response::SessionExpired, &tagged));
    assert_eq!(error_code_of(&expired), error_code::SESSION_EXPIRED);
    let stale = error_text(reply_for(&Response::SequenceStale, &tagged));
    assert_eq!(error_code_of(&stale), error_code::SEQUENCE_STALE);
    let mismatch = error_text(reply_for(&Response::Count(1), &get));
    assert!(mismatch.starts_with("ERR internal error"), "{mismatch}");
}

#[test]
fn operating_condition_replies_start_with_their_codes() {
    let cases = [
        (
            reply::cluster_down("2 of 5 replicas answered"),
            error_code::CLUSTER_DOWN,
        ),
        (reply::outcome_unknown(), error_code::OUTCOME_UNKNOWN),
        (reply::try_again("no leader yet"), error_code::TRY_AGAIN),
        (reply::error("bad"), error_code::ERROR),
    ];
    for (frame, code) in cases {
        assert_eq!(error_code_of(&error_text(frame)), code);
    }
    assert_eq!(
        error_text(reply::outcome_unknown()),
        "UNKNOWN outcome unknown: the leader was lost before the write was confirmed; \
         it may or may not have been applied"
    );
    assert_eq!(
        error_text(reply::cluster_down("x")),
        "CLUSTERDOWN no quorum: x"
    );
}

#[test]
fn info_sections_render_in_the_redis_layout_without_forged_lines() {
    let frame = reply::info(&[
        reply::InfoSection {
            name: "Server".into(),
            fields: vec![("version".into(), "0.1\r\nrole:master".into())],
        },
        reply::InfoSection {
            name: "Replication".into(),
            fields: vec![("role".into(), "replica".into())],
        },
    ]);
    assert_eq!(
        frame,
        Frame::Verbatim {
            format: "txt",
            text: bytes(
                "# Server\r\nversion:0.1  role:master\r\n\r\n# Replication\r\nrole:replica\r\n"
            )
        }
    );
}

/// Encodes a request and parses it back from bytes, as the server would.
fn through_the_wire(
    request: &Request,
) -> (usize, Result<Option<Frame>, synod_resp::ProtocolError>) {
    let bytes = request.to_frame().to_bytes();
    let size_bytes = bytes.len();
    (
        size_bytes,
        synod_resp::parse_frame(&mut bytes::BytesMut::from(&bytes[..])),
    )
}

#[test]
fn the_largest_valid_requests_fit_the_frame_limits() {
    use synod_kv::PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES;
    use synod_resp::limits::REQUEST_SIZE_MAX_BYTES;

    let largest_set = Request::Tagged {
        tag: SessionTag {
            session: SessionId(u64::MAX),
            sequence: Sequence(u64::MAX),
        },
        write: Box::new(Request::Set {
            key: Bytes::from(vec![b'k'; KEY_SIZE_MAX_BYTES]),
            value: Bytes::from(vec![b'v'; VALUE_SIZE_MAX_BYTES]),
            condition: SetCondition::IfPresent,
        }),
    };
    let key_size_bytes = PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES / KEYS_PER_COMMAND_MAX;
    let largest_del = Request::Tagged {
        tag: SessionTag {
            session: SessionId(u64::MAX),
            sequence: Sequence(u64::MAX),
        },
        write: Box::new(Request::Del {
            keys: vec![Bytes::from(vec![b'k'; key_size_bytes]); KEYS_PER_COMMAND_MAX],
        }),
    };
    for request in [largest_set, largest_del] {
        let (size_bytes, parsed) = through_the_wire(&request);
        assert!(size_bytes <= REQUEST_SIZE_MAX_BYTES, "{size_bytes} bytes");
        let frame = parsed.expect("within the frame limits").expect("whole");
        assert_eq!(Request::parse(frame), Ok(request));
    }
}

#[test]
fn a_value_just_over_the_kv_limit_is_a_command_error_not_a_protocol_error() {
    let request = Request::Set {
        key: Bytes::from(vec![b'k'; KEY_SIZE_MAX_BYTES]),
        value: Bytes::from(vec![b'v'; VALUE_SIZE_MAX_BYTES + 1]),
        condition: SetCondition::Always,
    };
    let (_, parsed) = through_the_wire(&request);
    let frame = parsed
        .expect("the frame is within the RESP limits")
        .unwrap();
    assert!(matches!(
        Request::parse(frame),
        Err(CommandError::Limit(LimitError::ValueTooLarge { .. }))
    ));
}

#[test]
fn keyspace_commands_parse_with_redis_errors_and_answer_redis_replies() {
    let words = |text: &str| -> Result<Request, CommandError> {
        let words: Vec<&[u8]> = text.split(' ').map(str::as_bytes).collect();
        parse(&words)
    };
    assert_eq!(
        words("SETRANGE k 3 abc"),
        Ok(Request::SetRange {
            key: bytes("k"),
            offset: 3,
            value: bytes("abc")
        })
    );
    assert_eq!(
        words("SETRANGE k -1 abc"),
        Err(CommandError::OffsetOutOfRange)
    );
    assert_eq!(
        words("SETRANGE k 1048575 ab"),
        Err(CommandError::StringTooLarge)
    );
    assert!(
        words("SETRANGE k 99999999999 ").is_ok(),
        "an empty value writes nothing"
    );
    assert_eq!(
        words("RENAMENX a b"),
        Ok(Request::Rename {
            from: bytes("a"),
            to: bytes("b"),
            only_if_absent: true
        })
    );
    assert_eq!(
        words("COPY a b DB 0 REPLACE"),
        Ok(Request::Copy {
            from: bytes("a"),
            to: bytes("b"),
            replace: true
        })
    );
    assert_eq!(
        words("COPY a b DB 1"),
        Err(CommandError::DatabaseOutOfRange)
    );
    assert_eq!(words("COPY a b NOW"), Err(CommandError::Syntax));
    assert_eq!(words("FLUSHALL ASYNC"), Ok(Request::Flush));
    assert_eq!(words("FLUSHDB sync"), Ok(Request::Flush));
    assert_eq!(words("FLUSHALL LATER"), Err(CommandError::Syntax));
    for text in [
        "SETRANGE k 3 abc",
        "RENAME a b",
        "RENAMENX a b",
        "COPY a b REPLACE",
        "FLUSHALL",
    ] {
        let request = words(text).unwrap();
        assert_eq!(Request::parse(request.to_frame()), Ok(request), "{text}");
    }
    let rename = words("RENAME a b").unwrap();
    assert_eq!(reply_for(&Response::Stored(true), &rename), reply::ok());
    assert_eq!(
        error_text(reply_for(&Response::Refused(Refusal::NoSuchKey), &rename)),
        "ERR no such key"
    );
    let copy = words("COPY a a").unwrap();
    assert_eq!(
        error_text(reply_for(&Response::Refused(Refusal::SameObject), &copy)),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        reply_for(&Response::Count(7), &words("SETRANGE k 3 abc").unwrap()),
        Frame::Integer(7)
    );
}

#[test]
fn incrbyfloat_and_config_get_parse_as_redis_does() {
    assert_eq!(
        parse(&[b"INCRBYFLOAT", b"k", b"1.5e1"]),
        Ok(Request::IncrementByFloat {
            key: bytes("k"),
            increment: bytes("1.5e1")
        })
    );
    let refused = parse(&[b"INCRBYFLOAT", b"k", b"one"]).unwrap_err();
    assert_eq!(
        error_text(refused.reply()),
        "ERR value is not a valid float"
    );
    let request = parse(&[b"INCRBYFLOAT", b"k", b"0.5"]).unwrap();
    assert_eq!(
        reply_for(&Response::Value(Some(bytes("10.5"))), &request),
        Frame::Bulk(bytes("10.5"))
    );
    assert_eq!(
        error_text(reply_for(&Response::Refused(Refusal::NotFloat), &request)),
        "ERR value is not a valid float"
    );
    let config = parse(&[b"CONFIG", b"GET", b"save", b"APPEND*"]).unwrap();
    let pair = |name: &'static str, value: &'static str| {
        (Frame::Bulk(bytes(name)), Frame::Bulk(bytes(value)))
    };
    assert_eq!(
        reply::local_reply(&config),
        Some(Frame::Map(vec![
            pair("save", ""),
            pair("appendonly", "yes"),
            pair("appendfsync", "always")
        ]))
    );
    let unknown = parse(&[b"CONFIG", b"GET", b"maxmemory"]).unwrap();
    assert_eq!(reply::local_reply(&unknown), Some(Frame::Map(Vec::new())));
    assert!(matches!(
        parse(&[b"CONFIG", b"SET", b"save", b""]),
        Err(CommandError::ConfigParameterUnsupported { .. })
    ));
    assert!(matches!(
        parse(&[b"CONFIG", b"REWRITE"]),
        Err(CommandError::SubcommandUnknown { .. })
    ));
    assert_eq!(
        parse(&[b"CONFIG", b"SET", b"requirepass", b"secret"]),
        Ok(Request::ConfigSetPassword {
            password: synod_resp::Password(bytes("secret"))
        })
    );
    assert_eq!(parse(&[b"CONFIG", b"GET"]), arity("config|get"));
}
