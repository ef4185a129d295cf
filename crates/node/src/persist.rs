//! The in-order persist rule.
//!
//! The core gates promises, acceptances, reads, its own votes and the
//! decisions behind a snapshot install behind the persistence of the state
//! they depend on ([`PersistRequest`]). What a later request releases may
//! rest on what an earlier one wrote (an Accepted on the entry, a read on
//! a decision, a decision on the snapshot before it), so requests are
//! released strictly in the order the core produced them, however the
//! storage completes them. This queue is where
//! that rule lives: each request with something to write gets a
//! [`PersistSequence`], the driver reports completions by sequence
//! (asserted in order), and a request with nothing to write waits only for
//! those before it.
//!
//! The messages the core says may go out at once do not pass through here:
//! they rest on no write in flight, this round's or an earlier one's, as
//! the core counts its own votes only once they are durable
//! ([`synod_paxos::OwnVotes`]). So a leader's Accepts for new slots go out
//! while its earlier writes are still being synced (pipelining).
//!
//! Decisions learned from others ([`synod_paxos::Ready::decided`]) wait for
//! no write: a majority holds them durably. They wait only for decisions
//! (and a snapshot) of requests not yet released, so that apply stays in
//! slot order.

use std::collections::VecDeque;

use synod_paxos::{Decided, PersistRequest, PersistentChanges};

/// Names one batch of changes handed to storage; completions are reported
/// with it, in the order the batches were handed out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PersistSequence(pub u64);

/// Changes to write, in order, before reporting
/// [`crate::Node::persisted`] with `sequence`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PersistBatch {
    /// Report this when the batch is written (and synced, if it must be).
    pub sequence: PersistSequence,
    /// What to write.
    pub changes: PersistentChanges,
    /// Whether the batch must be synced before its completion is reported.
    /// A batch that only moves the commit index need not be (see
    /// [`PersistentChanges::needs_sync`]); it must still be written in
    /// order, before any later batch.
    pub needs_sync: bool,
}

/// A request waiting for its batch (or for the batches before it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Waiting {
    /// The batch it wrote; `None` for a request with nothing to write,
    /// which waits only for the requests before it.
    sequence: Option<PersistSequence>,
    /// Its batch is durable (always true without a batch): it is released
    /// as soon as every request before it is.
    completed: bool,
    request: PersistRequest,
    /// Decisions learned from others in this round or later ones, which
    /// must be applied after this request's (or a snapshot it installs).
    decided_after: Vec<Decided>,
}

/// One thing the queue lets go.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Release {
    /// A request whose guarded output may be released.
    Request(Box<PersistRequest>),
    /// Decisions learned from others, to apply after everything before.
    Decided(Vec<Decided>),
}

/// What the queue lets go, in the order the core produced it.
pub(crate) type Releasable = Vec<Release>;

/// The requests not yet released, in the order the core produced them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct PersistQueue {
    /// Requests not yet released, oldest first. A driver that persists
    /// each round before the next input keeps at most one here; one that
    /// persists asynchronously keeps as many as it has writes in flight.
    waiting: VecDeque<Waiting>,
    /// The sequence of the next batch handed out.
    next_sequence: u64,
}

impl PersistQueue {
    /// Queues `request` of one round of the core, with the decisions it
    /// learned from others. Returns the batch to hand to storage, if the
    /// request has anything to write, and what may be let go now.
    pub(crate) fn push(
        &mut self,
        request: PersistRequest,
        decided: Vec<Decided>,
    ) -> (Option<PersistBatch>, Releasable) {
        assert!(
            decided.is_empty() || !request.orders_apply(),
            "the core gates decisions behind a snapshot of the same round"
        );
        let mut releasable = Releasable::new();
        if !decided.is_empty() {
            // Before this round's request: its reads may need them.
            match self
                .waiting
                .iter_mut()
                .rev()
                .find(|waiting| waiting.request.orders_apply())
            {
                Some(waiting) => waiting.decided_after.extend(decided),
                None => releasable.push(Release::Decided(decided)),
            }
        }
        let (batch, released) = self.push_request(request);
        releasable.extend(released);
        (batch, releasable)
    }

    fn push_request(&mut self, mut request: PersistRequest) -> (Option<PersistBatch>, Releasable) {
        let nothing_earlier = self.waiting.is_empty();
        let mut releasable = Releasable::new();
        if request.state().is_empty() {
            assert!(
                request.own_votes().is_empty(),
                "a replica's own vote is always written"
            );
            if nothing_earlier {
                releasable.push(Release::Request(Box::new(request)));
            } else if !request.is_empty() {
                self.waiting.push_back(Waiting {
                    sequence: None,
                    completed: true,
                    request,
                    decided_after: Vec::new(),
                });
            }
            return (None, releasable);
        }
        let sequence = PersistSequence(self.next_sequence);
        self.next_sequence += 1;
        let changes = request.take_state();
        let batch = PersistBatch {
            sequence,
            needs_sync: changes.needs_sync(),
            changes,
        };
        self.waiting.push_back(Waiting {
            sequence: Some(sequence),
            completed: false,
            request,
            decided_after: Vec::new(),
        });
        (Some(batch), releasable)
    }

    /// Records that batch `sequence` is durable and returns, in the order
    /// the core produced them, everything that may now be let go: each
    /// completed request whose earlier ones are all released, and the
    /// decisions learned behind it.
    ///
    /// # Panics
    ///
    /// When `sequence` is not the oldest batch still outstanding: storage
    /// must complete batches in the order it received them.
    pub(crate) fn completed(&mut self, sequence: PersistSequence) -> Releasable {
        let oldest = self
            .waiting
            .iter_mut()
            .find(|waiting| !waiting.completed)
            .unwrap_or_else(|| panic!("batch {} completed, but none is outstanding", sequence.0));
        assert_eq!(
            oldest.sequence,
            Some(sequence),
            "persist batches complete in the order they were handed out"
        );
        oldest.completed = true;
        let mut releasable = Releasable::new();
        while let Some(front) = self.waiting.front() {
            if !front.completed {
                break;
            }
            let waiting = self.waiting.pop_front().expect("front exists");
            releasable.push(Release::Request(Box::new(waiting.request)));
            if !waiting.decided_after.is_empty() {
                releasable.push(Release::Decided(waiting.decided_after));
            }
        }
        releasable
    }

    /// Batches handed out and not yet completed.
    pub(crate) fn outstanding(&self) -> usize {
        self.waiting
            .iter()
            .filter(|waiting| !waiting.completed)
            .count()
    }

    /// Forgets every outstanding batch (the node is stopping; nothing of it
    /// may be released any more).
    pub(crate) fn clear(&mut self) {
        self.waiting.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_paxos::{Ballot, Config, DurableState, NodeId, Replica};

    /// A request that writes a promise, from a real core.
    fn promise_request(round: u64) -> PersistRequest {
        let config = Config::new(NodeId(1), vec![NodeId(1), NodeId(2), NodeId(3)]);
        let mut replica = Replica::new(config, DurableState::default(), round);
        replica.step(
            NodeId(2),
            synod_paxos::Message::Prepare {
                ballot: Ballot {
                    round,
                    node: NodeId(2),
                },
                first_undecided: synod_paxos::Slot(0),
            },
        );
        replica.ready().persist
    }

    /// A request of a lone leader that writes its acceptance of one
    /// command: the decision waits for the write, as the leader counts its
    /// own vote only once it is durable.
    fn acceptance_request() -> (Replica, PersistRequest) {
        let config = Config::new(NodeId(1), vec![NodeId(1)]);
        let mut replica = Replica::new(config, DurableState::default(), 1);
        while replica.role() != synod_paxos::Role::Leader {
            replica.tick();
            let ready = replica.ready();
            replica.own_votes_durable(ready.persist.persisted().own_votes);
        }
        replica.propose(bytes::Bytes::from_static(b"set x 1"));
        let ready = replica.ready();
        assert!(ready.decided.is_empty(), "a decision by its own vote waits");
        assert!(!ready.persist.own_votes().is_empty());
        (replica, ready.persist)
    }

    fn learned(slot: u64) -> Vec<Decided> {
        vec![Decided {
            slot: synod_paxos::Slot(slot),
            value: synod_paxos::Value::Noop,
        }]
    }

    #[test]
    fn a_request_with_nothing_to_write_is_released_at_once_when_nothing_waits() {
        let mut queue = PersistQueue::default();
        let (batch, released) = queue.push(PersistRequest::default(), Vec::new());
        assert!(batch.is_none());
        assert_eq!(released, [Release::Request(Box::default())]);
    }

    #[test]
    fn requests_are_released_in_order_behind_earlier_batches() {
        let mut queue = PersistQueue::default();
        let (first, released) = queue.push(promise_request(1), Vec::new());
        let first = first.expect("a promise is written");
        assert!(first.needs_sync);
        assert!(released.is_empty(), "it waits for its write");
        let (second, released) = queue.push(promise_request(2), Vec::new());
        let second = second.expect("a second promise is written");
        assert!(released.is_empty(), "it waits for the first batch");
        // Nothing to write and nothing to hold: nothing to wait for either.
        let (none, released) = queue.push(PersistRequest::default(), Vec::new());
        assert_eq!((none, released), (None, Releasable::new()));
        assert_eq!(queue.outstanding(), 2);
        let released = queue.completed(first.sequence);
        assert!(matches!(released[..], [Release::Request(_)]));
        let released = queue.completed(second.sequence);
        assert!(matches!(released[..], [Release::Request(_)]));
        assert_eq!(queue.outstanding(), 0);
    }

    #[test]
    fn a_request_with_nothing_to_write_waits_behind_an_earlier_write() {
        let mut queue = PersistQueue::default();
        let (first, _) = queue.push(promise_request(1), Vec::new());
        // Its promise message, without the write (already taken).
        let mut second = promise_request(2);
        let _ = second.take_state();
        let (none, released) = queue.push(second, Vec::new());
        assert!(none.is_none() && released.is_empty());
        let released = queue.completed(first.expect("written").sequence);
        assert_eq!(released.len(), 2);
    }

    #[test]
    #[should_panic(expected = "complete in the order")]
    fn a_completion_out_of_order_is_a_bug() {
        let mut queue = PersistQueue::default();
        let (_, _) = queue.push(promise_request(1), Vec::new());
        let (second, _) = queue.push(promise_request(2), Vec::new());
        queue.completed(second.expect("written").sequence);
    }

    #[test]
    fn decisions_learned_from_others_wait_for_no_write() {
        let mut queue = PersistQueue::default();
        let (batch, _) = queue.push(promise_request(1), Vec::new());
        assert!(batch.is_some(), "a write is outstanding");
        let (_, released) = queue.push(PersistRequest::default(), learned(0));
        assert_eq!(released, [Release::Decided(learned(0))]);
    }

    #[test]
    fn a_leader_decides_by_its_own_vote_only_once_the_write_is_released() {
        let mut queue = PersistQueue::default();
        let (mut replica, request) = acceptance_request();
        let (batch, released) = queue.push(request, Vec::new());
        let batch = batch.expect("the acceptance is written");
        assert!(released.is_empty());
        let released = queue.completed(batch.sequence);
        let [Release::Request(request)] = &released[..] else {
            panic!("{released:?}");
        };
        let released = request.clone().persisted();
        assert!(released.decided.is_empty(), "not decided before counted");
        replica.own_votes_durable(released.own_votes);
        let ready = replica.ready();
        assert_eq!(ready.decided.len(), 1, "decided, and applied at once");
    }
}
