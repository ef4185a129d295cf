//! The checks of the workload that the register checker cannot express:
//! the counter (Jepsen's counter check, strengthened by the order of the
//! answers), the bank (transfers conserve the total), reads of expiring
//! keys against the agreed clock, the agreed clock itself never going
//! back in real time, and reads judged by the rights in force.

use std::collections::HashMap;

use crate::world::{Record, RecordStatus, COUNTER_KEY, EXPIRING_KEY_PREFIX};

/// The counter only grows (every increment adds 1 to 10), so:
/// - its final value is at least the sum of the acknowledged increments,
///   and at most that plus the sum of those with an unknown outcome;
/// - every acknowledged increment answered a distinct value, no larger
///   than the final one;
/// - an increment that began after another was answered answers more.
pub fn check_counter(records: &[Record], final_counter: Option<i64>) -> Vec<String> {
    let increments: Vec<&Record> = records
        .iter()
        .filter(|record| record.operation == "incr" && record.key == COUNTER_KEY)
        .collect();
    if increments.is_empty() {
        return Vec::new();
    }
    let mut violations = Vec::new();
    let final_value = final_counter.unwrap_or(0);
    let sum_of = |status: RecordStatus| -> i64 {
        increments
            .iter()
            .filter(|record| record.status == status)
            .filter_map(|record| record.delta)
            .sum()
    };
    let acknowledged = sum_of(RecordStatus::Ok);
    let unknown = sum_of(RecordStatus::Info);
    if final_value < acknowledged || final_value > acknowledged + unknown {
        violations.push(format!(
            "counter: final value {final_value} is outside [{acknowledged}, {}] \
             (acknowledged increments sum to {acknowledged}, unknown ones to {unknown})",
            acknowledged + unknown
        ));
    }
    let mut answered: Vec<(u64, u64, i64)> = increments
        .iter()
        .filter(|record| record.status == RecordStatus::Ok)
        .map(|record| {
            let value = record.value.parse().unwrap_or(i64::MIN);
            (record.call, record.return_time, value)
        })
        .collect();
    answered.sort_by_key(|(_, _, value)| *value);
    for pair in answered.windows(2) {
        if pair[0].2 == pair[1].2 {
            violations.push(format!(
                "counter: two acknowledged increments both answered {}",
                pair[0].2
            ));
        }
        // Sorted by value: a later value must not have returned before the
        // smaller one was called.
        let (smaller_call, _, smaller) = pair[0];
        let (_, larger_return, larger) = pair[1];
        if larger_return < smaller_call {
            violations.push(format!(
                "counter: an increment answered {larger} before another one that answered \
                 {smaller} began (return {larger_return} < call {smaller_call})"
            ));
        }
    }
    if let Some((_, _, largest)) = answered.last() {
        if *largest > final_value {
            violations.push(format!(
                "counter: an increment answered {largest}, above the final value {final_value}"
            ));
        }
    }
    violations
}

/// Transfers move money and never make or lose any: every read of all
/// balances at once sums to 0, and so do the balances at the end.
pub fn check_balances(records: &[Record], final_sum: i64) -> Vec<String> {
    let mut violations: Vec<String> = records
        .iter()
        .filter(|record| record.operation == "balances" && record.status == RecordStatus::Ok)
        .filter(|record| record.value != "0")
        .map(|record| {
            format!(
                "bank: client {} read balances summing to {} (call {}, return {})",
                record.client, record.value, record.call, record.return_time
            )
        })
        .collect();
    if final_sum != 0 {
        violations.push(format!("bank: the final balances sum to {final_sum}"));
    }
    violations
}

/// A read of an expiring key that returned a value must have observed an
/// agreed time before that value's deadline: no linearizable read returns a
/// key after its expiry, as measured by the time the cluster agreed on.
/// Values are unique, so each names the write (and deadline) it came from.
pub fn check_expiring_reads(records: &[Record]) -> Vec<String> {
    let deadlines: HashMap<(&str, &str), u64> = records
        .iter()
        .filter(|record| record.operation == "set")
        .filter_map(|record| {
            record
                .deadline
                .map(|deadline| ((record.key.as_str(), record.value.as_str()), deadline))
        })
        .collect();
    let mut violations = Vec::new();
    for record in records.iter().filter(|record| {
        record.operation == "get"
            && record.found
            && record.status == RecordStatus::Ok
            && record.key.starts_with(EXPIRING_KEY_PREFIX)
    }) {
        let Some(deadline) = deadlines.get(&(record.key.as_str(), record.value.as_str())) else {
            violations.push(format!(
                "expiry: a read of {:?} returned {:?}, which no write stored",
                record.key, record.value
            ));
            continue;
        };
        match record.agreed_time {
            Some(time) if time < *deadline => {}
            time => violations.push(format!(
                "expiry: client {} read {:?} = {:?} at agreed time {time:?}, at or after its \
                 deadline {deadline}",
                record.client, record.key, record.value
            )),
        }
    }
    violations
}

/// The agreed time never goes back in real time: an operation that began
/// after another was answered observed an agreed time at least as late.
pub fn check_agreed_time(records: &[Record]) -> Vec<String> {
    let mut timed: Vec<(u64, u64, u64)> = records
        .iter()
        .filter(|record| record.status == RecordStatus::Ok)
        .filter_map(|record| {
            record
                .agreed_time
                .map(|time| (record.call, record.return_time, time))
        })
        .collect();
    let mut by_call = timed.clone();
    by_call.sort_by_key(|(call, _, _)| *call);
    timed.sort_by_key(|(_, return_time, _)| *return_time);
    // Sweep the calls in order, keeping the latest agreed time of every
    // operation that returned strictly before the current call.
    let mut returned = timed.iter().peekable();
    let mut latest_returned: Option<(u64, u64)> = None;
    let mut violations = Vec::new();
    for (call, _, time) in by_call {
        while let Some((_, return_time, returned_time)) =
            returned.next_if(|(_, return_time, _)| *return_time < call)
        {
            if latest_returned.is_none_or(|(latest, _)| *returned_time > latest) {
                latest_returned = Some((*returned_time, *return_time));
            }
        }
        if let Some((latest, at)) = latest_returned {
            if time < latest {
                violations.push(format!(
                    "agreed time: an operation called at {call} observed {time}, but one that \
                     returned at {at} had observed {latest}"
                ));
                break;
            }
        }
    }
    violations
}

/// Every read as the probe user (`probe`, `found`: allowed) was judged by
/// rights that may have been in force at its linearization point: those of
/// a change (`rights`, `grant` or `revoke`) that may be the last applied
/// before it, or the initial ones (no user: denied) if no change was
/// acknowledged before it began. A change acknowledged before another
/// began, which was itself acknowledged before the read began, is certainly
/// not the last; a change of unknown outcome may apply at any time after
/// its call.
pub fn check_rights(records: &[Record]) -> Vec<String> {
    let changes: Vec<&Record> = records
        .iter()
        .filter(|record| record.operation == "rights" && record.status != RecordStatus::Fail)
        .collect();
    let acknowledged_before =
        |change: &Record, time: u64| change.status == RecordStatus::Ok && change.return_time < time;
    let mut violations = Vec::new();
    for probe in records
        .iter()
        .filter(|record| record.operation == "probe" && record.status == RecordStatus::Ok)
    {
        let overwritten = |change: &Record| {
            change.status == RecordStatus::Ok
                && changes.iter().any(|later| {
                    later.call > change.return_time && acknowledged_before(later, probe.call)
                })
        };
        let candidates: Vec<&&Record> = changes
            .iter()
            .filter(|change| change.call < probe.return_time && !overwritten(change))
            .collect();
        let initial_possible = !changes
            .iter()
            .any(|change| acknowledged_before(change, probe.call));
        let possible = |kind: &str| candidates.iter().any(|change| change.value == kind);
        let explained = if probe.found {
            possible("grant")
        } else {
            initial_possible || possible("revoke")
        };
        if !explained {
            violations.push(format!(
                "rights: a read as the probe called at {} and answered at {} by node {:?} was {}, \
                 but every change that may have been in force then says otherwise",
                probe.call,
                probe.return_time,
                probe.node,
                if probe.found { "allowed" } else { "denied" },
            ));
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(operation: &'static str, value: &str, found: bool, times: (u64, u64)) -> Record {
        Record {
            client: 1,
            operation,
            key: String::new(),
            value: value.to_owned(),
            found,
            status: if times.1 == 0 {
                RecordStatus::Info
            } else {
                RecordStatus::Ok
            },
            call: times.0,
            return_time: times.1,
            node: Some(1),
            agreed_time: None,
            deadline: None,
            delta: None,
        }
    }

    #[test]
    fn a_read_is_judged_by_the_rights_of_its_time() {
        let grant = record("rights", "grant", false, (10, 20));
        let revoke = record("rights", "revoke", false, (30, 40));
        let probe = |allowed, times| record("probe", "", allowed, times);
        // Before any change: denied only.
        assert!(check_rights(&[probe(false, (1, 5))]).is_empty());
        assert_eq!(check_rights(&[probe(true, (1, 5))]).len(), 1);
        // Between the grant's acknowledgement and the revoke's call:
        // allowed only.
        let granted = [grant.clone(), revoke.clone()];
        assert!(check_rights(&[granted.to_vec(), vec![probe(true, (21, 29))]].concat()).is_empty());
        assert_eq!(
            check_rights(&[granted.to_vec(), vec![probe(false, (21, 29))]].concat()).len(),
            1
        );
        // Overlapping the revoke: either.
        for allowed in [true, false] {
            let history = [granted.to_vec(), vec![probe(allowed, (25, 35))]].concat();
            assert!(check_rights(&history).is_empty());
        }
        // After the revoke was acknowledged, the grant is overwritten.
        assert_eq!(
            check_rights(&[granted.to_vec(), vec![probe(true, (41, 50))]].concat()).len(),
            1
        );
        // A change of unknown outcome may land at any time after its call.
        let unknown = record("rights", "grant", false, (35, 0));
        let history = [granted.to_vec(), vec![unknown, probe(true, (41, 50))]].concat();
        assert!(check_rights(&history).is_empty());
    }
}
