//! One cell measured in several rounds, the targets taking turns.
//!
//! On a shared virtual machine the speed of the disk and of the CPUs
//! drifts by tens of percent within minutes: in one afternoon a single
//! Redis with `appendfsync always` served 40k and then 62k SET/s under the
//! same load. Two targets measured one after the other can then differ by
//! the drift alone. Measured in rounds (A, B, A, B, …), both see the same
//! drift, and the median of the rounds is not moved by one slow round.

use crate::run::{CellResult, Latency};
use crate::scrape::ServerActivity;

/// One result for the rounds of one cell against one target: operations,
/// errors and seconds summed (so the throughput is over the whole measured
/// time), each latency percentile the median of the rounds', and the
/// server's activity averaged.
///
/// # Panics
///
/// `rounds` is empty, or its results are not of one target and one cell.
pub fn merge(rounds: &[CellResult]) -> CellResult {
    let first = rounds.first().expect("at least one round");
    for round in rounds {
        assert!(
            round.system == first.system
                && round.workload == first.workload
                && round.concurrency == first.concurrency,
            "rounds of different cells cannot be merged"
        );
    }
    let seconds: f64 = rounds.iter().map(|round| round.seconds).sum();
    let operations: u64 = rounds.iter().map(|round| round.operations).sum();
    let servers: Vec<ServerActivity> = rounds.iter().filter_map(|round| round.server).collect();
    let server = (!servers.is_empty()).then(|| {
        let count = servers.len() as f64;
        ServerActivity {
            fsyncs_per_second: servers.iter().map(|s| s.fsyncs_per_second).sum::<f64>() / count,
            mean_batch_commands: servers.iter().map(|s| s.mean_batch_commands).sum::<f64>() / count,
        }
    });
    CellResult {
        seconds,
        operations,
        errors: rounds.iter().map(|round| round.errors).sum(),
        throughput: operations as f64 / seconds.max(f64::MIN_POSITIVE),
        latency: median_latency(rounds.iter().map(|round| round.latency)),
        read_latency: median_latency(rounds.iter().map(|round| round.read_latency)),
        write_latency: median_latency(rounds.iter().map(|round| round.write_latency)),
        server,
        first_error: rounds.iter().find_map(|round| round.first_error.clone()),
        ..first.clone()
    }
}

/// Each percentile the median of the rounds' (the lower middle one for an
/// even count, so that it is always a value some round measured).
fn median_latency(latencies: impl Iterator<Item = Latency>) -> Latency {
    let latencies: Vec<Latency> = latencies.collect();
    let median = |field: fn(&Latency) -> u64| {
        let mut values: Vec<u64> = latencies.iter().map(field).collect();
        values.sort_unstable();
        values[(values.len() - 1) / 2]
    };
    let mut means: Vec<f64> = latencies.iter().map(|latency| latency.mean).collect();
    means.sort_by(f64::total_cmp);
    Latency {
        p50: median(|latency| latency.p50),
        p90: median(|latency| latency.p90),
        p99: median(|latency| latency.p99),
        p999: median(|latency| latency.p999),
        max: latencies
            .iter()
            .map(|latency| latency.max)
            .max()
            .unwrap_or(0),
        mean: means[(means.len() - 1) / 2],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Mode;
    use crate::workload::{KeyDistribution, Mix, Workload};

    fn round(seconds: f64, operations: u64, p50: u64, max: u64) -> CellResult {
        let latency = Latency {
            p50,
            p90: p50 * 2,
            p99: p50 * 3,
            p999: p50 * 4,
            max,
            mean: p50 as f64,
        };
        CellResult {
            system: "synod".to_string(),
            target: "redis://127.0.0.1:7001".to_string(),
            workload: Workload {
                mix: Mix { read_percent: 0 },
                keys: 100,
                key_size_bytes: 16,
                value_size_bytes: 100,
                distribution: KeyDistribution::Uniform,
            },
            concurrency: 1,
            connections: 1,
            mode: Mode::Closed,
            stale_reads: false,
            seconds,
            operations,
            errors: 0,
            throughput: operations as f64 / seconds,
            latency,
            read_latency: Latency::default(),
            write_latency: latency,
            server: None,
            first_error: None,
        }
    }

    #[test]
    fn a_slow_round_moves_the_sum_but_not_the_median() {
        let merged = merge(&[
            round(2.0, 2_000, 500, 900),
            round(2.0, 400, 5_000, 20_000),
            round(2.0, 2_200, 450, 800),
        ]);
        assert_eq!(merged.seconds, 6.0);
        assert_eq!(merged.operations, 4_600);
        assert!((merged.throughput - 4_600.0 / 6.0).abs() < 1e-9);
        assert_eq!(merged.latency.p50, 500);
        assert_eq!(merged.latency.p99, 1_500);
        assert_eq!(merged.latency.max, 20_000, "the slowest of all rounds");
        assert_eq!(merged.write_latency.p50, 500);
    }

    #[test]
    fn an_even_count_takes_the_lower_middle_round() {
        let merged = merge(&[round(1.0, 10, 700, 700), round(1.0, 10, 300, 300)]);
        assert_eq!(merged.latency.p50, 300);
    }

    #[test]
    #[should_panic(expected = "rounds of different cells cannot be merged")]
    fn rounds_of_two_targets_are_refused() {
        let mut other = round(1.0, 10, 300, 300);
        other.system = "etcd".to_string();
        merge(&[round(1.0, 10, 700, 700), other]);
    }
}
