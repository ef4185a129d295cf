//! Hand-written histories whose verdict is known, named like specifications.

mod common;

use common::{contains, fail, get, info, remove, set};
use synod_history::generate::{
    linearizable_history, non_linearizable_history, DeterministicRandom, HistoryShape,
};
use synod_history::{
    check_history, check_history_with, parse_history, CheckOptions, CheckOutcome, Operation,
    SearchStrategy, MEMO_BYTES_MAX_DEFAULT,
};

fn verdict(operations: &[Operation]) -> bool {
    let outcome = check_history(operations);
    // Each search alone, on one thread, and the automatic one with a tiny
    // memory budget must find the same violating keys.
    let expected = violating_keys(&outcome);
    for (strategy, memo_bytes_max) in [
        (SearchStrategy::DepthFirst, MEMO_BYTES_MAX_DEFAULT),
        (SearchStrategy::BreadthFirst, MEMO_BYTES_MAX_DEFAULT),
        (SearchStrategy::Automatic, 64 * 1024),
    ] {
        let options = CheckOptions {
            threads_max: 1,
            memo_bytes_max,
            strategy,
        };
        let other = check_history_with(operations, &options);
        assert_eq!(violating_keys(&other), expected, "{strategy:?} disagrees");
    }
    outcome.is_linearizable()
}

fn violating_keys(outcome: &CheckOutcome) -> Vec<&str> {
    outcome
        .violations
        .iter()
        .map(|violation| violation.key.as_str())
        .collect()
}

fn violations(operations: &[Operation]) -> CheckOutcome {
    let outcome = check_history(operations);
    assert!(!outcome.is_linearizable(), "expected a violation");
    outcome
}

#[test]
fn spec_example_is_linearizable() {
    let text = r#"{"client":0,"op":"set","key":"x","value":"1","found":false,"status":"ok","call":100,"return":900}
{"client":1,"op":"get","key":"x","value":"1","found":true,"status":"ok","call":500,"return":1200}
{"client":2,"op":"remove","key":"x","value":"","found":true,"status":"info","call":1300,"return":0}
"#;
    let operations = parse_history(text).unwrap();
    let outcome = check_history(&operations);
    assert!(outcome.is_linearizable());
    assert_eq!(outcome.keys_checked, 1);
    assert_eq!(outcome.operations_checked, 3);
}

#[test]
fn empty_history_is_linearizable() {
    let outcome = check_history(&[]);
    assert!(outcome.is_linearizable());
    assert_eq!((outcome.keys_checked, outcome.operations_checked), (0, 0));
}

#[test]
fn stale_read_after_an_acknowledged_overwrite_is_a_violation() {
    let history = [
        set(0, "x", "1", (0, 10)),
        set(0, "x", "2", (20, 30)),
        get(1, "x", Some("1"), (40, 50)),
    ];
    let outcome = violations(&history);
    let violation = &outcome.violations[0];
    assert_eq!(violation.key, "x");
    assert_eq!(
        violation.operations[0], history[2],
        "the stale get is named first"
    );
    assert_eq!(violation.value_before.as_deref(), Some("2"));
    assert!(
        violation.explanation.contains("get returning \"1\""),
        "{}",
        violation.explanation
    );
    assert!(violation.linearized_before.contains(&history[1]));
}

#[test]
fn read_concurrent_with_the_overwrite_may_see_the_old_value() {
    let history = [
        set(0, "x", "1", (0, 10)),
        set(0, "x", "2", (20, 30)),
        get(1, "x", Some("1"), (25, 50)),
    ];
    assert!(verdict(&history));
}

#[test]
fn lost_write_is_a_violation() {
    let history = [set(0, "x", "1", (0, 10)), get(1, "x", None, (20, 30))];
    assert!(!verdict(&history));
}

#[test]
fn reading_a_value_never_written_is_a_violation() {
    assert!(!verdict(&[get(0, "x", Some("ghost"), (0, 10))]));
}

#[test]
fn info_write_may_take_effect_long_after_the_client_gave_up() {
    let history = [
        info(set(0, "x", "1", (0, 5))),
        set(1, "x", "2", (10, 20)),
        get(2, "x", Some("2"), (30, 40)),
        get(2, "x", Some("1"), (50, 60)),
    ];
    assert!(verdict(&history));
}

#[test]
fn info_write_may_never_take_effect() {
    let history = [
        info(set(0, "x", "1", (0, 5))),
        get(1, "x", None, (10, 20)),
        get(1, "x", None, (30, 40)),
    ];
    assert!(verdict(&history));
}

#[test]
fn info_write_takes_effect_at_most_once() {
    // Seen, overwritten, then seen again: one write cannot do that.
    let history = [
        info(set(0, "x", "1", (0, 5))),
        get(1, "x", Some("1"), (10, 20)),
        set(1, "x", "2", (30, 40)),
        get(1, "x", Some("1"), (50, 60)),
    ];
    assert!(!verdict(&history));
}

#[test]
fn info_write_cannot_take_effect_before_its_call() {
    let history = [
        get(1, "x", Some("1"), (0, 10)),
        info(set(0, "x", "1", (20, 0))),
    ];
    assert!(!verdict(&history));
}

#[test]
fn info_remove_may_explain_a_disappearing_key() {
    let history = [
        set(0, "x", "1", (0, 10)),
        info(remove(1, "x", true, (20, 0))),
        get(2, "x", None, (30, 40)),
    ];
    assert!(verdict(&history));
    let without_remove = [history[0].clone(), history[2].clone()];
    assert!(!verdict(&without_remove));
}

#[test]
fn info_and_fail_reads_constrain_nothing() {
    let history = [
        info(get(0, "x", Some("nonsense"), (0, 10))),
        fail(contains(1, "x", true, (0, 10))),
        info(contains(2, "x", true, (20, 30))),
        get(1, "x", None, (40, 50)),
    ];
    assert!(verdict(&history));
}

#[test]
fn failed_write_certainly_did_not_happen() {
    let history = [
        fail(set(0, "x", "1", (0, 10))),
        get(1, "x", Some("1"), (20, 30)),
    ];
    assert!(!verdict(&history));
    let history = [fail(set(0, "x", "1", (0, 10))), get(1, "x", None, (20, 30))];
    assert!(verdict(&history));
}

#[test]
fn concurrent_writes_may_land_in_either_order() {
    let first = [
        set(0, "x", "a", (0, 100)),
        set(1, "x", "b", (0, 100)),
        get(2, "x", Some("a"), (200, 210)),
    ];
    assert!(verdict(&first));
    let second = [
        set(0, "x", "a", (0, 100)),
        set(1, "x", "b", (0, 100)),
        get(2, "x", Some("b"), (200, 210)),
    ];
    assert!(verdict(&second));
    // But once the order is observed it cannot flip back.
    let flip = [
        set(0, "x", "a", (0, 100)),
        set(1, "x", "b", (0, 100)),
        get(2, "x", Some("b"), (200, 210)),
        get(2, "x", Some("a"), (220, 230)),
    ];
    assert!(!verdict(&flip));
}

#[test]
fn remove_of_an_absent_key_reports_found_false() {
    assert!(verdict(&[remove(0, "x", false, (0, 10))]));
    assert!(!verdict(&[remove(0, "x", true, (0, 10))]));
}

#[test]
fn remove_of_a_present_key_must_report_found_true() {
    assert!(!verdict(&[
        set(0, "x", "1", (0, 10)),
        remove(1, "x", false, (20, 30))
    ]));
    assert!(verdict(&[
        set(0, "x", "1", (0, 10)),
        remove(1, "x", true, (20, 30)),
        get(0, "x", None, (40, 50)),
        remove(0, "x", false, (60, 70)),
    ]));
}

#[test]
fn second_remove_of_one_set_finds_nothing() {
    let history = [
        set(0, "x", "1", (0, 10)),
        remove(1, "x", true, (20, 30)),
        remove(2, "x", true, (20, 30)),
    ];
    assert!(!verdict(&history));
}

#[test]
fn contains_reports_presence_not_value() {
    assert!(verdict(&[
        contains(0, "x", false, (0, 10)),
        set(0, "x", "", (20, 30)),
        contains(1, "x", true, (40, 50))
    ]));
    assert!(!verdict(&[
        set(0, "x", "1", (0, 10)),
        contains(1, "x", false, (20, 30))
    ]));
}

#[test]
fn empty_string_is_a_value_distinct_from_absence() {
    assert!(verdict(&[
        set(0, "x", "", (0, 10)),
        get(1, "x", Some(""), (20, 30))
    ]));
    assert!(!verdict(&[
        set(0, "x", "", (0, 10)),
        get(1, "x", None, (20, 30))
    ]));
    assert!(!verdict(&[get(1, "x", Some(""), (20, 30))]));
}

#[test]
fn equal_timestamps_are_concurrent() {
    // The get is called exactly when the set returns: intervals are closed, so
    // they overlap and the get may come first.
    assert!(verdict(&[
        set(0, "x", "1", (0, 10)),
        get(1, "x", None, (10, 20))
    ]));
    assert!(!verdict(&[
        set(0, "x", "1", (0, 10)),
        get(1, "x", None, (11, 20))
    ]));
}

#[test]
fn zero_length_operations_are_ordered_by_their_instant() {
    assert!(verdict(&[
        set(0, "x", "1", (5, 5)),
        get(1, "x", Some("1"), (5, 5))
    ]));
    assert!(!verdict(&[
        set(0, "x", "1", (5, 5)),
        get(1, "x", None, (6, 6))
    ]));
}

#[test]
fn keys_are_independent_and_only_the_bad_one_is_reported() {
    let history = [
        set(0, "good", "1", (0, 10)),
        get(1, "good", Some("1"), (20, 30)),
        set(0, "bad", "1", (0, 10)),
        get(1, "bad", None, (20, 30)),
        set(0, "also-bad", "1", (0, 10)),
        get(1, "also-bad", Some("2"), (20, 30)),
    ];
    let outcome = violations(&history);
    let keys: Vec<&str> = outcome
        .violations
        .iter()
        .map(|violation| violation.key.as_str())
        .collect();
    assert_eq!(keys, ["also-bad", "bad"]);
    assert_eq!(outcome.keys_checked, 3);
}

#[test]
fn a_client_overlapping_itself_is_treated_as_concurrency() {
    let history = [
        set(0, "x", "1", (0, 100)),
        get(0, "x", None, (10, 20)),
        get(0, "x", Some("1"), (30, 40)),
    ];
    assert!(verdict(&history));
}

#[test]
fn many_unused_info_writes_do_not_slow_down_a_violation() {
    // Two hundred abandoned writes that nobody ever observed, then a stale
    // read: the search must not try every subset of the abandoned writes.
    let mut history = vec![set(0, "x", "first", (0, 10))];
    for index in 0..200 {
        history.push(info(set(
            1 + index,
            "x",
            &format!("lost-{index}"),
            (20 + index, 0),
        )));
    }
    history.push(set(0, "x", "second", (1000, 1010)));
    for index in 0..50 {
        history.push(get(
            0,
            "x",
            Some("second"),
            (1020 + 20 * index, 1030 + 20 * index),
        ));
    }
    history.push(get(0, "x", Some("first"), (3000, 3010)));
    let started = std::time::Instant::now();
    assert!(!verdict(&history));
    assert!(started.elapsed().as_secs() < 5);
}

#[test]
fn info_writes_of_the_same_value_are_interchangeable() {
    // A read of "v" needs one of the abandoned writes of "v"; each can serve
    // only once, and three reads separated by overwrites need three.
    let mut history = Vec::new();
    for client in 0..2 {
        history.push(info(set(10 + client, "x", "v", (0, 0))));
    }
    for round in 0..3 {
        let start = 100 * (round + 1);
        history.push(get(0, "x", Some("v"), (start, start + 10)));
        history.push(set(0, "x", "other", (start + 20, start + 30)));
    }
    assert!(!verdict(&history));
    history.push(info(set(12, "x", "v", (0, 0))));
    assert!(verdict(&history));
}

#[test]
fn generated_histories_are_linearizable() {
    for seed in 0..20 {
        let shape = HistoryShape {
            operation_count: 300,
            client_count: 1 + seed % 6,
            key_count: 1 + seed % 3,
            value_count: if seed % 2 == 0 { None } else { Some(3) },
            info_percent: 10,
            fail_percent: 5,
            duration_max: 30,
            pause_max: 10,
        };
        let history = linearizable_history(&shape, &mut DeterministicRandom::new(seed));
        assert_eq!(history.len(), 300);
        assert!(verdict(&history), "seed {seed}");
    }
}

#[test]
fn generated_stale_reads_are_violations() {
    for seed in 0..20 {
        let shape = HistoryShape {
            operation_count: 200,
            client_count: 1 + seed % 5,
            key_count: 1 + seed % 2,
            value_count: if seed % 2 == 0 { None } else { Some(4) },
            ..HistoryShape::default()
        };
        let history = non_linearizable_history(&shape, &mut DeterministicRandom::new(seed));
        assert!(!verdict(&history), "seed {seed}");
    }
}
