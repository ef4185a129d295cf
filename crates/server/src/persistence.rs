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
use synod_storage::{SnapshotJob, StorageError, WrittenSnapshot};

/// Durable acceptor state, written in group commits.
///
/// The drive loop runs on a thread of its own, so implementations may block
/// (write and fsync) inside [`Persistence::persist`].
pub trait Persistence: Send + 'static {
    /// The state that survived the last run, read once before the replica
    /// starts. A fresh node returns [`DurableState::default`].
    fn recover(&mut self) -> DurableState;

    /// Appends `changes` without making them durable yet: several batches
    /// may share one [`Persistence::sync`] (group commit).
    ///
    /// # Errors
    ///
    /// A [`StorageError`] means the changes may or may not be written. The
    /// node must stop: it cannot tell what it promised.
    fn write(&mut self, changes: &PersistentChanges) -> Result<(), StorageError>;

    /// Makes everything written so far durable; on `Ok` every change
    /// survives any crash.
    ///
    /// # Errors
    ///
    /// As [`Persistence::write`].
    fn sync(&mut self) -> Result<(), StorageError>;

    /// [`Persistence::write`] then [`Persistence::sync`].
    ///
    /// # Errors
    ///
    /// As [`Persistence::write`].
    fn persist(&mut self, changes: &PersistentChanges) -> Result<(), StorageError> {
        self.write(changes)?;
        self.sync()
    }

    /// As [`Persistence::write`], except that a persistence may hand back
    /// a snapshot among the changes to be written on another thread
    /// ([`SnapshotJob::write`]) and installed later
    /// ([`Persistence::install_written_snapshot`]), so that a large
    /// snapshot does not hold up the writes (and the messages) behind it.
    /// By default it writes everything here.
    ///
    /// # Errors
    ///
    /// As [`Persistence::write`].
    fn write_deferring_snapshot(
        &mut self,
        changes: &PersistentChanges,
    ) -> Result<Option<SnapshotJob>, StorageError> {
        self.write(changes)?;
        Ok(None)
    }

    /// Installs a snapshot a [`SnapshotJob`] of this persistence wrote.
    /// Returns `false` when a newer one was installed meanwhile.
    ///
    /// # Errors
    ///
    /// As [`Persistence::sync`].
    fn install_written_snapshot(&mut self, written: WrittenSnapshot) -> Result<bool, StorageError> {
        unreachable!("{written:?}: this persistence hands out no snapshot jobs")
    }

    /// A short description for the startup log ("memory", a directory…).
    fn describe(&self) -> String;
}

/// Durable state kept in memory only: survives nothing. For tests, and for
/// nodes started before a data directory is configured.
#[derive(Debug, Default)]
pub struct MemoryPersistence {
    state: DurableState,
    /// Number of [`Persistence::sync`] calls, for tests of group commit.
    pub syncs: u64,
}

impl MemoryPersistence {
    /// Starts from `state`, as if it had been recovered from a disk.
    pub fn new(state: DurableState) -> MemoryPersistence {
        MemoryPersistence { state, syncs: 0 }
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

    fn write(&mut self, changes: &PersistentChanges) -> Result<(), StorageError> {
        self.state.apply(changes);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.syncs += 1;
        Ok(())
    }

    fn describe(&self) -> String {
        "memory (not durable: a restarted node forgets its promises)".to_string()
    }
}
