//! Linearizable reads without log writes.
//!
//! A leader gives each read a read index, `max(commit index, end of the
//! slots recovered in phase 1)`, which covers every write completed before
//! the read arrived. It then waits for a heartbeat round that started after
//! the read arrived to be acknowledged by a quorum (so no higher ballot was
//! promised meanwhile), and the read is served once the read index is
//! applied. All reads waiting share the next round. A follower asks the
//! leader for a read index for a whole batch of reads and serves them
//! locally once it has applied past it.
//!
//! With the opt-in leader lease ([`crate::Config::lease_ticks`]), a read
//! that arrives while a round that started less than the lease ago stands
//! confirmed needs no round of its own: the majority that acknowledged it
//! refuses pre-votes and promises to anyone else for an election timeout,
//! so no other leader can exist yet. That rests on bounded clock drift.
//!
//! [`ReadState`] owns every read of the replica in every stage, together
//! with the one limit on how many may be held: reads waiting for a leader,
//! reads forwarded to the leader, reads with a read index waiting to be
//! applied, and, on a leader, the reads it confirms for itself and for its
//! followers. A batch forwarded to a leader that stops being the one known
//! goes back to waiting and is sent to the next leader as soon as one is
//! known, instead of waiting for its timeout (the old leader's late answer
//! to it is ignored). Each stage has the request timeout, counted for the
//! wait for a leader from the read's arrival however often it is sent
//! again, so a read lives at most three timeouts (waiting, confirming,
//! applying).

use std::collections::{BTreeMap, VecDeque};

use crate::config::Mutation;
use crate::message::Message;
use crate::ready::ReadError;
use crate::rng::SplitMix64;
use crate::types::{Ballot, NodeId, ReadId, ReadRequestId, ReadRound, Slot};

use super::{Replica, RoleState};

/// Who asked for a read the leader is confirming.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ReadOrigin {
    Local(ReadId),
    Remote {
        node: NodeId,
        request: ReadRequestId,
        /// Reads in the follower's batch.
        reads: u64,
    },
}

impl ReadOrigin {
    /// How many reads this stands for, against the limit.
    fn reads(self) -> usize {
        match self {
            ReadOrigin::Local(_) => 1,
            ReadOrigin::Remote { reads, .. } => usize::try_from(reads).unwrap_or(usize::MAX),
        }
    }
}

/// A read the leader is confirming.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct LeaderRead {
    origin: ReadOrigin,
    read_index: Slot,
    round_needed: ReadRound,
    deadline_tick: u64,
}

/// A read whose read index is known; it is served once that index is
/// applied, or fails at its deadline.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ConfirmedRead {
    id: ReadId,
    read_index: Slot,
    deadline_tick: u64,
}

/// A batch of reads a follower sent to the leader for a read index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ReadBatch {
    /// The reads, with the tick each arrived.
    reads: Vec<(ReadId, u64)>,
    sent_tick: u64,
    /// The leader it was sent to.
    leader: NodeId,
}

/// The confirmation rounds of one leadership.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct LeaderReads {
    /// The latest round started.
    round: ReadRound,
    round_started_tick: u64,
    /// The latest round a quorum acknowledged.
    confirmed_round: ReadRound,
    /// Rounds started and not yet confirmed, with the tick each started,
    /// oldest first: when a quorum confirms one, the lease runs from its
    /// start (at most about two per heartbeat interval until check-quorum
    /// resigns, so this stays short).
    unconfirmed: VecDeque<(ReadRound, u64)>,
    /// The tick in which the latest confirmed round started: the leader
    /// lease runs from it (see [`crate::Config::lease_ticks`]).
    lease_start_tick: Option<u64>,
    /// The latest round each follower acknowledged.
    acknowledged: BTreeMap<NodeId, ReadRound>,
    /// Reads waiting for a round to be confirmed.
    pending: Vec<LeaderRead>,
    /// The reads `pending` stands for (a follower's batch counts each of
    /// its reads).
    pending_reads: usize,
}

impl LeaderReads {
    fn push(&mut self, read: LeaderRead) {
        self.pending_reads += read.origin.reads();
        self.pending.push(read);
    }

    /// Takes the pending reads for which `taken` holds, in order.
    fn take_where(&mut self, taken: impl Fn(&LeaderRead) -> bool) -> Vec<LeaderRead> {
        let (taken, kept): (Vec<LeaderRead>, Vec<LeaderRead>) =
            self.pending.drain(..).partition(taken);
        self.pending = kept;
        self.pending_reads -= taken.iter().map(|read| read.origin.reads()).sum::<usize>();
        taken
    }
}

/// Every read a replica holds, and the limit on how many.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct ReadState {
    /// See [`crate::Config::reads_pending_max`].
    limit: usize,
    /// Reads waiting for a leader to be known, with their arrival tick, in
    /// order of arrival.
    waiting: VecDeque<(ReadId, u64)>,
    /// Batches sent to a leader, awaiting its read index.
    batches: BTreeMap<ReadRequestId, ReadBatch>,
    /// The reads in `batches`.
    batched_reads: usize,
    next_request: ReadRequestId,
    /// Reads with a read index, waiting for it to be applied.
    confirmed: Vec<ConfirmedRead>,
    /// The leader's side, while this replica leads.
    leading: Option<LeaderReads>,
    /// Reads (a follower's batch counts once) given their read index under
    /// the lease, since this replica started: for tests and the simulator.
    pub(super) served_under_lease: u64,
}

impl ReadState {
    /// No reads yet. Read-request numbers start at a random point drawn
    /// from `rng` (see [`ReadRequestId`]).
    pub(super) fn new(rng: &mut SplitMix64, limit: usize) -> ReadState {
        ReadState {
            limit,
            waiting: VecDeque::new(),
            batches: BTreeMap::new(),
            batched_reads: 0,
            // Leave room below u64::MAX so the counter never wraps.
            next_request: ReadRequestId(rng.next_u64() >> 1),
            confirmed: Vec::new(),
            leading: None,
            served_under_lease: 0,
        }
    }

    /// Every read held, in whatever stage: what the limit counts.
    pub(super) fn pending_count(&self) -> usize {
        let leading = self
            .leading
            .as_ref()
            .map_or(0, |leading| leading.pending_reads);
        self.waiting.len() + self.batched_reads + self.confirmed.len() + leading
    }

    /// True when `reads` more would break the limit.
    fn has_no_room_for(&self, reads: usize) -> bool {
        self.pending_count().saturating_add(reads) > self.limit
    }

    fn remove_batch(&mut self, request: ReadRequestId) -> Option<ReadBatch> {
        let batch = self.batches.remove(&request)?;
        self.batched_reads -= batch.reads.len();
        Some(batch)
    }

    /// When another node becomes the leader known, batches sent elsewhere
    /// go back to waiting, in arrival order, to be sent to it (a read has no
    /// effect, so asking again is safe; a late answer to the old batch
    /// matches no batch any more). While no leader is known they stay: the
    /// same leader may answer yet.
    pub(super) fn leader_changed(&mut self, leader: Option<NodeId>) {
        let Some(leader) = leader else {
            return;
        };
        let stale: Vec<ReadRequestId> = self
            .batches
            .iter()
            .filter(|(_, batch)| batch.leader != leader)
            .map(|(request, _)| *request)
            .collect();
        for request in stale {
            let batch = self.remove_batch(request).expect("listed above");
            for (id, arrival_tick) in batch.reads {
                let position = self
                    .waiting
                    .partition_point(|(_, tick)| *tick <= arrival_tick);
                self.waiting.insert(position, (id, arrival_tick));
            }
        }
    }

    /// A new leadership starts its rounds at zero.
    pub(super) fn start_leading(&mut self, now_tick: u64, followers: impl Iterator<Item = NodeId>) {
        assert!(self.leading.is_none(), "one leadership at a time");
        self.leading = Some(LeaderReads {
            round: ReadRound(0),
            round_started_tick: now_tick,
            confirmed_round: ReadRound(0),
            unconfirmed: VecDeque::new(),
            lease_start_tick: None,
            acknowledged: followers.map(|node| (node, ReadRound(0))).collect(),
            pending: Vec::new(),
            pending_reads: 0,
        });
    }

    /// The configurations a lease was confirmed against changed: the lease
    /// ends, and the next round confirmed by the new ones starts another.
    /// (Voters of a new configuration that never acknowledged us may elect
    /// a leader without waiting for our lease to run out.)
    pub(super) fn end_lease(&mut self) {
        if let Some(leading) = self.leading.as_mut() {
            leading.lease_start_tick = None;
            leading.unconfirmed.clear();
        }
    }

    /// A member joined while we lead: its acknowledgements count from now.
    pub(super) fn add_follower(&mut self, node: NodeId) {
        if let Some(leading) = self.leading.as_mut() {
            leading.acknowledged.entry(node).or_insert(ReadRound(0));
        }
    }

    /// The latest confirmation round started, and the latest a quorum
    /// acknowledged. Called only while leading.
    pub(super) fn rounds(&self) -> (ReadRound, ReadRound) {
        let leading = self.leading.as_ref().expect("called only while leading");
        (leading.round, leading.confirmed_round)
    }

    fn leading_mut(&mut self) -> &mut LeaderReads {
        self.leading.as_mut().expect("called only while leading")
    }

    pub(super) fn check_invariants(&self) {
        assert_eq!(
            self.batched_reads,
            self.batches
                .values()
                .map(|batch| batch.reads.len())
                .sum::<usize>()
        );
        if let Some(leading) = &self.leading {
            assert!(leading.confirmed_round <= leading.round);
            assert!(leading
                .pending
                .iter()
                .all(|read| read.round_needed > leading.confirmed_round));
            assert_eq!(
                leading.pending_reads,
                leading
                    .pending
                    .iter()
                    .map(|read| read.origin.reads())
                    .sum::<usize>()
            );
        }
    }
}

impl Replica {
    pub(super) fn handle_local_read(&mut self, id: ReadId) {
        if self.reads.has_no_room_for(1) {
            self.outbox.failed_reads.push((id, ReadError::Overloaded));
            return;
        }
        if matches!(self.role, RoleState::Leader(_)) {
            self.leader_add_read(ReadOrigin::Local(id));
        } else {
            self.reads.waiting.push_back((id, self.now_tick));
        }
    }

    /// A new leader takes over the reads that waited for a leader.
    pub(super) fn serve_waiting_reads_as_leader(&mut self) {
        let waiting: Vec<(ReadId, u64)> = self.reads.waiting.drain(..).collect();
        for (id, _) in waiting {
            self.leader_add_read(ReadOrigin::Local(id));
        }
    }

    fn leader_add_read(&mut self, origin: ReadOrigin) {
        let deadline_tick = self.now_tick + self.config.request_timeout_ticks;
        let without_confirmation = self.runs(Mutation::ReadWithoutConfirmation);
        let read_index = self.read_index_now();
        let leased = self.holds_lease();
        if leased {
            self.reads.served_under_lease += 1;
        }
        let leading = self.reads.leading_mut();
        let round_needed = if without_confirmation || leased {
            ReadRound(0)
        } else {
            leading.round.next()
        };
        leading.push(LeaderRead {
            origin,
            read_index,
            round_needed,
            deadline_tick,
        });
        self.confirm_reads();
    }

    /// True while the leader lease holds: a heartbeat round that started
    /// less than [`crate::Config::lease_ticks`] ago was acknowledged by a
    /// majority, each of which refuses to help anyone else lead for an
    /// election timeout after it heard it (see [`crate::lease_ticks_max`]).
    /// A read may then take its read index without a round of its own.
    fn holds_lease(&self) -> bool {
        let lease_ticks = if self.runs(Mutation::LeaseIgnoresClockDrift) {
            self.config.election_timeout_ticks - 1
        } else {
            self.config.lease_ticks
        };
        let start = self
            .reads
            .leading
            .as_ref()
            .and_then(|leading| leading.lease_start_tick);
        lease_ticks > 0 && start.is_some_and(|start| self.now_tick < start + lease_ticks)
    }

    /// Starts a new confirmation round (a heartbeat) when reads wait for one
    /// and none is in flight: all reads arriving meanwhile share the next.
    pub(super) fn maybe_start_read_round(&mut self) {
        let now_tick = self.now_tick;
        let interval = self.config.heartbeat_interval_ticks;
        let leading = self.reads.leading_mut();
        let waiting = leading
            .pending
            .iter()
            .any(|read| read.round_needed > leading.round);
        let in_flight = leading.confirmed_round < leading.round
            && now_tick < leading.round_started_tick + interval;
        if waiting && !in_flight {
            self.start_read_round();
        }
    }

    /// Broadcasts a heartbeat that starts a new confirmation round.
    pub(super) fn start_read_round(&mut self) {
        let now_tick = self.now_tick;
        let committed = self.committed;
        let leading = self.reads.leading_mut();
        leading.round = leading.round.next();
        leading.round_started_tick = now_tick;
        let round = leading.round;
        leading.unconfirmed.push_back((round, now_tick));
        let leadership = self.leadership_mut();
        leadership.heartbeat_elapsed_ticks = 0;
        leadership.commit_announced = committed;
        let ballot = leadership.ballot;
        self.broadcast_now(Message::Heartbeat {
            ballot,
            committed,
            round,
        });
        self.update_confirmed_round();
    }

    pub(super) fn handle_heartbeat_ack(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        round: ReadRound,
        committed: Slot,
    ) {
        self.note_committed(from, committed);
        if !self.follower_reply(from, ballot) {
            return;
        }
        self.note_follower_committed(from, committed);
        if let Some(acknowledged) = self.reads.leading_mut().acknowledged.get_mut(&from) {
            *acknowledged = (*acknowledged).max(round);
        }
        self.update_confirmed_round();
    }

    /// The highest round acknowledged by a quorum (counting ourselves, who
    /// are always at the latest round).
    fn update_confirmed_round(&mut self) {
        // Until phase 1 is complete for every configuration that governs
        // the slots it reads at, no round counts (see `phase_one_complete`;
        // regression: membership and lease seed 720, a restarted replica
        // elected under the initial configuration served a stale read).
        if !self.phase_one_complete() {
            return;
        }
        let leading = self
            .reads
            .leading
            .as_ref()
            .expect("called only while leading");
        let confirmed = self.round_confirmed_by_quorums(&leading.acknowledged, leading.round);
        let leading = self.reads.leading_mut();
        if confirmed > leading.confirmed_round {
            leading.confirmed_round = confirmed;
            while let Some(&(round, started_tick)) = leading.unconfirmed.front() {
                if round > confirmed {
                    break;
                }
                leading.unconfirmed.pop_front();
                leading.lease_start_tick = Some(started_tick);
            }
        }
        self.confirm_reads();
    }

    /// The index a read arriving now must wait for: every write completed
    /// before it sits below. Such a write was decided by us (below
    /// `committed`), by an earlier leader (then phase 1 recovered it below
    /// `recovery_end`), or by a follower from our announced acceptance and
    /// its own, which we may not have heard of yet (below
    /// `decided_unseen_end`).
    fn read_index_now(&mut self) -> Slot {
        let committed = self.committed;
        let leadership = self.leadership_mut();
        committed
            .max(leadership.recovery_end)
            .max(leadership.decided_unseen_end)
    }

    fn confirm_reads(&mut self) {
        let ballot = self.leadership_mut().ballot;
        let committed = self.committed;
        // The read index is taken again now, and the higher one kept: phase
        // 1 may have completed since the read arrived (promises from the
        // voters of a configuration learned by catch-up), raising the end
        // of what it recovered. A later index is still linearizable: every
        // slot below it is decided before the read is served.
        let index_now = self.read_index_now();
        let leading = self.reads.leading_mut();
        let confirmed_round = leading.confirmed_round;
        let ready = leading.take_where(|read| read.round_needed <= confirmed_round);
        for read in ready {
            match read.origin {
                ReadOrigin::Local(id) => self.reads.confirmed.push(ConfirmedRead {
                    id,
                    read_index: read.read_index.max(index_now),
                    deadline_tick: read.deadline_tick,
                }),
                ReadOrigin::Remote { node, request, .. } => self.send_now(
                    node,
                    Message::ReadIndexReply {
                        request,
                        ballot,
                        read_index: read.read_index.max(index_now),
                        committed,
                    },
                ),
            }
        }
    }

    /// Ends the leader's side of reads: every read it was confirming fails
    /// (a remote one by telling its follower).
    pub(super) fn fail_leader_reads(&mut self) {
        let leading = self.reads.leading.take().expect("a leader confirms reads");
        for read in leading.pending {
            self.fail_leader_read(read.origin, ReadError::NotLeader);
        }
    }

    fn fail_leader_read(&mut self, origin: ReadOrigin, error: ReadError) {
        match origin {
            ReadOrigin::Local(id) => self.outbox.failed_reads.push((id, error)),
            // A follower's batch fails there, retryable: not the leader any
            // more (whatever the local reason was).
            ReadOrigin::Remote { node, request, .. } => self.send_now(
                node,
                Message::ReadIndexRejected {
                    request,
                    reason: ReadError::NotLeader,
                },
            ),
        }
    }

    /// A follower asks us to confirm a batch of `reads`.
    pub(super) fn handle_read_index_request(
        &mut self,
        from: NodeId,
        request: ReadRequestId,
        reads: u64,
    ) {
        let origin = ReadOrigin::Remote {
            node: from,
            request,
            reads,
        };
        let reason = if !matches!(self.role, RoleState::Leader(_)) {
            ReadError::NotLeader
        } else if self.reads.has_no_room_for(origin.reads()) {
            ReadError::Overloaded
        } else {
            self.leader_add_read(origin);
            return;
        };
        self.send_now(from, Message::ReadIndexRejected { request, reason });
    }

    pub(super) fn handle_read_index_reply(
        &mut self,
        from: NodeId,
        request: ReadRequestId,
        ballot: Ballot,
        read_index: Slot,
        committed: Slot,
    ) {
        let Some(batch) = self.reads.remove_batch(request) else {
            return;
        };
        let deadline_tick = self.now_tick + self.config.request_timeout_ticks;
        for (id, _) in batch.reads {
            self.reads.confirmed.push(ConfirmedRead {
                id,
                read_index,
                deadline_tick,
            });
        }
        if ballot >= self.promised {
            self.follow(ballot);
            self.learn_committed(ballot, committed, from);
        }
    }

    pub(super) fn handle_read_index_rejected(&mut self, request: ReadRequestId, reason: ReadError) {
        if let Some(batch) = self.reads.remove_batch(request) {
            for (id, _) in batch.reads {
                self.outbox.failed_reads.push((id, reason));
            }
        }
    }

    /// Sends the reads waiting for a leader to the leader we know, as one
    /// batch asking for a read index.
    pub(super) fn forward_waiting_reads(&mut self, leader: NodeId) {
        if self.reads.waiting.is_empty() {
            return;
        }
        let request = self.reads.next_request;
        self.reads.next_request = ReadRequestId(request.0 + 1);
        let reads: Vec<(ReadId, u64)> = self.reads.waiting.drain(..).collect();
        let count = reads.len() as u64;
        self.reads.batched_reads += reads.len();
        self.reads.batches.insert(
            request,
            ReadBatch {
                reads,
                sent_tick: self.now_tick,
                leader,
            },
        );
        self.send_now(
            leader,
            Message::ReadIndexRequest {
                request,
                reads: count,
            },
        );
    }

    /// Hands out confirmed reads whose read index is applied.
    pub(super) fn release_reads(&mut self) {
        let applied = self.applied;
        let mut index = 0;
        while index < self.reads.confirmed.len() {
            if self.reads.confirmed[index].read_index <= applied {
                let read = self.reads.confirmed.swap_remove(index);
                self.outbox.reads.push(read.id);
            } else {
                index += 1;
            }
        }
    }

    /// Fails every read that waited longer than the request timeout, in
    /// whatever stage it is.
    pub(super) fn expire_reads(&mut self) {
        let now_tick = self.now_tick;
        let timeout = self.config.request_timeout_ticks;
        let expired = |since: u64| now_tick >= since + timeout;
        while let Some((_, since)) = self.reads.waiting.front() {
            if !expired(*since) {
                break;
            }
            let (id, _) = self.reads.waiting.pop_front().expect("front exists");
            self.outbox.failed_reads.push((id, ReadError::NoLeader));
        }
        let stale: Vec<ReadRequestId> = self
            .reads
            .batches
            .iter()
            .filter(|(_, batch)| expired(batch.sent_tick))
            .map(|(request, _)| *request)
            .collect();
        for request in stale {
            let batch = self.reads.remove_batch(request).expect("listed above");
            for (id, _) in batch.reads {
                self.outbox.failed_reads.push((id, ReadError::Timeout));
            }
        }
        let mut index = 0;
        while index < self.reads.confirmed.len() {
            if now_tick >= self.reads.confirmed[index].deadline_tick {
                let read = self.reads.confirmed.swap_remove(index);
                self.outbox.failed_reads.push((read.id, ReadError::Timeout));
            } else {
                index += 1;
            }
        }
        if let Some(leading) = &mut self.reads.leading {
            let expired_reads = leading.take_where(|read| now_tick >= read.deadline_tick);
            for read in expired_reads {
                self.fail_leader_read(read.origin, ReadError::Timeout);
            }
        }
    }
}
