//! Whose data directory is this? A node that starts on another node's
//! directory, or on an empty directory while the cluster still counts it as a
//! voter, can break Paxos safety as surely as a lost fsync. So the directory
//! carries an identity file, written atomically once, and every start checks
//! it before reading a single record.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::directory::list_file_names;
use crate::error::{IdentityError, Operation, RecoveryError};
use crate::file::FileStorage;
use crate::format::{
    classify_file_name, encode_identity, parse_identity, segment_file_name, FileRole,
    IDENTITY_FILE_SIZE_BYTES, SEGMENT_HEADER_SIZE_BYTES,
};
use crate::options::StorageOptions;
use crate::recovery::Recovered;
use crate::LogPosition;

/// Name of the identity file inside a data directory.
pub const IDENTITY_FILE_NAME: &str = "identity";

/// The cluster and node a data directory belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The cluster, chosen when the cluster was created.
    pub cluster_id: u64,
    /// The node within the cluster.
    pub node_id: u64,
}

/// A data directory whose identity matched.
#[derive(Debug)]
pub struct DataDirectory {
    path: PathBuf,
    identity: Identity,
}

/// A data directory with no identity and no records: a brand-new node, or a
/// node whose disk was lost. Only the caller knows which (it knows whether
/// the cluster already counts this node as a member), so the caller must
/// choose: [`FreshDirectory::initialise`] for a node joining as a new member,
/// [`FreshDirectory::refuse_as_lost_disk`] for a node the cluster knows.
#[derive(Debug)]
pub struct FreshDirectory {
    path: PathBuf,
    identity: Identity,
}

/// The outcome of [`DataDirectory::open`].
#[derive(Debug)]
pub enum OpenedDirectory {
    /// The identity file matched.
    Existing(DataDirectory),
    /// No identity and no records.
    Fresh(FreshDirectory),
}

fn io_error(operation: Operation, path: &Path) -> impl FnOnce(io::Error) -> IdentityError {
    let path = path.to_path_buf();
    move |source| IdentityError::Io {
        operation,
        path,
        source,
    }
}

impl DataDirectory {
    /// Checks the identity of the directory at `path` against `expected`.
    ///
    /// - Identity file present and equal: [`OpenedDirectory::Existing`].
    /// - Identity file present but different: [`IdentityError::Mismatch`].
    /// - Identity file damaged: [`IdentityError::Corrupt`].
    /// - No identity file, but records or snapshots:
    ///   [`IdentityError::IdentityMissing`].
    /// - No identity file and nothing written (the directory is missing,
    ///   empty, or holds only the empty first segment of an initialisation
    ///   that a crash interrupted): [`OpenedDirectory::Fresh`].
    pub fn open(
        path: impl AsRef<Path>,
        expected: Identity,
    ) -> Result<OpenedDirectory, IdentityError> {
        let path = path.as_ref().to_path_buf();
        let identity_path = path.join(IDENTITY_FILE_NAME);
        match read_identity_file(&identity_path) {
            Ok(bytes) => {
                let (cluster_id, node_id) =
                    parse_identity(&bytes).map_err(|detail| IdentityError::Corrupt {
                        path: identity_path.clone(),
                        detail,
                    })?;
                let found = Identity {
                    cluster_id,
                    node_id,
                };
                if found != expected {
                    return Err(IdentityError::Mismatch {
                        path,
                        found,
                        expected,
                    });
                }
                Ok(OpenedDirectory::Existing(DataDirectory {
                    path,
                    identity: found,
                }))
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let written = written_files(&path)?;
                if !written.is_empty() {
                    return Err(IdentityError::IdentityMissing {
                        path,
                        files: written,
                    });
                }
                Ok(OpenedDirectory::Fresh(FreshDirectory {
                    path,
                    identity: expected,
                }))
            }
            Err(error) => Err(io_error(Operation::Read, &identity_path)(error)),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The identity that matched.
    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// Opens the log, which must exist: a directory with an identity but no
    /// log has lost its records, and recovery refuses it.
    pub fn open_storage(
        &self,
        options: StorageOptions,
    ) -> Result<(FileStorage, Recovered), RecoveryError> {
        FileStorage::open_existing(&self.path, options)
    }
}

impl FreshDirectory {
    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes this directory the data directory of the identity given to
    /// [`DataDirectory::open`]: creates the directory and an empty log, then
    /// writes the identity file atomically. The identity comes last, so a
    /// crash in between leaves a directory that still opens as fresh.
    pub fn initialise(self) -> Result<DataDirectory, IdentityError> {
        // Opening creates the empty log, or reopens the empty log that an
        // interrupted initialisation left (`open` checked that it is empty),
        // and removes temporary files such as a half-written identity.
        let (mut storage, recovered) = FileStorage::open(&self.path, StorageOptions::default())?;
        assert!(recovered.records.is_empty() && recovered.snapshot.is_none());
        let bytes = encode_identity(self.identity.cluster_id, self.identity.node_id);
        assert_eq!(bytes.len(), IDENTITY_FILE_SIZE_BYTES);
        storage
            .create_file_atomically(IDENTITY_FILE_NAME, &bytes)
            .map_err(io_error(
                Operation::CreateAtomically,
                &self.path.join(IDENTITY_FILE_NAME),
            ))?;
        Ok(DataDirectory {
            path: self.path,
            identity: self.identity,
        })
    }

    /// The error to stop with when the cluster already counts this node as a
    /// member: its disk was lost and it must be re-added as a new member.
    pub fn refuse_as_lost_disk(self) -> IdentityError {
        IdentityError::DiskLost {
            path: self.path,
            identity: self.identity,
        }
    }
}

/// Reads the identity file, but never more than one byte past its fixed
/// size: a huge file under that name is damage, not something to load.
fn read_identity_file(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(IDENTITY_FILE_SIZE_BYTES + 1);
    fs::File::open(path)?
        .take(IDENTITY_FILE_SIZE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Names of log and snapshot files that prove something was written. The
/// empty first segment alone proves nothing: initialisation creates it before
/// the identity file.
fn written_files(path: &Path) -> Result<Vec<String>, IdentityError> {
    let names = match list_file_names(path) {
        Ok(names) => names,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io_error(Operation::List, path)(error)),
    };
    let first_segment = segment_file_name(LogPosition::ZERO);
    let mut written = Vec::new();
    for name in names {
        match classify_file_name(&name) {
            FileRole::Segment(_) if name == first_segment => {
                let size_bytes = fs::metadata(path.join(&name))
                    .map(|metadata| metadata.len())
                    .map_err(io_error(Operation::Read, &path.join(&name)))?;
                if size_bytes > SEGMENT_HEADER_SIZE_BYTES as u64 {
                    written.push(name);
                }
            }
            FileRole::Segment(_) | FileRole::Snapshot(_) => written.push(name),
            FileRole::Temporary | FileRole::Other => {}
        }
    }
    Ok(written)
}
