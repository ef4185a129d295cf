//! Catching up: a replica behind its peers learns decided slots from them in
//! bounded batches, or, when they compacted those slots away, installs a
//! snapshot and continues from its end. Also the compaction policy's hook:
//! when a snapshot is due and how the log is cut below one.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::message::Message;
use crate::types::{Entry, NodeId, Slot, SlotEntry, Snapshot};

use super::{Replica, RoleState};

/// Payload bytes held in a log, for the size-based snapshot threshold.
pub(super) fn log_payload_bytes(log: &BTreeMap<Slot, Entry>) -> u64 {
    log.values()
        .map(|entry| entry.value.size_bytes() as u64)
        .sum()
}

impl Replica {
    /// True when the applied part of the log has grown past the configured
    /// slot or byte threshold: the caller should take a snapshot of its state
    /// machine and hand it to [`Replica::compact`].
    pub fn snapshot_due(&self) -> bool {
        let applied_slots = self.log_start.distance_to(self.applied);
        applied_slots > 0
            && (applied_slots >= self.config.snapshot_interval_slots
                || self.log_size_bytes >= self.config.snapshot_log_size_max_bytes)
    }

    /// Replaces the log below `end` with a snapshot of `state`, the
    /// caller's state machine after applying every slot below `end` (so
    /// `end` may not exceed [`Replica::applied`]). The core adds the
    /// configurations that govern the slots from `end` on. The snapshot is
    /// persisted like any other state change, and sent to replicas too far
    /// behind to catch up from the log.
    pub fn compact(&mut self, end: Slot, state: Bytes) {
        assert!(
            end <= self.applied,
            "a snapshot can only cover applied slots ({} > {})",
            end,
            self.applied
        );
        if end <= self.log_start {
            return;
        }
        let snapshot = Snapshot {
            end,
            state,
            membership: Some(self.membership.as_of(end)),
        };
        self.install_log_start(snapshot.clone());
        self.membership.forget_below(end);
        self.changes.snapshot = Some(snapshot);
    }

    /// Drops the log below the snapshot's end and keeps the snapshot.
    ///
    /// Entries below the end not yet handed out for persisting stay in the
    /// changes: a storage may write a snapshot the replica took itself
    /// after (and apart from) the log it covers, and until it has, that
    /// log must hold every slot the snapshot covers.
    fn install_log_start(&mut self, snapshot: Snapshot) {
        self.log = self.log.split_off(&snapshot.end);
        self.log_start = snapshot.end;
        self.log_size_bytes = log_payload_bytes(&self.log);
        self.snapshot = Some(snapshot);
    }

    /// Records the latest commit index `peer` reported.
    pub(super) fn note_committed(&mut self, peer: NodeId, committed: Slot) {
        if peer != self.id() {
            self.peer_committed.insert(peer, committed);
        }
    }

    /// True when some peer reported a higher commit index than ours.
    pub(super) fn is_behind(&self) -> bool {
        self.peer_committed
            .values()
            .any(|committed| *committed > self.committed)
    }

    pub(super) fn catch_up_due(&self) -> bool {
        if !self.is_behind() {
            return false;
        }
        match self.catch_up_requested_tick {
            None => true,
            Some(tick) => self.now_tick >= tick + self.config.catch_up_retry_ticks,
        }
    }

    /// Asks the next peer, in turn, among those ahead of us: one may have
    /// crashed or restarted behind what it once reported.
    pub(super) fn request_catch_up(&mut self) {
        let ahead: Vec<NodeId> = self
            .peer_committed
            .iter()
            .filter(|(_, committed)| **committed > self.committed)
            .map(|(peer, _)| *peer)
            .collect();
        if ahead.is_empty() {
            return;
        }
        let source = ahead[(self.catch_up_attempts % ahead.len() as u64) as usize];
        self.catch_up_attempts += 1;
        self.catch_up_requested_tick = Some(self.now_tick);
        if self.resume_snapshot_transfer(source) {
            return;
        }
        let from = self.committed;
        self.send_now(source, Message::CatchUpRequest { from });
    }

    pub(super) fn handle_catch_up_request(&mut self, from: NodeId, first: Slot) {
        let end = self.committed;
        if first >= end {
            // The requester is not behind us (it may even be ahead: requests
            // can be old or sent to a replica that has since restarted).
            // Say where we are so it asks someone else (regressions: seeds
            // 3733 and 8172 panicked here, seed 11659 waited forever).
            self.send_now(
                from,
                Message::CatchUp {
                    entries: Vec::new(),
                    committed: end,
                },
            );
            return;
        }
        if first < self.log_start {
            // The slots the requester needs were compacted away: start
            // sending the snapshot (see `snapshot_transfer`); it will ask
            // again from the snapshot's end.
            self.send_snapshot_chunk(from, 0);
            return;
        }
        let limit = self.config.catch_up_slots_per_message_max;
        let entries: Vec<SlotEntry> = self
            .log
            .range(first..end)
            .take(limit)
            .map(|(slot, entry)| SlotEntry {
                slot: *slot,
                entry: entry.clone(),
            })
            .collect();
        assert!(
            entries.first().is_some_and(|entry| entry.slot == first),
            "a replica holds every decided slot above its snapshot"
        );
        self.send_now(
            from,
            Message::CatchUp {
                entries,
                committed: end,
            },
        );
    }

    pub(super) fn handle_catch_up(
        &mut self,
        from: NodeId,
        entries: Vec<SlotEntry>,
        committed: Slot,
    ) {
        let before = self.committed;
        for SlotEntry { slot, entry } in entries {
            if self.is_decided(slot) {
                continue;
            }
            // Recording a decided value with the sender's ballot is safe: any
            // ballot at or above the deciding one carries the same value.
            self.record_entry(slot, entry);
            self.mark_decided(slot);
        }
        self.note_committed(from, committed);
        self.advance_committed();
        self.drop_unneeded_snapshot_transfer();
        if self.is_behind() && self.committed > before {
            // Keep the pipeline of catch-up batches going without waiting for
            // the retry timer.
            self.catch_up_requested_tick = None;
            self.request_catch_up();
        }
    }

    /// A peer's snapshot, received whole, replaces everything below its end
    /// that we have not decided yet; the caller restores its state machine
    /// from it.
    pub(super) fn install_received_snapshot(
        &mut self,
        from: NodeId,
        snapshot: Snapshot,
        committed: Slot,
    ) {
        self.note_committed(from, committed);
        if snapshot.end <= self.committed {
            return;
        }
        let end = snapshot.end;
        self.install_log_start(snapshot.clone());
        // The peer's snapshot, written in order, covers these.
        self.changes.entries = self.changes.entries.split_off(&end);
        self.install_membership(&snapshot);
        self.decided_ahead = self.decided_ahead.split_off(&end);
        self.applied_ahead = self.applied_ahead.split_off(&end);
        self.committed = end;
        self.applied = end;
        self.changes.committed = Some(end);
        self.changes.snapshot = Some(snapshot.clone());
        self.outbox.snapshot = Some(snapshot);
        if let RoleState::Leader(leadership) = &mut self.role {
            leadership.votes = leadership.votes.split_off(&end);
            leadership.next_slot = leadership.next_slot.max(end);
            leadership.recovered = leadership.recovered.split_off(&leadership.next_slot);
            leadership.recovery_end = leadership.recovery_end.max(end);
        }
        self.advance_committed();
        if self.is_behind() {
            self.catch_up_requested_tick = None;
            self.request_catch_up();
        }
    }
}
