//! Membership changes in the simulated world: an operator that moves the
//! cluster toward a target set of voters, one change at a time, through
//! whichever replicas believe they lead (two of them at once, when a
//! partition leaves an old leader believing it still leads), and the
//! governing-quorum check of docs/membership.md.

use std::collections::{BTreeMap, BTreeSet};

use synod_paxos::{Configuration, ConfigurationChange, Membership, NodeId, Role, Slot, Value};

use super::World;

/// The operator looks at the cluster and proposes its next change this
/// often.
const OPERATOR_INTERVAL_UNITS: u64 = 40;
/// At each of its steps, the operator asks a leader to hand over to a
/// random voter with this chance (one in this many), before or while a
/// change is in flight.
const TRANSFER_ONE_IN: u64 = 8;

/// The next change that moves `config` toward `target` voters: add a
/// missing node as a learner, promote a learner of the target, then remove
/// what is not in the target (learners first). `None` once there.
pub fn next_change(
    config: &Configuration,
    target: &BTreeSet<NodeId>,
) -> Option<ConfigurationChange> {
    if let Some(node) = target.iter().find(|node| !config.is_member(**node)) {
        return Some(ConfigurationChange::add_learner(*node));
    }
    if let Some(node) = target.iter().find(|node| config.learners.contains(node)) {
        return Some(ConfigurationChange::Promote(*node));
    }
    if let Some(node) = config.learners.iter().find(|node| !target.contains(node)) {
        return Some(ConfigurationChange::Remove(*node));
    }
    config
        .voters
        .iter()
        .find(|node| !target.contains(node))
        .map(|node| ConfigurationChange::Remove(*node))
}

impl World {
    /// Sets the voters the operator works toward (`None` stops it).
    pub fn set_membership_target(&mut self, target: Option<BTreeSet<NodeId>>) {
        self.membership_target = target;
    }

    /// The newest configuration any running replica knows (highest epoch).
    pub fn newest_configuration(&self) -> Option<Configuration> {
        self.nodes
            .iter()
            .filter_map(|node| node.node.as_ref())
            .map(|node| node.replica().membership().latest().clone())
            .max_by_key(|config| config.epoch)
    }

    /// True when the operator's target is the configuration in force at
    /// some running replica.
    pub fn membership_settled(&self) -> bool {
        let Some(target) = &self.membership_target else {
            return true;
        };
        self.nodes
            .iter()
            .filter_map(|node| node.node.as_ref())
            .map(|node| node.replica().status())
            .any(|status| {
                status.configuration_next.is_none()
                    && status.configuration.voters == *target
                    && status.configuration.learners.is_empty()
            })
    }

    /// The operator's step: every replica that believes it leads is asked
    /// for the next change its own view calls for. Refusals (not leader, a
    /// change pending, a learner behind) are expected and retried later.
    pub(super) fn operate_membership(&mut self) {
        let Some(target) = self.membership_target.clone() else {
            return;
        };
        if self.now % OPERATOR_INTERVAL_UNITS != 0 {
            return;
        }
        for index in 0..self.nodes.len() {
            let id = self.nodes[index].id;
            let Some(node) = self.nodes[index].node.as_mut() else {
                continue;
            };
            if node.replica().role() != Role::Leader {
                continue;
            }
            if self.rng.chance(1, TRANSFER_ONE_IN) {
                let voters: Vec<NodeId> = node
                    .replica()
                    .membership()
                    .latest()
                    .voters
                    .iter()
                    .copied()
                    .collect();
                let to = voters[self.rng.below(voters.len() as u64) as usize];
                let outcome = node.transfer_leadership(to);
                self.log(|| format!("{id} operator transfers leadership to {to}: {outcome:?}"));
                if outcome.is_ok() {
                    self.leader_transfers += 1;
                }
                continue;
            }
            let Some(change) = next_change(node.replica().membership().latest(), &target) else {
                continue;
            };
            let outcome = node.propose_change(change.clone());
            self.log(|| format!("{id} operator proposes {change:?}: {outcome:?}"));
            if outcome.is_ok() {
                self.changes_proposed += 1;
            }
        }
        if let Some(config) = self.newest_configuration() {
            self.client_targets = config.members().collect();
        }
    }

    /// Records, when a slot is first seen decided, which nodes hold its
    /// value on disk (or a snapshot past it): the quorum that decided it
    /// is among them.
    pub(super) fn record_holders(&mut self, slot: Slot, value: &Value) {
        let holders: BTreeSet<NodeId> = self
            .nodes
            .iter()
            .filter(|node| {
                let state = node.disk.state();
                state.log_start() > slot
                    || state
                        .entries
                        .get(&slot)
                        .is_some_and(|entry| entry.value == *value)
            })
            .map(|node| node.id)
            .collect();
        self.holders.insert(slot, holders);
    }

    /// The governing-quorum invariant (docs/membership.md): when a slot was
    /// first decided, a majority of the voters of the configuration that
    /// governs it, computed from the decided log with the real delay, held
    /// its value durably. Checked at the end, when the log is known.
    pub fn check_governing_quorums(&mut self) {
        let mut membership = Membership::new(Configuration::initial(self.initial_voters()));
        let changes: BTreeMap<Slot, Configuration> = self
            .decided
            .iter()
            .filter_map(|(slot, value)| match value {
                Value::Reconfigure(config) => Some((*slot, (**config).clone())),
                _ => None,
            })
            .collect();
        for (slot, config) in &changes {
            membership.record_decided(*slot, config);
        }
        let mut broken = Vec::new();
        for (slot, holders) in &self.holders {
            let config = membership.at(*slot);
            if !config.is_quorum(holders) {
                broken.push(format!(
                    "governing quorum: {slot} was decided while only {holders:?} held it, \
                     not a majority of its voters {:?} (epoch {})",
                    config.voters, config.epoch
                ));
            }
        }
        self.violations.extend(broken.into_iter().take(3));
    }
}
