//! Opening a log: read what is on disk, decide whether it is a state some
//! sequence of appends, syncs, snapshots and one crash could have left, and
//! either return its contents or refuse with a message for the operator.
//!
//! The rules (each is a paragraph in `docs/storage-format.md`):
//!
//! 1. The newest snapshot must be valid; older ones are leftovers and removed.
//! 2. The log must hold every position from the snapshot on: segments wholly
//!    below the snapshot are compaction leftovers and removed; the remaining
//!    segments must be contiguous, each sealed with an end marker except the
//!    newest.
//! 3. Only the newest segment may end in an invalid frame, and only when no
//!    valid frame header follows the damage (a torn write loses a suffix,
//!    never a middle): that torn tail is truncated and reported.
//! 4. An empty newest segment after an unsealed one is a rotation that a
//!    crash interrupted before the older segment was sealed: it is removed
//!    and the older segment is the newest again.
//! 5. Zeros after a segment's last frame (or after its end marker) are space
//!    allocated ahead of the writes, not damage: the frames end cleanly
//!    there, and nothing is cut or reported.
//!
//! Nothing is changed on disk until every check has passed.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use bytes::Bytes;

use crate::directory::Directory;
use crate::error::{CorruptionKind, Operation, RecoveryError};
use crate::format::{
    classify_file_name, encode_segment_header, find_frame_header_after_damage, parse_frame,
    parse_segment_header, parse_snapshot, segment_file_name, FileRole, FrameKind, FrameParse,
    FrameProblem, SEGMENT_HEADER_SIZE_BYTES,
};
use crate::options::{SEGMENT_SIZE_LIMIT_BYTES, SNAPSHOT_SIZE_LIMIT_BYTES};
use crate::LogPosition;

/// What recovery found: the state to resume from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The newest valid snapshot, if any.
    pub snapshot: Option<RecoveredSnapshot>,
    /// Every record at or after the snapshot's position (or from position 0
    /// without a snapshot), in position order with no gaps.
    pub records: Vec<(LogPosition, Bytes)>,
    /// Set when the newest segment ended in a torn write that recovery cut
    /// off. Not an error, but worth a log line.
    pub torn_tail_truncated: Option<TornTail>,
    /// Leftovers of interrupted operations that recovery removed: temporary
    /// files, snapshots older than the newest, segments wholly below the
    /// snapshot, and an empty segment from an interrupted rotation.
    pub removed_files: Vec<PathBuf>,
}

/// A snapshot read back from disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveredSnapshot {
    /// The snapshot subsumes every record below this position.
    pub covers: LogPosition,
    /// The caller's payload, exactly as installed.
    pub payload: Bytes,
}

/// A torn write cut off the end of the newest segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub path: PathBuf,
    /// Where the first invalid frame started; the file now ends here.
    pub offset_bytes: u64,
    /// How many bytes were cut off.
    pub dropped_bytes: u64,
}

/// What to do when a directory holds no log at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AbsentLog {
    /// Create an empty log: this is a new store.
    Create,
    /// Refuse: the caller knows a log existed.
    Refuse,
}

/// The layout the engine resumes appending to.
#[derive(Debug)]
pub(crate) struct Layout {
    /// First positions of the retained segments, oldest first; the last is
    /// the one appends go to.
    pub segments: Vec<LogPosition>,
    /// Size of the newest segment file after any truncation.
    pub active_segment_size_bytes: u64,
    /// The position the next append gets.
    pub written: LogPosition,
    /// The snapshot on disk, if any.
    pub snapshot_covers: Option<LogPosition>,
}

#[derive(Debug)]
enum SegmentEnding {
    /// Valid frames up to the end of the file, no end marker.
    Clean,
    /// An end marker at this offset, ending the file.
    Sealed { offset: usize },
    /// An invalid frame at this offset.
    Invalid {
        offset: usize,
        problem: FrameProblem,
    },
}

#[derive(Debug)]
struct ParsedSegment {
    name: String,
    path: PathBuf,
    bytes: Bytes,
    first: LogPosition,
    records: Vec<(LogPosition, Range<usize>)>,
    /// The position after the last valid record.
    end: LogPosition,
    /// The offset after the last valid frame.
    valid_length_bytes: usize,
    ending: SegmentEnding,
}

/// Files the directory holds, by role.
#[derive(Default)]
struct Listing {
    segments: BTreeMap<LogPosition, String>,
    snapshots: BTreeMap<LogPosition, String>,
    temporary: Vec<String>,
}

fn corruption(
    kind: CorruptionKind,
    path: PathBuf,
    offset_bytes: usize,
    detail: String,
) -> RecoveryError {
    RecoveryError::Corruption {
        kind,
        path,
        offset_bytes: offset_bytes as u64,
        detail,
    }
}

fn io_error<D: Directory>(
    directory: &D,
    operation: Operation,
    name: &str,
) -> impl FnOnce(std::io::Error) -> RecoveryError {
    let path = directory.path_of(name);
    move |source| RecoveryError::Io {
        operation,
        path,
        source,
    }
}

/// Opens the log in `directory`. See the module documentation for the rules.
pub(crate) fn recover<D: Directory>(
    directory: &mut D,
    absent: AbsentLog,
) -> Result<(Layout, Recovered), RecoveryError> {
    let listing = list(directory)?;
    if listing.segments.is_empty() {
        return recover_without_segments(directory, &listing, absent);
    }
    let snapshot = match listing.snapshots.iter().next_back() {
        Some((covers, name)) => Some(read_snapshot(directory, name, *covers)?),
        None => None,
    };
    let covers = snapshot
        .as_ref()
        .map_or(LogPosition::ZERO, |snapshot| snapshot.covers);
    let chain_start = find_chain_start(directory, &listing, covers)?;
    let mut removals = leftovers(&listing, covers, chain_start);
    let mut parsed = Vec::new();
    for (first, name) in listing.segments.iter().skip(chain_start) {
        parsed.push(read_segment(directory, name, *first)?);
    }
    if let Some(interrupted) = interrupted_rotation(&parsed) {
        removals.push(parsed.remove(interrupted).name);
    }
    check_chain(&parsed)?;
    let newest = parsed.last().expect("the chain has at least one segment");
    let torn_tail = check_newest(newest)?;
    check_reaches_snapshot(newest, covers)?;

    // Every check passed: from here on, only repairs.
    if let Some(tail) = &torn_tail {
        directory
            .truncate(&newest.name, tail.offset_bytes)
            .map_err(io_error(directory, Operation::Truncate, &newest.name))?;
    }
    let removed_files = remove_files(directory, &removals)?;
    let layout = Layout {
        segments: parsed.iter().map(|segment| segment.first).collect(),
        active_segment_size_bytes: newest.valid_length_bytes as u64,
        written: newest.end,
        snapshot_covers: snapshot.as_ref().map(|snapshot| snapshot.covers),
    };
    let recovered = Recovered {
        records: collect_records(&parsed, covers),
        snapshot,
        torn_tail_truncated: torn_tail,
        removed_files,
    };
    Ok((layout, recovered))
}

/// A directory without segments is a new log, unless a snapshot or the
/// caller says a log existed.
fn recover_without_segments<D: Directory>(
    directory: &mut D,
    listing: &Listing,
    absent: AbsentLog,
) -> Result<(Layout, Recovered), RecoveryError> {
    if let Some(name) = listing.snapshots.values().next_back() {
        return Err(corruption(
            CorruptionKind::LogMissing,
            directory.path_of(name),
            0,
            "a snapshot exists but no log segment does, so the records written after the snapshot \
             are gone"
                .to_string(),
        ));
    }
    match absent {
        AbsentLog::Refuse => Err(corruption(
            CorruptionKind::LogMissing,
            directory.path_of(""),
            0,
            "the data directory has an identity file but no log segment, so everything this node \
             wrote is gone"
                .to_string(),
        )),
        AbsentLog::Create => create_empty_log(directory, &listing.temporary),
    }
}

/// The index of the newest segment starting at or below `covers`: it holds
/// the first record the caller needs, and every older segment is wholly
/// below the snapshot.
fn find_chain_start<D: Directory>(
    directory: &D,
    listing: &Listing,
    covers: LogPosition,
) -> Result<usize, RecoveryError> {
    let below = listing.segments.range(..=covers).count();
    if below > 0 {
        return Ok(below - 1);
    }
    let (first, name) = listing
        .segments
        .iter()
        .next()
        .expect("the listing has segments");
    Err(corruption(
        CorruptionKind::MissingSegment,
        directory.path_of(name),
        0,
        format!(
            "the oldest segment starts at {first}, but the log must hold every record from \
             {covers} on; the segment holding {covers} is missing"
        ),
    ))
}

/// Files left by interrupted operations: temporary files, snapshots older
/// than the newest, and segments wholly below the snapshot.
fn leftovers(listing: &Listing, covers: LogPosition, chain_start: usize) -> Vec<String> {
    let older_snapshots = listing.snapshots.range(..covers).map(|(_, name)| name);
    let covered_segments = listing.segments.values().take(chain_start);
    listing
        .temporary
        .iter()
        .chain(older_snapshots)
        .chain(covered_segments)
        .cloned()
        .collect()
}

/// The log must reach the snapshot: the snapshot was written only after the
/// records it covers were durable.
fn check_reaches_snapshot(
    newest: &ParsedSegment,
    covers: LogPosition,
) -> Result<(), RecoveryError> {
    if newest.end >= covers {
        return Ok(());
    }
    Err(corruption(
        CorruptionKind::LogBehindSnapshot,
        newest.path.clone(),
        newest.valid_length_bytes,
        format!(
            "the log ends at {} but the newest snapshot covers {covers}; a snapshot is only \
             written after the records it covers are durable, so records are missing",
            newest.end
        ),
    ))
}

/// Every record at or after `covers`, as slices of the segments' bytes.
fn collect_records(parsed: &[ParsedSegment], covers: LogPosition) -> Vec<(LogPosition, Bytes)> {
    let records: Vec<(LogPosition, Bytes)> = parsed
        .iter()
        .flat_map(|segment| {
            segment
                .records
                .iter()
                .filter(|(position, _)| *position >= covers)
                .map(|(position, range)| (*position, segment.bytes.slice(range.clone())))
        })
        .collect();
    assert!(
        records.windows(2).all(|pair| pair[1].0 == pair[0].0.next()),
        "checked segments hold contiguous records"
    );
    assert!(records
        .first()
        .is_none_or(|(position, _)| *position == covers));
    records
}

fn list<D: Directory>(directory: &mut D) -> Result<Listing, RecoveryError> {
    let names = directory
        .list()
        .map_err(io_error(directory, Operation::List, ""))?;
    let mut listing = Listing::default();
    for name in names {
        match classify_file_name(&name) {
            FileRole::Segment(first) => {
                listing.segments.insert(first, name);
            }
            FileRole::Snapshot(covers) => {
                listing.snapshots.insert(covers, name);
            }
            FileRole::Temporary => listing.temporary.push(name),
            FileRole::Other => {}
        }
    }
    Ok(listing)
}

fn create_empty_log<D: Directory>(
    directory: &mut D,
    temporary: &[String],
) -> Result<(Layout, Recovered), RecoveryError> {
    let removed_files = remove_files(directory, temporary)?;
    let name = segment_file_name(LogPosition::ZERO);
    let header = encode_segment_header(LogPosition::ZERO);
    directory
        .create_atomically(&name, &[&header])
        .map_err(io_error(directory, Operation::CreateAtomically, &name))?;
    let layout = Layout {
        segments: vec![LogPosition::ZERO],
        active_segment_size_bytes: SEGMENT_HEADER_SIZE_BYTES as u64,
        written: LogPosition::ZERO,
        snapshot_covers: None,
    };
    Ok((
        layout,
        Recovered {
            removed_files,
            ..Recovered::default()
        },
    ))
}

fn remove_files<D: Directory>(
    directory: &mut D,
    names: &[String],
) -> Result<Vec<PathBuf>, RecoveryError> {
    for name in names {
        directory
            .remove(name)
            .map_err(io_error(directory, Operation::Remove, name))?;
    }
    if !names.is_empty() {
        directory
            .sync_directory()
            .map_err(io_error(directory, Operation::SyncDirectory, ""))?;
    }
    Ok(names.iter().map(|name| directory.path_of(name)).collect())
}

fn read_bounded<D: Directory>(
    directory: &mut D,
    name: &str,
    size_limit_bytes: u64,
) -> Result<Vec<u8>, RecoveryError> {
    let size_bytes =
        directory
            .size_bytes(name)
            .map_err(io_error(directory, Operation::Read, name))?;
    if size_bytes > size_limit_bytes {
        return Err(corruption(
            CorruptionKind::FileTooLarge,
            directory.path_of(name),
            0,
            format!("the file has {size_bytes} bytes, more than the {size_limit_bytes} bytes synod ever writes to one"),
        ));
    }
    directory
        .read(name)
        .map_err(io_error(directory, Operation::Read, name))
}

fn read_snapshot<D: Directory>(
    directory: &mut D,
    name: &str,
    name_covers: LogPosition,
) -> Result<RecoveredSnapshot, RecoveryError> {
    let path = directory.path_of(name);
    let bytes = Bytes::from(read_bounded(directory, name, SNAPSHOT_SIZE_LIMIT_BYTES)?);
    let (covers, payload) =
        parse_snapshot(&bytes).map_err(|problem| RecoveryError::Corruption {
            kind: CorruptionKind::SnapshotCorrupt,
            path: path.clone(),
            offset_bytes: problem.offset_bytes,
            detail: format!(
                "{} (this is the newest snapshot, so the records it replaced are gone)",
                problem.detail
            ),
        })?;
    if covers != name_covers {
        return Err(corruption(
            CorruptionKind::SnapshotCorrupt,
            path,
            12,
            format!(
                "the header says the snapshot covers {covers} but the file name says {name_covers}"
            ),
        ));
    }
    Ok(RecoveredSnapshot {
        covers,
        payload: bytes.slice(payload),
    })
}

fn read_segment<D: Directory>(
    directory: &mut D,
    name: &str,
    name_first: LogPosition,
) -> Result<ParsedSegment, RecoveryError> {
    let path = directory.path_of(name);
    let bytes = Bytes::from(read_bounded(directory, name, SEGMENT_SIZE_LIMIT_BYTES)?);
    let first = parse_segment_header(&bytes)
        .map_err(|detail| corruption(CorruptionKind::SegmentHeader, path.clone(), 0, detail))?;
    if first != name_first {
        return Err(corruption(
            CorruptionKind::SegmentHeader,
            path,
            12,
            format!(
                "the header says the segment starts at {first} but the file name says {name_first}"
            ),
        ));
    }
    let mut records = Vec::new();
    let mut offset = SEGMENT_HEADER_SIZE_BYTES;
    let mut expected = first;
    let ending = loop {
        let frame = match parse_frame(&bytes, offset) {
            FrameParse::End => break SegmentEnding::Clean,
            // Space allocated ahead of the writes reads back as zeros: the
            // frames end here, cleanly.
            FrameParse::Invalid(_) if is_zero(&bytes[offset..]) => break SegmentEnding::Clean,
            FrameParse::Invalid(problem) => break SegmentEnding::Invalid { offset, problem },
            FrameParse::Valid(frame) => frame,
        };
        if frame.position != expected {
            return Err(corruption(
                CorruptionKind::RecordOutOfSequence,
                path,
                offset,
                format!(
                    "a valid frame claims {} but {expected} comes next",
                    frame.position
                ),
            ));
        }
        match frame.kind {
            Some(FrameKind::Record) => {
                records.push((expected, frame.payload));
                expected = expected.next();
                offset = frame.end_offset;
            }
            Some(FrameKind::SegmentEnd) => {
                if !is_zero(&bytes[frame.end_offset..]) {
                    return Err(corruption(
                        CorruptionKind::BytesAfterSegmentEnd,
                        path,
                        frame.end_offset,
                        format!(
                            "{} bytes, not all zero, follow the end marker",
                            bytes.len() - frame.end_offset
                        ),
                    ));
                }
                let seal_offset = offset;
                offset = frame.end_offset;
                break SegmentEnding::Sealed { offset: seal_offset };
            }
            None => {
                return Err(corruption(
                    CorruptionKind::UnknownFrameKind,
                    path,
                    offset,
                    "a frame with valid checksums has a kind this version does not know; was it written by a newer \
                     synod?"
                        .to_string(),
                ))
            }
        }
    };
    // `offset` stopped after the last valid frame, or at the invalid one.
    Ok(ParsedSegment {
        name: name.to_string(),
        path,
        bytes,
        first,
        records,
        end: expected,
        valid_length_bytes: offset,
        ending,
    })
}

/// True when every byte is zero: space allocated ahead of the writes.
fn is_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|byte| *byte == 0)
}

/// Finds an empty newest segment whose predecessor has no end marker. The
/// rotation protocol creates the new segment before sealing the old one, so
/// this is a crash between the two steps; nothing in the empty segment was
/// ever written, let alone acknowledged.
fn interrupted_rotation(parsed: &[ParsedSegment]) -> Option<usize> {
    let [.., previous, newest] = parsed else {
        return None;
    };
    let newest_is_empty =
        newest.records.is_empty() && matches!(newest.ending, SegmentEnding::Clean);
    let previous_is_sealed = matches!(previous.ending, SegmentEnding::Sealed { .. });
    (newest_is_empty && !previous_is_sealed).then_some(parsed.len() - 1)
}

/// Checks every segment but the newest: sealed, and continued exactly where
/// it ended.
fn check_chain(parsed: &[ParsedSegment]) -> Result<(), RecoveryError> {
    for pair in parsed.windows(2) {
        let (segment, next) = (&pair[0], &pair[1]);
        let seal_offset = match segment.ending {
            SegmentEnding::Sealed { offset } => offset,
            SegmentEnding::Clean => {
                return Err(corruption(
                    CorruptionKind::SegmentNotSealed,
                    segment.path.clone(),
                    segment.valid_length_bytes,
                    format!(
                        "the segment ends at {} without an end marker, but the newer segment {} exists; records at \
                         the end of this segment may be missing",
                        segment.end, next.name
                    ),
                ))
            }
            SegmentEnding::Invalid { offset, problem } => {
                let kind = if problem.is_incomplete() {
                    CorruptionKind::RecordTruncated
                } else {
                    CorruptionKind::RecordChecksum
                };
                return Err(corruption(
                    kind,
                    segment.path.clone(),
                    offset,
                    format!(
                        "{} (the record at {}); a newer segment exists, so this is not a torn write",
                        problem.describe(),
                        segment.end
                    ),
                ));
            }
        };
        if next.first > segment.end {
            return Err(corruption(
                CorruptionKind::MissingSegment,
                segment.path.clone(),
                seal_offset,
                format!(
                    "this segment ends at {} but the next segment file is {} (starting at {}); the records in \
                     between are missing, most likely the file {} was deleted",
                    segment.end,
                    next.name,
                    next.first,
                    segment_file_name(segment.end)
                ),
            ));
        }
        if next.first < segment.end {
            return Err(corruption(
                CorruptionKind::OverlappingSegment,
                next.path.clone(),
                0,
                format!(
                    "this segment starts at {} but the previous segment {} ends at {}",
                    next.first, segment.name, segment.end
                ),
            ));
        }
    }
    Ok(())
}

/// Checks the newest segment and returns the torn tail to cut off, if any.
fn check_newest(newest: &ParsedSegment) -> Result<Option<TornTail>, RecoveryError> {
    match newest.ending {
        SegmentEnding::Clean => Ok(None),
        SegmentEnding::Sealed { offset } => Err(corruption(
            CorruptionKind::MissingSegment,
            newest.path.clone(),
            offset,
            format!(
                "the end marker says the log continues at {} in {}, but that file is missing",
                newest.end,
                segment_file_name(newest.end)
            ),
        )),
        SegmentEnding::Invalid { offset, problem } => {
            if let Some(found) = find_frame_header_after_damage(&newest.bytes, offset, newest.end) {
                return Err(corruption(
                    CorruptionKind::RecordChecksum,
                    newest.path.clone(),
                    offset,
                    format!(
                        "{} (the record at {}); a valid record header follows at byte offset {found}, so this is \
                         damage to data that was completely written, not a torn write",
                        problem.describe(),
                        newest.end
                    ),
                ));
            }
            Ok(Some(TornTail {
                path: newest.path.clone(),
                offset_bytes: offset as u64,
                dropped_bytes: (newest.bytes.len() - offset) as u64,
            }))
        }
    }
}
