//! The file-backed store a server uses.

use std::fs;
use std::path::{Path, PathBuf};

use crate::directory::{Directory, FileDirectory, LOCK_FILE_NAME};
use crate::engine::Engine;
use crate::error::{Operation, RecoveryError, StorageError};
use crate::format::{encode_snapshot_header_with, snapshot_file_name, TEMPORARY_SUFFIX};
use crate::options::StorageOptions;
use crate::recovery::{AbsentLog, Recovered};
use crate::{LogPosition, Storage};

/// A segmented write-ahead log and snapshot store in one directory.
///
/// Layout: `wal-<first position>.log` segments, `snapshot-<covers>.snap`
/// snapshots, `*.tmp` files while something is being created atomically.
/// Appends are buffered; [`Storage::sync`] writes them and calls
/// `fdatasync`. Opening runs recovery.
#[derive(Debug)]
pub struct FileStorage {
    engine: Engine<FileDirectory>,
}

impl FileStorage {
    /// Opens the log in `directory`, creating the directory and an empty log
    /// if neither exists yet. Runs recovery: returns what the log holds, or
    /// refuses with a [`RecoveryError`] that names the damaged file and
    /// offset.
    ///
    /// A server should open through [`crate::DataDirectory`] instead, which
    /// first checks the directory's identity and never creates a log for a
    /// node that had one.
    pub fn open(
        directory: impl AsRef<Path>,
        options: StorageOptions,
    ) -> Result<(FileStorage, Recovered), RecoveryError> {
        let path = directory.as_ref();
        if !path.is_dir() {
            create_directory(path)?;
        }
        FileStorage::open_with(path, options, AbsentLog::Create)
    }

    /// Opens a log that must already exist.
    pub(crate) fn open_existing(
        directory: &Path,
        options: StorageOptions,
    ) -> Result<(FileStorage, Recovered), RecoveryError> {
        FileStorage::open_with(directory, options, AbsentLog::Refuse)
    }

    fn open_with(
        directory: &Path,
        options: StorageOptions,
        absent: AbsentLog,
    ) -> Result<(FileStorage, Recovered), RecoveryError> {
        let locked = FileDirectory::lock(directory).map_err(|source| {
            if source.kind() == std::io::ErrorKind::WouldBlock {
                RecoveryError::DirectoryLocked {
                    path: directory.to_path_buf(),
                }
            } else {
                RecoveryError::Io {
                    operation: Operation::Lock,
                    path: directory.join(LOCK_FILE_NAME),
                    source,
                }
            }
        })?;
        let locked = locked.allocating_for(options.segment_size_max_bytes);
        let (engine, recovered) = Engine::open(locked, options, absent)?;
        Ok((FileStorage { engine }, recovered))
    }

    /// Creates or replaces a small file in the store's directory atomically,
    /// under the store's lock. For the identity file.
    pub(crate) fn create_file_atomically(
        &mut self,
        name: &str,
        contents: &[u8],
    ) -> std::io::Result<()> {
        self.engine
            .directory_mut()
            .create_atomically(name, &[contents])
    }

    /// The position the installed snapshot covers, if there is one.
    pub fn snapshot_position(&self) -> Option<LogPosition> {
        self.engine.snapshot_position()
    }

    /// Whether a disk error has failed the store.
    pub fn is_failed(&self) -> bool {
        self.engine.is_failed()
    }

    /// Prepares to write a snapshot covering `covers`, with a payload of
    /// `length_bytes`, on another thread ([`SnapshotFileWriter::write`]);
    /// [`FileStorage::install_written_snapshot`] then puts it in place.
    /// Appends and syncs go on meanwhile: a large snapshot's write does not
    /// hold up the log behind it.
    ///
    /// # Errors
    ///
    /// As [`Storage::install_snapshot`] refuses the same snapshot.
    pub fn prepare_snapshot(
        &self,
        covers: LogPosition,
        length_bytes: u64,
    ) -> Result<SnapshotFileWriter, StorageError> {
        self.engine.check_snapshot_allowed(covers, length_bytes)?;
        let name = snapshot_file_name(covers);
        Ok(SnapshotFileWriter {
            covers,
            length_bytes,
            temporary: self
                .engine
                .directory()
                .path_of(&format!("{name}{TEMPORARY_SUFFIX}")),
        })
    }

    /// Installs a snapshot file [`SnapshotFileWriter::write`] wrote: syncs
    /// the log up to what it covers, renames it into place and removes what
    /// it makes unnecessary. Returns `false` (and removes the file) when a
    /// snapshot covering as much was installed meanwhile.
    ///
    /// # Errors
    ///
    /// A failed sync, rename or removal fails the store, as any disk error.
    pub fn install_written_snapshot(
        &mut self,
        written: WrittenSnapshot,
    ) -> Result<bool, StorageError> {
        self.engine
            .install_written_snapshot(written.covers, &written.temporary)
    }
}

/// A snapshot file to write off the storage's thread: the temporary file
/// recovery removes if a crash interrupts it.
#[derive(Debug)]
pub struct SnapshotFileWriter {
    covers: LogPosition,
    length_bytes: u64,
    temporary: PathBuf,
}

/// A snapshot file written and synced under its temporary name.
#[derive(Debug)]
pub struct WrittenSnapshot {
    covers: LogPosition,
    temporary: PathBuf,
}

impl SnapshotFileWriter {
    /// The position the snapshot covers.
    pub fn covers(&self) -> LogPosition {
        self.covers
    }

    /// Writes the header and the payload (the concatenation of `parts`, so
    /// a large state machine is not copied into one buffer first) and syncs
    /// the file.
    ///
    /// # Errors
    ///
    /// Any I/O error; the temporary file is removed (best effort), and the
    /// store is unaffected: its log still holds what the snapshot covers.
    ///
    /// # Panics
    ///
    /// When the parts do not add up to the length the writer was prepared
    /// for.
    pub fn write(self, parts: &[bytes::Bytes]) -> std::io::Result<WrittenSnapshot> {
        use std::io::Write;
        let length_bytes: u64 = parts.iter().map(|part| part.len() as u64).sum();
        assert_eq!(
            length_bytes, self.length_bytes,
            "the payload has the prepared length"
        );
        let checksum = parts
            .iter()
            .fold(0, |checksum, part| crc32c::crc32c_append(checksum, part));
        let header = encode_snapshot_header_with(self.covers, length_bytes, checksum);
        let result = (|| {
            let mut file = std::io::BufWriter::new(fs::File::create(&self.temporary)?);
            file.write_all(&header)?;
            for part in parts {
                file.write_all(part)?;
            }
            file.into_inner()
                .map_err(|error| error.into_error())?
                .sync_all()
        })();
        match result {
            Ok(()) => Ok(WrittenSnapshot {
                covers: self.covers,
                temporary: self.temporary,
            }),
            Err(error) => {
                let _ = fs::remove_file(&self.temporary);
                Err(error)
            }
        }
    }
}

/// Creates `path` and makes its directory entry durable, so a crash right
/// after creating a log cannot lose the whole directory.
pub(crate) fn create_directory(path: &Path) -> Result<(), RecoveryError> {
    let io_error = |operation: Operation, path: PathBuf| {
        move |source| RecoveryError::Io {
            operation,
            path,
            source,
        }
    };
    fs::create_dir_all(path).map_err(io_error(Operation::CreateDirectory, path.to_path_buf()))?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::File::open(&parent)
        .and_then(|handle| handle.sync_all())
        .map_err(io_error(Operation::SyncDirectory, parent))
}

impl Storage for FileStorage {
    fn append(&mut self, record: &[u8]) -> Result<LogPosition, StorageError> {
        self.engine.append(record)
    }

    fn sync(&mut self) -> Result<LogPosition, StorageError> {
        self.engine.sync()
    }

    fn written_position(&self) -> LogPosition {
        self.engine.written_position()
    }

    fn durable_position(&self) -> LogPosition {
        self.engine.durable_position()
    }

    fn install_snapshot(
        &mut self,
        covers: LogPosition,
        payload: &[u8],
    ) -> Result<(), StorageError> {
        self.engine.install_snapshot(covers, payload)
    }

    fn install_snapshot_parts(
        &mut self,
        covers: LogPosition,
        parts: &[&[u8]],
    ) -> Result<(), StorageError> {
        self.engine.install_snapshot_parts(covers, parts)
    }
}
