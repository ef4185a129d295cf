//! The byte layouts this crate writes to disk and the parsers that read them
//! back. Everything here is pure (bytes in, values out), so the file-backed
//! store, the in-memory store and the fuzzers all share one parser.
//!
//! All integers are little-endian. Every structure carries a CRC32C, so a
//! reader never trusts a byte it has not checked. `docs/storage-format.md`
//! describes the same layouts for operators.

use crate::LogPosition;

/// Magic bytes at the start of every log segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"synodwal";
/// Magic bytes at the start of every snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"synodsnp";
/// Magic bytes at the start of the identity file.
pub const IDENTITY_MAGIC: [u8; 8] = *b"synodidn";
/// Version of every layout in this module. A reader refuses any other
/// version instead of guessing, because a misread acceptor state is worse
/// than a refusal to start.
pub const FORMAT_VERSION: u32 = 1;

/// Segment header: magic (8), version (4), first position (8), checksum (4)
/// over the preceding 20 bytes.
pub const SEGMENT_HEADER_SIZE_BYTES: usize = 24;
/// Frame header: payload length (4), kind (4), position (8), payload
/// checksum (4), header checksum (4) over the preceding 20 bytes.
pub const FRAME_HEADER_SIZE_BYTES: usize = 24;
/// Snapshot header: magic (8), version (4), covers (8), payload length (8),
/// payload checksum (4), header checksum (4) over the preceding 32 bytes.
pub const SNAPSHOT_HEADER_SIZE_BYTES: usize = 36;
/// Identity file: magic (8), version (4), cluster id (8), node id (8),
/// checksum (4) over the preceding 28 bytes.
pub const IDENTITY_FILE_SIZE_BYTES: usize = 32;

/// Suffix of a file that is being written and becomes real only when it is
/// renamed; recovery deletes any it finds.
pub const TEMPORARY_SUFFIX: &str = ".tmp";
const SEGMENT_PREFIX: &str = "wal-";
const SEGMENT_SUFFIX: &str = ".log";
const SNAPSHOT_PREFIX: &str = "snapshot-";
const SNAPSHOT_SUFFIX: &str = ".snap";
/// Width of the zero-padded decimal position in file names: enough for every
/// `u64`, so names sort in position order.
const POSITION_DIGITS: usize = 20;

/// What a frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// A caller's record at the frame's position.
    Record,
    /// The segment is complete; the next segment starts at the frame's
    /// position. Written only after that next segment exists, so a sealed
    /// segment without a successor means a file was lost.
    SegmentEnd,
}

impl FrameKind {
    fn code(self) -> u32 {
        match self {
            FrameKind::Record => 1,
            FrameKind::SegmentEnd => 2,
        }
    }

    fn from_code(code: u32) -> Option<FrameKind> {
        match code {
            1 => Some(FrameKind::Record),
            2 => Some(FrameKind::SegmentEnd),
            _ => None,
        }
    }
}

/// Size of a frame holding `payload_length_bytes` bytes.
pub fn frame_size_bytes(payload_length_bytes: usize) -> usize {
    FRAME_HEADER_SIZE_BYTES + payload_length_bytes
}

/// Appends one frame to `output`.
pub fn encode_frame(output: &mut Vec<u8>, kind: FrameKind, position: LogPosition, payload: &[u8]) {
    let length = u32::try_from(payload.len()).expect("record length is bounded by the options");
    let start = output.len();
    output.extend_from_slice(&length.to_le_bytes());
    output.extend_from_slice(&kind.code().to_le_bytes());
    output.extend_from_slice(&position.get().to_le_bytes());
    output.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    let header_checksum = crc32c::crc32c(&output[start..start + 20]);
    output.extend_from_slice(&header_checksum.to_le_bytes());
    output.extend_from_slice(payload);
    assert_eq!(output.len() - start, frame_size_bytes(payload.len()));
}

/// A frame whose header and payload checksums both match.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    /// What the frame holds; `None` for a kind this version does not know.
    pub kind: Option<FrameKind>,
    /// The position the frame claims.
    pub position: LogPosition,
    /// Byte range of the payload within the parsed buffer.
    pub payload: std::ops::Range<usize>,
    /// Offset just past the frame.
    pub end_offset: usize,
}

/// Why the bytes at an offset are not a valid frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameProblem {
    /// Fewer bytes than a frame header remain.
    HeaderIncomplete,
    /// The header checksum does not match.
    HeaderChecksum,
    /// The header is valid but the payload runs past the end of the file.
    PayloadIncomplete,
    /// The payload checksum does not match.
    PayloadChecksum,
}

impl FrameProblem {
    /// Whether the frame is cut short rather than damaged.
    pub fn is_incomplete(self) -> bool {
        matches!(
            self,
            FrameProblem::HeaderIncomplete | FrameProblem::PayloadIncomplete
        )
    }

    /// A sentence fragment for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            FrameProblem::HeaderIncomplete => "the file ends inside a record header",
            FrameProblem::HeaderChecksum => "the record header checksum does not match",
            FrameProblem::PayloadIncomplete => "the file ends inside a record payload",
            FrameProblem::PayloadChecksum => "the record payload checksum does not match",
        }
    }
}

/// The result of reading a frame at an offset.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameParse {
    /// The offset is exactly the end of the buffer.
    End,
    /// A complete frame with matching checksums.
    Valid(Frame),
    /// Not a valid frame.
    Invalid(FrameProblem),
}

struct FrameHeader {
    length_bytes: usize,
    kind_code: u32,
    position: LogPosition,
    payload_checksum: u32,
}

/// Decodes a frame header whose checksum matches, or says why not.
fn parse_frame_header(bytes: &[u8], offset: usize) -> Result<FrameHeader, FrameProblem> {
    assert!(offset <= bytes.len());
    let Some(header) = bytes.get(offset..offset + FRAME_HEADER_SIZE_BYTES) else {
        return Err(FrameProblem::HeaderIncomplete);
    };
    let header_checksum = read_u32(header, 20);
    if crc32c::crc32c(&header[..20]) != header_checksum {
        return Err(FrameProblem::HeaderChecksum);
    }
    Ok(FrameHeader {
        length_bytes: read_u32(header, 0) as usize,
        kind_code: read_u32(header, 4),
        position: LogPosition::new(read_u64(header, 8)),
        payload_checksum: read_u32(header, 16),
    })
}

/// Reads the frame starting at `offset`.
pub fn parse_frame(bytes: &[u8], offset: usize) -> FrameParse {
    if offset == bytes.len() {
        return FrameParse::End;
    }
    let header = match parse_frame_header(bytes, offset) {
        Ok(header) => header,
        Err(problem) => return FrameParse::Invalid(problem),
    };
    let payload_start = offset + FRAME_HEADER_SIZE_BYTES;
    let remaining_bytes = bytes.len() - payload_start;
    if header.length_bytes > remaining_bytes {
        return FrameParse::Invalid(FrameProblem::PayloadIncomplete);
    }
    let payload = payload_start..payload_start + header.length_bytes;
    if crc32c::crc32c(&bytes[payload.clone()]) != header.payload_checksum {
        return FrameParse::Invalid(FrameProblem::PayloadChecksum);
    }
    FrameParse::Valid(Frame {
        kind: FrameKind::from_code(header.kind_code),
        position: header.position,
        end_offset: payload.end,
        payload,
    })
}

/// Searches the bytes after the invalid frame at `damaged_offset` for a frame
/// header with a matching checksum that claims a position at or after
/// `position_min` and no further than the remaining bytes could hold.
/// Returns its offset.
///
/// Recovery calls this after the first invalid frame of the newest segment.
/// A torn write only ever loses a suffix of what was being written, so a
/// genuine header after the damage proves that the damage is corruption of
/// data that was completely written (possibly acknowledged), not a torn tail.
/// The position bound keeps random garbage from passing as a header. When the
/// damaged frame's own header is intact its length is trusted and the search
/// starts after its payload, because a payload may itself contain bytes that
/// look like frames.
pub fn find_frame_header_after_damage(
    bytes: &[u8],
    damaged_offset: usize,
    position_min: LogPosition,
) -> Option<usize> {
    let from = match parse_frame_header(bytes, damaged_offset) {
        Ok(header) => damaged_offset
            .saturating_add(FRAME_HEADER_SIZE_BYTES)
            .saturating_add(header.length_bytes),
        Err(_) => damaged_offset.saturating_add(1),
    };
    let tail = bytes.get(from..)?;
    if tail.iter().all(|byte| *byte == 0) {
        // A zero-filled tail (for example blocks the file system allocated but
        // never wrote) holds no header: an all-zero header fails its checksum.
        return None;
    }
    let frames_max = (tail.len() / FRAME_HEADER_SIZE_BYTES) as u64 + 1;
    let position_max = position_min.get().saturating_add(frames_max);
    (from..bytes.len()).find(|offset| match parse_frame_header(bytes, *offset) {
        Ok(header) => (position_min.get()..=position_max).contains(&header.position.get()),
        Err(_) => false,
    })
}

/// Starts a header of `N` bytes: magic, then version. Every header in this
/// module has the same frame: magic (8), version (4), fields, checksum (4)
/// over everything before it.
fn new_header<const N: usize>(magic: &[u8; 8]) -> [u8; N] {
    let mut header = [0_u8; N];
    header[0..8].copy_from_slice(magic);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header
}

/// Writes the checksum of everything before the last four bytes into them.
fn seal_header(header: &mut [u8]) {
    let checksum_offset = header.len() - 4;
    let checksum = crc32c::crc32c(&header[..checksum_offset]);
    header[checksum_offset..].copy_from_slice(&checksum.to_le_bytes());
}

/// Checks the magic, checksum and version of a header built by
/// [`new_header`] and [`seal_header`]. `what` names the structure in messages.
fn check_header(header: &[u8], magic: &[u8; 8], what: &str) -> Result<(), String> {
    if header[0..8] != magic[..] {
        let magic_text = String::from_utf8_lossy(magic);
        return Err(format!(
            "the file does not start with the {what} magic \"{magic_text}\""
        ));
    }
    let checksum_offset = header.len() - 4;
    if crc32c::crc32c(&header[..checksum_offset]) != read_u32(header, checksum_offset) {
        return Err(format!("the {what} checksum does not match"));
    }
    let version = read_u32(header, 8);
    if version != FORMAT_VERSION {
        return Err(format!(
            "unsupported {what} format version {version} (this build reads {FORMAT_VERSION})"
        ));
    }
    Ok(())
}

/// Encodes a segment header for a segment whose first record is at `first`.
pub fn encode_segment_header(first: LogPosition) -> [u8; SEGMENT_HEADER_SIZE_BYTES] {
    let mut header = new_header(&SEGMENT_MAGIC);
    header[12..20].copy_from_slice(&first.get().to_le_bytes());
    seal_header(&mut header);
    header
}

/// Decodes a segment header, returning the first position it records.
pub fn parse_segment_header(bytes: &[u8]) -> Result<LogPosition, String> {
    let Some(header) = bytes.get(..SEGMENT_HEADER_SIZE_BYTES) else {
        return Err(format!(
            "the file has {} bytes, fewer than the {SEGMENT_HEADER_SIZE_BYTES}-byte segment header",
            bytes.len()
        ));
    };
    check_header(header, &SEGMENT_MAGIC, "segment header")?;
    Ok(LogPosition::new(read_u64(header, 12)))
}

/// Encodes a snapshot header for `payload`.
pub fn encode_snapshot_header(
    covers: LogPosition,
    payload: &[u8],
) -> [u8; SNAPSHOT_HEADER_SIZE_BYTES] {
    encode_snapshot_header_with(covers, payload.len() as u64, crc32c::crc32c(payload))
}

/// Encodes a snapshot header for a payload of `length_bytes` whose CRC32C
/// is `checksum` (for a payload written in parts).
pub fn encode_snapshot_header_with(
    covers: LogPosition,
    length_bytes: u64,
    checksum: u32,
) -> [u8; SNAPSHOT_HEADER_SIZE_BYTES] {
    let mut header = new_header(&SNAPSHOT_MAGIC);
    header[12..20].copy_from_slice(&covers.get().to_le_bytes());
    header[20..28].copy_from_slice(&length_bytes.to_le_bytes());
    header[28..32].copy_from_slice(&checksum.to_le_bytes());
    seal_header(&mut header);
    header
}

/// A snapshot file that failed validation: where and why.
#[derive(Debug, PartialEq, Eq)]
pub struct SnapshotProblem {
    /// Byte offset of the damaged part.
    pub offset_bytes: u64,
    /// What is wrong.
    pub detail: String,
}

/// Validates a whole snapshot file and returns the position it covers and
/// the payload's byte range.
pub fn parse_snapshot(
    bytes: &[u8],
) -> Result<(LogPosition, std::ops::Range<usize>), SnapshotProblem> {
    let at_header = |detail: String| SnapshotProblem {
        offset_bytes: 0,
        detail,
    };
    let Some(header) = bytes.get(..SNAPSHOT_HEADER_SIZE_BYTES) else {
        return Err(at_header(format!(
            "the file has {} bytes, fewer than the {SNAPSHOT_HEADER_SIZE_BYTES}-byte snapshot header",
            bytes.len()
        )));
    };
    check_header(header, &SNAPSHOT_MAGIC, "snapshot header").map_err(at_header)?;
    let covers = LogPosition::new(read_u64(header, 12));
    let payload_length_bytes = read_u64(header, 20);
    let actual_length_bytes = (bytes.len() - SNAPSHOT_HEADER_SIZE_BYTES) as u64;
    if payload_length_bytes != actual_length_bytes {
        return Err(SnapshotProblem {
            offset_bytes: SNAPSHOT_HEADER_SIZE_BYTES as u64,
            detail: format!(
                "the header promises a {payload_length_bytes}-byte payload but the file holds {actual_length_bytes} bytes after the header"
            ),
        });
    }
    let payload = SNAPSHOT_HEADER_SIZE_BYTES..bytes.len();
    if crc32c::crc32c(&bytes[payload.clone()]) != read_u32(header, 28) {
        return Err(SnapshotProblem {
            offset_bytes: SNAPSHOT_HEADER_SIZE_BYTES as u64,
            detail: "the snapshot payload checksum does not match".to_string(),
        });
    }
    Ok((covers, payload))
}

/// Encodes the identity file.
pub fn encode_identity(cluster_id: u64, node_id: u64) -> [u8; IDENTITY_FILE_SIZE_BYTES] {
    let mut bytes = new_header(&IDENTITY_MAGIC);
    bytes[12..20].copy_from_slice(&cluster_id.to_le_bytes());
    bytes[20..28].copy_from_slice(&node_id.to_le_bytes());
    seal_header(&mut bytes);
    bytes
}

/// Decodes the identity file into (cluster id, node id).
pub fn parse_identity(bytes: &[u8]) -> Result<(u64, u64), String> {
    if bytes.len() != IDENTITY_FILE_SIZE_BYTES {
        return Err(format!(
            "the file has {} bytes; an identity file has exactly {IDENTITY_FILE_SIZE_BYTES}",
            bytes.len()
        ));
    }
    check_header(bytes, &IDENTITY_MAGIC, "identity")?;
    Ok((read_u64(bytes, 12), read_u64(bytes, 20)))
}

/// `wal-<first position, 20 digits>.log`.
pub fn segment_file_name(first: LogPosition) -> String {
    format!(
        "{SEGMENT_PREFIX}{:0width$}{SEGMENT_SUFFIX}",
        first.get(),
        width = POSITION_DIGITS
    )
}

/// `snapshot-<covered position, 20 digits>.snap`.
pub fn snapshot_file_name(covers: LogPosition) -> String {
    format!(
        "{SNAPSHOT_PREFIX}{:0width$}{SNAPSHOT_SUFFIX}",
        covers.get(),
        width = POSITION_DIGITS
    )
}

/// What a file in a data directory is, judged by its name alone.
#[derive(Debug, PartialEq, Eq)]
pub enum FileRole {
    /// A log segment whose name says it starts at this position.
    Segment(LogPosition),
    /// A snapshot whose name says it covers records below this position.
    Snapshot(LogPosition),
    /// A file that was being written when the process stopped.
    Temporary,
    /// Anything else; recovery leaves it alone.
    Other,
}

/// Classifies a file name.
pub fn classify_file_name(name: &str) -> FileRole {
    if name.ends_with(TEMPORARY_SUFFIX) {
        return FileRole::Temporary;
    }
    if let Some(position) = parse_position_name(name, SEGMENT_PREFIX, SEGMENT_SUFFIX) {
        return FileRole::Segment(position);
    }
    if let Some(position) = parse_position_name(name, SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX) {
        return FileRole::Snapshot(position);
    }
    FileRole::Other
}

fn parse_position_name(name: &str, prefix: &str, suffix: &str) -> Option<LogPosition> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.len() != POSITION_DIGITS || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok().map(LogPosition::new)
}

fn read_u32(bytes: &[u8], offset: usize) -> u32 {
    let mut word = [0_u8; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(word)
}

fn read_u64(bytes: &[u8], offset: usize) -> u64 {
    let mut word = [0_u8; 8];
    word.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: FrameKind, position: u64, payload: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        encode_frame(&mut bytes, kind, LogPosition::new(position), payload);
        bytes
    }

    #[test]
    fn frame_round_trips() {
        let bytes = frame(FrameKind::Record, 42, b"hello");
        assert_eq!(bytes.len(), FRAME_HEADER_SIZE_BYTES + 5);
        let FrameParse::Valid(parsed) = parse_frame(&bytes, 0) else {
            panic!("frame should parse")
        };
        assert_eq!(parsed.kind, Some(FrameKind::Record));
        assert_eq!(parsed.position, LogPosition::new(42));
        assert_eq!(&bytes[parsed.payload], b"hello");
        assert_eq!(parsed.end_offset, bytes.len());
        assert_eq!(parse_frame(&bytes, bytes.len()), FrameParse::End);
    }

    #[test]
    fn empty_payload_frame_round_trips() {
        let bytes = frame(FrameKind::SegmentEnd, 7, b"");
        let FrameParse::Valid(parsed) = parse_frame(&bytes, 0) else {
            panic!("frame should parse")
        };
        assert_eq!(parsed.kind, Some(FrameKind::SegmentEnd));
        assert!(parsed.payload.is_empty());
    }

    #[test]
    fn every_single_bit_flip_in_a_frame_is_detected() {
        let original = frame(FrameKind::Record, 3, b"payload bytes");
        for bit in 0..original.len() * 8 {
            let mut bytes = original.clone();
            bytes[bit / 8] ^= 1 << (bit % 8);
            assert!(
                matches!(parse_frame(&bytes, 0), FrameParse::Invalid(_)),
                "flipping bit {bit} went unnoticed"
            );
        }
    }

    #[test]
    fn checksum_covers_the_length_field() {
        let mut bytes = frame(FrameKind::Record, 0, b"abcd");
        bytes[0] = 3; // Claim a shorter payload.
        assert_eq!(
            parse_frame(&bytes, 0),
            FrameParse::Invalid(FrameProblem::HeaderChecksum)
        );
    }

    #[test]
    fn truncated_frames_are_incomplete() {
        let bytes = frame(FrameKind::Record, 0, b"abcdefgh");
        assert_eq!(
            parse_frame(&bytes[..10], 0),
            FrameParse::Invalid(FrameProblem::HeaderIncomplete)
        );
        assert_eq!(
            parse_frame(&bytes[..bytes.len() - 1], 0),
            FrameParse::Invalid(FrameProblem::PayloadIncomplete)
        );
    }

    #[test]
    fn all_zero_header_is_invalid() {
        let zeros = [0_u8; 64];
        assert_eq!(
            parse_frame(&zeros, 0),
            FrameParse::Invalid(FrameProblem::HeaderChecksum)
        );
        assert_eq!(
            find_frame_header_after_damage(&zeros, 0, LogPosition::new(0)),
            None
        );
    }

    #[test]
    fn header_search_finds_a_later_frame_and_ignores_garbage() {
        let mut bytes = vec![0xAB; 10];
        bytes.extend(frame(FrameKind::Record, 5, b"x"));
        assert_eq!(
            find_frame_header_after_damage(&bytes, 0, LogPosition::new(5)),
            Some(10)
        );
        // A header for an earlier position is not evidence of later data.
        assert_eq!(
            find_frame_header_after_damage(&bytes, 0, LogPosition::new(6)),
            None
        );
    }

    #[test]
    fn header_search_skips_the_payload_of_a_damaged_frame_with_an_intact_header() {
        // A record whose payload happens to contain a whole frame.
        let inner = frame(FrameKind::Record, 8, b"nested");
        let mut bytes = frame(FrameKind::Record, 7, &inner);
        let last = bytes.len() - 1;
        bytes[last] ^= 1; // Damage the outer payload, not the outer header.
        assert_eq!(
            parse_frame(&bytes, 0),
            FrameParse::Invalid(FrameProblem::PayloadChecksum)
        );
        assert_eq!(
            find_frame_header_after_damage(&bytes, 0, LogPosition::new(7)),
            None
        );
        // With the outer header damaged too, the nested frame is found.
        bytes[2] ^= 1;
        assert_eq!(
            find_frame_header_after_damage(&bytes, 0, LogPosition::new(7)),
            Some(FRAME_HEADER_SIZE_BYTES)
        );
    }

    #[test]
    fn segment_header_round_trips_and_rejects_damage() {
        let header = encode_segment_header(LogPosition::new(99));
        assert_eq!(parse_segment_header(&header), Ok(LogPosition::new(99)));
        let mut damaged = header;
        damaged[13] ^= 0x10;
        assert!(parse_segment_header(&damaged).is_err());
        assert!(parse_segment_header(&header[..10]).is_err());
    }

    #[test]
    fn snapshot_round_trips_and_rejects_damage() {
        let payload = b"state machine";
        let mut bytes = encode_snapshot_header(LogPosition::new(12), payload).to_vec();
        bytes.extend_from_slice(payload);
        let (covers, range) = parse_snapshot(&bytes).expect("valid snapshot");
        assert_eq!(covers, LogPosition::new(12));
        assert_eq!(&bytes[range], payload);
        let mut damaged = bytes.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert_eq!(
            parse_snapshot(&damaged).unwrap_err().offset_bytes,
            SNAPSHOT_HEADER_SIZE_BYTES as u64
        );
        assert!(parse_snapshot(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn identity_round_trips_and_rejects_damage() {
        let bytes = encode_identity(7, 3);
        assert_eq!(parse_identity(&bytes), Ok((7, 3)));
        let mut damaged = bytes;
        damaged[20] ^= 1;
        assert!(parse_identity(&damaged).is_err());
    }

    #[test]
    fn file_names_encode_positions_and_sort() {
        assert_eq!(
            segment_file_name(LogPosition::new(42)),
            "wal-00000000000000000042.log"
        );
        assert_eq!(
            snapshot_file_name(LogPosition::new(42)),
            "snapshot-00000000000000000042.snap"
        );
        assert_eq!(
            classify_file_name(&segment_file_name(LogPosition::new(u64::MAX))),
            FileRole::Segment(LogPosition::new(u64::MAX))
        );
        assert_eq!(
            classify_file_name("snapshot-00000000000000000042.snap"),
            FileRole::Snapshot(LogPosition::new(42))
        );
        assert_eq!(
            classify_file_name("wal-00000000000000000042.log.tmp"),
            FileRole::Temporary
        );
        assert_eq!(classify_file_name("wal-42.log"), FileRole::Other);
        assert_eq!(classify_file_name("identity"), FileRole::Other);
        assert!(segment_file_name(LogPosition::new(9)) < segment_file_name(LogPosition::new(10)));
    }
}
