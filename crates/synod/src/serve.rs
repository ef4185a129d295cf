//! `synod server`: one node, until SIGINT or SIGTERM; SIGHUP reloads its TLS certificates.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use synod_paxos::NodeId;
use synod_server::config::{
    parse_address, parse_peers, ConfigError, FileConfig, ServerConfig, SNAPSHOT_INTERVAL_SLOTS,
};
use synod_server::durable::{ClusterState, FilePersistence, OpenError};
use synod_server::persistence::{MemoryPersistence, Persistence};
use synod_server::server::{start, Listeners};
use synod_server::tls::{ClientTlsFiles, Reloaded, TlsFiles, TlsReloader};
use synod_storage::Identity;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tracing::{error, info, warn};

/// Arguments of `synod server`. Every setting may also come from the
/// `--config` file; the command line wins.
#[derive(Args, Debug, Default)]
pub struct ServerArguments {
    /// This node's id (a positive integer, one of the `--peers` ids).
    #[arg(long)]
    id: Option<u64>,
    /// Address for RESP clients, e.g. 127.0.0.1:7001.
    #[arg(long)]
    client: Option<String>,
    /// Address for peer connections, e.g. 127.0.0.1:7101.
    #[arg(long)]
    peer: Option<String>,
    /// Address of the admin HTTP endpoint (/health, /status, /metrics).
    #[arg(long)]
    admin: Option<String>,
    /// Every member's peer address: 1=host:port,2=host:port,…
    #[arg(long)]
    peers: Option<String>,
    /// Data directory of this node: its write-ahead log and snapshots.
    /// Without it the node keeps its state in memory only, which is safe
    /// for throwaway clusters alone.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The cluster is being created: an empty data directory is initialised
    /// for this node. Without it an empty data directory is refused, because
    /// a member that lost its disk must not vote with empty state.
    #[arg(long)]
    new_cluster: bool,
    /// The cluster's id; peers of another cluster are refused.
    #[arg(long)]
    cluster_id: Option<u64>,
    /// A TOML file with the same settings (keys as the flags' names).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// Threads of the node's runtime (network and the drive loop). One,
    /// the default, puts the whole node on one thread besides its disk
    /// thread: the fewest wake-ups per request, and the drive loop, which
    /// is one task anyway, bounds a node's throughput at one core either
    /// way. More let connections be parsed and answered in parallel.
    #[arg(long)]
    threads: Option<usize>,
    /// Serve linearizable reads on the leader under a lease, without a
    /// confirmation round per read. Safe only while the nodes' clocks run
    /// at rates within 10 % of each other (see docs/reads.md); off by
    /// default. Every node of a cluster must agree on it.
    #[arg(long)]
    lease: bool,
    /// Join a running cluster through the admin endpoint of one or more of
    /// its nodes (HOST:PORT, comma separated): the cluster id, the members' peer addresses and
    /// the initial voters come from there. Add the node first with
    /// `synod cluster add --id ID --peer HOST:PORT`; an empty data
    /// directory is then initialised for it (a learner has promised
    /// nothing yet). A node that joined is started with `--join` every
    /// time: the voters the cluster's log started with come from there.
    #[arg(long)]
    join: Option<String>,
    /// The voters a new cluster starts with (ids, comma separated), when
    /// `--peers` also lists nodes that will join later; every founding
    /// node must be given the same list. Default: every `--peers` id.
    #[arg(long)]
    initial_voters: Option<String>,
    /// Mutual TLS between members: the cluster's CA certificate (PEM).
    /// With `--peer-tls-cert` and `--peer-tls-key`; every member must use
    /// it. `synod certs` makes development ones.
    #[arg(long)]
    peer_tls_ca: Option<PathBuf>,
    /// This node's certificate (PEM), naming `node-<id>.cluster-<cluster
    /// id>.synod`.
    #[arg(long)]
    peer_tls_cert: Option<PathBuf>,
    /// This node's private key (PEM).
    #[arg(long)]
    peer_tls_key: Option<PathBuf>,
    /// TLS on the client port: the certificate clients see (PEM), naming
    /// the host names and addresses they connect to. With
    /// `--client-tls-key`; clients must then use TLS (`redis-cli --tls`).
    #[arg(long)]
    client_tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long)]
    client_tls_key: Option<PathBuf>,
}

/// How long `--join` waits for the cluster's admin endpoint.
pub const JOIN_TIMEOUT_MILLISECONDS: u64 = 30_000;

/// What a node learnt from the cluster it joins.
#[derive(Debug)]
struct Joined {
    cluster_id: u64,
    initial_voters: Vec<NodeId>,
    peers: std::collections::BTreeMap<NodeId, String>,
    /// True while this node is a learner of the newest configuration: an
    /// empty data directory may then be initialised (it promised nothing).
    learner: bool,
}

/// Parses `--initial-voters 1,2,3`.
fn parse_voters(list: &str) -> Result<Vec<NodeId>, ConfigError> {
    let mut voters = Vec::new();
    for entry in list
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let id: u64 = entry.parse().map_err(|_| ConfigError::File {
            path: PathBuf::from("--initial-voters"),
            reason: format!("{entry:?} is not a node id"),
        })?;
        voters.push(NodeId(id));
    }
    voters.sort();
    voters.dedup();
    if voters.is_empty() {
        return Err(ConfigError::File {
            path: PathBuf::from("--initial-voters"),
            reason: "no voter given".into(),
        });
    }
    Ok(voters)
}

/// Asks `endpoint` for the cluster's facts, and checks that `id` is a
/// member of it.
fn join(endpoint: &str, id: NodeId) -> Result<Joined, ConfigError> {
    let refused = |reason: String| ConfigError::Join {
        endpoints: endpoint.to_string(),
        reason,
    };
    let membership = synod_client::membership::Membership::new(
        endpoint
            .split(',')
            .map(str::trim)
            .filter(|endpoint| !endpoint.is_empty())
            .map(String::from)
            .collect(),
        std::time::Duration::from_millis(JOIN_TIMEOUT_MILLISECONDS),
    );
    let view = membership
        .view()
        .map_err(|failure| refused(failure.to_string()))?;
    let list = |value: &serde_json::Value| -> Vec<u64> {
        value
            .as_array()
            .map(|items| items.iter().filter_map(serde_json::Value::as_u64).collect())
            .unwrap_or_default()
    };
    let newest = if view["configuration_next"].is_null() {
        &view["configuration"]
    } else {
        &view["configuration_next"]
    };
    let voter = list(&newest["voters"]).contains(&id.0);
    let learner = list(&newest["learners"]).contains(&id.0);
    if list(&newest["retired"]).contains(&id.0) {
        return Err(refused(format!(
            "node {id} was removed from this cluster and ids are never reused; \
             add this machine under a new id with an empty data directory: \
             synod cluster add --id NEW --peer HOST:PORT --endpoints {endpoint}"
        )));
    }
    if !voter && !learner {
        return Err(refused(format!(
            "node {id} is not a member of the cluster yet; add it first: \
             synod cluster add --id {} --peer HOST:PORT --endpoints {endpoint}",
            id.0
        )));
    }
    let cluster_id = view["cluster_id"]
        .as_u64()
        .ok_or_else(|| refused("/cluster has no cluster id".into()))?;
    let mut peers = std::collections::BTreeMap::new();
    if let Some(addresses) = view["peer_addresses"].as_object() {
        for (peer, address) in addresses {
            if let (Ok(peer), Some(address)) = (peer.parse::<u64>(), address.as_str()) {
                peers.insert(NodeId(peer), address.to_string());
            }
        }
    }
    Ok(Joined {
        cluster_id,
        initial_voters: list(&view["initial_voters"])
            .into_iter()
            .map(NodeId)
            .collect(),
        peers,
        learner,
    })
}

/// Threads of a node's runtime unless `--threads` says otherwise.
pub const RUNTIME_THREADS_DEFAULT: usize = 1;
/// The most `--threads` accepts.
pub const RUNTIME_THREADS_MAX: usize = 256;

/// What `synod server` runs with, from the command line and the file.
#[derive(Debug)]
struct Resolved {
    config: ServerConfig,
    log_format: LogFormat,
    new_cluster: bool,
    threads: usize,
}

fn runtime_builder(threads: usize) -> tokio::runtime::Builder {
    if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    }
}

/// How logs are written to standard error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    fn parse(name: &str) -> Result<LogFormat, ConfigError> {
        <LogFormat as ValueEnum>::from_str(name, true).map_err(|_| ConfigError::File {
            path: PathBuf::from("--config"),
            reason: format!("log-format {name:?} is neither text nor json"),
        })
    }
}

/// Runs `synod server`.
pub fn run(arguments: ServerArguments) -> ExitCode {
    let Resolved {
        config,
        log_format,
        new_cluster,
        threads,
    } = match resolve(arguments) {
        Ok(resolved) => resolved,
        Err(problem) => {
            eprintln!("synod server: {problem}");
            return ExitCode::from(2);
        }
    };
    init_logging(log_format);
    crate::limits::raise_open_files_limit();
    crate::limits::return_large_allocations_to_the_system();
    let runtime = match runtime_builder(threads).enable_all().build() {
        Ok(runtime) => runtime,
        Err(failure) => {
            error!(%failure, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config, new_cluster)) {
        Ok(()) => {
            info!("stopped");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            error!(%failure, "the node failed");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: ServerConfig, new_cluster: bool) -> Result<(), Box<dyn std::error::Error>> {
    let mut signals = StopSignals::catch()?;
    let hangups = signal(SignalKind::hangup())?;
    let persistence = open_persistence(&config, new_cluster)?;
    let listeners = Listeners::bind(&config).await?;
    let server = start(config, persistence, listeners).await?;
    tokio::spawn(reload_on_hangup(hangups, server.tls_reloader()));
    Ok(server.run_until(signals.received()).await?)
}

/// Reads the TLS files again at each SIGHUP: renewed certificates take
/// effect for every handshake after, without a restart. A file that does
/// not load is logged and changes nothing.
async fn reload_on_hangup(mut hangups: Signal, reloader: TlsReloader) {
    while hangups.recv().await.is_some() {
        match reloader.reload() {
            Ok(Reloaded {
                peer: false,
                client: false,
            }) => info!("SIGHUP received; no TLS is configured, nothing to reload"),
            Ok(reloaded) => info!(
                peer = reloaded.peer,
                client = reloaded.client,
                "SIGHUP received; reloaded the TLS certificates"
            ),
            Err(error) => error!(
                %error,
                "SIGHUP received; the TLS files did not load, the certificates in use stay"
            ),
        }
    }
}

/// The node's durable state: the write-ahead log in its data directory,
/// or memory when it has none.
///
/// # Errors
///
/// When the data directory belongs to another node or cluster, is empty
/// for a member of an existing cluster (a lost disk), or is damaged.
fn open_persistence(
    config: &ServerConfig,
    new_cluster: bool,
) -> Result<Box<dyn Persistence>, OpenError> {
    let Some(directory) = &config.data_directory else {
        warn!("no --data directory: state is kept in memory, and a restarted node forgets its promises");
        return Ok(Box::new(MemoryPersistence::default()));
    };
    let identity = Identity {
        cluster_id: config.cluster_id,
        node_id: config.id.0,
    };
    let cluster_state = if new_cluster {
        ClusterState::New
    } else {
        ClusterState::Existing
    };
    Ok(Box::new(FilePersistence::open(
        directory,
        identity,
        cluster_state,
    )?))
}

/// SIGINT (Ctrl-C) and SIGTERM, caught from the moment this is created:
/// a signal that arrives before anyone waits is not lost, and does not kill
/// the process with the default action.
pub struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl StopSignals {
    /// Starts catching the signals.
    ///
    /// # Errors
    ///
    /// When the signal handlers cannot be installed.
    pub fn catch() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Completes at the first SIGINT or SIGTERM.
    pub async fn received(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => info!("SIGINT received; stopping"),
            _ = self.terminate.recv() => info!("SIGTERM received; stopping"),
        }
    }
}

/// The peer TLS files: all three, or none.
fn peer_tls_files(
    ca: Option<PathBuf>,
    certificate: Option<PathBuf>,
    key: Option<PathBuf>,
) -> Result<Option<TlsFiles>, ConfigError> {
    match (ca, certificate, key) {
        (None, None, None) => Ok(None),
        (Some(ca), Some(certificate), Some(key)) => Ok(Some(TlsFiles {
            ca,
            certificate,
            key,
        })),
        _ => Err(ConfigError::File {
            path: PathBuf::from("--peer-tls-ca"),
            reason: "--peer-tls-ca, --peer-tls-cert and --peer-tls-key go together".into(),
        }),
    }
}

/// Merges the command line over the configuration file; returns the
/// configuration, the log format and whether the cluster is being created.
fn resolve(arguments: ServerArguments) -> Result<Resolved, ConfigError> {
    let file = match &arguments.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let id = arguments
        .id
        .or(file.id)
        .ok_or(ConfigError::Missing { name: "--id" })?;
    let address = |name: &'static str, flag: Option<String>, from_file: Option<String>| {
        let value = flag.or(from_file).ok_or(ConfigError::Missing { name })?;
        parse_address(name, &value)
    };
    let joined = match arguments.join.or(file.join.clone()) {
        Some(endpoint) => Some(join(&endpoint, NodeId(id))?),
        None => None,
    };
    let peers = match (arguments.peers, &joined) {
        (Some(list), _) => parse_peers(&list)?,
        (None, Some(joined)) => joined.peers.clone(),
        (None, None) => file
            .peer_map()?
            .ok_or(ConfigError::Missing { name: "--peers" })?,
    };
    let cluster_id = match (arguments.cluster_id.or(file.cluster_id), &joined) {
        (Some(given), Some(joined)) if given != joined.cluster_id => {
            return Err(ConfigError::File {
                path: PathBuf::from("--join"),
                reason: format!(
                    "--cluster-id {given}, but the cluster joined is {}",
                    joined.cluster_id
                ),
            })
        }
        (Some(given), _) => given,
        (None, Some(joined)) => joined.cluster_id,
        (None, None) => {
            return Err(ConfigError::Missing {
                name: "--cluster-id",
            })
        }
    };
    let log_format = match (arguments.log_format, &file.log_format) {
        (Some(format), _) => format,
        (None, Some(name)) => LogFormat::parse(name)?,
        (None, None) => LogFormat::Text,
    };
    let config = ServerConfig {
        id: NodeId(id),
        cluster_id,
        client_address: address("--client", arguments.client, file.client)?,
        peer_address: address("--peer", arguments.peer, file.peer)?,
        admin_address: address("--admin", arguments.admin, file.admin)?,
        peers,
        data_directory: arguments.data.or(file.data),
        snapshot_interval_slots: SNAPSHOT_INTERVAL_SLOTS,
        lease: arguments.lease || file.lease.unwrap_or(false),
        initial_voters: match (&joined, arguments.initial_voters.or(file.initial_voters)) {
            (Some(joined), _) => Some(joined.initial_voters.clone()),
            (None, Some(list)) => Some(parse_voters(&list)?),
            (None, None) => None,
        },
        peer_tls: peer_tls_files(
            arguments.peer_tls_ca.or(file.peer_tls_ca),
            arguments.peer_tls_cert.or(file.peer_tls_cert),
            arguments.peer_tls_key.or(file.peer_tls_key),
        )?,
        client_tls: match (
            arguments.client_tls_cert.or(file.client_tls_cert),
            arguments.client_tls_key.or(file.client_tls_key),
        ) {
            (None, None) => None,
            (Some(certificate), Some(key)) => Some(ClientTlsFiles { certificate, key }),
            _ => {
                return Err(ConfigError::File {
                    path: PathBuf::from("--client-tls-cert"),
                    reason: "--client-tls-cert and --client-tls-key go together".into(),
                })
            }
        },
    };
    config.validate()?;
    // A learner has promised nothing, so an empty directory may be
    // initialised for it; a voter's empty directory is a lost disk.
    let new_cluster = arguments.new_cluster
        || file.new_cluster.unwrap_or(false)
        || joined.as_ref().is_some_and(|joined| joined.learner);
    let threads = arguments
        .threads
        .or(file.threads)
        .unwrap_or(RUNTIME_THREADS_DEFAULT);
    if !(1..=RUNTIME_THREADS_MAX).contains(&threads) {
        return Err(ConfigError::File {
            path: PathBuf::from("--threads"),
            reason: format!("{threads} threads: expected 1 to {RUNTIME_THREADS_MAX}"),
        });
    }
    Ok(Resolved {
        config,
        log_format,
        new_cluster,
        threads,
    })
}

/// Logs to standard error; `RUST_LOG` filters (default `info`).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_wins_over_the_file() {
        let directory =
            std::env::temp_dir().join(format!("synod-serve-test-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("node.toml");
        std::fs::write(
            &path,
            "id = 2\ncluster-id = 9\nclient = \"127.0.0.1:7002\"\npeer = \"127.0.0.1:7102\"\n\
             admin = \"127.0.0.1:8002\"\nlog-format = \"json\"\nnew-cluster = true\n[peers]\n1 = \"127.0.0.1:7101\"\n2 = \"127.0.0.1:7102\"\n",
        )
        .unwrap();
        let arguments = ServerArguments {
            client: Some("127.0.0.1:9999".into()),
            config: Some(path),
            ..ServerArguments::default()
        };
        let Resolved {
            config,
            log_format: format,
            new_cluster,
            threads,
        } = resolve(arguments).unwrap();
        assert_eq!(threads, RUNTIME_THREADS_DEFAULT);
        assert!(new_cluster);
        assert_eq!(config.id, NodeId(2));
        assert_eq!(config.cluster_id, 9);
        assert_eq!(config.client_address.port(), 9999);
        assert_eq!(config.peers.len(), 2);
        assert_eq!(format, LogFormat::Json);
        std::fs::remove_dir_all(directory).unwrap();
    }

    #[test]
    fn a_missing_setting_is_named() {
        let arguments = ServerArguments {
            id: Some(1),
            ..ServerArguments::default()
        };
        assert_eq!(
            resolve(arguments).unwrap_err(),
            ConfigError::Missing { name: "--peers" }
        );
    }
}
