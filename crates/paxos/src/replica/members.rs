//! The replica's side of membership: keeping the chain of configurations
//! in step with the decided log, who counts in which quorum, who receives
//! what, and proposing a change. The chain and the rule that picks a
//! slot's configuration live in [`crate::membership`]; this file only asks
//! it, so that every quorum of the core (acceptances, promises, pre-votes,
//! check-quorum, read confirmation) counts the same voters.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::config::{Config, Mutation};
use crate::membership::{
    ChangeError, Configuration, ConfigurationChange, Membership, TransferError,
    CONFIGURATION_DELAY_SLOTS, PROMOTION_LAG_SLOTS_MAX,
};
use crate::types::{NodeId, ReadRound, Slot, Snapshot, Value};

use super::leader::FollowerProgress;
use super::{Replica, RoleState};

/// The chain a replica starts with: its snapshot's, or the initial
/// configuration of its `Config` (snapshots of earlier builds carry none,
/// as their clusters never changed it).
pub(super) fn restored_membership(config: &Config, snapshot: Option<&Snapshot>) -> Membership {
    snapshot
        .and_then(|snapshot| snapshot.membership.clone())
        .unwrap_or_else(|| Membership::new(Configuration::initial(config.members.iter().copied())))
}

impl Replica {
    /// Records every configuration change decided in `from..to`, in slot
    /// order; called whenever the commit index passes them, so the chain
    /// is a function of the decided log. A leader starts sending its log
    /// to the members a change adds, and stops sending to those a change
    /// in force removed.
    pub(super) fn record_configurations(&mut self, from: Slot, to: Slot) {
        let governing_before = self.membership.start_of(from);
        let changes: Vec<(Slot, Arc<Configuration>)> = self
            .log
            .range(from..to)
            .filter_map(|(slot, entry)| match &entry.value {
                Value::Reconfigure(config) => Some((*slot, config.clone())),
                _ => None,
            })
            .collect();
        let delay_slots = if self.runs(Mutation::ConfigurationWithoutDelay) {
            1
        } else {
            CONFIGURATION_DELAY_SLOTS
        };
        let mut recorded = false;
        for (slot, config) in changes {
            recorded |= self
                .membership
                .record_decided_after(slot, &config, delay_slots);
        }
        if recorded || self.membership.start_of(to) != governing_before {
            self.sync_followers();
            self.reads.end_lease();
        }
    }

    /// Replaces the chain with a peer snapshot's (or the initial one).
    pub(super) fn install_membership(&mut self, snapshot: &Snapshot) {
        self.membership = restored_membership(&self.config, Some(snapshot));
        self.sync_followers();
        self.reads.end_lease();
    }

    /// While leading: every member of a configuration still to govern is a
    /// follower (receives accepts, heartbeats and the commit index), and no
    /// one else is (a removed node hears nothing more).
    pub(super) fn sync_followers(&mut self) {
        let now_tick = self.now_tick;
        let peers = self.peers();
        let RoleState::Leader(leadership) = &mut self.role else {
            return;
        };
        leadership
            .followers
            .retain(|follower, _| peers.contains(follower));
        for peer in peers {
            if let std::collections::btree_map::Entry::Vacant(entry) =
                leadership.followers.entry(peer)
            {
                entry.insert(FollowerProgress::new(now_tick));
                self.reads.add_follower(peer);
            }
        }
    }

    /// Every other member of a configuration that governs a slot this
    /// replica has not decided yet.
    pub(super) fn peers(&self) -> Vec<NodeId> {
        let id = self.id();
        self.membership
            .members_from(self.committed)
            .into_iter()
            .filter(|node| *node != id)
            .collect()
    }

    /// True when this replica votes in the configuration of its first
    /// undecided slot: only then may it campaign. A learner, a removed
    /// node and a node still joining never do.
    pub(super) fn votes_now(&self) -> bool {
        self.membership.at(self.committed).is_voter(self.id())
    }

    /// True when `node` votes in some configuration still to govern here:
    /// only such a node's campaign gets our pre-vote (a removed node that
    /// keeps asking finds no support).
    pub(super) fn is_voter_from_now(&self, node: NodeId) -> bool {
        self.membership
            .governing_from(self.committed)
            .any(|config| config.is_voter(node))
    }

    /// The quorum rule of elections, pre-votes and check-quorum: a
    /// majority of the voters of every configuration that governs a slot
    /// from our first undecided one on (Rule 3 of docs/membership.md for
    /// the configurations known now; a leader checks each later one
    /// before it proposes in its slots).
    pub(super) fn is_quorum_from_now(&self, nodes: &BTreeSet<NodeId>) -> bool {
        self.membership.is_quorum_from(self.committed, nodes)
    }

    /// The newest read-confirmation round that a majority of the voters of
    /// every configuration still to govern acknowledged, given each
    /// follower's latest acknowledged round and the leader's own round.
    pub(super) fn round_confirmed_by_quorums(
        &self,
        acknowledged: &std::collections::BTreeMap<NodeId, ReadRound>,
        own_round: ReadRound,
    ) -> ReadRound {
        let id = self.id();
        self.membership
            .governing_from(self.committed)
            .map(|config| {
                let rounds = config.voters.iter().map(|voter| {
                    if *voter == id {
                        own_round
                    } else {
                        acknowledged.get(voter).copied().unwrap_or_default()
                    }
                });
                config.majority().highest_reached(rounds)
            })
            .min()
            .expect("a membership holds at least one configuration")
    }

    /// The commit index last heard from `node` when it is not ready to
    /// vote or to lead: more than [`PROMOTION_LAG_SLOTS_MAX`] slots behind
    /// this leader, silent for an election timeout, or not heard from at
    /// all under this leadership (a learner that never started must not
    /// become a voter just because the log is still short).
    fn lagging_more_than_promotion_allows(&self, node: NodeId) -> Option<Slot> {
        let RoleState::Leader(leadership) = &self.role else {
            return Some(Slot(0));
        };
        let Some(progress) = leadership.followers.get(&node) else {
            return Some(Slot(0));
        };
        let silent_ticks = self.now_tick.saturating_sub(progress.last_heard_tick);
        let ready = progress.reported
            && silent_ticks <= self.config.election_timeout_ticks
            && progress.committed.distance_to(self.committed) <= PROMOTION_LAG_SLOTS_MAX;
        (!ready).then_some(progress.committed)
    }

    /// The epoch of the configuration that removed this replica, once that
    /// removal is in force here (it governs the first undecided slot and no
    /// later change is pending); `None` while it is a member.
    pub fn removal_in_force(&self) -> Option<u64> {
        let in_force = self.membership.at(self.committed);
        let settled = self.membership.latest_start() <= self.committed;
        (settled && in_force.retired.contains(&self.id())).then_some(in_force.epoch)
    }

    /// Hands leadership to the voter `to`: this leader stops leading and
    /// tells `to` to campaign at once (a [`Message::Resign`] naming it).
    /// Safe whatever happens next, as every election is: the successor's
    /// phase 1 recovers anything this leader had proposed, and if its
    /// campaign fails another voter's election timeout takes over.
    ///
    /// [`Message::Resign`]: crate::Message::Resign
    pub fn transfer_leadership(&mut self, to: NodeId) -> Result<(), TransferError> {
        let committed = self.committed;
        let RoleState::Leader(leadership) = &self.role else {
            return Err(TransferError::NotLeader {
                leader: self.leader,
            });
        };
        if to == self.id() {
            return Err(TransferError::AlreadyLeader);
        }
        let votes_throughout = self
            .membership
            .governing_from(committed)
            .chain(std::iter::once(self.membership.at(leadership.next_slot)))
            .all(|config| config.is_voter(to));
        if !votes_throughout {
            return Err(TransferError::NotVoter(to));
        }
        if let Some(target_committed) = self.lagging_more_than_promotion_allows(to) {
            return Err(TransferError::TargetBehind {
                node: to,
                committed: target_committed,
                leader_committed: committed,
            });
        }
        self.resign(Some(to));
        Ok(())
    }

    /// Proposes `change` to the newest configuration. Only the leader
    /// does; one change at a time (the newest configuration must be in
    /// force and no change undecided); a learner is promoted only once it
    /// is within [`PROMOTION_LAG_SLOTS_MAX`] of the leader. Returns the
    /// configuration proposed: it is in force once the decided log reaches
    /// the slot [`Status::configuration_start`](super::Status) shows for it.
    pub fn propose_change(
        &mut self,
        change: ConfigurationChange,
    ) -> Result<Configuration, ChangeError> {
        let committed = self.committed;
        let RoleState::Leader(leadership) = &self.role else {
            return Err(ChangeError::NotLeader {
                leader: self.leader,
            });
        };
        // A change accepted here above the commit index may be decided
        // already (out of order) without being recorded yet.
        let change_in_log = self
            .log
            .range(committed..)
            .any(|(_, entry)| matches!(entry.value, Value::Reconfigure(_)));
        let in_flight = leadership.change_queued.is_some()
            || leadership.has_undecided_change()
            || change_in_log
            || self.membership.latest_start() > committed;
        if in_flight {
            return Err(ChangeError::ChangePending);
        }
        let promoted = match &change {
            ConfigurationChange::Promote(node) => Some(*node),
            _ => None,
        };
        let next = self.membership.latest().changed(change)?;
        if let Some(node) = promoted {
            if let Some(learner_committed) = self.lagging_more_than_promotion_allows(node) {
                return Err(ChangeError::LearnerBehind {
                    node,
                    committed: learner_committed,
                    leader_committed: committed,
                });
            }
        }
        self.leadership_mut().change_queued = Some(Arc::new(next.clone()));
        Ok(next)
    }
}
