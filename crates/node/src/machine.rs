//! The replicated state machine as a node runs it: the kv [`Store`] fed the
//! decided slots strictly in order, replaced by snapshots, and asked for
//! snapshots when the core says the log has grown enough.

use bytes::Bytes;
use synod_kv::{Operation, Principal, Response, Store, StoreConfig};
use synod_paxos::{Decided, Replica, Slot, Snapshot, Value};
use thiserror::Error;

use crate::event::Event;
use crate::tag::{self, RequestTag};

/// A failure that stops the node.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum NodeError {
    /// A snapshot (recovered from disk or received from a peer) does not
    /// restore: the state machine cannot continue from it.
    #[error("a snapshot up to slot {end} does not restore: {reason}")]
    SnapshotUnreadable {
        /// The snapshot's end.
        end: u64,
        /// The decoder's complaint.
        reason: String,
    },
}

/// The store and how far it has applied the log.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StateMachine {
    store: Store,
    /// The next slot to apply; every slot below it is reflected in `store`.
    next_apply: Slot,
    /// Report the store's digest with every applied slot (for simulators
    /// that compare replicas; it costs a little on every slot).
    record_digests: bool,
    /// The end of the snapshot handed out to encode, until it comes back.
    encoding: Option<Slot>,
}

/// A snapshot of the state machine to encode, off the loop that drives
/// the node: the store as of `end` (a clone, which shares the map's nodes
/// and costs a reference count). Encoding a million entries takes about
/// 200 ms; on the drive loop it stalled heartbeats and cost the leader its
/// leadership under load. Hand the bytes to [`crate::Node::snapshot_encoded`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SnapshotToEncode {
    /// The first slot not reflected in the store.
    pub end: Slot,
    store: Store,
}

impl SnapshotToEncode {
    /// The snapshot's bytes ([`Store::snapshot`]); call it on any thread.
    pub fn encode(&self) -> Bytes {
        self.store.snapshot()
    }
}

impl StateMachine {
    /// The state machine as of `snapshot` (or empty, with none).
    pub(crate) fn recover(
        snapshot: Option<&Snapshot>,
        config: StoreConfig,
        record_digests: bool,
    ) -> Result<StateMachine, NodeError> {
        let mut machine = StateMachine {
            store: Store::new(config),
            next_apply: Slot(0),
            record_digests,
            encoding: None,
        };
        if let Some(snapshot) = snapshot {
            machine.install(snapshot)?;
        }
        Ok(machine)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn next_apply(&self) -> Slot {
        self.next_apply
    }

    /// Replaces the store with `snapshot`'s.
    pub(crate) fn install(&mut self, snapshot: &Snapshot) -> Result<Event, NodeError> {
        let store =
            Store::restore(&snapshot.state).map_err(|error| NodeError::SnapshotUnreadable {
                end: snapshot.end.0,
                reason: error.to_string(),
            })?;
        assert!(
            snapshot.end >= self.next_apply,
            "a snapshot never takes the state machine back ({} < {})",
            snapshot.end,
            self.next_apply
        );
        self.store = store;
        self.next_apply = snapshot.end;
        Ok(Event::SnapshotInstalled {
            end: snapshot.end,
            digest: self.digest(),
        })
    }

    /// Applies one decided slot, which must be the next one. Returns the
    /// event describing it and the answer to every tagged command in it.
    pub(crate) fn apply(&mut self, decided: Decided) -> (Event, Vec<(RequestTag, Response)>) {
        assert_eq!(
            decided.slot, self.next_apply,
            "decided slots are applied strictly in order"
        );
        self.next_apply = decided.slot.next();
        let mut answers = Vec::with_capacity(decided.value.commands().len());
        let mut untagged = 0;
        for proposal in decided.value.commands() {
            // Every replica skips an untagged proposal alike, so the state
            // machines stay identical; only a foreign writer can cause one.
            let Some((tag, command)) = tag::unwrap(proposal) else {
                untagged += 1;
                continue;
            };
            answers.push((tag, self.store.apply_encoded(command)));
        }
        let event = Event::Applied {
            slot: decided.slot,
            value: decided.value,
            untagged,
            digest: self.digest(),
        };
        (event, answers)
    }

    /// Answers a read from the store as it is now, on behalf of
    /// `principal`.
    pub(crate) fn read(&self, principal: Principal, operation: &Operation) -> Response {
        self.store.read_as(principal, operation)
    }

    /// The compaction policy: when the core says the applied log has grown
    /// past its slot or byte threshold, hand out the store as it is to be
    /// encoded (one at a time); [`StateMachine::snapshot_encoded`] then
    /// gives the core the bytes, and it compacts the log below.
    pub(crate) fn snapshot_due(&mut self, replica: &Replica) -> Option<SnapshotToEncode> {
        if self.encoding.is_some()
            || !replica.snapshot_due()
            || self.next_apply <= replica.log_start()
        {
            return None;
        }
        let end = self.next_apply;
        self.encoding = Some(end);
        Some(SnapshotToEncode {
            end,
            store: self.store.clone(),
        })
    }

    /// The bytes of the snapshot handed out at `end`: the core compacts
    /// below it, unless it got a later snapshot from a peer meanwhile. A
    /// snapshot this incarnation never handed out is ignored.
    pub(crate) fn snapshot_encoded(
        &mut self,
        replica: &mut Replica,
        end: Slot,
        state: Bytes,
    ) -> Option<Event> {
        if self.encoding != Some(end) {
            return None;
        }
        self.encoding = None;
        if end <= replica.log_start() {
            return None;
        }
        replica.compact(end, state);
        Some(Event::SnapshotTaken { end })
    }

    fn digest(&self) -> Option<u64> {
        self.record_digests.then(|| self.store.digest())
    }
}

/// The commands of a decided value, untagged, for observers that want to
/// see what was applied (the harness, traces). `None` for a proposal that
/// carries no tag.
pub fn untagged_commands(value: &Value) -> Vec<Option<Bytes>> {
    value
        .commands()
        .iter()
        .map(|proposal| tag::unwrap(proposal).map(|(_, command)| proposal.slice_ref(command)))
        .collect()
}
