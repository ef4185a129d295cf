//! One Multi-Paxos replica: acceptor, learner and (when elected) proposer.
//!
//! The replica owns the acceptor state (promise and accepted entries), the
//! learner state (which slots are decided, what has been handed out for
//! apply) and, while it leads, the proposer state (slot assignment, votes,
//! read confirmation rounds). It performs no IO: inputs arrive through
//! [`Replica::step`], [`Replica::tick`], [`Replica::propose`] and
//! [`Replica::read`]; all output leaves through [`Replica::ready`].
//!
//! Each role's rules live in a file of their own, the way etcd-io/raft
//! splits `raft.go`, `read_only.go` and `quorum/`:
//!
//! | file | rules |
//! |---|---|
//! | `acceptor.rs` | promises and acceptances, and the one admission rule for ballots |
//! | `election.rs` | timeouts, pre-vote, stickiness, phase 1, taking over the open slots, stepping down, resigning |
//! | `leader.rs` | phase 2: slots, batches, votes, heartbeats, check-quorum, retransmission |
//! | `learner.rs` | which slots are decided, in-order hand-out for apply |
//! | `catch_up.rs` | learning decided slots from peers, snapshots and compaction |
//! | `reads.rs` | linearizable reads: read index, confirmation rounds, the read limit |
//! | `waiting.rs` | requests held for a leader, forwarding, request timeouts |
//! | [`crate::quorum`] | what a majority is |

mod acceptor;
mod announced;
mod catch_up;
mod election;
mod leader;
mod learner;
mod members;
mod reads;
mod snapshot_transfer;
mod waiting;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use crate::config::{Config, Mutation};
use crate::membership::{Configuration, Membership};
use crate::message::{Envelope, Message};
use crate::ready::{
    Decided, DurableState, OwnVotes, PersistRequest, PersistentChanges, ReadError, Ready, Rejection,
};
use crate::rng::SplitMix64;
use crate::types::{Ballot, Entry, NodeId, ReadId, Slot, Snapshot};

use self::election::{Candidacy, PreCandidacy};
use self::leader::Leadership;
use self::reads::ReadState;
pub use self::snapshot_transfer::SnapshotTransferProgress;
use self::waiting::WaitingProposals;

/// What a replica currently does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Accepts what a leader proposes; forwards client requests to it.
    Follower,
    /// Heard from no leader for an election timeout and asks its peers
    /// whether they would support a campaign (the pre-vote).
    PreCandidate,
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
            Role::PreCandidate => "pre-candidate",
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
    /// The configuration that governs the first undecided slot.
    pub configuration: Configuration,
    /// The slot from which it governs.
    pub configuration_start: Slot,
    /// The newest configuration decided, when it governs only later slots.
    pub configuration_next: Option<(Slot, Configuration)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum RoleState {
    Follower,
    PreCandidate(PreCandidacy),
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
    /// Decisions behind a snapshot this round installs: released with it.
    decided: Vec<Decided>,
    /// Every other decision, counted from durable votes or learned from
    /// others: released at once (the node still orders them behind an
    /// earlier request that installs a snapshot).
    decided_now: Vec<Decided>,
    reads: Vec<ReadId>,
    /// This replica's votes that this round's write makes durable.
    own_votes: OwnVotes,
}

impl Outbox {
    /// This round's write holds this replica's acceptance of `slot` under
    /// `ballot` (as leader, of its own proposal; as follower, of the
    /// leader's). One round accepts under one ballot; should the ballot
    /// change within it, the acceptances under the old one are dropped:
    /// a slot accepted again under the new ballot is written only with its
    /// new entry, and forgetting the others costs only a quicker decision.
    fn note_own_acceptance(&mut self, ballot: Ballot, slot: Slot) {
        match &mut self.own_votes.acceptance {
            Some((noted, slots)) if *noted == ballot => slots.push(slot),
            acceptance => *acceptance = Some((ballot, vec![slot])),
        }
    }
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

    /// The configurations governing the slots from `log_start` on, from
    /// decided values only (see [`crate::membership`]).
    membership: Membership,

    // Learner state.
    /// Every slot below it is decided and its value is in `log`.
    committed: Slot,
    /// Decided slots at or above `committed` (decisions that arrived early).
    decided_ahead: BTreeSet<Slot>,
    /// Every slot below it has been handed out for apply.
    applied: Slot,
    /// Slots handed out early under the `ApplyOutOfOrder` mutation.
    applied_ahead: BTreeSet<Slot>,
    /// Durable acceptances heard of, per undecided slot, at the highest
    /// ballot heard for it: who accepted (see `learn_acceptances`). Only
    /// slots within `CONFIGURATION_DELAY_SLOTS` of `committed`.
    acceptances_heard: BTreeMap<Slot, (Ballot, BTreeSet<NodeId>)>,
    /// The latest commit index each peer reported. It can go down (a peer
    /// restarts with an older durable commit index), so catch-up picks among
    /// every peer that is ahead, in turn, instead of trusting one forever
    /// (regression: five-node seed 11659).
    peer_committed: BTreeMap<NodeId, Slot>,
    catch_up_requested_tick: Option<u64>,
    catch_up_attempts: u64,
    /// A snapshot being received in chunks (see `snapshot_transfer`).
    incoming_snapshot: Option<self::snapshot_transfer::IncomingSnapshot>,
    /// The CRC32C of our latest snapshot's state, by its end: computed the
    /// first time a chunk of it is sent.
    snapshot_checksum: Option<(Slot, u32)>,

    // Leadership.
    role: RoleState,
    leader: Option<NodeId>,
    /// When this replica last heard from `leader` as its follower: while
    /// less than an election timeout ago, it refuses pre-votes.
    leader_heard_tick: Option<u64>,
    /// With a leader lease: the highest ballot whose heartbeat round this
    /// replica acknowledged, and the tick it did. That leader's lease may
    /// rest on the acknowledgement for an election timeout, so until then
    /// this replica helps no one else lead, whatever older leaders' late
    /// messages make it follow meanwhile (regression, found in review: a
    /// stalled stream of the previous leader, flushed on reconnect, made a
    /// follower switch back and promise it). `None` without a lease.
    lease_supported: Option<(Ballot, u64)>,
    /// With a leader lease, this replica promises no one before this tick:
    /// it restarted and may have acknowledged a heartbeat just before (see
    /// `refuses_votes_for`). Zero without a lease.
    votes_refused_until_tick: u64,
    /// The highest ballot whose leader told us it resigned: messages of
    /// that leadership still in flight are not followed.
    resigned: Ballot,
    highest_round_seen: u64,
    election_elapsed_ticks: u64,
    election_timeout_ticks: u64,

    /// Proposals that wait for a leader to be known.
    proposals_waiting: WaitingProposals,
    /// Put first in every batch this replica forms as leader (see
    /// [`Replica::set_batch_stamp`]).
    batch_stamp: Option<Bytes>,
    /// Every read this replica holds, in whatever stage.
    reads: ReadState,

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
        let election_timeout_ticks = election::random_election_timeout(&mut rng, &config);
        let reads = ReadState::new(&mut rng, config.reads_pending_max);
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
        let log_size_bytes = catch_up::log_payload_bytes(&durable.entries);
        let membership = members::restored_membership(&config, durable.snapshot.as_ref());
        // A lease may rest on a heartbeat this replica acknowledged before
        // it stopped: it promises no one for an election timeout.
        let votes_refused_until_tick = if config.lease_ticks > 0 {
            config.election_timeout_ticks
        } else {
            0
        };
        let mut replica = Replica {
            highest_round_seen: durable.promised.round,
            config,
            rng,
            now_tick: 0,
            promised: durable.promised,
            log: durable.entries,
            snapshot: durable.snapshot,
            log_start,
            log_size_bytes,
            membership,
            committed,
            decided_ahead: BTreeSet::new(),
            // The caller restores its state machine from the snapshot.
            applied: log_start,
            applied_ahead: BTreeSet::new(),
            acceptances_heard: BTreeMap::new(),
            peer_committed: BTreeMap::new(),
            catch_up_requested_tick: None,
            catch_up_attempts: 0,
            incoming_snapshot: None,
            snapshot_checksum: None,
            role: RoleState::Follower,
            leader: None,
            leader_heard_tick: None,
            votes_refused_until_tick,
            lease_supported: None,
            resigned: Ballot::ZERO,
            election_elapsed_ticks: 0,
            election_timeout_ticks,
            proposals_waiting: WaitingProposals::default(),
            batch_stamp: None,
            reads,
            changes: PersistentChanges::default(),
            outbox: Outbox::default(),
        };
        replica.record_configurations(log_start, committed);
        replica
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
            RoleState::PreCandidate(_) => Role::PreCandidate,
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

    /// The accepted entry of `slot`, if any.
    pub fn entry(&self, slot: Slot) -> Option<&Entry> {
        self.log.get(&slot)
    }

    /// True when `slot` is known to be decided here.
    pub fn is_decided(&self, slot: Slot) -> bool {
        slot < self.committed || self.decided_ahead.contains(&slot)
    }

    /// Reads held in any stage, as counted against
    /// [`Config::reads_pending_max`].
    pub fn reads_pending(&self) -> usize {
        self.reads.pending_count()
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
        let latest = self.membership.latest_start();
        Status {
            id: self.id(),
            role: self.role(),
            leader: self.leader,
            promised: self.promised,
            committed: self.committed,
            applied: self.applied,
            followers,
            configuration: self.membership.at(self.committed).clone(),
            configuration_start: self.membership.start_of(self.committed),
            configuration_next: (latest > self.committed)
                .then(|| (latest, self.membership.latest().clone())),
        }
    }

    /// The configurations governing the slots this replica holds.
    pub fn membership(&self) -> &Membership {
        &self.membership
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
        let peers = self.peers();
        for peer in peers {
            self.send_now(peer, message.clone());
        }
    }

    /// Sends `message` to every other member once the state it announces is
    /// durable.
    fn broadcast_after_persist(&mut self, message: Message) {
        let peers = self.peers();
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
            RoleState::PreCandidate(pre_candidacy) => {
                pre_candidacy.elapsed_ticks += 1;
                if pre_candidacy.elapsed_ticks >= self.election_timeout_ticks {
                    self.campaign();
                }
            }
            RoleState::Candidate(candidacy) => {
                candidacy.elapsed_ticks += 1;
                if candidacy.elapsed_ticks >= self.election_timeout_ticks {
                    self.campaign();
                }
            }
            RoleState::Follower => {
                self.election_elapsed_ticks += 1;
                if self.election_elapsed_ticks >= self.election_timeout_ticks {
                    self.campaign();
                }
            }
        }
        self.expire_requests();
        if self.catch_up_due() {
            self.request_catch_up();
        }
    }

    /// Reads (a follower's batch counts once) this replica gave a read
    /// index under the leader lease since it started.
    pub fn reads_served_under_lease(&self) -> u64 {
        self.reads.served_under_lease
    }

    /// Raises the ballot and runs phase 1 now, without a pre-vote and
    /// whatever the peers' stickiness says; this is safe at any time, as
    /// every phase 1 is. Tests use it to make a given replica campaign over
    /// a live leader's followers; a leader transfer would use it the same
    /// way. With a leader lease it only restarts the election timer while
    /// this replica supports another leader's lease or started less than
    /// an election timeout ago (see `refuses_votes_for`); a leader
    /// transfer under a lease will need the leader to stop serving from
    /// its lease first (docs/membership.md).
    pub fn campaign_now(&mut self) {
        self.start_election();
    }

    /// Sets the command this replica puts first in every batch it forms
    /// as leader, or none. The core never looks inside it: the node puts
    /// its clock reading there, so that every batch carries the time of
    /// the leader that formed it (see `synod_kv::expiry`). A value
    /// recovered from an earlier leader keeps the stamp it was formed with.
    pub fn set_batch_stamp(&mut self, stamp: Option<Bytes>) {
        self.batch_stamp = stamp;
    }

    /// Hands a client command to the cluster. The outcome arrives later: as
    /// a decided value containing the command, or as a [`Rejection`] in
    /// [`Ready::rejected`]; a command is never dropped silently while this
    /// replica lives.
    pub fn propose(&mut self, command: Bytes) {
        if matches!(self.role, RoleState::Leader(_)) {
            self.leader_enqueue(command);
        } else {
            self.hold_for_leader(command);
        }
    }

    /// Asks for a linearizable read. When it may be served, `id` appears in
    /// [`crate::Released::reads`]: serve it from the state machine right after
    /// applying the decided values released with it. Otherwise it appears in
    /// [`Ready::failed_reads`].
    pub fn read(&mut self, id: ReadId) {
        self.handle_local_read(id);
    }

    /// This replica's own votes, released by a persist request, are
    /// durable: count them now, as another acceptor's promise or Accepted
    /// would be (see [`OwnVotes`] for why not before). Votes of a ballot
    /// this replica no longer campaigns or leads with count for nothing.
    pub fn own_votes_durable(&mut self, votes: OwnVotes) {
        if let Some(ballot) = votes.promise {
            self.count_own_promise(ballot);
        }
        if let Some((ballot, slots)) = votes.acceptance {
            if self.leads_with(ballot) {
                self.own_acceptance_durable(&slots);
                self.count_acceptance(self.id(), ballot, &slots);
            } else {
                self.learn_acceptances(self.id(), ballot, &slots);
            }
        }
    }

    /// Handles one message from a peer.
    pub fn step(&mut self, from: NodeId, message: Message) {
        assert_ne!(from, self.id(), "a replica never receives its own messages");
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
            Message::Reject { rejected, promised } => self.handle_reject(from, rejected, promised),
            Message::Forward { commands } => self.handle_forward(from, commands),
            Message::ForwardRejected { commands, reason } => {
                self.handle_forward_rejected(commands, reason)
            }
            Message::ReadIndexRequest { request, reads } => {
                self.handle_read_index_request(from, request, reads)
            }
            Message::ReadIndexReply {
                request,
                ballot,
                read_index,
                committed,
            } => self.handle_read_index_reply(from, request, ballot, read_index, committed),
            Message::ReadIndexRejected { request, reason } => {
                self.handle_read_index_rejected(request, reason)
            }
            Message::PreVote { ballot } => self.handle_pre_vote(from, ballot),
            Message::PreVoteReply {
                ballot,
                granted,
                promised,
            } => self.handle_pre_vote_reply(from, ballot, granted, promised),
            Message::Resign { ballot, successor } => self.handle_resign(from, ballot, successor),
            Message::CatchUpRequest { from: first } => self.handle_catch_up_request(from, first),
            Message::CatchUp { entries, committed } => {
                self.handle_catch_up(from, entries, committed)
            }
            Message::SnapshotChunk { chunk, committed } => {
                self.handle_snapshot_chunk(from, chunk, committed)
            }
            Message::SnapshotChunkRequest { end, offset } => {
                self.handle_snapshot_chunk_request(from, end, offset)
            }
        }
    }

    /// Collects everything produced since the last call. See [`Ready`] for
    /// the order in which the caller must handle it.
    pub fn ready(&mut self) -> Ready {
        self.flush();
        let outbox = std::mem::take(&mut self.outbox);
        let mut changes = std::mem::take(&mut self.changes);
        if !changes.needs_sync() {
            // A new commit index alone is a hint for restarts, which safety
            // never depends on: it rides with the next write that must be
            // synced, instead of costing the disk a write (and the loop two
            // thread hand-offs) for every decision a follower learns.
            self.changes.committed = changes.committed.take();
        }
        Ready {
            messages: outbox.messages,
            rejected: outbox.rejected,
            failed_reads: outbox.failed_reads,
            persist: PersistRequest {
                changes,
                messages: outbox.gated_messages,
                snapshot: outbox.snapshot,
                decided: outbox.decided,
                reads: outbox.reads,
                own_votes: outbox.own_votes,
            },
            decided: outbox.decided_now,
        }
    }

    /// Turns pending work into output: new slots, forwards, read rounds,
    /// commit announcements, decided values and servable reads.
    fn flush(&mut self) {
        if matches!(self.role, RoleState::Leader(_)) {
            self.reprepare_when_confirmed();
        }
        if matches!(self.role, RoleState::Leader(_)) {
            self.assign_slots();
            self.maybe_start_read_round();
            self.announce_commit();
            self.hand_over_when_removed();
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
        match &self.role {
            RoleState::PreCandidate(pre_candidacy) => {
                assert_eq!(self.leader, None, "a pre-candidate knows no leader");
                pre_candidacy.check_invariants(self.id(), self.promised);
            }
            RoleState::Candidate(_) => {
                assert_eq!(self.leader, None, "a candidate knows no leader");
            }
            RoleState::Follower | RoleState::Leader(_) => {}
        }
        if self.leader_heard_tick.is_some() {
            assert!(
                matches!(self.role, RoleState::Follower) && self.leader.is_some(),
                "only a follower of a known leader holds a lease on it"
            );
        }
        if let RoleState::Leader(leadership) = &self.role {
            assert_eq!(self.leader, Some(self.id()));
            assert!(
                self.promised == leadership.ballot,
                "a leader holds its promise"
            );
            leadership.check_invariants();
        }
        self.reads.check_invariants();
    }

    /// True while this replica leads with `ballot`.
    fn leads_with(&self, ballot: Ballot) -> bool {
        matches!(&self.role, RoleState::Leader(leadership) if leadership.ballot == ballot)
    }

    /// The leadership; called only while leading.
    fn leadership_mut(&mut self) -> &mut Leadership {
        match &mut self.role {
            RoleState::Leader(leadership) => leadership,
            _ => unreachable!("called only while leading"),
        }
    }

    /// True when the broken variant `mutation` runs (always false without
    /// the `mutations` feature).
    fn runs(&self, mutation: Mutation) -> bool {
        self.config.mutation() == mutation
    }
}
