//! What happened inside a node, for whoever watches it: metrics and logs in
//! the server, safety checks in the simulator and the model.

use synod_paxos::{NodeId, Slot, Value};

/// One thing that happened, reported by [`crate::Node::ready`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// A decided slot was applied to the state machine.
    Applied {
        /// The slot.
        slot: Slot,
        /// Its decided value (the tagged proposals).
        value: Value,
        /// Proposals in it that carried no request tag and were skipped.
        untagged: usize,
        /// The store's digest right after it, when digests are recorded.
        digest: Option<u64>,
    },
    /// The state machine was replaced by a snapshot from a peer.
    SnapshotInstalled {
        /// The first slot after the snapshot.
        end: Slot,
        /// The store's digest right after, when digests are recorded.
        digest: Option<u64>,
    },
    /// The node took a snapshot of its state machine; the core compacts the
    /// log below it.
    SnapshotTaken {
        /// The first slot after the snapshot.
        end: Slot,
    },
    /// The leader this node knows of changed.
    LeaderChanged {
        /// The new leader, if any is known.
        leader: Option<NodeId>,
    },
}
