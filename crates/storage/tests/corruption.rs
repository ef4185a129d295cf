//! Recovery on damaged real directories: every damage a crash cannot explain
//! is refused with a message naming the file and byte offset, and nothing on
//! disk is changed by the refusal; damage a crash can explain (a torn tail)
//! is cut off and reported.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;

use common::{assert_records, payload, position, small_segments, TestDirectory};
use synod_storage::format::{FRAME_HEADER_SIZE_BYTES, SEGMENT_HEADER_SIZE_BYTES};
use synod_storage::{CorruptionKind, FileStorage, RecoveryError, Storage, StorageOptions};

const SEGMENT_SIZE_MAX_BYTES: u64 = 1024;
const RECORD_COUNT: u64 = 100;

fn options() -> StorageOptions {
    small_segments(SEGMENT_SIZE_MAX_BYTES)
}

/// A log of `RECORD_COUNT` records over several segments, synced in batches.
fn written_log(label: &str) -> TestDirectory {
    let directory = TestDirectory::new(label);
    let (mut storage, _) = FileStorage::open(directory.path(), options()).expect("open");
    for index in 0..RECORD_COUNT {
        storage.append(&payload(index)).expect("append");
        if index % 10 == 9 {
            storage.sync().expect("sync");
        }
    }
    assert!(
        directory.segments().len() >= 4,
        "the tests need several segments"
    );
    directory
}

/// Byte offsets where the record frames of a segment start (up to the
/// zeros of the space allocated ahead).
fn frame_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut offset = SEGMENT_HEADER_SIZE_BYTES;
    while offset + FRAME_HEADER_SIZE_BYTES <= bytes.len()
        && bytes[offset..offset + FRAME_HEADER_SIZE_BYTES] != [0; FRAME_HEADER_SIZE_BYTES]
    {
        let length =
            u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("four bytes")) as usize;
        offsets.push(offset);
        offset += FRAME_HEADER_SIZE_BYTES + length;
    }
    offsets
}

/// Opens, expects a refusal of `kind` naming `file` and `offset`, and checks
/// that the refusal left every file as it was.
fn assert_refused(
    directory: &TestDirectory,
    kind: CorruptionKind,
    file: &str,
    offset: Option<u64>,
) -> RecoveryError {
    let before = directory.contents();
    let error = FileStorage::open(directory.path(), options()).expect_err("recovery must refuse");
    let message = error.to_string();
    assert_eq!(error.corruption_kind(), Some(kind), "{message}");
    let RecoveryError::Corruption {
        path, offset_bytes, ..
    } = &error
    else {
        unreachable!()
    };
    assert_eq!(path, &directory.file(file), "{message}");
    assert!(
        message.contains(&directory.file(file).display().to_string()),
        "message names the file: {message}"
    );
    assert!(
        message.contains(&format!("byte offset {offset_bytes}")),
        "message names the offset: {message}"
    );
    if let Some(offset) = offset {
        assert_eq!(*offset_bytes, offset, "{message}");
    }
    assert!(
        message.contains("restore this node's data directory from a backup")
            || message.contains("Restore this node's data directory from a backup"),
        "{message}"
    );
    assert!(message.contains("re-add the node"), "{message}");
    assert_eq!(
        directory.contents(),
        before,
        "a refusal must not change the directory"
    );
    error
}

fn flip_bit(directory: &TestDirectory, name: &str, offset: usize) {
    let path = directory.file(name);
    let mut bytes = fs::read(&path).expect("read");
    bytes[offset] ^= 0x04;
    fs::write(&path, bytes).expect("write");
}

#[test]
fn corruption_bit_flip_in_a_middle_record_is_refused() {
    let directory = written_log("flip-middle");
    let name = directory.segments()[1].clone();
    let offsets = frame_offsets(&fs::read(directory.file(&name)).expect("read"));
    let target = offsets[offsets.len() / 2];
    flip_bit(&directory, &name, target + FRAME_HEADER_SIZE_BYTES + 3);
    assert_refused(
        &directory,
        CorruptionKind::RecordChecksum,
        &name,
        Some(target as u64),
    );
}

#[test]
fn corruption_bit_flip_in_a_header_field_is_refused() {
    let directory = written_log("flip-length");
    let name = directory.segments()[2].clone();
    let target = frame_offsets(&fs::read(directory.file(&name)).expect("read"))[1];
    flip_bit(&directory, &name, target); // The length field.
    assert_refused(
        &directory,
        CorruptionKind::RecordChecksum,
        &name,
        Some(target as u64),
    );
}

#[test]
fn corruption_in_the_newest_segment_followed_by_valid_records_is_not_a_torn_tail() {
    let directory = written_log("flip-newest");
    let (mut storage, _) = FileStorage::open(directory.path(), options()).expect("open");
    let newest_records = || {
        let name = directory.segments().last().expect("segments").clone();
        let offsets = frame_offsets(&fs::read(directory.file(&name)).expect("read"));
        (name, offsets)
    };
    // Keep adding records until the newest segment holds at least three.
    let mut index = RECORD_COUNT;
    while newest_records().1.len() < 3 {
        storage.append(&payload(index)).expect("append");
        storage.sync().expect("sync");
        index += 1;
    }
    drop(storage);
    let (name, offsets) = newest_records();
    // Damage the length field so the frame appears to run past the end of
    // the file, exactly as a torn write would look, except that valid
    // records follow it.
    let target = offsets[0];
    flip_bit(&directory, &name, target + 3);
    let error = assert_refused(
        &directory,
        CorruptionKind::RecordChecksum,
        &name,
        Some(target as u64),
    );
    assert!(error.to_string().contains("not a torn write"), "{error}");
}

#[test]
fn corruption_truncation_inside_an_older_segment_is_refused() {
    let directory = written_log("truncate-middle");
    let name = directory.segments()[1].clone();
    let bytes = fs::read(directory.file(&name)).expect("read");
    let offsets = frame_offsets(&bytes);
    let cut = offsets[2] + 5;
    fs::write(directory.file(&name), &bytes[..cut]).expect("truncate");
    assert_refused(
        &directory,
        CorruptionKind::RecordTruncated,
        &name,
        Some(offsets[2] as u64),
    );
}

#[test]
fn corruption_truncation_of_an_older_segment_at_a_record_boundary_is_refused() {
    let directory = written_log("truncate-boundary");
    let name = directory.segments()[1].clone();
    let bytes = fs::read(directory.file(&name)).expect("read");
    let offsets = frame_offsets(&bytes);
    // Keep the first two records: the end marker and the rest are gone.
    fs::write(directory.file(&name), &bytes[..offsets[2]]).expect("truncate");
    assert_refused(
        &directory,
        CorruptionKind::SegmentNotSealed,
        &name,
        Some(offsets[2] as u64),
    );
}

#[test]
fn corruption_deleted_middle_segment_is_refused() {
    let directory = written_log("delete-middle");
    let segments = directory.segments();
    fs::remove_file(directory.file(&segments[2])).expect("delete");
    // The message names the segment before the gap, whose end marker points
    // at the missing file.
    let error = assert_refused(
        &directory,
        CorruptionKind::MissingSegment,
        &segments[1],
        None,
    );
    assert!(
        error.to_string().contains(&segments[2]),
        "the message names the missing file: {error}"
    );
}

#[test]
fn corruption_deleted_newest_segment_is_refused() {
    let directory = written_log("delete-newest");
    let segments = directory.segments();
    let newest = segments.last().expect("segments");
    fs::remove_file(directory.file(newest)).expect("delete");
    let error = assert_refused(
        &directory,
        CorruptionKind::MissingSegment,
        &segments[segments.len() - 2],
        None,
    );
    assert!(
        error.to_string().contains(newest.as_str()),
        "the message names the missing file: {error}"
    );
}

#[test]
fn corruption_deleted_oldest_segment_is_refused() {
    let directory = written_log("delete-oldest");
    let segments = directory.segments();
    fs::remove_file(directory.file(&segments[0])).expect("delete");
    assert_refused(
        &directory,
        CorruptionKind::MissingSegment,
        &segments[1],
        Some(0),
    );
}

#[test]
fn corruption_renamed_segment_is_refused() {
    let directory = written_log("rename");
    let segments = directory.segments();
    let fake = "wal-00000000000000099999.log";
    fs::rename(
        directory.file(segments.last().expect("segments")),
        directory.file(fake),
    )
    .expect("rename");
    assert_refused(&directory, CorruptionKind::SegmentHeader, fake, Some(12));
}

#[test]
fn corruption_damaged_snapshot_is_refused() {
    let directory = written_log("snapshot");
    let (mut storage, _) = FileStorage::open(directory.path(), options()).expect("open");
    storage
        .install_snapshot(position(50), b"the state machine at fifty")
        .expect("snapshot");
    drop(storage);
    let name = "snapshot-00000000000000000050.snap";
    let length = fs::metadata(directory.file(name)).expect("snapshot").len() as usize;
    flip_bit(&directory, name, length - 2);
    assert_refused(&directory, CorruptionKind::SnapshotCorrupt, name, Some(36));
}

#[test]
fn corruption_damaged_snapshot_header_is_refused() {
    let directory = written_log("snapshot-header");
    let (mut storage, _) = FileStorage::open(directory.path(), options()).expect("open");
    storage
        .install_snapshot(position(50), b"state")
        .expect("snapshot");
    drop(storage);
    let name = "snapshot-00000000000000000050.snap";
    flip_bit(&directory, name, 14);
    assert_refused(&directory, CorruptionKind::SnapshotCorrupt, name, Some(0));
}

#[test]
fn corruption_snapshot_without_a_log_is_refused() {
    let directory = written_log("snapshot-no-log");
    let (mut storage, _) = FileStorage::open(directory.path(), options()).expect("open");
    storage
        .install_snapshot(position(100), b"state")
        .expect("snapshot");
    drop(storage);
    for name in directory.segments() {
        fs::remove_file(directory.file(&name)).expect("delete");
    }
    assert_refused(
        &directory,
        CorruptionKind::LogMissing,
        "snapshot-00000000000000000100.snap",
        Some(0),
    );
}

#[test]
fn corruption_log_ending_before_the_snapshot_is_refused() {
    let directory = written_log("behind-snapshot");
    let (mut storage, _) = FileStorage::open(directory.path(), options()).expect("open");
    storage
        .install_snapshot(position(100), b"state")
        .expect("snapshot");
    drop(storage);
    // Cut the newest segment at a record boundary: undetectable by the log
    // alone, but the snapshot proves records are missing.
    let newest = directory.segments().last().expect("segments").clone();
    let bytes = fs::read(directory.file(&newest)).expect("read");
    let offsets = frame_offsets(&bytes);
    fs::write(directory.file(&newest), &bytes[..offsets[1]]).expect("truncate");
    assert_refused(
        &directory,
        CorruptionKind::LogBehindSnapshot,
        &newest,
        Some(offsets[1] as u64),
    );
}

#[test]
fn torn_tail_in_the_newest_segment_is_truncated_and_reported() {
    let directory = written_log("torn");
    let newest = directory.segments().last().expect("segments").clone();
    let bytes = fs::read(directory.file(&newest)).expect("read");
    let offsets = frame_offsets(&bytes);
    let last = *offsets.last().expect("records");
    let cut = last + FRAME_HEADER_SIZE_BYTES + 2; // Inside the last payload.
    fs::write(directory.file(&newest), &bytes[..cut]).expect("tear");

    let (mut storage, recovered) =
        FileStorage::open(directory.path(), options()).expect("a torn tail is not corruption");
    let torn = recovered
        .torn_tail_truncated
        .clone()
        .expect("torn tail reported");
    assert_eq!(torn.path, directory.file(&newest));
    assert_eq!(torn.offset_bytes, last as u64);
    assert_eq!(torn.dropped_bytes, (cut - last) as u64);
    assert_records(&recovered, 0, RECORD_COUNT - 1);
    assert_eq!(
        fs::metadata(directory.file(&newest))
            .expect("segment")
            .len(),
        last as u64
    );
    // The log continues cleanly where the torn record was.
    assert_eq!(
        storage.append(&payload(RECORD_COUNT - 1)).expect("append"),
        position(RECORD_COUNT - 1)
    );
    storage.sync().expect("sync");
    drop(storage);
    let (_, recovered) = FileStorage::open(directory.path(), options()).expect("reopen");
    assert_eq!(recovered.torn_tail_truncated, None);
    assert_records(&recovered, 0, RECORD_COUNT);
}

#[test]
fn zeros_after_the_frames_are_space_allocated_ahead_not_a_torn_tail() {
    let directory = written_log("zeros");
    let newest = directory.segments().last().expect("segments").clone();
    let mut file = OpenOptions::new()
        .append(true)
        .open(directory.file(&newest))
        .expect("open");
    file.write_all(&[0; 4096]).expect("zero fill");
    drop(file);
    let length = fs::metadata(directory.file(&newest))
        .expect("segment")
        .len();
    let (mut storage, recovered) =
        FileStorage::open(directory.path(), options()).expect("zeros are allocated space");
    assert_eq!(recovered.torn_tail_truncated, None);
    assert_records(&recovered, 0, RECORD_COUNT);
    assert_eq!(
        fs::metadata(directory.file(&newest))
            .expect("segment")
            .len(),
        length,
        "nothing is cut"
    );
    // The next write goes where the frames end, over the zeros.
    storage.append(&payload(RECORD_COUNT)).expect("append");
    storage.sync().expect("sync");
    drop(storage);
    let (_, recovered) = FileStorage::open(directory.path(), options()).expect("reopen");
    assert_eq!(recovered.torn_tail_truncated, None);
    assert_records(&recovered, 0, RECORD_COUNT + 1);
}

#[test]
fn a_torn_write_into_allocated_space_is_cut() {
    let directory = written_log("torn-allocated");
    let newest = directory.segments().last().expect("segments").clone();
    let mut bytes = fs::read(directory.file(&newest)).expect("read");
    let offsets = frame_offsets(&bytes);
    let last = *offsets.last().expect("records");
    let length = u32::from_le_bytes(bytes[last..last + 4].try_into().expect("four bytes")) as usize;
    let end = last + FRAME_HEADER_SIZE_BYTES + length;
    // A partial frame where the zeros were, with zeros after it.
    bytes.resize(end + 4096, 0);
    bytes[end..end + 10].copy_from_slice(&[7; 10]);
    fs::write(directory.file(&newest), &bytes).expect("tear");
    let (_, recovered) =
        FileStorage::open(directory.path(), options()).expect("a torn tail is not corruption");
    let torn = recovered
        .torn_tail_truncated
        .clone()
        .expect("torn tail reported");
    assert_eq!(torn.offset_bytes, end as u64);
    assert_records(&recovered, 0, RECORD_COUNT);
}

#[test]
fn bytes_other_than_zeros_after_an_end_marker_are_refused() {
    let directory = written_log("after-seal");
    let oldest = directory.segments().first().expect("segments").clone();
    let mut file = OpenOptions::new()
        .append(true)
        .open(directory.file(&oldest))
        .expect("open");
    file.write_all(&[0, 0, 9]).expect("write");
    drop(file);
    assert_refused(
        &directory,
        CorruptionKind::BytesAfterSegmentEnd,
        &oldest,
        None,
    );
}

#[test]
fn torn_tail_of_garbage_without_valid_headers_is_truncated() {
    let directory = written_log("garbage");
    let newest = directory.segments().last().expect("segments").clone();
    let mut file = OpenOptions::new()
        .append(true)
        .open(directory.file(&newest))
        .expect("open");
    let garbage: Vec<u8> = (0..3000_u32)
        .map(|index| (index.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    file.write_all(&garbage).expect("garbage");
    drop(file);
    let (_, recovered) =
        FileStorage::open(directory.path(), options()).expect("garbage tail is torn");
    assert!(recovered.torn_tail_truncated.is_some());
    assert_records(&recovered, 0, RECORD_COUNT);
}

#[test]
fn leftover_temporary_files_are_removed() {
    let directory = written_log("temporary");
    fs::write(
        directory.file("snapshot-00000000000000000090.snap.tmp"),
        b"half a snapshot",
    )
    .expect("write");
    let (_, recovered) = FileStorage::open(directory.path(), options()).expect("open");
    assert_eq!(
        recovered.removed_files,
        vec![directory.file("snapshot-00000000000000000090.snap.tmp")]
    );
    assert!(!directory.names().iter().any(|name| name.ends_with(".tmp")));
    assert_records(&recovered, 0, RECORD_COUNT);
}

#[test]
fn unrelated_files_are_left_alone() {
    let directory = written_log("unrelated");
    fs::write(directory.file("README"), b"operator notes").expect("write");
    let (_, recovered) = FileStorage::open(directory.path(), options()).expect("open");
    assert_records(&recovered, 0, RECORD_COUNT);
    assert!(directory.names().contains(&"README".to_string()));
}

#[test]
fn oversized_segment_file_is_refused_without_reading_it() {
    let directory = written_log("oversized");
    let newest = directory.segments().last().expect("segments").clone();
    let file = OpenOptions::new()
        .write(true)
        .open(directory.file(&newest))
        .expect("open");
    file.set_len(synod_storage::SEGMENT_SIZE_LIMIT_BYTES + 1)
        .expect("sparse extend");
    drop(file);
    assert_refused(&directory, CorruptionKind::FileTooLarge, &newest, Some(0));
}
