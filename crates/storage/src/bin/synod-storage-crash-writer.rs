//! Crash-test helper for `tests/crash.rs`: appends records numbered by their
//! position, in batches of varying size, syncs each batch, and only then
//! prints each record's number on its own line. A line on stdout is therefore
//! an acknowledgement: the test kills this process with SIGKILL at a random
//! moment and checks that every printed number survived.
//!
//! Usage: `synod-storage-crash-writer <directory> <seed>`.
//!
//! Record payload: the position as 8 little-endian bytes, then
//! `position % 113` filler bytes of value `position % 251`. Every
//! `SNAPSHOT_INTERVAL_RECORDS` records it installs a snapshot whose payload is
//! the covered position as 8 little-endian bytes, so kills also land inside
//! snapshot installation and compaction.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use synod_storage::{FileStorage, LogPosition, Storage, StorageOptions};

/// Small segments, so rotation happens every few batches.
const SEGMENT_SIZE_MAX_BYTES: u64 = 8 * 1024;
/// Largest batch; sizes are drawn from 1 to this.
const BATCH_SIZE_MAX_RECORDS: u64 = 64;
/// Records between snapshots.
const SNAPSHOT_INTERVAL_RECORDS: u64 = 1000;
/// The writer stops by itself after this many batches if nobody kills it.
const BATCH_COUNT_MAX: u64 = 1_000_000;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().collect();
    let (Some(directory), Some(Ok(seed))) = (
        arguments.get(1),
        arguments.get(2).map(|seed| seed.parse::<u64>()),
    ) else {
        eprintln!("usage: synod-storage-crash-writer <directory> <seed>");
        return ExitCode::from(2);
    };
    match run(PathBuf::from(directory), seed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("synod-storage-crash-writer: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(directory: PathBuf, seed: u64) -> Result<(), String> {
    let options = StorageOptions {
        segment_size_max_bytes: SEGMENT_SIZE_MAX_BYTES,
        record_size_max_bytes: 1024,
        ..StorageOptions::default()
    };
    let (mut storage, _) =
        FileStorage::open(&directory, options).map_err(|error| error.to_string())?;
    let mut random = seed | 1;
    let mut stdout = io::stdout().lock();
    for _ in 0..BATCH_COUNT_MAX {
        let first = storage.written_position().get();
        let batch = 1 + next_random(&mut random) % BATCH_SIZE_MAX_RECORDS;
        for position in first..first + batch {
            let got = storage
                .append(&record_payload(position))
                .map_err(|error| error.to_string())?;
            assert_eq!(got.get(), position, "positions are consecutive");
        }
        let durable = storage.sync().map_err(|error| error.to_string())?.get();
        assert_eq!(durable, first + batch);
        // Acknowledge only now that the batch is durable.
        for position in first..durable {
            writeln!(stdout, "{position}").map_err(|error| error.to_string())?;
        }
        stdout.flush().map_err(|error| error.to_string())?;
        if durable / SNAPSHOT_INTERVAL_RECORDS > first / SNAPSHOT_INTERVAL_RECORDS {
            storage
                .install_snapshot(LogPosition::new(durable), &durable.to_le_bytes())
                .map_err(|error| error.to_string())?;
        }
    }
    Ok(())
}

/// The payload of the record at `position`.
fn record_payload(position: u64) -> Vec<u8> {
    let mut bytes = position.to_le_bytes().to_vec();
    bytes.resize(8 + (position % 113) as usize, (position % 251) as u8);
    bytes
}

/// xorshift64: deterministic and dependency-free.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
