//! The simulated network between replicas: delay, reordering, loss,
//! duplication and link cuts, all drawn from the seed.

use std::collections::{BTreeMap, BTreeSet};

use synod_paxos::{Envelope, NodeId, SplitMix64};

/// Message-level fault rates, in parts per thousand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageFaults {
    /// Chance that a message is lost.
    pub drop_per_mille: u64,
    /// Chance that a message is delivered twice.
    pub duplicate_per_mille: u64,
    /// Largest delivery delay in time units; delays are uniform in
    /// `1..=delay_max_units`, so a larger bound also reorders more.
    pub delay_max_units: u64,
}

/// Messages in flight, ordered by delivery time and then by a random key so
/// that messages due at the same time arrive in a seed-determined order.
#[derive(Debug, Default)]
pub struct Network {
    in_flight: BTreeMap<(u64, u64), Envelope>,
    /// Directed links that are down: `(from, to)`.
    cut: BTreeSet<(NodeId, NodeId)>,
    /// Current fault rates.
    pub faults: MessageFaults,
    /// Messages handed to the network.
    pub sent: u64,
    /// Messages lost to drops and cut links.
    pub lost: u64,
}

impl Network {
    /// A network with the given fault rates and every link up.
    pub fn new(faults: MessageFaults) -> Network {
        Network {
            faults,
            ..Network::default()
        }
    }

    /// True when `from` can currently reach `to`.
    pub fn is_connected(&self, from: NodeId, to: NodeId) -> bool {
        !self.cut.contains(&(from, to))
    }

    /// Cuts or restores both directions between two nodes.
    pub fn set_link(&mut self, first: NodeId, second: NodeId, up: bool) {
        for pair in [(first, second), (second, first)] {
            if up {
                self.cut.remove(&pair);
            } else {
                self.cut.insert(pair);
            }
        }
    }

    /// Cuts or restores the one direction `from → to` (a one-way cut: `to`
    /// still reaches `from`).
    pub fn set_direction(&mut self, from: NodeId, to: NodeId, up: bool) {
        if up {
            self.cut.remove(&(from, to));
        } else {
            self.cut.insert((from, to));
        }
    }

    /// Cuts `node` off from every other of `nodes`, both ways.
    pub fn isolate(&mut self, nodes: &[NodeId], node: NodeId) {
        for other in nodes.iter().filter(|other| **other != node) {
            self.set_link(node, *other, false);
        }
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Cuts every link except those in `connected` (pairs, both directions).
    pub fn connect_only(&mut self, nodes: &[NodeId], connected: &[(NodeId, NodeId)]) {
        for first in nodes {
            for second in nodes {
                if first < second {
                    let up = connected.contains(&(*first, *second))
                        || connected.contains(&(*second, *first));
                    self.set_link(*first, *second, up);
                }
            }
        }
    }

    /// The links of a star: every other of `nodes` reaches only `hub`.
    pub fn star(nodes: &[NodeId], hub: NodeId) -> Vec<(NodeId, NodeId)> {
        nodes
            .iter()
            .filter(|node| **node != hub)
            .map(|node| (hub, *node))
            .collect()
    }

    /// The links of a chain through `nodes`, in order.
    pub fn chain(nodes: &[NodeId]) -> Vec<(NodeId, NodeId)> {
        nodes.windows(2).map(|pair| (pair[0], pair[1])).collect()
    }

    /// Hands a message to the network at time `now`.
    pub fn send(&mut self, rng: &mut SplitMix64, now: u64, envelope: Envelope) {
        self.sent += 1;
        if self.faults.drop_per_mille > 0 && rng.chance(self.faults.drop_per_mille, 1_000) {
            self.lost += 1;
            return;
        }
        let copies = if self.faults.duplicate_per_mille > 0
            && rng.chance(self.faults.duplicate_per_mille, 1_000)
        {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = rng.between(1, self.faults.delay_max_units.max(1));
            let order = rng.next_u64();
            self.in_flight
                .insert((now + delay, order), envelope.clone());
        }
    }

    /// Removes and returns the messages due at or before `now` whose link is
    /// up at delivery time (a cut link loses what is in flight on it).
    pub fn due(&mut self, now: u64) -> Vec<Envelope> {
        let later = self.in_flight.split_off(&(now + 1, 0));
        let due = std::mem::replace(&mut self.in_flight, later);
        let mut delivered = Vec::with_capacity(due.len());
        for envelope in due.into_values() {
            if self.is_connected(envelope.from, envelope.to) {
                delivered.push(envelope);
            } else {
                self.lost += 1;
            }
        }
        delivered
    }

    /// Puts `envelope` back in flight, to arrive at `at` (its receiver was
    /// paused when it was due).
    pub fn defer(&mut self, rng: &mut SplitMix64, at: u64, envelope: Envelope) {
        let order = rng.next_u64();
        self.in_flight.insert((at, order), envelope);
    }

    /// Loses every message in flight to `node` (it crashed).
    pub fn drop_to(&mut self, node: NodeId) {
        let before = self.in_flight.len();
        self.in_flight.retain(|_, envelope| envelope.to != node);
        self.lost += (before - self.in_flight.len()) as u64;
    }

    /// Number of messages in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}
