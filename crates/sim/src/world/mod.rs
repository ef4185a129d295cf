//! The simulated world: replicas running the production node (the same
//! [`Node`] the server runs: core, state machine, request routing, apply and
//! compaction), a faulty network, a disk with latency, and clients that
//! record what they saw. Time is a count of units; a replica ticks every
//! `tick_units`. Everything random comes from one seeded generator.
//!
//! The world checks safety invariants as it goes and records each breach in
//! [`World::violations`] (see `checks.rs`):
//! * agreement: every replica decides the same value in every slot;
//! * identical applied prefixes: a replica's state after slot `n` equals
//!   every other's (the node itself asserts that it applies in order);
//! * a promise is never broken: after announcing a promise for ballot `b`, a
//!   replica never announces an acceptance below `b`, even after a restart.

mod access;
mod checks;
mod clients;
mod faults;
mod membership;
mod transfers;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use synod_kv::{Command, Response, UnixMillis};
use synod_node::{Node, NodeOptions, PersistSequence, Reply, SnapshotToEncode};
use synod_paxos::{
    lease_ticks_max, Ballot, Config, DurableState, Message, Mutation, NodeId, Replica, Slot,
    SplitMix64, LEASE_CLOCK_DRIFT_MAX_PERCENT,
};
use synod_storage::{AcceptorStore, MemoryStorage, StorageOptions};

use crate::network::{MessageFaults, Network};

pub use clients::{Completion, Record, RecordStatus, SimClient, COUNTER_KEY, EXPIRING_KEY_PREFIX};
pub use membership::next_change;
pub use transfers::{sum_of_balances, ACCOUNT_KEY_PREFIX};

/// Virtual nanoseconds per time unit, for the recorded history.
pub const NANOSECONDS_PER_UNIT: u64 = 1_000_000;

/// What a simulated wall clock reads at time 0 (Unix milliseconds, late
/// 2023); a unit is a millisecond. A node's clock reads this plus the time
/// plus its own offset.
pub const WALL_CLOCK_EPOCH_MILLISECONDS: u64 = 1_700_000_000_000;

/// Each node's wall clock starts off by up to this much, either way.
const CLOCK_SKEW_INITIAL_MAX_MILLISECONDS: i64 = 300;

/// Settings of a world that do not change during a run.
#[derive(Clone, Debug)]
pub struct WorldOptions {
    /// Number of replicas.
    pub nodes: usize,
    /// Number of clients.
    pub clients: usize,
    /// Number of distinct keys the clients use.
    pub keys: usize,
    /// Time units per replica tick.
    pub tick_units: u64,
    /// Largest time a write to the simulated disk takes.
    pub disk_latency_max_units: u64,
    /// Largest delay of a client request or reply.
    pub client_delay_max_units: u64,
    /// A client gives up on an attempt after this long and retries.
    pub attempt_timeout_units: u64,
    /// Broken protocol variant to run (mutation tests).
    pub mutation: Mutation,
    /// Inject disk faults: torn writes at crashes, failed fsyncs.
    pub disk_faults: bool,
    /// Replicas snapshot their state machine and compact their logs every
    /// this many applied slots (small, so that installs happen often).
    pub snapshot_interval_slots: u64,
    /// State bytes per snapshot chunk at most.
    pub snapshot_chunk_size_max_bytes: u64,
    /// Record a readable trace of every event.
    pub trace: bool,
    /// Run with the leader lease ([`synod_paxos::lease_ticks_max`] ticks).
    /// Each replica's tick then lasts its own length, drawn within the
    /// drift bound the lease assumes ([`LEASE_CLOCK_DRIFT_MAX_PERCENT`]),
    /// and a paused replica makes up the ticks it missed before it handles
    /// anything, as the server's drive loop does with a lease.
    pub lease: bool,
    /// Add the rights workload (see `access`): grants and revokes of a
    /// user's read right, and reads as that user.
    pub access: bool,
    /// The voters of the initial configuration are the first this many
    /// nodes; the others start empty, outside the cluster, and join only
    /// through configuration changes. `None`: every node is a voter.
    pub initial_voters: Option<usize>,
}

impl Default for WorldOptions {
    fn default() -> WorldOptions {
        WorldOptions {
            nodes: 3,
            clients: 3,
            keys: 3,
            tick_units: 10,
            disk_latency_max_units: 3,
            client_delay_max_units: 3,
            attempt_timeout_units: 400,
            mutation: Mutation::None,
            disk_faults: false,
            snapshot_interval_slots: 20,
            snapshot_chunk_size_max_bytes: synod_paxos::SNAPSHOT_CHUNK_SIZE_MAX_BYTES_DEFAULT,
            trace: false,
            lease: false,
            access: false,
            initial_voters: None,
        }
    }
}

/// Who a node answers: a simulated client and its request number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientHandle {
    /// The client.
    pub client: u64,
    /// The client's request number (one per attempt).
    pub request: u64,
}

/// What a client hears back from a node.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ClientReply {
    /// The store's answer, and the agreed time it observed.
    Response(Response, Option<UnixMillis>),
    /// The attempt certainly took no effect (rejected, or a failed read).
    NotApplied,
    /// The write may or may not take effect.
    Unknown,
}

impl ClientReply {
    fn of(result: synod_node::RequestResult, agreed_time: Option<UnixMillis>) -> ClientReply {
        match result {
            Ok(response) => ClientReply::Response(response, agreed_time),
            Err(error) if error.certainly_not_applied() => ClientReply::NotApplied,
            Err(_) => ClientReply::Unknown,
        }
    }
}

#[derive(Clone, Debug)]
enum ClientEvent {
    Request {
        node: NodeId,
        handle: ClientHandle,
        command: Command,
    },
    Reply {
        handle: ClientHandle,
        node: NodeId,
        reply: ClientReply,
    },
}

/// A batch on its way to the disk: written, and synced once due.
#[derive(Clone, Copy, Debug)]
struct PendingPersist {
    due: u64,
    sequence: PersistSequence,
    needs_sync: bool,
}

/// One replica with its simulated disk.
#[derive(Debug)]
pub struct SimNode {
    /// The replica's id.
    pub id: NodeId,
    /// The running node; `None` while crashed.
    pub node: Option<Node<ClientHandle>>,
    /// The disk, through the production storage code on a simulated,
    /// fault-injectable device: survives crashes.
    pub disk: AcceptorStore<MemoryStorage>,
    /// Writes on their way to the disk, completed in order.
    pending: VecDeque<PendingPersist>,
    /// A snapshot being encoded "on another thread", and when it is done.
    encoding: Option<(u64, SnapshotToEncode)>,
    tick_offset_units: u64,
    /// With a lease: this replica's tick length, within the drift bound.
    tick_period_units: u64,
    /// With a lease: when its next tick is due.
    next_tick_at: u64,
    /// Number of restarts.
    pub incarnation: u64,
    /// The highest ballot this node ever announced a promise for.
    promise_high_water: Ballot,
    /// While paused (a stopped process, a long garbage collection), the
    /// node neither ticks nor handles anything until this time.
    paused_until: Option<u64>,
    /// How far this node's wall clock is off, in milliseconds (skew, and
    /// the jumps of [`World::jump_clock`]). It survives restarts: the
    /// clock belongs to the machine.
    clock_offset_milliseconds: i64,
}

/// The whole simulated cluster.
pub struct World {
    /// Current time in units.
    pub now: u64,
    rng: SplitMix64,
    options: WorldOptions,
    /// The replica network.
    pub network: Network,
    /// The replicas.
    pub nodes: Vec<SimNode>,
    /// The clients.
    pub clients: Vec<SimClient>,
    client_events: BTreeMap<(u64, u64), ClientEvent>,
    /// Every request a node has answered: a node answers each once.
    answered: BTreeSet<ClientHandle>,
    decided: BTreeMap<Slot, synod_paxos::Value>,
    digests: BTreeMap<Slot, u64>,
    /// Safety violations found so far.
    pub violations: Vec<String>,
    /// The client history.
    pub history: Vec<Record>,
    /// Every operation that completed successfully, in completion order.
    pub completions: Vec<Completion>,
    /// Readable event trace (when enabled).
    pub trace: Vec<String>,
    /// Whether clients start new operations.
    pub clients_active: bool,
    /// A client gives up on a write after this many attempts (then records
    /// it as info); `None` retries forever.
    pub attempts_max: Option<usize>,
    /// Crash the leader right after it sends accepts, with this chance per
    /// thousand (the seeds' N1/N2/N3 case).
    pub leader_crash_per_mille: u64,
    /// Leader crashes performed by that fault.
    pub leader_crashes: u64,
    /// Reads given their read index under the leader lease by replicas
    /// that have since crashed (see [`World::reads_served_under_lease`]).
    leased_reads_of_crashed: u64,
    /// Nodes stopped by a disk error.
    pub disk_failures: u64,
    /// Chance per thousand that a node's next fsync fails (disk faults).
    pub fsync_failure_per_mille: u64,
    /// The voters the simulated operator moves the cluster toward.
    membership_target: Option<BTreeSet<NodeId>>,
    /// Configuration changes the operator got a leader to propose.
    pub changes_proposed: u64,
    /// Leader transfers the operator got a leader to start.
    pub leader_transfers: u64,
    /// Snapshots received from a peer (in chunks) and installed.
    pub snapshots_installed: u64,
    /// The nodes clients send requests to: every node, or with membership
    /// changes the members of the newest configuration.
    client_targets: Vec<NodeId>,
    /// Per slot, the nodes that held its value on disk when it was first
    /// seen decided (see `check_governing_quorums`).
    holders: BTreeMap<Slot, BTreeSet<NodeId>>,
}

/// With disk faults, one sync in this many stalls.
const DISK_STALL_ONE_IN: u64 = 20;
/// A snapshot's encoding, which a server runs on a thread of its own,
/// finishes within this many units: long enough that the replica goes on
/// applying (and may install a peer's snapshot) meanwhile.
const SNAPSHOT_ENCODING_MAX_UNITS: u64 = 30;
/// A stalled sync takes at least this many units (a few network round trips)…
const DISK_STALL_MIN_UNITS: u64 = 10;
/// …and at most this many.
const DISK_STALL_MAX_UNITS: u64 = 60;

/// What a paused node was sent arrives within this long after it resumes,
/// in a random order (messages and client requests alike).
const PAUSE_RELEASE_SPREAD_UNITS: u64 = 5;

/// Rounds of output one node may produce in one step before the world
/// declares it runaway (a node that keeps talking to itself is a bug).
const READY_ROUNDS_PER_STEP_MAX: usize = 1_000;

impl World {
    /// A world of fresh replicas and clients, all driven by `seed`.
    pub fn new(seed: u64, options: WorldOptions) -> World {
        let mut rng = SplitMix64::new(seed);
        let members: Vec<NodeId> = (1..=options.nodes as u64).map(NodeId).collect();
        let voters = initial_voters(&options);
        let nodes = members
            .iter()
            .map(|id| {
                let tick_offset_units = rng.below(options.tick_units);
                let tick_period_units = drifted_tick_units(&mut rng, &options);
                let skew = rng.below(2 * CLOCK_SKEW_INITIAL_MAX_MILLISECONDS as u64 + 1);
                let clock_offset_milliseconds = skew as i64 - CLOCK_SKEW_INITIAL_MAX_MILLISECONDS;
                let node = new_node(
                    &options,
                    &voters,
                    *id,
                    DurableState::default(),
                    rng.next_u64(),
                );
                SimNode {
                    id: *id,
                    node: Some(node),
                    disk: new_disk(),
                    pending: VecDeque::new(),
                    encoding: None,
                    tick_offset_units,
                    tick_period_units,
                    next_tick_at: tick_offset_units + 1,
                    incarnation: 0,
                    promise_high_water: Ballot::ZERO,
                    paused_until: None,
                    clock_offset_milliseconds,
                }
            })
            .collect();
        let clients = (0..options.clients as u64).map(SimClient::new).collect();
        World {
            now: 0,
            rng,
            network: Network::new(MessageFaults {
                drop_per_mille: 0,
                duplicate_per_mille: 0,
                delay_max_units: 5,
            }),
            nodes,
            clients,
            client_events: BTreeMap::new(),
            answered: BTreeSet::new(),
            decided: BTreeMap::new(),
            digests: BTreeMap::new(),
            violations: Vec::new(),
            history: Vec::new(),
            completions: Vec::new(),
            trace: Vec::new(),
            clients_active: true,
            attempts_max: None,
            leader_crash_per_mille: 0,
            leased_reads_of_crashed: 0,
            leader_crashes: 0,
            disk_failures: 0,
            fsync_failure_per_mille: if options.disk_faults { 3 } else { 0 },
            membership_target: None,
            changes_proposed: 0,
            leader_transfers: 0,
            snapshots_installed: 0,
            client_targets: members,
            holders: BTreeMap::new(),
            options,
        }
    }

    /// The voters of the initial configuration.
    pub fn initial_voters(&self) -> Vec<NodeId> {
        initial_voters(&self.options)
    }

    /// The seeded generator, for drivers that inject faults.
    pub fn rng(&mut self) -> &mut SplitMix64 {
        &mut self.rng
    }

    /// The world's settings.
    pub fn options(&self) -> &WorldOptions {
        &self.options
    }

    /// Ids of every replica.
    pub fn members(&self) -> Vec<NodeId> {
        self.nodes.iter().map(|node| node.id).collect()
    }

    fn node_index(&self, id: NodeId) -> usize {
        (id.0 - 1) as usize
    }

    /// The node with id `id`, if running.
    pub fn node(&self, id: NodeId) -> Option<&Node<ClientHandle>> {
        self.nodes[self.node_index(id)].node.as_ref()
    }

    /// The consensus core of `id`, if running.
    pub fn replica(&self, id: NodeId) -> Option<&Replica> {
        self.node(id).map(Node::replica)
    }

    /// The workload counter's value on the running member that applied the
    /// most (members agree once converged; a removed node stops applying);
    /// `None` when it was never written.
    pub fn counter_value(&self) -> Option<i64> {
        let node = self
            .client_targets
            .iter()
            .filter_map(|id| self.node(*id))
            .max_by_key(|node| node.applied())?;
        let get = synod_kv::Operation::Get {
            key: bytes::Bytes::from_static(COUNTER_KEY.as_bytes()),
        };
        match node.store().read(&get) {
            Response::Value(Some(value)) => std::str::from_utf8(&value).ok()?.parse().ok(),
            _ => None,
        }
    }

    /// The sum of the accounts' balances on the running member that applied
    /// the most.
    pub fn balances_sum(&self) -> i64 {
        let Some(node) = self
            .client_targets
            .iter()
            .filter_map(|id| self.node(*id))
            .max_by_key(|node| node.applied())
        else {
            return 0;
        };
        let get = synod_kv::Operation::GetMany {
            keys: self.accounts(),
        };
        match node.store().read(&get) {
            Response::Values(values) => sum_of_balances(&values),
            _ => i64::MIN,
        }
    }

    /// True while `id` is crashed.
    pub fn is_crashed(&self, id: NodeId) -> bool {
        self.node(id).is_none()
    }

    /// The running replica that leads with the highest ballot, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.nodes
            .iter()
            .filter_map(|node| node.node.as_ref().map(Node::replica))
            .filter(|replica| replica.role() == synod_paxos::Role::Leader)
            .max_by_key(|replica| replica.promised())
            .map(|replica| replica.id())
    }

    fn log(&mut self, line: impl FnOnce() -> String) {
        if self.options.trace {
            let line = format!("t={:>6} {}", self.now, line());
            self.trace.push(line);
        }
    }

    /// Reads every replica gave a read index under the leader lease so far,
    /// crashed incarnations included: a lease run that never used the
    /// lease would check nothing about it.
    pub fn reads_served_under_lease(&self) -> u64 {
        let running: u64 = self
            .nodes
            .iter()
            .filter_map(|node| node.node.as_ref())
            .map(|node| node.replica().reads_served_under_lease())
            .sum();
        self.leased_reads_of_crashed + running
    }

    // ----------------------------------------------------------------------
    // The main loop
    // ----------------------------------------------------------------------

    /// Advances time by one unit.
    pub fn step(&mut self) {
        self.now += 1;
        // Each running node reads its wall clock before it handles anything,
        // as the server's drive loop does; a paused one reads it on resuming.
        for index in 0..self.nodes.len() {
            if self.is_paused_at(index) {
                continue;
            }
            let time = self.wall_time(index);
            if let Some(node) = self.nodes[index].node.as_mut() {
                node.set_time(time);
            }
        }
        if self.options.lease {
            self.tick_by_own_clocks();
        }
        self.complete_persists();
        for envelope in self.network.due(self.now) {
            let index = self.node_index(envelope.to);
            if self.nodes[index].node.is_none() {
                continue;
            }
            if let Some(at) = self.after_pause(index) {
                self.network.defer(&mut self.rng, at, envelope);
                continue;
            }
            if self.options.trace {
                let description = crate::describe::describe(&envelope);
                self.log(|| description);
            }
            let node = self.nodes[index].node.as_mut().expect("checked above");
            node.step(envelope.from, envelope.message);
        }
        self.deliver_client_events();
        for index in 0..self.nodes.len() {
            let due = !self.options.lease
                && (self.now + self.nodes[index].tick_offset_units) % self.options.tick_units == 0;
            if due && !self.is_paused_at(index) {
                if let Some(node) = self.nodes[index].node.as_mut() {
                    node.tick();
                }
            }
        }
        self.step_clients();
        self.operate_membership();
        for index in 0..self.nodes.len() {
            self.drain(index);
        }
    }

    /// With a lease, each running replica gets every tick its own clock says
    /// is due, before it handles anything in this step; a paused one gets
    /// none until it resumes, and then all it missed at once.
    fn tick_by_own_clocks(&mut self) {
        for index in 0..self.nodes.len() {
            if self.nodes[index].node.is_none() || self.is_paused_at(index) {
                continue;
            }
            while self.nodes[index].next_tick_at <= self.now {
                let node = &mut self.nodes[index];
                node.next_tick_at += node.tick_period_units;
                node.node.as_mut().expect("checked above").tick();
            }
        }
    }

    /// Runs `units` steps.
    pub fn run_for(&mut self, units: u64) {
        for _ in 0..units {
            self.step();
        }
    }

    /// Handles node `index`'s output until it has nothing more to say (a
    /// write that completes at once releases more output).
    fn drain(&mut self, index: usize) {
        for _ in 0..READY_ROUNDS_PER_STEP_MAX {
            let Some(node) = self.nodes[index].node.as_mut() else {
                return;
            };
            let ready = node.ready();
            if ready.is_empty() {
                return;
            }
            self.handle_ready(index, ready);
        }
        let id = self.nodes[index].id;
        self.violations.push(format!(
            "{id} produced output {READY_ROUNDS_PER_STEP_MAX} times in one step"
        ));
    }

    fn handle_ready(&mut self, index: usize, ready: synod_node::Ready<ClientHandle>) {
        let id = self.nodes[index].id;
        let sends_accepts = ready
            .messages
            .iter()
            .any(|envelope| matches!(envelope.message, Message::Accept { .. }));
        let crash_mid_phase_two = sends_accepts
            && self.leader_crash_per_mille > 0
            && self.rng.chance(self.leader_crash_per_mille, 1_000);
        for (position, envelope) in ready.messages.into_iter().enumerate() {
            // The seeds' N1/N2/N3 case: the leader dies while its accepts are
            // leaving, so only some followers receive them.
            if crash_mid_phase_two && position % 2 == 1 {
                continue;
            }
            self.check_promise_kept(index, &envelope);
            self.network.send(&mut self.rng, self.now, envelope);
        }
        for Reply {
            handle,
            result,
            agreed_time,
        } in ready.replies
        {
            if !self.answered.insert(handle) {
                self.violations.push(format!(
                    "{id} answered {handle:?} twice, the second time {result:?}"
                ));
            }
            let reply = ClientReply::of(result, agreed_time);
            self.schedule_client_event(ClientEvent::Reply {
                handle,
                node: id,
                reply,
            });
        }
        for event in ready.events {
            self.check_event(index, event);
        }
        if crash_mid_phase_two {
            self.leader_crashes += 1;
            self.log(|| format!("{id} leader crashes mid phase 2"));
            self.crash(id);
            return;
        }
        if let Some(snapshot) = ready.snapshot_to_encode {
            let due = self.now + self.rng.below(SNAPSHOT_ENCODING_MAX_UNITS + 1);
            self.nodes[index].encoding = Some((due, snapshot));
        }
        for batch in ready.persist {
            // The write reaches the device now; the sync completes later.
            if let Err(error) = self.nodes[index].disk.write(&batch.changes) {
                self.fail_stop(index, error);
                return;
            }
            let latency = if batch.needs_sync {
                if self.fsync_failure_per_mille > 0
                    && self.rng.chance(self.fsync_failure_per_mille, 1_000)
                {
                    self.nodes[index].disk.storage_mut().fail_next_sync();
                }
                self.sync_latency()
            } else {
                0
            };
            self.nodes[index].pending.push_back(PendingPersist {
                due: self.now + latency,
                sequence: batch.sequence,
                needs_sync: batch.needs_sync,
            });
        }
        self.complete_persists_of(index);
    }

    /// How long a sync takes: a few units, and with disk faults now and
    /// then a stall many times longer (a disk busy with something else), so
    /// that a node's messages outrun its own writes by whole round trips.
    fn sync_latency(&mut self) -> u64 {
        if self.options.disk_faults && self.rng.chance(1, DISK_STALL_ONE_IN) {
            return self.rng.between(DISK_STALL_MIN_UNITS, DISK_STALL_MAX_UNITS);
        }
        self.rng.below(self.options.disk_latency_max_units + 1)
    }

    fn complete_persists(&mut self) {
        for index in 0..self.nodes.len() {
            self.complete_persists_of(index);
        }
    }

    /// Finishes disk writes that are due, strictly in the order issued, and
    /// tells the node; and the snapshot encoding, when it is due.
    fn complete_persists_of(&mut self, index: usize) {
        if !self.is_paused_at(index) {
            let sim_node = &mut self.nodes[index];
            if let Some((due, _)) = &sim_node.encoding {
                if *due <= self.now {
                    let (_, snapshot) = sim_node.encoding.take().expect("checked");
                    if let Some(node) = sim_node.node.as_mut() {
                        node.snapshot_encoded(snapshot.end, snapshot.encode());
                    }
                }
            }
        }
        loop {
            if self.is_paused_at(index) {
                return;
            }
            let sim_node = &mut self.nodes[index];
            let Some(pending) = sim_node.pending.front().copied() else {
                return;
            };
            if pending.due > self.now {
                return;
            }
            sim_node.pending.pop_front();
            if pending.needs_sync {
                if let Err(error) = sim_node.disk.sync() {
                    self.fail_stop(index, error);
                    return;
                }
            }
            let node = self.nodes[index]
                .node
                .as_mut()
                .expect("a crash clears the disk queue");
            if let Err(error) = node.persisted(pending.sequence) {
                let id = self.nodes[index].id;
                self.violations.push(format!("{id} stops: {error}"));
                self.crash(id);
                return;
            }
        }
    }

    /// Whether every running member has applied every slot anyone saw
    /// decided: a lone node that restarted must win an election and learn
    /// its log again before its state is final (the counter and bank
    /// checks read it).
    pub fn replicas_applied_everything_decided(&self) -> bool {
        let end = self
            .decided
            .keys()
            .next_back()
            .map_or(Slot(0), |slot| slot.next());
        self.client_targets
            .iter()
            .filter_map(|id| self.node(*id))
            .all(|node| node.applied() >= end)
    }

    /// Forces the replicas' applied state to be compared at the end: every
    /// running replica must have applied the same number of slots.
    /// With membership changes, only the members of the newest
    /// configuration count: a removed node hears nothing more.
    pub fn replicas_converged(&self) -> bool {
        let members: Option<BTreeSet<NodeId>> = self
            .membership_target
            .as_ref()
            .and(self.newest_configuration())
            .map(|config| config.members().collect());
        let applied: Vec<Slot> = self
            .nodes
            .iter()
            .filter(|node| {
                members
                    .as_ref()
                    .is_none_or(|members| members.contains(&node.id))
            })
            .filter_map(|node| node.node.as_ref().map(Node::applied))
            .collect();
        applied.windows(2).all(|pair| pair[0] == pair[1])
    }
}

fn new_storage() -> MemoryStorage {
    MemoryStorage::new(StorageOptions::default()).expect("a new simulated disk opens")
}

fn new_disk() -> AcceptorStore<MemoryStorage> {
    let mut storage = new_storage();
    let recovered = storage.recover().expect("an empty disk recovers");
    AcceptorStore::recover(storage, &recovered).expect("an empty log decodes")
}

/// A replica's tick length: exactly `tick_units` without a lease; with
/// one, anywhere within [`LEASE_CLOCK_DRIFT_MAX_PERCENT`] of it, so that
/// two replicas' clocks differ by as much as the lease tolerates.
fn drifted_tick_units(rng: &mut SplitMix64, options: &WorldOptions) -> u64 {
    if !options.lease {
        return options.tick_units;
    }
    let drift_units = options.tick_units * LEASE_CLOCK_DRIFT_MAX_PERCENT / 100;
    rng.between(
        options.tick_units - drift_units,
        options.tick_units + drift_units,
    )
}

/// The first `initial_voters` nodes (every node by default).
fn initial_voters(options: &WorldOptions) -> Vec<NodeId> {
    let count = options.initial_voters.unwrap_or(options.nodes);
    (1..=count as u64).map(NodeId).collect()
}

fn new_node(
    options: &WorldOptions,
    members: &[NodeId],
    id: NodeId,
    durable: DurableState,
    seed: u64,
) -> Node<ClientHandle> {
    let mut config = Config::new(id, members.to_vec());
    set_mutation(&mut config, options.mutation);
    config.snapshot_interval_slots = options.snapshot_interval_slots;
    config.snapshot_chunk_size_max_bytes = options.snapshot_chunk_size_max_bytes;
    if options.lease {
        config.lease_ticks = lease_ticks_max(config.election_timeout_ticks);
    }
    let mut node_options = NodeOptions::new(config);
    node_options.record_digests = true;
    Node::new(node_options, durable, seed)
        .expect("a durable snapshot restores: it was taken by Store::snapshot")
}

/// Runs the broken variant `mutation` (the `mutations` feature only).
#[cfg(feature = "mutations")]
fn set_mutation(config: &mut Config, mutation: Mutation) {
    config.mutation = mutation;
}

/// Without the `mutations` feature there are no broken variants to run.
#[cfg(not(feature = "mutations"))]
fn set_mutation(_config: &mut Config, mutation: Mutation) {
    assert_eq!(
        mutation,
        Mutation::None,
        "this build carries no broken variants: build with the mutations feature"
    );
}
