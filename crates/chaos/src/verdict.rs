//! What a run's history says, besides linearizability: availability, the
//! longest time without an answer, recovery after each heal, and whether an
//! acknowledged write went missing.

use std::collections::BTreeMap;

use synod_history::{Operation, OperationKind, Status};

/// Availability figures of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Availability {
    /// Operations that completed `ok`, over all operations, in percent.
    pub percent: f64,
    /// The longest stretch with no operation completing `ok`, in
    /// nanoseconds, and where it began.
    pub longest_gap_nanoseconds: u64,
    /// Start of that stretch, in nanoseconds since the run began.
    pub longest_gap_start_nanoseconds: u64,
}

/// Availability of the client operations that ended before `end`.
pub fn availability(operations: &[Operation], start: u64, end: u64) -> Availability {
    let considered: Vec<&Operation> = operations
        .iter()
        .filter(|operation| operation.call >= start && operation.call < end)
        .collect();
    if considered.is_empty() {
        return Availability {
            percent: 0.0,
            longest_gap_nanoseconds: end.saturating_sub(start),
            longest_gap_start_nanoseconds: start,
        };
    }
    let ok = considered
        .iter()
        .filter(|operation| operation.status == Status::Ok)
        .count();
    let mut completions: Vec<u64> = considered
        .iter()
        .filter(|operation| operation.status == Status::Ok)
        .map(|operation| operation.return_time)
        .collect();
    completions.sort_unstable();
    let mut previous = start;
    let mut longest_gap = 0;
    let mut longest_gap_start_nanoseconds = start;
    for completion in completions.into_iter().chain(std::iter::once(end)) {
        let completion = completion.min(end);
        if completion.saturating_sub(previous) > longest_gap {
            longest_gap = completion - previous;
            longest_gap_start_nanoseconds = previous;
        }
        previous = previous.max(completion);
    }
    Availability {
        percent: 100.0 * ok as f64 / considered.len() as f64,
        longest_gap_nanoseconds: longest_gap,
        longest_gap_start_nanoseconds,
    }
}

/// Nanoseconds from `healed` to the first write that was called after it
/// and completed `ok`; `None` if none did before the run ended.
pub fn recovery_after(operations: &[Operation], healed: u64) -> Option<u64> {
    operations
        .iter()
        .filter(|operation| {
            operation.status == Status::Ok
                && operation.call >= healed
                && matches!(operation.op, OperationKind::Set | OperationKind::Remove)
        })
        .map(|operation| operation.return_time - healed)
        .min()
}

/// Figures of one nemesis over every window it was in force.
#[derive(Clone, Debug, PartialEq)]
pub struct NemesisFigures {
    /// The nemesis.
    pub nemesis: String,
    /// Faults it injected.
    pub faults: usize,
    /// Operations called while its faults were in force (until each heal)
    /// that completed `ok`, in percent.
    pub availability_percent: f64,
    /// The longest stretch without an `ok` answer inside one of its windows
    /// (each window running from injection to the first acknowledged write
    /// after the heal), in nanoseconds.
    pub worst_gap_nanoseconds: u64,
}

/// Availability and the worst unavailability window per nemesis.
pub fn per_nemesis(
    operations: &[Operation],
    faults: &[crate::timeline::FaultWindow],
) -> Vec<NemesisFigures> {
    let mut names: Vec<&str> = faults.iter().map(|fault| fault.nemesis.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let mut called = 0_usize;
            let mut ok = 0_usize;
            let mut worst_gap = 0;
            let mut count = 0;
            for fault in faults.iter().filter(|fault| fault.nemesis == name) {
                count += 1;
                let healed = fault.end_nanoseconds;
                let window_end = healed.saturating_add(fault.recovery_nanoseconds.unwrap_or(0));
                let inside = availability(operations, fault.start_nanoseconds, window_end);
                worst_gap = worst_gap.max(inside.longest_gap_nanoseconds);
                for operation in operations {
                    if operation.call >= fault.start_nanoseconds && operation.call < healed {
                        called += 1;
                        ok += usize::from(operation.status == Status::Ok);
                    }
                }
            }
            NemesisFigures {
                nemesis: name.to_string(),
                faults: count,
                availability_percent: if called == 0 {
                    0.0
                } else {
                    100.0 * ok as f64 / called as f64
                },
                worst_gap_nanoseconds: worst_gap,
            }
        })
        .collect()
}

/// Keys whose acknowledged write went missing: the final value (read from
/// every node once the cluster healed) is none that the last writes could
/// have left. `final_values` maps a key to what the final reads saw
/// (`None`: absent); keys never read finally are not judged.
///
/// A write can be the last one to take effect on its key unless an
/// acknowledged write of the key was called after it was acknowledged: such
/// a write is a candidate. An `ok` write that no later write could have overwritten must
/// be what the final read sees; if every candidate is ruled out, a write
/// was lost (or one applied that never happened). The linearizability check
/// covers this too, once the final reads are in the history; this check says
/// it in the words of the question "was an acknowledged write lost?".
pub fn lost_writes(
    operations: &[Operation],
    final_values: &BTreeMap<String, Option<String>>,
) -> Vec<String> {
    let mut writes: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for operation in operations {
        let is_write = matches!(operation.op, OperationKind::Set | OperationKind::Remove);
        if is_write && operation.status != Status::Fail {
            writes.entry(&operation.key).or_default().push(operation);
        }
    }
    let mut lost = Vec::new();
    for (key, final_value) in final_values {
        let Some(key_writes) = writes.get(key.as_str()) else {
            if final_value.is_some() {
                lost.push(format!(
                    "{key}: holds {final_value:?} but was never written"
                ));
            }
            continue;
        };
        // `later` certainly took effect after `earlier` did: both were
        // acknowledged and `later` was called once `earlier` had returned.
        // (A write of unknown outcome may take effect at any time, so it
        // never rules another out and is never ruled out.)
        let completed_before = |later: &Operation, earlier: &Operation| -> bool {
            later.status == Status::Ok
                && earlier.status == Status::Ok
                && earlier.return_time < later.call
        };
        // Candidates: writes that no acknowledged write certainly followed.
        let candidates: Vec<&&Operation> = key_writes
            .iter()
            .filter(|write| {
                !key_writes
                    .iter()
                    .any(|other| !std::ptr::eq(*other, **write) && completed_before(other, write))
            })
            .collect();
        let acknowledged = candidates.iter().any(|write| write.status == Status::Ok);
        let explained = candidates.iter().any(|write| match write.op {
            OperationKind::Set => final_value.as_deref() == Some(write.value.as_str()),
            _ => final_value.is_none(),
        });
        if acknowledged && !explained {
            let expected: Vec<String> = candidates
                .iter()
                .map(|write| match write.op {
                    OperationKind::Set => format!("{:?}", write.value),
                    _ => "absent".into(),
                })
                .collect();
            lost.push(format!(
                "{key}: the final reads saw {final_value:?}, but the last writes left one of {}",
                expected.join(", ")
            ));
        }
    }
    lost
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(value: &str, status: Status, call: u64, return_time: u64) -> Operation {
        Operation {
            client: 0,
            op: OperationKind::Set,
            key: "k".into(),
            value: value.into(),
            found: false,
            status,
            call,
            return_time,
            node: None,
        }
    }

    fn finals(value: Option<&str>) -> BTreeMap<String, Option<String>> {
        BTreeMap::from([("k".to_string(), value.map(str::to_string))])
    }

    #[test]
    fn the_last_acknowledged_write_must_survive() {
        let history = [
            write("1", Status::Ok, 0, 10),
            write("2", Status::Ok, 20, 30),
        ];
        assert!(lost_writes(&history, &finals(Some("2"))).is_empty());
        assert_eq!(lost_writes(&history, &finals(Some("1"))).len(), 1);
        assert_eq!(lost_writes(&history, &finals(None)).len(), 1);
    }

    #[test]
    fn a_concurrent_or_unknown_write_may_have_overwritten_it() {
        let history = [
            write("1", Status::Ok, 0, 30),
            write("2", Status::Info, 20, 0),
        ];
        assert!(lost_writes(&history, &finals(Some("1"))).is_empty());
        assert!(lost_writes(&history, &finals(Some("2"))).is_empty());
        assert_eq!(lost_writes(&history, &finals(Some("3"))).len(), 1);
    }

    #[test]
    fn availability_finds_the_longest_gap_between_answers() {
        let history = [
            write("1", Status::Ok, 0, 10),
            write("2", Status::Ok, 20, 500),
        ];
        let figures = availability(&history, 0, 600);
        assert_eq!(figures.longest_gap_nanoseconds, 490);
        assert_eq!(figures.longest_gap_start_nanoseconds, 10);
        assert!((figures.percent - 100.0).abs() < 1e-9);
        assert_eq!(recovery_after(&history, 15), Some(485));
    }
}
