//! Assembles a node: listeners, peer transport, drive loop, client API and
//! admin endpoint, and stops them together.
//!
//! Network tasks and the drive loop run on the caller's tokio runtime; the
//! only other thread is the disk thread ([`crate::disk`]), which owns the
//! [`Persistence`] and does every blocking write and sync.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use thiserror::Error;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, info};

use crate::admin::{self, AdminState, ClusterIdentity};
use crate::client::{self, ClientContext};
use crate::config::{ConfigError, ServerConfig};
use crate::drive::{
    DriveError, DriveLoop, NodeStatus, CLIENT_INBOX_REQUESTS_MAX, PEER_INBOX_MESSAGES_MAX,
};
use crate::metrics::Metrics;
use crate::persistence::Persistence;
use crate::tls::{TlsError, TlsReloader};
use crate::transport::{self, PeerIdentity};

/// Why a node could not start or stopped.
#[derive(Debug, Error)]
pub enum ServerError {
    /// The configuration cannot work.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A listener could not be bound.
    #[error("cannot listen on {address} for {purpose}: {source}")]
    Bind {
        /// What the listener is for.
        purpose: &'static str,
        /// The address.
        address: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The TLS files cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The drive loop failed.
    #[error(transparent)]
    Drive(#[from] DriveError),
    /// The drive loop panicked.
    #[error("the drive loop failed: {0}")]
    Thread(String),
}

/// The three listening sockets of a node.
#[derive(Debug)]
pub struct Listeners {
    /// RESP clients.
    pub client: TcpListener,
    /// Peers.
    pub peer: TcpListener,
    /// Admin HTTP.
    pub admin: TcpListener,
}

impl Listeners {
    /// Binds the addresses of `config`.
    ///
    /// # Errors
    ///
    /// [`ServerError::Bind`] naming the address that failed.
    pub async fn bind(config: &ServerConfig) -> Result<Listeners, ServerError> {
        let bind = |purpose, address| async move {
            listen(address).map_err(|source| ServerError::Bind {
                purpose,
                address,
                source,
            })
        };
        Ok(Listeners {
            client: bind("clients", config.client_address).await?,
            peer: bind("peers", config.peer_address).await?,
            admin: bind("admin HTTP", config.admin_address).await?,
        })
    }
}

/// A running node.
pub struct RunningServer {
    /// Where clients connect.
    pub client_address: SocketAddr,
    /// Where peers connect.
    pub peer_address: SocketAddr,
    /// Where the admin endpoint listens.
    pub admin_address: SocketAddr,
    status: watch::Receiver<NodeStatus>,
    metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
    finished: oneshot::Receiver<Result<(), DriveError>>,
    /// The tasks that own the listeners: once they finish, the ports are free.
    listening: Vec<tokio::task::JoinHandle<()>>,
    /// The TLS files in use, and how to read them again.
    tls: TlsReloader,
}

impl RunningServer {
    /// The drive loop's latest status.
    pub fn status(&self) -> NodeStatus {
        self.status.borrow().clone()
    }

    /// The node's counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// What reloads the node's certificates (on SIGHUP, say); it stays
    /// usable while the node runs.
    pub fn tls_reloader(&self) -> TlsReloader {
        self.tls.clone()
    }

    /// Runs until `stop` completes (a signal, say) or the drive loop fails,
    /// then stops every task. When it returns, the node's ports are free.
    ///
    /// # Errors
    ///
    /// The drive loop's failure.
    pub async fn run_until(
        mut self,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServerError> {
        let outcome = tokio::select! {
            _ = stop => None,
            outcome = &mut self.finished => Some(outcome),
        };
        let _ = self.shutdown.send(true);
        let outcome = match outcome {
            Some(outcome) => outcome,
            None => self.finished.await,
        };
        for task in self.listening {
            let _ = task.await;
        }
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(failure)) => Err(failure.into()),
            Err(_) => Err(ServerError::Thread("the drive loop panicked".into())),
        }
    }

    /// Stops every task and waits for the drive loop to finish.
    ///
    /// # Errors
    ///
    /// The drive loop's failure, if it had one.
    pub async fn stop(self) -> Result<(), ServerError> {
        self.run_until(async {}).await
    }
}

/// Starts a node on already bound listeners (tests bind port 0 first).
///
/// # Errors
///
/// A [`ServerError`] when the configuration is invalid, recovery fails or
/// the drive loop's thread cannot start.
pub async fn start(
    config: ServerConfig,
    persistence: Box<dyn Persistence>,
    listeners: Listeners,
) -> Result<RunningServer, ServerError> {
    config.validate()?;
    let core_config = config.core_config()?;
    let metrics = Arc::new(Metrics::default());
    let (shutdown, shutdown_receiver) = watch::channel(false);
    let (peer_sender, peer_receiver) = mpsc::channel(PEER_INBOX_MESSAGES_MAX);
    let (client_sender, client_receiver) = mpsc::channel(CLIENT_INBOX_REQUESTS_MAX);
    let addresses = (
        local_address(&listeners.client),
        local_address(&listeners.peer),
        local_address(&listeners.admin),
    );

    let tls = TlsReloader::load(
        config.peer_tls.as_ref(),
        config.client_tls.as_ref(),
        config.cluster_id,
    )?;
    let client_tls = tls.client();
    let identity = PeerIdentity {
        id: config.id,
        cluster_id: config.cluster_id,
        tls: tls.peer(),
    };
    let (transport, peer_listening) = transport::start(
        identity,
        listeners.peer,
        &config.peers,
        peer_sender,
        metrics.clone(),
        shutdown_receiver.clone(),
    );
    let (drive, status) = DriveLoop::new(
        core_config,
        persistence,
        transport,
        config.peers.clone(),
        metrics.clone(),
    )?;

    // The drive loop is a task of the server's runtime: it never blocks
    // (the disk thread syncs), and on the runtime's thread a message or a
    // request reaches it without waking another thread. With the default
    // single-threaded runtime a node's whole network path and its loop
    // share one thread, which measured fewer context switches per request
    // and lower latency than a thread of its own (docs/performance.md).
    let (finished_sender, finished) = oneshot::channel();
    let drive_shutdown = shutdown_receiver.clone();
    tokio::spawn(async move {
        let outcome = drive
            .run(peer_receiver, client_receiver, drive_shutdown)
            .await;
        let _ = finished_sender.send(outcome);
    });

    let admin_requests = client_sender.clone();
    let context = ClientContext {
        requests: client_sender,
        status: status.clone(),
        metrics: metrics.clone(),
        port: addresses.0.port(),
        connections_max: client::CONNECTIONS_MAX,
        output_buffer_max_bytes: client::CLIENT_OUTPUT_BUFFER_MAX_BYTES,
        tls: client_tls,
        gates: client::Gates::new(client::UNAUTHENTICATED_CONNECTIONS_MAX),
    };
    let client_listening = tokio::spawn(client::serve(
        listeners.client,
        context,
        shutdown_receiver.clone(),
    ));
    let admin_state = AdminState {
        status: status.clone(),
        metrics: metrics.clone(),
        requests: admin_requests,
        cluster: ClusterIdentity {
            cluster_id: config.cluster_id,
            initial_voters: config.members().iter().map(|voter| voter.0).collect(),
            id: config.id.0,
            peer_address: advertised_peer_address(&config, addresses.1),
        },
    };
    let admin_shutdown = shutdown_receiver.clone();
    let admin_listening = tokio::spawn(async move {
        if let Err(failure) = admin::serve(listeners.admin, admin_state, admin_shutdown).await {
            error!(%failure, "the admin endpoint failed");
        }
    });
    info!(
        id = %config.id,
        cluster_id = config.cluster_id,
        client = %addresses.0,
        peer = %addresses.1,
        admin = %addresses.2,
        members = ?config.members(),
        "node started"
    );
    Ok(RunningServer {
        client_address: addresses.0,
        peer_address: addresses.1,
        admin_address: addresses.2,
        status,
        metrics,
        shutdown,
        finished,
        listening: vec![peer_listening, client_listening, admin_listening],
        tls,
    })
}

/// The address peers reach this node at: its own entry in the peer list
/// when it has one (it may name a host rather than the bound address),
/// else the address the peer listener is bound to.
fn advertised_peer_address(config: &ServerConfig, bound: SocketAddr) -> String {
    config
        .peers
        .get(&config.id)
        .cloned()
        .unwrap_or_else(|| bound.to_string())
}

/// Pending connections the kernel queues for a listener before it drops
/// new ones (which then retry only after a second). A burst of thousands of
/// clients connecting at once overflows the usual 1,024 while the accept
/// loop catches up; the kernel caps this at `net.core.somaxconn`.
pub const LISTEN_BACKLOG_CONNECTIONS: u32 = 8_192;

/// Binds `address` with [`LISTEN_BACKLOG_CONNECTIONS`].
fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG_CONNECTIONS)
}

fn local_address(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .expect("a bound listener has a local address")
}
