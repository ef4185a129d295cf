//! Messages between replicas. Every message that carries a ballot is judged
//! against the receiver's promise; see `Replica::step`.

use bytes::Bytes;

use crate::ready::{ReadError, RejectReason};
use crate::types::{
    Ballot, NodeId, ReadRequestId, ReadRound, Slot, SlotEntry, SnapshotChunk, Value,
};

/// A message with its addresses, as handed to the transport.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Envelope {
    /// The sender.
    pub from: NodeId,
    /// The receiver; never equal to `from`.
    pub to: NodeId,
    /// The payload.
    pub message: Message,
}

/// A value proposed for one slot in a phase 2 message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Proposal {
    /// The slot the value is proposed for.
    pub slot: Slot,
    /// The proposed value.
    pub value: Value,
}

/// The replica-to-replica protocol.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message {
    /// Phase 1a: "promise not to accept below `ballot`, and tell me what you
    /// accepted from `first_undecided` onward".
    Prepare {
        /// The candidate's new ballot.
        ballot: Ballot,
        /// The candidate's commit index: every slot below it is decided there.
        first_undecided: Slot,
    },
    /// Phase 1b: the promise, with every accepted entry at or above
    /// `max(first_undecided, committed)`.
    Promise {
        /// The ballot promised.
        ballot: Ballot,
        /// The acceptor's commit index. Slots below it are decided and the
        /// candidate learns them by catch-up instead of re-proposing them.
        committed: Slot,
        /// Accepted entries the candidate must take into account.
        entries: Vec<SlotEntry>,
    },
    /// Phase 2a, many slots at once, with the leader's commit index
    /// piggybacked. An Accept without proposals only announces the commit
    /// index: the leader sends one as soon as the index advances, so
    /// followers apply (and answer their clients) without waiting for the
    /// next heartbeat.
    Accept {
        /// The leader's ballot.
        ballot: Ballot,
        /// The leader's commit index (learning without extra messages).
        committed: Slot,
        /// The values proposed.
        proposals: Vec<Proposal>,
    },
    /// Phase 2b: the acceptor accepted these slots under `ballot`.
    Accepted {
        /// The ballot accepted.
        ballot: Ballot,
        /// The slots accepted.
        slots: Vec<Slot>,
    },
    /// The leader's periodic liveness signal, also a read-confirmation round.
    Heartbeat {
        /// The leader's ballot.
        ballot: Ballot,
        /// The leader's commit index.
        committed: Slot,
        /// The read-confirmation round this heartbeat stands for.
        round: ReadRound,
    },
    /// "I have not promised above `ballot`" at the time of `round`.
    HeartbeatAck {
        /// The ballot acknowledged.
        ballot: Ballot,
        /// The round acknowledged.
        round: ReadRound,
        /// The follower's commit index, for replication lag.
        committed: Slot,
    },
    /// The receiver has promised `promised`, above the sender's `rejected`.
    Reject {
        /// The ballot that was refused.
        rejected: Ballot,
        /// The higher ballot the acceptor has promised.
        promised: Ballot,
    },
    /// A follower hands client commands to the leader it knows.
    Forward {
        /// The commands, in the order the follower received them.
        commands: Vec<Bytes>,
    },
    /// The receiver of a `Forward` did not propose these commands (it is
    /// not the leader, or its queue is full): they go back to their origin,
    /// where their clients wait, to be reported as rejected.
    ForwardRejected {
        /// The commands that were not proposed.
        commands: Vec<Bytes>,
        /// Why (a refusal names the leader the receiver knows, if any).
        reason: RejectReason,
    },
    /// A follower asks the leader for a read index for a batch of reads.
    ReadIndexRequest {
        /// The follower's identifier for the batch.
        request: ReadRequestId,
        /// How many reads the batch holds: the leader counts them against
        /// its read limit while it confirms them.
        reads: u64,
    },
    /// The leader confirmed its leadership after the request arrived; the
    /// reads may be served once the follower has applied below `read_index`.
    ReadIndexReply {
        /// The follower's identifier for the batch.
        request: ReadRequestId,
        /// The leader's ballot (lets the follower learn `committed` too).
        ballot: Ballot,
        /// Every slot below it must be applied before serving the reads.
        read_index: Slot,
        /// The leader's commit index.
        committed: Slot,
    },
    /// The receiver will not confirm the read batch: it is not the leader,
    /// or it holds as many reads as its limit allows.
    ReadIndexRejected {
        /// The follower's identifier for the batch.
        request: ReadRequestId,
        /// Why: [`ReadError::NotLeader`] or [`ReadError::Overloaded`].
        reason: ReadError,
    },
    /// Pre-vote: "would you support a campaign of mine with `ballot`?",
    /// asked before a replica raises its ballot. It changes nothing at the
    /// receiver, so a replica that can send but not hear (or sits in a
    /// minority) never raises a ballot that would depose a working leader.
    PreVote {
        /// The ballot the asker would campaign with.
        ballot: Ballot,
    },
    /// The answer to a pre-vote. A replica that heard from a live leader
    /// within the election timeout refuses (leader stickiness).
    PreVoteReply {
        /// The ballot asked about.
        ballot: Ballot,
        /// Whether the campaign has this replica's support.
        granted: bool,
        /// The replica's promise, so that the campaign starts above it.
        promised: Ballot,
    },
    /// The leader stopped leading because it no longer hears from a quorum
    /// (check-quorum). Its followers may campaign at once instead of waiting
    /// out an election timeout: a leader that can send but not receive
    /// would otherwise keep them loyal for that long.
    ///
    /// Also a leader transfer, and a removed leader's handover: then it
    /// names a `successor`, a voter that campaigns at once.
    Resign {
        /// The ballot the leader led with.
        ballot: Ballot,
        /// The voter the leader hands over to, if any.
        successor: Option<NodeId>,
    },
    /// A lagging replica asks for decided entries from `from` onward.
    CatchUpRequest {
        /// The first slot the requester has not decided.
        from: Slot,
    },
    /// Decided entries, contiguous from the requested slot, in bounded batches.
    CatchUp {
        /// Decided entries.
        entries: Vec<SlotEntry>,
        /// The sender's commit index, so the requester knows whether to ask again.
        committed: Slot,
    },
    /// The requester is behind the sender's compacted log: here is a piece
    /// of the sender's latest snapshot. The requester asks for the next
    /// piece with [`Message::SnapshotChunkRequest`], and once it holds the
    /// whole snapshot, installs it and catches up from its end.
    SnapshotChunk {
        /// The piece.
        chunk: SnapshotChunk,
        /// The sender's commit index.
        committed: Slot,
    },
    /// Send the piece of the snapshot ending at `end` that starts at
    /// `offset` of its state (the requester holds everything before it). A
    /// sender that no longer has that snapshot sends the start of its
    /// latest one instead.
    SnapshotChunkRequest {
        /// The end of the snapshot being transferred.
        end: Slot,
        /// The first state byte the requester lacks.
        offset: u64,
    },
}

impl Message {
    /// A short name for traces and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Prepare { .. } => "prepare",
            Message::Promise { .. } => "promise",
            Message::Accept { .. } => "accept",
            Message::Accepted { .. } => "accepted",
            Message::Heartbeat { .. } => "heartbeat",
            Message::HeartbeatAck { .. } => "heartbeat-ack",
            Message::Reject { .. } => "reject",
            Message::Forward { .. } => "forward",
            Message::ForwardRejected { .. } => "forward-rejected",
            Message::ReadIndexRequest { .. } => "read-index-request",
            Message::ReadIndexReply { .. } => "read-index-reply",
            Message::ReadIndexRejected { .. } => "read-index-rejected",
            Message::PreVote { .. } => "pre-vote",
            Message::PreVoteReply { .. } => "pre-vote-reply",
            Message::Resign { .. } => "resign",
            Message::CatchUpRequest { .. } => "catch-up-request",
            Message::CatchUp { .. } => "catch-up",
            Message::SnapshotChunk { .. } => "snapshot-chunk",
            Message::SnapshotChunkRequest { .. } => "snapshot-chunk-request",
        }
    }
}
