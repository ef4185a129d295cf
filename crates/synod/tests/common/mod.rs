//! A cluster of real `synod server` processes on loopback, for tests that
//! kill, restart and attack nodes. Ports are picked free per node, so test
//! binaries and tests run in parallel. Every process is killed when the
//! cluster is dropped; a failing test prints the tail of each node's log.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a cluster may take to elect a leader before a test fails.
pub const ELECTION_WAIT: Duration = Duration::from_secs(15);

static NEXT_CLUSTER: AtomicU64 = AtomicU64::new(0);

/// One node: its addresses and, while it runs, its process.
pub struct Node {
    pub id: u64,
    pub client: SocketAddr,
    pub peer: SocketAddr,
    pub admin: SocketAddr,
    pub log: PathBuf,
    pub process: Option<Child>,
    pub starts: u64,
}

/// A cluster of `synod server` processes.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub cluster_id: u64,
    pub directory: PathBuf,
    peers: String,
}

/// Ports handed out to nodes: below Linux's ephemeral range (32768 and
/// up), so that no outgoing connection of a test or a node takes one between
/// the moment it is picked and the moment the node binds it.
const PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A loopback address with a port that was free a moment ago, picked at
/// random so that test binaries running in parallel rarely try the same.
pub fn free_address() -> SocketAddr {
    use std::hash::{BuildHasher, Hasher};
    loop {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        let span = u64::from(PORTS.end - PORTS.start);
        let port = PORTS.start + (hasher.finish() % span) as u16;
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            return listener.local_addr().unwrap();
        }
    }
}

impl Cluster {
    /// Starts `size` nodes and waits for a leader.
    pub fn start(size: u64) -> Cluster {
        let sequence = NEXT_CLUSTER.fetch_add(1, Ordering::Relaxed);
        let directory =
            std::env::temp_dir().join(format!("synod-test-{}-{sequence}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        let nodes: Vec<Node> = (1..=size)
            .map(|id| Node {
                id,
                client: free_address(),
                peer: free_address(),
                admin: free_address(),
                log: directory.join(format!("node-{id}.log")),
                process: None,
                starts: 0,
            })
            .collect();
        let peers = nodes
            .iter()
            .map(|node| format!("{}={}", node.id, node.peer))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = Cluster {
            nodes,
            cluster_id: 1_000 + sequence,
            directory,
            peers,
        };
        for index in 0..cluster.nodes.len() {
            cluster.spawn(index);
        }
        cluster.wait_for_leader(ELECTION_WAIT);
        cluster
    }

    /// Starts (or restarts) the node at `index`.
    pub fn spawn(&mut self, index: usize) {
        let node = &mut self.nodes[index];
        assert!(node.process.is_none(), "node {} is running", node.id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_synod"))
            .arg("server")
            .args(["--id", &node.id.to_string()])
            .args(["--client", &node.client.to_string()])
            .args(["--peer", &node.peer.to_string()])
            .args(["--admin", &node.admin.to_string()])
            .args(["--peers", &self.peers])
            .args(["--cluster-id", &self.cluster_id.to_string()])
            .arg("--data")
            .arg(self.directory.join(format!("node-{}", node.id)))
            // The first start creates the node's data directory; a restart
            // must find it (an empty one would be refused as a lost disk).
            .args((node.starts == 0).then_some("--new-cluster"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("synod server starts");
        node.process = Some(child);
        node.starts += 1;
        wait_until(Duration::from_secs(10), "the node's admin endpoint", || {
            http_get(node.admin, "/status").is_ok()
        });
    }

    /// Kills the node at `index` with SIGKILL.
    pub fn kill(&mut self, index: usize) {
        let mut child = self.nodes[index].process.take().expect("the node runs");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// The process id of the node at `index`.
    pub fn pid(&self, index: usize) -> u32 {
        self.nodes[index]
            .process
            .as_ref()
            .expect("the node runs")
            .id()
    }

    /// The node's `/status`, if it answers.
    pub fn status(&self, index: usize) -> Option<Value> {
        let (code, body) = http_get(self.nodes[index].admin, "/status").ok()?;
        (code == 200)
            .then(|| serde_json::from_str(&body).ok())
            .flatten()
    }

    /// Indexes of the running nodes.
    pub fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|index| self.nodes[*index].process.is_some())
            .collect()
    }

    /// Waits until every running node knows the same leader, which is
    /// running, and returns its index.
    pub fn wait_for_leader(&self, timeout: Duration) -> usize {
        let mut leader = 0;
        wait_until(timeout, "a leader every running node agrees on", || {
            let leaders: Vec<Option<u64>> = self
                .running()
                .into_iter()
                .map(|index| {
                    self.status(index)
                        .and_then(|status| status["leader"].as_u64())
                })
                .collect();
            let Some(Some(first)) = leaders.first().copied() else {
                return false;
            };
            let agreed = leaders.iter().all(|leader| *leader == Some(first));
            let index = (first - 1) as usize;
            leader = index;
            agreed && self.nodes[index].process.is_some()
        });
        leader
    }

    /// A Redis connection to the node at `index`.
    pub fn redis(&self, index: usize) -> redis::Connection {
        let client = redis::Client::open(format!("redis://{}/", self.nodes[index].client)).unwrap();
        let connection = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("the node accepts a connection");
        connection
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        connection
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        connection
    }

    /// Prints the end of every node's log (for failing tests).
    pub fn print_logs(&self) {
        for node in &self.nodes {
            let text = std::fs::read_to_string(&node.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!(
                "---- node {} ({}) ----\n{}",
                node.id,
                node.log.display(),
                tail.join("\n")
            );
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.print_logs();
        }
        for node in &mut self.nodes {
            if let Some(mut child) = node.process.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.directory);
        }
    }
}

/// Polls `condition` every 20 ms until it holds; fails the test after
/// `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `GET path` over HTTP/1.0; the status code and body.
pub fn http_get(address: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let code = response
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("malformed HTTP response"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

/// The resident memory of a process, in KiB.
pub fn resident_kibibytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}
