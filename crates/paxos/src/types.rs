//! The vocabulary of the protocol: node ids, slots, ballots and values.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::membership::{Configuration, Membership};

/// Identifies one replica in the cluster. Ids are chosen by the operator and
/// never reused for a different disk (see the storage crate's identity file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u64);

impl fmt::Display for NodeId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "n{}", self.0)
    }
}

/// A position in the replicated log. Slot `n` holds the `n`-th decided value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(pub u64);

impl Slot {
    /// The slot after this one.
    pub fn next(self) -> Slot {
        Slot(self.0 + 1)
    }

    /// The number of slots in `self..end` (zero when `end` is not after `self`).
    pub fn distance_to(self, end: Slot) -> u64 {
        end.0.saturating_sub(self.0)
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "slot {}", self.0)
    }
}

/// A proposal number, totally ordered by round and then by node id, so two
/// proposers can never hold the same ballot. A node only ever uses ballots
/// carrying its own id, with a round above anything it has promised, so it
/// never reuses one even across restarts (its promise is durable).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ballot {
    /// Increases with every election attempt anywhere in the cluster.
    pub round: u64,
    /// The proposer that owns this ballot; breaks ties between equal rounds.
    pub node: NodeId,
}

impl Ballot {
    /// Below every ballot any proposer uses; the initial promise.
    pub const ZERO: Ballot = Ballot {
        round: 0,
        node: NodeId(0),
    };
}

impl fmt::Display for Ballot {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "({}, {})", self.round, self.node)
    }
}

/// What a slot decides: a batch of opaque client commands, a configuration
/// change, or nothing.
///
/// The core never looks inside a command; the state machine (the `kv` crate)
/// decodes it. Batches are shared (`Arc`) because the same value is sent to
/// every follower and kept in the leader's vote table. A configuration is
/// the one value the core reads itself (see [`crate::membership`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    /// Fills a hole found during recovery: decides the slot without effect.
    Noop,
    /// One or more client commands, applied in order.
    Batch(Arc<[Bytes]>),
    /// The next configuration of the cluster: it governs the slots from
    /// [`crate::CONFIGURATION_DELAY_SLOTS`] after this one on. It holds no
    /// command for the state machine.
    Reconfigure(Arc<Configuration>),
}

impl Value {
    /// The commands of this value, empty for a no-op.
    pub fn commands(&self) -> &[Bytes] {
        match self {
            Value::Noop | Value::Reconfigure(_) => &[],
            Value::Batch(commands) => commands,
        }
    }

    /// Payload size used for batching limits.
    pub fn size_bytes(&self) -> usize {
        self.commands().iter().map(Bytes::len).sum()
    }
}

/// An accepted value at an acceptor: the ballot it was accepted under.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The ballot of the Accept that carried the value.
    pub ballot: Ballot,
    /// The value accepted.
    pub value: Value,
}

/// An entry together with its slot, as carried in promises and catch-up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SlotEntry {
    /// Where the entry lives.
    pub slot: Slot,
    /// The accepted ballot and value.
    pub entry: Entry,
}

/// Identifies a linearizable read request of the caller, echoed back when the
/// read may be served (or has failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadId(pub u64);

/// A read-confirmation round of one leadership. Each heartbeat starts one;
/// an acknowledgement of round `r` proves that, when the follower sent it,
/// it had promised no ballot above the leader's. Rounds restart at zero with
/// every leadership, so they are never compared across ballots (and never
/// with a ballot's round, which is another number altogether).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadRound(pub u64);

impl ReadRound {
    /// The round after this one.
    pub fn next(self) -> ReadRound {
        ReadRound(self.0 + 1)
    }
}

impl fmt::Display for ReadRound {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "read round {}", self.0)
    }
}

/// A follower's name for one batch of reads it asked the leader to confirm,
/// echoed in the leader's answer. Each incarnation of a node starts its
/// numbering at a random point, so a late answer meant for an earlier
/// incarnation matches no batch of the current one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReadRequestId(pub u64);

/// The state machine's state after applying every slot below `end`, as the
/// caller encoded it. Replicas compact their logs below a snapshot and send
/// it to replicas that are too far behind for the remaining log.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Snapshot {
    /// The first slot *not* reflected in `state`.
    pub end: Slot,
    /// The encoded state machine (opaque to the core).
    pub state: Bytes,
    /// The configurations governing `end` and the slots after it, as the
    /// core knew them when it took the snapshot; `None` in snapshots of
    /// builds before membership changes, whose clusters never changed
    /// their initial configuration.
    pub membership: Option<Membership>,
}

/// A piece of a snapshot in transfer. Snapshots of one state machine that
/// end at the same slot hold the same state, so a transfer may continue
/// from another replica's copy: `end`, `state_size_bytes` and
/// `state_checksum` name the state, and a transfer restarts when they
/// change.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SnapshotChunk {
    /// The snapshot's end.
    pub end: Slot,
    /// The size of the snapshot's whole state.
    pub state_size_bytes: u64,
    /// CRC32C of the whole state, checked once it is assembled.
    pub state_checksum: u32,
    /// The sender's membership as of the snapshot (see
    /// [`Snapshot::membership`]); the one of the last piece is installed.
    pub membership: Option<Membership>,
    /// Where `data` starts in the state.
    pub offset: u64,
    /// The piece of the state.
    pub data: Bytes,
    /// CRC32C of `data`, checked on receipt.
    pub data_checksum: u32,
}
