//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use synod_storage::{LogPosition, Recovered, StorageOptions};

/// A directory under the build's temporary folder (on the same disk as the
/// build, so fsync is real), removed when dropped.
pub struct TestDirectory {
    path: PathBuf,
}

impl TestDirectory {
    pub fn new(label: &str) -> TestDirectory {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "synod-storage-{label}-{}-{unique}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        TestDirectory { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Sorted names of the files in the directory.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.path)
            .expect("list test directory")
            .map(|entry| {
                entry
                    .expect("directory entry")
                    .file_name()
                    .into_string()
                    .expect("UTF-8 name")
            })
            .collect();
        names.sort();
        names
    }

    /// Names of the segment files, oldest first.
    pub fn segments(&self) -> Vec<String> {
        self.names()
            .into_iter()
            .filter(|name| name.starts_with("wal-"))
            .collect()
    }

    /// Every file's name, length and contents (contents only for files of at
    /// most a mebibyte), to prove a refusal changed nothing.
    pub fn contents(&self) -> Vec<(String, u64, Vec<u8>)> {
        const COMPARED_SIZE_MAX_BYTES: u64 = 1024 * 1024;
        self.names()
            .into_iter()
            .map(|name| {
                let length = fs::metadata(self.file(&name))
                    .expect("test file metadata")
                    .len();
                let bytes = if length <= COMPARED_SIZE_MAX_BYTES {
                    fs::read(self.file(&name)).expect("read test file")
                } else {
                    Vec::new()
                };
                (name, length, bytes)
            })
            .collect()
    }
}

impl Drop for TestDirectory {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Small segments, so a few hundred records span many of them.
pub fn small_segments(segment_size_max_bytes: u64) -> StorageOptions {
    StorageOptions {
        segment_size_max_bytes,
        record_size_max_bytes: segment_size_max_bytes - 100,
        ..StorageOptions::default()
    }
}

/// The payload used for record `index`: its index and a length that varies.
pub fn payload(index: u64) -> Vec<u8> {
    let mut bytes = index.to_le_bytes().to_vec();
    bytes.extend(std::iter::repeat_n(
        (index % 251) as u8,
        (index % 37) as usize,
    ));
    bytes
}

/// Asserts that `recovered` holds exactly the records `from..to` built by
/// [`payload`].
pub fn assert_records(recovered: &Recovered, from: u64, to: u64) {
    let positions: Vec<u64> = recovered
        .records
        .iter()
        .map(|(position, _)| position.get())
        .collect();
    assert_eq!(
        positions,
        (from..to).collect::<Vec<_>>(),
        "recovered positions"
    );
    for (position, bytes) in &recovered.records {
        assert_eq!(
            &bytes[..],
            &payload(position.get())[..],
            "payload of {position}"
        );
    }
}

pub fn position(index: u64) -> LogPosition {
    LogPosition::new(index)
}
