//! Typed errors. Three families, because callers react to each differently:
//!
//! - [`StorageError`]: an operation on an open store failed. Disk errors are
//!   fatal to the store (it refuses every later call); caller mistakes such as
//!   an oversized record are not.
//! - [`RecoveryError`]: opening a store found something it cannot explain by a
//!   crash, and refuses to start rather than guess.
//! - [`IdentityError`]: the data directory belongs to someone else, or this
//!   node's disk was lost.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::{Identity, LogPosition};

/// What an operator should do when recovery refuses to open a log. Every
/// corruption message ends with it, because the person reading the message
/// is usually under pressure and must not "fix" the directory by hand: deleting
/// one damaged file can silently drop promises this node already made.
pub const OPERATOR_ADVICE_CORRUPTION: &str = "This node may have lost acknowledged Paxos state, so it must not \
start from this directory. Restore this node's data directory from a backup, or remove the whole directory and \
re-add the node to the cluster as a new member. Do not delete, truncate or edit single files.";

/// The file-system operation that failed, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Listing the directory.
    List,
    /// Reading a file.
    Read,
    /// Appending to a file.
    Write,
    /// `fdatasync` of a file.
    SyncFile,
    /// `fsync` of the directory, which makes creations, renames and removals durable.
    SyncDirectory,
    /// Creating a file through a temporary file and a rename.
    CreateAtomically,
    /// Cutting a file short.
    Truncate,
    /// Removing a file.
    Remove,
    /// Creating the directory.
    CreateDirectory,
    /// Taking the directory's lock.
    Lock,
}

impl fmt::Display for Operation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = match self {
            Operation::List => "list",
            Operation::Read => "read",
            Operation::Write => "write to",
            Operation::SyncFile => "fdatasync",
            Operation::SyncDirectory => "fsync the directory",
            Operation::CreateAtomically => "create (through a temporary file and a rename)",
            Operation::Truncate => "truncate",
            Operation::Remove => "remove",
            Operation::CreateDirectory => "create the directory",
            Operation::Lock => "lock",
        };
        formatter.write_str(words)
    }
}

/// An operation on an open store failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The device is full (`ENOSPC`). The store has failed: part of a batch
    /// may be on disk and part not, so only recovery can say what is there.
    #[error(
        "no space left on the device while trying to {operation} {path}; the store has failed and refuses \
         every later call: free space, then restart the node so recovery re-reads what is on disk: {source}"
    )]
    NoSpace {
        /// What was being done.
        operation: Operation,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// `fdatasync` or the directory `fsync` failed. Not retryable: after a
    /// failed fsync the kernel may have dropped the dirty pages and a second
    /// fsync can succeed without writing them, so the store has failed.
    #[error(
        "could not {operation} {path}; the written data may not be on disk and retrying cannot tell, so the \
         store has failed and refuses every later call: restart the node so recovery re-reads what is on disk: {source}"
    )]
    SyncFailed {
        /// What was being done.
        operation: Operation,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Any other input/output error (for example `EIO`). The store has failed.
    #[error(
        "could not {operation} {path}; the store has failed and refuses every later call: check the disk, then \
         restart the node: {source}"
    )]
    Io {
        /// What was being done.
        operation: Operation,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// An earlier disk error failed the store; nothing more is accepted until
    /// it is reopened, so nothing written after the error is ever
    /// acknowledged.
    #[error("the store failed earlier and refuses every call until it is reopened; the first error was: {cause}")]
    Failed {
        /// The first error, as text.
        cause: String,
    },
    /// The in-memory store has crashed and must be recovered first.
    #[error("the in-memory store has crashed; call recover() before using it")]
    Crashed,
    /// A caller asked to append a record larger than the configured limit.
    /// The store is still usable.
    #[error("a record of {length_bytes} bytes exceeds the limit of {length_bytes_max} bytes")]
    RecordTooLarge {
        /// The record's length.
        length_bytes: u64,
        /// The configured limit.
        length_bytes_max: u64,
    },
    /// Too many bytes are appended but not yet synced. The store is still
    /// usable: call `sync` first.
    #[error(
        "{pending_bytes} bytes are appended but not synced and another {length_bytes} would exceed the limit of \
         {pending_bytes_max} bytes; call sync first"
    )]
    PendingFull {
        /// Bytes waiting for a sync.
        pending_bytes: u64,
        /// Size of the frame that did not fit.
        length_bytes: u64,
        /// The configured limit.
        pending_bytes_max: u64,
    },
    /// A snapshot cannot cover records that were never appended. The store
    /// is still usable.
    #[error("a snapshot covering {covers} is beyond the written log, which ends at {written}")]
    SnapshotBeyondLog {
        /// The position the snapshot would cover.
        covers: LogPosition,
        /// The written position.
        written: LogPosition,
    },
    /// A snapshot older than the installed one would resurrect compacted
    /// state. The store is still usable.
    #[error("a snapshot covering {covers} is older than the installed snapshot, which covers {installed}")]
    SnapshotBehindInstalled {
        /// The position the snapshot would cover.
        covers: LogPosition,
        /// The installed snapshot's position.
        installed: LogPosition,
    },
    /// A snapshot payload is larger than the configured limit. The store is
    /// still usable.
    #[error(
        "a snapshot payload of {length_bytes} bytes exceeds the limit of {length_bytes_max} bytes"
    )]
    SnapshotTooLarge {
        /// The payload's length.
        length_bytes: u64,
        /// The configured limit.
        length_bytes_max: u64,
    },
}

impl StorageError {
    /// Builds the error for a failed operation, sorting the operating
    /// system's error into the kind a caller reacts to.
    pub(crate) fn from_io(operation: Operation, path: PathBuf, source: io::Error) -> StorageError {
        if source.kind() == io::ErrorKind::StorageFull {
            return StorageError::NoSpace {
                operation,
                path,
                source,
            };
        }
        match operation {
            Operation::SyncFile | Operation::SyncDirectory => StorageError::SyncFailed {
                operation,
                path,
                source,
            },
            _ => StorageError::Io {
                operation,
                path,
                source,
            },
        }
    }

    /// Whether this error failed the store. A failed store refuses every
    /// later call; the caller must stop acknowledging and reopen (recover).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            StorageError::NoSpace { .. }
                | StorageError::SyncFailed { .. }
                | StorageError::Io { .. }
                | StorageError::Failed { .. }
                | StorageError::Crashed
        )
    }
}

/// What recovery found wrong. Each kind has its own paragraph in
/// `docs/storage-format.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorruptionKind {
    /// A segment file's header is missing, damaged, of another version, or
    /// disagrees with the file name.
    SegmentHeader,
    /// A record's checksum does not match and it is not the torn tail of the
    /// newest segment (it is in an older segment, or valid records follow it).
    RecordChecksum,
    /// A segment other than the newest ends inside a record.
    RecordTruncated,
    /// A valid record claims a position other than the next one expected.
    RecordOutOfSequence,
    /// A valid frame of a kind this version does not know.
    UnknownFrameKind,
    /// Bytes follow a segment's end marker.
    BytesAfterSegmentEnd,
    /// A segment that is not the newest has no end marker, so records at its
    /// end may be missing.
    SegmentNotSealed,
    /// A segment file is missing: the positions between two segments, before
    /// the first one, or after a sealed newest one are nowhere.
    MissingSegment,
    /// A segment starts before the previous one ended.
    OverlappingSegment,
    /// Snapshot files exist, or an identity file exists, but there is no log.
    LogMissing,
    /// The log ends before the position the newest snapshot covers.
    LogBehindSnapshot,
    /// The newest snapshot fails its checksum or disagrees with its name.
    SnapshotCorrupt,
    /// A file is larger than any file this crate writes.
    FileTooLarge,
}

impl fmt::Display for CorruptionKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = match self {
            CorruptionKind::SegmentHeader => "invalid segment header",
            CorruptionKind::RecordChecksum => "record checksum mismatch",
            CorruptionKind::RecordTruncated => "truncated record in a sealed part of the log",
            CorruptionKind::RecordOutOfSequence => "record out of sequence",
            CorruptionKind::UnknownFrameKind => "unknown frame kind",
            CorruptionKind::BytesAfterSegmentEnd => "bytes after the segment end marker",
            CorruptionKind::SegmentNotSealed => "segment without an end marker",
            CorruptionKind::MissingSegment => "missing segment",
            CorruptionKind::OverlappingSegment => "overlapping segment",
            CorruptionKind::LogMissing => "log missing",
            CorruptionKind::LogBehindSnapshot => "log ends before the newest snapshot",
            CorruptionKind::SnapshotCorrupt => "corrupt snapshot",
            CorruptionKind::FileTooLarge => "file too large",
        };
        formatter.write_str(words)
    }
}

/// Opening a store failed. The store was not opened. A corruption refusal
/// changed nothing on disk: recovery repairs only after every check passed.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The disk could not be read or repaired.
    #[error("could not {operation} {path} while recovering the log: {source}")]
    Io {
        /// What was being done.
        operation: Operation,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The directory holds damage a crash cannot explain. The message names
    /// the file and byte offset and ends with [`OPERATOR_ADVICE_CORRUPTION`].
    #[error("refusing to open the log: {kind} in {path} at byte offset {offset_bytes}: {detail}. {OPERATOR_ADVICE_CORRUPTION}")]
    Corruption {
        /// What is wrong.
        kind: CorruptionKind,
        /// The file (or directory) where it was found.
        path: PathBuf,
        /// Byte offset within that file.
        offset_bytes: u64,
        /// The details, in words.
        detail: String,
    },
    /// Another open store, in this process or another, holds the
    /// directory's lock. Two writers on one log would interleave records.
    #[error(
        "data directory {path} is in use: another process (or another store in this process) holds its lock file; \
         stop the other synod process first, two processes must never write one log"
    )]
    DirectoryLocked {
        /// The data directory.
        path: PathBuf,
    },
    /// The options are inconsistent (for example a record limit that does not
    /// fit in a segment).
    #[error("invalid storage options: {0}")]
    InvalidOptions(String),
}

impl RecoveryError {
    /// The corruption kind, if this is a corruption refusal.
    pub fn corruption_kind(&self) -> Option<CorruptionKind> {
        match self {
            RecoveryError::Corruption { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// The data directory does not belong to this node, or this node's disk was
/// lost.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The identity file names another cluster or another node.
    #[error(
        "data directory {path} belongs to cluster {found_cluster} node {found_node}, but this server was started as \
         cluster {expected_cluster} node {expected_node}; point the server at its own data directory (two nodes must \
         never share one)",
        found_cluster = found.cluster_id,
        found_node = found.node_id,
        expected_cluster = expected.cluster_id,
        expected_node = expected.node_id
    )]
    Mismatch {
        /// The data directory.
        path: PathBuf,
        /// The identity on disk.
        found: Identity,
        /// The identity the caller expected.
        expected: Identity,
    },
    /// The identity file is damaged.
    #[error("refusing to open data directory: the identity file {path} is corrupt at byte offset 0: {detail}. {OPERATOR_ADVICE_CORRUPTION}")]
    Corrupt {
        /// The identity file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Log or snapshot files exist but the identity file does not, so
    /// nobody can tell whose state they are.
    #[error(
        "refusing to open data directory {path}: it holds log or snapshot files ({files}) but no identity file, so \
         it cannot be known which node wrote them. {OPERATOR_ADVICE_CORRUPTION}",
        files = files.join(", ")
    )]
    IdentityMissing {
        /// The data directory.
        path: PathBuf,
        /// The synod files found.
        files: Vec<String>,
    },
    /// The directory is empty but the caller knows the cluster already
    /// counts this node as a member: its disk was lost.
    #[error(
        "this node's disk was lost: data directory {path} is empty, but cluster {cluster} already counts node {node} \
         as a member. A node that comes back with an empty disk may have forgotten promises and accepted values, \
         which can make the cluster decide two different values for one slot, so it must not rejoin as node {node}. \
         Re-add it as a new member: remove node {node} from the configuration, then add this machine as a new node \
         with a new node id and this empty directory.",
        cluster = identity.cluster_id,
        node = identity.node_id
    )]
    DiskLost {
        /// The data directory.
        path: PathBuf,
        /// The identity the node was started with.
        identity: Identity,
    },
    /// The directory could not be read or written.
    #[error("could not {operation} {path} while checking the data directory identity: {source}")]
    Io {
        /// What was being done.
        operation: Operation,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Creating the initial empty log failed.
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
}
