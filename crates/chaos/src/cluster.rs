//! The cluster under test: separate `synod server` processes on loopback,
//! every directed peer link through a proxy of its own (node `i` names node
//! `j` at the proxy of `i → j`), so that any link can be cut, stalled,
//! black-holed, delayed or made lossy one way, without root.
//!
//! Every process is one this run started, and is stopped by its PID: on
//! drop, and by the kernel (`PR_SET_PDEATHSIG`) if the chaos command itself
//! dies.
//!
//! With the `member` nemesis the cluster also has spare nodes: ids with
//! proxies and ports of their own from the start, which join only when the
//! nemesis adds them (`synod server --join`). Ids are never reused, so a
//! removed node stays down, and every spare joins at most once.

use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use synod_proxy::LinkProxies;

/// Ports handed to nodes: below Linux's ephemeral range (32768 and up), so
/// that no outgoing connection takes one between the moment it is picked and
/// the moment the node binds it.
const PORTS: std::ops::Range<u16> = 20_000..32_000;
/// How long a started node may take to answer its admin endpoint.
pub const NODE_START_WAIT_MILLISECONDS: u64 = 10_000;
/// Time limit of one admin request of the observer: short, so that a
/// paused node does not hold up the view of the others.
pub const ADMIN_TIMEOUT_MILLISECONDS: u64 = 300;

/// One node: its addresses, its data and, while it runs, its process.
pub struct Node {
    /// The node's id (from 1).
    pub id: u64,
    /// Where clients connect.
    pub client: SocketAddr,
    /// Where peers (through the proxies) connect.
    pub peer: SocketAddr,
    /// The admin HTTP endpoint.
    pub admin: SocketAddr,
    /// The node's data directory.
    pub data: PathBuf,
    /// Standard output and error of every start, appended.
    pub log: PathBuf,
    process: Option<Child>,
    paused: bool,
    /// Taken out of the run (its log may be unusable, or it was removed
    /// from the cluster): heals leave it down.
    retired: bool,
    /// A spare that has not joined yet: heals leave it down.
    pending: bool,
    /// Joins through `--join` (a spare) rather than founding the cluster.
    joins: bool,
    starts: u64,
}

/// A cluster of `synod server` processes behind per-link proxies.
///
/// Start and restart its nodes from one thread, the one that created it:
/// each node dies with the thread that started it (see `stop_with_parent`).
pub struct Cluster {
    /// The nodes, `nodes[i].id == i + 1`.
    pub nodes: Vec<Node>,
    /// The per-link proxies.
    pub proxies: LinkProxies,
    executable: PathBuf,
    cluster_id: u64,
    /// Each node's `--peers` list: the other nodes at their proxies.
    peers: Vec<String>,
    /// Start every node with `--lease`.
    lease: bool,
    /// Nodes that founded the cluster (ids 1 to this).
    founders: u64,
}

impl Cluster {
    /// Starts `size` nodes of `executable` with data under `directory`,
    /// with the leader lease if `lease`, and prepares `spares` more that
    /// join only when asked ([`Cluster::join`]).
    ///
    /// # Errors
    ///
    /// A port, a proxy, a directory or a process cannot be had.
    pub fn start(
        executable: &Path,
        directory: &Path,
        size: u64,
        spares: u64,
        seed: u64,
        lease: bool,
    ) -> Result<Cluster, String> {
        std::fs::create_dir_all(directory)
            .map_err(|failure| format!("cannot create {}: {failure}", directory.display()))?;
        let mut nodes = Vec::new();
        let mut taken = HashSet::new();
        for id in 1..=size + spares {
            nodes.push(Node {
                id,
                client: free_address(&mut taken)?,
                peer: free_address(&mut taken)?,
                admin: free_address(&mut taken)?,
                data: directory.join(format!("node-{id}")),
                log: directory.join(format!("node-{id}.log")),
                process: None,
                paused: false,
                retired: false,
                pending: id > size,
                joins: id > size,
                starts: 0,
            });
        }
        let mut links = Vec::new();
        for from in &nodes {
            for to in &nodes {
                if from.id != to.id {
                    links.push((from.id, to.id, to.peer));
                }
            }
        }
        let proxies = LinkProxies::start_with_seed(&links, seed)
            .map_err(|failure| format!("cannot start the link proxies: {failure}"))?;
        let listening: Vec<(u64, SocketAddr)> =
            nodes.iter().map(|node| (node.id, node.peer)).collect();
        let peers = nodes
            .iter()
            .map(|from| proxies.peers_list(from.id, &listening))
            .collect();
        let mut cluster = Cluster {
            nodes,
            proxies,
            executable: executable.to_path_buf(),
            cluster_id: 1 + (seed >> 1),
            peers,
            lease,
            founders: size,
        };
        for index in 0..cluster.founders as usize {
            cluster.spawn(index)?;
        }
        for index in 0..cluster.founders as usize {
            cluster.wait_until_serving(index)?;
        }
        Ok(cluster)
    }

    /// How many nodes founded the cluster.
    pub fn founders(&self) -> u64 {
        self.founders
    }

    /// The ids of the nodes in the run: founders and spares that joined,
    /// not removed ones, running or not.
    pub fn active_ids(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|node| !node.pending && !node.retired)
            .map(|node| node.id)
            .collect()
    }

    /// True when the log of the node at `index` contains `words`.
    pub fn log_mentions(&self, index: usize, words: &str) -> bool {
        std::fs::read_to_string(&self.nodes[index].log).is_ok_and(|log| log.contains(words))
    }

    /// The next spare that has not joined, if any.
    pub fn next_spare(&self) -> Option<u64> {
        self.nodes
            .iter()
            .find(|node| node.pending && !node.retired)
            .map(|node| node.id)
    }

    /// Admin addresses of the active nodes that run.
    pub fn admin_endpoints(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|node| !node.pending && !node.retired && node.process.is_some())
            .map(|node| node.admin.to_string())
            .collect()
    }

    /// The address the other nodes reach spare `id` at, for the change
    /// that adds it (each node's own `--peers` list, through its proxy,
    /// takes precedence).
    pub fn peer_address(&self, id: u64) -> String {
        self.nodes[index_of(id)].peer.to_string()
    }

    /// Starts spare `id` with `--join` (it must have been added already)
    /// and waits until it serves.
    ///
    /// # Errors
    ///
    /// It would not start.
    pub fn join(&mut self, id: u64) -> Result<(), String> {
        let index = index_of(id);
        assert!(self.nodes[index].joins, "node {id} is not a spare");
        self.nodes[index].pending = false;
        self.spawn(index)?;
        self.wait_until_serving(index)
    }

    /// Starts (or restarts) the node at `index`; does not wait for it.
    ///
    /// # Errors
    ///
    /// The log cannot be opened or the process cannot start.
    pub fn spawn(&mut self, index: usize) -> Result<(), String> {
        let executable = self.executable.clone();
        let peers = self.peers[index].clone();
        let join = self.admin_endpoints().join(",");
        let founders = (1..=self.founders)
            .map(|founder| founder.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let cluster_id = self.cluster_id;
        let lease = self.lease;
        let node = &mut self.nodes[index];
        assert!(node.process.is_none(), "node {} is running", node.id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .map_err(|failure| format!("cannot open {}: {failure}", node.log.display()))?;
        let log_for_stdout = log
            .try_clone()
            .map_err(|failure| format!("cannot open {}: {failure}", node.log.display()))?;
        let mut command = Command::new(&executable);
        command
            .arg("server")
            .args(["--id", &node.id.to_string()])
            .args(["--client", &node.client.to_string()])
            .args(["--peer", &node.peer.to_string()])
            .args(["--admin", &node.admin.to_string()])
            .args(["--peers", &peers])
            .args(["--cluster-id", &cluster_id.to_string()])
            .arg("--data")
            .arg(&node.data);
        if node.joins {
            // A spare learns the initial voters from the cluster, and may
            // initialise its empty directory while it is a learner.
            command.args(["--join", &join]);
        } else {
            // The first start creates the data directory; a restart must
            // find it (an empty one is refused as a lost disk). The peer
            // list names the spares too; only the founders vote at first.
            command
                .args((node.starts == 0).then_some("--new-cluster"))
                .args(["--initial-voters", &founders]);
        }
        command
            .args(lease.then_some("--lease"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_for_stdout))
            .stderr(Stdio::from(log));
        stop_with_parent(&mut command);
        let child = command
            .spawn()
            .map_err(|failure| format!("cannot start node {}: {failure}", node.id))?;
        node.process = Some(child);
        node.paused = false;
        node.starts += 1;
        Ok(())
    }

    /// Waits until the node at `index` answers on its admin endpoint.
    ///
    /// # Errors
    ///
    /// It exited, or did not answer in time.
    pub fn wait_until_serving(&mut self, index: usize) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_millis(NODE_START_WAIT_MILLISECONDS);
        loop {
            let node = &mut self.nodes[index];
            if let Some(status) = node.exit_status() {
                return Err(format!(
                    "node {} exited ({status}) while starting; see {}",
                    node.id,
                    node.log.display()
                ));
            }
            if admin_get(node.admin, "/status").is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("node {} did not start in time", node.id));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits up to `timeout` for the node at `index` to exit by itself;
    /// its exit status, or `None` if it still runs.
    pub fn wait_for_exit(&mut self, index: usize, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.nodes[index].exit_status() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the node at `index` with SIGKILL (a paused node too).
    pub fn kill(&mut self, index: usize) {
        let node = &mut self.nodes[index];
        if let Some(mut child) = node.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        node.paused = false;
    }

    /// Stops the node at `index` with SIGSTOP.
    pub fn pause(&mut self, index: usize) {
        self.signal(index, libc::SIGSTOP);
        self.nodes[index].paused = true;
    }

    /// Continues the node at `index` with SIGCONT.
    pub fn resume(&mut self, index: usize) {
        self.signal(index, libc::SIGCONT);
        self.nodes[index].paused = false;
    }

    fn signal(&mut self, index: usize, signal: libc::c_int) {
        if let Some(child) = &self.nodes[index].process {
            let pid = libc::pid_t::try_from(child.id()).expect("a pid fits pid_t");
            // SAFETY: kill only sends a signal, to a child this run started.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    /// Whether the node at `index` has a process (running or paused).
    pub fn is_running(&self, index: usize) -> bool {
        self.nodes[index].process.is_some()
    }

    /// Heals every process fault: paused nodes continue, stopped ones start
    /// (except retired ones). Every node is tried, whatever fails.
    ///
    /// # Errors
    ///
    /// Every node that cannot be restarted, or exited by itself.
    pub fn heal_processes(&mut self) -> Result<(), String> {
        let mut problems = Vec::new();
        for index in 0..self.nodes.len() {
            if self.nodes[index].paused {
                self.resume(index);
            }
            if let Some(status) = self.nodes[index].exit_status() {
                problems.push(format!(
                    "node {} exited on its own ({status}); see {}",
                    self.nodes[index].id,
                    self.nodes[index].log.display()
                ));
            }
            if !self.is_running(index) && !self.nodes[index].retired && !self.nodes[index].pending {
                if let Err(problem) = self
                    .spawn(index)
                    .and_then(|()| self.wait_until_serving(index))
                {
                    problems.push(problem);
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// Takes the stopped node at `index` out of the run: heals leave it
    /// down.
    pub fn retire(&mut self, index: usize) {
        assert!(!self.is_running(index), "only a stopped node is retired");
        self.nodes[index].retired = true;
    }

    /// The node whose status says it leads with the highest ballot, among
    /// those that answer.
    pub fn leader(&self) -> Option<u64> {
        leader_of(&self.statuses())
    }

    /// Every running node's `/status`, `None` for a node that does not
    /// answer in time.
    pub fn statuses(&self) -> Vec<Option<serde_json::Value>> {
        self.nodes
            .iter()
            .map(|node| {
                if node.process.is_none() || node.paused {
                    return None;
                }
                admin_get(node.admin, "/status")
                    .ok()
                    .and_then(|body| serde_json::from_str(&body).ok())
            })
            .collect()
    }

    /// Every node's client address, spares' included.
    pub fn client_addresses(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|node| node.client).collect()
    }

    /// The active nodes' ids and client addresses.
    pub fn active_client_addresses(&self) -> Vec<(u64, SocketAddr)> {
        self.nodes
            .iter()
            .filter(|node| !node.pending && !node.retired)
            .map(|node| (node.id, node.client))
            .collect()
    }
}

impl Node {
    /// The exit status of a process that ended by itself (not yet reaped).
    fn exit_status(&mut self) -> Option<ExitStatus> {
        let child = self.process.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.process = None;
                Some(status)
            }
            _ => None,
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for index in 0..self.nodes.len() {
            self.kill(index);
        }
    }
}

/// The index in [`Cluster::nodes`] of node `id`.
pub fn index_of(id: u64) -> usize {
    usize::try_from(id - 1).expect("node ids are small")
}

/// The node claiming to lead under the highest ballot, from `/status`
/// answers.
pub fn leader_of(statuses: &[Option<serde_json::Value>]) -> Option<u64> {
    statuses
        .iter()
        .flatten()
        .filter(|status| status["role"] == "leader")
        .max_by_key(|status| {
            (
                status["ballot"]["round"].as_u64().unwrap_or(0),
                status["ballot"]["node"].as_u64().unwrap_or(0),
            )
        })
        .and_then(|status| status["id"].as_u64())
}

/// `GET path` on a node's admin endpoint with the observer's short limit.
pub fn admin_get(address: SocketAddr, path: &str) -> std::io::Result<String> {
    let timeout = Duration::from_millis(ADMIN_TIMEOUT_MILLISECONDS);
    let (code, body) = synod_client::admin::get_with_timeout(&address.to_string(), path, timeout)?;
    if code == 200 || code == 503 {
        Ok(body)
    } else {
        Err(std::io::Error::other(format!("HTTP {code}")))
    }
}

/// A loopback address with a port that was free a moment ago and is not
/// in `taken` (the probe's listener closes at once, so the next probe could
/// otherwise find the same port free), which it joins.
fn free_address(taken: &mut HashSet<u16>) -> Result<SocketAddr, String> {
    use std::hash::{BuildHasher, Hasher};
    for attempt in 0..1_000_u32 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id() ^ attempt);
        let span = u64::from(PORTS.end - PORTS.start);
        let port = PORTS.start + u16::try_from(hasher.finish() % span).expect("span fits u16");
        if taken.contains(&port) {
            continue;
        }
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            taken.insert(port);
            return listener.local_addr().map_err(|failure| failure.to_string());
        }
    }
    Err("no free loopback port found".into())
}

/// Has the kernel kill the node if the chaos command dies without stopping
/// it, so no orphan keeps ports or disk.
///
/// The signal fires when the *thread* that started the node ends, so every
/// node is started from the thread that runs [`crate::run`]; and a parent
/// that died between the fork and the `prctl` is caught by comparing the
/// parent's pid.
fn stop_with_parent(command: &mut Command) {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: prctl and getppid are async-signal-safe and touch no memory of
    // ours.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                return Err(std::io::Error::other("the chaos command exited"));
            }
            Ok(())
        });
    }
}
