//! The acceptor: the promise, accepted entries, and the one rule every
//! ballot-carrying request obeys.
//!
//! Safety rests here. An acceptor never accepts below its promise, and it
//! announces a promise or an acceptance only once the state behind it is
//! durable (the announcements are gated behind persistence), so a crash
//! never makes it forget what a quorum counted on.

use crate::config::Mutation;
use crate::message::{Message, Proposal};
use crate::types::{Ballot, Entry, NodeId, ReadRound, Slot, SlotEntry};

use super::{Replica, RoleState};

impl Replica {
    /// Remembers the highest round seen anywhere, so that our next ballot
    /// is above it.
    pub(super) fn observe_ballot(&mut self, ballot: Ballot) {
        self.highest_round_seen = self.highest_round_seen.max(ballot.round);
    }

    pub(super) fn set_promised(&mut self, ballot: Ballot) {
        assert!(ballot >= self.promised, "a promise never goes down");
        if ballot > self.promised {
            self.promised = ballot;
            self.changes.promised = Some(ballot);
        }
    }

    fn reject(&mut self, to: NodeId, rejected: Ballot) {
        let promised = self.promised;
        assert!(promised > rejected, "only a lower ballot is rejected");
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

    pub(super) fn handle_prepare(&mut self, from: NodeId, ballot: Ballot, first_undecided: Slot) {
        // Under a leader lease a pre-vote refusal is not enough: a
        // candidate may hold pre-votes granted before we acknowledged the
        // leader's heartbeat. The promise is what a new leader needs, so it
        // is what we withhold while the lease we support may run.
        if self.config.lease_ticks > 0
            && !matches!(self.role, RoleState::Leader(_))
            && self.refuses_votes_for(from)
        {
            return;
        }
        if !self.admit(from, ballot) {
            return;
        }
        self.set_promised(ballot);
        // Granting a promise defers our own candidacy: duelling proposers
        // converge because only one of them keeps getting promises.
        self.defer_campaign();
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
        // Gated: the promise must be durable before the candidate counts it.
        self.send_after_persist(
            from,
            Message::Promise {
                ballot,
                committed,
                entries,
            },
        );
    }

    pub(super) fn handle_accept(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        committed: Slot,
        proposals: Vec<Proposal>,
    ) {
        let admitted = self.admit(from, ballot);
        if !admitted && !self.runs(Mutation::AcceptBelowPromise) {
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
                self.record_entry(
                    proposal.slot,
                    Entry {
                        ballot,
                        value: proposal.value,
                    },
                );
                if self.runs(Mutation::CountFollowerVoteBeforeWrite) {
                    self.learn_acceptances(self.id(), ballot, &[proposal.slot]);
                } else {
                    self.outbox.note_own_acceptance(ballot, proposal.slot);
                }
            }
            slots.push(proposal.slot);
        }
        if !slots.is_empty() {
            // Gated: the leader counts this acceptance towards a decision.
            self.send_after_persist(from, Message::Accepted { ballot, slots });
        }
        if admitted {
            self.learn_committed(ballot, committed, from);
        }
    }

    /// Stores `entry` in `slot`, to be persisted with the next batch.
    pub(super) fn record_entry(&mut self, slot: Slot, entry: Entry) {
        assert!(
            slot >= self.log_start,
            "no entry is recorded below the snapshot"
        );
        self.log_size_bytes += entry.value.size_bytes() as u64;
        self.log.insert(slot, entry.clone());
        self.changes.entries.insert(slot, entry);
    }

    pub(super) fn handle_heartbeat(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        committed: Slot,
        round: ReadRound,
    ) {
        if !self.admit(from, ballot) {
            return;
        }
        self.follow(ballot);
        self.learn_committed(ballot, committed, from);
        // A heartbeat of a leadership that resigned (delayed) renews no
        // support: it would hold back the quick election that follows.
        if self.config.lease_ticks > 0
            && ballot > self.resigned
            && self
                .lease_supported
                .is_none_or(|(supported, _)| ballot >= supported)
        {
            self.lease_supported = Some((ballot, self.now_tick));
        }
        let committed = self.committed;
        // Not gated: the acknowledgement states only that we promised
        // nothing above `ballot`, which holds whether or not it is durable.
        self.send_now(
            from,
            Message::HeartbeatAck {
                ballot,
                round,
                committed,
            },
        );
    }

    /// An acceptor refused `rejected` because it promised `promised`.
    pub(super) fn handle_reject(&mut self, from: NodeId, rejected: Ballot, promised: Ballot) {
        self.observe_ballot(promised);
        if promised > rejected {
            self.answer_higher_promise(from, rejected, promised);
        }
    }
}
