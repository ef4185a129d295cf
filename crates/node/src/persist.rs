//! The in-order persist rule.
//!
//! The core gates messages, decisions and reads behind the persistence of
//! the state they depend on ([`PersistRequest`]). A decision released by a
//! later request may depend on an acceptance persisted by an earlier one, so
//! requests are released strictly in the order the core produced them,
//! however the storage completes them. This queue is where that rule lives:
//! each request with something to write gets a [`PersistSequence`], the
//! driver reports completions by sequence (asserted in order), and a request
//! with nothing to write waits only for those before it.

use std::collections::VecDeque;

use synod_paxos::{PersistRequest, PersistentChanges};

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
    /// `None` for a request with nothing to write.
    sequence: Option<PersistSequence>,
    completed: bool,
    request: PersistRequest,
}

/// The requests not yet released, in the order the core produced them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct PersistQueue {
    waiting: VecDeque<Waiting>,
    next_sequence: u64,
}

impl PersistQueue {
    /// Queues `request`. Returns the batch to hand to storage, if it has
    /// anything to write, and the requests that may be released at once
    /// (this one, when it writes nothing and nothing before it waits).
    pub(crate) fn push(
        &mut self,
        mut request: PersistRequest,
    ) -> (Option<PersistBatch>, Option<PersistRequest>) {
        if request.state().is_empty() {
            if self.waiting.is_empty() {
                return (None, Some(request));
            }
            if request.is_empty() {
                return (None, None);
            }
            self.waiting.push_back(Waiting {
                sequence: None,
                completed: true,
                request,
            });
            return (None, None);
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
        });
        (Some(batch), None)
    }

    /// Records that batch `sequence` is durable and returns, in order, every
    /// request that may now be released.
    ///
    /// # Panics
    ///
    /// When `sequence` is not the oldest batch still outstanding: storage
    /// must complete batches in the order it received them.
    pub(crate) fn completed(&mut self, sequence: PersistSequence) -> Vec<PersistRequest> {
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
        let mut released = Vec::new();
        while self
            .waiting
            .front()
            .is_some_and(|waiting| waiting.completed)
        {
            let waiting = self.waiting.pop_front().expect("front exists");
            released.push(waiting.request);
        }
        released
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

    #[test]
    fn a_request_with_nothing_to_write_is_released_at_once_when_nothing_waits() {
        let mut queue = PersistQueue::default();
        let (batch, released) = queue.push(PersistRequest::default());
        assert!(batch.is_none());
        assert!(released.is_some());
    }

    #[test]
    fn requests_are_released_in_order_behind_earlier_batches() {
        let mut queue = PersistQueue::default();
        let (first, _) = queue.push(promise_request(1));
        let first = first.expect("a promise is written");
        assert!(first.needs_sync);
        let (second, released) = queue.push(promise_request(2));
        let second = second.expect("a second promise is written");
        assert!(released.is_none(), "it waits for its batch");
        // Nothing to write and nothing gated: nothing to wait for either.
        assert_eq!(queue.push(PersistRequest::default()), (None, None));
        assert_eq!(queue.outstanding(), 2);
        assert_eq!(queue.completed(first.sequence).len(), 1);
        assert_eq!(queue.completed(second.sequence).len(), 1);
        assert_eq!(queue.outstanding(), 0);
    }

    #[test]
    #[should_panic(expected = "complete in the order")]
    fn a_completion_out_of_order_is_a_bug() {
        let mut queue = PersistQueue::default();
        let (_, _) = queue.push(promise_request(1));
        let (second, _) = queue.push(promise_request(2));
        queue.completed(second.expect("written").sequence);
    }
}
