//! The learner: which slots are decided, and handing decided values out for
//! apply strictly in slot order (the seeds' "I(102) before I(101)": a
//! decision that arrives early waits in `decided_ahead`).

use crate::config::Mutation;
use crate::ready::Decided;
use crate::types::{Ballot, NodeId, Slot};

use super::Replica;

impl Replica {
    /// The leader of `ballot` says every slot below `committed` is decided:
    /// our entries accepted under that same ballot hold the decided values
    /// (a leader proposes one value per slot and ballot). Anything else we
    /// fetch by catch-up.
    pub(super) fn learn_committed(&mut self, ballot: Ballot, committed: Slot, source: NodeId) {
        self.note_committed(source, committed);
        let mut slot = self.committed;
        while slot < committed {
            if !self.decided_ahead.contains(&slot) {
                match self.log.get(&slot) {
                    Some(entry) if entry.ballot == ballot => {
                        self.decided_ahead.insert(slot);
                    }
                    _ => break,
                }
            }
            slot = slot.next();
        }
        self.advance_committed();
        if self.catch_up_due() {
            self.request_catch_up();
        }
    }

    /// Records that `slot`, whose value is in the log, is decided.
    pub(super) fn mark_decided(&mut self, slot: Slot) {
        assert!(self.log.contains_key(&slot), "a decided slot has a value");
        if slot >= self.committed {
            self.decided_ahead.insert(slot);
        }
    }

    /// Folds decisions at the commit index into it.
    pub(super) fn advance_committed(&mut self) {
        let before = self.committed;
        while self.decided_ahead.remove(&self.committed) {
            self.committed = self.committed.next();
        }
        if self.committed > before {
            self.acceptances_heard = self.acceptances_heard.split_off(&self.committed);
            self.record_configurations(before, self.committed);
            self.changes.committed = Some(self.committed);
            if !self.is_behind() {
                self.catch_up_requested_tick = None;
            }
        }
    }

    /// Hands decided values out for apply, strictly in slot order: at once
    /// (every vote counted is durable, this replica's own included), or
    /// behind a snapshot this round's persist request installs.
    pub(super) fn release_decided(&mut self) {
        if self.runs(Mutation::ApplyOutOfOrder) {
            let ahead: Vec<Slot> = self.decided_ahead.iter().copied().collect();
            for slot in ahead {
                if slot >= self.applied && self.applied_ahead.insert(slot) {
                    let value = self.log[&slot].value.clone();
                    self.outbox.decided.push(Decided { slot, value });
                }
            }
        }
        while self.applied < self.committed {
            let slot = self.applied;
            if !self.applied_ahead.remove(&slot) {
                let value = self.log[&slot].value.clone();
                let decided = Decided { slot, value };
                // Behind a gated decision or snapshot of this same round,
                // a decision is gated too: it must be applied after them
                // and before this round's reads.
                let behind_gated =
                    !self.outbox.decided.is_empty() || self.outbox.snapshot.is_some();
                if behind_gated || self.runs(Mutation::ApplyOutOfOrder) {
                    self.outbox.decided.push(decided);
                } else {
                    self.outbox.decided_now.push(decided);
                }
            }
            self.applied = slot.next();
        }
    }
}
