//! The log's normal life on real files: group commit, rotation, snapshots,
//! compaction, reopening.

mod common;

use common::{assert_records, payload, position, small_segments, TestDirectory};
use synod_storage::format::{FRAME_HEADER_SIZE_BYTES, SEGMENT_HEADER_SIZE_BYTES};
use synod_storage::{
    FileStorage, LogPosition, Storage, StorageError, StorageOptions, PREALLOCATION_CHUNK_BYTES,
};

fn append_range(storage: &mut impl Storage, from: u64, to: u64) {
    for index in from..to {
        let got = storage.append(&payload(index)).expect("append");
        assert_eq!(got, position(index));
    }
}

#[test]
fn log_appends_are_not_durable_until_sync() {
    let directory = TestDirectory::new("durable-after-sync");
    let (mut storage, recovered) =
        FileStorage::open(directory.path(), StorageOptions::default()).expect("open");
    assert!(recovered.records.is_empty() && recovered.snapshot.is_none());
    append_range(&mut storage, 0, 3);
    assert_eq!(storage.written_position(), position(3));
    assert_eq!(storage.durable_position(), LogPosition::ZERO);
    // Nothing reached the file: the segment holds only its header.
    let segment = directory.file("wal-00000000000000000000.log");
    assert_eq!(
        std::fs::metadata(&segment).expect("segment").len(),
        SEGMENT_HEADER_SIZE_BYTES as u64
    );
    assert_eq!(storage.sync().expect("sync"), position(3));
    assert_eq!(storage.durable_position(), position(3));
    // The first write allocated space ahead, so later syncs need not grow
    // the file.
    assert_eq!(
        std::fs::metadata(&segment).expect("segment").len(),
        PREALLOCATION_CHUNK_BYTES + SEGMENT_HEADER_SIZE_BYTES as u64
    );
    append_range(&mut storage, 3, 5);
    drop(storage); // The unsynced records 3 and 4 die with the process.

    let (storage, recovered) =
        FileStorage::open(directory.path(), StorageOptions::default()).expect("reopen");
    assert_records(&recovered, 0, 3);
    assert_eq!(recovered.torn_tail_truncated, None);
    assert_eq!(storage.written_position(), position(3));
    assert_eq!(storage.durable_position(), position(3));
}

/// ext4 keeps `fallocate`d blocks "unwritten" until their first write,
/// and marking them written is a change to the extent tree that a sync must
/// write as well. The log writes zeros over the space it allocates ahead,
/// so after the first sync none of a segment's extents is unwritten.
#[cfg(target_os = "linux")]
#[test]
fn log_space_allocated_ahead_is_written_not_only_reserved() {
    let directory = TestDirectory::new("written-ahead");
    let (mut storage, _) =
        FileStorage::open(directory.path(), StorageOptions::default()).expect("open");
    append_range(&mut storage, 0, 3);
    storage.sync().expect("sync");
    let segment = directory.file("wal-00000000000000000000.log");
    match fiemap::unwritten_extents(&segment) {
        Some((extents, unwritten)) => {
            assert!(extents > 0, "the segment has allocated space");
            assert_eq!(
                unwritten, 0,
                "{unwritten} of {extents} extents are unwritten"
            );
        }
        None => eprintln!("this file system has no FIEMAP: nothing to check"),
    }
}

/// The extent map of a file (the `FS_IOC_FIEMAP` ioctl), by hand: no crate
/// of the project's dependencies wraps it, and a test needs one call.
#[cfg(target_os = "linux")]
mod fiemap {
    use std::os::unix::io::AsRawFd;
    use std::path::Path;

    const FS_IOC_FIEMAP: u64 = 0xC020_660B;
    const FIEMAP_FLAG_SYNC: u32 = 0x1;
    const FIEMAP_EXTENT_UNWRITTEN: u32 = 0x800;
    const EXTENTS_MAX: usize = 64;

    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Extent {
        logical: u64,
        physical: u64,
        length: u64,
        reserved64: [u64; 2],
        flags: u32,
        reserved: [u32; 3],
    }

    #[repr(C)]
    struct Map {
        start: u64,
        length: u64,
        flags: u32,
        mapped_extents: u32,
        extent_count: u32,
        reserved: u32,
        extents: [Extent; EXTENTS_MAX],
    }

    /// (extents, of which unwritten), or `None` when the file system
    /// cannot tell.
    pub(super) fn unwritten_extents(path: &Path) -> Option<(usize, usize)> {
        let file = std::fs::File::open(path).expect("open the segment");
        let empty = Extent {
            logical: 0,
            physical: 0,
            length: 0,
            reserved64: [0; 2],
            flags: 0,
            reserved: [0; 3],
        };
        let mut map = Map {
            start: 0,
            length: u64::MAX,
            flags: FIEMAP_FLAG_SYNC,
            mapped_extents: 0,
            extent_count: EXTENTS_MAX as u32,
            reserved: 0,
            extents: [empty; EXTENTS_MAX],
        };
        // SAFETY: `map` is a `struct fiemap` with room for `extent_count`
        // extents, alive for the duration of the call.
        let result = unsafe { libc::ioctl(file.as_raw_fd(), FS_IOC_FIEMAP as _, &mut map) };
        if result != 0 {
            return None;
        }
        let extents = &map.extents[..map.mapped_extents as usize];
        let unwritten = extents
            .iter()
            .filter(|extent| extent.flags & FIEMAP_EXTENT_UNWRITTEN != 0)
            .count();
        Some((extents.len(), unwritten))
    }
}

#[test]
fn log_sync_without_appends_returns_the_durable_position() {
    let directory = TestDirectory::new("empty-sync");
    let (mut storage, _) =
        FileStorage::open(directory.path(), StorageOptions::default()).expect("open");
    assert_eq!(storage.sync().expect("sync"), LogPosition::ZERO);
    append_range(&mut storage, 0, 1);
    storage.sync().expect("sync");
    assert_eq!(storage.sync().expect("sync again"), position(1));
}

#[test]
fn log_reopened_continues_at_the_next_position() {
    let directory = TestDirectory::new("continue");
    for round in 0..4 {
        let (mut storage, recovered) =
            FileStorage::open(directory.path(), StorageOptions::default()).expect("open");
        assert_records(&recovered, 0, round * 10);
        append_range(&mut storage, round * 10, round * 10 + 10);
        storage.sync().expect("sync");
    }
}

#[test]
fn log_rotates_segments_named_by_first_position() {
    let directory = TestDirectory::new("rotation");
    let options = small_segments(1024);
    let (mut storage, _) = FileStorage::open(directory.path(), options).expect("open");
    // Sync in batches of 7 so some batches cross a segment boundary.
    for batch in 0..30 {
        append_range(&mut storage, batch * 7, batch * 7 + 7);
        storage.sync().expect("sync");
    }
    let segments = directory.segments();
    assert!(
        segments.len() > 5,
        "expected many segments, got {segments:?}"
    );
    let mut previous_first = None;
    for name in &segments {
        let size = std::fs::metadata(directory.file(name))
            .expect("segment")
            .len();
        assert!(
            size <= options.segment_size_max_bytes,
            "{name} has {size} bytes"
        );
        let first: u64 = name["wal-".len()..name.len() - ".log".len()]
            .parse()
            .expect("position in name");
        assert!(previous_first.is_none_or(|previous| previous < first));
        previous_first = Some(first);
    }
    drop(storage);
    let (_, recovered) = FileStorage::open(directory.path(), options).expect("reopen");
    assert_records(&recovered, 0, 210);
}

/// The kind of a segment's last frame, walking the frames from the header to
/// the zeros of the space allocated ahead (or the end of the file).
fn last_frame_kind(bytes: &[u8]) -> u32 {
    let mut offset = SEGMENT_HEADER_SIZE_BYTES;
    let mut kind = 0;
    while offset + FRAME_HEADER_SIZE_BYTES <= bytes.len()
        && bytes[offset..offset + FRAME_HEADER_SIZE_BYTES] != [0; FRAME_HEADER_SIZE_BYTES]
    {
        let field =
            |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes"));
        kind = field(offset + 4);
        offset += FRAME_HEADER_SIZE_BYTES + field(offset) as usize;
    }
    kind
}

#[test]
fn log_rotation_seals_every_segment_but_the_newest() {
    let directory = TestDirectory::new("seal");
    let options = small_segments(512);
    let (mut storage, _) = FileStorage::open(directory.path(), options).expect("open");
    append_range(&mut storage, 0, 60);
    storage.sync().expect("sync");
    let segments = directory.segments();
    assert!(segments.len() >= 3);
    for (index, name) in segments.iter().enumerate() {
        let bytes = std::fs::read(directory.file(name)).expect("segment");
        let kind = last_frame_kind(&bytes);
        let is_newest = index == segments.len() - 1;
        assert_eq!(
            kind == 2,
            !is_newest,
            "{name}: end marker present exactly on older segments"
        );
    }
}

#[test]
fn snapshot_compacts_segments_wholly_below_it() {
    let directory = TestDirectory::new("compaction");
    let options = small_segments(512);
    let (mut storage, _) = FileStorage::open(directory.path(), options).expect("open");
    append_range(&mut storage, 0, 100);
    storage.sync().expect("sync");
    let before = directory.segments();
    storage
        .install_snapshot(position(60), b"state at 60")
        .expect("snapshot");
    let after = directory.segments();
    assert!(
        after.len() < before.len(),
        "compaction removed nothing: {before:?}"
    );
    // The oldest remaining segment still holds position 60.
    let oldest_first: u64 = after[0]["wal-".len()..after[0].len() - ".log".len()]
        .parse()
        .expect("position");
    assert!(oldest_first <= 60);
    assert!(directory
        .names()
        .contains(&"snapshot-00000000000000000060.snap".to_string()));
    drop(storage);

    let (mut storage, recovered) = FileStorage::open(directory.path(), options).expect("reopen");
    let snapshot = recovered.snapshot.clone().expect("snapshot recovered");
    assert_eq!(snapshot.covers, position(60));
    assert_eq!(&snapshot.payload[..], b"state at 60");
    assert_records(&recovered, 60, 100);
    assert_eq!(storage.snapshot_position(), Some(position(60)));
    append_range(&mut storage, 100, 110);
    storage.sync().expect("sync after reopen");
}

#[test]
fn snapshot_replaces_the_previous_one() {
    let directory = TestDirectory::new("snapshot-replace");
    let options = small_segments(512);
    let (mut storage, _) = FileStorage::open(directory.path(), options).expect("open");
    append_range(&mut storage, 0, 40);
    storage
        .install_snapshot(position(20), b"first")
        .expect("first snapshot");
    append_range(&mut storage, 40, 80);
    storage
        .install_snapshot(position(70), b"second")
        .expect("second snapshot");
    let snapshots: Vec<String> = directory
        .names()
        .into_iter()
        .filter(|name| name.starts_with("snapshot-"))
        .collect();
    assert_eq!(
        snapshots,
        vec!["snapshot-00000000000000000070.snap".to_string()]
    );
    drop(storage);
    let (_, recovered) = FileStorage::open(directory.path(), options).expect("reopen");
    assert_eq!(
        recovered
            .snapshot
            .as_ref()
            .expect("snapshot")
            .payload
            .as_ref(),
        b"second"
    );
    assert_records(&recovered, 70, 80);
}

#[test]
fn snapshot_at_the_written_position_leaves_no_records_to_replay() {
    let directory = TestDirectory::new("snapshot-at-end");
    let (mut storage, _) = FileStorage::open(directory.path(), small_segments(512)).expect("open");
    append_range(&mut storage, 0, 50);
    // Not synced: installing the snapshot must sync first.
    storage
        .install_snapshot(position(50), b"everything")
        .expect("snapshot");
    assert_eq!(storage.durable_position(), position(50));
    drop(storage);
    let (mut storage, recovered) =
        FileStorage::open(directory.path(), small_segments(512)).expect("reopen");
    assert!(recovered.records.is_empty());
    assert_eq!(recovered.snapshot.expect("snapshot").covers, position(50));
    assert_eq!(storage.append(b"next").expect("append"), position(50));
}

#[test]
fn snapshot_refuses_impossible_positions_without_failing_the_store() {
    let directory = TestDirectory::new("snapshot-errors");
    let options = StorageOptions {
        snapshot_size_max_bytes: 16,
        ..StorageOptions::default()
    };
    let (mut storage, _) = FileStorage::open(directory.path(), options).expect("open");
    append_range(&mut storage, 0, 10);
    assert!(matches!(
        storage.install_snapshot(position(11), b""),
        Err(StorageError::SnapshotBeyondLog { .. })
    ));
    storage
        .install_snapshot(position(5), b"five")
        .expect("snapshot");
    let older = storage.install_snapshot(position(4), b"four");
    assert!(matches!(
        older,
        Err(StorageError::SnapshotBehindInstalled { .. })
    ));
    let large = storage.install_snapshot(position(6), &[0; 17]);
    assert!(matches!(large, Err(StorageError::SnapshotTooLarge { .. })));
    assert!(!large.unwrap_err().is_fatal());
    assert!(!storage.is_failed());
    storage
        .install_snapshot(position(5), b"again")
        .expect("same position replaces");
}

#[test]
fn record_limits_are_errors_that_do_not_fail_the_store() {
    let directory = TestDirectory::new("record-limits");
    let options = StorageOptions {
        segment_size_max_bytes: 4096,
        record_size_max_bytes: 1000,
        pending_size_max_bytes: 2048,
        ..StorageOptions::default()
    };
    let (mut storage, _) = FileStorage::open(directory.path(), options).expect("open");
    let too_large = storage.append(&[0; 1001]).unwrap_err();
    assert!(matches!(
        too_large,
        StorageError::RecordTooLarge {
            length_bytes: 1001,
            ..
        }
    ));
    assert!(!too_large.is_fatal());
    storage.append(&[1; 1000]).expect("largest record");
    let full = storage.append(&[2; 1000]).unwrap_err();
    assert!(matches!(full, StorageError::PendingFull { .. }), "{full}");
    storage.sync().expect("sync");
    storage.append(&[2; 1000]).expect("fits after sync");
    storage.sync().expect("sync");
    drop(storage);
    let (_, recovered) = FileStorage::open(directory.path(), options).expect("reopen");
    assert_eq!(recovered.records.len(), 2);
}

#[test]
fn options_that_cannot_hold_a_record_are_refused() {
    let directory = TestDirectory::new("options");
    let options = StorageOptions {
        segment_size_max_bytes: 100,
        record_size_max_bytes: 90,
        ..StorageOptions::default()
    };
    let error = FileStorage::open(directory.path(), options).unwrap_err();
    assert!(
        matches!(error, synod_storage::RecoveryError::InvalidOptions(_)),
        "{error}"
    );
}

#[test]
fn records_of_every_size_round_trip_including_empty() {
    let directory = TestDirectory::new("sizes");
    let options = small_segments(8192);
    let (mut storage, _) = FileStorage::open(directory.path(), options).expect("open");
    let sizes = [0_usize, 1, 23, 24, 25, 1000, 8092];
    for (index, size) in sizes.iter().enumerate() {
        storage.append(&vec![index as u8; *size]).expect("append");
    }
    storage.sync().expect("sync");
    drop(storage);
    let (_, recovered) = FileStorage::open(directory.path(), options).expect("reopen");
    let lengths: Vec<usize> = recovered
        .records
        .iter()
        .map(|(_, bytes)| bytes.len())
        .collect();
    assert_eq!(lengths, sizes);
}

#[test]
fn a_directory_opens_in_one_store_at_a_time() {
    let directory = TestDirectory::new("lock");
    let (storage, _) =
        FileStorage::open(directory.path(), StorageOptions::default()).expect("open");
    let error =
        FileStorage::open(directory.path(), StorageOptions::default()).expect_err("second open");
    assert!(
        matches!(error, synod_storage::RecoveryError::DirectoryLocked { .. }),
        "{error}"
    );
    drop(storage);
    FileStorage::open(directory.path(), StorageOptions::default())
        .expect("open after the first closed");
}
