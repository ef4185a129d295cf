//! The Rust `redis` crate's scripted workload against a cluster of three
//! `synod server` processes, through its high-level API as an application
//! would use it: typed commands, pipelines, `MULTI`/`EXEC` pipelines, the
//! `WATCH` transaction helper, expiry, and the errors it reports. It
//! mirrors tests/clients/ (redis-py, ioredis).

mod common;

use std::time::Duration;

use common::Cluster;
use redis::{Commands, ExistenceCheck, RedisResult, SetExpiry, SetOptions, Value};

#[test]
fn the_redis_crate_runs_its_scripted_workload_through_every_node() {
    let cluster = Cluster::start(3);
    cluster.wait_for_leader(common::ELECTION_WAIT);
    let mut first = cluster.redis(0);
    let mut last = cluster.redis(2);

    // Strings, conditions and counters, across nodes.
    let _: () = first.set("greeting", "hello").unwrap();
    let greeting: String = last.get("greeting").unwrap();
    assert_eq!(greeting, "hello");
    let refused: Option<String> = first
        .set_options(
            "greeting",
            "again",
            SetOptions::default().conditional_set(ExistenceCheck::NX),
        )
        .unwrap();
    assert_eq!(refused, None);
    let counted: i64 = first.incr("counter", 5).unwrap();
    assert_eq!(counted, 5);
    let counted: i64 = last.decr("counter", 7).unwrap();
    assert_eq!(counted, -2);
    let _: () = first.set("word", "abc").unwrap();
    let not_a_number: RedisResult<i64> = last.incr("word", 1);
    assert!(not_a_number
        .unwrap_err()
        .to_string()
        .contains("not an integer"));
    let values: Vec<Option<String>> = last.mget(&["greeting", "missing"]).unwrap();
    assert_eq!(values, [Some("hello".into()), None]);

    // A pipeline of 400 commands, answered in order.
    let mut pipeline = redis::pipe();
    for index in 0..200 {
        pipeline.set(format!("key:{index}"), index).ignore();
    }
    for index in 0..200 {
        pipeline.get(format!("key:{index}"));
    }
    let read: Vec<i64> = pipeline.query(&mut first).unwrap();
    assert_eq!(read, (0..200).collect::<Vec<i64>>());

    // MULTI/EXEC as a pipeline.
    let (count, stored): (i64, String) = redis::pipe()
        .atomic()
        .incr("tx:counter", 1)
        .set("tx:key", "v")
        .query(&mut first)
        .unwrap();
    assert_eq!((count, stored.as_str()), (1, "OK"));

    // Check-and-set with the WATCH helper; a change through another node
    // between WATCH and EXEC makes it retry.
    let _: () = first.set("balance", 10).unwrap();
    let mut interfered = false;
    let (balance,): (i64,) = redis::transaction(&mut first, &["balance"], |connection, pipe| {
        let balance: i64 = connection.get("balance")?;
        if !interfered {
            interfered = true;
            let _: () = last.set("balance", 100)?;
        }
        pipe.set("balance", balance + 1)
            .ignore()
            .get("balance")
            .query(connection)
    })
    .unwrap();
    assert_eq!(balance, 101, "the retry read the other node's write");

    // Expiry on the cluster's agreed clock.
    let _: () = first
        .set_options(
            "session",
            "s",
            SetOptions::default().with_expiration(SetExpiry::PX(200)),
        )
        .unwrap();
    let left: i64 = last.pttl("session").unwrap();
    assert!((1..=200).contains(&left), "PTTL {left}");
    let extended: bool = first.expire("session", 100).unwrap();
    assert!(extended);
    let ttl: i64 = last.ttl("session").unwrap();
    assert!((99..=100).contains(&ttl), "TTL {ttl}");
    let persisted: bool = last.persist("session").unwrap();
    assert!(persisted);
    let ttl: i64 = first.ttl("session").unwrap();
    assert_eq!(ttl, -1);
    let _: () = first.pset_ex("short", "v", 150).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let gone: Option<String> = last.get("short").unwrap();
    assert_eq!(gone, None);

    // Errors as Redis words them.
    let unknown: RedisResult<Value> = redis::cmd("NO-SUCH-COMMAND").query(&mut first);
    assert!(unknown.unwrap_err().to_string().contains("unknown command"));
    let nested: RedisResult<Value> = redis::cmd("EXEC").query(&mut first);
    assert!(nested
        .unwrap_err()
        .to_string()
        .contains("EXEC without MULTI"));
}
