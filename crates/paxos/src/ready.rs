//! The output of the core, shaped so that "send before persist" is hard to
//! write: messages that depend on new acceptor state, decided values and
//! servable reads sit inside [`PersistRequest`] and only come out of
//! [`PersistRequest::persisted`], which the caller invokes after the state in
//! [`PersistRequest::state`] is durable.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::message::Envelope;
use crate::types::{Ballot, Entry, NodeId, ReadId, Slot, Snapshot, Value};

/// Changes to the acceptor's durable state, in the order they happened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PersistentChanges {
    /// A new promised ballot, if it changed.
    pub promised: Option<Ballot>,
    /// Entries accepted or learned, keyed by slot (a later change to the same
    /// slot replaces an earlier one within one batch).
    pub entries: BTreeMap<Slot, Entry>,
    /// A new commit index, if it advanced. Only a hint for faster restarts:
    /// safety never depends on it being durable.
    pub committed: Option<Slot>,
    /// A new snapshot: taken here by [`crate::Replica::compact`] or received
    /// from a peer. Entries below its end are no longer needed; storage may
    /// drop them once the snapshot is durable.
    pub snapshot: Option<Snapshot>,
}

impl PersistentChanges {
    /// True when nothing needs to be written.
    pub fn is_empty(&self) -> bool {
        self.promised.is_none()
            && self.entries.is_empty()
            && self.committed.is_none()
            && self.snapshot.is_none()
    }

    /// True when what these changes guard may be released only once they
    /// are durable: a promise, an accepted entry or a snapshot. A change of
    /// the commit index alone needs no sync: it is a hint for restarts and
    /// safety never depends on it. [`crate::Replica::ready`] does not even
    /// hand it out alone: it rides with the next change that needs a sync.
    pub fn needs_sync(&self) -> bool {
        self.promised.is_some() || !self.entries.is_empty() || self.snapshot.is_some()
    }
}

/// Everything an acceptor must remember across a crash.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DurableState {
    /// The highest ballot promised.
    pub promised: Ballot,
    /// Accepted (or learned decided) entries by slot.
    pub entries: BTreeMap<Slot, Entry>,
    /// Every slot below this is decided.
    pub committed: Slot,
    /// The latest snapshot; `entries` hold nothing below its end.
    pub snapshot: Option<Snapshot>,
}

impl DurableState {
    /// Folds a batch of changes into the state (what storage does on sync).
    pub fn apply(&mut self, changes: &PersistentChanges) {
        if let Some(promised) = changes.promised {
            assert!(promised >= self.promised, "a promise only grows");
            self.promised = promised;
        }
        if let Some(snapshot) = &changes.snapshot {
            if snapshot.end > self.log_start() {
                self.entries = self.entries.split_off(&snapshot.end);
                self.committed = self.committed.max(snapshot.end);
                self.snapshot = Some(snapshot.clone());
            }
        }
        let log_start = self.log_start();
        for (slot, entry) in changes.entries.range(log_start..) {
            self.entries.insert(*slot, entry.clone());
        }
        if let Some(committed) = changes.committed {
            self.committed = self.committed.max(committed);
        }
    }

    /// The first slot still held as an entry (the snapshot's end, or zero).
    pub fn log_start(&self) -> Slot {
        self.snapshot
            .as_ref()
            .map_or(Slot(0), |snapshot| snapshot.end)
    }
}

/// Why a proposal was not proposed. The command certainly did not take
/// effect through this attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// No leader became known within the request timeout.
    NoLeader,
    /// The node that held the command stopped being (or never was) leader.
    NotLeader {
        /// The leader the rejecting node knows of, if any.
        leader: Option<NodeId>,
    },
    /// Too many proposals are already queued (backpressure).
    Overloaded,
}

/// A command handed back to the caller unproposed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rejection {
    /// The command, exactly as proposed.
    pub command: Bytes,
    /// Why it was not proposed.
    pub reason: RejectReason,
}

/// Why a read could not be served. A read has no effect, so the caller may
/// simply retry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadError {
    /// No leader became known within the request timeout.
    NoLeader,
    /// Leadership changed while the read waited.
    NotLeader,
    /// The read was not confirmed within the request timeout.
    Timeout,
    /// Too many reads are already pending (backpressure).
    Overloaded,
}

/// A decided slot, handed out strictly in slot order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Decided {
    /// The slot.
    pub slot: Slot,
    /// The decided value; apply its commands in order.
    pub value: Value,
}

/// The output of one round of the core. Handle it in this order:
/// 1. send [`Ready::messages`] at once: no receiver relies on a write of
///    this replica still in flight, this round's or an earlier one's. (A
///    replica counts its own promise or acceptance only once it is
///    durable, see [`OwnVotes`], so no decision or commit index it
///    announces rests on such a write; what else a message may carry, a
///    promise in a Reject or an entry in an Accept, commits no one.);
/// 2. report [`Ready::rejected`] and [`Ready::failed_reads`];
/// 3. apply [`Ready::decided`] after every decision of earlier rounds: at
///    once when no earlier request still waiting holds decisions or a
///    snapshot, else right after the last such one, and in any case before
///    this round's [`PersistRequest`] is released (its reads may need them);
/// 4. make [`PersistRequest::state`] durable, then call
///    [`PersistRequest::persisted`] and send, apply and serve what it
///    returns; last, hand its [`Released::own_votes`] back to
///    [`crate::Replica::own_votes_durable`] (what they decide comes out of
///    the next `ready`).
///
/// `synod-node` keeps the order of the last two for drivers that persist
/// asynchronously: it releases requests strictly in the order the core
/// produced them.
#[derive(Debug, Default)]
#[must_use = "a Ready carries messages and decisions that must be handled"]
pub struct Ready {
    /// Messages to send at once (see the first rule above).
    pub messages: Vec<Envelope>,
    /// Proposals handed back unproposed.
    pub rejected: Vec<Rejection>,
    /// Reads that failed.
    pub failed_reads: Vec<(ReadId, ReadError)>,
    /// Everything that must wait for durability.
    pub persist: PersistRequest,
    /// Decisions a majority holds durably, whatever happens to this
    /// replica's copy: counted from durable votes (this replica's own only
    /// once handed back by [`crate::Replica::own_votes_durable`]), or
    /// learned from the leader's commit index or a peer's catch-up. They continue, in slot
    /// order, the decisions of earlier rounds' [`PersistRequest`]s; when
    /// this round's own request installs a snapshot, these are empty (any
    /// decision is gated behind it). A follower applies them without
    /// waiting for its own write of the same slots, which saves one sync on
    /// the path of every write answered by a follower.
    pub decided: Vec<Decided>,
}

impl Ready {
    /// True when there is nothing at all to do.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
            && self.rejected.is_empty()
            && self.failed_reads.is_empty()
            && self.persist.is_empty()
            && self.decided.is_empty()
    }
}

/// State to make durable and the output that may only be released after.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[must_use = "decisions and messages are released only by `persisted()`"]
pub struct PersistRequest {
    pub(crate) changes: PersistentChanges,
    pub(crate) messages: Vec<Envelope>,
    pub(crate) snapshot: Option<Snapshot>,
    pub(crate) decided: Vec<Decided>,
    pub(crate) reads: Vec<ReadId>,
    pub(crate) own_votes: OwnVotes,
}

/// This replica's own votes that this round's write makes durable: its
/// promise of a ballot it campaigns with, and its acceptance of the values
/// it proposes as leader. The replica counts them, like any other
/// acceptor's, only once they are durable: the driver hands them back with
/// [`crate::Replica::own_votes_durable`] after the write.
///
/// Counted earlier, a leader could decide a slot with a majority that
/// includes an acceptance it then loses in a crash, and announce the
/// decision; a follower would apply a value no majority holds, and a new
/// leader could choose another one in the same slot. Counted only once
/// durable, nothing a replica sends rests on a write still in flight, so
/// its messages go out at once and the leader's next Accepts overlap its
/// earlier writes (pipelining), instead of waiting for each of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct OwnVotes {
    /// A promise of this ballot, made when campaigning with it.
    pub(crate) promise: Option<Ballot>,
    /// Acceptances, as leader, of these slots under this ballot.
    pub(crate) acceptance: Option<(Ballot, Vec<Slot>)>,
}

impl OwnVotes {
    /// True when the write holds no vote of this replica's.
    pub fn is_empty(&self) -> bool {
        self.promise.is_none() && self.acceptance.is_none()
    }
}

impl PersistRequest {
    /// The changes to write durably before calling [`Self::persisted`].
    pub fn state(&self) -> &PersistentChanges {
        &self.changes
    }

    /// Takes the changes out, to hand them to storage without a copy,
    /// while the request waits to be released by [`Self::persisted`].
    pub fn take_state(&mut self) -> PersistentChanges {
        std::mem::take(&mut self.changes)
    }

    /// This replica's own votes the write makes durable.
    pub fn own_votes(&self) -> &OwnVotes {
        &self.own_votes
    }

    /// True when it releases decisions or a snapshot: decisions produced
    /// later must be applied after them.
    pub fn orders_apply(&self) -> bool {
        !self.decided.is_empty() || self.snapshot.is_some()
    }

    /// True when there is nothing to persist and nothing gated behind it.
    /// (After [`Self::take_state`], only what is gated counts.)
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.messages.is_empty()
            && self.snapshot.is_none()
            && self.decided.is_empty()
            && self.reads.is_empty()
            && self.own_votes.is_empty()
    }

    /// Call once [`Self::state`] is durable. Returns what it guarded.
    pub fn persisted(self) -> Released {
        Released {
            messages: self.messages,
            snapshot: self.snapshot,
            decided: self.decided,
            reads: self.reads,
            own_votes: self.own_votes,
        }
    }
}

/// Output released after persistence. Handle in this order: replace the
/// state machine with `snapshot` if there is one, apply `decided`, then serve
/// `reads` (a read may be served only once its read index is applied).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Released {
    /// Messages (promises, acceptances) that announce the persisted state.
    pub messages: Vec<Envelope>,
    /// A snapshot received from a peer: the state machine must be restored
    /// from it before applying `decided`, which continue from its end.
    pub snapshot: Option<Snapshot>,
    /// Decided slots to apply, in order.
    pub decided: Vec<Decided>,
    /// Reads that may now be served from the state machine.
    pub reads: Vec<ReadId>,
    /// This replica's own votes, now durable: hand them back to the
    /// replica with [`crate::Replica::own_votes_durable`], after the rest.
    pub own_votes: OwnVotes,
}
