//! synod's consensus core: Multi-Paxos as a deterministic state machine.
//!
//! The core performs no IO and reads no clock: time is [`Replica::tick`],
//! randomness is a seed handed to [`Replica::new`], and everything the
//! replica wants done leaves through [`Replica::ready`]. The same code runs
//! in the server, in the deterministic simulator and in the model checker,
//! all through `synod-node`, which wraps it with the state machine, request
//! routing and the in-order persist rule. Its only dependencies are `bytes`
//! and `synod-codec` (the one encoding of its types, in `encoding.rs`).
//!
//! # Driving a replica
//!
//! ```
//! use bytes::Bytes;
//! use synod_paxos::{Config, DurableState, NodeId, Replica, Role};
//!
//! // A one-node cluster elects itself at its first election timeout, once
//! // its promise is durable.
//! let config = Config::new(NodeId(1), vec![NodeId(1)]);
//! let mut durable = DurableState::default();
//! let mut replica = Replica::new(config, durable.clone(), 7);
//! while replica.role() != Role::Leader {
//!     replica.tick();
//!     let ready = replica.ready();
//!     durable.apply(ready.persist.state());
//!     replica.own_votes_durable(ready.persist.persisted().own_votes);
//! }
//! replica.propose(Bytes::from_static(b"set x 1"));
//! let ready = replica.ready();
//! // 1. Messages may go out at once.
//! assert!(ready.messages.is_empty()); // (no peers here)
//! // 2. Persist the acceptor state, then release what waited for it; the
//! //    replica counts its own acceptance once it is durable.
//! durable.apply(ready.persist.state());
//! let released = ready.persist.persisted();
//! assert!(released.decided.is_empty());
//! replica.own_votes_durable(released.own_votes);
//! // 3. Apply decided values in order; then serve released reads. (With
//! //    peers, decisions learned from them come in `ready.decided`, to
//! //    apply at once; see `Ready` for where they go in the order.)
//! let ready = replica.ready();
//! let commands: Vec<&Bytes> = ready
//!     .decided
//!     .iter()
//!     .flat_map(|decided| decided.value.commands())
//!     .collect();
//! assert_eq!(commands, [&Bytes::from_static(b"set x 1")]);
//! ```
//!
//! # The protocol in brief
//!
//! * A candidate picks a ballot `(round, id)` above anything it has seen,
//!   promises it to itself durably, and sends Prepare from its first
//!   undecided slot. Promises carry every accepted entry from there on.
//! * With a quorum of promises it re-proposes, per open slot, the value of
//!   the highest accepted ballot and fills holes with no-ops, then proposes
//!   new batches of commands in a bounded pipeline of slots.
//! * The leader's commit index rides on every Accept and Heartbeat; a
//!   follower whose entry in a slot carries the leader's ballot learns the
//!   slot is decided, and fetches anything else by catch-up.
//! * Reads are confirmed by a quorum round (a heartbeat) that started after
//!   the read arrived, then served once the read index is applied.
//! * Membership: a configuration change is a value in the log, and governs
//!   the slots from [`CONFIGURATION_DELAY_SLOTS`] after its own on (the
//!   seeds' α); every quorum counts the voters of the configuration that
//!   governs its slots (docs/membership.md).
#![deny(missing_docs)]

mod config;
mod encoding;
mod membership;
mod message;
mod quorum;
mod ready;
mod replica;
mod rng;
mod types;

pub use config::*;
pub use encoding::{
    decode_slot_entries, decode_snapshot_without_membership, MESSAGE_FORMAT_VERSION,
};
pub use membership::{
    ChangeError, Configuration, ConfigurationChange, Membership, TransferError,
    CONFIGURATION_DELAY_SLOTS, MEMBER_ADDRESS_SIZE_MAX_BYTES, PROMOTION_LAG_SLOTS_MAX,
};
pub use message::{Envelope, Message, Proposal};
pub use ready::{
    Decided, DurableState, OwnVotes, PersistRequest, PersistentChanges, ReadError, Ready,
    RejectReason, Rejection, Released,
};
pub use replica::{Replica, Role, SnapshotTransferProgress, Status};
pub use rng::SplitMix64;
pub use types::{
    Ballot, Entry, NodeId, ReadId, ReadRequestId, ReadRound, Slot, SlotEntry, Snapshot,
    SnapshotChunk, Value,
};
