//! Who votes on which slot: configurations, the changes between them, and
//! the one rule that says which configuration governs a slot.
//!
//! A configuration change is a value in the log, like a batch of commands.
//! It takes effect [`CONFIGURATION_DELAY_SLOTS`] slots after the slot that
//! decides it: the seeds' α ("the set of servers that execute instance
//! `i + α` is specified by the state after execution of the `i`-th
//! command"). A leader proposes slot `t` only once every slot up to
//! `t - α` is decided here, which its pipeline window already demands, so
//! every proposer that proposes in a slot knows, from decided values only,
//! the one configuration that governs it. Each slot is then single-decree
//! Paxos with a fixed set of acceptors, whatever the change: old and new
//! majorities need not intersect (docs/membership.md has the argument and
//! the counterexample that rules out letting a change act sooner).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::quorum::Majority;
use crate::types::{NodeId, Slot};

/// A change decided in slot `s` governs slots from `s + CONFIGURATION_DELAY_SLOTS`
/// on (the seeds' α). It also bounds the pipeline: a leader never has
/// more than this many slots above its commit index in flight, since it
/// must know the configuration of each. Equal to the default pipeline
/// window, so a change costs no throughput; once a change is decided, an
/// idle leader fills the slots before it takes effect with no-ops, so that
/// it does not wait for traffic. A protocol constant: every replica of a
/// cluster must agree on it forever, so it is not configurable.
pub const CONFIGURATION_DELAY_SLOTS: u64 = 256;

/// A learner may be promoted to voter only while its commit index is at
/// most this many slots behind the leader's: a voter that is far behind
/// would make every quorum wait for its catch-up.
pub const PROMOTION_LAG_SLOTS_MAX: u64 = 1_024;

/// Bytes of one member's address at most (see [`Configuration::addresses`]).
pub const MEMBER_ADDRESS_SIZE_MAX_BYTES: usize = 512;

/// The members of the cluster at one point of the log: the voters, whose
/// majorities decide slots and elect leaders, and the learners, which
/// receive the log and count in no quorum.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Configuration {
    /// Counts the changes that led here: the initial configuration is 0,
    /// and each change that takes effect adds one. A decided change whose
    /// epoch is not one above the latest configuration's is void (two
    /// leaders proposed the same change twice), so replaying the log
    /// always builds the same chain.
    pub epoch: u64,
    /// Voting members.
    pub voters: BTreeSet<NodeId>,
    /// Non-voting members.
    pub learners: BTreeSet<NodeId>,
    /// How to reach members that joined through a change, as the operator
    /// gave it: opaque to the core, which never dials anyone. It travels
    /// with the configuration so that every replica, and a node that joins
    /// later, learns where a new member listens from the log itself. The
    /// initial members have no entry: each node knows them from its own
    /// start-up settings.
    pub addresses: BTreeMap<NodeId, String>,
    /// Every node removed so far. An id is never reused: a removed node
    /// may still hold promises and accepted values under that id, so it
    /// comes back only as a new member with a new id and an empty disk.
    pub retired: BTreeSet<NodeId>,
}

impl Configuration {
    /// The configuration a cluster starts with: `voters`, epoch 0.
    pub fn initial(voters: impl IntoIterator<Item = NodeId>) -> Configuration {
        Configuration {
            epoch: 0,
            voters: voters.into_iter().collect(),
            learners: BTreeSet::new(),
            addresses: BTreeMap::new(),
            retired: BTreeSet::new(),
        }
    }

    /// True when `node` votes in this configuration.
    pub fn is_voter(&self, node: NodeId) -> bool {
        self.voters.contains(&node)
    }

    /// True when `node` is a voter or a learner here.
    pub fn is_member(&self, node: NodeId) -> bool {
        self.voters.contains(&node) || self.learners.contains(&node)
    }

    /// Voters and learners.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.voters.iter().chain(self.learners.iter()).copied()
    }

    /// The majority of the voters.
    pub(crate) fn majority(&self) -> Majority {
        Majority::of(self.voters.len())
    }

    /// True when the voters among `nodes` make a majority of the voters.
    pub fn is_quorum<'a>(&self, nodes: impl IntoIterator<Item = &'a NodeId>) -> bool {
        let count = nodes
            .into_iter()
            .filter(|node| self.voters.contains(node))
            .count();
        self.majority().is_reached(count)
    }

    /// The configuration after `change`, or why it cannot be made.
    pub fn changed(&self, change: ConfigurationChange) -> Result<Configuration, ChangeError> {
        let mut next = Configuration {
            epoch: self.epoch + 1,
            ..self.clone()
        };
        match change {
            ConfigurationChange::AddLearner { node, address } => {
                if self.is_member(node) {
                    return Err(ChangeError::AlreadyMember(node));
                }
                if self.retired.contains(&node) {
                    return Err(ChangeError::Retired(node));
                }
                if address.len() > MEMBER_ADDRESS_SIZE_MAX_BYTES {
                    return Err(ChangeError::AddressTooLong(node));
                }
                next.learners.insert(node);
                if !address.is_empty() {
                    next.addresses.insert(node, address);
                }
            }
            ConfigurationChange::Promote(node) => {
                if !next.learners.remove(&node) {
                    return Err(ChangeError::NotLearner(node));
                }
                next.voters.insert(node);
            }
            ConfigurationChange::Remove(node) => {
                if !self.is_member(node) {
                    return Err(ChangeError::NotMember(node));
                }
                next.learners.remove(&node);
                next.voters.remove(&node);
                next.addresses.remove(&node);
                next.retired.insert(node);
                if next.voters.is_empty() {
                    return Err(ChangeError::LastVoter(node));
                }
            }
        }
        Ok(next)
    }

    /// Checks the invariants every configuration keeps.
    pub fn validate(&self) -> Result<(), String> {
        if self.voters.is_empty() {
            return Err("a configuration needs at least one voter".into());
        }
        if let Some(both) = self.voters.intersection(&self.learners).next() {
            return Err(format!("{both} is both a voter and a learner"));
        }
        if let Some(node) = self.members().find(|node| self.retired.contains(node)) {
            return Err(format!("{node} is a member but was removed before"));
        }
        for (node, address) in &self.addresses {
            if !self.is_member(*node) {
                return Err(format!("{node} has an address but is not a member"));
            }
            if address.is_empty() || address.len() > MEMBER_ADDRESS_SIZE_MAX_BYTES {
                return Err(format!(
                    "{node}'s address is empty or longer than {MEMBER_ADDRESS_SIZE_MAX_BYTES} bytes"
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Configuration {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |nodes: &BTreeSet<NodeId>| {
            nodes
                .iter()
                .map(NodeId::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        write!(
            formatter,
            "epoch {} voters [{}] learners [{}]",
            self.epoch,
            list(&self.voters),
            list(&self.learners)
        )
    }
}

/// One step from a configuration to the next, as an operator asks for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConfigurationChange {
    /// A new node joins as a learner: it receives the log and catches up.
    AddLearner {
        /// The new member.
        node: NodeId,
        /// Where its peers reach it ([`Configuration::addresses`]); empty
        /// when every node knows it already (the simulator).
        address: String,
    },
    /// A caught-up learner becomes a voter.
    Promote(NodeId),
    /// A voter or learner leaves.
    Remove(NodeId),
}

impl ConfigurationChange {
    /// Adds `node` as a learner with no address (every node knows how to
    /// reach it already, as in the simulator).
    pub fn add_learner(node: NodeId) -> ConfigurationChange {
        ConfigurationChange::AddLearner {
            node,
            address: String::new(),
        }
    }
}

/// Why a leader transfer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransferError {
    /// Only the leader transfers its leadership.
    NotLeader {
        /// The leader this replica knows of.
        leader: Option<NodeId>,
    },
    /// The target leads already.
    AlreadyLeader,
    /// The target is not a voter of every configuration still to govern.
    NotVoter(NodeId),
    /// The target is more than [`PROMOTION_LAG_SLOTS_MAX`] slots behind:
    /// its phase 1 would have to recover that much first.
    TargetBehind {
        /// The target.
        node: NodeId,
        /// Its commit index as the leader last heard it.
        committed: Slot,
        /// The leader's commit index.
        leader_committed: Slot,
    },
}

impl fmt::Display for TransferError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::NotLeader { leader } => write_not_leader(formatter, *leader),
            TransferError::AlreadyLeader => write!(formatter, "the target leads already"),
            TransferError::NotVoter(node) => write!(formatter, "{node} is not a voter"),
            TransferError::TargetBehind {
                node,
                committed,
                leader_committed,
            } => write!(
                formatter,
                "{node} has decided up to {committed}, the leader up to {leader_committed}: \
                 more than {PROMOTION_LAG_SLOTS_MAX} slots behind"
            ),
        }
    }
}

impl std::error::Error for TransferError {}

/// "Not the leader", naming the leader when one is known.
fn write_not_leader(formatter: &mut fmt::Formatter<'_>, leader: Option<NodeId>) -> fmt::Result {
    match leader {
        Some(leader) => write!(formatter, "not the leader; {leader} leads"),
        None => write!(formatter, "not the leader, and no leader is known"),
    }
}

/// Why a configuration change was refused before it was proposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeError {
    /// Only the leader proposes changes.
    NotLeader {
        /// The leader this replica knows of.
        leader: Option<NodeId>,
    },
    /// An earlier change is not in force yet: one change at a time.
    ChangePending,
    /// The node to add is already a member.
    AlreadyMember(NodeId),
    /// The node to promote is not a learner.
    NotLearner(NodeId),
    /// The node to remove is not a member.
    NotMember(NodeId),
    /// The change would leave no voter.
    LastVoter(NodeId),
    /// The node was removed before; ids are never reused.
    Retired(NodeId),
    /// The new member's address is longer than
    /// [`MEMBER_ADDRESS_SIZE_MAX_BYTES`].
    AddressTooLong(NodeId),
    /// The learner to promote is too far behind the leader (its commit
    /// index, as last reported, and the leader's).
    LearnerBehind {
        /// The learner.
        node: NodeId,
        /// Its commit index as the leader last heard it.
        committed: Slot,
        /// The leader's commit index.
        leader_committed: Slot,
    },
}

impl fmt::Display for ChangeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeError::NotLeader { leader } => write_not_leader(formatter, *leader),
            ChangeError::ChangePending => write!(
                formatter,
                "an earlier configuration change is not in force yet; retry"
            ),
            ChangeError::AlreadyMember(node) => write!(formatter, "{node} is already a member"),
            ChangeError::NotLearner(node) => write!(formatter, "{node} is not a learner"),
            ChangeError::NotMember(node) => write!(formatter, "{node} is not a member"),
            ChangeError::LastVoter(node) => {
                write!(formatter, "removing {node} would leave no voter")
            }
            ChangeError::Retired(node) => write!(
                formatter,
                "{node} was removed before and its id is retired; add the node under a new id \
                 with an empty data directory"
            ),
            ChangeError::AddressTooLong(node) => write!(
                formatter,
                "{node}'s address is longer than {MEMBER_ADDRESS_SIZE_MAX_BYTES} bytes"
            ),
            ChangeError::LearnerBehind {
                node,
                committed,
                leader_committed,
            } => write!(
                formatter,
                "{node} has decided up to {committed}, the leader up to {leader_committed}: \
                 more than {PROMOTION_LAG_SLOTS_MAX} slots behind"
            ),
        }
    }
}

/// The configurations that govern the slots a replica still works on,
/// built from decided values only: the one that governs the replica's
/// first slot, then each decided change with the slot it governs from.
/// Snapshots carry it, so that a replica restored from one knows the
/// configuration of every slot after it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Membership {
    /// Configurations by the first slot they govern, in epoch order.
    by_start: BTreeMap<Slot, Configuration>,
}

impl Membership {
    /// A chain holding only `initial`, which governs every slot from 0.
    pub fn new(initial: Configuration) -> Membership {
        Membership {
            by_start: BTreeMap::from([(Slot(0), initial)]),
        }
    }

    /// A chain from its configurations by first governed slot; `None`
    /// when it is empty or its epochs do not rise by one.
    pub fn from_starts(by_start: BTreeMap<Slot, Configuration>) -> Option<Membership> {
        let consecutive = by_start
            .values()
            .zip(by_start.values().skip(1))
            .all(|(before, after)| after.epoch == before.epoch + 1);
        let valid = by_start.values().all(|config| config.validate().is_ok());
        (!by_start.is_empty() && consecutive && valid).then_some(Membership { by_start })
    }

    /// The configurations by the first slot they govern.
    pub fn starts(&self) -> impl Iterator<Item = (Slot, &Configuration)> {
        self.by_start.iter().map(|(slot, config)| (*slot, config))
    }

    /// The configuration that governs `slot` (Rule 1 of docs/membership.md):
    /// the latest one starting at or below it. Slots below the chain's
    /// first start are governed by its first configuration, which the
    /// caller only asks for slots it still holds.
    pub fn at(&self, slot: Slot) -> &Configuration {
        self.by_start
            .range(..=slot)
            .next_back()
            .or_else(|| self.by_start.iter().next())
            .map(|(_, config)| config)
            .expect("a membership holds at least one configuration")
    }

    /// The slot from which `at(slot)` governs.
    pub fn start_of(&self, slot: Slot) -> Slot {
        self.by_start
            .range(..=slot)
            .next_back()
            .map_or(Slot(0), |(start, _)| *start)
    }

    /// The newest configuration, which may govern only slots not yet reached.
    pub fn latest(&self) -> &Configuration {
        self.by_start
            .values()
            .next_back()
            .expect("a membership holds at least one configuration")
    }

    /// The first slot the newest configuration governs.
    pub fn latest_start(&self) -> Slot {
        *self
            .by_start
            .keys()
            .next_back()
            .expect("a membership holds at least one configuration")
    }

    /// Every configuration that governs some slot at or above `slot`.
    pub fn governing_from(&self, slot: Slot) -> impl Iterator<Item = &Configuration> {
        let first = self.start_of(slot);
        self.by_start.range(first..).map(|(_, config)| config)
    }

    /// [`Membership::governing_from`] with the first slot each governs.
    pub fn governing_starts_from(
        &self,
        slot: Slot,
    ) -> impl Iterator<Item = (Slot, &Configuration)> {
        let first = self.start_of(slot);
        self.by_start
            .range(first..)
            .map(|(start, config)| (*start, config))
    }

    /// Every node that is a member of some configuration governing a slot
    /// at or above `slot`: who a leader sends its log to.
    pub fn members_from(&self, slot: Slot) -> BTreeSet<NodeId> {
        self.governing_from(slot)
            .flat_map(Configuration::members)
            .collect()
    }

    /// True when the voters among `nodes` make a majority of every
    /// configuration governing a slot at or above `slot`.
    pub fn is_quorum_from<'a>(
        &self,
        slot: Slot,
        nodes: impl IntoIterator<Item = &'a NodeId> + Clone,
    ) -> bool {
        self.governing_from(slot)
            .all(|config| config.is_quorum(nodes.clone()))
    }

    /// Records the change decided in `slot`, if it is the next epoch;
    /// returns whether it took a place in the chain. Called for every
    /// decided change in slot order, and only then, so that the chain is a
    /// function of the decided log.
    pub fn record_decided(&mut self, slot: Slot, config: &Configuration) -> bool {
        self.record_decided_after(slot, config, CONFIGURATION_DELAY_SLOTS)
    }

    /// [`Membership::record_decided`] with another delay, for the
    /// `ConfigurationWithoutDelay` mutation only.
    pub(crate) fn record_decided_after(
        &mut self,
        slot: Slot,
        config: &Configuration,
        delay_slots: u64,
    ) -> bool {
        if config.epoch != self.latest().epoch + 1 || config.validate().is_err() {
            return false;
        }
        let start = Slot(slot.0 + delay_slots);
        assert!(
            start > self.latest_start(),
            "changes are recorded in slot order"
        );
        self.by_start.insert(start, config.clone());
        true
    }

    /// The chain as a snapshot ending at `end` holds it: the configuration
    /// governing `end`, and every later one decided in a slot below `end`
    /// (later changes are in the log above the snapshot).
    pub fn as_of(&self, end: Slot) -> Membership {
        let first = self.start_of(end);
        let decided_before = Slot(end.0 + CONFIGURATION_DELAY_SLOTS);
        Membership {
            by_start: self
                .by_start
                .range(first..decided_before)
                .map(|(start, config)| (*start, config.clone()))
                .collect(),
        }
    }

    /// Drops configurations that govern no slot at or above `slot`.
    pub fn forget_below(&mut self, slot: Slot) {
        let first = self.start_of(slot);
        self.by_start = self.by_start.split_off(&first);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(ids: &[u64]) -> BTreeSet<NodeId> {
        ids.iter().copied().map(NodeId).collect()
    }

    #[test]
    fn a_change_governs_slots_from_the_delay_after_its_slot_on() {
        let mut membership = Membership::new(Configuration::initial(nodes(&[1, 2, 3])));
        let grown = membership
            .latest()
            .changed(ConfigurationChange::add_learner(NodeId(4)))
            .unwrap();
        assert!(membership.record_decided(Slot(10), &grown));
        let start = Slot(10 + CONFIGURATION_DELAY_SLOTS);
        assert_eq!(membership.at(Slot(start.0 - 1)).epoch, 0);
        assert_eq!(membership.at(start).epoch, 1);
        assert_eq!(membership.members_from(Slot(0)), nodes(&[1, 2, 3, 4]));
        // The same change decided again is void.
        assert!(!membership.record_decided(Slot(11), &grown));
        assert_eq!(membership.latest().epoch, 1);
    }

    #[test]
    fn a_removed_id_is_never_added_again_and_takes_its_address_along() {
        let config = Configuration::initial(nodes(&[1, 2, 3]))
            .changed(ConfigurationChange::AddLearner {
                node: NodeId(4),
                address: "127.0.0.1:7004".into(),
            })
            .expect("a new id joins");
        assert_eq!(
            config.addresses.get(&NodeId(4)).map(String::as_str),
            Some("127.0.0.1:7004")
        );
        let removed = config
            .changed(ConfigurationChange::Remove(NodeId(4)))
            .expect("a learner leaves");
        assert!(removed.addresses.is_empty());
        assert_eq!(
            removed.changed(ConfigurationChange::add_learner(NodeId(4))),
            Err(ChangeError::Retired(NodeId(4)))
        );
        let too_long = ConfigurationChange::AddLearner {
            node: NodeId(5),
            address: "x".repeat(MEMBER_ADDRESS_SIZE_MAX_BYTES + 1),
        };
        assert_eq!(
            removed.changed(too_long),
            Err(ChangeError::AddressTooLong(NodeId(5)))
        );
    }

    #[test]
    fn a_quorum_from_a_slot_needs_a_majority_of_every_configuration_after_it() {
        let mut membership = Membership::new(Configuration::initial(nodes(&[1, 2, 3])));
        let replaced = Configuration {
            epoch: 1,
            voters: nodes(&[4, 5, 6]),
            learners: BTreeSet::new(),
            addresses: BTreeMap::new(),
            retired: nodes(&[1, 2, 3]),
        };
        assert!(membership.record_decided(Slot(0), &replaced));
        assert!(!membership.is_quorum_from(Slot(0), &nodes(&[1, 2])));
        assert!(membership.is_quorum_from(Slot(0), &nodes(&[1, 2, 4, 5])));
        let start = Slot(CONFIGURATION_DELAY_SLOTS);
        assert!(membership.is_quorum_from(start, &nodes(&[4, 5])));
        assert_eq!(membership.as_of(start).starts().count(), 1);
    }

    #[test]
    fn changes_refuse_what_cannot_be_done() {
        let config = Configuration::initial(nodes(&[1]));
        assert_eq!(
            config.changed(ConfigurationChange::Remove(NodeId(1))),
            Err(ChangeError::LastVoter(NodeId(1)))
        );
        assert_eq!(
            config.changed(ConfigurationChange::Promote(NodeId(2))),
            Err(ChangeError::NotLearner(NodeId(2)))
        );
        assert_eq!(
            config.changed(ConfigurationChange::add_learner(NodeId(1))),
            Err(ChangeError::AlreadyMember(NodeId(1)))
        );
    }
}
