//! Requests a replica holds while it does not lead: proposals wait for a
//! leader to be known and are then forwarded to it; what waits longer than
//! the request timeout is handed back. A request is never dropped silently:
//! it is decided, or handed back in [`crate::Ready::rejected`] or
//! [`crate::Ready::failed_reads`].

use std::collections::VecDeque;

use bytes::Bytes;

use crate::message::Message;
use crate::ready::{RejectReason, Rejection};

use super::Replica;

/// Proposals held until a leader is known, with their arrival tick.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct WaitingProposals {
    commands: VecDeque<(Bytes, u64)>,
}

impl WaitingProposals {
    /// Takes every held command, oldest first.
    pub(super) fn drain(&mut self) -> Vec<Bytes> {
        self.commands
            .drain(..)
            .map(|(command, _)| command)
            .collect()
    }
}

impl Replica {
    /// Hands `command` back unproposed.
    pub(super) fn reject_proposal(&mut self, command: Bytes, reason: RejectReason) {
        self.outbox.rejected.push(Rejection { command, reason });
    }

    /// Holds a proposal until a leader is known (or refuses it when too
    /// many are held).
    pub(super) fn hold_for_leader(&mut self, command: Bytes) {
        if self.proposals_waiting.commands.len() >= self.config.proposals_queued_max {
            self.reject_proposal(command, RejectReason::Overloaded);
        } else {
            self.proposals_waiting
                .commands
                .push_back((command, self.now_tick));
        }
    }

    /// A node refused our forwarded commands: they were not proposed and
    /// are reported as rejected here, where their clients wait.
    pub(super) fn handle_forward_rejected(&mut self, commands: Vec<Bytes>, reason: RejectReason) {
        for command in commands {
            self.reject_proposal(command, reason);
        }
    }

    /// Sends held proposals and reads to the leader we know of.
    pub(super) fn forward_waiting(&mut self) {
        let Some(leader) = self.leader else {
            return;
        };
        if leader == self.id() {
            return;
        }
        let commands = self.proposals_waiting.drain();
        if !commands.is_empty() {
            self.send_now(leader, Message::Forward { commands });
        }
        self.forward_waiting_reads(leader);
    }

    /// Hands back every request that waited longer than the request timeout.
    pub(super) fn expire_requests(&mut self) {
        let now_tick = self.now_tick;
        let timeout = self.config.request_timeout_ticks;
        while let Some((_, since)) = self.proposals_waiting.commands.front() {
            if now_tick < since + timeout {
                break;
            }
            let (command, _) = self
                .proposals_waiting
                .commands
                .pop_front()
                .expect("front exists");
            self.reject_proposal(command, RejectReason::NoLeader);
        }
        self.expire_reads();
    }
}
