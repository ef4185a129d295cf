//! The seam between the drive loop and the disk.
//!
//! The drive loop makes the core's [`PersistentChanges`] durable through a
//! [`Persistence`] before it releases anything that announces them (persist
//! before send). It calls [`Persistence::persist`] once per loop iteration
//! with every change the iteration's inputs produced: group commit, one sync
//! for many messages and client requests.
//!
//! [`MemoryPersistence`] keeps the state in memory: a node that restarts
//! with it has forgotten its promises and accepted values, which is only
//! safe for tests and throwaway clusters. The file-backed write-ahead log of
//! the storage crate plugs in behind the same trait.

use synod_paxos::{DurableState, PersistentChanges};
use synod_storage::StorageError;

/// Durable acceptor state, written in group commits.
///
/// The drive loop runs on a thread of its own, so implementations may block
/// (write and fsync) inside [`Persistence::persist`].
pub trait Persistence: Send + 'static {
    /// The state that survived the last run, read once before the replica
    /// starts. A fresh node returns [`DurableState::default`].
    fn recover(&mut self) -> DurableState;

    /// Makes `changes` durable; on `Ok` every change survives any crash.
    ///
    /// # Errors
    ///
    /// A [`StorageError`] means the changes may or may not be durable. The
    /// node must stop: it cannot tell what it promised.
    fn persist(&mut self, changes: &PersistentChanges) -> Result<(), StorageError>;

    /// A short description for the startup log ("memory", a directory…).
    fn describe(&self) -> String;
}

/// Durable state kept in memory only: survives nothing. For tests, and for
/// nodes started before a data directory is configured.
#[derive(Debug, Default)]
pub struct MemoryPersistence {
    state: DurableState,
    /// Number of [`Persistence::persist`] calls, for tests of group commit.
    pub persist_calls: u64,
}

impl MemoryPersistence {
    /// Starts from `state`, as if it had been recovered from a disk.
    pub fn new(state: DurableState) -> MemoryPersistence {
        MemoryPersistence {
            state,
            persist_calls: 0,
        }
    }

    /// The state written so far.
    pub fn state(&self) -> &DurableState {
        &self.state
    }
}

impl Persistence for MemoryPersistence {
    fn recover(&mut self) -> DurableState {
        self.state.clone()
    }

    fn persist(&mut self, changes: &PersistentChanges) -> Result<(), StorageError> {
        self.persist_calls += 1;
        self.state.apply(changes);
        Ok(())
    }

    fn describe(&self) -> String {
        "memory (not durable: a restarted node forgets its promises)".to_string()
    }
}
