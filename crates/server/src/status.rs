//! What `/status` shows of a node, and how the drive loop builds it from
//! the core's state (see [`crate::drive::DriveLoop`], which publishes it).

use std::collections::BTreeMap;

use serde::Serialize;
use synod_paxos::{Ballot, Configuration, NodeId, Replica, Role, Slot};

/// What `/status` shows; published by the drive loop at once when the
/// role, leader, ballot or newest configuration changes, else once per tick.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// This node.
    pub id: u64,
    /// `leader`, `follower` or `candidate`.
    pub role: &'static str,
    /// The leader this node knows of.
    pub leader: Option<u64>,
    /// The highest ballot promised.
    pub ballot: BallotStatus,
    /// Every slot below it is decided here.
    pub commit_index: u64,
    /// Every slot below it is applied to the state machine here.
    pub applied_index: u64,
    /// Every member of the configuration in force, and of the next one
    /// while a change waits to take effect, with its role and replication
    /// lag (known on the leader only).
    pub members: Vec<MemberStatus>,
    /// The configuration that governs this node's first undecided slot.
    pub configuration: ConfigurationStatus,
    /// A decided configuration that governs only later slots, if any.
    pub configuration_next: Option<ConfigurationStatus>,
    /// The peer address of every node this one dials, by id: from the
    /// start-up peers and the addresses configuration changes carry.
    pub peer_addresses: BTreeMap<u64, String>,
    /// A snapshot this node is receiving from a peer, in chunks: it is too
    /// far behind for the log its peers kept.
    pub snapshot_transfer: Option<SnapshotTransferStatus>,
    /// Clients must authenticate (the default user has a password or is
    /// off), as of this node's applied state. The store enforces it on
    /// every command; connections use this view only for their time limit
    /// and for the limit on unauthenticated connections.
    pub authentication_required: bool,
}

/// A snapshot transfer into this node, for JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SnapshotTransferStatus {
    /// The first slot after the snapshot.
    pub end_slot: u64,
    /// State bytes received and checked so far.
    pub received_bytes: u64,
    /// The size of the snapshot's state.
    pub total_bytes: u64,
    /// The peer sending it.
    pub source: u64,
}

/// A configuration, for JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ConfigurationStatus {
    /// Counts the changes since the cluster started.
    pub epoch: u64,
    /// The first slot it governs (took effect at).
    pub start_slot: u64,
    /// Voting members.
    pub voters: Vec<u64>,
    /// Members that receive the log and do not vote.
    pub learners: Vec<u64>,
    /// Ids removed so far, never to be used again.
    pub retired: Vec<u64>,
}

impl ConfigurationStatus {
    /// `config`, in force from `start`.
    pub fn of(start: Slot, config: &Configuration) -> ConfigurationStatus {
        ConfigurationStatus {
            epoch: config.epoch,
            start_slot: start.0,
            voters: config.voters.iter().map(|node| node.0).collect(),
            learners: config.learners.iter().map(|node| node.0).collect(),
            retired: config.retired.iter().map(|node| node.0).collect(),
        }
    }
}

impl NodeStatus {
    /// Healthy: this node knows a leader. A leader that loses its quorum
    /// steps down within two election timeouts (the core's check-quorum),
    /// and a follower that stops hearing it starts an election, so a known
    /// leader is one that recently had a quorum.
    pub fn is_healthy(&self) -> bool {
        self.leader.is_some()
    }
}

/// A ballot, for JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BallotStatus {
    /// The round.
    pub round: u64,
    /// The node that owns it.
    pub node: u64,
}

/// One member in `/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberStatus {
    /// The member.
    pub id: u64,
    /// `voter` or `learner` in the configuration in force; `joining` or
    /// `leaving` when only the next configuration has it as a member, or
    /// no longer has it.
    pub role: &'static str,
    /// Its commit index as the leader last heard it (null off the leader).
    pub commit_index: Option<u64>,
    /// Slots it is behind the leader's commit index (null off the leader).
    pub lag: Option<u64>,
}

/// What a new status is published at once for, and the tick it was built
/// in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StatusKey {
    role: Role,
    leader: Option<NodeId>,
    promised: Ballot,
    configuration_start: Slot,
    authentication_required: bool,
    ticks: u64,
}

impl StatusKey {
    /// The key of `replica`'s status in tick `ticks`, with the store's
    /// `authentication_required`, which connections act on at once.
    pub(crate) fn of(replica: &Replica, ticks: u64, authentication_required: bool) -> StatusKey {
        StatusKey {
            role: replica.role(),
            leader: replica.leader(),
            promised: replica.promised(),
            configuration_start: replica.membership().latest_start(),
            authentication_required,
            ticks,
        }
    }
}

/// The status of `replica`, whose state machine has applied up to
/// `applied`, for `/status`.
pub(crate) fn status_of(
    replica: &Replica,
    applied: Slot,
    peer_addresses: &BTreeMap<NodeId, String>,
    authentication_required: bool,
) -> NodeStatus {
    let status = replica.status();
    let leading = status.role == Role::Leader;
    let current = &status.configuration;
    let next = status.configuration_next.as_ref().map(|(_, config)| config);
    let mut ids: Vec<NodeId> = current.members().collect();
    ids.extend(next.into_iter().flat_map(|config| config.members()));
    ids.sort();
    ids.dedup();
    let members = ids
        .into_iter()
        .map(|member| {
            let commit_index = if member == status.id {
                leading.then_some(status.committed.0)
            } else {
                status
                    .followers
                    .iter()
                    .find(|(follower, _)| *follower == member)
                    .map(|(_, committed)| committed.0)
            };
            let role = if current.is_voter(member) {
                "voter"
            } else if current.is_member(member) {
                "learner"
            } else {
                "joining"
            };
            let leaving = next.is_some_and(|next| !next.is_member(member));
            MemberStatus {
                id: member.0,
                role: if leaving { "leaving" } else { role },
                commit_index,
                lag: commit_index.map(|committed| status.committed.0.saturating_sub(committed)),
            }
        })
        .collect();
    let configuration = ConfigurationStatus::of(status.configuration_start, current);
    let configuration_next = status
        .configuration_next
        .as_ref()
        .map(|(start, config)| ConfigurationStatus::of(*start, config));
    NodeStatus {
        id: status.id.0,
        role: status.role.name(),
        leader: status.leader.map(|leader: NodeId| leader.0),
        ballot: BallotStatus {
            round: status.promised.round,
            node: status.promised.node.0,
        },
        commit_index: status.committed.0,
        applied_index: applied.0,
        members,
        configuration,
        configuration_next,
        peer_addresses: peer_addresses
            .iter()
            .map(|(peer, address)| (peer.0, address.clone()))
            .collect(),
        snapshot_transfer: replica
            .snapshot_transfer()
            .map(|progress| SnapshotTransferStatus {
                end_slot: progress.end.0,
                received_bytes: progress.received_bytes,
                total_bytes: progress.total_bytes,
                source: progress.source.0,
            }),
        authentication_required,
    }
}
