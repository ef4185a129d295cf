//! Every command synod speaks, through the `redis` crate, against a cluster
//! of three `synod server` processes; and a pipeline of 1,000 requests.

mod common;

use std::time::{Duration, Instant};

use common::Cluster;
use redis::{Commands, RedisResult, Value};

/// The whole test must finish within this.
const TEST_TIME_MAX: Duration = Duration::from_secs(60);

fn error_code(result: RedisResult<Value>) -> String {
    let error = result.expect_err("an error reply");
    error.code().unwrap_or_default().to_string()
}

/// A connection that said `HELLO 3` gets RESP3 replies: nulls, the map of
/// `HELLO`, verbatim `CLIENT INFO`; and `HELLO 2` switches it back.
fn speaks_resp3(cluster: &Cluster, index: usize) {
    let mut connection = cluster.redis_speaking(index, "resp3");
    let _: () = connection.set("resp3", "value").unwrap();
    let value: Value = redis::cmd("GET")
        .arg("resp3")
        .query(&mut connection)
        .unwrap();
    assert_eq!(value, Value::BulkString(b"value".to_vec()));
    let missing: Value = redis::cmd("GET")
        .arg("nothing")
        .query(&mut connection)
        .unwrap();
    assert_eq!(missing, Value::Nil);
    let hello: Value = redis::cmd("HELLO").arg(3).query(&mut connection).unwrap();
    let Value::Map(fields) = hello else {
        panic!("HELLO 3 answers a map: {hello:?}");
    };
    assert!(fields.contains(&(Value::BulkString(b"proto".to_vec()), Value::Int(3))));
    let info: Value = redis::cmd("CLIENT")
        .arg("INFO")
        .query(&mut connection)
        .unwrap();
    let Value::VerbatimString { text, .. } = info else {
        panic!("CLIENT INFO answers a verbatim string in RESP3: {info:?}");
    };
    assert!(text.contains("resp=3"), "{text}");
    let hello: Value = redis::cmd("HELLO").arg(2).query(&mut connection).unwrap();
    assert!(
        matches!(hello, Value::Array(ref fields) if fields.len() == 14),
        "{hello:?}"
    );
}

#[test]
fn every_command_works_through_the_leader_and_a_follower() {
    let started = Instant::now();
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(common::ELECTION_WAIT);
    let follower = (leader + 1) % 3;
    let mut at_leader = cluster.redis(leader);
    let mut at_follower = cluster.redis(follower);

    // Keys: GET, SET with and without NX and XX, EXISTS and DEL of one and
    // many keys, through either node.
    let missing: Option<String> = at_follower.get("k").unwrap();
    assert_eq!(missing, None);
    let _: () = at_follower.set("k", "v1").unwrap();
    let value: String = at_leader.get("k").unwrap();
    assert_eq!(value, "v1");
    let value: String = at_follower.get("k").unwrap();
    assert_eq!(value, "v1");
    let stored: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("v2")
        .arg("NX")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(stored, None);
    let stored: Option<String> = redis::cmd("SET")
        .arg("k")
        .arg("v2")
        .arg("XX")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(stored.as_deref(), Some("OK"));
    let stored: Option<String> = redis::cmd("SET")
        .arg("fresh")
        .arg("x")
        .arg("NX")
        .query(&mut at_follower)
        .unwrap();
    assert_eq!(stored.as_deref(), Some("OK"));
    let binary: Vec<u8> = (0..=255).collect();
    let _: () = at_leader.set(&b"binary\x00key"[..], &binary[..]).unwrap();
    let read: Vec<u8> = at_follower.get(&b"binary\x00key"[..]).unwrap();
    assert_eq!(read, binary);
    let exists: u64 = at_follower.exists("k").unwrap();
    assert_eq!(exists, 1);
    let exists: u64 = redis::cmd("EXISTS")
        .arg("k")
        .arg("k")
        .arg("nope")
        .arg("fresh")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(exists, 3);
    let removed: u64 = at_follower.del(&["k", "nope", "fresh"]).unwrap();
    assert_eq!(removed, 2);
    let removed: u64 = at_leader.del("k").unwrap();
    assert_eq!(removed, 0);

    // Counters: INCR and DECR of a missing key, INCRBY and DECRBY, through
    // either node; a value that is not an integer and an overflow refused
    // with Redis's words, changing nothing.
    let counted: i64 = at_follower.incr("counter", 1).unwrap();
    assert_eq!(counted, 1);
    let counted: i64 = redis::cmd("INCRBY")
        .arg("counter")
        .arg(41)
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(counted, 42);
    let counted: i64 = redis::cmd("DECR")
        .arg("counter")
        .query(&mut at_follower)
        .unwrap();
    assert_eq!(counted, 41);
    let counted: i64 = redis::cmd("DECRBY")
        .arg("down")
        .arg(5)
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(counted, -5);
    let text: String = at_follower.get("counter").unwrap();
    assert_eq!(text, "41");
    let _: () = at_leader.set("word", "01").unwrap();
    let refused = redis::cmd("INCR")
        .arg("word")
        .query::<Value>(&mut at_follower);
    assert!(
        refused.as_ref().is_err_and(|error| error
            .to_string()
            .contains("value is not an integer or out of range")),
        "{refused:?}"
    );
    let _: () = at_leader.set("big", i64::MAX).unwrap();
    let refused = redis::cmd("INCR").arg("big").query::<Value>(&mut at_leader);
    assert!(
        refused.as_ref().is_err_and(|error| error
            .to_string()
            .contains("increment or decrement would overflow")),
        "{refused:?}"
    );
    let unchanged: i64 = at_follower.get("big").unwrap();
    assert_eq!(unchanged, i64::MAX);
    let removed: u64 = at_leader.del(&["counter", "down", "word", "big"]).unwrap();
    assert_eq!(removed, 4);

    // String commands answered from the value, and the aliases.
    let stored: u64 = redis::cmd("SETNX")
        .arg("text")
        .arg("This is a string")
        .query(&mut at_follower)
        .unwrap();
    assert_eq!(stored, 1);
    let stored: u64 = redis::cmd("SETNX")
        .arg("text")
        .arg("other")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(stored, 0);
    let length: u64 = redis::cmd("STRLEN")
        .arg("text")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(length, 16);
    let length: u64 = redis::cmd("STRLEN")
        .arg("none")
        .query(&mut at_follower)
        .unwrap();
    assert_eq!(length, 0);
    let part: String = redis::cmd("GETRANGE")
        .arg("text")
        .arg(-6)
        .arg(-1)
        .query(&mut at_follower)
        .unwrap();
    assert_eq!(part, "string");
    let kind: String = redis::cmd("TYPE")
        .arg("text")
        .query(&mut at_follower)
        .unwrap();
    assert_eq!(kind, "string");
    let kind: String = redis::cmd("TYPE")
        .arg("none")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(kind, "none");
    let touched: u64 = redis::cmd("TOUCH")
        .arg("text")
        .arg("none")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(touched, 1);
    let unlinked: u64 = redis::cmd("UNLINK")
        .arg("text")
        .arg("none")
        .query(&mut at_follower)
        .unwrap();
    assert_eq!(unlinked, 1);

    // Exchanges, appends, multi-key sets and the key count, through either
    // node.
    let old: Option<String> = redis::cmd("GETSET")
        .arg("swap")
        .arg("one")
        .query(&mut at_follower)
        .unwrap();
    assert_eq!(old, None);
    let old: Option<String> = redis::cmd("SET")
        .arg("swap")
        .arg("two")
        .arg("GET")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(old.as_deref(), Some("one"));
    let length: u64 = redis::cmd("APPEND")
        .arg("swap")
        .arg("-three")
        .query(&mut at_follower)
        .unwrap();
    assert_eq!(length, 9);
    let taken: Option<String> = redis::cmd("GETDEL")
        .arg("swap")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(taken.as_deref(), Some("two-three"));
    let size_before: u64 = redis::cmd("DBSIZE").query(&mut at_leader).unwrap();
    let _: () = redis::cmd("MSET")
        .arg("m1")
        .arg("a")
        .arg("m2")
        .arg("b")
        .query(&mut at_follower)
        .unwrap();
    let stored: u64 = redis::cmd("MSETNX")
        .arg("m2")
        .arg("x")
        .arg("m3")
        .arg("c")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(stored, 0, "m2 exists, so nothing is stored");
    let size: u64 = redis::cmd("DBSIZE").query(&mut at_follower).unwrap();
    assert_eq!(size, size_before + 2, "m1 and m2 only");
    let removed: u64 = at_leader.del(&["m1", "m2", "m3"]).unwrap();
    assert_eq!(removed, 2);

    // Connection and server commands.
    let pong: String = redis::cmd("PING").query(&mut at_leader).unwrap();
    assert_eq!(pong, "PONG");
    let echoed: String = redis::cmd("PING").arg("hi").query(&mut at_leader).unwrap();
    assert_eq!(echoed, "hi");
    let echoed: String = redis::cmd("ECHO")
        .arg("hello")
        .query(&mut at_follower)
        .unwrap();
    assert_eq!(echoed, "hello");
    let _: () = redis::cmd("SELECT").arg(0).query(&mut at_leader).unwrap();
    assert_eq!(
        error_code(redis::cmd("SELECT").arg(1).query(&mut at_leader)),
        "ERR"
    );
    let info: String = redis::cmd("INFO").query(&mut at_leader).unwrap();
    assert!(info.contains("role:master"), "{info}");
    let info: String = redis::cmd("INFO").query(&mut at_follower).unwrap();
    assert!(info.contains("role:replica"), "{info}");
    let count: u64 = redis::cmd("COMMAND")
        .arg("COUNT")
        .query(&mut at_leader)
        .unwrap();
    assert!(count >= 10);
    let table: Vec<Value> = redis::cmd("COMMAND").query(&mut at_leader).unwrap();
    assert_eq!(table.len() as u64, count);
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("tester")
        .query(&mut at_leader)
        .unwrap();
    let name: String = redis::cmd("CLIENT")
        .arg("GETNAME")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(name, "tester");
    let id: u64 = redis::cmd("CLIENT")
        .arg("ID")
        .query(&mut at_leader)
        .unwrap();
    let client_info: String = redis::cmd("CLIENT")
        .arg("INFO")
        .query(&mut at_leader)
        .unwrap();
    assert!(
        client_info.contains(&format!("id={id} ")) && client_info.contains("name=tester"),
        "{client_info}"
    );
    let hello: Vec<Value> = redis::cmd("HELLO").arg(2).query(&mut at_leader).unwrap();
    assert_eq!(hello.len(), 14, "seven fields, flattened in RESP2");
    assert_eq!(
        error_code(redis::cmd("HELLO").arg(4).query(&mut at_leader)),
        "NOPROTO"
    );
    assert_eq!(
        error_code(
            redis::cmd("HELLO")
                .arg(3)
                .arg("AUTH")
                .arg("someone")
                .arg("secret")
                .query(&mut at_leader)
        ),
        "WRONGPASS"
    );
    speaks_resp3(&cluster, follower);

    // Exactly-once writes: a session, a tagged write, its retry answered
    // from the session, a stale duplicate refused.
    let session: u64 = redis::cmd("SYNOD.SESSION").query(&mut at_follower).unwrap();
    let tagged = |sequence: u64, value: &str| {
        redis::cmd("SYNOD.TAGGED")
            .arg(session)
            .arg(sequence)
            .arg("SET")
            .arg("counter")
            .arg(value)
            .clone()
    };
    let _: () = tagged(1, "one").query(&mut at_follower).unwrap();
    let _: () = tagged(2, "two").query(&mut at_leader).unwrap();
    let _: () = tagged(2, "two").query(&mut at_leader).unwrap();
    assert_eq!(
        error_code(tagged(1, "one").query(&mut at_follower)),
        "STALE"
    );
    let value: String = at_leader.get("counter").unwrap();
    assert_eq!(value, "two");
    let removed: u64 = redis::cmd("SYNOD.TAGGED")
        .arg(session)
        .arg(3)
        .arg("DEL")
        .arg("counter")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(
        error_code(
            redis::cmd("SYNOD.TAGGED")
                .arg(999_999)
                .arg(1)
                .arg("DEL")
                .arg("x")
                .query(&mut at_leader)
        ),
        "SESSIONEXPIRED"
    );

    // Refused requests keep the connection.
    assert_eq!(
        error_code(redis::cmd("LPUSH").arg("list").query(&mut at_leader)),
        "ERR"
    );
    assert_eq!(
        error_code(redis::cmd("SET").arg("k").query(&mut at_leader)),
        "ERR"
    );
    assert_eq!(
        error_code(
            redis::cmd("SET")
                .arg("k")
                .arg("v")
                .arg("EX")
                .arg(-10)
                .query(&mut at_leader)
        ),
        "ERR"
    );
    let too_large = vec![b'x'; synod_kv::VALUE_SIZE_MAX_BYTES + 1];
    assert_eq!(
        error_code(
            redis::cmd("SET")
                .arg("k")
                .arg(too_large)
                .query(&mut at_leader)
        ),
        "ERR"
    );
    let pong: String = redis::cmd("PING").query(&mut at_leader).unwrap();
    assert_eq!(pong, "PONG");

    // QUIT answers, then the server closes the connection.
    let _: () = redis::cmd("QUIT").query(&mut at_follower).unwrap();
    assert!(redis::cmd("PING")
        .query::<String>(&mut at_follower)
        .is_err());
    assert!(
        started.elapsed() < TEST_TIME_MAX,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_pipeline_of_a_thousand_requests_on_one_connection_is_answered_in_order() {
    let started = Instant::now();
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(common::ELECTION_WAIT);
    for index in [leader, (leader + 1) % 3] {
        let mut connection = cluster.redis(index);
        let mut pipeline = redis::pipe();
        for request in 0..1_000 {
            match request % 4 {
                0 | 1 => pipeline
                    .cmd("SET")
                    .arg(format!("key-{index}-{request}"))
                    .arg(request),
                2 => pipeline
                    .cmd("GET")
                    .arg(format!("key-{index}-{}", request - 2)),
                _ => pipeline
                    .cmd("EXISTS")
                    .arg(format!("key-{index}-{}", request - 2))
                    .arg("missing"),
            };
        }
        let replies: Vec<Value> = pipeline.query(&mut connection).unwrap();
        assert_eq!(replies.len(), 1_000);
        for (request, reply) in replies.iter().enumerate() {
            let expected = match request % 4 {
                0 | 1 => Value::Okay,
                2 => Value::BulkString((request - 2).to_string().into_bytes()),
                _ => Value::Int(1),
            };
            assert_eq!(
                *reply,
                expected,
                "reply {request} through node {}",
                index + 1
            );
        }
    }
    assert!(
        started.elapsed() < TEST_TIME_MAX,
        "took {:?}",
        started.elapsed()
    );
}

/// `READONLY` asks for stale reads by name: a follower whose peers are all
/// gone still answers them from what it applied, while a linearizable read
/// there fails for want of a quorum; `READWRITE` turns them off again.
#[test]
fn readonly_reads_are_served_without_a_quorum_and_readwrite_ends_them() {
    let started = Instant::now();
    let mut cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(common::ELECTION_WAIT);
    let follower = (leader + 1) % 3;
    let mut at_leader = cluster.redis(leader);
    let _: () = at_leader.set("k", "v1").unwrap();
    let mut at_follower = cluster.redis(follower);
    // The follower has applied the write once a linearizable read there
    // sees it.
    let seen: String = at_follower.get("k").unwrap();
    assert_eq!(seen, "v1");
    let ok: String = redis::cmd("READONLY").query(&mut at_follower).unwrap();
    assert_eq!(ok, "OK");

    // Only the follower is left: no quorum.
    for index in 0..3 {
        if index != follower {
            cluster.kill(index);
        }
    }
    let stale: String = at_follower.get("k").unwrap();
    assert_eq!(stale, "v1", "served from the applied state");
    let exists: i64 = redis::cmd("EXISTS")
        .arg("k")
        .query(&mut at_follower)
        .unwrap();
    assert_eq!(exists, 1);

    let ok: String = redis::cmd("READWRITE").query(&mut at_follower).unwrap();
    assert_eq!(ok, "OK");
    let linearizable: RedisResult<Value> = redis::cmd("GET").arg("k").query(&mut at_follower);
    assert!(
        linearizable.is_err(),
        "a linearizable read needs a quorum: {linearizable:?}"
    );
    assert!(started.elapsed() < TEST_TIME_MAX);
}

/// Keys expire on the cluster's agreed clock, on time, through either node,
/// with no client traffic to carry the clock: the leader proposes it when a
/// key falls due.
#[test]
fn keys_expire_on_time_through_the_leader_and_a_follower() {
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(common::ELECTION_WAIT);
    let follower = (leader + 1) % 3;
    let mut at_leader = cluster.redis(leader);
    let mut at_follower = cluster.redis(follower);
    let _: () = redis::cmd("SET")
        .arg("soon")
        .arg("v")
        .arg("PX")
        .arg(300)
        .query(&mut at_follower)
        .unwrap();
    let _: () = at_leader.set("forever", "v").unwrap();
    let ttl: i64 = at_follower.pttl("soon").unwrap();
    assert!((1..=300).contains(&ttl), "PTTL {ttl}");
    let ttl: i64 = at_leader.ttl("forever").unwrap();
    assert_eq!(ttl, -1);
    let ttl: i64 = at_leader.ttl("missing").unwrap();
    assert_eq!(ttl, -2);
    let set: i64 = redis::cmd("EXPIRE")
        .arg("forever")
        .arg(100)
        .arg("GT")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(set, 0, "GT never sets a deadline on a key without one");
    let set: i64 = redis::cmd("PEXPIRE")
        .arg("forever")
        .arg(100_000)
        .arg("NX")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(set, 1);
    let persisted: i64 = redis::cmd("PERSIST")
        .arg("forever")
        .query(&mut at_follower)
        .unwrap();
    assert_eq!(persisted, 1);
    std::thread::sleep(Duration::from_millis(600));
    // Gone for a linearizable read on either node, with no write since.
    let value: Option<String> = at_leader.get("soon").unwrap();
    assert_eq!(value, None);
    let value: Option<String> = at_follower.get("soon").unwrap();
    assert_eq!(value, None);
    let count: i64 = redis::cmd("DBSIZE").query(&mut at_follower).unwrap();
    assert_eq!(count, 1, "only the persisted key is left");
    // SETEX, GETEX and a deadline in the past.
    let _: () = redis::cmd("SETEX")
        .arg("session")
        .arg(100)
        .arg("s")
        .query(&mut at_follower)
        .unwrap();
    let value: Option<String> = redis::cmd("GETEX")
        .arg("session")
        .arg("PERSIST")
        .query(&mut at_leader)
        .unwrap();
    assert_eq!(value.as_deref(), Some("s"));
    let ttl: i64 = at_leader.ttl("session").unwrap();
    assert_eq!(ttl, -1);
    let removed: i64 = redis::cmd("EXPIREAT")
        .arg("session")
        .arg(1)
        .query(&mut at_follower)
        .unwrap();
    assert_eq!(removed, 1);
    let exists: i64 = at_leader.exists("session").unwrap();
    assert_eq!(exists, 0);
    let refused = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("EX")
        .arg(0)
        .query::<Value>(&mut at_leader);
    assert_eq!(error_code(refused), "ERR");
}

/// MULTI/EXEC runs the queued commands as one log entry with Redis's error
/// rules, and WATCH aborts EXEC when the key changes through another node.
#[test]
fn transactions_apply_atomically_and_watch_sees_changes_made_through_another_node() {
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(common::ELECTION_WAIT);
    let follower = (leader + 1) % 3;
    let mut first = cluster.redis(follower);
    let mut second = cluster.redis(leader);
    // Queued commands, one of which fails at run time: the others apply.
    let _: () = first.set("word", "abc").unwrap();
    let _: () = redis::cmd("MULTI").query(&mut first).unwrap();
    for (command, key) in [("INCR", "counter"), ("INCR", "word")] {
        let queued: String = redis::cmd(command).arg(key).query(&mut first).unwrap();
        assert_eq!(queued, "QUEUED");
    }
    let _: String = redis::cmd("SET")
        .arg("after")
        .arg("1")
        .query(&mut first)
        .unwrap();
    let _: String = redis::cmd("PING").query(&mut first).unwrap();
    // The redis crate reports the run-time error of one element as the
    // query's error; the other commands applied all the same.
    let failed = redis::cmd("EXEC").query::<Value>(&mut first).unwrap_err();
    assert!(failed.to_string().contains("not an integer"), "{failed}");
    let counter: i64 = second.get("counter").unwrap();
    assert_eq!(counter, 1);
    let after: Option<String> = second.get("after").unwrap();
    assert_eq!(after.as_deref(), Some("1"));
    let values: Vec<Option<String>> = redis::cmd("MGET")
        .arg("after")
        .arg("missing")
        .arg("counter")
        .query(&mut first)
        .unwrap();
    assert_eq!(values, [Some("1".into()), None, Some("1".into())]);
    // An error while queuing aborts the whole transaction.
    let _: () = redis::cmd("MULTI").query(&mut first).unwrap();
    let queued: String = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query(&mut first)
        .unwrap();
    assert_eq!(queued, "QUEUED");
    assert_eq!(
        error_code(redis::cmd("NOSUCHCOMMAND").query(&mut first)),
        "ERR"
    );
    assert_eq!(
        error_code(redis::cmd("EXEC").query(&mut first)),
        "EXECABORT"
    );
    let k: Option<String> = second.get("k").unwrap();
    assert_eq!(k, None);
    // WATCH through the follower, a change through the leader: EXEC is nil.
    let _: () = redis::cmd("WATCH")
        .arg("balance")
        .query(&mut first)
        .unwrap();
    let _: () = second.set("balance", "10").unwrap();
    let _: () = redis::cmd("MULTI").query(&mut first).unwrap();
    let _: String = redis::cmd("SET")
        .arg("balance")
        .arg("20")
        .query(&mut first)
        .unwrap();
    let aborted: Value = redis::cmd("EXEC").query(&mut first).unwrap();
    assert_eq!(aborted, Value::Nil);
    let balance: String = second.get("balance").unwrap();
    assert_eq!(balance, "10");
    // Unchanged since WATCH: EXEC runs. EXEC forgets the watch.
    let _: () = redis::cmd("WATCH")
        .arg("balance")
        .query(&mut first)
        .unwrap();
    let _: () = redis::cmd("MULTI").query(&mut first).unwrap();
    let _: String = redis::cmd("INCRBY")
        .arg("balance")
        .arg(5)
        .query(&mut first)
        .unwrap();
    let ran: Vec<i64> = redis::cmd("EXEC").query(&mut first).unwrap();
    assert_eq!(ran, [15]);
    // Errors outside MULTI, as Redis words them.
    assert_eq!(error_code(redis::cmd("EXEC").query(&mut first)), "ERR");
    assert_eq!(error_code(redis::cmd("DISCARD").query(&mut first)), "ERR");
    let _: () = redis::cmd("MULTI").query(&mut first).unwrap();
    assert_eq!(error_code(redis::cmd("MULTI").query(&mut first)), "ERR");
    assert_eq!(
        error_code(redis::cmd("WATCH").arg("x").query(&mut first)),
        "ERR"
    );
    let _: () = redis::cmd("DISCARD").query(&mut first).unwrap();
    // A tagged EXEC applies once however often it is retried.
    let session: i64 = redis::cmd("SYNOD.SESSION").query(&mut first).unwrap();
    for _ in 0..2 {
        let _: () = redis::cmd("MULTI").query(&mut first).unwrap();
        let _: String = redis::cmd("INCR").arg("once").query(&mut first).unwrap();
        let replies: Vec<i64> = redis::cmd("SYNOD.TAGGED")
            .arg(session)
            .arg(1)
            .arg("EXEC")
            .query(&mut first)
            .unwrap();
        assert_eq!(replies, [1]);
    }
    let once: i64 = second.get("once").unwrap();
    assert_eq!(once, 1);
}

/// RENAME, RENAMENX and COPY carry a key's deadline with its value;
/// SETRANGE zero-pads; FLUSHALL empties the store and touches watched keys.
#[test]
fn keyspace_commands_move_values_with_their_deadlines_and_flushall_touches_watches() {
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(common::ELECTION_WAIT);
    let mut first = cluster.redis((leader + 1) % 3);
    let mut second = cluster.redis(leader);
    let _: () = redis::cmd("SET")
        .arg("a")
        .arg("1")
        .arg("EX")
        .arg(100)
        .query(&mut first)
        .unwrap();
    let _: () = redis::cmd("RENAME")
        .arg("a")
        .arg("b")
        .query(&mut first)
        .unwrap();
    let ttl: i64 = second.ttl("b").unwrap();
    assert!(
        (99..=100).contains(&ttl),
        "the deadline moved with the value: {ttl}"
    );
    assert_eq!(
        error_code(redis::cmd("RENAME").arg("a").arg("c").query(&mut first)),
        "ERR"
    );
    let _: () = first.set("c", "x").unwrap();
    let renamed: i64 = redis::cmd("RENAMENX")
        .arg("b")
        .arg("c")
        .query(&mut first)
        .unwrap();
    assert_eq!(renamed, 0);
    let copied: i64 = redis::cmd("COPY")
        .arg("b")
        .arg("c")
        .query(&mut second)
        .unwrap();
    assert_eq!(copied, 0, "c exists and there is no REPLACE");
    let copied: i64 = redis::cmd("COPY")
        .arg("b")
        .arg("c")
        .arg("REPLACE")
        .query(&mut second)
        .unwrap();
    assert_eq!(copied, 1);
    let c: String = first.get("c").unwrap();
    assert_eq!(c, "1");
    let length: i64 = redis::cmd("SETRANGE")
        .arg("padded")
        .arg(3)
        .arg("ab")
        .query(&mut first)
        .unwrap();
    assert_eq!(length, 5);
    let padded: Vec<u8> = second.get("padded").unwrap();
    assert_eq!(padded, b"\0\0\0ab");
    let _: () = redis::cmd("WATCH").arg("c").query(&mut first).unwrap();
    let _: () = redis::cmd("FLUSHALL").query(&mut second).unwrap();
    let _: () = redis::cmd("MULTI").query(&mut first).unwrap();
    let _: String = redis::cmd("SET")
        .arg("c")
        .arg("y")
        .query(&mut first)
        .unwrap();
    let aborted: Value = redis::cmd("EXEC").query(&mut first).unwrap();
    assert_eq!(aborted, Value::Nil, "FLUSHALL touched the watched key");
    let size: i64 = redis::cmd("DBSIZE").query(&mut first).unwrap();
    assert_eq!(size, 0);
}

/// A SCAN continued on other nodes, with writes between the pages, returns
/// every key present throughout; KEYS and RANDOMKEY see the same keys.
#[test]
fn a_scan_continued_on_other_nodes_returns_every_key_present_throughout() {
    let cluster = Cluster::start(3);
    cluster.wait_for_leader(common::ELECTION_WAIT);
    let mut nodes: Vec<redis::Connection> = (0..3).map(|index| cluster.redis(index)).collect();
    for index in 0..300 {
        let _: () = nodes[0].set(format!("user:{index}"), index).unwrap();
    }
    let mut cursor = 0u64;
    let mut returned = std::collections::BTreeSet::new();
    let mut page = 0;
    loop {
        let node = &mut nodes[page % 3];
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("user:*")
            .arg("COUNT")
            .arg(25)
            .query(node)
            .unwrap();
        returned.extend(keys);
        // Churn between pages: new keys come, others go.
        let _: () = node.set(format!("user:new:{page}"), page).unwrap();
        let _: () = node.del(format!("user:{}", 299 - page)).unwrap();
        page += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
        assert!(page < 1_000, "the scan ends");
    }
    let removed = page;
    for index in 0..300 - removed {
        assert!(
            returned.contains(&format!("user:{index}")),
            "user:{index} present throughout"
        );
    }
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("user:new:*")
        .query(&mut nodes[1])
        .unwrap();
    assert_eq!(keys.len(), page);
    let random: Option<String> = redis::cmd("RANDOMKEY").query(&mut nodes[2]).unwrap();
    let exists: i64 = nodes[0].exists(random.expect("a key")).unwrap();
    assert_eq!(exists, 1);
    assert_eq!(
        error_code(redis::cmd("SCAN").arg("x").query(&mut nodes[0])),
        "ERR"
    );
}
