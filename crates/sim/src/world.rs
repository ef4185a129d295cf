//! The simulated world: replicas running the production core and state
//! machine, a faulty network, a disk with latency, and clients that record
//! what they saw. Time is a count of units; a replica ticks every
//! `tick_units`. Everything random comes from one seeded generator.
//!
//! The world checks safety invariants as it goes and records each breach in
//! [`World::violations`]:
//! * agreement: every replica decides the same value in every slot;
//! * in-order apply and identical applied prefixes: a replica applies slots
//!   0, 1, 2, … and its state after slot `n` equals every other's;
//! * a promise is never broken: after announcing a promise for ballot `b`, a
//!   replica never announces an acceptance below `b`, even after a restart.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use synod_kv::{Command, Operation, Response, Sequence, SessionId, SessionTag, Store, StoreConfig};
use synod_paxos::{
    Ballot, Config, DurableState, Envelope, Message, Mutation, NodeId, PersistRequest, ReadError,
    ReadId, Released, Replica, Slot, Snapshot, SplitMix64, Value,
};

use synod_storage::{AcceptorStore, CrashFault, MemoryStorage, StorageError, StorageOptions};

use crate::network::{MessageFaults, Network};
use synod_kv::tag::{self, RequestTag};

/// Virtual nanoseconds per time unit, for the recorded history.
pub const NANOSECONDS_PER_UNIT: u64 = 1_000_000;

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
    /// Record a readable trace of every event.
    pub trace: bool,
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
            trace: false,
        }
    }
}

/// The outcome of a client operation as recorded in the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordStatus {
    /// Completed with the recorded result.
    Ok,
    /// Certainly had no effect.
    Fail,
    /// Unknown: may take effect at any time after its call, or never.
    Info,
}

/// One client operation in the history (the shared history format).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The client.
    pub client: u64,
    /// `get`, `set`, `contains` or `remove`.
    pub operation: &'static str,
    /// The key.
    pub key: String,
    /// Value written or read (empty otherwise).
    pub value: String,
    /// Whether the key existed (get, contains) or was removed (remove).
    pub found: bool,
    /// The outcome.
    pub status: RecordStatus,
    /// Virtual nanoseconds when the client first sent it.
    pub call: u64,
    /// Virtual nanoseconds when the answer arrived (0 for info).
    pub return_time: u64,
    /// The node that answered, if any.
    pub node: Option<u64>,
}

/// A reply from a node to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Reply {
    Response(Response),
    /// The write was handed back unproposed: this attempt had no effect.
    Rejected,
    /// The read could not be served.
    ReadFailed,
}

#[derive(Clone, Debug)]
enum ClientEvent {
    Request {
        node: NodeId,
        tag: RequestTag,
        command: Command,
    },
    Reply {
        client: u64,
        request: u64,
        node: NodeId,
        reply: Reply,
    },
}

/// One replica with its state machine and simulated disk.
#[derive(Debug)]
pub struct SimNode {
    /// The replica's id.
    pub id: NodeId,
    /// The running core; `None` while crashed.
    pub replica: Option<Replica>,
    /// The state machine, rebuilt from the log after a restart.
    pub store: Store,
    /// The disk, through the production storage code on a simulated,
    /// fault-injectable device: survives crashes.
    pub disk: AcceptorStore<MemoryStorage>,
    /// Writes on their way to the disk, completed in order.
    pending: VecDeque<(u64, PersistRequest)>,
    /// Requests proposed through this node, awaiting their slot's apply.
    waiting: BTreeMap<RequestTag, ()>,
    reads: BTreeMap<ReadId, (RequestTag, Operation)>,
    next_read: u64,
    next_apply: Slot,
    tick_offset_units: u64,
    /// Number of restarts.
    pub incarnation: u64,
    /// The highest ballot this node ever announced a promise for.
    promise_high_water: Ballot,
}

#[derive(Clone, Debug)]
struct ClientOperation {
    operation: Operation,
    record_name: &'static str,
    key: String,
    value: String,
    call_units: u64,
    /// Request numbers of every attempt (any answer to one of them counts).
    attempts: Vec<u64>,
    attempt_deadline_units: u64,
    /// True once an attempt may have been proposed (timed out unanswered).
    maybe_applied: bool,
    sequence: Option<Sequence>,
}

/// A client: one operation at a time, retried on timeouts and rejections.
#[derive(Clone, Debug)]
pub struct SimClient {
    /// The client id (also its history id).
    pub id: u64,
    session: Option<SessionId>,
    registering: Option<ClientOperation>,
    next_sequence: u64,
    next_request: u64,
    current: Option<ClientOperation>,
    values_written: u64,
    /// Operations completed, of any status.
    pub completed: u64,
}

impl SimClient {
    /// True while an operation (or a session registration) is outstanding.
    pub fn is_busy(&self) -> bool {
        self.current.is_some() || self.registering.is_some()
    }
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
    decided: BTreeMap<Slot, Value>,
    digests: BTreeMap<Slot, u64>,
    /// Safety violations found so far.
    pub violations: Vec<String>,
    /// The client history.
    pub history: Vec<Record>,
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
    /// Nodes stopped by a disk error.
    pub disk_failures: u64,
    /// Chance per thousand that a node's next fsync fails (disk faults).
    pub fsync_failure_per_mille: u64,
}

impl World {
    /// A world of fresh replicas and clients, all driven by `seed`.
    pub fn new(seed: u64, options: WorldOptions) -> World {
        let mut rng = SplitMix64::new(seed);
        let members: Vec<NodeId> = (1..=options.nodes as u64).map(NodeId).collect();
        let nodes = members
            .iter()
            .map(|id| {
                let tick_offset_units = rng.below(options.tick_units);
                let mut node = SimNode {
                    id: *id,
                    replica: None,
                    store: Store::new(StoreConfig::default()),
                    disk: new_disk(),
                    pending: VecDeque::new(),
                    waiting: BTreeMap::new(),
                    reads: BTreeMap::new(),
                    next_read: 0,
                    next_apply: Slot(0),
                    tick_offset_units,
                    incarnation: 0,
                    promise_high_water: Ballot::ZERO,
                };
                node.replica = Some(new_replica(
                    &options,
                    &members,
                    *id,
                    DurableState::default(),
                    rng.next_u64(),
                ));
                node
            })
            .collect();
        let clients = (0..options.clients as u64)
            .map(|id| SimClient {
                id,
                session: None,
                registering: None,
                next_sequence: 1,
                next_request: 0,
                current: None,
                values_written: 0,
                completed: 0,
            })
            .collect();
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
            decided: BTreeMap::new(),
            digests: BTreeMap::new(),
            violations: Vec::new(),
            history: Vec::new(),
            trace: Vec::new(),
            clients_active: true,
            attempts_max: None,
            leader_crash_per_mille: 0,
            leader_crashes: 0,
            disk_failures: 0,
            fsync_failure_per_mille: if options.disk_faults { 3 } else { 0 },
            options,
        }
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

    /// The replica with id `id`, if running.
    pub fn replica(&self, id: NodeId) -> Option<&Replica> {
        self.nodes[self.node_index(id)].replica.as_ref()
    }

    /// True while `id` is crashed.
    pub fn is_crashed(&self, id: NodeId) -> bool {
        self.replica(id).is_none()
    }

    /// The running replica that leads with the highest ballot, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.nodes
            .iter()
            .filter_map(|node| node.replica.as_ref())
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

    // ----------------------------------------------------------------------
    // Faults
    // ----------------------------------------------------------------------

    /// Crashes `id`: its writes still on their way to disk and its messages
    /// in flight are lost; what is durable stays.
    pub fn crash(&mut self, id: NodeId) {
        let index = self.node_index(id);
        if self.nodes[index].replica.is_none() {
            return;
        }
        // With disk faults, the crash may tear the write in progress: a
        // prefix of the unsynced bytes reaches the disk, ending mid-record.
        let fault = if self.options.disk_faults && self.rng.chance(1, 2) {
            CrashFault::TearUnsynced {
                seed: self.rng.next_u64(),
            }
        } else {
            CrashFault::LoseUnsynced
        };
        let report = self.nodes[index].disk.storage_mut().crash(fault);
        let torn = report.torn_bytes_kept;
        let node = &mut self.nodes[index];
        node.replica = None;
        node.pending.clear();
        node.waiting.clear();
        node.reads.clear();
        self.network.drop_to(id);
        self.log(|| format!("{id} CRASH (torn write kept {torn} bytes)"));
    }

    /// Restarts `id` from its durable state with a fresh state machine,
    /// which replays the decided log.
    pub fn restart(&mut self, id: NodeId) {
        let index = self.node_index(id);
        if self.nodes[index].replica.is_some() {
            return;
        }
        let members = self.members();
        let seed = self.rng.next_u64();
        let mut storage = std::mem::replace(self.nodes[index].disk.storage_mut(), new_storage());
        let recovered = match storage.recover() {
            Ok(recovered) => recovered,
            Err(error) => {
                self.violations
                    .push(format!("{id} cannot recover its disk: {error}"));
                return;
            }
        };
        let disk = match AcceptorStore::recover(storage, &recovered) {
            Ok(disk) => disk,
            Err(error) => {
                self.violations
                    .push(format!("{id} cannot read its acceptor state: {error}"));
                return;
            }
        };
        let durable = disk.state().clone();
        let replica = new_replica(&self.options, &members, id, durable.clone(), seed);
        let node = &mut self.nodes[index];
        node.disk = disk;
        node.replica = Some(replica);
        match &durable.snapshot {
            Some(snapshot) => {
                node.store = Store::restore(&snapshot.state)
                    .expect("a durable snapshot restores: it was taken by Store::snapshot");
                node.next_apply = snapshot.end;
            }
            None => {
                node.store = Store::new(StoreConfig::default());
                node.next_apply = Slot(0);
            }
        }
        node.incarnation += 1;
        let committed = durable.committed;
        self.log(|| format!("{id} RESTART from disk, committed {committed:?}"));
    }

    // ----------------------------------------------------------------------
    // The main loop
    // ----------------------------------------------------------------------

    /// Advances time by one unit.
    pub fn step(&mut self) {
        self.now += 1;
        self.complete_persists();
        for envelope in self.network.due(self.now) {
            let index = self.node_index(envelope.to);
            if self.nodes[index].replica.is_none() {
                continue;
            }
            if self.options.trace {
                let description = describe(&envelope);
                self.log(|| description);
            }
            let replica = self.nodes[index].replica.as_mut().expect("checked above");
            replica.step(envelope.from, envelope.message);
        }
        self.deliver_client_events();
        for index in 0..self.nodes.len() {
            let due =
                (self.now + self.nodes[index].tick_offset_units) % self.options.tick_units == 0;
            if due {
                if let Some(replica) = self.nodes[index].replica.as_mut() {
                    replica.tick();
                }
            }
        }
        self.step_clients();
        for index in 0..self.nodes.len() {
            self.process_ready(index);
        }
    }

    /// Runs `units` steps.
    pub fn run_for(&mut self, units: u64) {
        for _ in 0..units {
            self.step();
        }
    }

    fn process_ready(&mut self, index: usize) {
        let Some(replica) = self.nodes[index].replica.as_mut() else {
            return;
        };
        let ready = replica.ready();
        if ready.is_empty() {
            return;
        }
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
            self.network.send(&mut self.rng, self.now, envelope);
        }
        for rejection in ready.rejected {
            if let Some((tag, _)) = tag::unwrap(&rejection.command) {
                if self.nodes[index].waiting.remove(&tag).is_some() {
                    self.reply(id, tag, Reply::Rejected);
                }
            }
        }
        for (read, error) in ready.failed_reads {
            if let Some((tag, _)) = self.nodes[index].reads.remove(&read) {
                let _: ReadError = error;
                self.reply(id, tag, Reply::ReadFailed);
            }
        }
        if crash_mid_phase_two {
            self.leader_crashes += 1;
            self.log(|| format!("{id} leader crashes mid phase 2"));
            self.crash(id);
            return;
        }
        // The write reaches the device now; the sync completes later.
        if let Err(error) = self.nodes[index].disk.write(ready.persist.state()) {
            self.fail_stop(index, error);
            return;
        }
        if self.fsync_failure_per_mille > 0 && self.rng.chance(self.fsync_failure_per_mille, 1_000)
        {
            self.nodes[index].disk.storage_mut().fail_next_sync();
        }
        let latency = self.rng.below(self.options.disk_latency_max_units + 1);
        let node = &mut self.nodes[index];
        node.pending.push_back((self.now + latency, ready.persist));
        if latency == 0 {
            self.complete_persists_of(index);
        }
    }

    /// A disk error stops the node for good (until an operator restarts
    /// it): it must not acknowledge or vote on anything not durably written.
    fn fail_stop(&mut self, index: usize, error: StorageError) {
        let id = self.nodes[index].id;
        self.disk_failures += 1;
        self.log(|| format!("{id} DISK FAILURE, stopping: {error}"));
        self.crash(id);
    }

    fn complete_persists(&mut self) {
        for index in 0..self.nodes.len() {
            self.complete_persists_of(index);
        }
    }

    /// Finishes disk writes that are due, strictly in the order issued, and
    /// releases what each one guarded.
    fn complete_persists_of(&mut self, index: usize) {
        loop {
            let node = &mut self.nodes[index];
            let Some((due, _)) = node.pending.front() else {
                return;
            };
            if *due > self.now {
                return;
            }
            let (_, request) = node.pending.pop_front().expect("front exists");
            if let Err(error) = node.disk.sync() {
                self.fail_stop(index, error);
                return;
            }
            let released = request.persisted();
            self.handle_released(index, released);
        }
    }

    fn handle_released(&mut self, index: usize, released: Released) {
        let id = self.nodes[index].id;
        for envelope in released.messages {
            self.check_promise_kept(index, &envelope);
            self.network.send(&mut self.rng, self.now, envelope);
        }
        if let Some(snapshot) = released.snapshot {
            self.install_snapshot(index, snapshot);
        }
        for decided in released.decided {
            self.apply_decided(index, decided.slot, decided.value);
        }
        self.maybe_compact(index);
        for read in released.reads {
            let Some((tag, operation)) = self.nodes[index].reads.remove(&read) else {
                continue;
            };
            let response = self.nodes[index].store.read(&operation);
            self.reply(id, tag, Reply::Response(response));
        }
    }

    fn check_promise_kept(&mut self, index: usize, envelope: &Envelope) {
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

    /// Replaces the state machine with a snapshot received from a peer and
    /// checks it against the state every replica had after the same slot.
    fn install_snapshot(&mut self, index: usize, snapshot: Snapshot) {
        let id = self.nodes[index].id;
        let store = match Store::restore(&snapshot.state) {
            Ok(store) => store,
            Err(error) => {
                self.violations
                    .push(format!("{id} received an unreadable snapshot: {error}"));
                return;
            }
        };
        let last = Slot(snapshot.end.0 - 1);
        if let Some(expected) = self.digests.get(&last) {
            if *expected != store.digest() {
                self.violations.push(format!(
                    "divergent snapshot: {id} installed a state for {last} that differs from the replicas'"
                ));
            }
        }
        let node = &mut self.nodes[index];
        node.store = store;
        node.next_apply = snapshot.end;
        let end = snapshot.end;
        self.log(|| format!("{id} installs a snapshot up to {end}"));
    }

    /// Takes a snapshot when the core says the applied log has grown enough.
    fn maybe_compact(&mut self, index: usize) {
        let node = &mut self.nodes[index];
        let Some(replica) = node.replica.as_mut() else {
            return;
        };
        if !replica.snapshot_due() || node.next_apply <= replica.log_start() {
            return;
        }
        let snapshot = Snapshot {
            end: node.next_apply,
            state: node.store.snapshot(),
        };
        replica.compact(snapshot);
    }

    fn apply_decided(&mut self, index: usize, slot: Slot, value: Value) {
        let id = self.nodes[index].id;
        let expected = self.nodes[index].next_apply;
        if slot != expected {
            self.violations.push(format!(
                "out-of-order apply: {id} applied {slot} when {expected} was next"
            ));
        }
        self.nodes[index].next_apply = slot.next();
        if let Some(existing) = first_or_conflict(&mut self.decided, slot, &value) {
            self.violations.push(format!(
                "agreement: {id} decided {value:?} in {slot}, another replica decided {existing:?}"
            ));
        }
        for proposal in value.commands() {
            let Some((tag, command)) = tag::unwrap(proposal) else {
                self.violations
                    .push(format!("{id} decided an untagged proposal in {slot}"));
                continue;
            };
            let response = self.nodes[index].store.apply_encoded(command);
            if self.nodes[index].waiting.remove(&tag).is_some() {
                self.reply(id, tag, Reply::Response(response));
            }
        }
        let digest = self.nodes[index].store.digest();
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

    // ----------------------------------------------------------------------
    // Clients
    // ----------------------------------------------------------------------

    fn reply(&mut self, node: NodeId, tag: RequestTag, reply: Reply) {
        self.schedule_client_event(ClientEvent::Reply {
            client: tag.client,
            request: tag.request,
            node,
            reply,
        });
    }

    /// Puts a request or reply on the client links, with a random delay.
    fn schedule_client_event(&mut self, event: ClientEvent) {
        let delay = self
            .rng
            .between(1, self.options.client_delay_max_units.max(1));
        let order = self.rng.next_u64();
        self.client_events.insert((self.now + delay, order), event);
    }

    fn deliver_client_events(&mut self) {
        let later = self.client_events.split_off(&(self.now + 1, 0));
        let due = std::mem::replace(&mut self.client_events, later);
        for event in due.into_values() {
            match event {
                ClientEvent::Request { node, tag, command } => {
                    self.node_receive_request(node, tag, command)
                }
                ClientEvent::Reply {
                    client,
                    request,
                    node,
                    reply,
                } => self.client_receive(client as usize, request, node, reply),
            }
        }
    }

    fn node_receive_request(&mut self, id: NodeId, tag: RequestTag, command: Command) {
        let index = self.node_index(id);
        let node = &mut self.nodes[index];
        let Some(replica) = node.replica.as_mut() else {
            return; // A crashed node loses the request; the client times out.
        };
        if command.operation.is_read() {
            let read = ReadId(node.next_read);
            node.next_read += 1;
            node.reads.insert(read, (tag, command.operation));
            replica.read(read);
        } else {
            node.waiting.insert(tag, ());
            replica.propose(tag::wrap(tag, &command.encode()));
        }
    }

    fn send_request(&mut self, client: usize, node: NodeId, command: Command) -> u64 {
        let request = self.clients[client].next_request;
        self.clients[client].next_request += 1;
        let tag = RequestTag {
            client: self.clients[client].id,
            request,
        };
        self.schedule_client_event(ClientEvent::Request { node, tag, command });
        request
    }

    fn random_node(&mut self) -> NodeId {
        NodeId(1 + self.rng.below(self.options.nodes as u64))
    }

    fn step_clients(&mut self) {
        for client in 0..self.clients.len() {
            self.step_client(client);
        }
    }

    fn step_client(&mut self, client: usize) {
        let now = self.now;
        let timeout = self.options.attempt_timeout_units;
        if let Some(registering) = &self.clients[client].registering {
            if now >= registering.attempt_deadline_units {
                let node = self.random_node();
                let request =
                    self.send_request(client, node, Command::untagged(Operation::RegisterSession));
                let registering = self.clients[client].registering.as_mut().expect("checked");
                registering.attempts.push(request);
                registering.attempt_deadline_units = now + timeout;
            }
            return;
        }
        if self.clients[client].current.is_none() {
            if !self.clients_active || !self.rng.chance(1, 20) {
                return;
            }
            if self.clients[client].session.is_none() {
                self.start_registration(client);
                return;
            }
            let operation = self.new_operation(client);
            self.clients[client].current = Some(operation);
            self.send_attempt(client);
            return;
        }
        let current = self.clients[client].current.as_ref().expect("checked");
        if now < current.attempt_deadline_units {
            return;
        }
        // The attempt timed out: a write may or may not have been proposed.
        let is_write = !current.operation.is_read();
        let attempts = current.attempts.len();
        if is_write {
            self.clients[client]
                .current
                .as_mut()
                .expect("checked")
                .maybe_applied = true;
        }
        if is_write && self.attempts_max.is_some_and(|max| attempts >= max) {
            self.finish(client, None, RecordStatus::Info, None);
            return;
        }
        self.send_attempt(client);
    }

    fn start_registration(&mut self, client: usize) {
        let node = self.random_node();
        let request =
            self.send_request(client, node, Command::untagged(Operation::RegisterSession));
        self.clients[client].registering = Some(ClientOperation {
            operation: Operation::RegisterSession,
            record_name: "register",
            key: String::new(),
            value: String::new(),
            call_units: self.now,
            attempts: vec![request],
            attempt_deadline_units: self.now + self.options.attempt_timeout_units,
            maybe_applied: false,
            sequence: None,
        });
    }

    fn new_operation(&mut self, client: usize) -> ClientOperation {
        let key_number = self.rng.below(self.options.keys as u64);
        let key = format!("k{key_number}");
        let key_bytes = Bytes::from(key.clone().into_bytes());
        let choice = self.rng.below(10);
        let (operation, record_name, value) = match choice {
            0..=2 => (Operation::Get { key: key_bytes }, "get", String::new()),
            3 => (
                Operation::Contains { key: key_bytes },
                "contains",
                String::new(),
            ),
            4..=7 => {
                let state = &mut self.clients[client];
                state.values_written += 1;
                let value = format!("c{}v{}", state.id, state.values_written);
                (
                    Operation::Set {
                        key: key_bytes,
                        value: Bytes::from(value.clone().into_bytes()),
                        condition: synod_kv::SetCondition::Always,
                    },
                    "set",
                    value,
                )
            }
            _ => (
                Operation::Remove { key: key_bytes },
                "remove",
                String::new(),
            ),
        };
        let sequence = if operation.is_read() {
            None
        } else {
            let state = &mut self.clients[client];
            let sequence = Sequence(state.next_sequence);
            state.next_sequence += 1;
            Some(sequence)
        };
        ClientOperation {
            operation,
            record_name,
            key,
            value,
            call_units: self.now,
            attempts: Vec::new(),
            attempt_deadline_units: 0,
            maybe_applied: false,
            sequence,
        }
    }

    fn send_attempt(&mut self, client: usize) {
        let current = self.clients[client]
            .current
            .as_ref()
            .expect("an operation is current");
        let command = match (current.sequence, self.clients[client].session) {
            (Some(sequence), Some(session)) => Command {
                session: Some(SessionTag { session, sequence }),
                operation: current.operation.clone(),
            },
            _ => Command::untagged(current.operation.clone()),
        };
        let node = self.random_node();
        let request = self.send_request(client, node, command);
        let deadline = self.now + self.options.attempt_timeout_units;
        let current = self.clients[client].current.as_mut().expect("checked");
        current.attempts.push(request);
        current.attempt_deadline_units = deadline;
    }

    fn client_receive(&mut self, client: usize, request: u64, node: NodeId, reply: Reply) {
        if let Some(registering) = &self.clients[client].registering {
            if registering.attempts.contains(&request) {
                if let Reply::Response(Response::SessionRegistered(session)) = reply {
                    let state = &mut self.clients[client];
                    state.session = Some(session);
                    state.next_sequence = 1;
                    state.registering = None;
                } else {
                    // Retry the registration promptly.
                    let registering = self.clients[client].registering.as_mut().expect("checked");
                    registering.attempt_deadline_units = self.now;
                }
            }
            return;
        }
        let Some(current) = &self.clients[client].current else {
            return;
        };
        if !current.attempts.contains(&request) {
            return; // An answer to an operation the client has moved past.
        }
        let is_write = !current.operation.is_read();
        match reply {
            Reply::Response(response) => self.complete_with(client, node, response),
            Reply::Rejected | Reply::ReadFailed => {
                // This attempt had no effect; retry soon, elsewhere.
                let backoff = self.rng.between(5, 30);
                let current = self.clients[client].current.as_mut().expect("checked");
                let last = *current.attempts.last().expect("an attempt was sent");
                if last == request {
                    current.attempt_deadline_units = self.now + backoff;
                    if is_write && !current.maybe_applied {
                        // Still certain: nothing of this op took effect yet.
                    }
                }
            }
        }
    }

    fn complete_with(&mut self, client: usize, node: NodeId, response: Response) {
        let current = self.clients[client].current.as_ref().expect("checked");
        let name = current.record_name;
        match (name, response) {
            ("get", Response::Value(value)) => {
                let (found, text) = match value {
                    Some(bytes) => (true, String::from_utf8_lossy(&bytes).into_owned()),
                    None => (false, String::new()),
                };
                self.clients[client]
                    .current
                    .as_mut()
                    .expect("checked")
                    .value = text;
                self.finish(client, Some(node), RecordStatus::Ok, Some(found));
            }
            ("contains", Response::Found(found)) => {
                self.finish(client, Some(node), RecordStatus::Ok, Some(found))
            }
            ("set", Response::Stored(_)) => {
                self.finish(client, Some(node), RecordStatus::Ok, Some(false))
            }
            ("remove", Response::Removed(found)) => {
                self.finish(client, Some(node), RecordStatus::Ok, Some(found))
            }
            (_, Response::SessionExpired) => {
                let status = if current.maybe_applied {
                    RecordStatus::Info
                } else {
                    RecordStatus::Fail
                };
                self.clients[client].session = None;
                self.finish(client, None, status, None);
            }
            (name, other) => {
                self.violations.push(format!(
                    "client {client} got {other:?} for a {name} operation"
                ));
                self.finish(client, None, RecordStatus::Info, None);
            }
        }
    }

    fn finish(
        &mut self,
        client: usize,
        node: Option<NodeId>,
        status: RecordStatus,
        found: Option<bool>,
    ) {
        let state = &mut self.clients[client];
        let current = state.current.take().expect("an operation is current");
        state.completed += 1;
        let is_read = current.operation.is_read();
        if is_read && status != RecordStatus::Ok {
            return; // A read that never completed had no effect: nothing to check.
        }
        let record = Record {
            client: state.id,
            operation: current.record_name,
            key: current.key,
            value: current.value,
            found: found.unwrap_or(false),
            status,
            call: current.call_units * NANOSECONDS_PER_UNIT,
            return_time: if status == RecordStatus::Ok {
                self.now * NANOSECONDS_PER_UNIT
            } else {
                0
            },
            node: node.map(|id| id.0),
        };
        if self.options.trace {
            let line = format!("client {} {:?}", record.client, record);
            self.log(|| line);
        }
        self.history.push(record);
    }

    /// Operations still outstanding (registrations included).
    pub fn busy_clients(&self) -> usize {
        self.clients
            .iter()
            .filter(|client| client.is_busy())
            .count()
    }

    /// Forces the replicas' applied state to be compared at the end: every
    /// running replica must have applied the same number of slots.
    pub fn replicas_converged(&self) -> bool {
        let applied: Vec<Slot> = self
            .nodes
            .iter()
            .filter_map(|node| node.replica.as_ref().map(|replica| replica.applied()))
            .collect();
        applied.windows(2).all(|pair| pair[0] == pair[1])
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

fn new_storage() -> MemoryStorage {
    MemoryStorage::new(StorageOptions::default()).expect("a new simulated disk opens")
}

fn new_disk() -> AcceptorStore<MemoryStorage> {
    let mut storage = new_storage();
    let recovered = storage.recover().expect("an empty disk recovers");
    AcceptorStore::recover(storage, &recovered).expect("an empty log decodes")
}

fn new_replica(
    options: &WorldOptions,
    members: &[NodeId],
    id: NodeId,
    durable: DurableState,
    seed: u64,
) -> Replica {
    let mut config = Config::new(id, members.to_vec());
    config.mutation = options.mutation;
    config.snapshot_interval_slots = options.snapshot_interval_slots;
    Replica::new(config, durable, seed)
}

fn describe(envelope: &Envelope) -> String {
    let detail = match &envelope.message {
        Message::Prepare {
            ballot,
            first_undecided,
        } => {
            format!("prepare {ballot} from {first_undecided}")
        }
        Message::Promise {
            ballot,
            committed,
            entries,
        } => format!(
            "promise {ballot} committed {} with {} entries",
            committed.0,
            entries.len()
        ),
        Message::Accept {
            ballot,
            committed,
            proposals,
        } => format!(
            "accept {ballot} committed {} slots {:?}",
            committed.0,
            proposals
                .iter()
                .map(|proposal| proposal.slot.0)
                .collect::<Vec<_>>()
        ),
        Message::Accepted { ballot, slots } => format!(
            "accepted {ballot} slots {:?}",
            slots.iter().map(|slot| slot.0).collect::<Vec<_>>()
        ),
        Message::Heartbeat {
            ballot,
            committed,
            round,
        } => {
            format!(
                "heartbeat {ballot} committed {} round {}",
                committed.0, round.0
            )
        }
        Message::HeartbeatAck {
            ballot,
            round,
            committed,
        } => {
            format!(
                "heartbeat-ack {ballot} round {} committed {}",
                round.0, committed.0
            )
        }
        Message::Reject { rejected, promised } => format!("reject {rejected} promised {promised}"),
        Message::Forward { commands } => format!("forward {} commands", commands.len()),
        Message::ForwardRejected { commands, leader } => {
            format!(
                "forward-rejected {} commands leader {leader:?}",
                commands.len()
            )
        }
        Message::ReadIndexRequest { request } => format!("read-index-request {}", request.0),
        Message::ReadIndexReply {
            request,
            read_index,
            ..
        } => {
            format!("read-index-reply {} index {}", request.0, read_index.0)
        }
        Message::ReadIndexRejected { request } => format!("read-index-rejected {}", request.0),
        Message::CatchUpRequest { from } => format!("catch-up-request from {}", from.0),
        Message::CatchUp { entries, committed } => {
            format!(
                "catch-up {} entries committed {}",
                entries.len(),
                committed.0
            )
        }
        Message::InstallSnapshot {
            snapshot,
            committed,
        } => format!(
            "install-snapshot up to {} committed {}",
            snapshot.end.0, committed.0
        ),
    };
    format!("{} -> {} {detail}", envelope.from, envelope.to)
}
