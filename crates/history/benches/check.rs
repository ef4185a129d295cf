//! The checker's acceptance workloads (on a 2-core machine):
//! - 10,000 operations from 10 clients in under 5 s, on 1 key (every
//!   operation contends) and on 10 keys;
//! - 100,000 operations from 20 clients over 100 keys in under 60 s.
//!
//! Each is measured on a linearizable history and on the same history with
//! one stale read injected (the search must then exhaust every order before
//! the stale read). Parsing the 100,000-operation text is measured too, since
//! `synod check-history` pays for it.
//!
//! Run with `cargo bench -p synod-history`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use synod_history::generate::{
    inject_stale_read, linearizable_history, DeterministicRandom, HistoryShape,
};
use synod_history::{check_history, parse_history, to_json_line, Operation};

/// Fixed so that every run measures the same histories.
const SEED: u64 = 20_240_601;

fn workload(
    operation_count: usize,
    client_count: u64,
    key_count: u64,
    stale: bool,
) -> Vec<Operation> {
    let shape = HistoryShape {
        operation_count,
        client_count,
        key_count,
        ..HistoryShape::default()
    };
    let mut random = DeterministicRandom::new(SEED);
    let mut history = linearizable_history(&shape, &mut random);
    if stale {
        inject_stale_read(&mut history, &mut random);
    }
    history
}

fn bench_check(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("check");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    let workloads = [
        ("10k_ops_10_clients_1_key", 10_000, 10, 1),
        ("10k_ops_10_clients_10_keys", 10_000, 10, 10),
        ("100k_ops_20_clients_100_keys", 100_000, 20, 100),
    ];
    for (name, operation_count, client_count, key_count) in workloads {
        for stale in [false, true] {
            let history = workload(operation_count, client_count, key_count, stale);
            let expected = !stale;
            let label = if stale {
                format!("{name}_stale_read")
            } else {
                format!("{name}_linearizable")
            };
            group.bench_function(label, |bencher| {
                bencher.iter(|| {
                    let outcome = check_history(black_box(&history));
                    assert_eq!(outcome.is_linearizable(), expected);
                    outcome
                })
            });
        }
    }
    group.finish();
}

fn bench_parse(criterion: &mut Criterion) {
    let history = workload(100_000, 20, 100, false);
    let text: String = history
        .iter()
        .map(|operation| to_json_line(operation) + "\n")
        .collect();
    let mut group = criterion.benchmark_group("parse");
    group.sample_size(10);
    group.bench_function("100k_ops_json_lines", |bencher| {
        bencher.iter(|| parse_history(black_box(&text)).expect("generated text parses"))
    });
    group.finish();
}

criterion_group!(benches, bench_check, bench_parse);
criterion_main!(benches);
