//! Elections: when a replica campaigns, the pre-vote before it, phase 1,
//! how a new leader takes over the open slots (the seeds' recovery round),
//! stepping down and resigning.
//!
//! Three rules keep a leader in office while it can serve, and replace it
//! quickly when it cannot. None of them touches a promise or an accepted
//! value, so none of them can affect safety: they only decide *when* a
//! replica runs phase 1, and phase 1 is safe at any time.
//!
//! * **Pre-vote.** A replica whose election timeout expires first asks
//!   every peer whether it would support a campaign; only with a majority
//!   of yeses does it raise its ballot. A node that can send but not
//!   receive, or that sits in a minority, never raises its ballot, so it
//!   cannot depose a leader that a majority follows (the one-way cut).
//! * **Stickiness.** A replica that heard from its leader within the
//!   election timeout refuses pre-votes, and a leader refuses them while it
//!   leads. A restarted or rejoining node therefore finds no support.
//! * **Check-quorum.** A leader that heard from no majority within the
//!   election timeout resigns, and says so: its followers campaign at once
//!   instead of staying loyal to a leader that hears nobody. Together with
//!   the pre-vote, which needs answers from a majority, the replica that
//!   wins is one connected to a majority both ways, whenever one exists
//!   (the quorum-loss, constrained and chained cases of the OmniPaxos
//!   paper).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::config::{Config, Mutation};
use crate::message::Message;
use crate::rng::SplitMix64;
use crate::types::{Ballot, Entry, NodeId, Slot, SlotEntry};

use super::leader::{FollowerProgress, Leadership};
use super::{Replica, RoleState};

/// Phase 1 in progress.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Candidacy {
    pub(super) ballot: Ballot,
    promised_by: BTreeSet<NodeId>,
    /// The highest commit index among the promises.
    committed_elsewhere: Slot,
    /// The highest-ballot entry reported per slot.
    entries: BTreeMap<Slot, Entry>,
    pub(super) elapsed_ticks: u64,
}

/// A pre-vote in progress: phase 1 starts once a majority supports it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct PreCandidacy {
    ballot: Ballot,
    granted_by: BTreeSet<NodeId>,
    pub(super) elapsed_ticks: u64,
}

impl PreCandidacy {
    pub(super) fn check_invariants(&self, id: NodeId, promised: Ballot) {
        assert!(
            self.granted_by.contains(&id),
            "a pre-candidate supports itself"
        );
        assert_eq!(self.ballot.node, id, "a pre-vote asks for our own ballot");
        assert!(
            self.ballot > promised,
            "a pre-vote asks for a ballot above our promise"
        );
    }
}

/// Keeps, per slot, the entry with the highest ballot among `entries` and
/// those already in `into` (phase 1's choice of value).
pub(super) fn merge_highest(into: &mut BTreeMap<Slot, Entry>, entries: Vec<SlotEntry>) {
    for SlotEntry { slot, entry } in entries {
        let keep = match into.get(&slot) {
            Some(existing) => entry.ballot > existing.ballot,
            None => true,
        };
        if keep {
            into.insert(slot, entry);
        }
    }
}

/// A follower that hears nothing from a leader for a random time in
/// `[timeout, 2 × timeout)` ticks starts an election; the spread breaks
/// duels between candidates.
pub(super) fn random_election_timeout(rng: &mut SplitMix64, config: &Config) -> u64 {
    let base = config.election_timeout_ticks;
    rng.between(base, base * 2 - 1)
}

/// After its leader resigns, a follower campaigns within `[1, 2 ×
/// heartbeat interval]` ticks: soon, and spread so that one of them usually
/// wins the first round.
fn random_campaign_delay_after_resign(rng: &mut SplitMix64, config: &Config) -> u64 {
    rng.between(1, config.heartbeat_interval_ticks * 2)
}

impl Replica {
    /// The election timeout expired: ask for pre-votes (or, without them,
    /// raise the ballot at once).
    pub(super) fn campaign(&mut self) {
        if !self.votes_now() {
            self.defer_campaign();
            return;
        }
        if !self.config.pre_vote || self.runs(Mutation::PreVoteDisabled) {
            self.start_election();
        } else {
            self.start_pre_vote();
        }
    }

    /// Asks every peer whether it would support a campaign. Nothing durable
    /// changes, here or at the peers.
    fn start_pre_vote(&mut self) {
        let ballot = Ballot {
            round: self.highest_round_seen.max(self.promised.round) + 1,
            node: self.id(),
        };
        // The next attempt asks with a higher ballot, so that a late answer
        // to this one is not counted for it.
        self.observe_ballot(ballot);
        self.become_follower();
        self.role = RoleState::PreCandidate(PreCandidacy {
            ballot,
            granted_by: BTreeSet::from([self.id()]),
            elapsed_ticks: 0,
        });
        self.broadcast_now(Message::PreVote { ballot });
        if self.is_quorum_from_now(&BTreeSet::from([self.id()])) {
            self.start_election();
        }
    }

    /// Whether this replica supports `from`'s campaign: not while it leads,
    /// not while it hears from a live leader other than `from` (a leader
    /// that restarted and asks is no longer leading), and not when `from`
    /// votes in no configuration still to govern (a removed node).
    pub(super) fn handle_pre_vote(&mut self, from: NodeId, ballot: Ballot) {
        let granted = match self.role {
            RoleState::Leader(_) => false,
            _ => !self.refuses_votes_for(from) && self.is_voter_from_now(from),
        };
        let promised = self.promised;
        self.send_now(
            from,
            Message::PreVoteReply {
                ballot,
                granted,
                promised,
            },
        );
    }

    /// Counts a supporter of our pre-vote; with a majority, campaigns.
    /// Refusals count for nothing: the pre-vote simply times out.
    pub(super) fn handle_pre_vote_reply(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        granted: bool,
        promised: Ballot,
    ) {
        // The campaign will start above every promise reported.
        self.observe_ballot(promised);
        let RoleState::PreCandidate(pre_candidacy) = &mut self.role else {
            return;
        };
        if ballot != pre_candidacy.ballot || !granted {
            return;
        }
        pre_candidacy.granted_by.insert(from);
        let granted_by = pre_candidacy.granted_by.clone();
        if self.is_quorum_from_now(&granted_by) {
            self.start_election();
        }
    }

    /// True when this replica must not help `asker` become leader: it hears
    /// a leader other than `asker` (stickiness), or, with a leader lease,
    /// it acknowledged another leader's heartbeat round less than an
    /// election timeout ago (that leader's lease may rest on it), or it
    /// started less than an election timeout ago and may have acknowledged
    /// one before it stopped. A replica may acknowledge a lower ballot
    /// than the one it records; no lease rests on that acknowledgement
    /// any more, because a higher ballot finished phase 1 in between, past
    /// a replica that refused it for an election timeout after it
    /// acknowledged the lower one.
    pub(super) fn refuses_votes_for(&self, asker: NodeId) -> bool {
        self.hears_leader_other_than(asker) || self.lease_forbids_helping(asker)
    }

    /// The lease's one rule on elections: true while this replica
    /// acknowledged, less than an election timeout ago, a heartbeat round
    /// of a leader other than `asker` (that leader's lease may rest on it;
    /// only the highest ballot acknowledged counts, and only that leader's
    /// resignation ends it early), or started less than an election timeout
    /// ago and may have acknowledged one before it stopped. Such a replica
    /// neither supports `asker` nor, when `asker` is itself, campaigns.
    /// Always false without a lease.
    fn lease_forbids_helping(&self, asker: NodeId) -> bool {
        let supports_other = self
            .lease_supported
            .is_some_and(|(ballot, tick)| ballot.node != asker && self.within_lease(tick));
        supports_other || self.now_tick < self.votes_refused_until_tick
    }

    /// True while the leader lease holds: this replica heard from its
    /// leader, other than `asker`, within the election timeout.
    fn hears_leader_other_than(&self, asker: NodeId) -> bool {
        let Some(heard_tick) = self.leader_heard_tick else {
            return false;
        };
        self.leader.is_some_and(|leader| leader != asker) && self.within_lease(heard_tick)
    }

    /// True while less than an election timeout has passed since
    /// `heard_tick`: the one length of both leases, the follower's
    /// (stickiness) and the leader's (check-quorum).
    pub(super) fn within_lease(&self, heard_tick: u64) -> bool {
        self.now_tick.saturating_sub(heard_tick) < self.config.election_timeout_ticks
    }

    /// An acceptor refused our ballot because it promised a higher one.
    /// Normally we stop leading or campaigning: a replica that followed us
    /// moved to a higher ballot, so someone won a pre-vote. But when we
    /// lead, still hear a majority, and the acceptor is one we had not
    /// heard from for an election timeout (it is rejoining after a
    /// partition during which it promised in an election that never
    /// finished), deposing ourselves would cost clients a whole election.
    /// Instead we check that a majority still follows us *now*, with a
    /// confirmation round started after the refusal, and then run phase 1
    /// again above the acceptor's promise (see `reprepare_when_confirmed`).
    /// If a majority has moved on, their refusals depose us instead. The
    /// round matters for a leader that was paused: its clock stood still,
    /// so its view of who it heard recently is stale.
    pub(super) fn answer_higher_promise(
        &mut self,
        from: NodeId,
        rejected: Ballot,
        promised: Ballot,
    ) {
        let leads_under_rejected = matches!(
            &self.role,
            RoleState::Leader(leadership) if leadership.ballot == rejected
        );
        if !(leads_under_rejected && self.hears_quorum() && !self.heard_recently(from)) {
            self.step_down_below(promised);
            return;
        }
        if self.leadership_mut().reprepare_after.is_none() {
            self.start_read_round();
            let (round, _) = self.reads.rounds();
            self.leadership_mut().reprepare_after = Some(round);
        }
    }

    /// Runs phase 1 again once the confirmation round that followed a
    /// rejoining acceptor's refusal is acknowledged by a majority. Called
    /// at every round of output while leading.
    pub(super) fn reprepare_when_confirmed(&mut self) {
        let Some(round) = self.leadership_mut().reprepare_after else {
            return;
        };
        let (_, confirmed) = self.reads.rounds();
        if confirmed >= round {
            self.start_election();
        }
    }

    /// Stop leading and tell the followers, so that they campaign now
    /// rather than after an election timeout: check-quorum failed, or the
    /// leader hands over to `successor` (a transfer, or its own removal),
    /// which campaigns at once.
    pub(super) fn resign(&mut self, successor: Option<NodeId>) {
        let RoleState::Leader(leadership) = &self.role else {
            unreachable!("only a leader resigns");
        };
        let ballot = leadership.ballot;
        self.broadcast_now(Message::Resign { ballot, successor });
        self.become_follower();
        if successor.is_some() {
            // Give the successor a head start: our own timer would
            // otherwise race its campaign.
            self.defer_campaign();
        }
    }

    /// Our leader resigned: campaign soon, or now when it named us its
    /// successor. A resignation from anyone else, or for an older ballot,
    /// changes nothing.
    pub(super) fn handle_resign(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        successor: Option<NodeId>,
    ) {
        if self
            .lease_supported
            .is_some_and(|(supported, _)| supported == ballot && ballot.node == from)
        {
            // That leader stopped leading: its lease is over.
            self.lease_supported = None;
        }
        if self.leader != Some(from) || ballot != self.promised {
            return;
        }
        self.resigned = self.resigned.max(ballot);
        self.become_follower();
        match successor {
            Some(successor) if successor == self.id() => self.start_election(),
            // Another voter was named: give it a full election timeout
            // before competing with its campaign.
            Some(_) => self.defer_campaign(),
            None => {
                self.election_timeout_ticks =
                    random_campaign_delay_after_resign(&mut self.rng, &self.config);
            }
        }
    }

    /// Restarts the election timer with a full random timeout. After a
    /// promise to another candidate this matters: a follower whose leader
    /// resigned runs a short timer, and would otherwise campaign right
    /// after promising and depose the candidate it just supported
    /// (regression: availability seed 99, leader inbound cut).
    pub(super) fn defer_campaign(&mut self) {
        self.election_elapsed_ticks = 0;
        self.election_timeout_ticks = random_election_timeout(&mut self.rng, &self.config);
    }

    /// Campaigns with a ballot above every round seen or promised; with a
    /// lease, not while the lease forbids this replica to help anyone but
    /// the leader it supports (its own promise would end that lease early).
    pub(super) fn start_election(&mut self) {
        if self.lease_forbids_helping(self.id()) || !self.votes_now() {
            self.defer_campaign();
            return;
        }
        let round = self.highest_round_seen.max(self.promised.round) + 1;
        let ballot = Ballot {
            round,
            node: self.id(),
        };
        self.observe_ballot(ballot);
        self.become_follower();
        self.set_promised(ballot);
        let entries = self
            .log
            .range(self.committed..)
            .map(|(slot, entry)| (*slot, entry.clone()))
            .collect();
        self.role = RoleState::Candidate(Candidacy {
            ballot,
            promised_by: BTreeSet::new(),
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
        // Our own promise counts once it is durable, like the others'.
        self.outbox.own_votes.promise = Some(ballot);
    }

    /// Our promise of `ballot` is durable: count it for our candidacy.
    pub(super) fn count_own_promise(&mut self, ballot: Ballot) {
        let id = self.id();
        let RoleState::Candidate(candidacy) = &mut self.role else {
            return;
        };
        if ballot != candidacy.ballot {
            return;
        }
        candidacy.promised_by.insert(id);
        let promised_by = candidacy.promised_by.clone();
        if self.is_quorum_from_now(&promised_by) {
            self.become_leader();
        }
    }

    pub(super) fn handle_promise(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        committed: Slot,
        entries: Vec<SlotEntry>,
    ) {
        self.note_committed(from, committed);
        if let RoleState::Leader(leadership) = &mut self.role {
            if ballot == leadership.ballot {
                leadership.add_late_promise(from, committed, entries);
            }
            return;
        }
        let RoleState::Candidate(candidacy) = &mut self.role else {
            return;
        };
        if ballot != candidacy.ballot {
            return;
        }
        candidacy.promised_by.insert(from);
        candidacy.committed_elsewhere = candidacy.committed_elsewhere.max(committed);
        merge_highest(&mut candidacy.entries, entries);
        let promised_by = candidacy.promised_by.clone();
        if self.is_quorum_from_now(&promised_by) {
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
        let now_tick = self.now_tick;
        let followers: BTreeMap<NodeId, FollowerProgress> = self
            .peers()
            .into_iter()
            .map(|node| (node, FollowerProgress::new(now_tick)))
            .collect();
        self.reads
            .start_leading(now_tick, followers.keys().copied());
        let mut recovered = candidacy.entries;
        let recovered = recovered.split_off(&start);
        self.role = RoleState::Leader(Box::new(Leadership {
            ballot,
            next_slot: start,
            decided_elsewhere: start,
            recovery_end: end,
            recovered,
            elected_through: self.membership.latest_start(),
            promised_since: BTreeSet::from([self.id()]),
            prepare_sent: BTreeMap::new(),
            change_queued: None,
            votes: BTreeMap::new(),
            queue: VecDeque::new(),
            followers,
            heartbeat_elapsed_ticks: 0,
            commit_announced: Slot(0),
            forwarded_by: BTreeSet::new(),
            acceptance_announced_end: Slot(0),
            decided_unseen_end: Slot(0),
            reprepare_after: None,
        }));
        self.set_leader(Some(self.id()));
        // The recovered values are proposed in slot order, within the
        // window, like everything else.
        self.assign_slots();
        // Requests that waited for a leader now have one.
        for command in self.proposals_waiting.drain() {
            self.leader_enqueue(command);
        }
        self.serve_waiting_reads_as_leader();
        self.leader_heartbeat();
        if self.catch_up_due() {
            self.request_catch_up();
        }
    }

    /// The one place the known leader changes: read batches forwarded to
    /// another node go back to waiting, to be sent to this one.
    fn set_leader(&mut self, leader: Option<NodeId>) {
        if self.leader != leader {
            self.leader = leader;
            self.reads.leader_changed(leader);
        }
    }

    /// Accepts `ballot`'s owner as leader (its ballot is at least our promise).
    pub(super) fn follow(&mut self, ballot: Ballot) {
        debug_assert!(ballot >= self.promised);
        if ballot.node == self.id() {
            return;
        }
        // A leadership message that left before the resignation and
        // arrived after it must not renew the lease on a leader that is
        // gone (regression: availability seed 216, leader inbound cut).
        if ballot <= self.resigned {
            return;
        }
        if matches!(self.role, RoleState::PreCandidate(_)) {
            self.role = RoleState::Follower;
        }
        self.election_elapsed_ticks = 0;
        self.leader_heard_tick = Some(self.now_tick);
        if self.leader != Some(ballot.node) {
            self.set_leader(Some(ballot.node));
            // A new leader ends the short timer of a resignation.
            self.defer_campaign();
        }
    }

    /// Leaves candidacy or leadership because `ballot` outranks ours. A
    /// pre-candidate gives up too: someone else won a pre-vote first.
    pub(super) fn step_down_below(&mut self, ballot: Ballot) {
        let own_ballot = match &self.role {
            RoleState::Leader(leadership) => Some(leadership.ballot),
            RoleState::Candidate(candidacy) => Some(candidacy.ballot),
            // A pre-vote has no ballot of its own yet: any ballot above
            // our promise means someone else campaigns, and ends it.
            RoleState::PreCandidate(_) => Some(self.promised),
            RoleState::Follower => None,
        };
        if let Some(own_ballot) = own_ballot {
            if ballot > own_ballot {
                self.become_follower();
            }
        }
    }

    /// Becomes a follower of nobody yet. A leader hands back every queued
    /// command and fails every read it was confirming: nothing it held is
    /// dropped silently.
    pub(super) fn become_follower(&mut self) {
        let previous = std::mem::replace(&mut self.role, RoleState::Follower);
        if let RoleState::Leader(leadership) = previous {
            self.return_queued(leadership.queue);
            self.fail_leader_reads();
        }
        self.set_leader(None);
        self.leader_heard_tick = None;
        self.defer_campaign();
    }
}
