//! synod's networked node: the tokio program around the sans-IO node
//! ([`synod_node::Node`]). Every protocol and routing decision is the
//! node's; this crate owns sockets, files, threads and clocks.
//!
//! A server is made of these modules:
//!
//! * [`transport`]: TCP connections to the other replicas, with a versioned
//!   handshake, bounded per-peer send queues, batching and reconnection;
//!   [`wire`] is the byte format on those connections.
//! * [`drive`]: the drive loop, the one thread that owns the
//!   [`synod_node::Node`]. It ticks the node, feeds it peer messages and
//!   client requests, hands the batches the node wants persisted to the
//!   [`disk`] thread, and reports them persisted when that thread has
//!   written and synced them (several per sync: group commit), so the node
//!   releases what waited for durability. The loop never waits for a sync.
//!   [`durable`] keeps that state in the data directory's write-ahead log;
//!   [`persistence`] also has an in-memory one for tests.
//! * [`client`]: the RESP2 client API (parsing by `synod-resp`); writes are
//!   answered after they are decided and applied, reads through the core's
//!   linearizable read path (or, behind unanswered writes of the same
//!   connection, through the log, so a connection's commands take effect in
//!   the order sent).
//! * [`admin`]: `/health`, `/status` and `/metrics` over HTTP.
//! * [`tls`]: TLS material and configurations (rustls), with the rule that
//!   binds a peer's certificate to the node it claims to be.
//! * [`server`]: wires them together and stops them together.
//!
//! ```no_run
//! # async fn example() -> Result<(), synod_server::server::ServerError> {
//! use synod_paxos::NodeId;
//! use synod_server::config::{parse_peers, ServerConfig, SNAPSHOT_INTERVAL_SLOTS};
//! use synod_server::persistence::MemoryPersistence;
//! use synod_server::server::{start, Listeners};
//!
//! let config = ServerConfig {
//!     id: NodeId(1),
//!     cluster_id: 7,
//!     client_address: "127.0.0.1:7001".parse().unwrap(),
//!     peer_address: "127.0.0.1:7101".parse().unwrap(),
//!     admin_address: "127.0.0.1:8001".parse().unwrap(),
//!     peers: parse_peers("1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103")?,
//!     data_directory: None,
//!     snapshot_interval_slots: SNAPSHOT_INTERVAL_SLOTS,
//!     lease: false,
//!     initial_voters: None,
//!     peer_tls: None,
//!     client_tls: None,
//! };
//! let listeners = Listeners::bind(&config).await?;
//! let server = start(config, Box::new(MemoryPersistence::default()), listeners).await?;
//! server.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod admin;
pub mod client;
pub mod clock;
pub mod config;
pub mod disk;
pub mod drive;
pub mod durable;
pub mod metrics;
pub mod persistence;
pub mod server;
pub mod status;
pub mod tls;
pub mod transport;
pub mod wire;
