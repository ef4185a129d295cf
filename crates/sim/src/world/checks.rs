//! The safety checks the world makes as it goes, on what each node sends
//! and reports. Each breach is recorded in [`World::violations`].

use std::collections::BTreeMap;

use synod_node::Event;
use synod_paxos::{Envelope, Message, Slot};

use super::World;

impl World {
    /// A promise is never broken: once a node announced a promise for `b`,
    /// it never announces an acceptance below `b`, even after a restart.
    pub(super) fn check_promise_kept(&mut self, index: usize, envelope: &Envelope) {
        let node = &mut self.nodes[index];
        match &envelope.message {
            Message::Promise { ballot, .. } => {
                node.promise_high_water = node.promise_high_water.max(*ballot);
            }
            Message::Accepted { ballot, .. } if *ballot < node.promise_high_water => {
                let violation = format!(
                    "promise broken: {} accepted under {ballot} after promising {}",
                    node.id, node.promise_high_water
                );
                self.violations.push(violation);
            }
            _ => {}
        }
    }

    /// Agreement and identical states: every replica applies the same value
    /// in each slot and has the same state after it; an installed snapshot
    /// holds the state every replica had after the same slot.
    pub(super) fn check_event(&mut self, index: usize, event: Event) {
        let id = self.nodes[index].id;
        match event {
            Event::Applied {
                slot,
                value,
                untagged,
                digest,
            } => {
                let first = !self.decided.contains_key(&slot);
                if let Some(existing) = first_or_conflict(&mut self.decided, slot, &value) {
                    self.violations.push(format!(
                        "agreement: {id} decided {value:?} in {slot}, another replica decided {existing:?}"
                    ));
                }
                if first {
                    self.record_holders(slot, &value);
                }
                if untagged > 0 {
                    self.violations
                        .push(format!("{id} decided an untagged proposal in {slot}"));
                }
                let digest = digest.expect("the world records digests");
                if first_or_conflict(&mut self.digests, slot, &digest).is_some() {
                    self.violations.push(format!(
                        "divergent state: {id} after applying {slot} differs from another replica"
                    ));
                }
                if self.options.trace {
                    let commands = value.commands().len();
                    self.log(|| format!("{id} apply {slot} ({commands} commands)"));
                }
            }
            Event::SnapshotInstalled { end, digest } => {
                let last = Slot(end.0 - 1);
                let digest = digest.expect("the world records digests");
                if let Some(expected) = self.digests.get(&last) {
                    if *expected != digest {
                        self.violations.push(format!(
                            "divergent snapshot: {id} installed a state for {last} that differs from the replicas'"
                        ));
                    }
                }
                self.snapshots_installed += 1;
                self.log(|| format!("{id} installs a snapshot up to {end}"));
            }
            Event::SnapshotTaken { end } => {
                self.log(|| format!("{id} snapshots up to {end}"));
            }
            Event::LeaderChanged { leader } => {
                self.log(|| format!("{id} now knows leader {leader:?}"));
            }
        }
    }
}

/// Records `value` as what every replica must reach in `slot`, or returns
/// the different value some replica reached first.
fn first_or_conflict<T: Clone + PartialEq>(
    record: &mut BTreeMap<Slot, T>,
    slot: Slot,
    value: &T,
) -> Option<T> {
    match record.get(&slot) {
        Some(existing) if existing != value => Some(existing.clone()),
        Some(_) => None,
        None => {
            record.insert(slot, value.clone());
            None
        }
    }
}
