//! The file-backed [`Persistence`]: the node's data directory, checked
//! against its identity, holding the write-ahead log and snapshots of the
//! storage crate through [`AcceptorStore`].
//!
//! A node must never come back as a voting acceptor with empty state: it
//! would have forgotten promises and accepted values that a quorum counted
//! on. So a directory without an identity is initialised only when the
//! operator says the cluster is being created ([`ClusterState::New`]); for a
//! node of an existing cluster, an empty directory means the disk was lost,
//! and the node refuses to start.

use std::fmt;
use std::path::{Path, PathBuf};

use synod_paxos::{DurableState, PersistentChanges};
use synod_storage::{
    AcceptorStore, DataDirectory, FileStorage, Identity, IdentityError, OpenedDirectory,
    SnapshotJob, StorageError, StorageOptions, WrittenSnapshot,
};
use thiserror::Error;

use crate::persistence::Persistence;

/// Whether the node's cluster is being created or already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterState {
    /// The cluster is being created: an empty data directory is initialised.
    New,
    /// The cluster exists: an empty data directory means this node's disk
    /// was lost, and the node must not vote with empty state.
    Existing,
}

impl fmt::Display for ClusterState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            ClusterState::New => "new",
            ClusterState::Existing => "existing",
        })
    }
}

/// Why the data directory could not be opened. Every message names the
/// directory and what the operator can do.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The identity check refused the directory (lost disk, wrong node or
    /// cluster, damaged identity file).
    #[error("data directory {path}: {source}")]
    Identity {
        /// The directory.
        path: PathBuf,
        /// What the check found.
        source: IdentityError,
    },
    /// The log or a snapshot is corrupt, or the directory is locked.
    #[error("data directory {path}: {message}")]
    Recovery {
        /// The directory.
        path: PathBuf,
        /// The storage crate's refusal, naming file and offset.
        message: String,
    },
}

/// Durable acceptor state in a data directory.
#[derive(Debug)]
pub struct FilePersistence {
    path: PathBuf,
    /// Refuses every call after its first disk error (see
    /// `StorageError::Failed`), so nothing unsynced is ever acknowledged.
    store: AcceptorStore<FileStorage>,
}

impl FilePersistence {
    /// Opens (or, for a new cluster, initialises) the data directory at
    /// `path` for `identity`, and recovers the acceptor state in it.
    pub fn open(
        path: &Path,
        identity: Identity,
        cluster_state: ClusterState,
    ) -> Result<FilePersistence, OpenError> {
        let identity_error = |source| OpenError::Identity {
            path: path.to_path_buf(),
            source,
        };
        let directory = match DataDirectory::open(path, identity).map_err(identity_error)? {
            OpenedDirectory::Existing(directory) => directory,
            OpenedDirectory::Fresh(fresh) => match cluster_state {
                ClusterState::New => fresh.initialise().map_err(identity_error)?,
                ClusterState::Existing => return Err(identity_error(fresh.refuse_as_lost_disk())),
            },
        };
        let (storage, recovered) =
            directory
                .open_storage(StorageOptions::default())
                .map_err(|error| OpenError::Recovery {
                    path: path.to_path_buf(),
                    message: error.to_string(),
                })?;
        if let Some(torn) = &recovered.torn_tail_truncated {
            tracing::warn!(
                file = %torn.path.display(),
                offset_bytes = torn.offset_bytes,
                dropped_bytes = torn.dropped_bytes,
                "cut a torn write off the end of the log (a crash interrupted it; nothing acknowledged was lost)"
            );
        }
        let store =
            AcceptorStore::recover(storage, &recovered).map_err(|error| OpenError::Recovery {
                path: path.to_path_buf(),
                message: error.to_string(),
            })?;
        Ok(FilePersistence {
            path: path.to_path_buf(),
            store,
        })
    }
}

impl Persistence for FilePersistence {
    fn recover(&mut self) -> DurableState {
        self.store.state().clone()
    }

    fn write(&mut self, changes: &PersistentChanges) -> Result<(), StorageError> {
        self.store.write(changes)
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.store.sync().map(|_| ())
    }

    fn write_deferring_snapshot(
        &mut self,
        changes: &PersistentChanges,
    ) -> Result<Option<SnapshotJob>, StorageError> {
        self.store.write_deferring_snapshot(changes)
    }

    fn install_written_snapshot(&mut self, written: WrittenSnapshot) -> Result<bool, StorageError> {
        self.store.install_written_snapshot(written)
    }

    fn describe(&self) -> String {
        format!("write-ahead log in {}", self.path.display())
    }
}
