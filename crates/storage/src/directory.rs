//! The handful of file-system operations the log needs, behind a trait so the
//! same engine and the same recovery run over real files ([`FileDirectory`])
//! and over the simulator's byte vectors (`MemoryDirectory`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::format::TEMPORARY_SUFFIX;

/// A flat directory of named files.
///
/// Contract: `append` may leave data in a volatile cache; only `sync_file`
/// makes it durable. `create_atomically`, `truncate` and `remove` are durable
/// when they return (they include the needed fsyncs), so a crash leaves
/// either the old or the new state, never a half-created file under a real
/// name.
pub(crate) trait Directory {
    /// The path to show in messages for `name`.
    fn path_of(&self, name: &str) -> PathBuf;
    /// Names of all files.
    fn list(&mut self) -> io::Result<Vec<String>>;
    /// Size of a file in bytes.
    fn size_bytes(&mut self, name: &str) -> io::Result<u64>;
    /// Whole contents of a file.
    fn read(&mut self, name: &str) -> io::Result<Vec<u8>>;
    /// Appends to the end of an existing file.
    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Makes everything appended to `name` durable (`fdatasync`).
    fn sync_file(&mut self, name: &str) -> io::Result<()>;
    /// Creates or replaces `name` with the concatenation of `parts`: write a
    /// temporary file, fsync it, rename it over `name`, fsync the directory.
    fn create_atomically(&mut self, name: &str, parts: &[&[u8]]) -> io::Result<()>;
    /// Cuts `name` to `length_bytes` and makes that durable.
    fn truncate(&mut self, name: &str, length_bytes: u64) -> io::Result<()>;
    /// Removes `name`. Durable only after `sync_directory`.
    fn remove(&mut self, name: &str) -> io::Result<()>;
    /// Makes removals durable (`fsync` of the directory).
    fn sync_directory(&mut self) -> io::Result<()>;
}

/// Name of the lock file in a data directory. A process that holds an
/// exclusive `flock` on it owns the directory; the kernel releases the lock
/// when the process dies, so a crash never leaves a stale lock.
pub const LOCK_FILE_NAME: &str = "lock";

/// Names of the regular files in `path`, sorted. Names that are not UTF-8
/// cannot be ours and are skipped.
pub(crate) fn list_file_names(path: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        if let Ok(name) = entry.file_name().into_string() {
            if entry.file_type()?.is_file() {
                names.push(name);
            }
        }
    }
    names.sort();
    Ok(names)
}

/// An exclusive lock on a data directory, held for as long as this value
/// lives.
#[derive(Debug)]
struct DirectoryLock {
    _file: File,
}

impl DirectoryLock {
    /// Takes the lock, or fails with `WouldBlock` if another open store (in
    /// this process or another) holds it.
    fn acquire(path: &Path) -> io::Result<DirectoryLock> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path.join(LOCK_FILE_NAME))?;
        lock_exclusively(&file)?;
        Ok(DirectoryLock { _file: file })
    }
}

#[cfg(unix)]
fn lock_exclusively(file: &File) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: `flock` only uses the descriptor, which `file` keeps open for
    // the duration of the call.
    let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn lock_exclusively(_file: &File) -> io::Result<()> {
    Ok(())
}

/// A real directory, locked for as long as this value lives. Keeps the file
/// currently appended to open, because the log appends to one segment for a
/// long time.
#[derive(Debug)]
pub(crate) struct FileDirectory {
    path: PathBuf,
    open_file: Option<(String, File)>,
    _lock: DirectoryLock,
}

impl FileDirectory {
    /// Locks an existing directory. Fails with `WouldBlock` if another open
    /// store holds it.
    pub(crate) fn lock(path: &Path) -> io::Result<FileDirectory> {
        let lock = DirectoryLock::acquire(path)?;
        Ok(FileDirectory {
            path: path.to_path_buf(),
            open_file: None,
            _lock: lock,
        })
    }

    fn file_for_append(&mut self, name: &str) -> io::Result<&mut File> {
        let reuse = matches!(&self.open_file, Some((open_name, _)) if open_name == name);
        if !reuse {
            // Never create here: segments come into being only through
            // `create_atomically`, so a missing file is an error, not a new log.
            let file = OpenOptions::new().append(true).open(self.path.join(name))?;
            self.open_file = Some((name.to_string(), file));
        }
        match &mut self.open_file {
            Some((_, file)) => Ok(file),
            None => unreachable!("the file was opened just above"),
        }
    }

    fn forget_open_file(&mut self, name: &str) {
        if matches!(&self.open_file, Some((open_name, _)) if open_name == name) {
            self.open_file = None;
        }
    }
}

impl Directory for FileDirectory {
    fn path_of(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn list(&mut self) -> io::Result<Vec<String>> {
        list_file_names(&self.path)
    }

    fn size_bytes(&mut self, name: &str) -> io::Result<u64> {
        Ok(fs::metadata(self.path.join(name))?.len())
    }

    fn read(&mut self, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.path.join(name))
    }

    fn append(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        self.file_for_append(name)?.write_all(bytes)
    }

    fn sync_file(&mut self, name: &str) -> io::Result<()> {
        // `sync_data` is fdatasync on Linux: it flushes the data and the file
        // size, which is all a reader needs, and skips timestamps.
        self.file_for_append(name)?.sync_data()
    }

    fn create_atomically(&mut self, name: &str, parts: &[&[u8]]) -> io::Result<()> {
        let temporary_name = format!("{name}{TEMPORARY_SUFFIX}");
        let temporary_path = self.path.join(&temporary_name);
        self.forget_open_file(name);
        {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&temporary_path)?;
            for part in parts {
                file.write_all(part)?;
            }
            file.sync_all()?;
        }
        fs::rename(&temporary_path, self.path.join(name))?;
        self.sync_directory()
    }

    fn truncate(&mut self, name: &str, length_bytes: u64) -> io::Result<()> {
        self.forget_open_file(name);
        let file = OpenOptions::new().write(true).open(self.path.join(name))?;
        file.set_len(length_bytes)?;
        file.sync_all()
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.forget_open_file(name);
        fs::remove_file(self.path.join(name))
    }

    fn sync_directory(&mut self) -> io::Result<()> {
        File::open(&self.path)?.sync_all()
    }
}
