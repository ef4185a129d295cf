//! The linearizability checker: splits a history by key (keys are
//! independent registers), checks each key with a Wing–Gong–Lowe search,
//! and reports the keys that have no linearization.
//!
//! Each key is first searched depth-first with Lowe's memo (`depth_first`),
//! which finds a linearization in about one step per operation when there
//! is one; past a budget of steps, breadth-first with Pareto pruning
//! (`breadth_first`), which rules out all orders with little repetition;
//! and if that frontier outgrows the memory budget, depth-first again with
//! no step limit. Both searches share the reduced move rules of `moves`.
//! Keys run in parallel on `std::thread::scope` threads, largest first.
//!
//! Semantics, decided once here:
//! - `fail` operations are dropped: they certainly did not take effect.
//! - `info` `set`/`remove` may take effect once at any time at or after their
//!   call, or never: their return is taken as +infinity and they need not be
//!   linearized. `info` `get`/`contains` constrain nothing and are dropped.
//! - Every `ok` operation must be linearized within `[call, return]`, both
//!   ends included: an operation precedes another only if it returned
//!   strictly before the other was called, so equal timestamps are
//!   concurrent.
//! - The register of a key starts absent. `get` with `found=false` needs it
//!   absent, `remove` with `found=false` is legal exactly when it is absent,
//!   `remove` with `found=true` exactly when it is present; `set` always
//!   succeeds. `""` is a value like any other: `set` of `""` makes the key
//!   present.

mod breadth_first;
mod depth_first;
mod memo;
mod moves;
mod register;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use crate::operation::{Operation, OperationKind, Status};
use breadth_first::search_breadth_first;
use depth_first::search_depth_first;
use moves::{Deadlock, Timeline, Verdict};
use register::{Register, STATE_ABSENT};

/// Default memory budget of the searches, shared by all worker threads.
pub const MEMO_BYTES_MAX_DEFAULT: usize = 2 << 30;
/// The depth-first search hands over to the breadth-first one after this
/// many configurations per operation of the key (plus the minimum below).
const DEPTH_FIRST_ARRIVALS_PER_OPERATION: u64 = 4;
const DEPTH_FIRST_ARRIVALS_MIN: u64 = 10_000;

/// Which search decides each key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchStrategy {
    /// Depth-first, handing over to breadth-first when it takes long (the
    /// default, and the only one the memory budget fully bounds).
    #[default]
    Automatic,
    /// Only the depth-first search (for tests and measurements).
    DepthFirst,
    /// Only the breadth-first search, ignoring the memory budget (for tests
    /// and measurements).
    BreadthFirst,
}

/// How to run a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    /// Keys are checked on at most this many threads (at least one).
    pub threads_max: usize,
    /// Memory budget of all searches together, in bytes, split evenly
    /// between threads. A depth-first search that would exceed its share
    /// forgets its memo and goes on, and a breadth-first one hands over to a
    /// depth-first one: slower, never wrong.
    pub memo_bytes_max: usize,
    /// Which search to use.
    pub strategy: SearchStrategy,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            threads_max: thread::available_parallelism().map_or(1, |threads| threads.get()),
            memo_bytes_max: MEMO_BYTES_MAX_DEFAULT,
            strategy: SearchStrategy::Automatic,
        }
    }
}

/// The result of checking a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// Keys with at least one operation that entered the search.
    pub keys_checked: usize,
    /// Operations that entered the search: every `ok` operation and every
    /// `info` `set` or `remove`.
    pub operations_checked: usize,
    /// One per key that has no linearization, sorted by key.
    pub violations: Vec<Violation>,
}

impl CheckOutcome {
    /// Whether every key has a linearization.
    pub fn is_linearizable(&self) -> bool {
        self.violations.is_empty()
    }
}

/// A key whose operations cannot be ordered, described at the deepest point
/// the search reached: the most `ok` operations it managed to linearize
/// before getting stuck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The key.
    pub key: String,
    /// The `ok` operations that could not be linearized at that point: first
    /// the one that returned while still not linearized, then others pending
    /// at that time (at most eight in all).
    pub operations: Vec<Operation>,
    /// The last few operations linearized before that point, oldest first.
    pub linearized_before: Vec<Operation>,
    /// The key's value at that point (`None`: absent).
    pub value_before: Option<String>,
    /// One sentence for a human.
    pub explanation: String,
}

/// Checks `operations` with default options.
pub fn check_history(operations: &[Operation]) -> CheckOutcome {
    check_history_with(operations, &CheckOptions::default())
}

/// Checks `operations`, one key at a time on up to `options.threads_max`
/// threads, largest keys first.
pub fn check_history_with(operations: &[Operation], options: &CheckOptions) -> CheckOutcome {
    let mut by_key: HashMap<&str, Vec<&Operation>> = HashMap::new();
    for operation in operations {
        by_key
            .entry(operation.key.as_str())
            .or_default()
            .push(operation);
    }
    let mut jobs: Vec<(&str, Vec<&Operation>)> = by_key.into_iter().collect();
    jobs.sort_unstable_by(|left, right| right.1.len().cmp(&left.1.len()).then(left.0.cmp(right.0)));

    let threads = options.threads_max.clamp(1, jobs.len().max(1));
    let memo_bytes_max = options.memo_bytes_max / threads;
    let next_job = AtomicUsize::new(0);
    let work = || {
        let mut results = Vec::new();
        loop {
            let job = next_job.fetch_add(1, Ordering::Relaxed);
            let Some((key, key_operations)) = jobs.get(job) else {
                return results;
            };
            results.push(check_key(
                key,
                key_operations,
                memo_bytes_max,
                options.strategy,
            ));
        }
    };
    let results: Vec<KeyResult> = if threads == 1 {
        work()
    } else {
        thread::scope(|scope| {
            let workers: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
            workers
                .into_iter()
                .flat_map(|worker| worker.join().expect("a key check does not panic"))
                .collect()
        })
    };

    let mut outcome = CheckOutcome {
        keys_checked: 0,
        operations_checked: 0,
        violations: Vec::new(),
    };
    for result in results {
        if result.operations_checked > 0 {
            outcome.keys_checked += 1;
        }
        outcome.operations_checked += result.operations_checked;
        outcome.violations.extend(result.violation);
    }
    outcome
        .violations
        .sort_by(|left, right| left.key.cmp(&right.key));
    outcome
}

struct KeyResult {
    operations_checked: usize,
    violation: Option<Violation>,
}

fn check_key(
    key: &str,
    operations: &[&Operation],
    memo_bytes_max: usize,
    strategy: SearchStrategy,
) -> KeyResult {
    let register = Register::new(operations);
    let operations_checked = register.completed.len() + register.pending_writes.len();
    let timeline = Timeline::new(&register);
    let verdict = match strategy {
        SearchStrategy::Automatic => search(&register, &timeline, memo_bytes_max),
        SearchStrategy::DepthFirst => {
            search_depth_first(&register, &timeline, memo_bytes_max, None)
        }
        SearchStrategy::BreadthFirst => search_breadth_first(&register, &timeline, usize::MAX),
    };
    let violation = match verdict {
        Verdict::Linearizable => None,
        Verdict::NotLinearizable(deadlock) => Some(describe(key, operations, &deadlock)),
        Verdict::Undecided => unreachable!("the last search has no limit"),
    };
    KeyResult {
        operations_checked,
        violation,
    }
}

/// Decides one register: depth-first first, since it walks straight to a
/// linearization when there is one; if that takes long, breadth-first, which
/// rules out all orders with far less repetition; and if the breadth-first
/// frontier outgrows the memory budget, depth-first again without a limit
/// (its memo forgets when full, so its memory stays bounded).
fn search(register: &Register, timeline: &Timeline, bytes_max: usize) -> Verdict {
    let operation_count = (register.completed.len() + register.pending_writes.len()) as u64;
    let arrivals_max =
        DEPTH_FIRST_ARRIVALS_PER_OPERATION * operation_count + DEPTH_FIRST_ARRIVALS_MIN;
    match search_depth_first(register, timeline, bytes_max, Some(arrivals_max)) {
        Verdict::Undecided => {}
        decided => return decided,
    }
    match search_breadth_first(register, timeline, bytes_max) {
        Verdict::Undecided => {}
        decided => return decided,
    }
    search_depth_first(register, timeline, bytes_max, None)
}

fn describe(key: &str, operations: &[&Operation], deadlock: &Deadlock) -> Violation {
    let source = |index: u32| operations[index as usize].clone();
    let value_before = match deadlock.last_writer {
        Some(writer) if deadlock.state != STATE_ABSENT => {
            Some(operations[writer as usize].value.clone())
        }
        _ => None,
    };
    assert!(
        deadlock.state == STATE_ABSENT || value_before.is_some(),
        "a present value was written by someone"
    );
    let blocking = operations[deadlock.pending[0] as usize];
    let holding = match &value_before {
        Some(value) => format!("held {value:?}"),
        None => "was absent".to_owned(),
    };
    let others = deadlock.pending.len() - 1;
    let explanation = format!(
        "after {} of {} ok operations were linearized the key {holding}; client {}'s {} \
         (call {}, return {}) cannot take effect then, nor can any of the {others} other \
         operation(s) pending at its return, in any order",
        deadlock.completed_linearized,
        deadlock.completed_total,
        blocking.client,
        describe_result(blocking),
        blocking.call,
        blocking.return_time,
    );
    Violation {
        key: key.to_owned(),
        operations: deadlock
            .pending
            .iter()
            .map(|&index| source(index))
            .collect(),
        linearized_before: deadlock.recent.iter().map(|&index| source(index)).collect(),
        value_before,
        explanation,
    }
}

/// "get returning \"5\"", "remove that found the key", ...
fn describe_result(operation: &Operation) -> String {
    let status = if operation.status == Status::Info {
        "info "
    } else {
        ""
    };
    match (operation.op, operation.found) {
        (OperationKind::Get, true) => format!("{status}get returning {:?}", operation.value),
        (OperationKind::Get, false) => format!("{status}get finding nothing"),
        (OperationKind::Set, _) => format!("{status}set of {:?}", operation.value),
        (OperationKind::Contains, found) => format!("{status}contains answering {found}"),
        (OperationKind::Remove, true) => format!("{status}remove that found the key"),
        (OperationKind::Remove, false) => format!("{status}remove that found nothing"),
    }
}
