//! Disk faults through the in-memory store: failed fsyncs, a full disk,
//! crashes that lose or tear unsynced writes, and bit flips. The in-memory
//! store runs the same engine and recovery as the file-backed one.

mod common;

use common::{assert_records, payload, position, small_segments};
use synod_storage::{
    CorruptionKind, CrashFault, MemoryDisk, MemoryStorage, Operation, RecoveryError, Storage,
    StorageError, StorageOptions,
};

fn append_range(storage: &mut impl Storage, from: u64, to: u64) {
    for index in from..to {
        assert_eq!(
            storage.append(&payload(index)).expect("append"),
            position(index)
        );
    }
}

fn segment_names(storage: &MemoryStorage) -> Vec<String> {
    storage
        .disk()
        .file_names()
        .into_iter()
        .filter(|name| name.starts_with("wal-"))
        .collect()
}

#[test]
fn fault_failed_fsync_fails_the_store_for_good() {
    let mut storage = MemoryStorage::new(StorageOptions::default()).expect("new");
    append_range(&mut storage, 0, 5);
    storage.sync().expect("sync");
    append_range(&mut storage, 5, 8);
    storage.fail_next_sync();
    let error = storage.sync().expect_err("the fsync fails");
    assert!(
        matches!(
            error,
            StorageError::SyncFailed {
                operation: Operation::SyncFile,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.is_fatal());
    assert!(storage.is_failed());
    // The durable position did not move: records 5..8 were never acknowledged.
    assert_eq!(storage.durable_position(), position(5));
    // Not retryable: a second sync, an append and a snapshot are all refused.
    assert!(matches!(storage.sync(), Err(StorageError::Failed { .. })));
    assert!(matches!(
        storage.append(b"more"),
        Err(StorageError::Failed { .. })
    ));
    assert!(matches!(
        storage.install_snapshot(position(5), b""),
        Err(StorageError::Failed { .. })
    ));

    let recovered = storage.recover().expect("recover");
    assert_records(&recovered, 0, 5);
    append_range(&mut storage, 5, 6);
    storage.sync().expect("sync after recovery");
}

#[test]
fn fault_failed_fsync_while_rotating_fails_the_store() {
    let mut storage = MemoryStorage::new(small_segments(512)).expect("new");
    append_range(&mut storage, 0, 3);
    storage.sync().expect("sync");
    append_range(&mut storage, 3, 40); // Crosses into new segments.
    storage.fail_next_sync(); // The first fsync is the new segment's creation.
    let error = storage.sync().expect_err("rotation fails");
    assert!(error.is_fatal(), "{error}");
    assert_eq!(storage.durable_position(), position(3));
    let recovered = storage.recover().expect("recover");
    assert_records(&recovered, 0, 3);
}

#[test]
fn fault_no_space_fails_the_store_and_loses_only_unacknowledged_records() {
    let mut storage = MemoryStorage::new(StorageOptions::default()).expect("new");
    append_range(&mut storage, 0, 10);
    storage.sync().expect("sync");
    let used = storage.disk().used_bytes();
    storage.set_space_bytes_max(Some(used + 50));
    append_range(&mut storage, 10, 20);
    let error = storage.sync().expect_err("the disk is full");
    assert!(
        matches!(
            error,
            StorageError::NoSpace {
                operation: Operation::Write,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("no space left"), "{error}");
    assert!(matches!(
        storage.append(b"x"),
        Err(StorageError::Failed { .. })
    ));
    storage.set_space_bytes_max(None);
    let recovered = storage.recover().expect("recover");
    assert_records(&recovered, 0, 10);
}

#[test]
fn fault_no_space_with_a_torn_partial_write_recovers_the_acknowledged_prefix() {
    let mut storage = MemoryStorage::new(StorageOptions::default()).expect("new");
    append_range(&mut storage, 0, 10);
    storage.sync().expect("sync");
    let used = storage.disk().used_bytes();
    storage.set_space_bytes_max(Some(used + 50));
    append_range(&mut storage, 10, 20);
    storage.sync().expect_err("the disk is full");
    // The partial write reaches the disk as a torn tail.
    let report = storage.crash(CrashFault::TearUnsynced { seed: 7 });
    assert!(report.torn_bytes_kept > 0 && report.torn_bytes_kept < 50);
    storage.set_space_bytes_max(None);
    let recovered = storage.recover().expect("recover");
    assert!(recovered.torn_tail_truncated.is_some());
    assert_records(&recovered, 0, 10);
}

#[test]
fn fault_interrupted_rotation_is_repaired() {
    let options = small_segments(512);
    let mut storage = MemoryStorage::new(options).expect("new");
    append_range(&mut storage, 0, 3);
    storage.sync().expect("sync");
    let segments_before = segment_names(&storage);
    // Room for the new segment's header but not for the old segment's tail:
    // the crash leaves a new empty segment after an unsealed one.
    let used = storage.disk().used_bytes();
    storage.set_space_bytes_max(Some(used + 30));
    append_range(&mut storage, 3, 30);
    storage.sync().expect_err("the disk is full");
    assert_eq!(
        segment_names(&storage).len(),
        segments_before.len() + 1,
        "the new segment exists"
    );
    storage.crash(CrashFault::LoseUnsynced);
    storage.set_space_bytes_max(None);
    let recovered = storage
        .recover()
        .expect("an interrupted rotation is not corruption");
    assert_records(&recovered, 0, 3);
    assert_eq!(
        recovered.removed_files.len(),
        1,
        "the empty segment is removed"
    );
    assert_eq!(segment_names(&storage), segments_before);
    append_range(&mut storage, 3, 30);
    storage.sync().expect("sync");
    let recovered = storage.recover().expect("recover");
    assert_records(&recovered, 0, 30);
}

#[test]
fn crash_loses_unsynced_records_and_keeps_synced_ones() {
    let mut storage = MemoryStorage::new(small_segments(512)).expect("new");
    append_range(&mut storage, 0, 40);
    storage.sync().expect("sync");
    append_range(&mut storage, 40, 45);
    let report = storage.crash(CrashFault::LoseUnsynced);
    assert_eq!(report, synod_storage::CrashReport::default());
    assert!(storage.is_crashed());
    assert!(matches!(storage.append(b"x"), Err(StorageError::Crashed)));
    assert!(matches!(storage.sync(), Err(StorageError::Crashed)));
    let recovered = storage.recover().expect("recover");
    assert_eq!(recovered.torn_tail_truncated, None);
    assert_records(&recovered, 0, 40);
    assert_eq!(storage.written_position(), position(40));
}

#[test]
fn crash_with_a_torn_write_is_truncated_for_every_seed() {
    for seed in 0..200 {
        let mut storage = MemoryStorage::new(StorageOptions::default()).expect("new");
        append_range(&mut storage, 0, 10);
        storage.sync().expect("sync");
        append_range(&mut storage, 10, 15);
        let report = storage.crash(CrashFault::TearUnsynced { seed });
        assert!(report.torn_bytes_kept > 0, "seed {seed}");
        let recovered = storage
            .recover()
            .unwrap_or_else(|error| panic!("seed {seed}: {error}"));
        let torn = recovered
            .torn_tail_truncated
            .clone()
            .unwrap_or_else(|| panic!("seed {seed}: no torn tail"));
        assert!(torn.dropped_bytes > 0);
        // Whole frames before the cut survive; they were never acknowledged,
        // which is allowed. Everything acknowledged is there.
        let end = recovered
            .records
            .last()
            .map_or(0, |(position, _)| position.get() + 1);
        assert!((10..15).contains(&end), "seed {seed}: end {end}");
        assert_records(&recovered, 0, end);
    }
}

#[test]
fn crash_with_a_corrupt_middle_record_refuses_to_recover() {
    let mut storage = MemoryStorage::new(small_segments(512)).expect("new");
    append_range(&mut storage, 0, 50);
    storage.sync().expect("sync");
    for (target, seed) in [(0_u64, 3_u64), (17, 99), (48, 12_345)] {
        let before = storage.disk().clone();
        let report = storage.crash(CrashFault::CorruptRecord {
            position: position(target),
            seed,
        });
        let (path, offset) = report.corrupted.clone().expect("the record is on disk");
        let error = storage.recover().expect_err("corruption is refused");
        assert_eq!(
            error.corruption_kind(),
            Some(CorruptionKind::RecordChecksum),
            "{error}"
        );
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        let RecoveryError::Corruption { offset_bytes, .. } = error else {
            unreachable!()
        };
        assert!(
            offset_bytes <= offset,
            "the refusal points at the damaged frame"
        );
        assert!(
            storage.is_crashed(),
            "a refused recovery leaves the store crashed"
        );
        // Put the disk back for the next round.
        let (restored, _) =
            MemoryStorage::open(before, small_segments(512)).expect("undamaged disk opens");
        storage = restored;
    }
}

#[test]
fn crash_with_a_corrupt_last_record_looks_like_a_torn_write() {
    // Documented limitation of every write-ahead log without redundancy:
    // damage to the very last record cannot be told from a torn write.
    let mut storage = MemoryStorage::new(StorageOptions::default()).expect("new");
    append_range(&mut storage, 0, 5);
    storage.sync().expect("sync");
    storage.crash(CrashFault::CorruptRecord {
        position: position(4),
        seed: 200,
    });
    let recovered = storage.recover().expect("recover");
    assert!(recovered.torn_tail_truncated.is_some());
    assert_records(&recovered, 0, 4);
}

#[test]
fn crash_corrupting_a_record_that_is_not_on_disk_reports_nothing() {
    let mut storage = MemoryStorage::new(StorageOptions::default()).expect("new");
    append_range(&mut storage, 0, 5);
    let report = storage.crash(CrashFault::CorruptRecord {
        position: position(2),
        seed: 1,
    });
    assert_eq!(report.corrupted, None);
    assert!(storage.recover().expect("recover").records.is_empty());
}

#[test]
fn memory_store_recovers_snapshots_and_compacts_like_files() {
    let mut storage = MemoryStorage::new(small_segments(512)).expect("new");
    append_range(&mut storage, 0, 100);
    storage
        .install_snapshot(position(80), b"state")
        .expect("snapshot");
    assert_eq!(storage.snapshot_position(), Some(position(80)));
    let names = storage.disk().file_names();
    assert!(names.contains(&"snapshot-00000000000000000080.snap".to_string()));
    let recovered = storage.recover().expect("recover");
    assert_eq!(
        recovered.snapshot.as_ref().expect("snapshot").covers,
        position(80)
    );
    assert_records(&recovered, 80, 100);
}

#[test]
fn memory_store_is_deterministic() {
    let run = || {
        let mut storage = MemoryStorage::new(small_segments(512)).expect("new");
        append_range(&mut storage, 0, 60);
        storage.sync().expect("sync");
        append_range(&mut storage, 60, 70);
        storage.crash(CrashFault::TearUnsynced { seed: 42 });
        storage.recover().expect("recover");
        storage.disk().clone()
    };
    assert_eq!(run(), run());
}

#[test]
fn memory_disk_built_by_hand_is_refused_with_its_file_name() {
    let mut disk = MemoryDisk::new();
    disk.insert_file("wal-00000000000000000000.log", b"not a segment".to_vec());
    let error = MemoryStorage::open(disk, StorageOptions::default()).expect_err("refused");
    assert_eq!(error.corruption_kind(), Some(CorruptionKind::SegmentHeader));
    assert!(
        error
            .to_string()
            .contains("memory/wal-00000000000000000000.log"),
        "{error}"
    );
}
