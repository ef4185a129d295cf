//! A hand-driven cluster for scenario and golden tests: the test decides
//! exactly which message is delivered, dropped or held, when a node ticks,
//! crashes or restarts, and when its writes reach the disk. Each replica is
//! the production [`Node`], so scenarios exercise the routing, forwarding,
//! rejection, read and apply code the server runs. Every applied slot is
//! checked for agreement and in-order apply.
//!
//! Clients are simple: [`Harness::propose`] writes `SET text text` (shown
//! as `text` by [`Harness::applied_commands`]), [`Harness::set`] writes any
//! key and value, [`Harness::get`] reads a key; each returns a
//! [`RequestId`] whose answer [`Harness::answer`] gives once it arrives.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use synod_kv::{Command, Operation, Principal, SetCondition};
use synod_node::{
    untagged_commands, Event, Node, NodeOptions, PersistBatch, Request, RequestResult,
};
use synod_paxos::{
    Ballot, Config, DurableState, Envelope, Message, NodeId, Replica, Role, Slot, Value,
};

/// Bound on delivery rounds in [`Harness::stabilize`], so a livelock fails the
/// test instead of hanging it.
pub const STABILIZE_ROUNDS_MAX: usize = 10_000;

/// Bound on output rounds of one node in one [`Harness::collect`].
const COLLECT_ROUNDS_MAX: usize = 1_000;

/// Names a client request of the harness; its answer is kept under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// A cluster under the test's complete control.
pub struct Harness {
    members: Vec<NodeId>,
    /// The voters of the initial configuration (every member by default);
    /// the other members start outside the cluster and join by changes.
    initial_voters: Vec<NodeId>,
    seed: u64,
    configure: fn(&mut Config),
    /// Running nodes; `None` while crashed.
    pub nodes: BTreeMap<NodeId, Option<Node<RequestId>>>,
    /// Each node's durable state.
    pub durable: BTreeMap<NodeId, DurableState>,
    /// Nodes whose writes wait in [`Harness::unpersisted`] until
    /// [`Harness::persist`]; the others' writes are durable at once.
    pub holding_writes: BTreeSet<NodeId>,
    /// Writes handed out and not yet durable, per node (lost at a crash).
    pub unpersisted: BTreeMap<NodeId, Vec<PersistBatch>>,
    /// Messages sent and not yet delivered or dropped, in send order.
    pub queue: Vec<Envelope>,
    /// What each node applied, in order (reset at restart).
    pub applied: BTreeMap<NodeId, Vec<(Slot, Value)>>,
    /// Answers to client requests, with the node that gave them.
    pub answers: BTreeMap<RequestId, (NodeId, RequestResult)>,
    /// The first value decided in each slot by anyone.
    pub decided: BTreeMap<Slot, Value>,
    /// Nodes cut off from everyone: their messages, both ways, are lost.
    pub isolated: BTreeSet<NodeId>,
    /// The slot each node's `applied` list starts at (a snapshot's end).
    pub applied_base: BTreeMap<NodeId, Slot>,
    /// Ends of the snapshots each node installed from a peer.
    pub installed: BTreeMap<NodeId, Vec<Slot>>,
    /// Every event of every node, in order, for golden tests.
    pub events: Vec<(NodeId, Event)>,
    /// Every message sent, in order, for golden tests.
    pub sent: Vec<Envelope>,
    /// Requests in the order their answers arrived, for golden tests.
    pub answered: Vec<RequestId>,
    next_request: u64,
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
            initial_voters: members.clone(),
            seed,
            configure,
            nodes: BTreeMap::new(),
            durable: BTreeMap::new(),
            holding_writes: BTreeSet::new(),
            unpersisted: BTreeMap::new(),
            queue: Vec::new(),
            applied: BTreeMap::new(),
            answers: BTreeMap::new(),
            decided: BTreeMap::new(),
            isolated: BTreeSet::new(),
            applied_base: BTreeMap::new(),
            installed: BTreeMap::new(),
            events: Vec::new(),
            sent: Vec::new(),
            answered: Vec::new(),
            next_request: 0,
        };
        for id in members {
            harness.durable.insert(id, DurableState::default());
            harness.nodes.insert(id, None);
            harness.restart(id);
        }
        harness
    }

    /// A cluster of `size` nodes of which only the first `voters` vote at
    /// first: the others start empty, outside the cluster, and join only
    /// through configuration changes.
    pub fn with_initial_voters(size: u64, voters: u64, seed: u64) -> Harness {
        let mut harness = Harness::with_config(size, seed, |_| {});
        harness.initial_voters = (1..=voters).map(NodeId).collect();
        for id in harness.members() {
            harness.crash(id);
            harness.restart(id);
        }
        harness
    }

    /// Asks `id` (the leader) for a configuration change, and collects.
    pub fn change(
        &mut self,
        id: NodeId,
        change: synod_paxos::ConfigurationChange,
    ) -> Result<synod_paxos::Configuration, synod_paxos::ChangeError> {
        let outcome = self.node_mut(id).propose_change(change);
        self.collect(id);
        outcome
    }

    /// Asks `id` (the leader) to hand leadership to `to`, and collects.
    pub fn transfer(&mut self, id: NodeId, to: NodeId) -> Result<(), synod_paxos::TransferError> {
        let outcome = self.node_mut(id).transfer_leadership(to);
        self.collect(id);
        outcome
    }

    /// Every member.
    pub fn members(&self) -> Vec<NodeId> {
        self.members.clone()
    }

    /// The running node `id`.
    pub fn node(&self, id: NodeId) -> &Node<RequestId> {
        self.nodes[&id].as_ref().expect("the node is running")
    }

    /// The consensus core of the running node `id`.
    pub fn replica(&self, id: NodeId) -> &Replica {
        self.node(id).replica()
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node<RequestId> {
        self.nodes
            .get_mut(&id)
            .and_then(Option::as_mut)
            .expect("the node is running")
    }

    /// True while `id` runs.
    pub fn is_running(&self, id: NodeId) -> bool {
        self.nodes[&id].is_some()
    }

    /// Collects the output of `id`: messages join the queue, writes are made
    /// durable (unless held), answers and applied slots are recorded and
    /// checked, until the node has nothing more to say.
    pub fn collect(&mut self, id: NodeId) {
        for _ in 0..COLLECT_ROUNDS_MAX {
            let Some(node) = self.nodes.get_mut(&id).and_then(Option::as_mut) else {
                return;
            };
            let ready = node.ready();
            if ready.is_empty() {
                return;
            }
            self.sent.extend(ready.messages.iter().cloned());
            self.queue.extend(ready.messages);
            for reply in ready.replies {
                self.answered.push(reply.handle);
                let previous = self.answers.insert(reply.handle, (id, reply.result));
                assert!(
                    previous.is_none(),
                    "request {:?} answered twice: {previous:?}, then {:?}",
                    reply.handle,
                    self.answers[&reply.handle]
                );
            }
            for event in ready.events {
                self.observe(id, &event);
                self.events.push((id, event));
            }
            if let Some(snapshot) = ready.snapshot_to_encode {
                self.node_mut(id)
                    .snapshot_encoded(snapshot.end, snapshot.encode());
            }
            for batch in ready.persist {
                if self.holding_writes.contains(&id) {
                    self.unpersisted.entry(id).or_default().push(batch);
                } else {
                    self.write_batch(id, batch);
                }
            }
        }
        panic!("{id} kept producing output for {COLLECT_ROUNDS_MAX} rounds");
    }

    /// Makes `batch` durable on `id` and tells the node.
    fn write_batch(&mut self, id: NodeId, batch: PersistBatch) {
        self.durable
            .get_mut(&id)
            .expect("every member has a disk")
            .apply(&batch.changes);
        self.node_mut(id)
            .persisted(batch.sequence)
            .expect("every snapshot in the harness restores");
    }

    /// Makes every held write of `id` durable, in order, and collects.
    pub fn persist(&mut self, id: NodeId) {
        for batch in self.unpersisted.remove(&id).unwrap_or_default() {
            self.write_batch(id, batch);
        }
        self.collect(id);
    }

    fn observe(&mut self, id: NodeId, event: &Event) {
        match event {
            Event::Applied { slot, value, .. } => {
                let base = self.applied_base.get(&id).copied().unwrap_or_default();
                let applied = self.applied.entry(id).or_default();
                assert_eq!(
                    *slot,
                    Slot(base.0 + applied.len() as u64),
                    "{id} applied out of order"
                );
                match self.decided.get(slot) {
                    Some(existing) => assert_eq!(existing, value, "agreement broken in {slot}"),
                    None => {
                        self.decided.insert(*slot, value.clone());
                    }
                }
                applied.push((*slot, value.clone()));
            }
            Event::SnapshotInstalled { end, .. } => {
                self.applied.insert(id, Vec::new());
                self.applied_base.insert(id, *end);
                self.installed.entry(id).or_default().push(*end);
            }
            Event::SnapshotTaken { .. } | Event::LeaderChanged { .. } => {}
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
            self.node_mut(id).tick();
            self.collect(id);
        }
    }

    /// Sets what `id`'s wall clock reads (see [`Node::set_time`]).
    pub fn set_time(&mut self, id: NodeId, time: synod_kv::UnixMillis) {
        self.node_mut(id).set_time(time);
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
            if let Some(node) = self.nodes.get_mut(&envelope.to).and_then(Option::as_mut) {
                node.step(envelope.from, envelope.message);
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

    /// Makes `id` campaign, then delivers everything until the election
    /// settles. Returns the leader's ballot.
    pub fn elect(&mut self, id: NodeId) -> Ballot {
        self.campaign(id);
        self.stabilize();
        assert_eq!(
            self.replica(id).role(),
            Role::Leader,
            "{id} won its election"
        );
        self.replica(id).promised()
    }

    /// Makes `id` campaign now, skipping the pre-vote (its Prepares queued),
    /// as a leader transfer does: the scenarios that need a given replica to
    /// raise its ballot over a live leader's followers use this.
    pub fn campaign(&mut self, id: NodeId) {
        assert!(self.is_running(id), "{id} is not running");
        self.node_mut(id).campaign_now();
        self.collect(id);
    }

    /// Ticks only `id` until its election timeout expires and it asks for
    /// pre-votes (queued).
    pub fn time_out(&mut self, id: NodeId) {
        for _ in 0..1_000 {
            self.tick(id);
            if self.replica(id).role() != Role::Follower {
                return;
            }
        }
        panic!("{id} never timed out");
    }

    /// Ticks every node and delivers everything, `rounds` times.
    pub fn run(&mut self, rounds: usize) {
        for _ in 0..rounds {
            self.tick_all();
            self.stabilize();
        }
    }

    /// Crashes `id`: its queued messages and held writes are lost, its disk
    /// stays. Its clients are never answered.
    pub fn crash(&mut self, id: NodeId) {
        self.nodes.insert(id, None);
        self.unpersisted.remove(&id);
        self.queue
            .retain(|envelope| envelope.to != id && envelope.from != id);
    }

    /// Restarts `id` from its disk; it restores its snapshot and re-applies
    /// the decided log after it.
    pub fn restart(&mut self, id: NodeId) {
        let mut config = Config::new(id, self.initial_voters.clone());
        (self.configure)(&mut config);
        let durable = self.durable[&id].clone();
        let seed = self.seed.wrapping_add(id.0 * 7919);
        self.seed = self.seed.wrapping_add(1);
        let base = durable.log_start();
        let node = Node::new(NodeOptions::new(config), durable, seed)
            .expect("every snapshot in the harness restores");
        self.nodes.insert(id, Some(node));
        self.applied.insert(id, Vec::new());
        self.applied_base.insert(id, base);
    }

    /// Sends a client request to `id` (without collecting its output).
    pub fn request(&mut self, id: NodeId, request: Request) -> RequestId {
        let handle = RequestId(self.next_request);
        self.next_request += 1;
        self.node_mut(id).request(handle, request);
        handle
    }

    /// Writes `SET text text` through `id` and collects the output.
    pub fn propose(&mut self, id: NodeId, text: impl AsRef<str>) -> RequestId {
        let text = text.as_ref();
        self.set(id, text, text)
    }

    /// Writes `SET key value` through `id` and collects the output.
    pub fn set(&mut self, id: NodeId, key: &str, value: &str) -> RequestId {
        self.write_command(id, set_command(key, value))
    }

    /// Writes `command` through `id` and collects the output.
    pub fn write_command(&mut self, id: NodeId, command: Command) -> RequestId {
        let handle = self.request(id, Request::Write(command));
        self.collect(id);
        handle
    }

    /// Reads `key` through `id` and collects the output.
    pub fn get(&mut self, id: NodeId, key: &str) -> RequestId {
        self.read(id, Request::Read(Principal::Anonymous, get_operation(key)))
    }

    /// Reads `key` from `id`'s applied state, asking no other node (a
    /// stale read), and collects the output.
    pub fn stale_get(&mut self, id: NodeId, key: &str) -> RequestId {
        self.read(
            id,
            Request::StaleRead(Principal::Anonymous, get_operation(key)),
        )
    }

    fn read(&mut self, id: NodeId, request: Request) -> RequestId {
        let handle = self.request(id, request);
        self.collect(id);
        handle
    }

    /// The answer to `request`, once it arrived.
    pub fn answer(&self, request: RequestId) -> Option<&RequestResult> {
        self.answers.get(&request).map(|(_, result)| result)
    }

    /// The commands `id` applied, in order, as text (see [`command_text`]).
    pub fn applied_commands(&self, id: NodeId) -> Vec<String> {
        self.applied[&id]
            .iter()
            .flat_map(|(_, value)| value_texts(value))
            .collect()
    }

    /// The slot `id` holds `text` in, if it accepted it anywhere.
    pub fn slot_of(&self, id: NodeId, text: &str) -> Option<Slot> {
        let replica = self.replica(id);
        (0..10_000).map(Slot).find(|slot| {
            replica
                .entry(*slot)
                .is_some_and(|entry| value_texts(&entry.value).iter().any(|found| found == text))
        })
    }
}

/// `SET key value`, untagged by any session.
pub fn set_command(key: &str, value: &str) -> Command {
    Command::untagged(Operation::Set {
        key: Bytes::copy_from_slice(key.as_bytes()),
        value: Bytes::copy_from_slice(value.as_bytes()),
        condition: SetCondition::Always,
    })
}

/// A readable form of one command: `key` for `SET key key`, `key=value`
/// for another `SET`, the operation's debug form otherwise.
pub fn command_text(command: &Command) -> String {
    match &command.operation {
        Operation::Set { key, value, .. } if key == value => {
            String::from_utf8_lossy(key).into_owned()
        }
        Operation::Set { key, value, .. } => format!(
            "{}={}",
            String::from_utf8_lossy(key),
            String::from_utf8_lossy(value)
        ),
        other => format!("{other:?}"),
    }
}

/// The readable forms of the commands a value carries.
pub fn value_texts(value: &Value) -> Vec<String> {
    untagged_commands(value)
        .into_iter()
        .map(
            |command| match command.map(|bytes| Command::decode(&bytes)) {
                Some(Ok(command)) => command_text(&command),
                Some(Err(error)) => format!("<undecodable: {error}>"),
                None => "<untagged>".to_string(),
            },
        )
        .collect()
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

fn get_operation(key: &str) -> Operation {
    Operation::Get {
        key: Bytes::copy_from_slice(key.as_bytes()),
    }
}
