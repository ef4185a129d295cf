//! Property tests: recovery never panics on any bytes, a single flipped bit
//! is never silent, and under any sequence of appends, syncs, snapshots,
//! fsync failures, full disks and crashes no synced record is ever lost.

mod common;

use common::small_segments;
use proptest::collection::vec;
use proptest::prelude::*;
use synod_storage::{
    CrashFault, LogPosition, MemoryDisk, MemoryStorage, Recovered, RecoveryError, Storage,
    StorageOptions,
};

const SEGMENT_SIZE_MAX_BYTES: u64 = 600;

fn options() -> StorageOptions {
    small_segments(SEGMENT_SIZE_MAX_BYTES)
}

/// File names recovery recognises, plus some it must ignore.
fn file_name() -> impl Strategy<Value = String> {
    prop_oneof![
        (0_u64..4).prop_map(|position| format!("wal-{position:020}.log")),
        (0_u64..4).prop_map(|position| format!("snapshot-{position:020}.snap")),
        Just("wal-00000000000000000000.log.tmp".to_string()),
        Just("identity".to_string()),
        "[a-z.-]{1,12}",
    ]
}

/// A disk written through the store: `sizes` records, synced in batches of
/// `batch`, optionally with a snapshot covering `snapshot_at` of them.
fn written_disk(
    sizes: &[usize],
    batch: usize,
    snapshot_at: Option<usize>,
) -> (MemoryDisk, Recovered) {
    let mut storage = MemoryStorage::new(options()).expect("new");
    for (index, size) in sizes.iter().enumerate() {
        storage.append(&vec![index as u8; *size]).expect("append");
        if index % batch == batch - 1 {
            storage.sync().expect("sync");
        }
        if snapshot_at == Some(index) {
            let covers = storage.written_position();
            storage
                .install_snapshot(covers, &covers.get().to_le_bytes())
                .expect("snapshot");
        }
    }
    storage.sync().expect("sync");
    let recovered = storage.recover().expect("an undamaged disk recovers");
    (storage.disk().clone(), recovered)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    /// Fuzzing in the normal test run: any files at all, and recovery returns
    /// (either way) without panicking; when it opens, the store works.
    #[test]
    fn recovery_never_panics_on_arbitrary_files(files in vec((file_name(), vec(any::<u8>(), 0..300)), 0..6)) {
        let mut disk = MemoryDisk::new();
        for (name, bytes) in files {
            disk.insert_file(&name, bytes);
        }
        if let Ok((mut storage, recovered)) = MemoryStorage::open(disk, options()) {
            let written = storage.written_position();
            let covers = recovered.snapshot.as_ref().map_or(LogPosition::ZERO, |snapshot| snapshot.covers);
            prop_assert_eq!(written.get(), covers.get() + recovered.records.len() as u64);
            storage.append(b"after").expect("append");
            storage.sync().expect("sync");
            let again = storage.recover().expect("a store that opened reopens");
            prop_assert_eq!(again.records.len(), recovered.records.len() + 1);
        }
    }

    /// Valid logs with arbitrary bytes spliced in somewhere: no panic, and a
    /// store that opens keeps working.
    #[test]
    fn recovery_never_panics_on_damaged_logs(
        sizes in vec(0_usize..120, 1..40),
        batch in 1_usize..8,
        file_choice in any::<prop::sample::Index>(),
        offset_choice in any::<prop::sample::Index>(),
        removed in 0_usize..40,
        inserted in vec(any::<u8>(), 0..40),
    ) {
        let (mut disk, _) = written_disk(&sizes, batch, None);
        let name = file_choice.get(&disk.file_names()).clone();
        let mut bytes = disk.file(&name).expect("file").to_vec();
        let offset = offset_choice.index(bytes.len() + 1);
        let end = (offset + removed).min(bytes.len());
        bytes.splice(offset..end, inserted);
        disk.insert_file(&name, bytes);
        if let Ok((mut storage, _)) = MemoryStorage::open(disk, options()) {
            storage.append(b"after").expect("append");
            storage.sync().expect("sync");
            storage.recover().expect("a store that opened reopens");
        }
    }

    /// One flipped bit anywhere: recovery refuses, or returns every record,
    /// or (damage to the very last record, which no log can tell from a torn
    /// write) every record but the last with a torn tail reported. Never
    /// anything else.
    #[test]
    fn single_bit_flip_is_refused_or_confined_to_the_final_record(
        sizes in vec(0_usize..120, 1..40),
        batch in 1_usize..8,
        snapshot_choice in proptest::option::of(any::<prop::sample::Index>()),
        file_choice in any::<prop::sample::Index>(),
        bit_choice in any::<prop::sample::Index>(),
    ) {
        let snapshot_at = snapshot_choice.map(|choice| choice.index(sizes.len()));
        let (mut disk, original) = written_disk(&sizes, batch, snapshot_at);
        let name = file_choice.get(&disk.file_names()).clone();
        let mut bytes = disk.file(&name).expect("file").to_vec();
        let bit = bit_choice.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        disk.insert_file(&name, bytes);
        match MemoryStorage::open(disk, options()) {
            Err(RecoveryError::Corruption { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error: {}", other),
            Ok((_, recovered)) => {
                prop_assert_eq!(&recovered.snapshot, &original.snapshot);
                if recovered.records == original.records {
                    // The flip hit something that carries no record (an end
                    // marker before an empty newest segment): cut as torn.
                } else {
                    prop_assert!(recovered.torn_tail_truncated.is_some(), "records lost without a torn tail");
                    let kept = original.records.len() - 1;
                    prop_assert_eq!(&recovered.records[..], &original.records[..kept], "more than the final record lost");
                }
            }
        }
    }
}

/// One step of the model-based test.
#[derive(Clone, Debug)]
enum Step {
    Append(usize),
    Sync,
    Snapshot,
    FailNextSync,
    DiskFull(u64),
    Crash { tear: bool, seed: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0_usize..150).prop_map(Step::Append),
        4 => Just(Step::Sync),
        1 => Just(Step::Snapshot),
        1 => Just(Step::FailNextSync),
        1 => (0_u64..400).prop_map(Step::DiskFull),
        2 => (any::<bool>(), any::<u64>()).prop_map(|(tear, seed)| Step::Crash { tear, seed }),
    ]
}

/// What the test knows the store must hold.
#[derive(Default)]
struct Model {
    /// The payload appended at each position since the log began (positions
    /// below the snapshot keep their payloads, unused).
    payloads: Vec<Vec<u8>>,
    /// Every position below this was acknowledged by a successful sync.
    durable: u64,
    /// The installed snapshot.
    snapshot: u64,
    /// A snapshot whose installation failed may or may not be on disk.
    snapshot_maybe: Option<u64>,
    counter: u64,
}

impl Model {
    fn payload(&mut self, length: usize) -> Vec<u8> {
        self.counter += 1;
        let mut bytes = self.counter.to_le_bytes().to_vec();
        bytes.resize(8 + length, self.counter as u8);
        bytes
    }

    /// Checks a recovery against the model, then adopts what survived.
    fn check_recovery(&mut self, recovered: &Recovered) -> Result<(), TestCaseError> {
        let covers = recovered
            .snapshot
            .as_ref()
            .map_or(0, |snapshot| snapshot.covers.get());
        prop_assert!(
            covers == self.snapshot || Some(covers) == self.snapshot_maybe,
            "snapshot at {} but the model has {} (maybe {:?})",
            covers,
            self.snapshot,
            self.snapshot_maybe
        );
        if let Some(snapshot) = &recovered.snapshot {
            prop_assert_eq!(&snapshot.payload[..], &covers.to_le_bytes());
        }
        let end = covers + recovered.records.len() as u64;
        prop_assert!(
            end >= self.durable,
            "synced records lost: log ends at {} but {} were synced",
            end,
            self.durable
        );
        for (position, bytes) in &recovered.records {
            // Records past the durable position were appended but never
            // acknowledged; surviving is allowed, being different is not.
            prop_assert_eq!(&bytes[..], &self.payloads[position.get() as usize][..]);
        }
        self.payloads.truncate(end as usize);
        self.durable = end;
        self.snapshot = covers;
        self.snapshot_maybe = None;
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_synced_record_is_lost_under_faults_and_crashes(steps in vec(step(), 1..150)) {
        run_steps(steps)?;
    }
}

/// Runs `steps` against the store and the model, checking every recovery.
fn run_steps(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut storage = MemoryStorage::new(options()).expect("new");
    let mut model = Model::default();
    for step in steps {
        match step {
            Step::Append(length) => {
                let payload = model.payload(length);
                match storage.append(&payload) {
                    Ok(position) => {
                        prop_assert_eq!(position.get(), model.payloads.len() as u64);
                        model.payloads.push(payload);
                    }
                    Err(error) => prop_assert!(error.is_fatal(), "{}", error),
                }
            }
            Step::Sync => match storage.sync() {
                Ok(durable) => {
                    prop_assert_eq!(durable.get(), model.payloads.len() as u64);
                    model.durable = durable.get();
                }
                Err(error) => prop_assert!(error.is_fatal(), "{}", error),
            },
            Step::Snapshot => {
                let covers = storage.written_position();
                match storage.install_snapshot(covers, &covers.get().to_le_bytes()) {
                    Ok(()) => {
                        model.snapshot = covers.get();
                        model.durable = covers.get();
                    }
                    Err(error) => {
                        prop_assert!(error.is_fatal(), "{}", error);
                        model.snapshot_maybe = Some(covers.get());
                    }
                }
            }
            Step::FailNextSync => storage.fail_next_sync(),
            Step::DiskFull(extra_bytes) => {
                let used = storage.disk().used_bytes();
                storage.set_space_bytes_max(Some(used + extra_bytes));
            }
            Step::Crash { tear, seed } => {
                let fault = if tear {
                    CrashFault::TearUnsynced { seed }
                } else {
                    CrashFault::LoseUnsynced
                };
                storage.crash(fault);
                storage.set_space_bytes_max(None);
                let recovered = storage
                    .recover()
                    .map_err(|error| TestCaseError::fail(error.to_string()))?;
                model.check_recovery(&recovered)?;
            }
        }
    }
    storage.set_space_bytes_max(None);
    let recovered = storage
        .recover()
        .map_err(|error| TestCaseError::fail(error.to_string()))?;
    model.check_recovery(&recovered)?;
    Ok(())
}

/// Regression (found by the property above in CI, after segment space came
/// to be allocated ahead): a torn write whose kept prefix was a single zero
/// byte read back as allocated space, so the byte stayed; the next torn
/// write was then placed at the end of the file, one byte past where the
/// frames end, and recovery refused a log no crash could have left. The
/// simulated disk must tear a write where the writer writes: at the end of
/// the frames. Bug class: a crash model that writes where no writer does.
#[test]
fn regression_a_torn_write_lands_where_the_frames_end_not_at_the_end_of_the_file() {
    let steps = [0, 85, 134, 79, 2, 61, 92, 132]
        .into_iter()
        .map(Step::Append)
        .chain([
            Step::Sync,
            Step::Append(140),
            Step::Crash {
                tear: true,
                seed: 15_800_716_335_860_158_214,
            },
            Step::Append(3),
            Step::Crash {
                tear: true,
                seed: 8_460_684_919_928_865_501,
            },
        ])
        .collect();
    run_steps(steps).expect("every recovery holds every synced record");
}
