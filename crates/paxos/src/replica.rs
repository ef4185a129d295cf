//! One Multi-Paxos replica: acceptor, learner and (when elected) proposer.
//!
//! The replica owns the acceptor state (promise and accepted entries), the
//! learner state (which slots are decided, what has been handed out for
//! apply) and, while it leads, the proposer state (slot assignment, votes,
//! read confirmation rounds). It performs no IO: inputs arrive through
//! [`Replica::step`], [`Replica::tick`], [`Replica::propose`] and
//! [`Replica::read`]; all output leaves through [`Replica::ready`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;

use crate::config::{Config, Mutation};
use crate::message::{Envelope, Message, Proposal};
use crate::ready::{
    Decided, DurableState, PersistRequest, PersistentChanges, ReadError, Ready, RejectReason,
    Rejection,
};
use crate::rng::SplitMix64;
use crate::types::{Ballot, Entry, NodeId, ReadId, Slot, SlotEntry, Snapshot, Value};

/// What a replica currently does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Accepts what a leader proposes; forwards client requests to it.
    Follower,
    /// Runs phase 1 to become leader.
    Candidate,
    /// Runs phase 2 for every new slot.
    Leader,
}

impl Role {
    /// Lower-case name for status output.
    pub fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// A snapshot of the replica's state for status pages and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// This replica.
    pub id: NodeId,
    /// Its role.
    pub role: Role,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// The highest ballot it promised.
    pub promised: Ballot,
    /// Every slot below this is decided here.
    pub committed: Slot,
    /// Every slot below this has been handed out for apply.
    pub applied: Slot,
    /// The leader's view of each follower's commit index (leader only).
    pub followers: Vec<(NodeId, Slot)>,
}

/// Votes for one slot proposed by this leader.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Votes {
    value: Value,
    accepted_by: BTreeSet<NodeId>,
    sent_tick: u64,
}

/// What the leader knows of one follower.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct FollowerProgress {
    last_heard_tick: u64,
    committed: Slot,
    acknowledged_round: u64,
}

/// Who asked for a read the leader is confirming.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ReadOrigin {
    Local(ReadId),
    Remote { node: NodeId, request: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct LeaderRead {
    origin: ReadOrigin,
    read_index: Slot,
    round_needed: u64,
    deadline_tick: u64,
}

/// Proposer state of an elected leader.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Leadership {
    ballot: Ballot,
    /// The first slot not yet assigned a value under this ballot.
    next_slot: Slot,
    /// Slots below this were recovered in phase 1; reads wait for them.
    recovery_end: Slot,
    votes: BTreeMap<Slot, Votes>,
    queue: VecDeque<Bytes>,
    followers: BTreeMap<NodeId, FollowerProgress>,
    heartbeat_elapsed_ticks: u64,
    /// The latest read-confirmation round started.
    round: u64,
    round_started_tick: u64,
    /// The latest round a quorum acknowledged.
    confirmed_round: u64,
    reads: Vec<LeaderRead>,
}

/// Phase 1 in progress.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Candidacy {
    ballot: Ballot,
    promised_by: BTreeSet<NodeId>,
    /// The highest commit index among the promises.
    committed_elsewhere: Slot,
    /// The highest-ballot entry reported per slot.
    entries: BTreeMap<Slot, Entry>,
    elapsed_ticks: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum RoleState {
    Follower,
    Candidate(Candidacy),
    Leader(Box<Leadership>),
}

/// Output accumulated between two calls of [`Replica::ready`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Outbox {
    messages: Vec<Envelope>,
    gated_messages: Vec<Envelope>,
    rejected: Vec<Rejection>,
    failed_reads: Vec<(ReadId, ReadError)>,
    snapshot: Option<Snapshot>,
    decided: Vec<Decided>,
    reads: Vec<ReadId>,
}

/// A Multi-Paxos replica. See the crate documentation for how to drive it.
/// Equality and hashing cover the whole state, so model checkers can use a
/// replica as (part of) a state to deduplicate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Replica {
    config: Config,
    rng: SplitMix64,
    now_tick: u64,

    // Acceptor state; every change is mirrored into `changes` for persistence.
    promised: Ballot,
    log: BTreeMap<Slot, Entry>,
    /// The latest snapshot; the log holds nothing below `log_start`.
    snapshot: Option<Snapshot>,
    log_start: Slot,
    /// Payload bytes held in the log (an estimate: replaced entries are
    /// counted twice until the next compaction recounts).
    log_size_bytes: u64,

    // Learner state.
    /// Every slot below it is decided and its value is in `log`.
    committed: Slot,
    /// Decided slots at or above `committed` (decisions that arrived early).
    decided_ahead: BTreeSet<Slot>,
    /// Every slot below it has been handed out for apply.
    applied: Slot,
    /// Slots handed out early under the `ApplyOutOfOrder` mutation.
    applied_ahead: BTreeSet<Slot>,
    /// The latest commit index each peer reported. It can go down (a peer
    /// restarts with an older durable commit index), so catch-up picks among
    /// every peer that is ahead, in turn, instead of trusting one forever
    /// (regression: five-node seed 11659).
    peer_committed: BTreeMap<NodeId, Slot>,
    catch_up_requested_tick: Option<u64>,
    catch_up_attempts: u64,

    // Leadership.
    role: RoleState,
    leader: Option<NodeId>,
    highest_round_seen: u64,
    election_elapsed_ticks: u64,
    election_timeout_ticks: u64,

    // Requests that wait for a leader, and reads that wait for apply.
    proposals_waiting: VecDeque<(Bytes, u64)>,
    reads_waiting: VecDeque<(ReadId, u64)>,
    read_batches: BTreeMap<u64, (Vec<ReadId>, u64)>,
    next_read_request: u64,
    reads_confirmed: Vec<(ReadId, Slot, u64)>,

    changes: PersistentChanges,
    outbox: Outbox,
}

impl Replica {
    /// A replica starting (or restarting) from `durable` state as a follower.
    /// `seed` drives its randomized election timeouts and must differ at
    /// every start of the same node: it also picks where this incarnation's
    /// read-request numbers begin, so that a leader's late answer to a
    /// request of an earlier incarnation cannot be mistaken for an answer to
    /// a new one (regression: simulator seed 682, five nodes).
    pub fn new(config: Config, durable: DurableState, seed: u64) -> Replica {
        if let Err(reason) = config.validate() {
            panic!("invalid configuration: {reason}");
        }
        let mut rng = SplitMix64::new(seed ^ config.id.0.wrapping_mul(0x9E37_79B9));
        let election_timeout_ticks = random_election_timeout(&mut rng, &config);
        // Leave room below u64::MAX so the counter never wraps.
        let next_read_request = rng.next_u64() >> 1;
        let log_start = durable.log_start();
        let committed = durable.committed.max(log_start);
        for slot in log_start.0..committed.0 {
            assert!(
                durable.entries.contains_key(&Slot(slot)),
                "durable state claims slot {slot} decided but holds no value for it"
            );
        }
        assert!(
            durable.entries.range(..log_start).next().is_none(),
            "durable state holds entries below its snapshot"
        );
        let log_size_bytes = log_payload_bytes(&durable.entries);
        Replica {
            highest_round_seen: durable.promised.round,
            config,
            rng,
            now_tick: 0,
            promised: durable.promised,
            log: durable.entries,
            snapshot: durable.snapshot,
            log_start,
            log_size_bytes,
            committed,
            decided_ahead: BTreeSet::new(),
            // The caller restores its state machine from the snapshot.
            applied: log_start,
            applied_ahead: BTreeSet::new(),
            peer_committed: BTreeMap::new(),
            catch_up_requested_tick: None,
            catch_up_attempts: 0,
            role: RoleState::Follower,
            leader: None,
            election_elapsed_ticks: 0,
            election_timeout_ticks,
            proposals_waiting: VecDeque::new(),
            reads_waiting: VecDeque::new(),
            read_batches: BTreeMap::new(),
            next_read_request,
            reads_confirmed: Vec::new(),
            changes: PersistentChanges::default(),
            outbox: Outbox::default(),
        }
    }

    /// This replica's id.
    pub fn id(&self) -> NodeId {
        self.config.id
    }

    /// The configuration the replica runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current role.
    pub fn role(&self) -> Role {
        match self.role {
            RoleState::Follower => Role::Follower,
            RoleState::Candidate(_) => Role::Candidate,
            RoleState::Leader(_) => Role::Leader,
        }
    }

    /// The leader this replica knows of (itself when leading).
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// The highest ballot promised.
    pub fn promised(&self) -> Ballot {
        self.promised
    }

    /// Every slot below this is decided here.
    pub fn committed(&self) -> Slot {
        self.committed
    }

    /// Every slot below this has been handed out for apply.
    pub fn applied(&self) -> Slot {
        self.applied
    }

    /// The first slot still held in the log (the latest snapshot's end).
    pub fn log_start(&self) -> Slot {
        self.log_start
    }

    /// The latest snapshot, if any.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// True when the applied part of the log has grown past the configured
    /// slot or byte threshold: the caller should take a snapshot of its state
    /// machine and hand it to [`Replica::compact`].
    pub fn snapshot_due(&self) -> bool {
        let applied_slots = self.log_start.distance_to(self.applied);
        applied_slots > 0
            && (applied_slots >= self.config.snapshot_interval_slots
                || self.log_size_bytes >= self.config.snapshot_log_size_max_bytes)
    }

    /// Replaces the log below `snapshot.end` with `snapshot`, the caller's
    /// state machine after applying every slot below that end (so the end
    /// may not exceed [`Replica::applied`]). The snapshot is persisted like
    /// any other state change, and sent to replicas too far behind to catch
    /// up from the log.
    pub fn compact(&mut self, snapshot: Snapshot) {
        assert!(
            snapshot.end <= self.applied,
            "a snapshot can only cover applied slots ({} > {})",
            snapshot.end,
            self.applied
        );
        if snapshot.end <= self.log_start {
            return;
        }
        self.install_log_start(snapshot.clone());
        self.changes.snapshot = Some(snapshot);
    }

    /// Drops the log below the snapshot's end and keeps the snapshot.
    fn install_log_start(&mut self, snapshot: Snapshot) {
        self.log = self.log.split_off(&snapshot.end);
        self.changes.entries = self.changes.entries.split_off(&snapshot.end);
        self.log_start = snapshot.end;
        self.log_size_bytes = log_payload_bytes(&self.log);
        self.snapshot = Some(snapshot);
    }

    /// The accepted entry of `slot`, if any.
    pub fn entry(&self, slot: Slot) -> Option<&Entry> {
        self.log.get(&slot)
    }

    /// True when `slot` is known to be decided here.
    pub fn is_decided(&self, slot: Slot) -> bool {
        slot < self.committed || self.decided_ahead.contains(&slot)
    }

    /// A status summary.
    pub fn status(&self) -> Status {
        let followers = match &self.role {
            RoleState::Leader(leadership) => leadership
                .followers
                .iter()
                .map(|(node, progress)| (*node, progress.committed))
                .collect(),
            _ => Vec::new(),
        };
        Status {
            id: self.id(),
            role: self.role(),
            leader: self.leader,
            promised: self.promised,
            committed: self.committed,
            applied: self.applied,
            followers,
        }
    }

    fn quorum(&self) -> usize {
        self.config.members.len() / 2 + 1
    }

    fn accept_quorum(&self) -> usize {
        if self.config.mutation() == Mutation::AcceptQuorumTooSmall {
            return (self.config.members.len() / 2).max(1);
        }
        self.quorum()
    }

    fn peers(&self) -> impl Iterator<Item = NodeId> + '_ {
        let id = self.id();
        self.config
            .members
            .iter()
            .copied()
            .filter(move |node| *node != id)
    }

    fn send_now(&mut self, to: NodeId, message: Message) {
        debug_assert_ne!(to, self.id(), "a replica never messages itself");
        self.outbox.messages.push(Envelope {
            from: self.id(),
            to,
            message,
        });
    }

    /// Sends `message` to every other member now.
    fn broadcast_now(&mut self, message: Message) {
        let peers: Vec<NodeId> = self.peers().collect();
        for peer in peers {
            self.send_now(peer, message.clone());
        }
    }

    /// Sends `message` to every other member once the state it announces is
    /// durable.
    fn broadcast_after_persist(&mut self, message: Message) {
        let peers: Vec<NodeId> = self.peers().collect();
        for peer in peers {
            self.send_after_persist(peer, message.clone());
        }
    }

    fn send_after_persist(&mut self, to: NodeId, message: Message) {
        debug_assert_ne!(to, self.id(), "a replica never messages itself");
        self.outbox.gated_messages.push(Envelope {
            from: self.id(),
            to,
            message,
        });
    }

    // ----------------------------------------------------------------------
    // Inputs
    // ----------------------------------------------------------------------

    /// Advances logical time by one tick: heartbeats, election timeouts,
    /// retransmissions and request timeouts all count ticks.
    pub fn tick(&mut self) {
        self.now_tick += 1;
        match &mut self.role {
            RoleState::Leader(leadership) => {
                leadership.heartbeat_elapsed_ticks += 1;
                if leadership.heartbeat_elapsed_ticks >= self.config.heartbeat_interval_ticks {
                    leadership.heartbeat_elapsed_ticks = 0;
                    self.leader_heartbeat();
                }
            }
            RoleState::Candidate(candidacy) => {
                candidacy.elapsed_ticks += 1;
                if candidacy.elapsed_ticks >= self.election_timeout_ticks {
                    self.start_election();
                }
            }
            RoleState::Follower => {
                self.election_elapsed_ticks += 1;
                if self.election_elapsed_ticks >= self.election_timeout_ticks {
                    self.start_election();
                }
            }
        }
        self.expire_requests();
        if self.catch_up_due() {
            self.request_catch_up();
        }
    }

    /// Hands a client command to the cluster. The outcome arrives later: as
    /// a decided value containing the command, or as a [`Rejection`] in
    /// [`Ready::rejected`]; a command is never dropped silently while this
    /// replica lives.
    pub fn propose(&mut self, command: Bytes) {
        let queued_max = self.config.proposals_queued_max;
        match &mut self.role {
            RoleState::Leader(leadership) => {
                if leadership.queue.len() >= queued_max {
                    self.outbox.rejected.push(Rejection {
                        command,
                        reason: RejectReason::Overloaded,
                    });
                } else {
                    leadership.queue.push_back(command);
                }
            }
            _ => {
                if self.proposals_waiting.len() >= queued_max {
                    self.outbox.rejected.push(Rejection {
                        command,
                        reason: RejectReason::Overloaded,
                    });
                } else {
                    self.proposals_waiting.push_back((command, self.now_tick));
                }
            }
        }
    }

    /// Asks for a linearizable read. When it may be served, `id` appears in
    /// [`crate::Released::reads`]: serve it from the state machine right after
    /// applying the decided values released with it. Otherwise it appears in
    /// [`Ready::failed_reads`].
    pub fn read(&mut self, id: ReadId) {
        let pending = self.reads_waiting.len() + self.reads_confirmed.len();
        if pending >= self.config.reads_pending_max {
            self.outbox.failed_reads.push((id, ReadError::Overloaded));
            return;
        }
        if matches!(self.role, RoleState::Leader(_)) {
            self.leader_add_read(ReadOrigin::Local(id));
        } else {
            self.reads_waiting.push_back((id, self.now_tick));
        }
    }

    /// Handles one message from a peer.
    pub fn step(&mut self, from: NodeId, message: Message) {
        assert_ne!(from, self.id(), "a replica never receives its own messages");
        if !self.config.members.contains(&from) {
            return;
        }
        match message {
            Message::Prepare {
                ballot,
                first_undecided,
            } => self.handle_prepare(from, ballot, first_undecided),
            Message::Promise {
                ballot,
                committed,
                entries,
            } => self.handle_promise(from, ballot, committed, entries),
            Message::Accept {
                ballot,
                committed,
                proposals,
            } => self.handle_accept(from, ballot, committed, proposals),
            Message::Accepted { ballot, slots } => self.handle_accepted(from, ballot, &slots),
            Message::Heartbeat {
                ballot,
                committed,
                round,
            } => self.handle_heartbeat(from, ballot, committed, round),
            Message::HeartbeatAck {
                ballot,
                round,
                committed,
            } => self.handle_heartbeat_ack(from, ballot, round, committed),
            Message::Reject { rejected, promised } => self.handle_reject(rejected, promised),
            Message::Forward { commands } => self.handle_forward(from, commands),
            Message::ForwardRejected { commands, leader } => {
                for command in commands {
                    self.outbox.rejected.push(Rejection {
                        command,
                        reason: RejectReason::NotLeader { leader },
                    });
                }
            }
            Message::ReadIndexRequest { request } => self.handle_read_index_request(from, request),
            Message::ReadIndexReply {
                request,
                ballot,
                read_index,
                committed,
            } => self.handle_read_index_reply(from, request, ballot, read_index, committed),
            Message::ReadIndexRejected { request } => {
                if let Some((reads, _)) = self.read_batches.remove(&request) {
                    for id in reads {
                        self.outbox.failed_reads.push((id, ReadError::NotLeader));
                    }
                }
            }
            Message::CatchUpRequest { from: first } => self.handle_catch_up_request(from, first),
            Message::CatchUp { entries, committed } => {
                self.handle_catch_up(from, entries, committed)
            }
            Message::InstallSnapshot {
                snapshot,
                committed,
            } => self.handle_install_snapshot(from, snapshot, committed),
        }
    }

    /// Collects everything produced since the last call. See [`Ready`] for
    /// the order in which the caller must handle it.
    pub fn ready(&mut self) -> Ready {
        self.flush();
        let outbox = std::mem::take(&mut self.outbox);
        Ready {
            messages: outbox.messages,
            rejected: outbox.rejected,
            failed_reads: outbox.failed_reads,
            persist: PersistRequest {
                changes: std::mem::take(&mut self.changes),
                messages: outbox.gated_messages,
                snapshot: outbox.snapshot,
                decided: outbox.decided,
                reads: outbox.reads,
            },
        }
    }

    // ----------------------------------------------------------------------
    // Acceptor
    // ----------------------------------------------------------------------

    fn observe_ballot(&mut self, ballot: Ballot) {
        self.highest_round_seen = self.highest_round_seen.max(ballot.round);
    }

    fn set_promised(&mut self, ballot: Ballot) {
        assert!(ballot >= self.promised, "a promise never goes down");
        if ballot > self.promised {
            self.promised = ballot;
            self.changes.promised = Some(ballot);
        }
    }

    fn reject(&mut self, to: NodeId, rejected: Ballot) {
        let promised = self.promised;
        self.send_now(to, Message::Reject { rejected, promised });
    }

    /// The rule every ballot-carrying request obeys: below our promise it is
    /// refused, and the sender learns the promise; above it, we stop leading
    /// or campaigning. Returns whether the request may be acted on.
    fn admit(&mut self, from: NodeId, ballot: Ballot) -> bool {
        self.observe_ballot(ballot);
        if ballot < self.promised {
            self.reject(from, ballot);
            return false;
        }
        if ballot > self.promised {
            self.step_down_below(ballot);
        }
        true
    }

    fn handle_prepare(&mut self, from: NodeId, ballot: Ballot, first_undecided: Slot) {
        if !self.admit(from, ballot) {
            return;
        }
        self.set_promised(ballot);
        // Granting a promise defers our own candidacy: duelling proposers
        // converge because only one of them keeps getting promises.
        self.election_elapsed_ticks = 0;
        let from_slot = first_undecided.max(self.committed);
        let entries = self
            .log
            .range(from_slot..)
            .map(|(slot, entry)| SlotEntry {
                slot: *slot,
                entry: entry.clone(),
            })
            .collect();
        let committed = self.committed;
        self.send_after_persist(
            from,
            Message::Promise {
                ballot,
                committed,
                entries,
            },
        );
    }

    fn handle_accept(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        committed: Slot,
        proposals: Vec<Proposal>,
    ) {
        let admitted = self.admit(from, ballot);
        if !admitted && self.config.mutation() != Mutation::AcceptBelowPromise {
            return;
        }
        if admitted {
            self.set_promised(ballot);
            self.follow(ballot);
        }
        let mut slots = Vec::with_capacity(proposals.len());
        for proposal in proposals {
            // A decided slot keeps its value: by Paxos any later ballot can
            // only propose that same value, so acknowledging is harmless.
            if !self.is_decided(proposal.slot) {
                let entry = Entry {
                    ballot,
                    value: proposal.value,
                };
                self.log_size_bytes += entry.value.size_bytes() as u64;
                self.log.insert(proposal.slot, entry.clone());
                self.changes.entries.insert(proposal.slot, entry);
            }
            slots.push(proposal.slot);
        }
        if !slots.is_empty() {
            self.send_after_persist(from, Message::Accepted { ballot, slots });
        }
        if admitted {
            self.learn_committed(ballot, committed, from);
        }
    }

    fn handle_heartbeat(&mut self, from: NodeId, ballot: Ballot, committed: Slot, round: u64) {
        if !self.admit(from, ballot) {
            return;
        }
        self.follow(ballot);
        self.learn_committed(ballot, committed, from);
        let committed = self.committed;
        self.send_now(
            from,
            Message::HeartbeatAck {
                ballot,
                round,
                committed,
            },
        );
    }

    /// Accepts `ballot`'s owner as leader (its ballot is at least our promise).
    fn follow(&mut self, ballot: Ballot) {
        debug_assert!(ballot >= self.promised);
        if ballot.node == self.id() {
            return;
        }
        self.election_elapsed_ticks = 0;
        if self.leader != Some(ballot.node) {
            self.leader = Some(ballot.node);
        }
    }

    /// Leaves candidacy or leadership because `ballot` outranks ours.
    fn step_down_below(&mut self, ballot: Ballot) {
        let own_ballot = match &self.role {
            RoleState::Leader(leadership) => Some(leadership.ballot),
            RoleState::Candidate(candidacy) => Some(candidacy.ballot),
            RoleState::Follower => None,
        };
        if let Some(own_ballot) = own_ballot {
            if ballot > own_ballot {
                self.become_follower(None);
            }
        }
    }

    fn become_follower(&mut self, leader: Option<NodeId>) {
        let previous = std::mem::replace(&mut self.role, RoleState::Follower);
        if let RoleState::Leader(leadership) = previous {
            let leadership = *leadership;
            for command in leadership.queue {
                self.outbox.rejected.push(Rejection {
                    command,
                    reason: RejectReason::NotLeader { leader },
                });
            }
            for read in leadership.reads {
                self.fail_leader_read(read.origin, ReadError::NotLeader);
            }
        }
        self.leader = leader;
        self.election_elapsed_ticks = 0;
        self.election_timeout_ticks = random_election_timeout(&mut self.rng, &self.config);
    }

    fn fail_leader_read(&mut self, origin: ReadOrigin, error: ReadError) {
        match origin {
            ReadOrigin::Local(id) => self.outbox.failed_reads.push((id, error)),
            ReadOrigin::Remote { node, request } => {
                self.send_now(node, Message::ReadIndexRejected { request })
            }
        }
    }

    fn handle_reject(&mut self, rejected: Ballot, promised: Ballot) {
        self.observe_ballot(promised);
        if promised > rejected {
            self.step_down_below(promised);
        }
    }

    // ----------------------------------------------------------------------
    // Learner
    // ----------------------------------------------------------------------

    /// The leader of `ballot` says every slot below `committed` is decided:
    /// our entries accepted under that same ballot hold the decided values.
    fn learn_committed(&mut self, ballot: Ballot, committed: Slot, source: NodeId) {
        self.note_committed(source, committed);
        let mut slot = self.committed;
        while slot < committed {
            if !self.decided_ahead.contains(&slot) {
                match self.log.get(&slot) {
                    Some(entry) if entry.ballot == ballot => {
                        self.decided_ahead.insert(slot);
                    }
                    _ => break,
                }
            }
            slot = slot.next();
        }
        self.advance_committed();
        if self.catch_up_due() {
            self.request_catch_up();
        }
    }

    fn mark_decided(&mut self, slot: Slot) {
        assert!(self.log.contains_key(&slot), "a decided slot has a value");
        if slot >= self.committed {
            self.decided_ahead.insert(slot);
        }
    }

    fn advance_committed(&mut self) {
        let before = self.committed;
        while self.decided_ahead.remove(&self.committed) {
            self.committed = self.committed.next();
        }
        if self.committed > before {
            self.changes.committed = Some(self.committed);
            if !self.is_behind() {
                self.catch_up_requested_tick = None;
            }
        }
    }

    /// Records the latest commit index `peer` reported.
    fn note_committed(&mut self, peer: NodeId, committed: Slot) {
        if peer != self.id() {
            self.peer_committed.insert(peer, committed);
        }
    }

    /// True when some peer reported a higher commit index than ours.
    fn is_behind(&self) -> bool {
        self.peer_committed
            .values()
            .any(|committed| *committed > self.committed)
    }

    fn catch_up_due(&self) -> bool {
        if !self.is_behind() {
            return false;
        }
        match self.catch_up_requested_tick {
            None => true,
            Some(tick) => self.now_tick >= tick + self.config.catch_up_retry_ticks,
        }
    }

    /// Asks the next peer, in turn, among those ahead of us: one may have
    /// crashed or restarted behind what it once reported.
    fn request_catch_up(&mut self) {
        let ahead: Vec<NodeId> = self
            .peer_committed
            .iter()
            .filter(|(_, committed)| **committed > self.committed)
            .map(|(peer, _)| *peer)
            .collect();
        if ahead.is_empty() {
            return;
        }
        let source = ahead[(self.catch_up_attempts % ahead.len() as u64) as usize];
        self.catch_up_attempts += 1;
        self.catch_up_requested_tick = Some(self.now_tick);
        let from = self.committed;
        self.send_now(source, Message::CatchUpRequest { from });
    }

    fn handle_catch_up_request(&mut self, from: NodeId, first: Slot) {
        let end = self.committed;
        if first >= end {
            // The requester is not behind us (it may even be ahead: requests
            // can be old or sent to a replica that has since restarted).
            // Say where we are so it asks someone else (regressions: seeds
            // 3733 and 8172 panicked here, seed 11659 waited forever).
            self.send_now(
                from,
                Message::CatchUp {
                    entries: Vec::new(),
                    committed: end,
                },
            );
            return;
        }
        if first < self.log_start {
            // The slots the requester needs were compacted away: send the
            // snapshot; it will ask again from the snapshot's end.
            if let Some(snapshot) = self.snapshot.clone() {
                self.send_now(
                    from,
                    Message::InstallSnapshot {
                        snapshot,
                        committed: end,
                    },
                );
            }
            return;
        }
        let limit = self.config.catch_up_slots_per_message_max;
        let entries: Vec<SlotEntry> = self
            .log
            .range(first..end)
            .take(limit)
            .map(|(slot, entry)| SlotEntry {
                slot: *slot,
                entry: entry.clone(),
            })
            .collect();
        self.send_now(
            from,
            Message::CatchUp {
                entries,
                committed: end,
            },
        );
    }

    fn handle_catch_up(&mut self, from: NodeId, entries: Vec<SlotEntry>, committed: Slot) {
        let before = self.committed;
        for SlotEntry { slot, entry } in entries {
            if self.is_decided(slot) {
                continue;
            }
            // Recording a decided value with the sender's ballot is safe: any
            // ballot at or above the deciding one carries the same value.
            self.log_size_bytes += entry.value.size_bytes() as u64;
            self.log.insert(slot, entry.clone());
            self.changes.entries.insert(slot, entry);
            self.mark_decided(slot);
        }
        self.note_committed(from, committed);
        self.advance_committed();
        if self.is_behind() && self.committed > before {
            // Keep the pipeline of catch-up batches going without waiting for
            // the retry timer.
            self.catch_up_requested_tick = None;
            self.request_catch_up();
        }
    }

    /// A peer's snapshot replaces everything below its end that we have not
    /// decided yet; the caller restores its state machine from it.
    fn handle_install_snapshot(&mut self, from: NodeId, snapshot: Snapshot, committed: Slot) {
        self.note_committed(from, committed);
        if snapshot.end <= self.committed {
            return;
        }
        let end = snapshot.end;
        self.install_log_start(snapshot.clone());
        self.decided_ahead = self.decided_ahead.split_off(&end);
        self.applied_ahead = self.applied_ahead.split_off(&end);
        self.committed = end;
        self.applied = end;
        self.changes.committed = Some(end);
        self.changes.snapshot = Some(snapshot.clone());
        self.outbox.snapshot = Some(snapshot);
        if let RoleState::Leader(leadership) = &mut self.role {
            leadership.votes = leadership.votes.split_off(&end);
            leadership.next_slot = leadership.next_slot.max(end);
            leadership.recovery_end = leadership.recovery_end.max(end);
        }
        self.advance_committed();
        if self.is_behind() {
            self.catch_up_requested_tick = None;
            self.request_catch_up();
        }
    }

    /// Hands decided values out for apply, strictly in slot order.
    fn release_decided(&mut self) {
        if self.config.mutation() == Mutation::ApplyOutOfOrder {
            let ahead: Vec<Slot> = self.decided_ahead.iter().copied().collect();
            for slot in ahead {
                if slot >= self.applied && self.applied_ahead.insert(slot) {
                    let value = self.log[&slot].value.clone();
                    self.outbox.decided.push(Decided { slot, value });
                }
            }
        }
        while self.applied < self.committed {
            let slot = self.applied;
            if !self.applied_ahead.remove(&slot) {
                let value = self.log[&slot].value.clone();
                self.outbox.decided.push(Decided { slot, value });
            }
            self.applied = slot.next();
        }
    }

    // ----------------------------------------------------------------------
    // Proposer: phase 1
    // ----------------------------------------------------------------------

    fn start_election(&mut self) {
        let round = self.highest_round_seen.max(self.promised.round) + 1;
        let ballot = Ballot {
            round,
            node: self.id(),
        };
        self.observe_ballot(ballot);
        self.become_follower(None);
        self.set_promised(ballot);
        let entries = self
            .log
            .range(self.committed..)
            .map(|(slot, entry)| (*slot, entry.clone()))
            .collect();
        self.role = RoleState::Candidate(Candidacy {
            ballot,
            promised_by: BTreeSet::from([self.id()]),
            committed_elsewhere: self.committed,
            entries,
            elapsed_ticks: 0,
        });
        let first_undecided = self.committed;
        // Gated: the Prepare announces a ballot; it must be durable first so
        // that a restarted node never uses it again.
        self.broadcast_after_persist(Message::Prepare {
            ballot,
            first_undecided,
        });
        if self.quorum() == 1 {
            self.become_leader();
        }
    }

    fn handle_promise(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        committed: Slot,
        entries: Vec<SlotEntry>,
    ) {
        let quorum = self.quorum();
        self.note_committed(from, committed);
        let RoleState::Candidate(candidacy) = &mut self.role else {
            return;
        };
        if ballot != candidacy.ballot {
            return;
        }
        candidacy.promised_by.insert(from);
        candidacy.committed_elsewhere = candidacy.committed_elsewhere.max(committed);
        for SlotEntry { slot, entry } in entries {
            let keep = match candidacy.entries.get(&slot) {
                Some(existing) => entry.ballot > existing.ballot,
                None => true,
            };
            if keep {
                candidacy.entries.insert(slot, entry);
            }
        }
        if candidacy.promised_by.len() >= quorum {
            self.become_leader();
        }
    }

    /// Phase 1 succeeded: re-propose, per open slot, the value with the
    /// highest accepted ballot, and fill holes with no-ops (the recovery round).
    fn become_leader(&mut self) {
        let RoleState::Candidate(candidacy) =
            std::mem::replace(&mut self.role, RoleState::Follower)
        else {
            unreachable!("only a candidate becomes leader");
        };
        let ballot = candidacy.ballot;
        assert_eq!(self.promised, ballot, "a leader holds its own promise");
        // Slots below the highest commit index reported are decided
        // somewhere; we learn them by catch-up rather than re-proposing.
        let start = self.committed.max(candidacy.committed_elsewhere);
        let end = candidacy
            .entries
            .range(start..)
            .next_back()
            .map_or(start, |(slot, _)| slot.next());
        let followers = self
            .peers()
            .map(|node| {
                (
                    node,
                    FollowerProgress {
                        last_heard_tick: self.now_tick,
                        committed: Slot(0),
                        acknowledged_round: 0,
                    },
                )
            })
            .collect();
        self.role = RoleState::Leader(Box::new(Leadership {
            ballot,
            next_slot: start,
            recovery_end: end,
            votes: BTreeMap::new(),
            queue: VecDeque::new(),
            followers,
            heartbeat_elapsed_ticks: 0,
            round: 0,
            round_started_tick: self.now_tick,
            confirmed_round: 0,
            reads: Vec::new(),
        }));
        self.leader = Some(self.id());
        let ignore_values = self.config.mutation() == Mutation::LeaderIgnoresPromisedValues;
        let mut recovered = Vec::new();
        let mut slot = start;
        while slot < end {
            let value = if let (false, Some(entry)) = (ignore_values, candidacy.entries.get(&slot))
            {
                entry.value.clone()
            } else if self.is_decided(slot) {
                self.log[&slot].value.clone()
            } else {
                Value::Noop
            };
            recovered.push(self.propose_in_slot(slot, value));
            slot = slot.next();
        }
        self.leadership_mut().next_slot = end;
        self.broadcast_accept(recovered);
        // Requests that waited for a leader now have one.
        let waiting: Vec<(Bytes, u64)> = self.proposals_waiting.drain(..).collect();
        for (command, _) in waiting {
            self.propose(command);
        }
        let reads: Vec<(ReadId, u64)> = self.reads_waiting.drain(..).collect();
        for (id, _) in reads {
            self.leader_add_read(ReadOrigin::Local(id));
        }
        self.leader_heartbeat();
        if self.catch_up_due() {
            self.request_catch_up();
        }
    }

    fn leadership_mut(&mut self) -> &mut Leadership {
        match &mut self.role {
            RoleState::Leader(leadership) => leadership,
            _ => unreachable!("called only while leading"),
        }
    }

    // ----------------------------------------------------------------------
    // Proposer: phase 2
    // ----------------------------------------------------------------------

    /// Accepts `value` in `slot` locally under the leader's ballot and opens
    /// its vote. Returns the proposal to send to the followers.
    fn propose_in_slot(&mut self, slot: Slot, value: Value) -> Proposal {
        let now_tick = self.now_tick;
        let id = self.id();
        let leadership = self.leadership_mut();
        let ballot = leadership.ballot;
        assert!(
            !leadership.votes.contains_key(&slot),
            "a leader proposes at most one value per slot and ballot"
        );
        leadership.votes.insert(
            slot,
            Votes {
                value: value.clone(),
                accepted_by: BTreeSet::from([id]),
                sent_tick: now_tick,
            },
        );
        if !self.is_decided(slot) {
            let entry = Entry {
                ballot,
                value: value.clone(),
            };
            self.log_size_bytes += entry.value.size_bytes() as u64;
            self.log.insert(slot, entry.clone());
            self.changes.entries.insert(slot, entry);
        }
        self.check_vote(slot);
        Proposal { slot, value }
    }

    fn broadcast_accept(&mut self, proposals: Vec<Proposal>) {
        if proposals.is_empty() {
            return;
        }
        let ballot = self.leadership_mut().ballot;
        let committed = self.committed;
        let per_message = self.config.accept_slots_per_message_max;
        for chunk in proposals.chunks(per_message) {
            self.broadcast_now(Message::Accept {
                ballot,
                committed,
                proposals: chunk.to_vec(),
            });
        }
    }

    /// The rule for every follower reply: it counts only while we lead under
    /// the ballot it answers; then it also shows the follower is alive.
    fn follower_reply(&mut self, from: NodeId, ballot: Ballot) -> Option<&mut Leadership> {
        let now_tick = self.now_tick;
        let RoleState::Leader(leadership) = &mut self.role else {
            return None;
        };
        if ballot != leadership.ballot {
            return None;
        }
        if let Some(progress) = leadership.followers.get_mut(&from) {
            progress.last_heard_tick = now_tick;
        }
        Some(leadership)
    }

    fn handle_accepted(&mut self, from: NodeId, ballot: Ballot, slots: &[Slot]) {
        let Some(leadership) = self.follower_reply(from, ballot) else {
            return;
        };
        let mut touched = Vec::new();
        for slot in slots {
            if let Some(votes) = leadership.votes.get_mut(slot) {
                votes.accepted_by.insert(from);
                touched.push(*slot);
            }
        }
        for slot in touched {
            self.check_vote(slot);
        }
    }

    fn check_vote(&mut self, slot: Slot) {
        let quorum = self.accept_quorum();
        let leadership = self.leadership_mut();
        let reached = leadership
            .votes
            .get(&slot)
            .is_some_and(|votes| votes.accepted_by.len() >= quorum);
        if reached {
            leadership.votes.remove(&slot);
            if !self.is_decided(slot) {
                self.mark_decided(slot);
                self.advance_committed();
            }
        }
    }

    /// Turns queued commands into batches in new slots, within the window.
    fn assign_slots(&mut self) {
        let window = self.config.pipeline_slots_max;
        let batch_commands_max = self.config.batch_commands_max;
        let batch_size_max_bytes = self.config.batch_size_max_bytes;
        let committed = self.committed;
        let mut proposals = Vec::new();
        loop {
            let leadership = self.leadership_mut();
            if leadership.queue.is_empty() || committed.distance_to(leadership.next_slot) >= window
            {
                break;
            }
            let mut batch = Vec::new();
            let mut size_bytes = 0;
            while let Some(command) = leadership.queue.front() {
                let fits = batch.len() < batch_commands_max
                    && (batch.is_empty() || size_bytes + command.len() <= batch_size_max_bytes);
                if !fits {
                    break;
                }
                size_bytes += command.len();
                batch.push(leadership.queue.pop_front().expect("front exists"));
            }
            let slot = leadership.next_slot;
            leadership.next_slot = slot.next();
            let value = Value::Batch(Arc::from(batch));
            proposals.push(self.propose_in_slot(slot, value));
        }
        self.broadcast_accept(proposals);
    }

    fn leader_heartbeat(&mut self) {
        let now_tick = self.now_tick;
        let quorum = self.quorum();
        let timeout = self.config.election_timeout_ticks;
        let heartbeat_interval = self.config.heartbeat_interval_ticks;
        let per_message = self.config.accept_slots_per_message_max;
        let committed = self.committed;
        let leadership = self.leadership_mut();
        // Check quorum: a leader cut off from a majority steps down so that
        // clients get a clear answer instead of waiting on it.
        let heard = 1 + leadership
            .followers
            .values()
            .filter(|progress| now_tick.saturating_sub(progress.last_heard_tick) <= timeout * 2)
            .count();
        if heard < quorum {
            self.become_follower(None);
            return;
        }
        // Retransmit accepts a follower has not acknowledged.
        let ballot = leadership.ballot;
        let mut retransmit: Vec<(NodeId, Vec<Proposal>)> = Vec::new();
        for follower in leadership.followers.keys() {
            let missing: Vec<Proposal> = leadership
                .votes
                .iter()
                .filter(|(_, votes)| {
                    !votes.accepted_by.contains(follower)
                        && now_tick.saturating_sub(votes.sent_tick) >= heartbeat_interval
                })
                .take(per_message)
                .map(|(slot, votes)| Proposal {
                    slot: *slot,
                    value: votes.value.clone(),
                })
                .collect();
            if !missing.is_empty() {
                retransmit.push((*follower, missing));
            }
        }
        for (follower, proposals) in retransmit {
            self.send_now(
                follower,
                Message::Accept {
                    ballot,
                    committed,
                    proposals,
                },
            );
        }
        self.start_read_round();
    }

    fn handle_forward(&mut self, from: NodeId, commands: Vec<Bytes>) {
        if matches!(self.role, RoleState::Leader(_)) {
            for command in commands {
                self.propose(command);
            }
        } else {
            let leader = self.leader;
            self.send_now(from, Message::ForwardRejected { commands, leader });
        }
    }

    // ----------------------------------------------------------------------
    // Reads
    // ----------------------------------------------------------------------

    fn leader_add_read(&mut self, origin: ReadOrigin) {
        let deadline_tick = self.now_tick + self.config.request_timeout_ticks;
        let without_confirmation = self.config.mutation() == Mutation::ReadWithoutConfirmation;
        let committed = self.committed;
        let leadership = self.leadership_mut();
        // Every write completed before this read arrived sits below this
        // index: it was decided by us (below `committed`) or by an earlier
        // leader, in which case phase 1 recovered it below `recovery_end`.
        let read_index = committed.max(leadership.recovery_end);
        let round_needed = if without_confirmation {
            0
        } else {
            leadership.round + 1
        };
        leadership.reads.push(LeaderRead {
            origin,
            read_index,
            round_needed,
            deadline_tick,
        });
        self.confirm_reads();
    }

    /// Starts a new confirmation round (a heartbeat) when reads wait for one
    /// and none is in flight: all reads arriving meanwhile share the next.
    fn maybe_start_read_round(&mut self) {
        let now_tick = self.now_tick;
        let interval = self.config.heartbeat_interval_ticks;
        let leadership = self.leadership_mut();
        let waiting = leadership
            .reads
            .iter()
            .any(|read| read.round_needed > leadership.round);
        let in_flight = leadership.confirmed_round < leadership.round
            && now_tick < leadership.round_started_tick + interval;
        if waiting && !in_flight {
            self.start_read_round();
        }
    }

    fn start_read_round(&mut self) {
        let now_tick = self.now_tick;
        let committed = self.committed;
        let leadership = self.leadership_mut();
        leadership.round += 1;
        leadership.round_started_tick = now_tick;
        leadership.heartbeat_elapsed_ticks = 0;
        let round = leadership.round;
        let ballot = leadership.ballot;
        self.broadcast_now(Message::Heartbeat {
            ballot,
            committed,
            round,
        });
        self.update_confirmed_round();
    }

    fn handle_heartbeat_ack(&mut self, from: NodeId, ballot: Ballot, round: u64, committed: Slot) {
        self.note_committed(from, committed);
        let Some(leadership) = self.follower_reply(from, ballot) else {
            return;
        };
        if let Some(progress) = leadership.followers.get_mut(&from) {
            progress.committed = progress.committed.max(committed);
            progress.acknowledged_round = progress.acknowledged_round.max(round);
        }
        self.update_confirmed_round();
    }

    /// The highest round acknowledged by a quorum (counting ourselves, who
    /// are always at the latest round).
    fn update_confirmed_round(&mut self) {
        let quorum = self.quorum();
        let leadership = self.leadership_mut();
        let mut rounds: Vec<u64> = leadership
            .followers
            .values()
            .map(|progress| progress.acknowledged_round)
            .collect();
        rounds.push(leadership.round);
        rounds.sort_unstable_by(|left, right| right.cmp(left));
        let confirmed = rounds[quorum - 1];
        if confirmed > leadership.confirmed_round {
            leadership.confirmed_round = confirmed;
        }
        self.confirm_reads();
    }

    fn confirm_reads(&mut self) {
        let ballot;
        let confirmed: Vec<LeaderRead>;
        {
            let leadership = self.leadership_mut();
            ballot = leadership.ballot;
            let confirmed_round = leadership.confirmed_round;
            let (ready, waiting): (Vec<LeaderRead>, Vec<LeaderRead>) = leadership
                .reads
                .drain(..)
                .partition(|read| read.round_needed <= confirmed_round);
            leadership.reads = waiting;
            confirmed = ready;
        }
        let committed = self.committed;
        for read in confirmed {
            match read.origin {
                ReadOrigin::Local(id) => {
                    self.reads_confirmed
                        .push((id, read.read_index, read.deadline_tick));
                }
                ReadOrigin::Remote { node, request } => self.send_now(
                    node,
                    Message::ReadIndexReply {
                        request,
                        ballot,
                        read_index: read.read_index,
                        committed,
                    },
                ),
            }
        }
    }

    fn handle_read_index_request(&mut self, from: NodeId, request: u64) {
        if matches!(self.role, RoleState::Leader(_)) {
            self.leader_add_read(ReadOrigin::Remote {
                node: from,
                request,
            });
        } else {
            self.send_now(from, Message::ReadIndexRejected { request });
        }
    }

    fn handle_read_index_reply(
        &mut self,
        from: NodeId,
        request: u64,
        ballot: Ballot,
        read_index: Slot,
        committed: Slot,
    ) {
        let Some((reads, _)) = self.read_batches.remove(&request) else {
            return;
        };
        let deadline_tick = self.now_tick + self.config.request_timeout_ticks;
        for id in reads {
            self.reads_confirmed.push((id, read_index, deadline_tick));
        }
        if ballot >= self.promised {
            self.follow(ballot);
            self.learn_committed(ballot, committed, from);
        }
    }

    /// Hands out confirmed reads whose read index is applied.
    fn release_reads(&mut self) {
        let applied = self.applied;
        let mut index = 0;
        while index < self.reads_confirmed.len() {
            if self.reads_confirmed[index].1 <= applied {
                let (id, _, _) = self.reads_confirmed.swap_remove(index);
                self.outbox.reads.push(id);
            } else {
                index += 1;
            }
        }
    }

    // ----------------------------------------------------------------------
    // Requests waiting for a leader, and timeouts
    // ----------------------------------------------------------------------

    fn forward_waiting(&mut self) {
        let Some(leader) = self.leader else {
            return;
        };
        if leader == self.id() {
            return;
        }
        if !self.proposals_waiting.is_empty() {
            let commands = self
                .proposals_waiting
                .drain(..)
                .map(|(command, _)| command)
                .collect();
            self.send_now(leader, Message::Forward { commands });
        }
        if !self.reads_waiting.is_empty() {
            let request = self.next_read_request;
            self.next_read_request += 1;
            let reads = self.reads_waiting.drain(..).map(|(id, _)| id).collect();
            self.read_batches.insert(request, (reads, self.now_tick));
            self.send_now(leader, Message::ReadIndexRequest { request });
        }
    }

    fn expire_requests(&mut self) {
        let now_tick = self.now_tick;
        let timeout = self.config.request_timeout_ticks;
        let expired = |since: u64| now_tick >= since + timeout;
        while let Some((_, since)) = self.proposals_waiting.front() {
            if !expired(*since) {
                break;
            }
            let (command, _) = self.proposals_waiting.pop_front().expect("front exists");
            self.outbox.rejected.push(Rejection {
                command,
                reason: RejectReason::NoLeader,
            });
        }
        while let Some((_, since)) = self.reads_waiting.front() {
            if !expired(*since) {
                break;
            }
            let (id, _) = self.reads_waiting.pop_front().expect("front exists");
            self.outbox.failed_reads.push((id, ReadError::NoLeader));
        }
        let stale: Vec<u64> = self
            .read_batches
            .iter()
            .filter(|(_, (_, since))| expired(*since))
            .map(|(request, _)| *request)
            .collect();
        for request in stale {
            let (reads, _) = self.read_batches.remove(&request).expect("listed above");
            for id in reads {
                self.outbox.failed_reads.push((id, ReadError::Timeout));
            }
        }
        let mut index = 0;
        while index < self.reads_confirmed.len() {
            if now_tick >= self.reads_confirmed[index].2 {
                let (id, _, _) = self.reads_confirmed.swap_remove(index);
                self.outbox.failed_reads.push((id, ReadError::Timeout));
            } else {
                index += 1;
            }
        }
        if let RoleState::Leader(leadership) = &mut self.role {
            let (expired_reads, live): (Vec<LeaderRead>, Vec<LeaderRead>) = leadership
                .reads
                .drain(..)
                .partition(|read| now_tick >= read.deadline_tick);
            leadership.reads = live;
            for read in expired_reads {
                self.fail_leader_read(read.origin, ReadError::Timeout);
            }
        }
    }

    /// Turns pending work into output: new slots, forwards, read rounds,
    /// decided values and servable reads.
    fn flush(&mut self) {
        if matches!(self.role, RoleState::Leader(_)) {
            self.assign_slots();
            self.maybe_start_read_round();
        } else {
            self.forward_waiting();
        }
        self.release_decided();
        self.release_reads();
        self.check_invariants();
    }

    fn check_invariants(&self) {
        assert!(self.applied <= self.committed || !self.applied_ahead.is_empty());
        assert!(
            self.committed >= self.log_start,
            "compaction covers decided slots only"
        );
        assert!(self.applied >= self.log_start);
        if let Some(first) = self.decided_ahead.first() {
            assert!(
                *first > self.committed,
                "decided slots are folded into committed"
            );
        }
        if let RoleState::Leader(leadership) = &self.role {
            assert_eq!(self.leader, Some(self.id()));
            assert!(
                self.promised == leadership.ballot,
                "a leader holds its promise"
            );
            assert!(leadership.next_slot >= leadership.recovery_end);
            if let Some((slot, _)) = leadership.votes.iter().next_back() {
                assert!(
                    *slot < leadership.next_slot,
                    "votes only for assigned slots"
                );
            }
            assert!(leadership.confirmed_round <= leadership.round);
        }
    }
}

fn log_payload_bytes(log: &BTreeMap<Slot, Entry>) -> u64 {
    log.values()
        .map(|entry| entry.value.size_bytes() as u64)
        .sum()
}

fn random_election_timeout(rng: &mut SplitMix64, config: &Config) -> u64 {
    let base = config.election_timeout_ticks;
    rng.between(base, base * 2 - 1)
}
