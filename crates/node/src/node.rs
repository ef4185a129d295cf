//! [`Node`]: one replica — the consensus core, the state machine, and the
//! clients waiting on them — as a deterministic state machine.

use bytes::Bytes;
use synod_kv::{Command, Operation, Principal, StoreConfig, UnixMillis};
use synod_paxos::{
    ChangeError, Config, Configuration, ConfigurationChange, Decided, DurableState, Envelope,
    Message, Mutation, NodeId, Released, Replica, Role, Slot, SplitMix64,
};

use crate::event::Event;
use crate::machine::{NodeError, SnapshotToEncode, StateMachine};
use crate::persist::{PersistBatch, PersistQueue, PersistSequence, Release};
use crate::request::{read_error, rejection_error, Reply, Request, RequestError};
use crate::tag::{self, RequestTag};
use crate::waiters::Waiters;

/// A write not decided within this many ticks is answered "outcome
/// unknown" (it was proposed, so it may still be chosen). The server ticks
/// every 10 ms, so 5 s.
pub const WRITE_TIMEOUT_TICKS_DEFAULT: u64 = 500;

/// Writes waiting for their slot on one node at most; more are refused as
/// overloaded. The core bounds what it queues, but a write forwarded to the
/// leader leaves the core's queue at once while its client still waits here.
pub const WRITES_PENDING_MAX_DEFAULT: usize = 100_000;

/// A leader that proposed its clock because a key fell due proposes it
/// again after this many ticks (100 ms) if the key is still there: the
/// first proposal may have been lost with a leadership.
pub const EXPIRY_PROPOSAL_RETRY_TICKS: u64 = 10;

/// Where the node id sits in a request tag's client part: the top 16 bits
/// name the node, the low 48 are drawn at random per incarnation.
const TAG_CLIENT_NODE_SHIFT_BITS: u32 = 48;

/// How a node is set up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeOptions {
    /// The consensus core's configuration (members, timeouts, limits,
    /// snapshot thresholds).
    pub replica: Config,
    /// The state machine's configuration.
    pub store: StoreConfig,
    /// See [`WRITE_TIMEOUT_TICKS_DEFAULT`].
    pub write_timeout_ticks: u64,
    /// See [`WRITES_PENDING_MAX_DEFAULT`].
    pub writes_pending_max: usize,
    /// Report the store's digest with every applied slot and installed
    /// snapshot ([`Event::Applied`]), so a simulator can compare replicas.
    pub record_digests: bool,
}

impl NodeOptions {
    /// Options with every default around `replica`.
    pub fn new(replica: Config) -> NodeOptions {
        NodeOptions {
            replica,
            store: StoreConfig::default(),
            write_timeout_ticks: WRITE_TIMEOUT_TICKS_DEFAULT,
            writes_pending_max: WRITES_PENDING_MAX_DEFAULT,
            record_digests: false,
        }
    }
}

/// Everything a node wants done, collected by [`Node::ready`]. Handle it in
/// this order: send `messages`, hand `persist` to storage (in order), answer
/// `replies`, observe `events`. Every message here may go out at once: none
/// makes a receiver rely on a write of this node still in flight (the core
/// counts its own votes only once durable, see [`synod_paxos::OwnVotes`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[must_use = "a Ready carries messages, writes and replies that must be handled"]
pub struct Ready<H> {
    /// Messages to send now.
    pub messages: Vec<Envelope>,
    /// Batches to write, in this order; report each with
    /// [`Node::persisted`] once written (and synced, if it says so).
    pub persist: Vec<PersistBatch>,
    /// Answers to clients.
    pub replies: Vec<Reply<H>>,
    /// What happened, for metrics, logs and checks.
    pub events: Vec<Event>,
    /// A snapshot to encode, off the driving loop if it can; hand the
    /// bytes to [`Node::snapshot_encoded`].
    pub snapshot_to_encode: Option<SnapshotToEncode>,
}

impl<H> Default for Ready<H> {
    fn default() -> Ready<H> {
        Ready {
            messages: Vec::new(),
            persist: Vec::new(),
            replies: Vec::new(),
            events: Vec::new(),
            snapshot_to_encode: None,
        }
    }
}

impl<H> Ready<H> {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
            && self.persist.is_empty()
            && self.replies.is_empty()
            && self.events.is_empty()
            && self.snapshot_to_encode.is_none()
    }
}

/// One replica of a synod cluster: the Multi-Paxos core, the kv store, the
/// table of clients waiting for writes and reads, apply, the compaction
/// policy, and the rule that persist requests complete in order. It does no
/// IO and reads no clock: see the crate documentation for how to drive it.
///
/// `H` is whatever the driver needs to answer a client (a channel, a
/// connection id, a simulated client's request number); the node hands it
/// back in a [`Reply`]. Equality and hashing cover the whole state, so a
/// model checker can keep nodes in its state set.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node<H> {
    replica: Replica,
    machine: StateMachine,
    write_timeout_ticks: u64,
    writes_pending_max: usize,
    /// The client part of every request tag this incarnation proposes (see
    /// [`tag_client`]), so that answers are never routed to the wrong waiter.
    tag_client: u64,
    /// The request part of the next tag: tags are never reused.
    next_request: u64,
    waiters: Waiters<H>,
    /// The leader as of the last [`Node::ready`], to notice a change.
    known_leader: Option<NodeId>,
    /// Ticks since this incarnation started: the clock of write deadlines.
    now_tick: u64,
    persists: PersistQueue,
    /// The latest clock reading the driver gave ([`Node::set_time`]).
    time: Option<UnixMillis>,
    /// When this node last proposed its clock to remove keys that fell due.
    expiry_proposed_tick: Option<u64>,
    /// Serve reads by the local clock (a mutation; see
    /// [`Mutation::ReadsExpireByLocalClock`]).
    reads_expire_by_local_clock: bool,
    /// Drop transactions' watches (a mutation; see
    /// [`Mutation::WatchesIgnored`]).
    watches_ignored: bool,
    /// What the inputs produced since the last [`Node::ready`].
    output: Ready<H>,
}

impl<H> Node<H> {
    /// A node starting (or restarting) from `durable` state: the state
    /// machine is restored from its snapshot, and the decided log after it
    /// is applied again as the core hands it out. `seed` must differ at
    /// every start of the same node (it drives the core's randomized
    /// timeouts and this incarnation's request tags).
    ///
    /// # Errors
    ///
    /// [`NodeError::SnapshotUnreadable`] when the durable snapshot does not
    /// restore.
    pub fn new(
        options: NodeOptions,
        durable: DurableState,
        seed: u64,
    ) -> Result<Node<H>, NodeError> {
        let machine = StateMachine::recover(
            durable.snapshot.as_ref(),
            options.store,
            options.record_digests,
        )?;
        let id = options.replica.id;
        let mut rng = SplitMix64::new(seed);
        let replica_seed = rng.next_u64();
        let tag_client = tag_client(id, rng.next_u64());
        let reads_expire_by_local_clock =
            options.replica.mutation() == Mutation::ReadsExpireByLocalClock;
        let watches_ignored = options.replica.mutation() == Mutation::WatchesIgnored;
        let replica = Replica::new(options.replica, durable, replica_seed);
        assert_eq!(
            replica.applied(),
            machine.next_apply(),
            "the core resumes applying where the snapshot ends"
        );
        Ok(Node {
            replica,
            machine,
            write_timeout_ticks: options.write_timeout_ticks,
            writes_pending_max: options.writes_pending_max,
            tag_client,
            next_request: 0,
            waiters: Waiters::new(),
            known_leader: None,
            now_tick: 0,
            persists: PersistQueue::default(),
            time: None,
            expiry_proposed_tick: None,
            reads_expire_by_local_clock,
            watches_ignored,
            output: Ready::default(),
        })
    }

    // ----------------------------------------------------------------------
    // Inputs
    // ----------------------------------------------------------------------

    /// A client request. Its answer comes back in a [`Reply`] carrying
    /// `handle`; every request is answered exactly once while the node
    /// lives (or by [`Node::stop`]).
    pub fn request(&mut self, handle: H, request: Request) {
        match request {
            Request::Write(command) => self.write(handle, command),
            Request::Read(principal, operation) => {
                if let Err(error) = check_read(&operation) {
                    self.reply(handle, Err(error));
                    return;
                }
                let id = self.waiters.add_read(principal, operation, handle);
                self.replica.read(id);
            }
            Request::StaleRead(principal, operation) => {
                let result =
                    check_read(&operation).map(|()| self.machine.read(principal, &operation));
                self.reply(handle, result);
            }
        }
    }

    /// Proposes `command`. A read operation may be written too: it is then
    /// answered from the store when its slot applies, ordered in the log
    /// behind the writes before it.
    fn write(&mut self, handle: H, mut command: Command) {
        if let (true, Operation::Transaction { watches, .. }) =
            (self.watches_ignored, &mut command.operation)
        {
            watches.clear();
        }
        if let Err(error) = command.validate() {
            self.reply(handle, Err(error.into()));
            return;
        }
        if matches!(command.operation, Operation::AdvanceClock { .. }) {
            let reason = "only the leader advances the cluster's clock".to_string();
            self.reply(handle, Err(RequestError::Invalid { reason }));
            return;
        }
        if self.waiters.writes_pending() >= self.writes_pending_max {
            self.reply(handle, Err(RequestError::Overloaded));
            return;
        }
        let tag = RequestTag {
            client: self.tag_client,
            request: self.next_request,
        };
        self.next_request += 1;
        let deadline_tick = self.now_tick + self.write_timeout_ticks;
        self.waiters
            .add_write(tag, handle, self.replica.leader(), deadline_tick);
        self.replica.propose(tag::wrap(tag, &command.encode()));
    }

    /// A message from a peer.
    pub fn step(&mut self, from: NodeId, message: Message) {
        self.replica.step(from, message);
    }

    /// Logical time passes by one tick.
    pub fn tick(&mut self) {
        self.now_tick += 1;
        self.replica.tick();
        self.waiters
            .expire_writes(self.now_tick, &mut self.output.replies);
        self.propose_due_expiry();
    }

    /// The wall clock reads `now` (Unix milliseconds). The node reads no
    /// clock itself: the driver calls this as often as it likes, at least
    /// once per tick. As leader, the node stamps every batch it forms with
    /// the latest reading, and the store's agreed clock is the largest
    /// stamp applied (see `synod_kv::expiry`): a wrong clock here makes
    /// keys expire early or late, never differently on two replicas.
    pub fn set_time(&mut self, now: UnixMillis) {
        let now = now.min(UnixMillis::MAX);
        if self.time == Some(now) {
            return;
        }
        self.time = Some(now);
        let stamp = Command::untagged(Operation::AdvanceClock { now }).encode();
        self.replica
            .set_batch_stamp(Some(tag::wrap(tag::CLOCK_STAMP, &stamp)));
    }

    /// As leader, proposes the clock alone when a key fell due and no
    /// client write would carry it: expired keys are removed through the
    /// log, on time.
    fn propose_due_expiry(&mut self) {
        let Some(now) = self.time else {
            return;
        };
        let due = self
            .machine
            .store()
            .next_deadline()
            .is_some_and(|deadline| deadline <= now);
        let retry_due = self
            .expiry_proposed_tick
            .is_none_or(|proposed| self.now_tick >= proposed + EXPIRY_PROPOSAL_RETRY_TICKS);
        if !due || !retry_due || self.replica.role() != Role::Leader {
            return;
        }
        self.expiry_proposed_tick = Some(self.now_tick);
        let stamp = Command::untagged(Operation::AdvanceClock { now }).encode();
        self.replica.propose(tag::wrap(tag::CLOCK_STAMP, &stamp));
    }

    /// Proposes a configuration change; see [`Replica::propose_change`].
    /// The change is in force once the decided log reaches the slot
    /// [`synod_paxos::Status::configuration_start`] shows for it.
    pub fn propose_change(
        &mut self,
        change: ConfigurationChange,
    ) -> Result<Configuration, ChangeError> {
        self.replica.propose_change(change)
    }

    /// Hands leadership to `to`; see [`Replica::transfer_leadership`].
    pub fn transfer_leadership(&mut self, to: NodeId) -> Result<(), synod_paxos::TransferError> {
        self.replica.transfer_leadership(to)
    }

    /// Campaigns now, skipping the pre-vote; see [`Replica::campaign_now`].
    pub fn campaign_now(&mut self) {
        self.replica.campaign_now();
    }

    /// The snapshot [`Ready::snapshot_to_encode`] handed out at `end` is
    /// encoded: the core compacts its log below it (and reports
    /// [`Event::SnapshotTaken`]). Until then no other snapshot is handed
    /// out. A driver that restarts the node drops encodings in flight.
    pub fn snapshot_encoded(&mut self, end: Slot, state: Bytes) {
        if let Some(event) = self.machine.snapshot_encoded(&mut self.replica, end, state) {
            self.output.events.push(event);
        }
    }

    /// Batch `sequence` of [`Ready::persist`] is written (and synced, if it
    /// had to be). Completions must come in the order the batches were
    /// handed out. What they guarded is released: collect it with the next
    /// [`Node::ready`].
    ///
    /// # Errors
    ///
    /// [`NodeError::SnapshotUnreadable`] when a snapshot received from a
    /// peer does not restore; the node must stop.
    ///
    /// # Panics
    ///
    /// When `sequence` is not the oldest batch outstanding.
    pub fn persisted(&mut self, sequence: PersistSequence) -> Result<(), NodeError> {
        for release in self.persists.completed(sequence) {
            self.let_go(release)?;
        }
        Ok(())
    }

    /// The node stops: every waiting client is answered (writes "outcome
    /// unknown", reads "stopping"), and nothing outstanding is released.
    pub fn stop(&mut self) -> Vec<Reply<H>> {
        self.persists.clear();
        let mut replies = std::mem::take(&mut self.output.replies);
        self.waiters.answer_all(&mut replies);
        replies
    }

    // ----------------------------------------------------------------------
    // Output
    // ----------------------------------------------------------------------

    /// Collects everything the inputs since the last call produced. Call it
    /// after every round of inputs, and again after [`Node::persisted`].
    pub fn ready(&mut self) -> Ready<H> {
        let ready = self.replica.ready();
        for rejection in ready.rejected {
            // A rejected command of another node's client (forwarded to us)
            // has no waiter here; its own node hears of it.
            if let Some((tag, _)) = tag::unwrap(&rejection.command) {
                self.answer_write(tag, Err(rejection_error(rejection.reason)));
            }
        }
        for (read, failure) in ready.failed_reads {
            if let Some((_, _, handle)) = self.waiters.take_read(read) {
                self.reply(handle, Err(read_error(failure)));
            }
        }
        self.output.messages.extend(ready.messages);
        let (batch, releasable) = self.persists.push(ready.persist, ready.decided);
        if let Some(batch) = batch {
            self.output.persist.push(batch);
        }
        for release in releasable {
            self.let_go(release)
                .expect("a request with nothing to write carries no snapshot");
        }
        self.observe_leader();
        std::mem::take(&mut self.output)
    }

    /// Releases a completed request, or applies decisions learned behind
    /// one.
    fn let_go(&mut self, release: Release) -> Result<(), NodeError> {
        match release {
            Release::Request(request) => self.release(request.persisted()),
            Release::Decided(decided) => {
                self.apply(decided);
                Ok(())
            }
        }
    }

    /// Sends, installs, applies and serves what a completed persist request
    /// released, in the order [`Released`] prescribes; then hands the
    /// replica its own votes, now durable (what they decide comes out of
    /// the next [`Node::ready`]).
    fn release(&mut self, released: Released) -> Result<(), NodeError> {
        self.output.messages.extend(released.messages);
        if let Some(snapshot) = released.snapshot {
            let event = self.machine.install(&snapshot)?;
            self.output.events.push(event);
        }
        self.apply(released.decided);
        for read in released.reads {
            if let Some((principal, operation, handle)) = self.waiters.take_read(read) {
                let response = self.serve_read(principal, &operation);
                self.reply(handle, Ok(response));
            }
        }
        self.replica.own_votes_durable(released.own_votes);
        Ok(())
    }

    /// Answers a read from the store as applied now.
    fn serve_read(&self, principal: Principal, operation: &Operation) -> synod_kv::Response {
        if let (true, Operation::Get { key }, Some(now)) =
            (self.reads_expire_by_local_clock, operation, self.time)
        {
            // Answered as missing only to whom may read it at all.
            let due = self
                .store()
                .deadline(key)
                .is_some_and(|deadline| deadline <= now);
            if due && self.store().access().check(principal, operation).is_ok() {
                return synod_kv::Response::Value(None);
            }
        }
        self.machine.read(principal, operation)
    }

    /// Applies decided slots in order, answers their writers, and compacts
    /// when a snapshot is due.
    fn apply(&mut self, decided: Vec<Decided>) {
        for decided in decided {
            let (event, answers) = self.machine.apply(decided);
            self.output.events.push(event);
            for (tag, response) in answers {
                if tag != tag::CLOCK_STAMP {
                    self.answer_write(tag, Ok(response));
                }
            }
        }
        if let Some(snapshot) = self.machine.snapshot_due(&self.replica) {
            self.output.snapshot_to_encode = Some(snapshot);
        }
    }

    /// Notices a change of leader (see [`Waiters::leader_changed`]).
    fn observe_leader(&mut self) {
        let leader = self.replica.leader();
        if leader == self.known_leader {
            return;
        }
        let previous = std::mem::replace(&mut self.known_leader, leader);
        self.output.events.push(Event::LeaderChanged { leader });
        self.waiters
            .leader_changed(previous, leader, &mut self.output.replies);
    }

    fn answer_write(&mut self, tag: RequestTag, result: crate::RequestResult) {
        let agreed_time = result.is_ok().then(|| self.machine.store().clock());
        if let Some(mut reply) = self.waiters.answer_write(tag, result) {
            reply.agreed_time = agreed_time;
            self.output.replies.push(reply);
        }
    }

    fn reply(&mut self, handle: H, result: crate::RequestResult) {
        let agreed_time = result.is_ok().then(|| self.machine.store().clock());
        self.output.replies.push(Reply {
            handle,
            result,
            agreed_time,
        });
    }

    // ----------------------------------------------------------------------
    // Inspection
    // ----------------------------------------------------------------------

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.replica.id()
    }

    /// The consensus core, for status pages and checks.
    pub fn replica(&self) -> &Replica {
        &self.replica
    }

    /// The state machine.
    pub fn store(&self) -> &synod_kv::Store {
        self.machine.store()
    }

    /// Every slot below this is applied to the state machine here.
    pub fn applied(&self) -> Slot {
        self.machine.next_apply()
    }

    /// Writes waiting for their slot here.
    pub fn writes_pending(&self) -> usize {
        self.waiters.writes_pending()
    }

    /// Reads waiting to be served here.
    pub fn reads_pending(&self) -> usize {
        self.waiters.reads_pending()
    }

    /// Persist batches handed out and not yet reported completed.
    pub fn persists_outstanding(&self) -> usize {
        self.persists.outstanding()
    }
}

/// The client part of this incarnation's request tags. A node id below
/// 2^16 fills the top bits and a random number the rest, so no two nodes
/// ever share it, whatever their seeds (the model starts every node with
/// the same seed), and incarnations of one node collide with chance 2^-48.
/// Larger ids mix into a random number instead: collisions are then only
/// unlikely (2^-64).
fn tag_client(id: NodeId, random: u64) -> u64 {
    if id.0 < 1 << (64 - TAG_CLIENT_NODE_SHIFT_BITS) {
        (id.0 << TAG_CLIENT_NODE_SHIFT_BITS) | (random >> (64 - TAG_CLIENT_NODE_SHIFT_BITS))
    } else {
        random ^ id.0.rotate_left(32)
    }
}

/// A read request must name a read operation within the limits.
fn check_read(operation: &synod_kv::Operation) -> Result<(), RequestError> {
    if !operation.is_read() {
        let reason = "a write operation cannot be served as a read".to_string();
        return Err(RequestError::Invalid { reason });
    }
    operation.validate().map_err(RequestError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_kv::{Operation, SetCondition};

    /// Runs a one-node cluster's output to quiescence with its disk, and
    /// returns the snapshots it handed out to encode.
    fn drive(node: &mut Node<u64>, disk: &mut DurableState) -> Vec<SnapshotToEncode> {
        let mut handed_out = Vec::new();
        loop {
            let ready = node.ready();
            if ready.is_empty() {
                return handed_out;
            }
            for batch in ready.persist {
                disk.apply(&batch.changes);
                node.persisted(batch.sequence).expect("no peer snapshot");
            }
            handed_out.extend(ready.snapshot_to_encode);
        }
    }

    fn write(node: &mut Node<u64>, handle: u64) {
        let set = Operation::Set {
            key: Bytes::from(format!("key {handle}")),
            value: Bytes::from_static(b"value"),
            condition: SetCondition::Always,
        };
        node.request(handle, Request::Write(Command::untagged(set)));
    }

    #[test]
    fn a_snapshot_is_encoded_off_the_loop_and_compacts_only_once_it_comes_back() {
        let mut config = Config::new(NodeId(1), vec![NodeId(1)]);
        config.snapshot_interval_slots = 2;
        let mut node: Node<u64> =
            Node::new(NodeOptions::new(config), DurableState::default(), 7).expect("starts");
        let mut disk = DurableState::default();
        while node.replica().role() != synod_paxos::Role::Leader {
            node.tick();
            drive(&mut node, &mut disk);
        }
        let mut handed_out = Vec::new();
        for handle in 0..6 {
            write(&mut node, handle);
            handed_out.extend(drive(&mut node, &mut disk));
        }
        assert_eq!(handed_out.len(), 1, "one encoding at a time");
        let snapshot = handed_out.pop().expect("handed out");
        assert_eq!(node.replica().log_start(), Slot(0), "nothing compacted yet");
        node.snapshot_encoded(Slot(snapshot.end.0 + 100), Bytes::new());
        assert_eq!(node.replica().log_start(), Slot(0), "one never handed out");
        node.snapshot_encoded(snapshot.end, snapshot.encode());
        assert_eq!(node.replica().log_start(), snapshot.end);
        let ready = node.ready();
        assert!(ready
            .events
            .contains(&Event::SnapshotTaken { end: snapshot.end }));
        for batch in ready.persist {
            disk.apply(&batch.changes);
            node.persisted(batch.sequence).expect("no peer snapshot");
        }
        assert_eq!(disk.log_start(), snapshot.end, "the snapshot is persisted");
        write(&mut node, 6);
        assert_eq!(drive(&mut node, &mut disk).len(), 1, "the next one is due");
    }

    #[test]
    fn small_node_ids_never_share_a_tag_client() {
        assert_ne!(tag_client(NodeId(1), 7), tag_client(NodeId(2), 7));
        assert_eq!(tag_client(NodeId(3), u64::MAX) >> 48, 3);
        assert_ne!(
            tag_client(NodeId(1 << 20), 7),
            tag_client(NodeId(1 << 21), 7)
        );
    }
}
