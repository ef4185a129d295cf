//! The drive loop: the one task that owns the [`Replica`], the state
//! machine ([`Store`]) and the [`Persistence`].
//!
//! Each iteration waits for one input (a peer message, a client request or a
//! tick), then takes every other input already waiting (up to
//! [`INPUTS_PER_ROUND_MAX`]), and handles the core's output once for all of
//! them, in the order [`synod_paxos::Ready`] prescribes:
//!
//! 1. send `messages` (they depend on nothing unpersisted);
//! 2. answer `rejected` proposals and `failed_reads`;
//! 3. persist `persist.state()` — one group commit for the whole iteration;
//! 4. `persisted()`: send the gated messages, install a snapshot, apply the
//!    decided values in slot order (answering the clients waiting on them),
//!    then serve the released reads.
//!
//! Persistence is synchronous, so persist requests complete strictly in the
//! order they were produced. The loop runs on a thread of its own (see
//! [`crate::server`]), so a slow fsync stalls only the loop, whose inputs
//! wait in bounded channels meanwhile: they are the next group commit.
//!
//! # What a client is told
//!
//! A write is answered with the store's response once its slot is applied
//! here. Otherwise: a rejection by the core means the command was certainly
//! not applied; a write handed to a leader that is then lost, or one that is
//! not decided within [`WRITE_TIMEOUT_TICKS`], has an unknown outcome and is
//! answered so — never as a failure.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use synod_kv::tag::{self, RequestTag};
use synod_kv::{Command, Operation, Response, Store, StoreConfig};
use synod_paxos::{
    Config, Decided, NodeId, ReadError, ReadId, RejectReason, Released, Replica, Role, Slot,
    Snapshot,
};
use synod_storage::StorageError;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;
use tracing::{error, info, warn};

use crate::config::TICK_INTERVAL_MILLISECONDS;
use crate::metrics::Metrics;
use crate::persistence::Persistence;
use crate::transport::{PeerMessage, Transport};

/// Client requests waiting for the drive loop (backpressure beyond this).
pub const CLIENT_INBOX_REQUESTS_MAX: usize = 8_192;
/// Peer messages waiting for the drive loop (a peer connection stops
/// reading beyond this, and TCP pushes back on the sender).
pub const PEER_INBOX_MESSAGES_MAX: usize = 8_192;
/// Inputs folded into one iteration (and one group commit) at most, so that
/// a flood of requests cannot delay ticks and heartbeats without bound.
pub const INPUTS_PER_ROUND_MAX: usize = 4_096;
/// A write not decided within this many ticks (5 s) is answered "outcome
/// unknown": it was proposed, so it may still be chosen.
pub const WRITE_TIMEOUT_TICKS: u64 = 500;

/// The answer to a client request.
pub type RequestResult = Result<Response, RequestError>;

/// A request of a client connection to the drive loop.
#[derive(Debug)]
pub enum ClientRequest {
    /// A command for the log, answered after it is decided and applied.
    Write {
        /// The command (already checked against the kv limits).
        command: Command,
        /// Where the answer goes.
        reply: oneshot::Sender<RequestResult>,
    },
    /// A linearizable read through the core's read path.
    Read {
        /// A read operation.
        operation: Operation,
        /// Where the answer goes.
        reply: oneshot::Sender<RequestResult>,
    },
}

/// Why a request got no response from the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum RequestError {
    /// No leader became known within the request timeout. Not applied.
    #[error("no leader was elected within {} ms", crate::config::REQUEST_TIMEOUT_TICKS * TICK_INTERVAL_MILLISECONDS)]
    NoLeader,
    /// The command reached a node that is not (or no longer) the leader and
    /// was handed back unproposed. Not applied.
    #[error("leadership changed before the command was proposed; it was not applied")]
    NotLeader {
        /// The leader the rejecting node knew of.
        leader: Option<NodeId>,
    },
    /// Too many requests are queued. Not applied.
    #[error("the cluster is overloaded; the request was not proposed")]
    Overloaded,
    /// The read was not confirmed in time (reads have no effect).
    #[error("the read could not be confirmed by a quorum in time")]
    ReadTimeout,
    /// The write was proposed but its fate is unknown.
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(UnknownReason),
    /// The node is stopping; the request was not proposed.
    #[error("the node is shutting down")]
    Stopping,
}

/// Why a write's outcome is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum UnknownReason {
    /// The leader it was handed to was lost.
    #[error("the leader was lost before the write was confirmed")]
    LeaderLost,
    /// It was not decided within [`WRITE_TIMEOUT_TICKS`].
    #[error("the write was not confirmed in time")]
    Timeout,
    /// The node stopped while the write was in flight.
    #[error("the node stopped before the write was confirmed")]
    Stopped,
}

/// A failure that stops the node.
#[derive(Debug, Error)]
pub enum NodeError {
    /// Durable state could not be written; what is on disk is unknown.
    #[error("storage failed; the node stops because it cannot tell what it promised: {0}")]
    Storage(#[from] StorageError),
    /// A snapshot (recovered or received) does not restore.
    #[error("a snapshot up to slot {end} does not restore: {reason}")]
    SnapshotUnreadable {
        /// The snapshot's end.
        end: u64,
        /// The decoder's complaint.
        reason: String,
    },
}

/// What `/status` shows; published by the drive loop after every change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// This node.
    pub id: u64,
    /// `leader`, `follower` or `candidate`.
    pub role: &'static str,
    /// The leader this node knows of.
    pub leader: Option<u64>,
    /// The highest ballot promised.
    pub ballot: BallotStatus,
    /// Every slot below it is decided here.
    pub commit_index: u64,
    /// Every slot below it is applied to the state machine here.
    pub applied_index: u64,
    /// Every member with its replication lag (known on the leader only).
    pub members: Vec<MemberStatus>,
}

impl NodeStatus {
    /// Healthy: this node knows a leader. A leader that loses its quorum
    /// steps down within two election timeouts (the core's check-quorum),
    /// and a follower that stops hearing it starts an election, so a known
    /// leader is one that recently had a quorum.
    pub fn is_healthy(&self) -> bool {
        self.leader.is_some()
    }
}

/// A ballot, for JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BallotStatus {
    /// The round.
    pub round: u64,
    /// The node that owns it.
    pub node: u64,
}

/// One member in `/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberStatus {
    /// The member.
    pub id: u64,
    /// Its commit index as the leader last heard it (null off the leader).
    pub commit_index: Option<u64>,
    /// Slots it is behind the leader's commit index (null off the leader).
    pub lag: Option<u64>,
}

/// A write waiting for its slot.
#[derive(Debug)]
struct PendingWrite {
    reply: oneshot::Sender<RequestResult>,
    /// The leader the write was handed to (`None` while the core holds it
    /// for a leader to appear).
    leader: Option<NodeId>,
}

/// The drive loop's state.
pub struct Node {
    replica: Replica,
    store: Store,
    persistence: Box<dyn Persistence>,
    transport: Transport,
    metrics: Arc<Metrics>,
    /// The client part of every request tag this incarnation proposes:
    /// random, so that no other node (or earlier incarnation) uses it and
    /// answers are never routed to the wrong waiter.
    tag_client: u64,
    next_request: u64,
    writes: HashMap<RequestTag, PendingWrite>,
    write_deadlines: VecDeque<(u64, RequestTag)>,
    reads: HashMap<ReadId, (Operation, oneshot::Sender<RequestResult>)>,
    next_read: u64,
    /// The next slot to apply; every slot below it is in `store`.
    next_apply: Slot,
    known_leader: Option<NodeId>,
    now_tick: u64,
    status: watch::Sender<NodeStatus>,
}

impl Node {
    /// Recovers the durable state and builds the replica and state machine.
    /// Returns the node and a receiver of its status.
    ///
    /// # Errors
    ///
    /// [`NodeError::SnapshotUnreadable`] when the recovered snapshot does not
    /// restore.
    pub fn new(
        config: Config,
        mut persistence: Box<dyn Persistence>,
        transport: Transport,
        metrics: Arc<Metrics>,
    ) -> Result<(Node, watch::Receiver<NodeStatus>), NodeError> {
        let durable = persistence.recover();
        let (store, next_apply) = match &durable.snapshot {
            Some(snapshot) => (restore(snapshot)?, snapshot.end),
            None => (Store::new(StoreConfig::default()), Slot(0)),
        };
        info!(
            id = %config.id,
            persistence = %persistence.describe(),
            promised = %durable.promised,
            committed = durable.committed.0,
            entries = durable.entries.len(),
            "recovered durable state"
        );
        let seed = random_u64();
        let replica = Replica::new(config, durable, seed);
        let (status, receiver) = watch::channel(status_of(&replica, next_apply));
        let node = Node {
            replica,
            store,
            persistence,
            transport,
            metrics,
            tag_client: random_u64(),
            next_request: 0,
            writes: HashMap::new(),
            write_deadlines: VecDeque::new(),
            reads: HashMap::new(),
            next_read: 0,
            next_apply,
            known_leader: None,
            now_tick: 0,
            status,
        };
        Ok((node, receiver))
    }

    /// Runs until `shutdown` turns true (or its sender is dropped), or until
    /// a failure stops the node.
    ///
    /// # Errors
    ///
    /// A [`NodeError`]; every waiting client has been answered then.
    pub async fn run(
        mut self,
        mut peers: mpsc::Receiver<PeerMessage>,
        mut clients: mpsc::Receiver<ClientRequest>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), NodeError> {
        let mut ticker = tokio::time::interval(Duration::from_millis(TICK_INTERVAL_MILLISECONDS));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let result = loop {
            tokio::select! {
                biased;
                _ = shutdown.changed() => break Ok(()),
                _ = ticker.tick() => self.tick(),
                Some(input) = peers.recv() => self.step(input),
                Some(request) = clients.recv() => self.handle_client(request),
            }
            self.gather(&mut peers, &mut clients);
            if let Err(failure) = self.process_ready() {
                error!(%failure, "the node stops");
                break Err(failure);
            }
            self.observe_leader();
            self.publish_status();
        };
        self.answer_all_pending();
        result
    }

    /// Takes every input already waiting, up to [`INPUTS_PER_ROUND_MAX`],
    /// so that one group commit covers them all.
    fn gather(
        &mut self,
        peers: &mut mpsc::Receiver<PeerMessage>,
        clients: &mut mpsc::Receiver<ClientRequest>,
    ) {
        let mut gathered = 1;
        while gathered < INPUTS_PER_ROUND_MAX {
            let mut progressed = false;
            if let Ok(input) = peers.try_recv() {
                self.step(input);
                gathered += 1;
                progressed = true;
            }
            if let Ok(request) = clients.try_recv() {
                self.handle_client(request);
                gathered += 1;
                progressed = true;
            }
            if !progressed {
                return;
            }
        }
    }

    fn tick(&mut self) {
        self.now_tick += 1;
        self.replica.tick();
        while let Some((deadline, tag)) = self.write_deadlines.front().copied() {
            if deadline > self.now_tick {
                break;
            }
            self.write_deadlines.pop_front();
            if let Some(pending) = self.writes.remove(&tag) {
                self.metrics.writes_outcome_unknown.increment();
                let _ = pending
                    .reply
                    .send(Err(RequestError::OutcomeUnknown(UnknownReason::Timeout)));
            }
        }
    }

    fn step(&mut self, input: PeerMessage) {
        self.replica.step(input.from, input.message);
    }

    fn handle_client(&mut self, request: ClientRequest) {
        match request {
            ClientRequest::Write { command, reply } => {
                let tag = RequestTag {
                    client: self.tag_client,
                    request: self.next_request,
                };
                self.next_request += 1;
                let proposal = tag::wrap(tag, &command.encode());
                let leader = self.replica.leader();
                self.writes.insert(tag, PendingWrite { reply, leader });
                self.write_deadlines
                    .push_back((self.now_tick + WRITE_TIMEOUT_TICKS, tag));
                self.metrics.proposals.increment();
                self.replica.propose(proposal);
            }
            ClientRequest::Read { operation, reply } => {
                let read = ReadId(self.next_read);
                self.next_read += 1;
                self.reads.insert(read, (operation, reply));
                self.replica.read(read);
            }
        }
    }

    /// Handles one [`synod_paxos::Ready`], in its prescribed order.
    fn process_ready(&mut self) -> Result<(), NodeError> {
        let ready = self.replica.ready();
        if ready.is_empty() {
            return Ok(());
        }
        for envelope in ready.messages {
            self.transport.send(envelope);
        }
        for rejection in ready.rejected {
            self.metrics.proposals_rejected.increment();
            let Some((tag, _)) = tag::unwrap(&rejection.command) else {
                continue;
            };
            if let Some(pending) = self.writes.remove(&tag) {
                let _ = pending.reply.send(Err(rejection_error(rejection.reason)));
            }
        }
        for (read, failure) in ready.failed_reads {
            self.metrics.reads_failed.increment();
            if let Some((_, reply)) = self.reads.remove(&read) {
                let _ = reply.send(Err(read_error(failure)));
            }
        }
        let changes = ready.persist.state();
        if !changes.is_empty() {
            self.persistence.persist(changes)?;
            self.metrics.fsyncs.increment();
        }
        let released = ready.persist.persisted();
        self.handle_released(released)
    }

    fn handle_released(&mut self, released: Released) -> Result<(), NodeError> {
        for envelope in released.messages {
            self.transport.send(envelope);
        }
        if let Some(snapshot) = released.snapshot {
            self.store = restore(&snapshot)?;
            info!(end = snapshot.end.0, "installed a snapshot from a peer");
            self.metrics.snapshots_installed.increment();
            self.next_apply = snapshot.end;
        }
        for decided in released.decided {
            self.apply(decided);
        }
        self.maybe_compact();
        for read in released.reads {
            if let Some((operation, reply)) = self.reads.remove(&read) {
                self.metrics.reads_served.increment();
                let _ = reply.send(Ok(self.store.read(&operation)));
            }
        }
        Ok(())
    }

    fn apply(&mut self, decided: Decided) {
        assert_eq!(
            decided.slot, self.next_apply,
            "the core hands out decided slots in order"
        );
        self.next_apply = decided.slot.next();
        let commands = decided.value.commands();
        self.metrics.decisions.increment();
        self.metrics.record_batch_size(commands.len());
        for proposal in commands {
            // Every replica skips an untagged proposal alike, so the state
            // machines stay identical; only a foreign writer can cause one.
            let Some((tag, command)) = tag::unwrap(proposal) else {
                warn!(slot = decided.slot.0, "skipping an untagged proposal");
                continue;
            };
            let response = self.store.apply_encoded(command);
            self.metrics.commands_applied.increment();
            if let Some(pending) = self.writes.remove(&tag) {
                let _ = pending.reply.send(Ok(response));
            }
        }
    }

    /// Takes a snapshot when the core says the applied log has grown enough.
    fn maybe_compact(&mut self) {
        if !self.replica.snapshot_due() || self.next_apply <= self.replica.log_start() {
            return;
        }
        let snapshot = Snapshot {
            end: self.next_apply,
            state: self.store.snapshot(),
        };
        self.replica.compact(snapshot);
        self.metrics.snapshots_taken.increment();
    }

    /// Notices a change of leader. Writes handed to a leader that is no
    /// longer the one known may or may not be chosen by the next leader:
    /// they are answered "outcome unknown" now rather than at their
    /// deadline. Writes the core held for lack of a leader go to the new one.
    fn observe_leader(&mut self) {
        let leader = self.replica.leader();
        if leader == self.known_leader {
            return;
        }
        let previous = std::mem::replace(&mut self.known_leader, leader);
        match leader {
            Some(leader) => {
                self.metrics.leader_changes.increment();
                info!(%leader, role = self.replica.role().name(), "new leader");
            }
            None => info!("leader lost"),
        }
        if previous.is_some() {
            let lost: Vec<RequestTag> = self
                .writes
                .iter()
                .filter(|(_, pending)| pending.leader == previous)
                .map(|(tag, _)| *tag)
                .collect();
            for tag in lost {
                let pending = self.writes.remove(&tag).expect("collected above");
                self.metrics.writes_outcome_unknown.increment();
                let _ = pending
                    .reply
                    .send(Err(RequestError::OutcomeUnknown(UnknownReason::LeaderLost)));
            }
        }
        for pending in self.writes.values_mut() {
            if pending.leader.is_none() {
                pending.leader = leader;
            }
        }
    }

    fn publish_status(&mut self) {
        let status = status_of(&self.replica, self.next_apply);
        self.status.send_if_modified(|current| {
            if *current == status {
                return false;
            }
            *current = status;
            true
        });
    }

    /// Answers everything still waiting when the loop ends.
    fn answer_all_pending(&mut self) {
        for (_, pending) in self.writes.drain() {
            let _ = pending
                .reply
                .send(Err(RequestError::OutcomeUnknown(UnknownReason::Stopped)));
        }
        for (_, (_, reply)) in self.reads.drain() {
            let _ = reply.send(Err(RequestError::Stopping));
        }
    }
}

fn restore(snapshot: &Snapshot) -> Result<Store, NodeError> {
    Store::restore(&snapshot.state).map_err(|failure| NodeError::SnapshotUnreadable {
        end: snapshot.end.0,
        reason: failure.to_string(),
    })
}

fn rejection_error(reason: RejectReason) -> RequestError {
    match reason {
        RejectReason::NoLeader => RequestError::NoLeader,
        RejectReason::NotLeader { leader } => RequestError::NotLeader { leader },
        RejectReason::Overloaded => RequestError::Overloaded,
    }
}

fn read_error(failure: ReadError) -> RequestError {
    match failure {
        ReadError::NoLeader => RequestError::NoLeader,
        ReadError::NotLeader => RequestError::NotLeader { leader: None },
        ReadError::Timeout => RequestError::ReadTimeout,
        ReadError::Overloaded => RequestError::Overloaded,
    }
}

fn status_of(replica: &Replica, next_apply: Slot) -> NodeStatus {
    let status = replica.status();
    let leading = status.role == Role::Leader;
    let members = replica
        .config()
        .members
        .iter()
        .map(|member| {
            let commit_index = if *member == status.id {
                leading.then_some(status.committed.0)
            } else {
                status
                    .followers
                    .iter()
                    .find(|(follower, _)| follower == member)
                    .map(|(_, committed)| committed.0)
            };
            MemberStatus {
                id: member.0,
                commit_index,
                lag: commit_index.map(|committed| status.committed.0.saturating_sub(committed)),
            }
        })
        .collect();
    NodeStatus {
        id: status.id.0,
        role: status.role.name(),
        leader: status.leader.map(|leader| leader.0),
        ballot: BallotStatus {
            round: status.promised.round,
            node: status.promised.node.0,
        },
        commit_index: status.committed.0,
        applied_index: next_apply.0,
        members,
    }
}

/// A number that differs at every call and every start: the standard
/// library's per-process random hash keys (drawn from the operating
/// system), mixed with the time and the process id.
pub fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(now);
    hasher.write_u32(std::process::id());
    hasher.finish()
}
