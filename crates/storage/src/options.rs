//! Limits. Every buffer and file this crate keeps has a named bound; the
//! defaults are the constants below and a caller can lower or raise them
//! within the hard ceilings.

use crate::error::RecoveryError;
use crate::format::{FRAME_HEADER_SIZE_BYTES, SEGMENT_HEADER_SIZE_BYTES};

/// Default size at which a segment is closed and a new one started. Small
/// enough that compaction frees space soon after a snapshot, large enough
/// that rotation (three extra fsyncs) is rare.
pub const SEGMENT_SIZE_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Default limit on one record's payload.
pub const RECORD_SIZE_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// Default limit on bytes appended but not yet synced, so a caller that
/// forgets to sync gets an error instead of exhausting memory.
pub const PENDING_SIZE_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Default limit on one snapshot payload.
pub const SNAPSHOT_SIZE_MAX_BYTES: u64 = 1024 * 1024 * 1024;
/// Hard ceiling for a segment file. Recovery reads a whole segment into
/// memory and refuses a larger file as damage instead of trying.
pub const SEGMENT_SIZE_LIMIT_BYTES: u64 = 1024 * 1024 * 1024;
/// Hard ceiling for a snapshot file, for the same reason.
pub const SNAPSHOT_SIZE_LIMIT_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Tunable limits of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorageOptions {
    /// A segment is closed before it would grow past this many bytes.
    pub segment_size_max_bytes: u64,
    /// Largest record payload `append` accepts.
    pub record_size_max_bytes: u64,
    /// Largest number of bytes that may wait for a `sync`.
    pub pending_size_max_bytes: u64,
    /// Largest snapshot payload `install_snapshot` accepts.
    pub snapshot_size_max_bytes: u64,
}

impl Default for StorageOptions {
    fn default() -> StorageOptions {
        StorageOptions {
            segment_size_max_bytes: SEGMENT_SIZE_MAX_BYTES,
            record_size_max_bytes: RECORD_SIZE_MAX_BYTES,
            pending_size_max_bytes: PENDING_SIZE_MAX_BYTES,
            snapshot_size_max_bytes: SNAPSHOT_SIZE_MAX_BYTES,
        }
    }
}

impl StorageOptions {
    /// Checks that the limits fit together: the largest record must fit in
    /// an empty segment next to the segment header and the end marker, and
    /// in the pending buffer.
    pub fn validate(&self) -> Result<(), RecoveryError> {
        let overhead_bytes = (SEGMENT_HEADER_SIZE_BYTES + 2 * FRAME_HEADER_SIZE_BYTES) as u64;
        let invalid = |message: String| Err(RecoveryError::InvalidOptions(message));
        if self.segment_size_max_bytes > SEGMENT_SIZE_LIMIT_BYTES {
            return invalid(format!(
                "segment_size_max_bytes {} exceeds the ceiling of {SEGMENT_SIZE_LIMIT_BYTES}",
                self.segment_size_max_bytes
            ));
        }
        if self.record_size_max_bytes > u64::from(u32::MAX) {
            return invalid(format!(
                "record_size_max_bytes {} does not fit the 32-bit length field",
                self.record_size_max_bytes
            ));
        }
        if self.record_size_max_bytes.saturating_add(overhead_bytes) > self.segment_size_max_bytes {
            return invalid(format!(
                "record_size_max_bytes {} plus {overhead_bytes} bytes of headers does not fit in segment_size_max_bytes {}",
                self.record_size_max_bytes, self.segment_size_max_bytes
            ));
        }
        if self.record_size_max_bytes.saturating_add(overhead_bytes) > self.pending_size_max_bytes {
            return invalid(format!(
                "record_size_max_bytes {} plus {overhead_bytes} bytes of headers does not fit in pending_size_max_bytes {}",
                self.record_size_max_bytes, self.pending_size_max_bytes
            ));
        }
        if self.snapshot_size_max_bytes > SNAPSHOT_SIZE_LIMIT_BYTES {
            return invalid(format!(
                "snapshot_size_max_bytes {} exceeds the ceiling of {SNAPSHOT_SIZE_LIMIT_BYTES}",
                self.snapshot_size_max_bytes
            ));
        }
        Ok(())
    }
}
