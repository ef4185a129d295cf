//! `synod server`: one node, until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use synod_paxos::NodeId;
use synod_server::config::{parse_address, parse_peers, ConfigError, FileConfig, ServerConfig};
use synod_server::persistence::{MemoryPersistence, Persistence};
use synod_server::server::{start, Listeners};
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
    /// Data directory of this node.
    #[arg(long)]
    data: Option<PathBuf>,
    /// The cluster's id; peers of another cluster are refused.
    #[arg(long)]
    cluster_id: Option<u64>,
    /// A TOML file with the same settings (keys as the flags' names).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
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
    let (config, log_format) = match resolve(arguments) {
        Ok(resolved) => resolved,
        Err(problem) => {
            eprintln!("synod server: {problem}");
            return ExitCode::from(2);
        }
    };
    init_logging(log_format);
    crate::limits::raise_open_files_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(failure) => {
            error!(%failure, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
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

async fn serve(config: ServerConfig) -> Result<(), Box<dyn std::error::Error>> {
    let mut signals = StopSignals::catch()?;
    let persistence = open_persistence(&config);
    let listeners = Listeners::bind(&config).await?;
    let server = start(config, persistence, listeners).await?;
    Ok(server.run_until(signals.received()).await?)
}

/// The node's durable state. Until the storage crate's write-ahead log is
/// plugged in here, state lives in memory: a restarted node has forgotten
/// its promises and accepted values and catches up from its peers.
fn open_persistence(config: &ServerConfig) -> Box<dyn Persistence> {
    if let Some(directory) = &config.data_directory {
        if let Err(failure) = std::fs::create_dir_all(directory) {
            warn!(directory = %directory.display(), %failure, "cannot create the data directory");
        }
        warn!(
            directory = %directory.display(),
            "durable storage is not wired in yet: state is kept in memory only"
        );
    }
    Box::new(MemoryPersistence::default())
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

/// Merges the command line over the configuration file.
fn resolve(arguments: ServerArguments) -> Result<(ServerConfig, LogFormat), ConfigError> {
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
    let peers = match arguments.peers {
        Some(list) => parse_peers(&list)?,
        None => file
            .peer_map()?
            .ok_or(ConfigError::Missing { name: "--peers" })?,
    };
    let log_format = match (arguments.log_format, &file.log_format) {
        (Some(format), _) => format,
        (None, Some(name)) => LogFormat::parse(name)?,
        (None, None) => LogFormat::Text,
    };
    let config = ServerConfig {
        id: NodeId(id),
        cluster_id: arguments
            .cluster_id
            .or(file.cluster_id)
            .ok_or(ConfigError::Missing {
                name: "--cluster-id",
            })?,
        client_address: address("--client", arguments.client, file.client)?,
        peer_address: address("--peer", arguments.peer, file.peer)?,
        admin_address: address("--admin", arguments.admin, file.admin)?,
        peers,
        data_directory: arguments.data.or(file.data),
    };
    config.validate()?;
    Ok((config, log_format))
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
             admin = \"127.0.0.1:8002\"\nlog-format = \"json\"\n[peers]\n1 = \"127.0.0.1:7101\"\n2 = \"127.0.0.1:7102\"\n",
        )
        .unwrap();
        let arguments = ServerArguments {
            client: Some("127.0.0.1:9999".into()),
            config: Some(path),
            ..ServerArguments::default()
        };
        let (config, format) = resolve(arguments).unwrap();
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
