//! Hostile and broken clients against a real `synod server` process: every
//! case ends in a clear error or a closed connection, never a crash, and
//! the node's memory stays bounded.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::{http_get, peak_resident_kibibytes, resident_kibibytes, Cluster};

/// How long a test waits for the server to answer or close.
const ANSWER_WAIT: Duration = Duration::from_secs(5);
/// Idle connections opened by the memory test, if the file limit allows.
const IDLE_CONNECTIONS: usize = 10_000;
/// What 10,000 idle connections may add to the node's resident memory.
const IDLE_CONNECTIONS_MEMORY_MAX_KIBIBYTES: u64 = 64 * 1024;
/// GETs of a 1 MiB value the client that never reads pipelines.
const UNREAD_GETS: usize = 100_000;
/// How long the client that never reads may keep its connection.
const UNREAD_CLOSE_WAIT: Duration = Duration::from_secs(60);
/// The node's peak resident memory while that client is served: the
/// output limit (64 MiB) and one reply, with room for the rest.
const UNREAD_PEAK_MEMORY_MAX_KIBIBYTES: u64 = 256 * 1024;

fn connect(cluster: &Cluster) -> TcpStream {
    let stream = TcpStream::connect(cluster.nodes[0].client).unwrap();
    stream.set_read_timeout(Some(ANSWER_WAIT)).unwrap();
    stream
}

/// Everything the server sends until it closes the connection. Fails the
/// test if it keeps the connection open past [`ANSWER_WAIT`].
fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let started = Instant::now();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return String::from_utf8_lossy(&received).into_owned(),
            Ok(read) => received.extend_from_slice(&chunk[..read]),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => {
                return String::from_utf8_lossy(&received).into_owned()
            }
            Err(error) => panic!(
                "the server neither answered nor closed within {:?}: {error}; got {:?}",
                started.elapsed(),
                String::from_utf8_lossy(&received)
            ),
        }
    }
}

/// Sends a PING on a fresh connection: the node still serves clients.
fn assert_still_serving(cluster: &mut Cluster) {
    let mut stream = connect(cluster);
    stream.write_all(b"PING\r\n").unwrap();
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+PONG\r\n");
    let process = cluster.nodes[0].process.as_mut().unwrap();
    assert!(process.try_wait().unwrap().is_none(), "the node has exited");
    assert_eq!(http_get(cluster.nodes[0].admin, "/health").unwrap().0, 200);
}

#[test]
fn malformed_resp_gets_a_protocol_error_and_the_connection_is_closed() {
    let mut cluster = Cluster::start(1);
    for malformed in [
        &b"*1\r\n$x\r\nPING\r\n"[..],
        b"*2\r\n$3\r\nGET\r\n$1\r\nkk\r\n",
        b"*-5\r\n",
        b"*1\r\n:notanumber\r\n",
    ] {
        let mut stream = connect(&cluster);
        stream.write_all(malformed).unwrap();
        let received = read_until_closed(&mut stream);
        assert!(
            received.starts_with("-ERR Protocol error"),
            "{malformed:?} got {received:?}"
        );
    }
    assert_still_serving(&mut cluster);
}

#[test]
fn a_bulk_length_of_two_to_the_fortieth_is_refused_before_anything_is_allocated() {
    let mut cluster = Cluster::start(1);
    let memory_before = resident_kibibytes(cluster.pid(0));
    let mut stream = connect(&cluster);
    stream
        .write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1099511627776\r\n")
        .unwrap();
    let received = read_until_closed(&mut stream);
    assert!(
        received.starts_with("-ERR Protocol error: bulk string"),
        "{received:?}"
    );
    let growth = resident_kibibytes(cluster.pid(0)).saturating_sub(memory_before);
    assert!(growth < 16 * 1024, "memory grew by {growth} KiB");
    assert_still_serving(&mut cluster);
}

#[test]
fn binary_garbage_gets_error_replies_only_and_never_crashes_the_node() {
    let mut cluster = Cluster::start(1);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for round in 0..8 {
        let garbage: Vec<u8> = (0..64 * 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let mut stream = connect(&cluster);
        // The server may close before reading everything: a failed write
        // is fine, a crash is not.
        let _ = stream.write_all(&garbage);
        let _ = stream.shutdown(Shutdown::Write);
        let received = read_until_closed(&mut stream);
        for line in received.split("\r\n").filter(|line| !line.is_empty()) {
            assert!(
                line.starts_with('-'),
                "round {round}: a non-error reply {line:?} to garbage"
            );
        }
    }
    assert_still_serving(&mut cluster);
}

#[test]
fn a_refused_command_keeps_the_connection() {
    let cluster = Cluster::start(1);
    let mut stream = connect(&cluster);
    stream
        .write_all(b"*1\r\n$7\r\nUNKNOWN\r\n*2\r\n$3\r\nSET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n")
        .unwrap();
    let mut received = String::new();
    let mut chunk = [0u8; 1024];
    while !received.ends_with("+PONG\r\n") {
        let read = stream.read(&mut chunk).unwrap();
        assert!(read > 0, "closed after {received:?}");
        received.push_str(&String::from_utf8_lossy(&chunk[..read]));
    }
    assert!(
        received.starts_with("-ERR unknown command 'UNKNOWN'"),
        "{received:?}"
    );
    assert!(
        received.contains("-ERR wrong number of arguments for 'set' command"),
        "{received:?}"
    );
}

#[test]
fn a_half_open_connection_is_closed_and_does_not_hold_up_others() {
    let mut cluster = Cluster::start(1);
    // A client that stops in the middle of a frame and goes quiet.
    let mut quiet = connect(&cluster);
    quiet.write_all(b"*2\r\n$3\r\nGET\r\n$5\r\nab").unwrap();
    assert_still_serving(&mut cluster);
    // A client that stops in the middle of a frame and shuts down its side:
    // the rest of the frame can never come, so the server closes.
    let mut half_closed = connect(&cluster);
    half_closed
        .write_all(b"*2\r\n$3\r\nGET\r\n$5\r\nab")
        .unwrap();
    half_closed.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_until_closed(&mut half_closed), "");
    // A client that shuts down its side after whole requests still gets
    // every answer before the server closes.
    let mut finished = connect(&cluster);
    finished
        .write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        .unwrap();
    finished.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_until_closed(&mut finished), "+OK\r\n$1\r\nv\r\n");
    drop(quiet);
}

/// Raises this process's open files limit as far as allowed; returns it.
fn raise_open_files_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
}

#[test]
fn ten_thousand_idle_connections_cost_little_memory() {
    let mut cluster = Cluster::start(1);
    let count = IDLE_CONNECTIONS.min(raise_open_files_limit().saturating_sub(200));
    if count < IDLE_CONNECTIONS {
        eprintln!("the open files limit allows only {count} idle connections");
    }
    let pid = cluster.pid(0);
    let memory_before = resident_kibibytes(pid);
    let started = Instant::now();
    let idle: Vec<TcpStream> = (0..count)
        .map(|_| TcpStream::connect(cluster.nodes[0].client).expect("the node accepts"))
        .collect();
    common::wait_until(
        Duration::from_secs(30),
        "the node to accept every connection",
        || {
            let metrics = http_get(cluster.nodes[0].admin, "/metrics")
                .map(|(_, body)| body)
                .unwrap_or_default();
            metrics.contains(&format!("\nsynod_client_connections {}\n", count))
        },
    );
    // Let the connection tasks settle into their idle state.
    std::thread::sleep(Duration::from_millis(200));
    let growth = resident_kibibytes(pid).saturating_sub(memory_before);
    eprintln!(
        "{count} idle connections opened in {} ms added {} KiB of resident memory ({} bytes each)",
        started.elapsed().as_millis(),
        growth,
        growth * 1024 / count.max(1) as u64
    );
    assert!(
        growth < IDLE_CONNECTIONS_MEMORY_MAX_KIBIBYTES,
        "{count} idle connections added {growth} KiB"
    );
    assert_still_serving(&mut cluster);
    drop(idle);
}

/// SETs each flooding client pipelines without pause.
const FLOOD_SETS_PER_CLIENT: usize = 60_000;
/// Flooding clients at once.
const FLOOD_CLIENTS: usize = 4;
/// SETs per write of a flooding client: reads on the server then end at
/// every possible point of a frame.
const FLOOD_SETS_PER_WRITE: usize = 37;
/// How long the flood may take (it takes about a second when it works).
const FLOOD_WAIT: Duration = Duration::from_secs(30);

/// Regression: a connection task that used up the runtime's budget saw
/// its read return Pending while `readable()` (which ignores the budget)
/// was ready at once, and went straight back to it: the node's only
/// thread spun, and every node of a benchmark at 1,024 writes in flight
/// hung. Clients that pipeline without pause reach that state: every
/// answer must still come, and the node must serve others meanwhile.
#[test]
fn clients_that_pipeline_without_pause_are_all_answered() {
    let mut cluster = Cluster::start(1);
    let address = cluster.nodes[0].client;
    let started = Instant::now();
    let clients: Vec<_> = (0..FLOOD_CLIENTS)
        .map(|client| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(address).unwrap();
                stream.set_nodelay(true).unwrap();
                stream.set_read_timeout(Some(FLOOD_WAIT)).unwrap();
                let mut writer = stream.try_clone().unwrap();
                let sender = std::thread::spawn(move || {
                    let mut batch = Vec::new();
                    for set in 0..FLOOD_SETS_PER_CLIENT {
                        let key = format!("flood-{client}-{}", set % 1_000);
                        batch.extend_from_slice(
                            format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$5\r\nvalue\r\n", key.len())
                                .as_bytes(),
                        );
                        if (set + 1) % FLOOD_SETS_PER_WRITE == 0 {
                            writer.write_all(&batch).unwrap();
                            batch.clear();
                        }
                    }
                    writer.write_all(&batch).unwrap();
                });
                let expected = FLOOD_SETS_PER_CLIENT * b"+OK\r\n".len();
                let mut received = 0;
                let mut chunk = [0u8; 64 * 1024];
                while received < expected {
                    match stream.read(&mut chunk) {
                        Ok(0) => panic!("the node closed after {received} of {expected} bytes"),
                        Ok(read) => received += read,
                        Err(error) => panic!(
                            "no answer for {FLOOD_WAIT:?} after {received} of {expected} bytes: {error}"
                        ),
                    }
                }
                sender.join().unwrap();
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    eprintln!(
        "{} pipelined SETs answered in {} ms",
        FLOOD_CLIENTS * FLOOD_SETS_PER_CLIENT,
        started.elapsed().as_millis()
    );
    assert_still_serving(&mut cluster);
}

/// A client pipelines 100,000 GETs of a 1 MiB value (100 GB of replies) and
/// never reads: the node closes the connection once the replies waiting for
/// it pass the output limit, counts it, and its memory stays bounded.
#[test]
fn a_client_that_never_reads_its_replies_is_disconnected_and_memory_stays_bounded() {
    let mut cluster = Cluster::start(1);
    let value = "v".repeat(1024 * 1024);
    let _: () = redis::cmd("SET")
        .arg("large")
        .arg(&value)
        .query(&mut cluster.redis(0))
        .unwrap();
    let pid = cluster.pid(0);
    let started = Instant::now();
    let mut stream = TcpStream::connect(cluster.nodes[0].client).unwrap();
    stream.set_write_timeout(Some(UNREAD_CLOSE_WAIT)).unwrap();
    let gets = b"GET large\r\n".repeat(1_000);
    let mut sent = 0;
    let refused = loop {
        if sent == UNREAD_GETS {
            break None;
        }
        match stream.write_all(&gets) {
            Ok(()) => sent += 1_000,
            Err(error) => break Some(error),
        }
    };
    // The node may close before the client has sent everything (its write
    // then fails), or after: then the close shows in the metrics.
    common::wait_until(
        UNREAD_CLOSE_WAIT,
        "the node to close the connection",
        || {
            http_get(cluster.nodes[0].admin, "/metrics")
                .map(|(_, body)| body.contains("\nsynod_client_output_buffer_closes_total 1\n"))
                .unwrap_or(false)
        },
    );
    let peak = peak_resident_kibibytes(pid);
    eprintln!(
        "closed after {} ms, {sent} GETs sent ({}); peak resident memory {} MiB",
        started.elapsed().as_millis(),
        refused.map_or("all written".to_string(), |error| format!("then {error}")),
        peak / 1024
    );
    assert!(
        peak < UNREAD_PEAK_MEMORY_MAX_KIBIBYTES,
        "peak resident memory {peak} KiB"
    );
    assert_still_serving(&mut cluster);
}
