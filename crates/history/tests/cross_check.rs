//! The Wing–Gong–Lowe checker against a brute-force one on small histories.
//!
//! The brute-force checker shares no code with the crate: it tries every
//! order of every subset of the operations that may take effect, over the
//! whole history at once (no split by key), with its own map model.

use std::collections::BTreeMap;

use proptest::prelude::*;
use synod_history::generate::{linearizable_history, DeterministicRandom, HistoryShape};
use synod_history::{
    check_history_with, CheckOptions, Operation, OperationKind, SearchStrategy, Status,
};

/// True if some order of all `ok` operations and of any subset of the `info`
/// writes respects real time and the map semantics.
fn brute_force_linearizable(history: &[Operation]) -> bool {
    let relevant: Vec<&Operation> = history
        .iter()
        .filter(|operation| match operation.status {
            Status::Ok => true,
            Status::Fail => false,
            Status::Info => matches!(operation.op, OperationKind::Set | OperationKind::Remove),
        })
        .collect();
    let mut placed = vec![false; relevant.len()];
    explore(&relevant, &mut placed, &mut BTreeMap::new())
}

fn explore(
    operations: &[&Operation],
    placed: &mut [bool],
    map: &mut BTreeMap<String, String>,
) -> bool {
    let all_ok_placed = operations
        .iter()
        .zip(placed.iter())
        .all(|(operation, &placed)| placed || operation.status != Status::Ok);
    if all_ok_placed {
        return true;
    }
    for index in 0..operations.len() {
        if placed[index] {
            continue;
        }
        let candidate = operations[index];
        // Someone who must come first is still waiting: an ok operation that
        // returned strictly before the candidate was called.
        let blocked = operations
            .iter()
            .zip(placed.iter())
            .any(|(other, &other_placed)| {
                !other_placed && other.status == Status::Ok && other.return_time < candidate.call
            });
        if blocked {
            continue;
        }
        let saved = map.clone();
        if step(candidate, map) {
            placed[index] = true;
            if explore(operations, placed, map) {
                return true;
            }
            placed[index] = false;
        }
        *map = saved;
    }
    false
}

/// Applies `operation` to `map`; false if its recorded result is impossible.
fn step(operation: &Operation, map: &mut BTreeMap<String, String>) -> bool {
    let current = map.get(&operation.key).cloned();
    let known_result = operation.status == Status::Ok;
    match operation.op {
        OperationKind::Get => {
            if operation.found {
                current.as_deref() == Some(operation.value.as_str())
            } else {
                current.is_none()
            }
        }
        OperationKind::Contains => current.is_some() == operation.found,
        OperationKind::Set => {
            map.insert(operation.key.clone(), operation.value.clone());
            true
        }
        OperationKind::Remove => {
            map.remove(&operation.key);
            !known_result || current.is_some() == operation.found
        }
    }
}

fn status_strategy() -> impl Strategy<Value = Status> {
    prop_oneof![6 => Just(Status::Ok), 3 => Just(Status::Info), 1 => Just(Status::Fail)]
}

fn kind_strategy() -> impl Strategy<Value = OperationKind> {
    prop_oneof![
        Just(OperationKind::Get),
        Just(OperationKind::Set),
        Just(OperationKind::Contains),
        Just(OperationKind::Remove)
    ]
}

/// An arbitrary operation on keys "a"/"b" with values "", "1", "2" and short
/// intervals on a coarse clock, so that ties are common. Results are made
/// consistent the way the parser demands.
fn operation_strategy() -> impl Strategy<Value = Operation> {
    (
        0u64..3,
        kind_strategy(),
        prop_oneof![Just("a"), Just("b")],
        prop_oneof![Just(""), Just("1"), Just("2")],
        any::<bool>(),
        status_strategy(),
        0u64..12,
        0u64..6,
    )
        .prop_map(|(client, op, key, value, found, status, call, duration)| {
            let (value, found) = match op {
                OperationKind::Get if found => (value, true),
                OperationKind::Get => ("", false),
                OperationKind::Set => (value, false),
                OperationKind::Contains | OperationKind::Remove => ("", found),
            };
            Operation {
                client,
                op,
                key: key.to_owned(),
                value: value.to_owned(),
                found,
                status,
                call,
                return_time: call + duration,
                node: None,
            }
        })
}

/// Changes one thing in a history: a read result, a status or an interval.
fn mutate(history: &mut [Operation], choice: u64, target: usize, amount: u64) {
    if history.is_empty() {
        return;
    }
    let operation = &mut history[target % history.len()];
    match choice % 5 {
        0 => {
            operation.found = !operation.found;
            if operation.op == OperationKind::Get && operation.found && operation.value.is_empty() {
                operation.value = "v0".to_owned();
            }
            if operation.op == OperationKind::Get && !operation.found {
                operation.value.clear();
            }
            if operation.op == OperationKind::Set {
                operation.found = false;
            }
        }
        1 => {
            if operation.op == OperationKind::Get || operation.op == OperationKind::Set {
                operation.value = format!("v{}", amount % 3);
                operation.found = operation.op == OperationKind::Get;
            }
        }
        2 => {
            operation.status = match operation.status {
                Status::Ok => Status::Info,
                Status::Info => Status::Ok,
                Status::Fail => Status::Ok,
            }
        }
        3 => {
            operation.call += amount % 4;
            operation.return_time = operation.return_time.max(operation.call) + amount % 3;
        }
        _ => operation.call = operation.call.saturating_sub(amount % 5),
    }
}

fn small_shape(operation_count: usize, value_count: u64) -> HistoryShape {
    HistoryShape {
        operation_count,
        client_count: 3,
        key_count: 2,
        value_count: Some(value_count),
        info_percent: 25,
        fail_percent: 10,
        duration_max: 6,
        pause_max: 3,
    }
}

/// Checks that every search strategy agrees with the brute force.
fn assert_agrees(history: &[Operation]) -> Result<bool, TestCaseError> {
    let expected = brute_force_linearizable(history);
    for strategy in [
        SearchStrategy::Automatic,
        SearchStrategy::DepthFirst,
        SearchStrategy::BreadthFirst,
    ] {
        let options = CheckOptions {
            strategy,
            ..CheckOptions::default()
        };
        let outcome = check_history_with(history, &options);
        prop_assert_eq!(
            outcome.is_linearizable(),
            expected,
            "strategy {:?}\nhistory: {:#?}\noutcome: {:#?}",
            strategy,
            history,
            outcome
        );
    }
    Ok(expected)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn agrees_on_arbitrary_histories(history in prop::collection::vec(operation_strategy(), 0..=7)) {
        assert_agrees(&history)?;
    }

    #[test]
    fn agrees_on_generated_linearizable_histories(seed in any::<u64>(), count in 1usize..=7, values in 1u64..=3) {
        let history = linearizable_history(&small_shape(count, values), &mut DeterministicRandom::new(seed));
        prop_assert!(assert_agrees(&history)?, "a generated history must be linearizable");
    }

    #[test]
    fn agrees_on_mutated_histories(
        seed in any::<u64>(),
        count in 1usize..=7,
        values in 1u64..=3,
        mutations in prop::collection::vec((any::<u64>(), any::<usize>(), any::<u64>()), 1..=2),
    ) {
        let mut history = linearizable_history(&small_shape(count, values), &mut DeterministicRandom::new(seed));
        for (choice, target, amount) in mutations {
            mutate(&mut history, choice, target, amount);
        }
        assert_agrees(&history)?;
    }
}

#[test]
fn memo_budget_and_threads_do_not_change_verdicts_on_larger_histories() {
    for seed in 0..40u64 {
        let shape = HistoryShape {
            operation_count: 400,
            client_count: 6,
            key_count: 4,
            value_count: Some(3),
            info_percent: 15,
            fail_percent: 5,
            duration_max: 40,
            pause_max: 5,
        };
        let mut random = DeterministicRandom::new(seed);
        let mut history = linearizable_history(&shape, &mut random);
        if seed % 2 == 1 {
            for _ in 0..3 {
                let (choice, target, amount) = (
                    random.next_u64(),
                    random.next_u64() as usize,
                    random.next_u64(),
                );
                mutate(&mut history, choice, target, amount);
            }
        }
        let roomy = check_history_with(
            &history,
            &CheckOptions {
                threads_max: 2,
                memo_bytes_max: 1 << 30,
                strategy: SearchStrategy::Automatic,
            },
        );
        let cramped = check_history_with(
            &history,
            &CheckOptions {
                threads_max: 1,
                memo_bytes_max: 4096,
                strategy: SearchStrategy::Automatic,
            },
        );
        assert_eq!(
            violating_keys(&roomy),
            violating_keys(&cramped),
            "seed {seed}"
        );
        if seed % 2 == 0 {
            assert!(roomy.is_linearizable(), "seed {seed}");
        }
    }
}

fn violating_keys(outcome: &synod_history::CheckOutcome) -> Vec<&str> {
    outcome
        .violations
        .iter()
        .map(|violation| violation.key.as_str())
        .collect()
}
