//! The log engine shared by the file-backed and the in-memory store:
//! buffering, group commit, rotation, snapshots, compaction and the failed
//! state. It speaks to disk only through [`Directory`].
//!
//! Durability rule: appends only encode into memory. `sync` writes the whole
//! batch and issues one `fdatasync` per segment touched (one, unless the batch
//! crosses a rotation), and only then moves the durable position.

use std::mem;
use std::path::Path;

use crate::directory::{Directory, FileDirectory};
use crate::error::{Operation, RecoveryError, StorageError};
use crate::format::{
    encode_frame, encode_segment_header, encode_snapshot_header_with, frame_size_bytes,
    segment_file_name, snapshot_file_name, FrameKind, FRAME_HEADER_SIZE_BYTES,
    SEGMENT_HEADER_SIZE_BYTES,
};
use crate::options::StorageOptions;
use crate::recovery::{recover, AbsentLog, Layout, Recovered};
use crate::LogPosition;

/// Encoded frames waiting for `sync`, all destined for one segment.
#[derive(Debug)]
pub(crate) struct PendingSegment {
    /// First position of the segment the bytes go to.
    pub first: LogPosition,
    /// The frames.
    pub bytes: Vec<u8>,
}

#[derive(Debug)]
pub(crate) struct Engine<D: Directory> {
    directory: D,
    options: StorageOptions,
    /// First positions of the segment files on disk that hold retained
    /// records, oldest first. The last one receives appends.
    segments: Vec<LogPosition>,
    /// Bytes written to the newest segment file on disk.
    active_segment_size_bytes: u64,
    /// Frames not yet written. The first entry belongs to the newest segment
    /// on disk; each later entry is a segment `sync` must create.
    pending: Vec<PendingSegment>,
    pending_size_bytes: u64,
    /// Size the segment receiving the next append will have once every
    /// pending byte is written; decides rotation at append time.
    planned_segment_size_bytes: u64,
    written: LogPosition,
    durable: LogPosition,
    snapshot_covers: Option<LogPosition>,
    /// The first fatal error, as text. Set means every call is refused.
    failure: Option<String>,
}

impl<D: Directory> Engine<D> {
    /// Runs recovery on `directory` and resumes appending where it ended.
    pub(crate) fn open(
        mut directory: D,
        options: StorageOptions,
        absent: AbsentLog,
    ) -> Result<(Engine<D>, Recovered), RecoveryError> {
        options.validate()?;
        let (layout, recovered) = recover(&mut directory, absent)?;
        let Layout {
            segments,
            active_segment_size_bytes,
            written,
            snapshot_covers,
        } = layout;
        let engine = Engine {
            directory,
            options,
            segments,
            active_segment_size_bytes,
            pending: Vec::new(),
            pending_size_bytes: 0,
            planned_segment_size_bytes: active_segment_size_bytes,
            written,
            durable: written,
            snapshot_covers,
            failure: None,
        };
        engine.check_invariants();
        Ok((engine, recovered))
    }

    pub(crate) fn directory(&self) -> &D {
        &self.directory
    }

    pub(crate) fn directory_mut(&mut self) -> &mut D {
        &mut self.directory
    }

    pub(crate) fn into_directory(self) -> D {
        self.directory
    }

    /// Frames appended but not yet written, destined for the newest segment
    /// on disk, with that segment's file name and the offset they go to
    /// (where its frames end). The simulator tears these.
    pub(crate) fn pending_for_active_segment(&self) -> Option<(String, u64, &[u8])> {
        let pending = self.pending.first()?;
        Some((
            segment_file_name(pending.first),
            self.active_segment_size_bytes,
            &pending.bytes,
        ))
    }

    pub(crate) fn written_position(&self) -> LogPosition {
        self.written
    }

    pub(crate) fn durable_position(&self) -> LogPosition {
        self.durable
    }

    pub(crate) fn snapshot_position(&self) -> Option<LogPosition> {
        self.snapshot_covers
    }

    pub(crate) fn is_failed(&self) -> bool {
        self.failure.is_some()
    }

    fn check_usable(&self) -> Result<(), StorageError> {
        match &self.failure {
            Some(cause) => Err(StorageError::Failed {
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Records a fatal error: the store refuses everything from now on.
    fn fail(&mut self, error: StorageError) -> StorageError {
        assert!(error.is_fatal());
        if self.failure.is_none() {
            self.failure = Some(error.to_string());
        }
        // What was pending can never become durable through this instance.
        self.pending.clear();
        self.pending_size_bytes = 0;
        error
    }

    fn io_failure(
        &mut self,
        operation: Operation,
        name: &str,
        source: std::io::Error,
    ) -> StorageError {
        let error = StorageError::from_io(operation, self.directory.path_of(name), source);
        self.fail(error)
    }

    pub(crate) fn append(&mut self, record: &[u8]) -> Result<LogPosition, StorageError> {
        self.check_usable()?;
        let length_bytes = record.len() as u64;
        if length_bytes > self.options.record_size_max_bytes {
            return Err(StorageError::RecordTooLarge {
                length_bytes,
                length_bytes_max: self.options.record_size_max_bytes,
            });
        }
        let frame_bytes = frame_size_bytes(record.len()) as u64;
        let seal_bytes = FRAME_HEADER_SIZE_BYTES as u64;
        // Room for a possible end marker too, so a rotation never fails for space.
        if self.pending_size_bytes + frame_bytes + seal_bytes > self.options.pending_size_max_bytes
        {
            return Err(StorageError::PendingFull {
                pending_bytes: self.pending_size_bytes,
                length_bytes: frame_bytes,
                pending_bytes_max: self.options.pending_size_max_bytes,
            });
        }
        let position = self.written;
        if self.pending.is_empty() {
            let active = *self.segments.last().expect("a log always has a segment");
            self.pending.push(PendingSegment {
                first: active,
                bytes: Vec::new(),
            });
        }
        // Every segment keeps room for its end marker after its last record.
        if self.planned_segment_size_bytes + frame_bytes + seal_bytes
            > self.options.segment_size_max_bytes
        {
            self.rotate_pending(position);
            assert!(
                self.planned_segment_size_bytes + frame_bytes + seal_bytes
                    <= self.options.segment_size_max_bytes,
                "validated options guarantee that any record fits an empty segment"
            );
        }
        let current = self.pending.last_mut().expect("pending was filled above");
        encode_frame(&mut current.bytes, FrameKind::Record, position, record);
        self.pending_size_bytes += frame_bytes;
        self.planned_segment_size_bytes += frame_bytes;
        self.written = position.next();
        Ok(position)
    }

    /// Seals the segment being filled at `next` and starts a new pending
    /// segment there.
    fn rotate_pending(&mut self, next: LogPosition) {
        let current = self
            .pending
            .last_mut()
            .expect("rotation happens while appending");
        encode_frame(&mut current.bytes, FrameKind::SegmentEnd, next, &[]);
        self.pending_size_bytes += FRAME_HEADER_SIZE_BYTES as u64;
        self.pending.push(PendingSegment {
            first: next,
            bytes: Vec::new(),
        });
        self.planned_segment_size_bytes = SEGMENT_HEADER_SIZE_BYTES as u64;
    }

    pub(crate) fn sync(&mut self) -> Result<LogPosition, StorageError> {
        self.check_usable()?;
        if self.pending.is_empty() {
            return Ok(self.durable);
        }
        let pending = mem::take(&mut self.pending);
        self.pending_size_bytes = 0;
        assert_eq!(
            Some(&pending[0].first),
            self.segments.last(),
            "the first pending bytes go to the newest segment"
        );
        for (index, segment) in pending.iter().enumerate() {
            let end = pending
                .get(index + 1)
                .map_or(self.written, |next| next.first);
            // Create the next segment before writing this one's end marker:
            // a sealed segment then always has a successor on disk, and a
            // sealed newest segment can only mean a lost file.
            if let Some(next) = pending.get(index + 1) {
                self.create_segment(next.first)?;
            }
            let name = segment_file_name(segment.first);
            // The newest segment continues where its frames end; a segment
            // created by this batch starts after its header.
            let offset = match index {
                0 => self.active_segment_size_bytes,
                _ => SEGMENT_HEADER_SIZE_BYTES as u64,
            };
            if let Err(source) = self.directory.write_at(&name, offset, &segment.bytes) {
                return Err(self.io_failure(Operation::Write, &name, source));
            }
            if let Err(source) = self.directory.sync_file(&name) {
                return Err(self.io_failure(Operation::SyncFile, &name, source));
            }
            self.durable = end;
            // Track the size of the segment just written; the last one
            // written is the newest and receives the next batch.
            self.active_segment_size_bytes = match index {
                0 => self.active_segment_size_bytes + segment.bytes.len() as u64,
                _ => (SEGMENT_HEADER_SIZE_BYTES + segment.bytes.len()) as u64,
            };
        }
        assert_eq!(self.durable, self.written);
        self.planned_segment_size_bytes = self.active_segment_size_bytes;
        self.check_invariants();
        Ok(self.durable)
    }

    fn create_segment(&mut self, first: LogPosition) -> Result<(), StorageError> {
        assert!(
            self.segments.last().is_some_and(|newest| *newest < first),
            "segments are created in order"
        );
        let name = segment_file_name(first);
        let header = encode_segment_header(first);
        if let Err(source) = self.directory.create_atomically(&name, &[&header]) {
            return Err(self.io_failure(Operation::CreateAtomically, &name, source));
        }
        self.segments.push(first);
        Ok(())
    }

    pub(crate) fn install_snapshot(
        &mut self,
        covers: LogPosition,
        payload: &[u8],
    ) -> Result<(), StorageError> {
        self.install_snapshot_parts(covers, &[payload])
    }

    /// Installs a snapshot whose payload is the concatenation of `parts`.
    pub(crate) fn install_snapshot_parts(
        &mut self,
        covers: LogPosition,
        parts: &[&[u8]],
    ) -> Result<(), StorageError> {
        let length_bytes = parts.iter().map(|part| part.len() as u64).sum();
        self.check_snapshot_allowed(covers, length_bytes)?;
        // Recovery replays the log from the snapshot on, so every record the
        // snapshot covers must be durable before the snapshot is: otherwise a
        // crash could leave a snapshot beyond the end of the log.
        self.sync()?;
        assert!(covers <= self.durable);
        let name = snapshot_file_name(covers);
        let checksum = parts
            .iter()
            .fold(0, |checksum, part| crc32c::crc32c_append(checksum, part));
        let header = encode_snapshot_header_with(covers, length_bytes, checksum);
        let mut file_parts: Vec<&[u8]> = Vec::with_capacity(parts.len() + 1);
        file_parts.push(&header);
        file_parts.extend_from_slice(parts);
        if let Err(source) = self.directory.create_atomically(&name, &file_parts) {
            return Err(self.io_failure(Operation::CreateAtomically, &name, source));
        }
        self.snapshot_installed(covers)
    }

    /// Refuses a snapshot covering `covers` with a payload of
    /// `length_bytes` that this store could not install.
    pub(crate) fn check_snapshot_allowed(
        &self,
        covers: LogPosition,
        length_bytes: u64,
    ) -> Result<(), StorageError> {
        self.check_usable()?;
        if covers > self.written {
            return Err(StorageError::SnapshotBeyondLog {
                covers,
                written: self.written,
            });
        }
        if let Some(installed) = self.snapshot_covers.filter(|installed| covers < *installed) {
            return Err(StorageError::SnapshotBehindInstalled { covers, installed });
        }
        if length_bytes > self.options.snapshot_size_max_bytes {
            return Err(StorageError::SnapshotTooLarge {
                length_bytes,
                length_bytes_max: self.options.snapshot_size_max_bytes,
            });
        }
        Ok(())
    }

    /// The snapshot file covering `covers` is in place: it replaces the
    /// previous one, and the segments below it go.
    fn snapshot_installed(&mut self, covers: LogPosition) -> Result<(), StorageError> {
        let previous = self.snapshot_covers.replace(covers);
        self.compact(previous, covers)
    }

    /// Removes the previous snapshot and every segment wholly below `covers`.
    /// Oldest first, so an interrupted compaction leaves a contiguous log.
    fn compact(
        &mut self,
        previous: Option<LogPosition>,
        covers: LogPosition,
    ) -> Result<(), StorageError> {
        let mut removed_any = false;
        if let Some(previous) = previous.filter(|previous| *previous != covers) {
            self.remove_file(&snapshot_file_name(previous))?;
            removed_any = true;
        }
        // A segment is wholly below `covers` when its successor starts at or
        // below it. The newest segment has no successor and always stays.
        let removable = self
            .segments
            .windows(2)
            .take_while(|pair| pair[1] <= covers)
            .count();
        for index in 0..removable {
            self.remove_file(&segment_file_name(self.segments[index]))?;
            removed_any = true;
        }
        self.segments.drain(..removable);
        if removed_any {
            if let Err(source) = self.directory.sync_directory() {
                return Err(self.io_failure(Operation::SyncDirectory, "", source));
            }
        }
        self.check_invariants();
        Ok(())
    }

    fn remove_file(&mut self, name: &str) -> Result<(), StorageError> {
        match self.directory.remove(name) {
            Ok(()) => Ok(()),
            Err(source) => Err(self.io_failure(Operation::Remove, name, source)),
        }
    }

    fn check_invariants(&self) {
        assert!(self.durable <= self.written);
        assert!(!self.segments.is_empty(), "a log always has a segment");
        assert!(self.segments.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(self
            .segments
            .last()
            .is_some_and(|newest| *newest <= self.written));
        assert!(self.active_segment_size_bytes >= SEGMENT_HEADER_SIZE_BYTES as u64);
        assert!(self
            .snapshot_covers
            .is_none_or(|covers| covers <= self.written));
        if self.pending.is_empty() {
            assert_eq!(self.pending_size_bytes, 0);
            assert!(self.failure.is_some() || self.durable == self.written);
        }
    }
}

impl Engine<FileDirectory> {
    /// Puts a snapshot file written off the storage's thread (see
    /// [`crate::SnapshotFileWriter`]) in place: syncs the log up to what it
    /// covers, renames it over its final name, and compacts below it.
    /// Returns `false`, and removes the file, when a snapshot covering as
    /// much or more was installed meanwhile.
    pub(crate) fn install_written_snapshot(
        &mut self,
        covers: LogPosition,
        temporary: &Path,
    ) -> Result<bool, StorageError> {
        self.check_usable()?;
        if self
            .snapshot_covers
            .is_some_and(|installed| installed >= covers)
        {
            let _ = std::fs::remove_file(temporary);
            return Ok(false);
        }
        assert!(
            covers <= self.written,
            "a snapshot file was prepared for records this store appended"
        );
        // As in `install_snapshot`: the records it covers are durable first.
        if covers > self.durable {
            self.sync()?;
        }
        let name = snapshot_file_name(covers);
        if let Err(source) = std::fs::rename(temporary, self.directory.path_of(&name)) {
            return Err(self.io_failure(Operation::CreateAtomically, &name, source));
        }
        if let Err(source) = self.directory.sync_directory() {
            return Err(self.io_failure(Operation::SyncDirectory, "", source));
        }
        self.snapshot_installed(covers)?;
        Ok(true)
    }
}
