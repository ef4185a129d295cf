//! Elections: when a replica campaigns, phase 1, how a new leader takes over
//! the open slots (the seeds' recovery round), and stepping down.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::config::{Config, Mutation};
use crate::message::Message;
use crate::rng::SplitMix64;
use crate::types::{Ballot, Entry, NodeId, Slot, SlotEntry, Value};

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

/// A follower that hears nothing from a leader for a random time in
/// `[timeout, 2 × timeout)` ticks starts an election; the spread breaks
/// duels between candidates.
pub(super) fn random_election_timeout(rng: &mut SplitMix64, config: &Config) -> u64 {
    let base = config.election_timeout_ticks;
    rng.between(base, base * 2 - 1)
}

impl Replica {
    /// Campaigns with a ballot above every round seen or promised.
    pub(super) fn start_election(&mut self) {
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
        if self.majority().is_reached(1) {
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
        let majority = self.majority();
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
        if majority.is_reached(candidacy.promised_by.len()) {
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
            .map(|node| (node, FollowerProgress::new(now_tick)))
            .collect();
        self.reads
            .start_leading(now_tick, followers.keys().copied());
        self.role = RoleState::Leader(Box::new(Leadership {
            ballot,
            next_slot: start,
            recovery_end: end,
            votes: BTreeMap::new(),
            queue: VecDeque::new(),
            followers,
            heartbeat_elapsed_ticks: 0,
            commit_announced: Slot(0),
        }));
        self.set_leader(Some(self.id()));
        let ignore_values = self.runs(Mutation::LeaderIgnoresPromisedValues);
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
        self.election_elapsed_ticks = 0;
        if self.leader != Some(ballot.node) {
            self.set_leader(Some(ballot.node));
        }
    }

    /// Leaves candidacy or leadership because `ballot` outranks ours.
    pub(super) fn step_down_below(&mut self, ballot: Ballot) {
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

    /// Becomes a follower of `leader` (or of nobody yet). A leader hands
    /// back every queued command and fails every read it was confirming:
    /// nothing it held is dropped silently.
    pub(super) fn become_follower(&mut self, leader: Option<NodeId>) {
        let previous = std::mem::replace(&mut self.role, RoleState::Follower);
        if let RoleState::Leader(leadership) = previous {
            self.return_queued(leadership.queue, leader);
            self.fail_leader_reads();
        }
        self.set_leader(leader);
        self.election_elapsed_ticks = 0;
        self.election_timeout_ticks = random_election_timeout(&mut self.rng, &self.config);
    }
}
