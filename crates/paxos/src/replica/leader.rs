//! The leader's phase 2: assigning batches of commands to slots within the
//! pipeline window, counting acceptances, heartbeats with check-quorum, and
//! retransmitting what a follower has not acknowledged.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;

use crate::config::Mutation;
use crate::membership::{Configuration, CONFIGURATION_DELAY_SLOTS};
use crate::message::{Message, Proposal};
use crate::quorum::Majority;
use crate::types::{Ballot, Entry, NodeId, ReadRound, Slot, Value};
use crate::RejectReason;

use super::{Replica, RoleState};

/// Votes for one slot proposed by this leader.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Votes {
    value: Value,
    accepted_by: BTreeSet<NodeId>,
    sent_tick: u64,
}

/// What the leader knows of one follower.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct FollowerProgress {
    pub(super) last_heard_tick: u64,
    /// The follower's commit index, as it last reported it.
    pub(super) committed: Slot,
    /// True once the follower reported its commit index under this
    /// leadership: until then `committed` is a guess, not a report.
    pub(super) reported: bool,
}

impl FollowerProgress {
    /// A follower as a new leader sees it: heard from now (it just
    /// promised, or it will be given an election timeout to answer).
    pub(super) fn new(now_tick: u64) -> FollowerProgress {
        FollowerProgress {
            last_heard_tick: now_tick,
            committed: Slot(0),
            reported: false,
        }
    }
}

/// A command waiting for a slot, and where its client waits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Queued {
    pub(super) command: Bytes,
    /// The follower that forwarded it; `None` for a local client's.
    pub(super) origin: Option<NodeId>,
}

/// Proposer state of an elected leader.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Leadership {
    pub(super) ballot: Ballot,
    /// The first slot not yet assigned a value under this ballot.
    pub(super) next_slot: Slot,
    /// The highest commit index reported in phase 1: slots below it are
    /// decided somewhere, and this leader learns them by catch-up.
    pub(super) decided_elsewhere: Slot,
    /// Slots below this were reported in promises: the leader re-proposes
    /// them before anything new, and reads wait for them.
    pub(super) recovery_end: Slot,
    /// The highest-ballot entry reported in a promise, per slot not yet
    /// re-proposed (phase 1's values, kept until the window reaches them).
    pub(super) recovered: BTreeMap<Slot, Entry>,
    /// Configurations starting at or below this slot were in this
    /// replica's chain when it won its election, whose quorum covered
    /// every one of them.
    pub(super) elected_through: Slot,
    /// This leader, and the voters that promised its ballot when asked
    /// after the election (Rule 3): a configuration that starts above
    /// `elected_through` needs a majority of its voters among them before
    /// the leader proposes or reads in its slots. (The candidacy's own
    /// promisers are not kept: states that differ only in who promised
    /// would multiply the model checker's state space for nothing.)
    pub(super) promised_since: BTreeSet<NodeId>,
    /// Voters of a later configuration asked for their promise, and when.
    pub(super) prepare_sent: BTreeMap<NodeId, u64>,
    /// A configuration change waiting for its slot.
    pub(super) change_queued: Option<std::sync::Arc<Configuration>>,
    pub(super) votes: BTreeMap<Slot, Votes>,
    /// Commands waiting for a slot (not proposed yet).
    pub(super) queue: VecDeque<Queued>,
    pub(super) followers: BTreeMap<NodeId, FollowerProgress>,
    pub(super) heartbeat_elapsed_ticks: u64,
    /// The highest commit index broadcast to every follower (in an Accept
    /// or a heartbeat).
    pub(super) commit_announced: Slot,
    /// Followers whose forwarded commands went into slots proposed since
    /// the last Accepts went out: only their clients wait on what those
    /// slots decide (see `announce_own_acceptance`).
    pub(super) forwarded_by: BTreeSet<NodeId>,
    /// Slots below this had this leader's acceptance announced to a
    /// follower (see `announce_own_acceptance`), durable or not yet.
    pub(super) acceptance_announced_end: Slot,
    /// Slots below this may be decided at a follower without this leader
    /// knowing: their announced acceptance is durable, so a follower with
    /// its own may have decided, applied and answered them. Reads take
    /// their index at or above it (see `read_index_now`).
    pub(super) decided_unseen_end: Slot,
    /// A rejoining acceptor promised above our ballot: once this
    /// confirmation round is acknowledged by a majority, run phase 1 again
    /// above that promise (see `answer_higher_promise`).
    pub(super) reprepare_after: Option<ReadRound>,
}

impl Leadership {
    /// True while a change this leader proposed or re-proposes is undecided.
    pub(super) fn has_undecided_change(&self) -> bool {
        let is_change = |value: &Value| matches!(value, Value::Reconfigure(_));
        self.votes.values().any(|votes| is_change(&votes.value))
            || self.recovered.values().any(|entry| is_change(&entry.value))
    }

    /// A voter of a later configuration that we asked (see
    /// `ask_for_promises`) promised our ballot while we lead (Rule 3): its entries at slots not proposed yet join the recovered
    /// values, the highest ballot winning per slot. Entries below the next
    /// slot are moot: those slots were proposed under this ballot after a
    /// majority of their own voters promised. Slots below its commit index
    /// are decided (it reports no entries there): like a new leader, we
    /// learn them by catch-up and propose above them.
    pub(super) fn add_late_promise(
        &mut self,
        from: NodeId,
        committed: Slot,
        entries: Vec<crate::types::SlotEntry>,
    ) {
        // Only a promise this leadership asked for: a late answer to the
        // candidacy's Prepare changes nothing the majority did not decide.
        if self.prepare_sent.remove(&from).is_none() {
            return;
        }
        self.promised_since.insert(from);
        self.decided_elsewhere = self.decided_elsewhere.max(committed);
        if committed > self.next_slot {
            self.next_slot = committed;
            self.recovered = self.recovered.split_off(&committed);
            self.recovery_end = self.recovery_end.max(committed);
        }
        let next_slot = self.next_slot;
        let entries: Vec<crate::types::SlotEntry> = entries
            .into_iter()
            .filter(|entry| entry.slot >= next_slot)
            .collect();
        if let Some(last) = entries.iter().map(|entry| entry.slot).max() {
            self.recovery_end = self.recovery_end.max(last.next());
        }
        super::election::merge_highest(&mut self.recovered, entries);
    }

    pub(super) fn check_invariants(&self) {
        if let Some((slot, _)) = self.recovered.iter().next() {
            assert!(
                *slot >= self.next_slot,
                "recovered values wait for their slot"
            );
        }
        if let Some((slot, _)) = self.recovered.iter().next_back() {
            assert!(
                *slot < self.recovery_end,
                "recovered values lie below its end"
            );
        }
        if let Some((slot, _)) = self.votes.iter().next_back() {
            assert!(*slot < self.next_slot, "votes only for assigned slots");
        }
        assert!(
            !self.followers.contains_key(&self.ballot.node),
            "a leader is not its own follower"
        );
        assert!(
            self.forwarded_by.is_empty(),
            "the origins of a round's batches go out with its Accepts"
        );
    }
}

impl Replica {
    /// Queues a command of a local client for the next batch, or hands it
    /// back when the queue is full (backpressure instead of unbounded
    /// memory).
    pub(super) fn leader_enqueue(&mut self, command: Bytes) {
        if let Some(refused) = self.leader_try_enqueue(command, None) {
            self.reject_proposal(refused, RejectReason::Overloaded);
        }
    }

    /// Queues `command` (forwarded by `origin`, if any) unless the queue is
    /// full; then returns it.
    fn leader_try_enqueue(&mut self, command: Bytes, origin: Option<NodeId>) -> Option<Bytes> {
        let queued_max = self.config.proposals_queued_max;
        let leadership = self.leadership_mut();
        if leadership.queue.len() >= queued_max {
            return Some(command);
        }
        leadership.queue.push_back(Queued { command, origin });
        None
    }

    /// Hands back every command still queued when leadership ends: a local
    /// client's here, a forwarded one to the follower it came from, where
    /// its client waits. None of them was proposed, and no leader is known
    /// yet to send them to.
    pub(super) fn return_queued(&mut self, queue: VecDeque<Queued>) {
        let reason = RejectReason::NotLeader { leader: None };
        let mut forwarded: BTreeMap<NodeId, Vec<Bytes>> = BTreeMap::new();
        for Queued { command, origin } in queue {
            match origin {
                None => self.reject_proposal(command, reason),
                Some(node) => forwarded.entry(node).or_default().push(command),
            }
        }
        for (node, commands) in forwarded {
            self.send_now(node, Message::ForwardRejected { commands, reason });
        }
    }

    /// True when `accepted_by` decides `slot`: a majority of the voters of
    /// the configuration that governs it (Rule 1 of docs/membership.md).
    pub(super) fn is_phase_two_quorum(&self, slot: Slot, accepted_by: &BTreeSet<NodeId>) -> bool {
        let config = self.membership.at(slot);
        let majority = Majority::for_phase_two(config.voters.len(), self.config.mutation());
        let voters = accepted_by
            .iter()
            .filter(|node| self.runs(Mutation::LearnersVote) || config.is_voter(**node))
            .count();
        majority.is_reached(voters.min(config.voters.len()))
    }

    /// Accepts `value` in `slot` locally under the leader's ballot and opens
    /// its vote. Returns the proposal to send to the followers.
    ///
    /// The leader's own acceptance counts once this round's write is
    /// durable ([`crate::OwnVotes`]), like a follower's Accepted; a slot
    /// already decided here is not written again, and its vote only
    /// carries the value to the followers.
    pub(super) fn propose_in_slot(&mut self, slot: Slot, value: Value) -> Proposal {
        let now_tick = self.now_tick;
        let id = self.id();
        let decided_here = self.is_decided(slot);
        let count_at_once = decided_here || self.runs(Mutation::CountOwnVoteBeforeWrite);
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
                accepted_by: if count_at_once {
                    BTreeSet::from([id])
                } else {
                    BTreeSet::new()
                },
                sent_tick: now_tick,
            },
        );
        if !decided_here {
            self.record_entry(
                slot,
                crate::types::Entry {
                    ballot,
                    value: value.clone(),
                },
            );
            if !count_at_once {
                self.outbox.note_own_acceptance(ballot, slot);
            }
        }
        self.check_vote(slot);
        Proposal { slot, value }
    }

    pub(super) fn broadcast_accept(&mut self, proposals: Vec<Proposal>) {
        if proposals.is_empty() {
            return;
        }
        let committed = self.committed;
        let leadership = self.leadership_mut();
        let ballot = leadership.ballot;
        leadership.commit_announced = committed;
        let per_message = self.config.accept_slots_per_message_max;
        for chunk in proposals.chunks(per_message) {
            self.broadcast_now(Message::Accept {
                ballot,
                committed,
                proposals: chunk.to_vec(),
            });
        }
        self.announce_own_acceptance(ballot, &proposals);
    }

    /// The rule for every follower reply: it counts only while we lead under
    /// the ballot it answers; then it also shows the follower is alive.
    pub(super) fn follower_reply(&mut self, from: NodeId, ballot: Ballot) -> bool {
        let now_tick = self.now_tick;
        let RoleState::Leader(leadership) = &mut self.role else {
            return false;
        };
        if ballot != leadership.ballot {
            return false;
        }
        if let Some(progress) = leadership.followers.get_mut(&from) {
            progress.last_heard_tick = now_tick;
        }
        true
    }

    /// A follower's Accepted counts towards this leader's vote; any other
    /// (the leader's own, announced to a follower) is learned from.
    pub(super) fn handle_accepted(&mut self, from: NodeId, ballot: Ballot, slots: &[Slot]) {
        if self.follower_reply(from, ballot) {
            self.count_acceptance(from, ballot, slots);
        } else {
            self.learn_acceptances(from, ballot, slots);
        }
    }

    /// Counts `from`'s durable acceptance of `slots` under `ballot` (a
    /// follower's Accepted, or this leader's own write): the one place a
    /// vote of phase 2 is counted.
    pub(super) fn count_acceptance(&mut self, from: NodeId, ballot: Ballot, slots: &[Slot]) {
        let RoleState::Leader(leadership) = &mut self.role else {
            return;
        };
        if ballot != leadership.ballot {
            return;
        }
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

    /// True while this leader heard, within the election timeout, from
    /// enough followers to make a majority with itself (the lease of
    /// check-quorum). Called only while leading.
    pub(super) fn hears_quorum(&self) -> bool {
        let RoleState::Leader(leadership) = &self.role else {
            unreachable!("called only while leading");
        };
        let heard: BTreeSet<NodeId> = leadership
            .followers
            .keys()
            .copied()
            .filter(|follower| self.heard_recently(*follower))
            .chain([self.id()])
            .collect();
        self.is_quorum_from_now(&heard)
    }

    /// True when this leader heard from `follower` within the election
    /// timeout. Called only while leading.
    pub(super) fn heard_recently(&self, follower: NodeId) -> bool {
        let RoleState::Leader(leadership) = &self.role else {
            unreachable!("called only while leading");
        };
        leadership
            .followers
            .get(&follower)
            .is_some_and(|progress| self.within_lease(progress.last_heard_tick))
    }

    /// Records a follower's commit index from its heartbeat acknowledgement.
    pub(super) fn note_follower_committed(&mut self, from: NodeId, committed: Slot) {
        if let Some(progress) = self.leadership_mut().followers.get_mut(&from) {
            progress.committed = progress.committed.max(committed);
            progress.reported = true;
        }
    }

    fn check_vote(&mut self, slot: Slot) {
        let RoleState::Leader(leadership) = &self.role else {
            unreachable!("called only while leading");
        };
        let reached = leadership
            .votes
            .get(&slot)
            .is_some_and(|votes| self.is_phase_two_quorum(slot, &votes.accepted_by));
        if reached {
            let leadership = self.leadership_mut();
            leadership.votes.remove(&slot);
            if !self.is_decided(slot) {
                self.mark_decided(slot);
                self.advance_committed();
            }
        }
    }

    /// Fills new slots, in order, within the window: first the values
    /// phase 1 recovered, then a queued configuration change, then batches
    /// of queued commands, and, while a decided change waits for its first
    /// slot and nothing else is queued, no-ops that bring it into force.
    pub(super) fn assign_slots(&mut self) {
        let mut proposals = Vec::new();
        while let Some(value) = self.next_value() {
            let leadership = self.leadership_mut();
            let slot = leadership.next_slot;
            leadership.next_slot = slot.next();
            proposals.push(self.propose_in_slot(slot, value));
        }
        self.broadcast_accept(proposals);
    }

    /// The value for the next slot, or `None` when nothing may or needs to
    /// be proposed there now.
    fn next_value(&mut self) -> Option<Value> {
        let window = self
            .config
            .pipeline_slots_max
            .min(CONFIGURATION_DELAY_SLOTS);
        let committed = self.committed;
        let RoleState::Leader(leadership) = &self.role else {
            unreachable!("called only while leading");
        };
        if leadership.next_slot < committed {
            // Slots decided meanwhile (learned by catch-up) need no proposal.
            self.skip_to_committed();
        }
        let RoleState::Leader(leadership) = &self.role else {
            unreachable!("called only while leading");
        };
        let slot = leadership.next_slot;
        // The window: the configuration of every slot proposed is known,
        // as every slot `CONFIGURATION_DELAY_SLOTS` below it is decided.
        if committed.distance_to(slot) >= window {
            return None;
        }
        let decided_here = self.is_decided(slot);
        let has_work = slot < leadership.recovery_end
            || decided_here
            || leadership.change_queued.is_some()
            || !leadership.queue.is_empty()
            || self.membership.latest_start() > slot;
        if !has_work || !self.may_propose_in(slot) {
            return None;
        }
        let leadership = self.leadership_mut();
        let recovered = leadership.recovered.remove(&slot);
        if slot < leadership.recovery_end || decided_here {
            // A slot decided here (learned from a peer while we lead) keeps
            // its value: by Paxos no other can be chosen there.
            let ignore_values = self.runs(Mutation::LeaderIgnoresPromisedValues);
            return Some(match recovered {
                Some(entry) if !ignore_values => entry.value,
                _ if decided_here => self.log[&slot].value.clone(),
                _ => Value::Noop,
            });
        }
        if let Some(change) = leadership.change_queued.take() {
            return Some(Value::Reconfigure(change));
        }
        if leadership.queue.is_empty() {
            return Some(Value::Noop);
        }
        Some(self.next_batch())
    }

    /// Moves the next slot up to the commit index: every slot below it is
    /// decided, by us or learned from others.
    fn skip_to_committed(&mut self) {
        let committed = self.committed;
        let leadership = self.leadership_mut();
        leadership.next_slot = committed;
        leadership.recovered = leadership.recovered.split_off(&committed);
        leadership.votes = leadership.votes.split_off(&committed);
        leadership.recovery_end = leadership.recovery_end.max(committed);
    }

    /// Rule 3 of docs/membership.md: this leader may propose in `slot` only
    /// when a majority of its voters promised our ballot (with their
    /// entries), and only while it is one of them. Otherwise it asks the
    /// voters that have not promised (see `hand_over_when_removed` for a
    /// leader that is no longer a voter).
    fn may_propose_in(&mut self, slot: Slot) -> bool {
        let start = self.membership.start_of(slot);
        let config = self.membership.at(slot);
        if !config.is_voter(self.id()) {
            return false;
        }
        let missing = self.promises_missing([(start, config)]);
        if missing.is_empty() {
            return true;
        }
        self.ask_for_promises(missing);
        false
    }

    /// The voters to ask for a promise before this leader may act in the
    /// slots of `configs` (each with its first slot): none for those its
    /// election covered or whose voters' majority promised since. Called
    /// only while leading.
    fn promises_missing<'a>(
        &self,
        configs: impl IntoIterator<Item = (Slot, &'a Configuration)>,
    ) -> Vec<NodeId> {
        let RoleState::Leader(leadership) = &self.role else {
            unreachable!("called only while leading");
        };
        let mut missing = BTreeSet::new();
        for (start, config) in configs {
            if start <= leadership.elected_through || config.is_quorum(&leadership.promised_since) {
                continue;
            }
            missing.extend(
                config
                    .voters
                    .iter()
                    .filter(|voter| !leadership.promised_since.contains(voter)),
            );
        }
        missing.into_iter().collect()
    }

    /// Sends Prepare, under our ballot, to `voters` not asked within a
    /// heartbeat interval.
    fn ask_for_promises(&mut self, voters: Vec<NodeId>) {
        let now_tick = self.now_tick;
        let interval = self.config.heartbeat_interval_ticks;
        let first_undecided = self.committed;
        let leadership = self.leadership_mut();
        let ballot = leadership.ballot;
        let mut asked = Vec::new();
        for voter in voters {
            let due = leadership
                .prepare_sent
                .get(&voter)
                .is_none_or(|sent| now_tick >= sent + interval);
            if due {
                leadership.prepare_sent.insert(voter, now_tick);
                asked.push(voter);
            }
        }
        for voter in asked {
            self.send_now(
                voter,
                Message::Prepare {
                    ballot,
                    first_undecided,
                },
            );
        }
    }

    /// Rule 3 for reads: true once this leader has decided every slot below
    /// the commit index its phase 1 reported and every value it recovered
    /// (so it knows the configurations that govern the slots it reads at:
    /// a recovered value may be a change that was decided) and a majority
    /// of the voters of each of them promised its ballot (so phase 1
    /// recovered every value they may have chosen). Until then no read
    /// round counts; the voters missing are asked for their promise. A
    /// leader elected under a configuration it has outgrown would otherwise
    /// confirm reads with the acknowledgements of voters whose logs it
    /// never saw (found in review; and with a commit index among the
    /// recovered values, regression: membership and lease seed 119 of the
    /// simulator, where a removed node led under the configuration its
    /// voters' commit indexes knew, and served a read index that missed a
    /// slot the newer configuration's majority had decided). Called only
    /// while leading.
    pub(super) fn phase_one_complete(&mut self) -> bool {
        let RoleState::Leader(leadership) = &self.role else {
            unreachable!("called only while leading");
        };
        let recovered_through = leadership.decided_elsewhere.max(leadership.recovery_end);
        if self.committed < recovered_through {
            return false;
        }
        let missing = self.promises_missing(self.membership.governing_starts_from(self.committed));
        if missing.is_empty() {
            return true;
        }
        self.ask_for_promises(missing);
        false
    }

    /// A leader that is not a voter of its next slot's configuration (the
    /// change that removed it is in force) resigns once everything it
    /// proposed is decided and a majority of the new voters know it: its
    /// followers campaign at once, and it never will again (see
    /// `votes_now`).
    pub(super) fn hand_over_when_removed(&mut self) {
        let RoleState::Leader(leadership) = &self.role else {
            return;
        };
        let next_slot = leadership.next_slot;
        let config = self.membership.at(next_slot);
        if config.is_voter(self.id()) || self.committed < next_slot {
            return;
        }
        // The new voters can elect only once they know the removal is in
        // force: wait until a majority of them report a commit index at
        // its first slot (the heartbeat acknowledgements carry it), or a
        // lost announcement would leave them waiting for our vote.
        let caught_up: BTreeSet<NodeId> = leadership
            .followers
            .iter()
            .filter(|(_, progress)| progress.committed >= next_slot)
            .map(|(follower, _)| *follower)
            .collect();
        if config.is_quorum(&caught_up) {
            // Hand over to the new voter furthest along, so that the
            // cluster does not wait out an election timeout.
            let successor = leadership
                .followers
                .iter()
                .filter(|(follower, _)| config.is_voter(**follower))
                .max_by_key(|(_, progress)| progress.committed)
                .map(|(follower, _)| *follower);
            self.resign(successor);
        }
    }

    /// Takes queued commands into one batch, within the batch limits, behind
    /// the batch stamp if one is set (which the limits do not count).
    fn next_batch(&mut self) -> Value {
        let batch_commands_max = self.config.batch_commands_max;
        let batch_size_max_bytes = self.config.batch_size_max_bytes;
        let mut batch: Vec<Bytes> = self.batch_stamp.iter().cloned().collect();
        let leadership = self.leadership_mut();
        let mut taken = 0;
        let mut size_bytes = 0;
        while let Some(queued) = leadership.queue.front() {
            let length = queued.command.len();
            let fits = taken == 0
                || (taken < batch_commands_max && size_bytes + length <= batch_size_max_bytes);
            if !fits {
                break;
            }
            size_bytes += length;
            taken += 1;
            let queued = leadership.queue.pop_front().expect("front exists");
            if let Some(origin) = queued.origin {
                leadership.forwarded_by.insert(origin);
            }
            batch.push(queued.command);
        }
        assert!(taken > 0, "a batch takes at least one command");
        Value::Batch(Arc::from(batch))
    }

    /// Followers learn a decision at once: when the commit index has moved
    /// past what every follower was last told, an Accept without proposals
    /// carries it (etcd's empty append). Called once per round of output,
    /// so many decisions in one round cost one message per follower.
    pub(super) fn announce_commit(&mut self) {
        let committed = self.committed;
        let leadership = self.leadership_mut();
        if committed <= leadership.commit_announced {
            return;
        }
        leadership.commit_announced = committed;
        let ballot = leadership.ballot;
        self.broadcast_now(Message::Accept {
            ballot,
            committed,
            proposals: Vec::new(),
        });
    }

    /// Every heartbeat interval: check that a quorum is still heard from,
    /// retransmit unacknowledged accepts, and start a read-confirmation
    /// round (the heartbeat itself).
    pub(super) fn leader_heartbeat(&mut self) {
        // Check-quorum: a leader that hears no majority resigns, so that
        // clients get a clear answer and a connected replica can take over.
        if !self.hears_quorum() {
            self.resign(None);
            return;
        }
        let now_tick = self.now_tick;
        let heartbeat_interval = self.config.heartbeat_interval_ticks;
        let per_message = self.config.accept_slots_per_message_max;
        let committed = self.committed;
        let leadership = self.leadership_mut();
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

    /// A follower hands us client commands: propose them if we lead.
    /// Whatever we do not propose goes back to the follower, where the
    /// clients wait, with the reason: a refusal is never reported where
    /// nobody waits for it.
    pub(super) fn handle_forward(&mut self, from: NodeId, commands: Vec<Bytes>) {
        if !matches!(self.role, RoleState::Leader(_)) {
            let reason = RejectReason::NotLeader {
                leader: self.leader,
            };
            self.send_now(from, Message::ForwardRejected { commands, reason });
            return;
        }
        let refused: Vec<Bytes> = commands
            .into_iter()
            .filter_map(|command| self.leader_try_enqueue(command, Some(from)))
            .collect();
        if !refused.is_empty() {
            let reason = RejectReason::Overloaded;
            self.send_now(
                from,
                Message::ForwardRejected {
                    commands: refused,
                    reason,
                },
            );
        }
    }
}
