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

pub mod describe;
pub mod harness;
pub mod history;
pub mod network;
pub mod run;
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
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Mutex;

    let next = AtomicU64::new(first);
    let summary = Mutex::new(Summary::default());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= first + count {
                    break;
                }
                let outcome = run_seed(seed, options);
                on_outcome(&outcome);
                let mut summary = summary.lock().expect("no panics while holding the lock");
                summary.seeds += 1;
                summary.operations_checked += outcome.operations_checked as u64;
                if !outcome.violations.is_empty() {
                    summary.violations += outcome.violations.len() as u64;
                    summary.failing_seeds.push(seed);
                }
            });
        }
    });
    let mut summary = summary.into_inner().expect("threads finished");
    summary.failing_seeds.sort_unstable();
    summary
}
