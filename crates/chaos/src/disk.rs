//! The disk nemesis: damage the write-ahead log of a stopped node the way
//! real disks do, and check that the node reacts as docs/storage-format.md
//! says.
//!
//! * A torn write at the tail (what a crash mid-write leaves: a partial
//!   frame after the last complete one, over the zeros of the space the
//!   store allocates ahead) must be cut off at the next start.
//!   The bytes added were never acknowledged, so cutting them loses
//!   nothing; the node must simply start.
//! * A flipped bit in a frame that other frames follow is damage to data
//!   that was completely written, possibly acknowledged: the node must
//!   refuse to start and name the damaged file. The nemesis then restores
//!   the byte, so the node can rejoin with its log intact.
//!
//! Truncating synced records instead would make the node forget promises
//! and acceptances it gave, which no Paxos survives: that is a lost disk,
//! which the data-directory identity handles, not a damaged one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;

use synod_storage::format::{parse_frame, FrameKind, FrameParse, SEGMENT_HEADER_SIZE_BYTES};

use crate::cluster::Cluster;
/// The most garbage bytes a torn write leaves.
const TORN_TAIL_SIZE_MAX_BYTES: usize = 200;
/// How long a node with a damaged log may take to refuse.
const REFUSAL_WAIT_MILLISECONDS: u64 = 10_000;

/// Which damage to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskDamage {
    /// A partial frame after the last complete one.
    TornTail,
    /// One bit flipped inside a frame that other frames follow.
    FlippedBit,
}

/// What the damage was, and anything that went wrong.
pub struct DiskOutcome {
    /// For a person.
    pub description: String,
    /// Set when the node did not react as documented.
    pub finding: Option<String>,
}

/// Damages the log of the stopped node at `index`. A flipped bit is checked
/// at once (the node must refuse to start) and then repaired; a torn tail is
/// checked when the node is started again at heal.
///
/// # Errors
///
/// The log cannot be read or written.
pub fn damage_and_check(
    cluster: &mut Cluster,
    index: usize,
    damage: DiskDamage,
    random: &mut StdRng,
) -> Result<DiskOutcome, String> {
    let node_id = cluster.nodes[index].id;
    let segment = newest_segment(&cluster.nodes[index].data)
        .ok_or_else(|| format!("node {node_id} has no log segment"))?;
    let mut bytes = std::fs::read(&segment)
        .map_err(|failure| format!("cannot read {}: {failure}", segment.display()))?;
    let name = segment
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if damage == DiskDamage::FlippedBit {
        if let Some(offset) = payload_byte_with_frame_after(&bytes, random) {
            return flip_and_check(cluster, index, &segment, &name, &mut bytes, offset, random);
        }
    }
    // Where the frames end, the next write would have gone: over the zeros
    // of the space allocated ahead, or past the end of the file.
    let length = random.random_range(1..=TORN_TAIL_SIZE_MAX_BYTES);
    let garbage: Vec<u8> = (0..length).map(|_| random.random()).collect();
    let end = frames_end(&bytes);
    if bytes.len() < end + length {
        bytes.resize(end + length, 0);
    }
    bytes[end..end + length].copy_from_slice(&garbage);
    write(&segment, &bytes)?;
    Ok(DiskOutcome {
        description: format!(
            "torn write: {length} bytes of a partial frame after the tail of {name}"
        ),
        finding: None,
    })
}

fn flip_and_check(
    cluster: &mut Cluster,
    index: usize,
    segment: &Path,
    name: &str,
    bytes: &mut [u8],
    offset: usize,
    random: &mut StdRng,
) -> Result<DiskOutcome, String> {
    let node_id = cluster.nodes[index].id;
    let original = bytes[offset];
    bytes[offset] ^= 1 << random.random_range(0..8);
    write(segment, bytes)?;
    let log_before =
        std::fs::metadata(&cluster.nodes[index].log).map_or(0, |metadata| metadata.len());
    if let Err(problem) = cluster.spawn(index) {
        bytes[offset] = original;
        write(segment, bytes)?;
        return Err(problem);
    }
    let exit = cluster.wait_for_exit(index, Duration::from_millis(REFUSAL_WAIT_MILLISECONDS));
    let mut finding = None;
    match exit {
        None => {
            cluster.kill(index);
            finding = Some(format!(
                "node {node_id} started with a flipped bit at byte {offset} of {name}, mid-log"
            ));
        }
        Some(status) if status.success() => {
            finding = Some(format!(
                "node {node_id} exited successfully with a flipped bit at byte {offset} of {name}"
            ));
        }
        Some(_) => {
            let log = std::fs::read(&cluster.nodes[index].log).unwrap_or_default();
            let said = String::from_utf8_lossy(log.get(log_before as usize..).unwrap_or_default())
                .into_owned();
            if !said.contains(name) {
                finding = Some(format!(
                    "node {node_id} refused a flipped bit in {name} without naming the file: {}",
                    said.trim()
                ));
            }
        }
    }
    if finding.is_none() {
        bytes[offset] = original;
        write(segment, bytes)?;
    } else {
        // A node that started on the damaged log may have cut it and
        // written since: putting the old bytes back would erase promises
        // it gave, and the harness would cause a violation of its own. It
        // stays down for the rest of the run; the finding fails it anyway.
        cluster.retire(index);
    }
    Ok(DiskOutcome {
        description: format!(
            "bit flipped at byte {offset} of {name} mid-log: {}; byte restored",
            if finding.is_none() {
                "refused to start, as documented"
            } else {
                "NOT refused"
            }
        ),
        finding,
    })
}

/// The offset just past the segment's last valid frame.
fn frames_end(bytes: &[u8]) -> usize {
    let mut offset = SEGMENT_HEADER_SIZE_BYTES;
    while let FrameParse::Valid(frame) = parse_frame(bytes, offset) {
        offset = frame.end_offset;
    }
    offset
}

/// A byte inside the payload of a random record frame of the segment that
/// a valid frame follows, found with the store's own parser, so that the
/// damage is certainly "data completely written" and never a torn tail.
fn payload_byte_with_frame_after(bytes: &[u8], random: &mut StdRng) -> Option<usize> {
    let mut candidates = Vec::new();
    let mut offset = SEGMENT_HEADER_SIZE_BYTES;
    while let FrameParse::Valid(frame) = parse_frame(bytes, offset) {
        let followed = matches!(parse_frame(bytes, frame.end_offset), FrameParse::Valid(_));
        if followed && frame.kind == Some(FrameKind::Record) && !frame.payload.is_empty() {
            candidates.push(frame.payload.clone());
        }
        offset = frame.end_offset;
    }
    let payload = candidates.get(random.random_range(0..candidates.len().max(1)))?;
    Some(random.random_range(payload.clone()))
}

/// The segment file with the highest first position under `data`.
fn newest_segment(data: &Path) -> Option<PathBuf> {
    let mut found = Vec::new();
    collect_segments(data, &mut found);
    found.sort_by_key(|path| path.file_name().map(std::ffi::OsStr::to_os_string));
    found.pop()
}

fn collect_segments(directory: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_segments(&path, found);
        } else if path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with("wal-") && name.ends_with(".log"))
        {
            found.push(path);
        }
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes)
        .map_err(|failure| format!("cannot write {}: {failure}", path.display()))
}
