//! Differential test against a real Redis: the same generated command
//! sequences, sent by two clients in the same interleaving to Debian's
//! `redis-server` and to a 3-node synod cluster, must get the same replies,
//! frame for frame.
//!
//! The commands are the string and keyspace commands synod speaks, with
//! random keys, values and options, and `MULTI`/`EXEC`/`DISCARD`/`WATCH`/
//! `UNWATCH` interleaved between the two clients, so that watches see the
//! other client's writes. What differs on purpose is left out or
//! normalised (docs/redis-compatibility.md):
//! - times to live are compared by sign only (`TTL` 99 on one side and 100
//!   on the other is timing, not a difference), and no deadline is short
//!   enough to pass during a case;
//! - `KEYS`, `SCAN` and `RANDOMKEY` are not sent: Redis answers in its hash
//!   table's order (and at random), synod in key order and by its own
//!   cursor, so no reply compares (crates/synod/tests/redis_commands.rs
//!   checks them on their own);
//! - values stay far below synod's 1 MiB limit, and `COPY … DB n` is not
//!   sent (one database).
//!
//! `redis-server` is started by the test on a loopback port and stopped by
//! its PID. Without it the test is skipped with a note, unless
//! `SYNOD_REQUIRE_CLIENT_LIBRARIES=1` (`.ci/run` installs it).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::Cluster;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use synod_resp::{encode, parse_frame, Frame};

/// Generated cases, each a fresh pair of connections on emptied stores.
const CASES: u32 = 60;
/// Commands per case at most (two clients together); a case has at least
/// half as many.
const COMMANDS_PER_CASE_MAX: usize = 300;
/// The run must compare at least this many replies.
const COMMANDS_COMPARED_MIN: usize = 10_000;

/// Replies compared so far.
static COMMANDS_COMPARED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// The test gives up waiting for one reply after this long.
const REPLY_TIME_MAX: Duration = Duration::from_secs(10);

/// A connection speaking raw RESP2, so that replies compare as frames, not
/// as a client library's interpretation of them.
struct RespConnection {
    stream: TcpStream,
    buffer: BytesMut,
}

impl RespConnection {
    fn connect(address: SocketAddr) -> RespConnection {
        let deadline = Instant::now() + REPLY_TIME_MAX;
        let stream = loop {
            match TcpStream::connect(address) {
                Ok(stream) => break stream,
                Err(error) if Instant::now() < deadline => {
                    let _ = error;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(error) => panic!("cannot connect to {address}: {error}"),
            }
        };
        stream.set_read_timeout(Some(REPLY_TIME_MAX)).unwrap();
        stream.set_nodelay(true).unwrap();
        RespConnection {
            stream,
            buffer: BytesMut::new(),
        }
    }

    fn call(&mut self, words: &[Vec<u8>]) -> Frame {
        let request = Frame::Array(
            words
                .iter()
                .map(|word| Frame::Bulk(word.clone().into()))
                .collect(),
        );
        let mut out = BytesMut::new();
        encode(&request, &mut out);
        self.stream.write_all(&out).unwrap();
        loop {
            if let Some(frame) = parse_frame(&mut self.buffer).expect("the reply is RESP") {
                return frame;
            }
            let mut chunk = [0u8; 16 * 1024];
            let read = self
                .stream
                .read(&mut chunk)
                .expect("a reply arrives in time");
            assert!(read > 0, "the server closed the connection");
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }
}

/// A `redis-server` of our own on a loopback port, stopped by its PID.
struct RedisServer {
    child: Child,
    address: SocketAddr,
}

impl RedisServer {
    fn start() -> Option<RedisServer> {
        let address = common::free_address();
        let child = Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &address.port().to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(RedisServer { child, address })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One command of a case, by client 0 or 1.
#[derive(Debug, Clone)]
struct Step {
    client: usize,
    words: Vec<Vec<u8>>,
}

fn word(text: impl AsRef<[u8]>) -> Vec<u8> {
    text.as_ref().to_vec()
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    (0..5u8).prop_map(|index| word(format!("k{index}")))
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(word("")),
        Just(word("abc")),
        Just(word("0")),
        Just(word("-7")),
        Just(word("10")),
        Just(word("01")),
        (0..1000i64).prop_map(|number| word(number.to_string())),
        prop::collection::vec(any::<u8>(), 0..12),
    ]
}

fn number() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (-20..20i64).prop_map(|number| word(number.to_string())),
        Just(word("x")),
    ]
}

/// An expiry option of `SET` far in the future, or `KEEPTTL`, or none.
fn set_expiry() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop_oneof![
        3 => Just(vec![]),
        1 => Just(vec![word("EX"), word("1000")]),
        1 => Just(vec![word("PX"), word("1000000")]),
        1 => Just(vec![word("KEEPTTL")]),
        1 => Just(vec![word("EX"), word("0")]),
    ]
}

fn command() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let single = |name: &'static str| key().prop_map(move |key| vec![word(name), key]);
    let keys = |name: &'static str| {
        prop::collection::vec(key(), 1..4).prop_map(move |keys| {
            let mut words = vec![word(name)];
            words.extend(keys);
            words
        })
    };
    prop_oneof![
        4 => single("GET"),
        4 => (key(), value(), prop::sample::select(vec!["", "NX", "XX"]), any::<bool>(), set_expiry())
            .prop_map(|(key, value, condition, get, expiry)| {
                let mut words = vec![word("SET"), key, value];
                if !condition.is_empty() {
                    words.push(word(condition));
                }
                if get {
                    words.push(word("GET"));
                }
                words.extend(expiry);
                words
            }),
        1 => (key(), value()).prop_map(|(key, value)| vec![word("SETNX"), key, value]),
        1 => (key(), value()).prop_map(|(key, value)| vec![word("GETSET"), key, value]),
        1 => single("GETDEL"),
        1 => (key(), value()).prop_map(|(key, value)| vec![word("APPEND"), key, value]),
        1 => single("STRLEN"),
        1 => (key(), -6..6i64, -6..6i64).prop_map(|(key, start, end)| {
            vec![word("GETRANGE"), key, word(start.to_string()), word(end.to_string())]
        }),
        1 => (key(), 0..6u64, value()).prop_map(|(key, offset, value)| {
            vec![word("SETRANGE"), key, word(offset.to_string()), value]
        }),
        2 => single("INCR"),
        1 => single("DECR"),
        1 => (key(), number()).prop_map(|(key, number)| vec![word("INCRBY"), key, number]),
        1 => (key(), number()).prop_map(|(key, number)| vec![word("DECRBY"), key, number]),
        // Binary fractions only: Redis adds in `long double` and prints 17
        // decimals, which shows rounding noise for other fractions of
        // large values (docs/redis-compatibility.md).
        1 => (key(), prop::sample::select(vec!["1.5", "-0.25", "0.5", "2e1", "-3", "x", "2.5e-1"]))
            .prop_map(|(key, increment)| vec![word("INCRBYFLOAT"), key, word(increment)]),
        1 => keys("MGET"),
        1 => prop::collection::vec((key(), value()), 1..3).prop_map(|pairs| {
            let mut words = vec![word("MSET")];
            pairs.into_iter().for_each(|(key, value)| words.extend([key, value]));
            words
        }),
        1 => prop::collection::vec((key(), value()), 1..3).prop_map(|pairs| {
            let mut words = vec![word("MSETNX")];
            pairs.into_iter().for_each(|(key, value)| words.extend([key, value]));
            words
        }),
        2 => keys("DEL"),
        1 => keys("UNLINK"),
        2 => keys("EXISTS"),
        1 => keys("TOUCH"),
        1 => single("TYPE"),
        1 => (key(), key()).prop_map(|(from, to)| vec![word("RENAME"), from, to]),
        1 => (key(), key()).prop_map(|(from, to)| vec![word("RENAMENX"), from, to]),
        1 => (key(), key(), any::<bool>()).prop_map(|(from, to, replace)| {
            let mut words = vec![word("COPY"), from, to];
            if replace {
                words.push(word("REPLACE"));
            }
            words
        }),
        1 => Just(vec![word("DBSIZE")]),
        1 => (key(), prop::sample::select(vec!["1000", "-1", "0"]), prop::sample::select(vec!["", "NX", "XX", "GT", "LT"]))
            .prop_map(|(key, seconds, option)| {
                let mut words = vec![word("EXPIRE"), key, word(seconds)];
                if !option.is_empty() {
                    words.push(word(option));
                }
                words
            }),
        1 => single("PERSIST"),
        1 => single("TTL"),
        1 => single("PTTL"),
        1 => (key(), prop::sample::select(vec!["", "PERSIST", "EX"])).prop_map(|(key, option)| {
            let mut words = vec![word("GETEX"), key];
            match option {
                "" => {}
                "EX" => words.extend([word("EX"), word("1000")]),
                other => words.push(word(other)),
            }
            words
        }),
        2 => Just(vec![word("MULTI")]),
        2 => Just(vec![word("EXEC")]),
        1 => Just(vec![word("DISCARD")]),
        2 => keys("WATCH"),
        1 => Just(vec![word("UNWATCH")]),
        1 => Just(vec![word("PING")]),
        1 => Just(vec![word("GET")]),
        1 => Just(vec![word("NOSUCHCOMMAND")]),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (prop_oneof![3 => Just(0usize), 1 => Just(1usize)], command())
            .prop_map(|(client, words)| Step { client, words }),
        COMMANDS_PER_CASE_MAX / 2..COMMANDS_PER_CASE_MAX,
    )
}

/// Times to live compare by sign: their exact values are timing. An
/// `EXEC`'s reply is normalised element by element, by the commands the
/// client queued.
fn normalise(name: &[u8], reply: Frame, queued: &[Vec<u8>]) -> Frame {
    match reply {
        Frame::Integer(left) if (name == b"TTL" || name == b"PTTL") && left > 0 => {
            Frame::Integer(1)
        }
        Frame::Array(replies) if name == b"EXEC" && replies.len() == queued.len() => Frame::Array(
            replies
                .into_iter()
                .zip(queued)
                .map(|(reply, name)| normalise(name, reply, &[]))
                .collect(),
        ),
        other => other,
    }
}

/// What one client has queued since `MULTI`, as Redis's replies tell.
#[derive(Default)]
struct QueueState {
    in_multi: bool,
    queued: Vec<Vec<u8>>,
}

impl QueueState {
    fn observe(&mut self, name: &[u8], reply: &Frame) {
        match (name, reply) {
            (b"MULTI", Frame::Simple(ok)) if ok == "OK" => {
                self.in_multi = true;
                self.queued.clear();
            }
            (b"EXEC" | b"DISCARD", _) => *self = QueueState::default(),
            (_, Frame::Simple(queued)) if self.in_multi && queued == "QUEUED" => {
                self.queued.push(name.to_vec());
            }
            _ => {}
        }
    }
}

fn case(redis: SocketAddr, synod: [SocketAddr; 2], steps: &[Step]) -> Result<(), TestCaseError> {
    let mut reference: Vec<RespConnection> =
        (0..2).map(|_| RespConnection::connect(redis)).collect();
    let mut tested: Vec<RespConnection> = synod
        .iter()
        .map(|address| RespConnection::connect(*address))
        .collect();
    let flush = vec![word("FLUSHALL")];
    prop_assert_eq!(reference[0].call(&flush), tested[0].call(&flush));
    let mut queues = [QueueState::default(), QueueState::default()];
    for (index, step) in steps.iter().enumerate() {
        let name = step.words[0].to_ascii_uppercase();
        let reference_reply = reference[step.client].call(&step.words);
        let tested_reply = tested[step.client].call(&step.words);
        let queue = &mut queues[step.client];
        let expected = normalise(&name, reference_reply.clone(), &queue.queued);
        let actual = normalise(&name, tested_reply, &queue.queued);
        queue.observe(&name, &reference_reply);
        let shown: Vec<String> = step
            .words
            .iter()
            .map(|word| String::from_utf8_lossy(word).into_owned())
            .collect();
        COMMANDS_COMPARED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        prop_assert_eq!(
            &actual,
            &expected,
            "step {} of {}: client {} sent {:?}",
            index,
            steps.len(),
            step.client,
            shown
        );
    }
    Ok(())
}

#[test]
fn synod_answers_generated_command_sequences_as_redis_does() {
    let Some(redis) = RedisServer::start() else {
        assert!(
            std::env::var("SYNOD_REQUIRE_CLIENT_LIBRARIES").as_deref() != Ok("1"),
            "redis-server is required (SYNOD_REQUIRE_CLIENT_LIBRARIES=1) but not installed"
        );
        eprintln!("note: redis-server is not installed; the differential test is skipped");
        return;
    };
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(common::ELECTION_WAIT);
    let endpoints = cluster.client_endpoints();
    // One client through the leader, the other through a follower.
    let synod = [
        endpoints[leader].parse().unwrap(),
        endpoints[(leader + 1) % 3].parse().unwrap(),
    ];
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        max_shrink_iters: 200,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&steps(), |steps| case(redis.address, synod, &steps));
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let compared = COMMANDS_COMPARED.load(std::sync::atomic::Ordering::Relaxed);
    println!("{compared} replies compared, 0 differences");
    assert!(
        compared >= COMMANDS_COMPARED_MIN,
        "only {compared} replies compared"
    );
}
