//! Real processes, real files, real SIGKILL: the crash writer acknowledges
//! records on stdout only after `sync`, and is killed at random moments. After
//! every kill the log must reopen without a corruption refusal and hold every
//! acknowledged record, in order and contiguous.
//!
//! `SYNOD_CRASH_ITERATIONS` and `SYNOD_CRASH_SEED` override the defaults to
//! run longer or to replay a failure.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::TestDirectory;
use synod_storage::{FileStorage, Recovered, StorageOptions};

/// Kills per run of the test.
const ITERATIONS_DEFAULT: u64 = 200;
/// Kills land uniformly between zero and this many microseconds after spawn.
const KILL_DELAY_MAX_MICROSECONDS: u64 = 40_000;
/// How long a kill that waits for the first acknowledgement waits at most.
const FIRST_ACKNOWLEDGEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default run must finish within this (it normally takes about five
/// seconds); a longer run set by `SYNOD_CRASH_ITERATIONS` gets proportionally
/// more.
const TEST_DURATION_MAX: Duration = Duration::from_secs(60);

fn environment_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// The writer's payload for `position` (see the writer's documentation).
fn expected_payload(position: u64) -> Vec<u8> {
    let mut bytes = position.to_le_bytes().to_vec();
    bytes.resize(8 + (position % 113) as usize, (position % 251) as u8);
    bytes
}

/// Checks the recovered log's shape and returns the position after its end.
fn check_recovered(recovered: &Recovered, iteration: u64) -> u64 {
    let covers = match &recovered.snapshot {
        Some(snapshot) => {
            assert_eq!(
                &snapshot.payload[..],
                &snapshot.covers.get().to_le_bytes(),
                "iteration {iteration}: snapshot payload"
            );
            snapshot.covers.get()
        }
        None => 0,
    };
    for (index, (position, payload)) in recovered.records.iter().enumerate() {
        assert_eq!(
            position.get(),
            covers + index as u64,
            "iteration {iteration}: records are contiguous"
        );
        assert_eq!(
            &payload[..],
            &expected_payload(position.get())[..],
            "iteration {iteration}: payload of {position}"
        );
    }
    covers + recovered.records.len() as u64
}

#[test]
fn crash_sigkill_at_random_moments_never_loses_an_acknowledged_record() {
    let iterations = environment_number("SYNOD_CRASH_ITERATIONS", ITERATIONS_DEFAULT);
    let seed = environment_number("SYNOD_CRASH_SEED", 0x5EED_CAFE);
    eprintln!("crash test: {iterations} iterations, SYNOD_CRASH_SEED={seed}");
    let started = Instant::now();
    let duration_max = TEST_DURATION_MAX * (iterations.div_ceil(ITERATIONS_DEFAULT)) as u32;
    let directory = TestDirectory::new("crash");
    let mut random = seed | 1;
    let mut acknowledged_end = 0_u64; // Every position below this was acknowledged.
    let mut recovered_end = 0_u64; // Where the previous recovery found the log to end.
    let mut torn_tails = 0;
    let mut kills_after_acknowledgements = 0;

    for iteration in 0..iterations {
        let mut child = Command::new(env!("CARGO_BIN_EXE_synod-storage-crash-writer"))
            .arg(directory.path())
            .arg(next_random(&mut random).to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the crash writer");
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let (first_output, first_output_seen) = mpsc::channel();
        let reader = thread::spawn(move || {
            let mut text = Vec::new();
            let mut buffer = [0_u8; 4096];
            loop {
                match stdout.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(count) => {
                        text.extend_from_slice(&buffer[..count]);
                        let _ = first_output.send(());
                    }
                    Err(error) => return Err(error),
                }
            }
            String::from_utf8(text)
                .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))
        });
        // Odd iterations kill at any moment after spawn (during recovery,
        // writes, syncs, rotation or snapshots); even ones first wait for an
        // acknowledgement (each line is written whole, so the first read
        // holds one), so half the kills hit a writer that has acknowledged
        // records however slow the machine's fsyncs are.
        if iteration % 2 == 0 {
            first_output_seen
                .recv_timeout(FIRST_ACKNOWLEDGEMENT_TIMEOUT)
                .unwrap_or_else(|_| {
                    panic!("iteration {iteration}: no acknowledgement from the writer")
                });
        }
        let delay = next_random(&mut random) % KILL_DELAY_MAX_MICROSECONDS;
        thread::sleep(Duration::from_micros(delay));
        child.kill().expect("SIGKILL the writer");
        let status = child.wait().expect("reap the writer");
        let text = reader.join().expect("reader thread").expect("read stdout");
        if status.success() || status.code().is_some() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .expect("stderr is piped")
                .read_to_string(&mut stderr)
                .expect("read stderr");
            panic!("iteration {iteration}: the writer exited by itself ({status}) instead of being killed: {stderr}");
        }

        // Only complete lines are acknowledgements; a kill can cut the last one.
        let lines: Vec<u64> = text
            .split_inclusive('\n')
            .filter(|line| line.ends_with('\n'))
            .map(|line| line.trim_end().parse().expect("a number per line"))
            .collect();
        if let (Some(first), Some(last)) = (lines.first(), lines.last()) {
            assert_eq!(
                *first, recovered_end,
                "iteration {iteration}: the writer resumes where recovery ended"
            );
            assert!(
                lines.windows(2).all(|pair| pair[1] == pair[0] + 1),
                "iteration {iteration}: acknowledgements are consecutive"
            );
            acknowledged_end = acknowledged_end.max(last + 1);
            kills_after_acknowledgements += 1;
        }

        let (_, recovered) = FileStorage::open(directory.path(), StorageOptions::default())
            .unwrap_or_else(|error| {
                panic!("iteration {iteration}: recovery refused after SIGKILL: {error}")
            });
        if recovered.torn_tail_truncated.is_some() {
            torn_tails += 1;
        }
        let end = check_recovered(&recovered, iteration);
        assert!(
            end >= recovered_end,
            "iteration {iteration}: the log shrank from {recovered_end} to {end}"
        );
        recovered_end = end;
        assert!(
            end >= acknowledged_end,
            "iteration {iteration}: the log ends at {end} but records up to {} were acknowledged",
            acknowledged_end - 1
        );
        assert!(
            started.elapsed() < duration_max,
            "the crash test is too slow"
        );
    }
    eprintln!(
        "crash test: {iterations} kills ({kills_after_acknowledgements} after acknowledgements), \
         {acknowledged_end} records acknowledged, {torn_tails} torn tails truncated, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        kills_after_acknowledgements > iterations / 2,
        "most kills must land after some acknowledgements"
    );
}
