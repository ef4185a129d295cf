//! Followers deciding slots from the acceptances they hear of, one message
//! sooner than the leader's commit index would tell them.
//!
//! The rule, in one place:
//! - the leader sends its own Accepted, gated behind its write like any
//!   acceptor's, to each follower that forwarded commands into the slots
//!   and makes a majority with it (three voters);
//! - a follower counts it with its own acceptance, handed back once
//!   durable ([`crate::OwnVotes`]), and decides a slot on a majority of
//!   its governing voters at one ballot (Rule 1, as at the leader);
//! - the leader may then not know yet of a decision a follower answered,
//!   so its read index covers every slot whose announced acceptance is
//!   durable (`decided_unseen_end`, taken by `read_index_now`).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crate::membership::CONFIGURATION_DELAY_SLOTS;
use crate::message::{Message, Proposal};
use crate::types::{Ballot, NodeId, Slot};

use super::Replica;

impl Replica {
    /// Tells each follower that forwarded commands into `proposals`, and
    /// forms a quorum with this leader, that the leader accepted them, once
    /// that is durable (gated, like any acceptor's Accepted). The follower
    /// then decides a slot as soon as its own acceptance is durable too,
    /// one message sooner than the leader's commit index would tell it:
    /// the write it answers skips the Accepted to the leader and the
    /// commit back. A follower with no client waiting on these slots is
    /// told nothing (it would only learn sooner what it applies anyway),
    /// so writes through the leader cost no extra message. Slots decided
    /// here already were not written again and are not announced; with
    /// more voters than a pair can make a majority of, nothing is sent.
    pub(super) fn announce_own_acceptance(&mut self, ballot: Ballot, proposals: &[Proposal]) {
        let forwarded_by = std::mem::take(&mut self.leadership_mut().forwarded_by);
        if !self.config.announce_acceptance || forwarded_by.is_empty() {
            return;
        }
        let slots: Vec<Slot> = proposals
            .iter()
            .map(|proposal| proposal.slot)
            .filter(|slot| {
                self.log
                    .get(slot)
                    .is_some_and(|entry| entry.ballot == ballot)
            })
            .collect();
        let Some(last) = slots.last().copied() else {
            return;
        };
        let id = self.id();
        for peer in forwarded_by {
            if self.is_phase_two_quorum(last, &BTreeSet::from([id, peer])) {
                let slots = slots.clone();
                self.send_after_persist(peer, Message::Accepted { ballot, slots });
                let leadership = self.leadership_mut();
                leadership.acceptance_announced_end =
                    leadership.acceptance_announced_end.max(last.next());
            }
        }
    }

    /// This leader's own acceptance of `slots` is durable: those it
    /// announced may now be decided by a follower (see
    /// `Leadership::decided_unseen_end`).
    pub(super) fn own_acceptance_durable(&mut self, slots: &[Slot]) {
        let leadership = self.leadership_mut();
        let announced_end = leadership.acceptance_announced_end;
        if let Some(last) = slots.iter().filter(|slot| **slot < announced_end).max() {
            leadership.decided_unseen_end = leadership.decided_unseen_end.max(last.next());
        }
    }

    /// `node` durably accepted `slots` under `ballot`: the leader's own
    /// acceptance, announced to this follower, or this replica's, handed
    /// back durable. A slot whose acceptances at one ballot make a majority
    /// of its governing voters (Rule 1, as at the leader) is decided; its
    /// value is the one in our log if we accepted at that ballot or above
    /// (by Paxos, a higher ballot proposes only the value a majority
    /// accepted below it), else we wait for the commit index.
    ///
    /// Only slots less than `CONFIGURATION_DELAY_SLOTS` above the commit
    /// index count: the configuration governing a slot is decided at least
    /// that far below it, so for those slots it is known here.
    pub(super) fn learn_acceptances(&mut self, node: NodeId, ballot: Ballot, slots: &[Slot]) {
        let horizon = Slot(self.committed.0 + CONFIGURATION_DELAY_SLOTS);
        for &slot in slots {
            if slot >= horizon || self.is_decided(slot) {
                continue;
            }
            let heard = self
                .acceptances_heard
                .entry(slot)
                .or_insert_with(|| (ballot, BTreeSet::new()));
            match heard.0.cmp(&ballot) {
                Ordering::Greater => continue,
                Ordering::Less => *heard = (ballot, BTreeSet::new()),
                Ordering::Equal => {}
            }
            heard.1.insert(node);
            let holds_value = self
                .log
                .get(&slot)
                .is_some_and(|entry| entry.ballot >= ballot);
            let accepted_by = &self.acceptances_heard[&slot].1;
            if holds_value && self.is_phase_two_quorum(slot, accepted_by) {
                self.acceptances_heard.remove(&slot);
                self.mark_decided(slot);
            }
        }
        self.advance_committed();
    }
}
