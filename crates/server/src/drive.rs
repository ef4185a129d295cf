//! The drive loop: the tokio adapter around the sans-IO [`Node`].
//!
//! One task of the node's runtime owns the node (see [`crate::server`]).
//! Each iteration waits for one input (a peer
//! message, a client request, a tick, or batches the disk thread made
//! durable), takes every other input already waiting (up to
//! [`INPUTS_PER_ROUND_MAX`]), and then drains the node: send its messages,
//! answer its replies, hand the batches it wants persisted to the disk
//! thread ([`crate::disk`]), and repeat until the node has nothing more to
//! say. No protocol or routing decision lives here: what a client is told,
//! and when, is the node's (see `synod_node`).
//!
//! The disk thread writes and syncs batches in the order handed over and
//! reports them in that order, several per sync (group commit). Meanwhile
//! the loop goes on: a leader's own write overlaps its Accepts and their
//! answers, and the next batch gathers while the last one syncs.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use synod_kv::{Command, Operation, Principal};
use synod_node::{Event, Node, NodeOptions, Reply, Request, SnapshotToEncode};
use synod_paxos::{
    ChangeError, Config, Configuration, ConfigurationChange, Membership, NodeId, Role, Slot,
    TransferError,
};
use synod_storage::StorageError;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{error, info, warn};

pub use synod_node::{NodeError, RequestError, RequestResult, UnknownReason};

use crate::clock::TickClock;
use crate::config::TICK_INTERVAL_MILLISECONDS;
use crate::disk::{Completion, Disk};
use crate::metrics::Metrics;
use crate::persistence::Persistence;
use crate::status::{status_of, StatusKey};
use crate::transport::{Admission, PeerMessage, Transport};

pub use crate::status::{
    BallotStatus, ConfigurationStatus, MemberStatus, NodeStatus, SnapshotTransferStatus,
};

/// Client requests waiting for the drive loop (backpressure beyond this).
pub const CLIENT_INBOX_REQUESTS_MAX: usize = 8_192;
/// Peer messages waiting for the drive loop (a peer connection stops
/// reading beyond this, and TCP pushes back on the sender).
pub const PEER_INBOX_MESSAGES_MAX: usize = 8_192;
/// Inputs folded into one iteration (and one group commit) at most, so that
/// a flood of requests cannot delay ticks and heartbeats without bound.
pub const INPUTS_PER_ROUND_MAX: usize = 4_096;
/// A removed node lingers this long once its removal is in force (and it
/// no longer leads) before it stops: long enough for its last messages,
/// a handover among them, to go out: 1 s.
pub const REMOVED_LINGER_TICKS: u64 = 100;
/// A write not decided within this many ticks (5 s) is answered "outcome
/// unknown": it was proposed, so it may still be chosen.
pub const WRITE_TIMEOUT_TICKS: u64 = synod_node::WRITE_TIMEOUT_TICKS_DEFAULT;

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
    /// A read: linearizable through the core's read path, or, when the
    /// connection asked for it by name (`READONLY`), stale from this node's
    /// applied state.
    Read {
        /// A read operation.
        operation: Operation,
        /// On whose behalf: the store checks the rights.
        principal: Principal,
        /// Served from the applied state without a quorum round.
        stale: bool,
        /// Where the answer goes.
        reply: oneshot::Sender<RequestResult>,
    },
    /// An operator's request (the admin endpoint).
    Admin {
        /// What to do.
        request: AdminRequest,
        /// Where the answer goes.
        reply: oneshot::Sender<AdminResult>,
    },
}

/// What an operator asks of the leader.
#[derive(Debug)]
pub enum AdminRequest {
    /// Propose a configuration change.
    Change(ConfigurationChange),
    /// Hand leadership to a voter.
    TransferLeadership(NodeId),
}

/// The answer to an [`AdminRequest`]: the configuration proposed (for a
/// change), or why the leader refused.
pub type AdminResult = Result<Option<Configuration>, AdminRefusal>;

/// Why an [`AdminRequest`] was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AdminRefusal {
    /// The change cannot be made now.
    #[error("{0}")]
    Change(ChangeError),
    /// The transfer cannot be made now.
    #[error("{0}")]
    Transfer(TransferError),
}

impl AdminRefusal {
    /// The leader this node knows of, when the refusal is "not the leader".
    pub fn leader(&self) -> Option<Option<NodeId>> {
        match self {
            AdminRefusal::Change(ChangeError::NotLeader { leader })
            | AdminRefusal::Transfer(TransferError::NotLeader { leader }) => Some(*leader),
            _ => None,
        }
    }
}

/// A failure that stops the node.
#[derive(Debug, Error)]
pub enum DriveError {
    /// Durable state could not be written; what is on disk is unknown.
    #[error("storage failed; the node stops because it cannot tell what it promised: {0}")]
    Storage(#[from] StorageError),
    /// The node cannot continue (a snapshot does not restore).
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The disk thread could not be started.
    #[error("the disk thread could not start: {0}")]
    Thread(String),
    /// This node's id was removed from the cluster; ids are never reused.
    #[error(
        "node {id} was removed from the cluster (configuration epoch {epoch}) and its id is \
         retired: it will not vote or serve again under this id. To bring the machine back, \
         move its data directory away and add it as a new member under a new id: \
         `synod cluster add --id NEW --peer HOST:PORT --endpoints ADMIN,…`, then \
         `synod server --id NEW --join ADMIN …` on an empty data directory"
    )]
    Removed {
        /// This node.
        id: u64,
        /// A configuration that does not have it.
        epoch: u64,
    },
}

/// What the node hands back with each answer: where it goes, and what kind
/// of request it answers (for the metrics).
#[derive(Debug)]
pub struct Waiter {
    reply: oneshot::Sender<RequestResult>,
    is_read: bool,
}

/// The drive loop's state.
pub struct DriveLoop {
    node: Node<Waiter>,
    disk: Disk,
    durable: Option<mpsc::UnboundedReceiver<Completion>>,
    /// Snapshots encoded on threads of their own (see
    /// [`synod_node::SnapshotToEncode`]), and where those threads send them.
    encoded: Option<mpsc::UnboundedReceiver<(Slot, Bytes)>>,
    encoded_sender: mpsc::UnboundedSender<(Slot, Bytes)>,
    transport: Transport,
    metrics: Arc<Metrics>,
    status: watch::Sender<NodeStatus>,
    /// When the node's ticks are due (see [`crate::clock`]).
    clock: TickClock,
    /// The peers of the start-up settings; the configurations' addresses
    /// take precedence (see [`address_book`]).
    static_peers: BTreeMap<NodeId, String>,
    /// The newest configuration's epoch, the chain's first start and the
    /// first slot of the configuration in force when the transport's peers
    /// were last set: the chain is a function of the decided log, so these
    /// change whenever it does.
    membership_applied: Option<(u64, Slot, Slot)>,
    /// The tick at which this node's removal took effect here.
    removed_ticks: Option<u64>,
    /// Ticks delivered to the node so far.
    ticks: u64,
    /// What the status was last published for (see
    /// [`DriveLoop::publish_status`]).
    status_published: Option<StatusKey>,
}

impl DriveLoop {
    /// Recovers the durable state and builds the node. Returns the loop and
    /// a receiver of the node's status.
    ///
    /// # Errors
    ///
    /// [`DriveError::Node`] when the recovered snapshot does not restore,
    /// [`DriveError::Thread`] when the disk thread cannot start.
    pub fn new(
        config: Config,
        mut persistence: Box<dyn Persistence>,
        transport: Transport,
        static_peers: BTreeMap<NodeId, String>,
        metrics: Arc<Metrics>,
    ) -> Result<(DriveLoop, watch::Receiver<NodeStatus>), DriveError> {
        let durable = persistence.recover();
        info!(
            id = %config.id,
            persistence = %persistence.describe(),
            promised = %durable.promised,
            committed = durable.committed.0,
            entries = durable.entries.len(),
            "recovered durable state"
        );
        let id = config.id;
        let catch_up_ticks = config.lease_ticks > 0;
        let node = Node::new(NodeOptions::new(config), durable, random_u64())?;
        let latest = node.replica().membership().latest();
        if latest.retired.contains(&id) {
            return Err(DriveError::Removed {
                id: id.0,
                epoch: latest.epoch,
            });
        }
        let (status, receiver) = watch::channel(status_of(
            node.replica(),
            node.applied(),
            &BTreeMap::new(),
            node.store().access().authentication_required(),
        ));
        let (disk, durable) = Disk::start(format!("synod-disk-{id}"), persistence, metrics.clone())
            .map_err(|failure| DriveError::Thread(failure.to_string()))?;
        // Unbounded: the node hands out one snapshot to encode at a time.
        let (encoded_sender, encoded) = mpsc::unbounded_channel();
        let drive = DriveLoop {
            node,
            disk,
            durable: Some(durable),
            encoded: Some(encoded),
            encoded_sender,
            transport,
            metrics,
            status,
            clock: TickClock::new(
                Duration::from_millis(TICK_INTERVAL_MILLISECONDS),
                Instant::now(),
                catch_up_ticks,
            ),
            static_peers,
            membership_applied: None,
            removed_ticks: None,
            ticks: 0,
            status_published: None,
        };
        Ok((drive, receiver))
    }

    /// Runs until `shutdown` turns true (or its sender is dropped), or until
    /// a failure stops the node.
    ///
    /// # Errors
    ///
    /// A [`DriveError`]; every waiting client has been answered then.
    pub async fn run(
        mut self,
        mut peers: mpsc::Receiver<PeerMessage>,
        mut clients: mpsc::Receiver<ClientRequest>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), DriveError> {
        let mut durable = self.durable.take().expect("run is called once");
        let mut encoded = self.encoded.take().expect("run is called once");
        let result = loop {
            let next_tick_at = tokio::time::Instant::from_std(self.clock.next_tick_at());
            let input = tokio::select! {
                biased;
                _ = shutdown.changed() => break Ok(()),
                Some(completion) = durable.recv() => self.persisted(completion),
                Some((end, state)) = encoded.recv() => {
                    self.node.snapshot_encoded(end, state);
                    Ok(())
                }
                () = tokio::time::sleep_until(next_tick_at) => {
                    self.advance_clock();
                    Ok(())
                }
                Some(input) = peers.recv() => {
                    self.advance_clock();
                    self.node.step(input.from, input.message);
                    Ok(())
                }
                Some(request) = clients.recv() => {
                    self.handle_client(request);
                    Ok(())
                }
            };
            let outcome = input
                .and_then(|()| self.gather(&mut durable, &mut peers, &mut clients))
                .and_then(|()| self.drain())
                .and_then(|()| self.follow_membership());
            if let Err(failure) = outcome {
                error!(%failure, "the node stops");
                break Err(failure);
            }
            self.publish_status();
        };
        // Writes handed over are finished (or fail) before the loop ends,
        // so the data directory is released when `run` returns.
        self.disk.stop();
        for reply in self.node.stop() {
            self.answer(reply);
        }
        result
    }

    /// Takes every input already waiting, up to [`INPUTS_PER_ROUND_MAX`],
    /// so that one group commit covers them all.
    fn gather(
        &mut self,
        durable: &mut mpsc::UnboundedReceiver<Completion>,
        peers: &mut mpsc::Receiver<PeerMessage>,
        clients: &mut mpsc::Receiver<ClientRequest>,
    ) -> Result<(), DriveError> {
        let mut gathered = 1;
        while gathered < INPUTS_PER_ROUND_MAX {
            let mut progressed = false;
            if let Ok(completion) = durable.try_recv() {
                self.persisted(completion)?;
                gathered += 1;
                progressed = true;
            }
            if let Ok(input) = peers.try_recv() {
                self.advance_clock();
                self.node.step(input.from, input.message);
                gathered += 1;
                progressed = true;
            }
            if let Ok(request) = clients.try_recv() {
                self.handle_client(request);
                gathered += 1;
                progressed = true;
            }
            if !progressed {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Tells the node which batches the disk thread made durable.
    fn persisted(&mut self, completion: Completion) -> Result<(), DriveError> {
        for sequence in completion? {
            self.node.persisted(sequence)?;
        }
        Ok(())
    }

    /// Delivers every tick the monotonic clock says is due, and the wall
    /// clock's reading (which stamps the batches this node forms as leader).
    /// Called before the node sees any message or request, so that a read
    /// checked against the leader lease sees the time that has really
    /// passed, even after the process was stopped (see [`crate::clock`]).
    fn advance_clock(&mut self) {
        self.node.set_time(crate::clock::unix_now());
        for _ in 0..self.clock.take_due(Instant::now()) {
            self.node.tick();
            self.ticks += 1;
        }
    }

    fn handle_client(&mut self, request: ClientRequest) {
        self.advance_clock();
        let (waiter, request) = match request {
            ClientRequest::Admin { request, reply } => {
                let outcome = match request {
                    AdminRequest::Change(change) => {
                        info!(?change, "configuration change requested");
                        self.node
                            .propose_change(change)
                            .map(Some)
                            .map_err(AdminRefusal::Change)
                    }
                    AdminRequest::TransferLeadership(to) => {
                        info!(%to, "leader transfer requested");
                        self.node
                            .transfer_leadership(to)
                            .map(|()| None)
                            .map_err(AdminRefusal::Transfer)
                    }
                };
                let _ = reply.send(outcome);
                return;
            }
            ClientRequest::Write { command, reply } => {
                self.metrics.proposals.increment();
                let waiter = Waiter {
                    reply,
                    is_read: false,
                };
                (waiter, Request::Write(command))
            }
            ClientRequest::Read {
                operation,
                principal,
                stale,
                reply,
            } => {
                let waiter = Waiter {
                    reply,
                    is_read: true,
                };
                let request = if stale {
                    Request::StaleRead(principal, operation)
                } else {
                    Request::Read(principal, operation)
                };
                (waiter, request)
            }
        };
        self.node.request(waiter, request);
    }

    /// Handles the node's output until it has nothing more to say.
    fn drain(&mut self) -> Result<(), DriveError> {
        loop {
            let ready = self.node.ready();
            if ready.is_empty() {
                return Ok(());
            }
            // Answers first: their writers run first, so a client is not
            // kept waiting behind the loopback sends of the decisions'
            // announcements (about 30 µs on a leader, in a trace of one
            // write). An answer never rests on a message of its round.
            for reply in ready.replies {
                self.answer(reply);
            }
            for envelope in ready.messages {
                self.transport.send(envelope);
            }
            for event in &ready.events {
                self.observe(event);
            }
            for batch in ready.persist {
                self.disk.write(batch);
            }
            if let Some(snapshot) = ready.snapshot_to_encode {
                self.encode_elsewhere(snapshot);
            }
        }
    }

    /// Encodes a snapshot of the state machine on a thread of its own: a
    /// million keys take about 200 ms, which the loop must not stall for.
    fn encode_elsewhere(&mut self, snapshot: SnapshotToEncode) {
        let sender = self.encoded_sender.clone();
        let end = snapshot.end;
        let spawned = std::thread::Builder::new()
            .name("synod-snapshot-encode".to_string())
            .spawn(move || {
                let _ = sender.send((snapshot.end, snapshot.encode()));
            });
        if let Err(error) = spawned {
            // The log stays uncompacted until the next attempt succeeds.
            warn!(%error, end = end.0, "cannot start a thread to encode a snapshot");
        }
    }

    /// Keeps the transport's peers in step with the configurations known
    /// here, and stops a node whose removal is in force (or that a peer
    /// refused as removed).
    fn follow_membership(&mut self) -> Result<(), DriveError> {
        let id = self.node.id();
        let replica = self.node.replica();
        let membership = replica.membership();
        let committed = replica.committed();
        let fingerprint = (
            membership.latest().epoch,
            membership
                .starts()
                .next()
                .map_or(Slot(0), |(start, _)| start),
            membership.start_of(committed),
        );
        if self.membership_applied != Some(fingerprint) {
            let (book, admission) = address_book(id, &self.static_peers, membership, committed);
            self.transport.set_peers(&book, admission);
            self.membership_applied = Some(fingerprint);
        }
        // A leader removed (or refused as removed) still hands over first.
        if replica.role() == Role::Leader {
            self.removed_ticks = None;
            return Ok(());
        }
        if let Some(epoch) = self.transport.removed().removed_at() {
            return Err(DriveError::Removed { id: id.0, epoch });
        }
        let Some(epoch) = replica.removal_in_force() else {
            self.removed_ticks = None;
            return Ok(());
        };
        let now = self.ticks;
        let since = *self.removed_ticks.get_or_insert(now);
        if now.saturating_sub(since) >= REMOVED_LINGER_TICKS {
            return Err(DriveError::Removed { id: id.0, epoch });
        }
        Ok(())
    }

    fn answer(&self, reply: Reply<Waiter>) {
        let Reply { handle, result, .. } = reply;
        match (&result, handle.is_read) {
            (Ok(_), true) => self.metrics.reads_served.increment(),
            (Err(_), true) => self.metrics.reads_failed.increment(),
            (Err(RequestError::OutcomeUnknown(_)), false) => {
                self.metrics.writes_outcome_unknown.increment()
            }
            (Err(_), false) => self.metrics.proposals_rejected.increment(),
            (Ok(_), false) => {}
        }
        // The client may have gone; its answer is then simply dropped.
        let _ = handle.reply.send(result);
    }

    fn observe(&self, event: &Event) {
        match event {
            Event::Applied {
                slot,
                value,
                untagged,
                ..
            } => {
                let commands = value.commands().len();
                self.metrics.decisions.increment();
                self.metrics.record_batch_size(commands);
                self.metrics
                    .commands_applied
                    .add((commands - untagged) as u64);
                if *untagged > 0 {
                    warn!(slot = slot.0, untagged, "skipped untagged proposals");
                }
            }
            Event::SnapshotInstalled { end, .. } => {
                info!(end = end.0, "installed a snapshot from a peer");
                self.metrics.snapshots_installed.increment();
            }
            Event::SnapshotTaken { .. } => self.metrics.snapshots_taken.increment(),
            Event::LeaderChanged { leader } => match leader {
                Some(leader) => {
                    self.metrics.leader_changes.increment();
                    let role = self.node.replica().role().name();
                    info!(%leader, role, "new leader");
                }
                None => info!("leader lost"),
            },
        }
    }

    /// Publishes the node's status at once when its role, leader, ballot
    /// or newest configuration changed, else at most once per tick: the
    /// status (commit index, members' progress) changes with every write,
    /// and building it costs about twenty allocations, which on every
    /// iteration of a leader under load was time taken from the writes.
    fn publish_status(&mut self) {
        let authentication_required = self.node.store().access().authentication_required();
        let key = StatusKey::of(self.node.replica(), self.ticks, authentication_required);
        if self.status_published == Some(key) {
            return;
        }
        self.status_published = Some(key);
        let status = status_of(
            self.node.replica(),
            self.node.applied(),
            self.transport.addresses(),
            authentication_required,
        );
        self.status.send_if_modified(|current| {
            if *current == status {
                return false;
            }
            *current = status;
            true
        });
    }
}

/// Whom to dial and whom to admit, from the start-up peers and the
/// configurations known: every member of a configuration in `membership`,
/// at its start-up address when it has one (this node's own view of how
/// to reach it, through a proxy or a NAT, say, wins), else at the address
/// the newest configuration that has one gives; start-up peers that no configuration known here has
/// yet (a joining node learns the members before the log that added
/// them); never this node. A removed id stays until its removal is in
/// force here (it is a member of a configuration that still governs): a
/// removed leader keeps leading, and must be heard, until then.
pub fn address_book(
    id: NodeId,
    static_peers: &BTreeMap<NodeId, String>,
    membership: &Membership,
    committed: Slot,
) -> (BTreeMap<NodeId, String>, Admission) {
    let latest = membership.latest();
    let mut book = BTreeMap::new();
    for (_, config) in membership.starts() {
        for (member, address) in &config.addresses {
            book.insert(*member, address.clone());
        }
    }
    book.extend(
        static_peers
            .iter()
            .map(|(peer, address)| (*peer, address.clone())),
    );
    let mut members = std::collections::BTreeSet::new();
    for config in membership.governing_from(committed) {
        members.extend(config.members());
    }
    book.retain(|member, _| {
        *member != id && (members.contains(member) || !latest.retired.contains(member))
    });
    members.extend(book.keys().copied());
    let admission = Admission {
        retired: latest
            .retired
            .difference(&members)
            .map(|node| (*node, std::time::Instant::now()))
            .collect(),
        members,
        epoch: latest.epoch,
    };
    (book, admission)
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

#[cfg(test)]
mod tests {
    use synod_paxos::CONFIGURATION_DELAY_SLOTS;

    use super::*;

    /// Regression (real processes): the address book dropped a removed
    /// leader as soon as its removal was decided, so it heard nobody,
    /// resigned through check-quorum and could not hand over. It must stay
    /// dialed and admitted until its removal is in force here, and be
    /// refused as removed after.
    #[test]
    fn a_removed_node_is_dialed_until_its_removal_is_in_force_then_refused() {
        let initial = Configuration::initial([NodeId(1), NodeId(2), NodeId(3)]);
        let removed = initial
            .changed(ConfigurationChange::Remove(NodeId(1)))
            .expect("a voter leaves");
        let mut membership = Membership::new(initial);
        assert!(membership.record_decided(Slot(10), &removed));
        let static_peers: BTreeMap<NodeId, String> = (1..=3)
            .map(|node| (NodeId(node), format!("127.0.0.1:{}", 7100 + node)))
            .collect();
        let (book, admission) = address_book(NodeId(2), &static_peers, &membership, Slot(11));
        assert!(
            book.contains_key(&NodeId(1)),
            "decided, not in force: {book:?}"
        );
        assert!(admission.members.contains(&NodeId(1)));
        assert!(admission.retired.is_empty());
        let in_force = Slot(10 + CONFIGURATION_DELAY_SLOTS);
        let (book, admission) = address_book(NodeId(2), &static_peers, &membership, in_force);
        assert!(!book.contains_key(&NodeId(1)), "in force: {book:?}");
        assert!(!book.contains_key(&NodeId(2)), "never this node");
        assert!(admission.retired.contains_key(&NodeId(1)));
        assert!(!admission.members.contains(&NodeId(1)));
    }
}
