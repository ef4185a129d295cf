//! A hand-driven cluster for scenario tests: the test decides exactly which
//! message is delivered, dropped or held, when a node ticks, crashes or
//! restarts. Persistence completes at once (the randomized world covers
//! slow and lost writes). Every decided value is checked for agreement.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use synod_paxos::{
    Ballot, Config, DurableState, Envelope, Message, NodeId, ReadError, ReadId, Rejection, Replica,
    Role, Slot, Snapshot, Value,
};

/// Bound on delivery rounds in [`Harness::stabilize`], so a livelock fails the
/// test instead of hanging it.
pub const STABILIZE_ROUNDS_MAX: usize = 10_000;

/// A cluster under the test's complete control.
pub struct Harness {
    members: Vec<NodeId>,
    seed: u64,
    configure: fn(&mut Config),
    /// Running replicas; `None` while crashed.
    pub replicas: BTreeMap<NodeId, Option<Replica>>,
    /// Each node's durable state.
    pub durable: BTreeMap<NodeId, DurableState>,
    /// Messages sent and not yet delivered or dropped, in send order.
    pub queue: Vec<Envelope>,
    /// What each node applied, in order (reset at restart).
    pub applied: BTreeMap<NodeId, Vec<(Slot, Value)>>,
    /// Reads each node released for serving, with the applied length at
    /// the moment of release.
    pub served_reads: BTreeMap<NodeId, Vec<(ReadId, usize)>>,
    /// Reads that failed.
    pub failed_reads: Vec<(NodeId, ReadId, ReadError)>,
    /// Proposals handed back.
    pub rejected: Vec<(NodeId, Rejection)>,
    /// The first value decided in each slot by anyone.
    pub decided: BTreeMap<Slot, Value>,
    /// Nodes cut off from everyone: their messages, both ways, are lost.
    pub isolated: BTreeSet<NodeId>,
    /// The slot each node's `applied` list starts at (a snapshot's end).
    pub applied_base: BTreeMap<NodeId, Slot>,
    /// Snapshots each node installed from a peer.
    pub installed: BTreeMap<NodeId, Vec<Snapshot>>,
}

impl Harness {
    /// A cluster of `size` nodes with ids 1..=size and default settings.
    pub fn new(size: u64, seed: u64) -> Harness {
        Harness::with_config(size, seed, |_| {})
    }

    /// A cluster whose configurations are adjusted by `configure`.
    pub fn with_config(size: u64, seed: u64, configure: fn(&mut Config)) -> Harness {
        let members: Vec<NodeId> = (1..=size).map(NodeId).collect();
        let mut harness = Harness {
            members: members.clone(),
            seed,
            configure,
            replicas: BTreeMap::new(),
            durable: BTreeMap::new(),
            queue: Vec::new(),
            applied: BTreeMap::new(),
            served_reads: BTreeMap::new(),
            failed_reads: Vec::new(),
            rejected: Vec::new(),
            decided: BTreeMap::new(),
            isolated: BTreeSet::new(),
            applied_base: BTreeMap::new(),
            installed: BTreeMap::new(),
        };
        for id in members {
            harness.durable.insert(id, DurableState::default());
            harness.replicas.insert(id, None);
            harness.restart(id);
        }
        harness
    }

    /// Every member.
    pub fn members(&self) -> Vec<NodeId> {
        self.members.clone()
    }

    /// The running replica `id`.
    pub fn replica(&self, id: NodeId) -> &Replica {
        self.replicas[&id].as_ref().expect("the node is running")
    }

    fn replica_mut(&mut self, id: NodeId) -> &mut Replica {
        self.replicas
            .get_mut(&id)
            .and_then(Option::as_mut)
            .expect("the node is running")
    }

    /// True while `id` runs.
    pub fn is_running(&self, id: NodeId) -> bool {
        self.replicas[&id].is_some()
    }

    /// Collects the output of `id`: messages join the queue, state is
    /// persisted at once, decided values are applied and checked.
    pub fn collect(&mut self, id: NodeId) {
        let Some(replica) = self.replicas.get_mut(&id).and_then(Option::as_mut) else {
            return;
        };
        let ready = replica.ready();
        self.queue.extend(ready.messages);
        for rejection in ready.rejected {
            self.rejected.push((id, rejection));
        }
        for (read, error) in ready.failed_reads {
            self.failed_reads.push((id, read, error));
        }
        self.durable
            .get_mut(&id)
            .expect("every member has a disk")
            .apply(ready.persist.state());
        let released = ready.persist.persisted();
        self.queue.extend(released.messages);
        if let Some(snapshot) = released.snapshot {
            self.applied.insert(id, Vec::new());
            self.applied_base.insert(id, snapshot.end);
            self.installed.entry(id).or_default().push(snapshot);
        }
        let base = self.applied_base.get(&id).copied().unwrap_or_default();
        let applied = self.applied.entry(id).or_default();
        for decided in released.decided {
            assert_eq!(
                decided.slot,
                Slot(base.0 + applied.len() as u64),
                "{id} applied out of order"
            );
            match self.decided.get(&decided.slot) {
                Some(existing) => assert_eq!(
                    existing, &decided.value,
                    "agreement broken in {}",
                    decided.slot
                ),
                None => {
                    self.decided.insert(decided.slot, decided.value.clone());
                }
            }
            applied.push((decided.slot, decided.value));
        }
        let applied_length = applied.len();
        let served = self.served_reads.entry(id).or_default();
        for read in released.reads {
            served.push((read, applied_length));
        }
    }

    /// Collects the output of every running node.
    pub fn collect_all(&mut self) {
        for id in self.members() {
            self.collect(id);
        }
    }

    /// One tick on `id`, then collects its output.
    pub fn tick(&mut self, id: NodeId) {
        if self.is_running(id) {
            self.replica_mut(id).tick();
            self.collect(id);
        }
    }

    /// One tick on every running node.
    pub fn tick_all(&mut self) {
        for id in self.members() {
            self.tick(id);
        }
    }

    /// Delivers, in queue order, every queued message matching `select`
    /// whose receiver runs (others are lost). Returns how many arrived.
    pub fn deliver(&mut self, select: impl Fn(&Envelope) -> bool) -> usize {
        let queue = std::mem::take(&mut self.queue);
        let (chosen, kept): (Vec<Envelope>, Vec<Envelope>) =
            queue.into_iter().partition(|envelope| select(envelope));
        self.queue = kept;
        let mut delivered = 0;
        for envelope in chosen {
            if self.isolated.contains(&envelope.from) || self.isolated.contains(&envelope.to) {
                continue;
            }
            if let Some(replica) = self.replicas.get_mut(&envelope.to).and_then(Option::as_mut) {
                replica.step(envelope.from, envelope.message);
                delivered += 1;
                self.collect(envelope.to);
            }
        }
        delivered
    }

    /// Removes every queued message matching `select`.
    pub fn drop_where(&mut self, select: impl Fn(&Envelope) -> bool) -> usize {
        let before = self.queue.len();
        self.queue.retain(|envelope| !select(envelope));
        before - self.queue.len()
    }

    /// Delivers everything until no message is left (bounded).
    pub fn stabilize(&mut self) {
        for _ in 0..STABILIZE_ROUNDS_MAX {
            self.collect_all();
            if self.queue.is_empty() {
                return;
            }
            self.deliver(|_| true);
        }
        panic!("the cluster did not go quiet within {STABILIZE_ROUNDS_MAX} rounds");
    }

    /// Delivers everything not addressed to `held` until nothing else moves.
    pub fn stabilize_except(&mut self, held: NodeId) {
        for _ in 0..STABILIZE_ROUNDS_MAX {
            self.collect_all();
            if self.deliver(|envelope| envelope.to != held) == 0 {
                return;
            }
        }
        panic!("the cluster did not go quiet within {STABILIZE_ROUNDS_MAX} rounds");
    }

    /// Ticks only `id` until it starts an election, then delivers everything
    /// until the election settles. Returns the leader's ballot.
    pub fn elect(&mut self, id: NodeId) -> Ballot {
        for _ in 0..1_000 {
            self.tick(id);
            if self.replica(id).role() != Role::Follower {
                break;
            }
        }
        self.stabilize();
        assert_eq!(
            self.replica(id).role(),
            Role::Leader,
            "{id} won its election"
        );
        self.replica(id).promised()
    }

    /// Ticks every node and delivers everything, `rounds` times.
    pub fn run(&mut self, rounds: usize) {
        for _ in 0..rounds {
            self.tick_all();
            self.stabilize();
        }
    }

    /// Crashes `id`: its queued messages are lost, its disk stays.
    pub fn crash(&mut self, id: NodeId) {
        self.replicas.insert(id, None);
        self.queue
            .retain(|envelope| envelope.to != id && envelope.from != id);
    }

    /// Restarts `id` from its disk; it re-applies the decided log.
    pub fn restart(&mut self, id: NodeId) {
        let mut config = Config::new(id, self.members.clone());
        (self.configure)(&mut config);
        let durable = self.durable[&id].clone();
        let seed = self.seed.wrapping_add(id.0 * 7919);
        self.seed = self.seed.wrapping_add(1);
        let base = durable.log_start();
        self.replicas
            .insert(id, Some(Replica::new(config, durable, seed)));
        self.applied.insert(id, Vec::new());
        self.applied_base.insert(id, base);
    }

    /// Compacts `id`'s log below everything it applied. The snapshot's state
    /// is the applied commands, newline-separated (enough to compare).
    pub fn compact(&mut self, id: NodeId) {
        let base = self.applied_base[&id];
        let end = Slot(base.0 + self.applied[&id].len() as u64);
        let state = self.applied_commands(id).join("\n");
        self.replica_mut(id).compact(Snapshot {
            end,
            state: Bytes::from(state),
        });
        self.collect(id);
    }

    /// Proposes `command` at `id` and collects the output.
    pub fn propose(&mut self, id: NodeId, command: impl AsRef<[u8]>) {
        let command = Bytes::copy_from_slice(command.as_ref());
        self.replica_mut(id).propose(command);
        self.collect(id);
    }

    /// Asks `id` for a linearizable read and collects the output.
    pub fn read(&mut self, id: NodeId, read: ReadId) {
        self.replica_mut(id).read(read);
        self.collect(id);
    }

    /// The commands `id` applied, in order, as text.
    pub fn applied_commands(&self, id: NodeId) -> Vec<String> {
        self.applied[&id]
            .iter()
            .flat_map(|(_, value)| value.commands().to_vec())
            .map(|command| String::from_utf8_lossy(&command).into_owned())
            .collect()
    }

    /// The slot `id` holds `command` in, if it accepted it anywhere.
    pub fn slot_of(&self, id: NodeId, command: &str) -> Option<Slot> {
        let replica = self.replica(id);
        (0..10_000).map(Slot).find(|slot| {
            replica.entry(*slot).is_some_and(|entry| {
                entry
                    .value
                    .commands()
                    .iter()
                    .any(|candidate| candidate.as_ref() == command.as_bytes())
            })
        })
    }
}

/// Selects messages from `from` to `to`.
pub fn between(from: NodeId, to: NodeId) -> impl Fn(&Envelope) -> bool {
    move |envelope| envelope.from == from && envelope.to == to
}

/// Selects messages of one kind (see [`Message::kind`]).
pub fn of_kind(kind: &'static str) -> impl Fn(&Envelope) -> bool {
    move |envelope| envelope.message.kind() == kind
}

/// Selects `Accepted` messages that acknowledge `slot`.
pub fn accepted_for(slot: Slot) -> impl Fn(&Envelope) -> bool {
    move |envelope| matches!(&envelope.message, Message::Accepted { slots, .. } if slots.contains(&slot))
}
