//! The clients waiting on a node: writes by request tag, reads by read id.
//!
//! What a waiting client is told:
//!
//! * a write is answered with the store's response once its slot is applied
//!   here;
//! * a write the core handed back unproposed certainly took no effect;
//! * a write handed to a leader that is then lost, or not decided within
//!   the write timeout, may still be chosen: its outcome is unknown, and it
//!   is answered so — never as a failure;
//! * a read is answered from the store once the core releases it, or fails
//!   (reads have no effect, so a failed read is certain).

use std::collections::{BTreeMap, VecDeque};

use synod_kv::{Operation, Principal};
use synod_paxos::{NodeId, ReadId};

use crate::request::{Reply, RequestError, RequestResult, UnknownReason};
use crate::tag::RequestTag;

/// The write deadlines keep at least this much room however few writes
/// wait: shrinking below it would only grow again at the next burst.
const WRITE_DEADLINES_CAPACITY_MIN: usize = 1024;

/// A write waiting for its slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PendingWrite<H> {
    handle: H,
    /// The leader the write was handed to (`None` while the core holds it
    /// for a leader to appear).
    leader: Option<NodeId>,
}

/// Every client waiting on this node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Waiters<H> {
    /// Writes by the tag proposed with them (bounded by the node's
    /// `writes_pending_max`).
    writes: BTreeMap<RequestTag, PendingWrite<H>>,
    /// Write deadlines in tick order (a write may be answered before its
    /// deadline; then its entry here is stale and skipped).
    write_deadlines: VecDeque<(u64, RequestTag)>,
    /// Reads by the id the core tracks them under; the core bounds how
    /// many it holds, and fails the rest at once.
    reads: BTreeMap<ReadId, (Principal, Operation, H)>,
    /// The id of the next read: ids are never reused.
    next_read: u64,
}

impl<H> Waiters<H> {
    pub(crate) fn new() -> Waiters<H> {
        Waiters {
            writes: BTreeMap::new(),
            write_deadlines: VecDeque::new(),
            reads: BTreeMap::new(),
            next_read: 0,
        }
    }

    pub(crate) fn writes_pending(&self) -> usize {
        self.writes.len()
    }

    pub(crate) fn reads_pending(&self) -> usize {
        self.reads.len()
    }

    /// Registers a write proposed under `tag`, handed to `leader`.
    pub(crate) fn add_write(
        &mut self,
        tag: RequestTag,
        handle: H,
        leader: Option<NodeId>,
        deadline_tick: u64,
    ) {
        let previous = self.writes.insert(tag, PendingWrite { handle, leader });
        assert!(previous.is_none(), "a request tag is used once");
        assert!(
            self.write_deadlines
                .back()
                .is_none_or(|(last, _)| *last <= deadline_tick),
            "write deadlines are added in order"
        );
        self.write_deadlines.push_back((deadline_tick, tag));
    }

    /// Registers a read; returns the id to hand the core.
    pub(crate) fn add_read(
        &mut self,
        principal: Principal,
        operation: Operation,
        handle: H,
    ) -> ReadId {
        let id = ReadId(self.next_read);
        self.next_read += 1;
        self.reads.insert(id, (principal, operation, handle));
        id
    }

    /// Answers the write under `tag`, if it waits here.
    pub(crate) fn answer_write(
        &mut self,
        tag: RequestTag,
        result: RequestResult,
    ) -> Option<Reply<H>> {
        self.writes.remove(&tag).map(|pending| Reply {
            handle: pending.handle,
            result,
            agreed_time: None,
        })
    }

    /// Takes the read `id` for serving, if it waits here.
    pub(crate) fn take_read(&mut self, id: ReadId) -> Option<(Principal, Operation, H)> {
        self.reads.remove(&id)
    }

    /// Answers every write whose deadline has come with "outcome unknown".
    pub(crate) fn expire_writes(&mut self, now_tick: u64, replies: &mut Vec<Reply<H>>) {
        while let Some((deadline, tag)) = self.write_deadlines.front().copied() {
            if deadline > now_tick {
                break;
            }
            self.write_deadlines.pop_front();
            if let Some(reply) = self.answer_write(
                tag,
                Err(RequestError::OutcomeUnknown(UnknownReason::Timeout)),
            ) {
                replies.push(reply);
            }
        }
        // A deadline stays queued until it passes, answered or not, so a
        // burst grows the queue to a write timeout's worth of writes
        // (100,000 at 50,000 writes/s and a 2 s timeout: 3 MiB or more of
        // buffer). Give that memory back once the burst is over.
        let wanted = self.write_deadlines.len().max(WRITE_DEADLINES_CAPACITY_MIN);
        if self.write_deadlines.capacity() > 4 * wanted {
            self.write_deadlines.shrink_to(2 * wanted);
        }
    }

    /// The known leader changed from `previous` to `leader`. Writes handed
    /// to `previous` may or may not be chosen by the next leader: they are
    /// answered "outcome unknown" now rather than at their deadline. Writes
    /// the core held for lack of a leader go to the new one.
    pub(crate) fn leader_changed(
        &mut self,
        previous: Option<NodeId>,
        leader: Option<NodeId>,
        replies: &mut Vec<Reply<H>>,
    ) {
        if previous.is_some() {
            let lost: Vec<RequestTag> = self
                .writes
                .iter()
                .filter(|(_, pending)| pending.leader == previous)
                .map(|(tag, _)| *tag)
                .collect();
            for tag in lost {
                let reply = self
                    .answer_write(
                        tag,
                        Err(RequestError::OutcomeUnknown(UnknownReason::LeaderLost)),
                    )
                    .expect("collected above");
                replies.push(reply);
            }
        }
        for pending in self.writes.values_mut() {
            if pending.leader.is_none() {
                pending.leader = leader;
            }
        }
    }

    /// Answers everything still waiting: the node stops.
    pub(crate) fn answer_all(&mut self, replies: &mut Vec<Reply<H>>) {
        for (_, pending) in std::mem::take(&mut self.writes) {
            replies.push(Reply {
                handle: pending.handle,
                result: Err(RequestError::OutcomeUnknown(UnknownReason::Stopped)),
                agreed_time: None,
            });
        }
        self.write_deadlines.clear();
        for (_, (_, _, handle)) in std::mem::take(&mut self.reads) {
            replies.push(Reply {
                handle,
                result: Err(RequestError::Stopping),
                agreed_time: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_queue_gives_its_memory_back_after_a_burst() {
        let mut waiters: Waiters<u64> = Waiters::new();
        let burst = 100_000;
        for request in 0..burst {
            let tag = RequestTag { client: 1, request };
            waiters.add_write(tag, request, None, 10);
            assert!(waiters
                .answer_write(tag, Err(RequestError::Overloaded))
                .is_some());
        }
        assert!(waiters.write_deadlines.capacity() >= burst as usize);
        let mut replies = Vec::new();
        waiters.expire_writes(10, &mut replies);
        assert!(replies.is_empty(), "every write was answered before");
        assert!(waiters.write_deadlines.capacity() <= 2 * WRITE_DEADLINES_CAPACITY_MIN);
    }
}
