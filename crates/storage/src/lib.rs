//! synod's disk: a durable record log plus snapshots, and nothing else.
//!
//! A Paxos acceptor that forgets a promise or an accepted value after a crash
//! breaks safety, so this crate owns one job: what [`Storage::sync`] reports
//! as durable survives any crash, and damage that a crash cannot explain is
//! reported, never papered over. Records and snapshot payloads are opaque
//! bytes; the Paxos layer decides what they mean.
//!
//! Two implementations share one engine and one recovery routine:
//!
//! - [`FileStorage`]: a segmented write-ahead log in a directory, for servers.
//! - [`MemoryStorage`]: the same files as byte vectors, with injectable
//!   crashes, torn writes, bit flips, fsync failures and a full disk, for the
//!   deterministic simulator.
//!
//! # Positions
//!
//! A [`LogPosition`] is a record index: the first record ever appended is at
//! position 0, the next at 1, and so on, forever (compaction never renumbers).
//! "Written position" and "durable position" are exclusive ends: every record
//! strictly below the durable position is durable. A snapshot that covers
//! position `n` subsumes every record below `n`.
//!
//! # Driving a store
//!
//! Append the batch, sync once, and only then let anything that depends on
//! the batch leave the node:
//!
//! ```
//! use synod_storage::{MemoryStorage, Storage, StorageOptions, CrashFault, LogPosition};
//!
//! let mut storage = MemoryStorage::new(StorageOptions::default())?;
//! let first = storage.append(b"promise ballot 7")?;
//! storage.append(b"accept slot 1 ballot 7")?;
//! assert_eq!(storage.durable_position(), LogPosition::ZERO); // nothing is durable yet
//! let durable = storage.sync()?; // one fdatasync for the whole batch
//! assert_eq!(durable, LogPosition::new(2));
//! // Now, and not before, the promise and the accepted message may be sent.
//!
//! storage.append(b"never synced")?;
//! storage.crash(CrashFault::LoseUnsynced);
//! let recovered = storage.recover()?;
//! assert_eq!(recovered.records.len(), 2);
//! assert_eq!(recovered.records[0].0, first);
//! assert_eq!(&recovered.records[0].1[..], b"promise ballot 7");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A server opens its data directory through [`DataDirectory`], which checks
//! that the directory belongs to this cluster and node before any record is
//! read, and tells a node whose disk was lost not to come back as a voter:
//!
//! ```
//! use synod_storage::{DataDirectory, Identity, OpenedDirectory, Storage, StorageOptions};
//!
//! # let path = std::env::temp_dir().join(format!("synod-storage-doctest-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&path);
//! let me = Identity { cluster_id: 7, node_id: 2 };
//! let already_a_member = false; // The caller knows this from the cluster configuration.
//! let directory = match DataDirectory::open(&path, me)? {
//!     OpenedDirectory::Existing(directory) => directory,
//!     OpenedDirectory::Fresh(fresh) if already_a_member => return Err(fresh.refuse_as_lost_disk().into()),
//!     OpenedDirectory::Fresh(fresh) => fresh.initialise()?,
//! };
//! let (mut storage, recovered) = directory.open_storage(StorageOptions::default())?;
//! if let Some(torn) = &recovered.torn_tail_truncated {
//!     eprintln!("cut a torn write of {} bytes off {}", torn.dropped_bytes, torn.path.display());
//! }
//! // Replay recovered.snapshot, then recovered.records, into the acceptor and state machine.
//! storage.append(b"promise ballot 9")?;
//! storage.sync()?;
//! # drop(storage);
//! # std::fs::remove_dir_all(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The on-disk format and what each refusal means for an operator are in
//! `docs/storage-format.md`.

#![deny(missing_docs)]

pub mod acceptor;
mod directory;
mod engine;
mod error;
mod file;
pub mod format;
mod identity;
mod memory;
mod options;
mod recovery;

use std::fmt;

pub use acceptor::{AcceptorDecodeError, AcceptorStore, SnapshotJob};
pub use directory::{LOCK_FILE_NAME, PREALLOCATION_CHUNK_BYTES};
pub use error::{
    CorruptionKind, IdentityError, Operation, RecoveryError, StorageError,
    OPERATOR_ADVICE_CORRUPTION,
};
pub use file::{FileStorage, SnapshotFileWriter, WrittenSnapshot};
pub use identity::{DataDirectory, FreshDirectory, Identity, OpenedDirectory, IDENTITY_FILE_NAME};
pub use memory::{CrashFault, CrashReport, MemoryDisk, MemoryStorage};
pub use options::{
    StorageOptions, PENDING_SIZE_MAX_BYTES, RECORD_SIZE_MAX_BYTES, SEGMENT_SIZE_LIMIT_BYTES,
    SEGMENT_SIZE_MAX_BYTES, SNAPSHOT_SIZE_LIMIT_BYTES, SNAPSHOT_SIZE_MAX_BYTES,
};
pub use recovery::{Recovered, RecoveredSnapshot, TornTail};

/// The index of a record in the log. See the crate documentation for how
/// positions and exclusive ends are used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogPosition(u64);

impl LogPosition {
    /// The position of the first record ever appended.
    pub const ZERO: LogPosition = LogPosition(0);

    /// Wraps a raw index.
    pub const fn new(index: u64) -> LogPosition {
        LogPosition(index)
    }

    /// The raw index.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The position after this one.
    pub fn next(self) -> LogPosition {
        LogPosition(
            self.0
                .checked_add(1)
                .expect("a log never holds 2^64 records"),
        )
    }
}

impl fmt::Display for LogPosition {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "position {}", self.0)
    }
}

/// A durable record log with snapshots. Implemented by [`FileStorage`] for
/// servers and [`MemoryStorage`] for the simulator.
///
/// The contract a caller relies on: a record is durable once a `sync` that
/// returned `Ok` has a durable position above the record's position, and not
/// before. After any fatal error ([`StorageError::is_fatal`]) every later call
/// fails, so nothing written after the error can be acknowledged; the caller
/// must reopen the store, which re-reads what is really on disk.
pub trait Storage {
    /// Buffers a record in memory and returns its position. Nothing is
    /// written yet, so the record is not durable.
    fn append(&mut self, record: &[u8]) -> Result<LogPosition, StorageError>;

    /// Writes every buffered record and makes them durable with one
    /// `fdatasync` (group commit; a batch that crosses into a new segment
    /// costs one per segment plus the new segment's creation). Returns the
    /// durable position, which then equals the written position.
    fn sync(&mut self) -> Result<LogPosition, StorageError>;

    /// The position the next append will get: every record below it has been
    /// appended, but may not be durable.
    fn written_position(&self) -> LogPosition;

    /// Every record below this position is durable.
    fn durable_position(&self) -> LogPosition;

    /// Atomically installs a snapshot that subsumes every record below
    /// `covers`, then removes the previous snapshot and every segment wholly
    /// below `covers`. Syncs the log first, because recovery replays records
    /// from `covers` on and they must be on disk before the snapshot is.
    /// `covers` must not exceed the written position nor precede the
    /// installed snapshot.
    fn install_snapshot(&mut self, covers: LogPosition, payload: &[u8])
        -> Result<(), StorageError>;

    /// As [`Storage::install_snapshot`], with the payload given as the
    /// concatenation of `parts`, so that a large state machine's bytes are
    /// written as they are rather than copied into one buffer first.
    fn install_snapshot_parts(
        &mut self,
        covers: LogPosition,
        parts: &[&[u8]],
    ) -> Result<(), StorageError> {
        self.install_snapshot(covers, &parts.concat())
    }
}
