//! One synod replica as a deterministic, sans-IO state machine.
//!
//! A [`Node`] is everything a replica does except IO: the Multi-Paxos core
//! ([`synod_paxos::Replica`]), the kv state machine ([`synod_kv::Store`]),
//! the request tags that route each decided command back to the client that
//! sent it, the table of clients waiting for writes and reads, apply, the
//! snapshot and compaction policy, and the rule that persist requests
//! complete in order. The server, the simulator and the model checker all
//! drive this one type, so every simulated seed runs the routing,
//! forwarding, rejection, read and apply code that the server ships
//! (TigerBeetle and FoundationDB simulate their production code the same
//! way).
//!
//! * Inputs: [`Node::request`] (with an opaque handle to answer through),
//!   [`Node::step`] (a peer message), [`Node::tick`] (logical time),
//!   [`Node::persisted`] (a batch of durable state is on disk).
//! * Output: [`Node::ready`] returns messages to send, batches to persist,
//!   replies to clients and events.
//!
//! No tokio, no clock, no IO: the dependency graph keeps it so.
//!
//! # Driving a node
//!
//! ```
//! use bytes::Bytes;
//! use synod_kv::{Command, Operation, Principal, Response, SetCondition};
//! use synod_node::{Node, NodeOptions, Reply, Request};
//! use synod_paxos::{Config, DurableState, NodeId, Role};
//!
//! // A one-node cluster, its "disk", and a driver loop.
//! let config = Config::new(NodeId(1), vec![NodeId(1)]);
//! type Client = &'static str;
//! let mut node: Node<Client> = Node::new(NodeOptions::new(config), DurableState::default(), 7)?;
//! let mut disk = DurableState::default();
//! let mut drive = |node: &mut Node<Client>| -> Vec<Reply<Client>> {
//!     let mut replies = Vec::new();
//!     loop {
//!         let ready = node.ready();
//!         if ready.is_empty() {
//!             return replies;
//!         }
//!         // 1. Send ready.messages (none here: no peers).
//!         assert!(ready.messages.is_empty());
//!         // 2. Persist each batch in order, then report it.
//!         for batch in ready.persist {
//!             disk.apply(&batch.changes);
//!             node.persisted(batch.sequence).expect("no snapshot to restore");
//!         }
//!         // 3. Answer the clients.
//!         replies.extend(ready.replies);
//!         // 4. Encode a snapshot (on another thread, if there is one).
//!         if let Some(snapshot) = ready.snapshot_to_encode {
//!             node.snapshot_encoded(snapshot.end, snapshot.encode());
//!         }
//!     }
//! };
//!
//! while node.replica().role() != Role::Leader {
//!     node.tick();
//!     drive(&mut node);
//! }
//! let set = Operation::Set {
//!     key: Bytes::from_static(b"x"),
//!     value: Bytes::from_static(b"1"),
//!     condition: SetCondition::Always,
//! };
//! node.request("client a", Request::Write(Command::untagged(set)));
//! let replies = drive(&mut node);
//! assert_eq!(replies[0].handle, "client a");
//! assert_eq!(replies[0].result, Ok(Response::Stored(true)));
//!
//! let get = Operation::Get { key: Bytes::from_static(b"x") };
//! node.request("client b", Request::Read(Principal::Anonymous, get));
//! let replies = drive(&mut node);
//! assert_eq!(replies[0].result, Ok(Response::Value(Some(Bytes::from_static(b"1")))));
//! # Ok::<(), synod_node::NodeError>(())
//! ```
#![deny(missing_docs)]

mod event;
mod machine;
mod node;
mod persist;
mod request;
pub mod tag;
mod waiters;

pub use event::Event;
pub use machine::{untagged_commands, NodeError, SnapshotToEncode};
pub use node::{Node, NodeOptions, Ready, WRITES_PENDING_MAX_DEFAULT, WRITE_TIMEOUT_TICKS_DEFAULT};
pub use persist::{PersistBatch, PersistSequence};
pub use request::{Reply, Request, RequestError, RequestResult, UnknownReason};
