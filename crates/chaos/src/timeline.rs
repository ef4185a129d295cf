//! What happened during a chaos run besides the clients' operations: the
//! fault windows and the leader changes, on the clock of the history (nanoseconds since
//! the run began). The summary, the JSON output and the HTML report are all
//! drawn from this one record.

use serde::{Deserialize, Serialize};

/// One fault, from the moment it was injected to the moment it was healed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// The nemesis that injected it (`kill`, `pause`, `partition`, …).
    pub nemesis: String,
    /// What exactly it did, for a person: "SIGKILL node 2 (the leader)".
    pub description: String,
    /// The nodes it touched.
    pub nodes: Vec<u64>,
    /// When it began, in nanoseconds since the run began.
    pub start_nanoseconds: u64,
    /// When its heal began, in nanoseconds since the run began.
    pub end_nanoseconds: u64,
    /// From the heal to the acknowledgement of the first write called after
    /// it, in nanoseconds; `None` when no write was acknowledged after it.
    pub recovery_nanoseconds: Option<u64>,
}

/// A change of the leader as the observer saw it (polling every node's
/// admin status).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderChange {
    /// When it was observed, in nanoseconds since the run began.
    pub at_nanoseconds: u64,
    /// The new leader, or `None` when no node claimed to lead.
    pub leader: Option<u64>,
}

/// A chaos run's record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// The seed that reproduces the fault schedule.
    pub seed: u64,
    /// Cluster size.
    pub nodes: u64,
    /// Number of clients (ids `0..clients` in the history).
    pub clients: u64,
    /// How long the faulty part of the run lasted, in nanoseconds.
    pub duration_nanoseconds: u64,
    /// Every fault, in the order injected.
    pub faults: Vec<FaultWindow>,
    /// Every leader change observed, in order.
    pub leader_changes: Vec<LeaderChange>,
    /// The verdict in a few words ("linearizable, nothing lost", …).
    pub verdict: String,
    /// The command that reruns this schedule.
    pub rerun: String,
}
