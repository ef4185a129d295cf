//! Cluster: failover: kill -9 the leader while eight clients write (R=3).
//!
//! Writes must resume on a new leader (the unavailability window is measured
//! and printed), every acknowledged write must be readable afterwards from
//! every node, and the killed node, restarted, must catch up until the
//! leader reports its replication lag as zero.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{wait_until, Cluster};
use redis::Value;

const CLIENTS: usize = 8;
/// Writing before the leader is killed.
const WRITING_BEFORE_KILL: Duration = Duration::from_millis(1_500);
/// Writing after the leader is killed.
const WRITING_AFTER_KILL: Duration = Duration::from_secs(4);
/// The acceptance target for the unavailability window.
const UNAVAILABILITY_TARGET: Duration = Duration::from_secs(2);
/// The restarted node must catch up within this.
const CATCH_UP_TIME_MAX: Duration = Duration::from_secs(30);

/// An acknowledged write: when it was sent and answered, its key and value.
struct Acknowledged {
    sent: Instant,
    answered: Instant,
    key: String,
    value: String,
}

/// What one client saw.
#[derive(Default)]
struct Seen {
    /// Writes answered `OK`.
    acknowledged: Vec<Acknowledged>,
    /// Keys of writes answered with an error that says the write was not
    /// applied (`TRYAGAIN`, `CLUSTERDOWN`): they must never appear.
    refused: Vec<String>,
    /// Writes answered `UNKNOWN`, or not answered (connection lost): they
    /// may or may not have been applied, so they prove nothing either way.
    unknown: u64,
}

/// Writes unique keys until `stop`, moving to the next node on any error.
fn write_until(client: usize, nodes: Vec<SocketAddr>, stop: Arc<AtomicBool>) -> Seen {
    let mut seen = Seen::default();
    let mut node = client % nodes.len();
    let mut connection: Option<redis::Connection> = None;
    let mut sequence = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let Some(open) = connection.as_mut() else {
            let opened = redis::Client::open(format!("redis://{}/", nodes[node]))
                .and_then(|client| client.get_connection_with_timeout(Duration::from_millis(500)));
            match opened {
                Ok(opened) => {
                    opened
                        .set_read_timeout(Some(Duration::from_secs(8)))
                        .unwrap();
                    connection = Some(opened);
                }
                Err(_) => {
                    node = (node + 1) % nodes.len();
                    thread::sleep(Duration::from_millis(10));
                }
            }
            continue;
        };
        sequence += 1;
        let key = format!("client-{client}-{sequence}");
        let value = format!("{sequence}");
        let sent = Instant::now();
        let result: redis::RedisResult<()> = redis::cmd("SET").arg(&key).arg(&value).query(open);
        match result {
            Ok(()) => seen.acknowledged.push(Acknowledged {
                sent,
                answered: Instant::now(),
                key,
                value,
            }),
            Err(error) => {
                match error.code() {
                    Some("TRYAGAIN" | "CLUSTERDOWN") => seen.refused.push(key),
                    Some("UNKNOWN") | None => seen.unknown += 1,
                    Some(other) => panic!("unexpected error {other}: {error}"),
                }
                connection = None;
                node = (node + 1) % nodes.len();
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
    seen
}

/// Reads every acknowledged write back from the node at `index`, and
/// checks that no refused write was applied.
fn check_readable(cluster: &Cluster, index: usize, writes: &[Acknowledged], refused: &[String]) {
    let mut connection = cluster.redis(index);
    for key in refused {
        let value: Option<String> = redis::cmd("GET").arg(key).query(&mut connection).unwrap();
        assert_eq!(
            value,
            None,
            "write {key} was refused but applied (node {})",
            index + 1
        );
    }
    for chunk in writes.chunks(1_000) {
        let mut pipeline = redis::pipe();
        for write in chunk {
            pipeline.cmd("GET").arg(&write.key);
        }
        let values: Vec<Value> = pipeline.query(&mut connection).unwrap();
        for (write, value) in chunk.iter().zip(values) {
            assert_eq!(
                value,
                Value::BulkString(write.value.clone().into_bytes()),
                "acknowledged write {} lost on node {}",
                write.key,
                index + 1
            );
        }
    }
}

#[test]
fn cluster_failover_kill_the_leader_while_eight_clients_write() {
    let test_started = Instant::now();
    let mut cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(common::ELECTION_WAIT);
    let nodes: Vec<SocketAddr> = cluster.nodes.iter().map(|node| node.client).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (nodes, stop) = (nodes.clone(), stop.clone());
            thread::spawn(move || write_until(client, nodes, stop))
        })
        .collect();

    thread::sleep(WRITING_BEFORE_KILL);
    let killed_at = Instant::now();
    cluster.kill(leader);
    thread::sleep(WRITING_AFTER_KILL);
    stop.store(true, Ordering::Relaxed);
    let mut writes = Vec::new();
    let mut refused = Vec::new();
    let mut unknown = 0;
    for client in clients {
        let seen = client.join().expect("a client thread");
        writes.extend(seen.acknowledged);
        refused.extend(seen.refused);
        unknown += seen.unknown;
    }

    // Unavailability: from the kill to the first acknowledgement of a write
    // sent after it; and the longest silence between acknowledgements.
    let resumed = writes
        .iter()
        .filter(|write| write.sent > killed_at)
        .map(|write| write.answered)
        .min()
        .expect("writes resumed after the leader was killed");
    let window = resumed - killed_at;
    let mut answered: Vec<Instant> = writes.iter().map(|write| write.answered).collect();
    answered.sort();
    let longest_gap = answered
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .max()
        .unwrap_or_default();
    let before = writes
        .iter()
        .filter(|write| write.answered < killed_at)
        .count();
    eprintln!(
        "failover: leader n{} killed; writes resumed after {} ms (longest gap between \
         acknowledgements {} ms); {} writes acknowledged ({before} before the kill), {} refused, \
         {unknown} of unknown outcome",
        leader + 1,
        window.as_millis(),
        longest_gap.as_millis(),
        writes.len(),
        refused.len()
    );
    assert!(
        window < UNAVAILABILITY_TARGET,
        "writes resumed only after {window:?} (target {UNAVAILABILITY_TARGET:?})"
    );
    let new_leader = cluster.wait_for_leader(common::ELECTION_WAIT);
    assert_ne!(new_leader, leader);

    for index in cluster.running() {
        check_readable(&cluster, index, &writes, &refused);
    }

    // The killed node comes back from its write-ahead log and catches up on
    // what was decided while it was down.
    cluster.spawn(leader);
    let killed_id = leader as u64 + 1;
    let restarted_at = Instant::now();
    wait_until(CATCH_UP_TIME_MAX, "the restarted node to catch up", || {
        // Whoever leads now: the restarted node may itself win an election
        // before its peer connections are back (a disruptive rejoin, safe
        // but not prevented yet), and only the leader knows every lag.
        let leading = cluster
            .running()
            .into_iter()
            .filter_map(|index| cluster.status(index))
            .find(|status| status["role"] == "leader");
        let (Some(leading), Some(restarted)) = (leading, cluster.status(leader)) else {
            return false;
        };
        let lag_zero = leading["members"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|member| member["id"] == killed_id && member["lag"] == 0);
        lag_zero && restarted["applied_index"] == leading["commit_index"]
    });
    eprintln!(
        "failover: the restarted node caught up in {} ms",
        restarted_at.elapsed().as_millis()
    );
    check_readable(&cluster, leader, &writes, &refused);
    assert!(test_started.elapsed() < Duration::from_secs(120));
}
