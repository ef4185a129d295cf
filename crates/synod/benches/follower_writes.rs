//! Writes through the leader and through a follower, side by side in one
//! run, on a real cluster of three `synod server` processes on loopback
//! with their data on disk (fsync on every group commit).
//!
//! ```sh
//! cargo bench -p synod --bench follower_writes
//! SYNOD_BENCH_SECONDS=10 cargo bench -p synod --bench follower_writes
//! ```
//!
//! For each number of requests in flight (1, 16 and 256) and each target
//! (the leader, a follower), one load generator keeps that many `SET`s
//! outstanding for a fixed time and reports the median and 99th percentile
//! latency and the throughput. Keys are 16 bytes drawn from 10,000, values
//! 100 bytes. Requests in flight are spread over up to four connections,
//! each pipelining its share. The last line gives the ratio of the two
//! medians with one request in flight: a follower forwards to the leader
//! and learns the commit from it, so its writes cost about one more round
//! trip, which is what the ratio shows.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::Cluster;
use hdrhistogram::Histogram;

/// How long each cell of the table is measured, unless the environment
/// says otherwise (`SYNOD_BENCH_SECONDS`).
const MEASURE_SECONDS_DEFAULT: u64 = 3;
/// Unmeasured load before each cell, so connections and caches are warm.
const WARM_UP_MILLISECONDS: u64 = 500;
/// Distinct keys written.
const KEY_COUNT: u64 = 10_000;
/// Bytes of every value.
const VALUE_SIZE_BYTES: usize = 100;
/// Requests in flight measured.
const IN_FLIGHT: [usize; 3] = [1, 16, 256];
/// Connections a load generator opens at most.
const CONNECTIONS_MAX: usize = 4;

/// What one cell measured.
struct Measurement {
    latency_microseconds: Histogram<u64>,
    operations: u64,
    errors: u64,
    elapsed: Duration,
}

impl Measurement {
    fn throughput(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64()
    }

    fn median_milliseconds(&self) -> f64 {
        self.latency_microseconds.value_at_quantile(0.5) as f64 / 1_000.0
    }

    fn p99_milliseconds(&self) -> f64 {
        self.latency_microseconds.value_at_quantile(0.99) as f64 / 1_000.0
    }
}

/// A `SET` in RESP, for key number `key`.
fn set_request(key: u64, value: &[u8]) -> Vec<u8> {
    let key = format!("key:{key:012}");
    let mut request = format!(
        "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n",
        key.len(),
        value.len()
    )
    .into_bytes();
    request.extend_from_slice(value);
    request.extend_from_slice(b"\r\n");
    request
}

/// Keeps `depth` writes outstanding on one connection until `until`;
/// records the latency of each answered after `measure_from`.
fn drive_connection(
    address: SocketAddr,
    depth: usize,
    seed: u64,
    measure_from: Instant,
    until: Instant,
) -> Measurement {
    let mut stream = TcpStream::connect(address).expect("the node accepts a connection");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    let value = vec![b'v'; VALUE_SIZE_BYTES];
    let mut key = seed;
    let mut sent: VecDeque<Instant> = VecDeque::new();
    let mut buffer = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut measurement = Measurement {
        latency_microseconds: Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds"),
        operations: 0,
        errors: 0,
        elapsed: until.saturating_duration_since(measure_from),
    };
    let mut send = |stream: &mut TcpStream, sent: &mut VecDeque<Instant>, count: usize| {
        let mut batch = Vec::new();
        for _ in 0..count {
            key = (key * 6_364_136_223_846_793_005 + 1_442_695_040_888_963_407) % (1 << 62);
            batch.extend(set_request(key % KEY_COUNT, &value));
        }
        stream.write_all(&batch).expect("the request is written");
        let now = Instant::now();
        sent.extend(std::iter::repeat_n(now, count));
    };
    send(&mut stream, &mut sent, depth);
    while !sent.is_empty() {
        // Each answer to SET is one line: +OK, or -ERR… on a refusal.
        let Some(end) = buffer.windows(2).position(|pair| pair == b"\r\n") else {
            let read = stream.read(&mut chunk).expect("the node answers");
            assert!(read > 0, "the node closed the connection");
            buffer.extend_from_slice(&chunk[..read]);
            continue;
        };
        let line: Vec<u8> = buffer.drain(..end + 2).collect();
        let started = sent.pop_front().expect("an answer follows a request");
        let now = Instant::now();
        if started >= measure_from && now <= until {
            measurement.operations += 1;
            if line.starts_with(b"+OK") {
                let micros = now.duration_since(started).as_micros() as u64;
                measurement
                    .latency_microseconds
                    .record(micros.max(1))
                    .expect("within bounds");
            } else {
                measurement.errors += 1;
            }
        }
        if now < until {
            send(&mut stream, &mut sent, 1);
        }
    }
    measurement
}

/// Keeps `in_flight` writes outstanding against `address` for `duration`.
fn measure(address: SocketAddr, in_flight: usize, duration: Duration) -> Measurement {
    let connections = in_flight.clamp(1, CONNECTIONS_MAX);
    let start = Instant::now();
    let measure_from = start + Duration::from_millis(WARM_UP_MILLISECONDS);
    let until = measure_from + duration;
    let handles: Vec<_> = (0..connections)
        .map(|index| {
            let depth = in_flight / connections + usize::from(index < in_flight % connections);
            std::thread::spawn(move || {
                drive_connection(address, depth, 1 + index as u64, measure_from, until)
            })
        })
        .collect();
    let mut total = Measurement {
        latency_microseconds: Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds"),
        operations: 0,
        errors: 0,
        elapsed: duration,
    };
    for handle in handles {
        let part = handle.join().expect("a load generator thread");
        total
            .latency_microseconds
            .add(&part.latency_microseconds)
            .expect("same bounds");
        total.operations += part.operations;
        total.errors += part.errors;
    }
    total
}

fn main() {
    let seconds = std::env::var("SYNOD_BENCH_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(MEASURE_SECONDS_DEFAULT);
    let duration = Duration::from_secs(seconds);
    let cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(common::ELECTION_WAIT);
    let follower = (leader + 1) % cluster.nodes.len();
    println!(
        "3 synod servers on loopback, data on disk; leader n{}, follower n{}; {seconds} s per cell",
        leader + 1,
        follower + 1
    );
    println!(
        "{:>9} {:>9} {:>12} {:>10} {:>10} {:>7}",
        "in flight", "target", "writes/s", "p50 ms", "p99 ms", "errors"
    );
    let mut medians = Vec::new();
    for in_flight in IN_FLIGHT {
        for (name, index) in [("leader", leader), ("follower", follower)] {
            let measurement = measure(cluster.nodes[index].client, in_flight, duration);
            println!(
                "{in_flight:>9} {name:>9} {:>12.0} {:>10.3} {:>10.3} {:>7}",
                measurement.throughput(),
                measurement.median_milliseconds(),
                measurement.p99_milliseconds(),
                measurement.errors
            );
            if in_flight == 1 {
                medians.push(measurement.median_milliseconds());
            }
        }
    }
    let ratio = medians[1] / medians[0];
    println!(
        "one write in flight: follower p50 / leader p50 = {ratio:.2} ({:.3} ms / {:.3} ms)",
        medians[1], medians[0]
    );
    assert_eq!(
        cluster.wait_for_leader(common::ELECTION_WAIT),
        leader,
        "the leader stayed the same through the run"
    );
}
