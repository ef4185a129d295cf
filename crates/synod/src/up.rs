//! `synod up`: a local cluster of `synod server` processes on loopback.
//!
//! Node `i` (from 1) listens for clients on `client-port + i - 1`, for peers
//! on `peer-port + i - 1` and for admin HTTP on `admin-port + i - 1`, keeps
//! its data in `DATA/node-i` and logs to `DATA/node-i/server.log`. The
//! cluster's id and size are written to `DATA/cluster.toml` the first time,
//! so a second `up` on the same directory restarts the same cluster.
//!
//! The first [`FOUNDING_NODES_MAX`] nodes found the cluster; every node
//! after them joins it the way an operator adds a node to a running
//! cluster: `synod cluster add` (as a learner), `synod server --join`, and
//! a promotion once it has caught up.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use serde::{Deserialize, Serialize};
use synod_paxos::NodeId;
use synod_server::tls::{generate_development_certificates, DevelopmentCertificates};
use tokio::process::{Child, Command};

use crate::serve::{LogFormat, StopSignals};
use crate::status;

/// How long `up` waits for the cluster to elect a leader.
pub const ELECTION_WAIT_MILLISECONDS: u64 = 30_000;
/// How long stopping nodes get before they are killed.
pub const STOP_WAIT_MILLISECONDS: u64 = 10_000;
/// The most nodes `up` starts.
pub const NODES_MAX: u64 = 9;
/// Nodes that found the cluster; the others join it through membership
/// changes, one at a time.
pub const FOUNDING_NODES_MAX: u64 = 3;
/// How long `up` waits for a joining node to be added and promoted.
pub const JOIN_WAIT_MILLISECONDS: u64 = 60_000;
/// Name of the cluster description inside the data directory.
pub const CLUSTER_FILE_NAME: &str = "cluster.toml";

/// Arguments of `synod up`.
#[derive(Args, Debug)]
pub struct UpArguments {
    /// Number of nodes (odd numbers tolerate the most failures per node).
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// Data directory of the cluster (one subdirectory per node).
    #[arg(long, default_value = "./synod-data")]
    data: PathBuf,
    /// Client port of node 1; node i uses this plus i - 1.
    #[arg(long, default_value_t = 7001)]
    client_port: u16,
    /// Peer port of node 1.
    #[arg(long, default_value_t = 7101)]
    peer_port: u16,
    /// Admin port of node 1.
    #[arg(long, default_value_t = 8001)]
    admin_port: u16,
    /// Log format of the nodes' log files.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Start every node with `--lease` (see `synod server --help`).
    #[arg(long)]
    lease: bool,
    /// TLS between the nodes and with clients, with certificates `up`
    /// makes once in DATA/certs (as `synod certs` does) and reuses.
    /// Clients then connect with `redis-cli --tls --cacert DATA/certs/ca.pem`.
    #[arg(long)]
    tls: bool,
}

/// Where `up --tls` keeps the cluster's certificates, inside `--data`.
pub const CERTIFICATES_DIRECTORY_NAME: &str = "certs";

/// What `DATA/cluster.toml` remembers.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
struct ClusterFile {
    cluster_id: u64,
    nodes: u64,
    /// True when this `up` created the cluster: the nodes initialise their
    /// empty data directories. Never written to the file.
    #[serde(skip)]
    created: bool,
}

struct NodeProcess {
    id: u64,
    client: String,
    peer: String,
    admin: String,
    log: PathBuf,
    child: Child,
}

/// Runs `synod up`.
pub fn run(arguments: UpArguments) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(failure) => {
            eprintln!("synod up: cannot start the runtime: {failure}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(up(arguments)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("synod up: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn up(arguments: UpArguments) -> Result<(), String> {
    if arguments.nodes == 0 || arguments.nodes > NODES_MAX {
        return Err(format!("--nodes must be between 1 and {NODES_MAX}"));
    }
    let mut signals =
        StopSignals::catch().map_err(|failure| format!("cannot catch signals: {failure}"))?;
    let cluster = load_or_create_cluster(&arguments.data, arguments.nodes)?;
    if arguments.tls {
        ensure_certificates(&arguments.data, &cluster)?;
    }
    let founders = arguments.nodes.min(FOUNDING_NODES_MAX);
    let mut nodes = Vec::new();
    for id in 1..=founders {
        match spawn_node(&arguments, &cluster, id, founders) {
            Ok(node) => nodes.push(node),
            Err(problem) => {
                stop_all(&mut nodes).await;
                return Err(problem);
            }
        }
    }
    if let Err(problem) = wait_for_leader(&mut nodes).await {
        stop_all(&mut nodes).await;
        return Err(problem);
    }
    for id in founders + 1..=arguments.nodes {
        if let Err(problem) = join_node(&arguments, &cluster, id, founders, &mut nodes).await {
            stop_all(&mut nodes).await;
            return Err(problem);
        }
    }
    if let Err(problem) = wait_for_leader(&mut nodes).await {
        stop_all(&mut nodes).await;
        return Err(problem);
    }
    say(format_args!(
        "synod cluster {} is up ({} nodes, data in {}); Ctrl-C stops it",
        cluster.cluster_id,
        nodes.len(),
        arguments.data.display()
    ));
    for node in &nodes {
        let role = status::fetch(&node.admin)
            .ok()
            .and_then(|status| status["role"].as_str().map(str::to_string))
            .unwrap_or_else(|| "unknown".into());
        say(format_args!(
            "node {}: client {}  peer {}  admin {}  role {:<9} log {}",
            node.id,
            node.client,
            node.peer,
            node.admin,
            role,
            node.log.display()
        ));
    }
    if arguments.tls {
        say(format_args!(
            "TLS on: redis-cli --tls --cacert {} -p {}",
            arguments
                .data
                .join(CERTIFICATES_DIRECTORY_NAME)
                .join("ca.pem")
                .display(),
            arguments.client_port
        ));
    }
    wait_for_stop(&mut nodes, &mut signals).await;
    stop_all(&mut nodes).await;
    say(format_args!("synod cluster {} stopped", cluster.cluster_id));
    Ok(())
}

/// Prints a line to standard output. Whoever reads it may have gone away
/// (`synod up | head -1`); the cluster must still be stopped cleanly, so a
/// failed write is ignored rather than a panic.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

fn load_or_create_cluster(data: &Path, nodes: u64) -> Result<ClusterFile, String> {
    let path = data.join(CLUSTER_FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let cluster: ClusterFile = toml::from_str(&text)
                .map_err(|failure| format!("{}: {failure}", path.display()))?;
            if cluster.nodes != nodes {
                return Err(format!(
                    "{} holds a {}-node cluster; run up with --nodes {} or use another --data",
                    data.display(),
                    cluster.nodes,
                    cluster.nodes
                ));
            }
            Ok(cluster)
        }
        Err(failure) if failure.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data)
                .map_err(|failure| format!("cannot create {}: {failure}", data.display()))?;
            let cluster = ClusterFile {
                cluster_id: synod_server::drive::random_u64() >> 1,
                nodes,
                created: true,
            };
            let text = toml::to_string(&cluster).map_err(|failure| failure.to_string())?;
            std::fs::write(&path, text)
                .map_err(|failure| format!("cannot write {}: {failure}", path.display()))?;
            Ok(cluster)
        }
        Err(failure) => Err(format!("cannot read {}: {failure}", path.display())),
    }
}

/// Makes the cluster's certificates in DATA/certs unless they are there:
/// one per node, naming `localhost` and `127.0.0.1`, where `up` listens.
fn ensure_certificates(data: &Path, cluster: &ClusterFile) -> Result<(), String> {
    let directory = data.join(CERTIFICATES_DIRECTORY_NAME);
    if directory.join("ca.pem").exists() {
        return Ok(());
    }
    let nodes: Vec<NodeId> = (1..=cluster.nodes).map(NodeId).collect();
    let hosts = ["localhost".to_string(), "127.0.0.1".to_string()];
    generate_development_certificates(cluster.cluster_id, &nodes, &hosts)
        .and_then(|certificates| certificates.write_to(&directory))
        .map(|_| ())
        .map_err(|failure| failure.to_string())
}

/// The TLS arguments of node `id` under `up --tls`.
fn tls_arguments(data: &Path, id: u64) -> Vec<String> {
    let files = DevelopmentCertificates::files(&data.join(CERTIFICATES_DIRECTORY_NAME), NodeId(id));
    let path = |path: &Path| path.display().to_string();
    vec![
        "--peer-tls-ca".into(),
        path(&files.ca),
        "--peer-tls-cert".into(),
        path(&files.certificate),
        "--peer-tls-key".into(),
        path(&files.key),
        "--client-tls-cert".into(),
        path(&files.certificate),
        "--client-tls-key".into(),
        path(&files.key),
    ]
}

fn port(base: u16, id: u64) -> Result<u16, String> {
    u16::try_from(u64::from(base) + id - 1).map_err(|_| format!("port {base} + {id} overflows"))
}

/// Adds node `id` to the running cluster of `nodes` (when this `up`
/// created the cluster), starts it with `--join`, and promotes it once it
/// has caught up.
async fn join_node(
    arguments: &UpArguments,
    cluster: &ClusterFile,
    id: u64,
    founders: u64,
    nodes: &mut Vec<NodeProcess>,
) -> Result<(), String> {
    let endpoints: Vec<String> = nodes.iter().map(|node| node.admin.clone()).collect();
    let membership = synod_client::membership::Membership::new(
        endpoints,
        Duration::from_millis(JOIN_WAIT_MILLISECONDS),
    );
    let peer = format!("127.0.0.1:{}", port(arguments.peer_port, id)?);
    if cluster.created {
        let adding = membership.clone();
        tokio::task::spawn_blocking(move || adding.add_learner(id, &peer))
            .await
            .map_err(|failure| failure.to_string())?
            .map_err(|failure| format!("cannot add node {id}: {failure}"))?;
    }
    nodes.push(spawn_node(arguments, cluster, id, founders)?);
    tokio::task::spawn_blocking(move || membership.promote(id))
        .await
        .map_err(|failure| failure.to_string())?
        .map_err(|failure| format!("cannot promote node {id}: {failure}"))
}

fn spawn_node(
    arguments: &UpArguments,
    cluster: &ClusterFile,
    id: u64,
    founders: u64,
) -> Result<NodeProcess, String> {
    let address = |base| port(base, id).map(|port| format!("127.0.0.1:{port}"));
    let founders_admin = (1..=founders)
        .map(|peer| port(arguments.admin_port, peer).map(|port| format!("127.0.0.1:{port}")))
        .collect::<Result<Vec<_>, _>>()?
        .join(",");
    let peers = (1..=founders)
        .map(|peer| port(arguments.peer_port, peer).map(|port| format!("{peer}=127.0.0.1:{port}")))
        .collect::<Result<Vec<_>, _>>()?
        .join(",");
    let directory = arguments.data.join(format!("node-{id}"));
    std::fs::create_dir_all(&directory)
        .map_err(|failure| format!("cannot create {}: {failure}", directory.display()))?;
    let log = directory.join("server.log");
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|failure| format!("cannot open {}: {failure}", log.display()))?;
    let log_file_for_stdout = log_file
        .try_clone()
        .map_err(|failure| format!("cannot open {}: {failure}", log.display()))?;
    let executable = std::env::current_exe()
        .map_err(|failure| format!("cannot find the synod executable: {failure}"))?;
    let (client, peer, admin) = (
        address(arguments.client_port)?,
        address(arguments.peer_port)?,
        address(arguments.admin_port)?,
    );
    let log_format = match arguments.log_format {
        LogFormat::Text => "text",
        LogFormat::Json => "json",
    };
    let mut command = Command::new(executable);
    command
        .arg("server")
        .args(["--id", &id.to_string()])
        .args(["--client", &client, "--peer", &peer, "--admin", &admin]);
    if id <= founders {
        command
            .args(["--peers", &peers])
            .args(cluster.created.then_some("--new-cluster"));
    } else {
        command.args(["--join", &founders_admin]);
    }
    command
        .arg("--data")
        .arg(&directory)
        .args(["--cluster-id", &cluster.cluster_id.to_string()])
        .args(["--log-format", log_format])
        .args(arguments.lease.then_some("--lease"))
        .args(if arguments.tls {
            tls_arguments(&arguments.data, id)
        } else {
            Vec::new()
        })
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file_for_stdout))
        .stderr(Stdio::from(log_file));
    stop_with_parent(&mut command);
    let child = command
        .spawn()
        .map_err(|failure| format!("cannot start node {id}: {failure}"))?;
    Ok(NodeProcess {
        id,
        client,
        peer,
        admin,
        log,
        child,
    })
}

/// Has the kernel send SIGTERM to the node if `up` dies without stopping it
/// (killed with SIGKILL, say), so no orphan keeps the ports.
fn stop_with_parent(command: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

async fn wait_for_leader(nodes: &mut [NodeProcess]) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_millis(ELECTION_WAIT_MILLISECONDS);
    loop {
        for node in nodes.iter_mut() {
            if let Ok(Some(exit)) = node.child.try_wait() {
                return Err(format!(
                    "node {} exited ({exit}) during startup; see {}",
                    node.id,
                    node.log.display()
                ));
            }
        }
        let leaders: Vec<Option<u64>> = nodes
            .iter()
            .map(|node| {
                status::fetch(&node.admin)
                    .ok()
                    .and_then(|status| status["leader"].as_u64())
            })
            .collect();
        if leaders[0].is_some() && leaders.iter().all(|leader| *leader == leaders[0]) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "no leader elected within {ELECTION_WAIT_MILLISECONDS} ms; see the nodes' logs"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for SIGINT or SIGTERM, reporting nodes that exit meanwhile.
async fn wait_for_stop(nodes: &mut [NodeProcess], signals: &mut StopSignals) {
    let mut running: Vec<bool> = vec![true; nodes.len()];
    loop {
        tokio::select! {
            _ = signals.received() => return,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        for (index, node) in nodes.iter_mut().enumerate() {
            if running[index] {
                if let Ok(Some(exit)) = node.child.try_wait() {
                    running[index] = false;
                    eprintln!(
                        "node {} exited ({exit}); see {}",
                        node.id,
                        node.log.display()
                    );
                }
            }
        }
        if running.iter().all(|running| !running) {
            eprintln!("every node has exited");
            return;
        }
    }
}

/// Sends SIGTERM to every node, waits, and kills those still running.
async fn stop_all(nodes: &mut [NodeProcess]) {
    for node in nodes.iter() {
        if let Some(pid) = node.child.id() {
            // SAFETY: kill only sends a signal to our own child.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(STOP_WAIT_MILLISECONDS);
    for node in nodes.iter_mut() {
        if tokio::time::timeout_at(deadline, node.child.wait())
            .await
            .is_err()
        {
            eprintln!("node {} did not stop in time; killing it", node.id);
            let _ = node.child.kill().await;
        }
    }
}
