//! A cluster of real `synod server` processes on loopback, for tests that
//! kill, restart and attack nodes. `SYNOD_SERVER_BIN` points them at
//! another build of the binary. Ports are picked free per node, so test
//! binaries and tests run in parallel. Every process is killed when the
//! cluster is dropped; a failing test prints the tail of each node's log.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use redis::Value as RedisValue;
use serde_json::Value;
use synod_proxy::LinkProxies;

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
    /// Each node's `--peers` list (it differs per node behind proxies).
    peers: Vec<String>,
    /// The directory of `synod certs` files when the members speak TLS.
    pub peer_tls: Option<PathBuf>,
    /// Clients must speak TLS too (with the node's certificate).
    pub client_tls: bool,
}

/// Ports handed out to nodes: below Linux's ephemeral range (32768 and
/// up), so that no outgoing connection of a test or a node takes one between
/// the moment it is picked and the moment the node binds it.
const PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A loopback address with a port that was free a moment ago, picked at
/// random so that test binaries running in parallel rarely try the same,
/// and never one this process handed out before: the probe's listener
/// closes at once, so without that record two nodes of one cluster could
/// be given the same port (seen in CI: a peer port equal to another
/// node's client port).
pub fn free_address() -> SocketAddr {
    use std::hash::{BuildHasher, Hasher};
    static HANDED_OUT: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        let span = u64::from(PORTS.end - PORTS.start);
        let port = PORTS.start + (hasher.finish() % span) as u16;
        let mut handed_out = HANDED_OUT.lock().unwrap();
        if handed_out.contains(&port) {
            continue;
        }
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            handed_out.insert(port);
            return listener.local_addr().unwrap();
        }
    }
}

impl Cluster {
    /// Starts `size` nodes and waits for a leader.
    pub fn start(size: u64) -> Cluster {
        let mut cluster = Cluster::prepare(size);
        cluster.peers = vec![cluster.direct_peers(); cluster.nodes.len()];
        cluster.spawn_all();
        cluster
    }

    /// Starts `size` nodes speaking mutual TLS to each other, with
    /// certificates `synod certs` made (in `<directory>/certs`), and waits
    /// for a leader.
    pub fn start_with_peer_tls(size: u64) -> Cluster {
        Cluster::start_with_tls(size, false)
    }

    /// As [`Cluster::start_with_peer_tls`], with TLS on the client ports
    /// as well (each node serving its own certificate).
    pub fn start_with_peer_and_client_tls(size: u64) -> Cluster {
        Cluster::start_with_tls(size, true)
    }

    fn start_with_tls(size: u64, client_tls: bool) -> Cluster {
        let mut cluster = Cluster::prepare(size);
        cluster.client_tls = client_tls;
        let certificates = cluster.directory.join("certs");
        let made = synod(&[
            "certs",
            "--out",
            certificates.to_str().unwrap(),
            "--cluster-id",
            &cluster.cluster_id.to_string(),
            "--nodes",
            &size.to_string(),
        ]);
        assert!(made.status.success(), "{}", text(&made.stderr));
        cluster.peer_tls = Some(certificates);
        cluster.peers = vec![cluster.direct_peers(); cluster.nodes.len()];
        cluster.spawn_all();
        cluster
    }

    /// The `--peer-tls-*` arguments of node `id` with the files in
    /// `directory` (as `synod certs` names them).
    pub fn peer_tls_arguments(directory: &std::path::Path, id: u64) -> Vec<String> {
        let path = |name: String| directory.join(name).to_str().unwrap().to_string();
        vec![
            "--peer-tls-ca".into(),
            path("ca.pem".into()),
            "--peer-tls-cert".into(),
            path(format!("node-{id}.pem")),
            "--peer-tls-key".into(),
            path(format!("node-{id}-key.pem")),
        ]
    }

    /// Starts `size` nodes whose every directed peer link goes through a
    /// proxy of its own (node `i` names node `j` at the proxy of `i → j`),
    /// and waits for a leader. The proxies cut, stall or refuse links one
    /// way, without root.
    pub fn start_behind_proxies(size: u64) -> (Cluster, LinkProxies) {
        let mut cluster = Cluster::prepare(size);
        let mut links = Vec::new();
        for from in &cluster.nodes {
            for to in &cluster.nodes {
                if from.id != to.id {
                    links.push((from.id, to.id, to.peer));
                }
            }
        }
        let proxies = LinkProxies::start(&links).expect("the proxies start");
        let listening: Vec<(u64, SocketAddr)> = cluster
            .nodes
            .iter()
            .map(|node| (node.id, node.peer))
            .collect();
        cluster.peers = cluster
            .nodes
            .iter()
            .map(|from| proxies.peers_list(from.id, &listening))
            .collect();
        cluster.spawn_all();
        (cluster, proxies)
    }

    /// The `--peers` list naming every node at its own peer address.
    fn direct_peers(&self) -> String {
        self.nodes
            .iter()
            .map(|node| format!("{}={}", node.id, node.peer))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Picks addresses and a directory for `size` nodes; starts nothing.
    fn prepare(size: u64) -> Cluster {
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
        Cluster {
            nodes,
            cluster_id: 1_000 + sequence,
            directory,
            peers: Vec::new(),
            peer_tls: None,
            client_tls: false,
        }
    }

    fn spawn_all(&mut self) {
        for index in 0..self.nodes.len() {
            self.spawn(index);
        }
        self.wait_for_leader(ELECTION_WAIT);
    }

    /// Starts (or restarts) the node at `index`.
    pub fn spawn(&mut self, index: usize) {
        let peers = &self.peers[index];
        let node = &mut self.nodes[index];
        assert!(node.process.is_none(), "node {} is running", node.id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .unwrap();
        // SYNOD_SERVER_BIN runs these tests against another build of the
        // server (an older release, to compare).
        let binary = std::env::var("SYNOD_SERVER_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_synod").to_string());
        let mut tls = self
            .peer_tls
            .as_deref()
            .map(|directory| Cluster::peer_tls_arguments(directory, node.id))
            .unwrap_or_default();
        if self.client_tls {
            // The node's certificate and key, as for its peers.
            let (certificate, key) = (tls[3].clone(), tls[5].clone());
            tls.extend([
                "--client-tls-cert".into(),
                certificate,
                "--client-tls-key".into(),
                key,
            ]);
        }
        let child = Command::new(binary)
            .arg("server")
            .args(tls)
            .args(["--id", &node.id.to_string()])
            .args(["--client", &node.client.to_string()])
            .args(["--peer", &node.peer.to_string()])
            .args(["--admin", &node.admin.to_string()])
            .args(["--peers", peers])
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

    /// Every node's client address, as `host:port`.
    pub fn client_endpoints(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|node| node.client.to_string())
            .collect()
    }

    /// A Redis connection to the node at `index` (RESP2).
    pub fn redis(&self, index: usize) -> redis::Connection {
        self.redis_speaking(index, "resp2")
    }

    /// A Redis connection to the node at `index` that says `HELLO` with
    /// `protocol` (`resp2` or `resp3`) first.
    pub fn redis_speaking(&self, index: usize, protocol: &str) -> redis::Connection {
        let address = &self.nodes[index].client;
        let client =
            redis::Client::open(format!("redis://{address}/?protocol={protocol}")).unwrap();
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
    process_status_kibibytes(pid, "VmRSS:")
}

/// The most resident memory a process has had so far, in KiB.
pub fn peak_resident_kibibytes(pid: u32) -> u64 {
    process_status_kibibytes(pid, "VmHWM:")
}

fn process_status_kibibytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// An acknowledged write: when it was sent and answered, its key and value.
pub struct Acknowledged {
    pub sent: Instant,
    pub answered: Instant,
    pub key: String,
    pub value: String,
}

/// What one client saw.
#[derive(Default)]
pub struct Seen {
    /// Writes answered `OK`.
    pub acknowledged: Vec<Acknowledged>,
    /// Keys of writes answered with an error that says the write was not
    /// applied (`TRYAGAIN`, `CLUSTERDOWN`): they must never appear.
    pub refused: Vec<String>,
    /// Writes answered `UNKNOWN`, or not answered (connection lost): they
    /// may or may not have been applied, so they prove nothing either way.
    pub unknown: u64,
}

/// Writes unique keys until `stop`, moving to the next node on any error.
pub fn write_until(client: usize, nodes: Vec<SocketAddr>, stop: Arc<AtomicBool>) -> Seen {
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
pub fn check_readable(
    cluster: &Cluster,
    index: usize,
    writes: &[Acknowledged],
    refused: &[String],
) {
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
        let values: Vec<RedisValue> = pipeline.query(&mut connection).unwrap();
        for (write, value) in chunk.iter().zip(values) {
            assert_eq!(
                value,
                RedisValue::BulkString(write.value.clone().into_bytes()),
                "acknowledged write {} lost on node {}",
                write.key,
                index + 1
            );
        }
    }
}

/// Client threads that each write unique keys until stopped.
pub struct Writers {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<Seen>>,
}

impl Writers {
    /// Starts `count` writers, client `i` first at node `i mod n`.
    pub fn start(cluster: &Cluster, count: usize) -> Writers {
        let nodes: Vec<SocketAddr> = cluster.nodes.iter().map(|node| node.client).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..count)
            .map(|client| {
                let (nodes, stop) = (nodes.clone(), stop.clone());
                thread::spawn(move || write_until(client, nodes, stop))
            })
            .collect();
        Writers { stop, threads }
    }

    /// Stops every writer and merges what they saw.
    pub fn stop(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        let mut merged = Seen::default();
        for thread in self.threads {
            let seen = thread.join().expect("a client thread");
            merged.acknowledged.extend(seen.acknowledged);
            merged.refused.extend(seen.refused);
            merged.unknown += seen.unknown;
        }
        merged
    }
}

/// Runs the `synod` binary under test with `arguments` and waits for it.
pub fn synod(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_synod"))
        .args(arguments)
        .output()
        .unwrap()
}

/// A process's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
