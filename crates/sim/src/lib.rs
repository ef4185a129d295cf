//! Deterministic simulation of a synod cluster.
//!
//! N replicas run the production node (`synod-node`: the consensus core,
//! the kv state machine, request routing, forwarding, reads and apply) and
//! the production storage code in one process, under virtual time, with one
//! seed driving every choice: message delays, losses, duplicates,
//! partitions (full and partial), disk latency and stalls, crashes that
//! lose whatever was not yet durable, and the leader crash in the middle of
//! phase 2 from the seeds. Clients record a
//! history in the shared format; after every step the world checks
//! agreement, in-order apply, identical state per slot and kept promises;
//! after the faults heal it checks that every pending operation completes,
//! that the replicas converge, and that the history is linearizable.
#![deny(missing_docs)]

pub mod availability;
pub mod describe;
pub mod harness;
pub mod history;
pub mod network;
pub mod run;
pub mod workload_checks;
pub mod world;

pub use run::{run_seed, FaultSet, SeedOutcome, SimulationOptions};
pub use world::{Record, RecordStatus, World, WorldOptions};

/// Totals over many seeds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Seeds run.
    pub seeds: u64,
    /// Seeds with at least one violation.
    pub failing_seeds: Vec<u64>,
    /// Violations found, over all seeds.
    pub violations: u64,
    /// Client operations checked, over all seeds.
    pub operations_checked: u64,
    /// Reads given their read index under the leader lease, over all seeds.
    pub reads_served_under_lease: u64,
    /// Configuration changes that took effect, over all seeds.
    pub configuration_changes: u64,
    /// Leader transfers started, over all seeds.
    pub leader_transfers: u64,
    /// Snapshots installed from peers, over all seeds.
    pub snapshots_installed: u64,
}

/// Runs seeds `first..first + count` on `threads` threads, calling
/// `on_outcome` for each finished seed (in completion order).
pub fn run_seeds(
    first: u64,
    count: u64,
    options: &SimulationOptions,
    threads: usize,
    on_outcome: &(dyn Fn(&SeedOutcome) + Sync),
) -> Summary {
    let outcomes = for_each_seed(first, count, threads, |seed| {
        let outcome = run_seed(seed, options);
        on_outcome(&outcome);
        (
            seed,
            outcome.operations_checked,
            outcome.reads_served_under_lease,
            outcome.configuration_epoch,
            outcome.leader_transfers,
            outcome.snapshots_installed,
            outcome.violations.len(),
        )
    });
    let mut summary = Summary::default();
    for (seed, operations_checked, leased, changes, transfers, snapshots, violations) in outcomes {
        summary.seeds += 1;
        summary.operations_checked += operations_checked as u64;
        summary.reads_served_under_lease += leased;
        summary.configuration_changes += changes;
        summary.leader_transfers += transfers;
        summary.snapshots_installed += snapshots;
        if violations > 0 {
            summary.violations += violations as u64;
            summary.failing_seeds.push(seed);
        }
    }
    summary
}

/// Runs `run` for seeds `first..first + count` on `threads` threads and
/// returns the results in seed order.
pub fn for_each_seed<T: Send>(
    first: u64,
    count: u64,
    threads: usize,
    run: impl Fn(u64) -> T + Sync,
) -> Vec<T> {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    let next = AtomicU64::new(first);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= first + count {
                    break;
                }
                let result = run(seed);
                results
                    .lock()
                    .expect("no panic while holding the lock")
                    .push((seed, result));
            });
        }
    });
    let mut results = results.into_inner().expect("threads finished");
    results.sort_by_key(|(seed, _)| *seed);
    results.into_iter().map(|(_, result)| result).collect()
}

/// The seeds per scenario a test runs: `SYNOD_SIM_SEEDS` when set (for
/// longer soaks), `default` otherwise.
pub fn seeds_from_env(default: u64) -> u64 {
    std::env::var("SYNOD_SIM_SEEDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

/// One worker thread per core.
pub fn threads_default() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}
