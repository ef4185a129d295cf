//! The simulator's store: the same engine and the same recovery as
//! [`crate::FileStorage`], over files kept as byte vectors, with faults the
//! caller injects explicitly. Nothing here reads a clock or draws a random
//! number; every choice comes from a seed the caller passes, so a simulation
//! replays exactly.
//!
//! The model of a disk: each file has contents and a durable length. Bytes
//! past the durable length were written but not synced; a crash loses them
//! (or, with [`CrashFault::TearUnsynced`], keeps a prefix). Creating a file
//! atomically, truncating and removing are durable at once, because the
//! file-backed store fsyncs around each of them before it returns.

use std::collections::BTreeMap;
use std::io;
use std::mem;
use std::path::PathBuf;

use crate::directory::Directory;
use crate::engine::Engine;
use crate::error::{RecoveryError, StorageError};
use crate::format::{
    classify_file_name, parse_frame, FileRole, FrameKind, FrameParse, SEGMENT_HEADER_SIZE_BYTES,
};
use crate::options::StorageOptions;
use crate::recovery::{AbsentLog, Recovered};
use crate::{LogPosition, Storage};

/// The prefix of the paths shown for in-memory files in messages.
const MEMORY_DIRECTORY_NAME: &str = "memory";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct MemoryFile {
    contents: Vec<u8>,
    durable_length_bytes: usize,
}

/// A simulated disk: named files plus the faults armed on it. Cloning it
/// snapshots the whole disk, which the simulator can use to inspect or fork
/// a node's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryDisk {
    files: BTreeMap<String, MemoryFile>,
    space_bytes_max: Option<u64>,
    fail_next_sync: bool,
}

impl MemoryDisk {
    /// An empty disk without faults.
    pub fn new() -> MemoryDisk {
        MemoryDisk::default()
    }

    /// Names of all files, sorted.
    pub fn file_names(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    /// A file's contents, including bytes not yet synced.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(|file| file.contents.as_slice())
    }

    /// Creates or replaces a file with durable contents. For tests and
    /// fuzzers that build damaged directories by hand.
    pub fn insert_file(&mut self, name: &str, contents: Vec<u8>) {
        let durable_length_bytes = contents.len();
        self.files.insert(
            name.to_string(),
            MemoryFile {
                contents,
                durable_length_bytes,
            },
        );
    }

    /// Removes a file; returns whether it existed.
    pub fn remove_file(&mut self, name: &str) -> bool {
        self.files.remove(name).is_some()
    }

    /// Total bytes held by all files.
    pub fn used_bytes(&self) -> u64 {
        self.files
            .values()
            .map(|file| file.contents.len() as u64)
            .sum()
    }

    fn drop_unsynced(&mut self) {
        for file in self.files.values_mut() {
            file.contents.truncate(file.durable_length_bytes);
        }
    }

    fn take_injected_sync_failure(&mut self) -> io::Result<()> {
        if mem::take(&mut self.fail_next_sync) {
            return Err(io::Error::other("injected fsync failure (EIO)"));
        }
        Ok(())
    }

    fn no_space() -> io::Error {
        io::Error::new(
            io::ErrorKind::StorageFull,
            "injected: no space left on device (ENOSPC)",
        )
    }

    fn file_mut(&mut self, name: &str) -> io::Result<&mut MemoryFile> {
        self.files
            .get_mut(name)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no file named {name}")))
    }
}

impl Directory for MemoryDisk {
    fn path_of(&self, name: &str) -> PathBuf {
        PathBuf::from(MEMORY_DIRECTORY_NAME).join(name)
    }

    fn list(&mut self) -> io::Result<Vec<String>> {
        Ok(self.file_names())
    }

    fn size_bytes(&mut self, name: &str) -> io::Result<u64> {
        Ok(self.file_mut(name)?.contents.len() as u64)
    }

    fn read(&mut self, name: &str) -> io::Result<Vec<u8>> {
        Ok(self.file_mut(name)?.contents.clone())
    }

    fn write_at(&mut self, name: &str, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let free_bytes = self
            .space_bytes_max
            .map(|max| max.saturating_sub(self.used_bytes()));
        let file = self.file_mut(name)?;
        // Whatever follows the write position is space allocated ahead (a
        // test may put zeros there, as the file-backed store does): the
        // write replaces it, and a crash may lose it like any unsynced byte.
        let offset = cut_at_write_position(&mut file.contents, offset);
        file.durable_length_bytes = file.durable_length_bytes.min(offset);
        match free_bytes {
            // Like a real disk, write what fits, then report the disk full.
            Some(free) if (bytes.len() as u64) > free => {
                file.contents.extend_from_slice(&bytes[..free as usize]);
                Err(MemoryDisk::no_space())
            }
            _ => {
                file.contents.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    fn sync_file(&mut self, name: &str) -> io::Result<()> {
        self.file_mut(name)?;
        self.take_injected_sync_failure()?;
        let file = self.file_mut(name)?;
        file.durable_length_bytes = file.contents.len();
        Ok(())
    }

    fn create_atomically(&mut self, name: &str, parts: &[&[u8]]) -> io::Result<()> {
        let contents = parts.concat();
        if let Some(max) = self.space_bytes_max {
            let replaced_bytes = self
                .files
                .get(name)
                .map_or(0, |file| file.contents.len() as u64);
            if self.used_bytes() - replaced_bytes + contents.len() as u64 > max {
                return Err(MemoryDisk::no_space());
            }
        }
        self.take_injected_sync_failure()?;
        self.insert_file(name, contents);
        Ok(())
    }

    fn truncate(&mut self, name: &str, length_bytes: u64) -> io::Result<()> {
        self.take_injected_sync_failure()?;
        let file = self.file_mut(name)?;
        file.contents.truncate(length_bytes as usize);
        file.durable_length_bytes = file.contents.len();
        Ok(())
    }

    fn remove(&mut self, name: &str) -> io::Result<()> {
        self.file_mut(name)?;
        self.files.remove(name);
        Ok(())
    }

    fn sync_directory(&mut self) -> io::Result<()> {
        self.take_injected_sync_failure()
    }
}

/// How a simulated crash treats the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashFault {
    /// Everything not yet synced is lost; everything synced survives.
    LoseUnsynced,
    /// The crash interrupts writing the unsynced bytes of the newest segment:
    /// a prefix of them, whose length the seed picks, reaches the disk and
    /// ends inside a frame. Complete frames in that prefix survive (a real
    /// disk may also keep unacknowledged writes); recovery must cut the
    /// partial one off as a torn tail.
    TearUnsynced {
        /// Picks the cut.
        seed: u64,
    },
    /// After losing the unsynced bytes, one bit of the durable frame holding
    /// the record at `position` flips (the seed picks the bit). Recovery must
    /// refuse to open, unless this is the very last record of the log, whose
    /// damage no write-ahead log can tell from a torn write.
    CorruptRecord {
        /// The record to damage.
        position: LogPosition,
        /// Picks the bit.
        seed: u64,
    },
}

/// What a crash did to the disk.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrashReport {
    /// Unsynced bytes that reached the disk anyway (torn write).
    pub torn_bytes_kept: u64,
    /// File and byte offset of the flipped bit, if a record was corrupted.
    /// `None` when the record was not on disk (compacted or never synced).
    pub corrupted: Option<(PathBuf, u64)>,
}

#[derive(Debug)]
enum MemoryState {
    Running(Engine<MemoryDisk>),
    Crashed {
        disk: MemoryDisk,
        durable: LogPosition,
    },
}

/// The in-memory store for the deterministic simulator.
#[derive(Debug)]
pub struct MemoryStorage {
    state: MemoryState,
    options: StorageOptions,
}

impl MemoryStorage {
    /// A store on a new, empty disk.
    pub fn new(options: StorageOptions) -> Result<MemoryStorage, RecoveryError> {
        let (storage, _) = MemoryStorage::open(MemoryDisk::new(), options)?;
        Ok(storage)
    }

    /// Runs recovery on `disk`, creating an empty log if the disk holds none.
    pub fn open(
        disk: MemoryDisk,
        options: StorageOptions,
    ) -> Result<(MemoryStorage, Recovered), RecoveryError> {
        let (engine, recovered) = Engine::open(disk, options, AbsentLog::Create)?;
        Ok((
            MemoryStorage {
                state: MemoryState::Running(engine),
                options,
            },
            recovered,
        ))
    }

    /// Simulates a crash of the process (and, for the disk cache, of the
    /// machine): the in-memory state is gone and the disk keeps only what
    /// `fault` says. Every call then fails with [`StorageError::Crashed`]
    /// until [`MemoryStorage::recover`].
    pub fn crash(&mut self, fault: CrashFault) -> CrashReport {
        let durable = self.durable_position();
        let placeholder = MemoryState::Crashed {
            disk: MemoryDisk::new(),
            durable,
        };
        let (mut disk, unwritten) = match mem::replace(&mut self.state, placeholder) {
            MemoryState::Running(engine) => {
                let unwritten = engine
                    .pending_for_active_segment()
                    .map(|(name, offset, bytes)| (name, offset, bytes.to_vec()));
                (engine.into_directory(), unwritten)
            }
            MemoryState::Crashed { disk, .. } => (disk, None),
        };
        let mut report = CrashReport::default();
        // Bytes written but not synced (only after a failed sync) come
        // first; the engine's buffer (never written) otherwise.
        let unsynced = disk
            .files
            .iter()
            .find(|(_, file)| file.contents.len() > file.durable_length_bytes)
            .map(|(name, file)| {
                (
                    name.clone(),
                    file.durable_length_bytes as u64,
                    file.contents[file.durable_length_bytes..].to_vec(),
                )
            })
            .or(unwritten);
        disk.drop_unsynced();
        // An armed fsync failure belonged to the process that crashed; arm
        // it again after the crash to fail recovery's own fsyncs.
        disk.fail_next_sync = false;
        match fault {
            CrashFault::LoseUnsynced => {}
            CrashFault::TearUnsynced { seed } => {
                if let Some((name, offset, bytes)) = unsynced {
                    report.torn_bytes_kept = tear(&mut disk, &name, offset, &bytes, seed);
                }
            }
            CrashFault::CorruptRecord { position, seed } => {
                report.corrupted = flip_bit_in_record(&mut disk, position, seed);
            }
        }
        self.state = MemoryState::Crashed { disk, durable };
        report
    }

    /// Restarts after a crash: runs recovery on the disk, exactly as
    /// [`crate::FileStorage::open`] does on files. Calling it on a running
    /// store first crashes it with [`CrashFault::LoseUnsynced`]. If recovery
    /// refuses, the store stays crashed and its disk unchanged.
    pub fn recover(&mut self) -> Result<Recovered, RecoveryError> {
        if matches!(self.state, MemoryState::Running(_)) {
            self.crash(CrashFault::LoseUnsynced);
        }
        let MemoryState::Crashed { disk, .. } = &self.state else {
            unreachable!("the store was crashed just above")
        };
        let (engine, recovered) = Engine::open(disk.clone(), self.options, AbsentLog::Refuse)?;
        self.state = MemoryState::Running(engine);
        Ok(recovered)
    }

    /// Makes the next fsync of any kind fail, as a disk returning `EIO`
    /// would. The store then fails, as the file-backed one does. A crash
    /// disarms it; arming it while crashed fails an fsync of recovery.
    pub fn fail_next_sync(&mut self) {
        self.disk_mut().fail_next_sync = true;
    }

    /// Limits the total bytes of all files; a write past it fails with
    /// `ENOSPC` after writing what fits. `None` removes the limit.
    pub fn set_space_bytes_max(&mut self, space_bytes_max: Option<u64>) {
        self.disk_mut().space_bytes_max = space_bytes_max;
    }

    /// The simulated disk.
    pub fn disk(&self) -> &MemoryDisk {
        match &self.state {
            MemoryState::Running(engine) => engine.directory(),
            MemoryState::Crashed { disk, .. } => disk,
        }
    }

    fn disk_mut(&mut self) -> &mut MemoryDisk {
        match &mut self.state {
            MemoryState::Running(engine) => engine.directory_mut(),
            MemoryState::Crashed { disk, .. } => disk,
        }
    }

    /// Whether the store is crashed and waiting for [`MemoryStorage::recover`].
    pub fn is_crashed(&self) -> bool {
        matches!(self.state, MemoryState::Crashed { .. })
    }

    /// Whether a disk error has failed the store.
    pub fn is_failed(&self) -> bool {
        match &self.state {
            MemoryState::Running(engine) => engine.is_failed(),
            MemoryState::Crashed { .. } => false,
        }
    }

    /// The position the installed snapshot covers, if there is one.
    pub fn snapshot_position(&self) -> Option<LogPosition> {
        match &self.state {
            MemoryState::Running(engine) => engine.snapshot_position(),
            MemoryState::Crashed { .. } => None,
        }
    }

    fn engine(&mut self) -> Result<&mut Engine<MemoryDisk>, StorageError> {
        match &mut self.state {
            MemoryState::Running(engine) => Ok(engine),
            MemoryState::Crashed { .. } => Err(StorageError::Crashed),
        }
    }
}

/// Drops what follows `offset`, where the log writes next: the end of its
/// frames, past which a file holds nothing but zeros (space allocated
/// ahead). Returns the offset as an index.
fn cut_at_write_position(contents: &mut Vec<u8>, offset: u64) -> usize {
    let offset = usize::try_from(offset).expect("a memory file fits in memory");
    assert!(
        contents
            .get(offset..)
            .is_some_and(|after| after.iter().all(|byte| *byte == 0)),
        "the log writes where its frames end, over nothing but zeros"
    );
    contents.truncate(offset);
    offset
}

/// Keeps a seeded prefix of `bytes` (a run of whole frames, cut inside a
/// frame), which were being written at `offset` of `name`: where the log's
/// frames end, over any zeros after them, as on a real disk, where the
/// writer writes there and not at the end of the file. Returns the bytes
/// kept.
fn tear(disk: &mut MemoryDisk, name: &str, offset: u64, bytes: &[u8], seed: u64) -> u64 {
    if bytes.len() < 2 {
        return 0;
    }
    let mut cut = 1 + (seed % (bytes.len() as u64 - 1)) as usize;
    if frame_starts(bytes).contains(&cut) {
        // Frames are longer than one byte, so this lands inside the frame.
        cut += 1;
    }
    assert!(cut < bytes.len());
    let Some(file) = disk.files.get_mut(name) else {
        return 0;
    };
    cut_at_write_position(&mut file.contents, offset);
    file.contents.extend_from_slice(&bytes[..cut]);
    file.durable_length_bytes = file.contents.len();
    cut as u64
}

/// Offsets where frames start in a run of frames.
fn frame_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut offset = 0;
    while let FrameParse::Valid(frame) = parse_frame(bytes, offset) {
        starts.push(offset);
        offset = frame.end_offset;
    }
    starts
}

/// Flips one bit in the frame holding `position`, if a segment holds it.
fn flip_bit_in_record(
    disk: &mut MemoryDisk,
    position: LogPosition,
    seed: u64,
) -> Option<(PathBuf, u64)> {
    let name = disk.file_names().into_iter().rfind(
        |name| matches!(classify_file_name(name), FileRole::Segment(first) if first <= position),
    )?;
    let contents = &disk.files.get(&name)?.contents;
    let mut offset = SEGMENT_HEADER_SIZE_BYTES;
    let frame_range = loop {
        let FrameParse::Valid(frame) = parse_frame(contents, offset) else {
            return None;
        };
        if frame.kind == Some(FrameKind::Record) && frame.position == position {
            break offset..frame.end_offset;
        }
        offset = frame.end_offset;
    };
    let frame_length_bytes = frame_range.len() as u64;
    let byte_offset = frame_range.start as u64 + seed % frame_length_bytes;
    let bit = (seed / frame_length_bytes) % 8;
    let path = disk.path_of(&name);
    let file = disk.files.get_mut(&name)?;
    file.contents[byte_offset as usize] ^= 1 << bit;
    Some((path, byte_offset))
}

impl Storage for MemoryStorage {
    fn append(&mut self, record: &[u8]) -> Result<LogPosition, StorageError> {
        self.engine()?.append(record)
    }

    fn sync(&mut self) -> Result<LogPosition, StorageError> {
        self.engine()?.sync()
    }

    /// While crashed, the durable position at the moment of the crash.
    fn written_position(&self) -> LogPosition {
        match &self.state {
            MemoryState::Running(engine) => engine.written_position(),
            MemoryState::Crashed { durable, .. } => *durable,
        }
    }

    /// While crashed, the durable position at the moment of the crash.
    fn durable_position(&self) -> LogPosition {
        match &self.state {
            MemoryState::Running(engine) => engine.durable_position(),
            MemoryState::Crashed { durable, .. } => *durable,
        }
    }

    fn install_snapshot(
        &mut self,
        covers: LogPosition,
        payload: &[u8],
    ) -> Result<(), StorageError> {
        self.engine()?.install_snapshot(covers, payload)
    }

    fn install_snapshot_parts(
        &mut self,
        covers: LogPosition,
        parts: &[&[u8]],
    ) -> Result<(), StorageError> {
        self.engine()?.install_snapshot_parts(covers, parts)
    }
}
