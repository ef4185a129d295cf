//! Durable append throughput: append a batch of 100-byte records, then one
//! `sync` (one fdatasync), on real files. Criterion reports records per
//! second as its throughput; before that, a plain timed loop prints records
//! per second and fsyncs per second for each batch size.
//!
//! Run: `cargo bench -p synod-storage`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use synod_storage::{FileStorage, Storage, StorageOptions};

/// Payload size of every record.
const RECORD_SIZE_BYTES: usize = 100;
/// Records appended before each sync.
const BATCH_SIZES: [u64; 3] = [1, 16, 256];
/// How long the plain timed loop runs per batch size.
const REPORT_DURATION: Duration = Duration::from_secs(2);
/// A snapshot (outside the timed part) compacts the log past this many
/// records, so the benchmark does not fill the disk.
const COMPACTION_INTERVAL_RECORDS: u64 = 500_000;

fn bench_directory(label: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "synod-storage-bench-{label}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&path);
    path
}

/// Appends `batches` batches of `batch` records, each followed by one sync.
fn append_batches(storage: &mut FileStorage, record: &[u8], batch: u64, batches: u64) {
    for _ in 0..batches {
        for _ in 0..batch {
            storage.append(record).expect("append");
        }
        storage.sync().expect("sync");
    }
}

fn compact_if_large(storage: &mut FileStorage) {
    let written = storage.written_position();
    let covered = storage
        .snapshot_position()
        .map_or(0, |position| position.get());
    if written.get() - covered > COMPACTION_INTERVAL_RECORDS {
        storage
            .install_snapshot(written, b"benchmark")
            .expect("compact");
    }
}

/// The plain loop whose figures the project quotes.
fn report_rates() {
    let record = [0x5A_u8; RECORD_SIZE_BYTES];
    for batch in BATCH_SIZES {
        let path = bench_directory(&format!("report-{batch}"));
        let (mut storage, _) = FileStorage::open(&path, StorageOptions::default()).expect("open");
        let started = Instant::now();
        let mut syncs = 0_u64;
        while started.elapsed() < REPORT_DURATION {
            append_batches(&mut storage, &record, batch, 1);
            syncs += 1;
        }
        let seconds = started.elapsed().as_secs_f64();
        let records = syncs * batch;
        println!(
            "durable append, batch {batch:>3}: {:>10.0} records/s, {:>7.0} fsyncs/s ({records} records of {RECORD_SIZE_BYTES} bytes in {seconds:.2} s)",
            records as f64 / seconds,
            syncs as f64 / seconds,
        );
        drop(storage);
        let _ = std::fs::remove_dir_all(&path);
    }
}

fn durable_append(criterion: &mut Criterion) {
    let record = [0x5A_u8; RECORD_SIZE_BYTES];
    let mut group = criterion.benchmark_group("durable_append_100_bytes");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for batch in BATCH_SIZES {
        let path = bench_directory(&format!("criterion-{batch}"));
        let (mut storage, _) = FileStorage::open(&path, StorageOptions::default()).expect("open");
        group.throughput(Throughput::Elements(batch));
        group.bench_with_input(
            BenchmarkId::new("batch", batch),
            &batch,
            |bencher, batch| {
                bencher.iter_custom(|iterations| {
                    let started = Instant::now();
                    append_batches(&mut storage, &record, *batch, iterations);
                    let elapsed = started.elapsed();
                    compact_if_large(&mut storage);
                    elapsed
                });
            },
        );
        drop(storage);
        let _ = std::fs::remove_dir_all(&path);
    }
    group.finish();
}

criterion_group!(benches, durable_append);

fn main() {
    // `cargo test --benches` and `--list` only check that the benchmark runs.
    let quick = std::env::args().any(|argument| argument == "--test" || argument == "--list");
    if !quick {
        report_rates();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
