//! Turns the simulator's records into the shared history format and checks
//! them: registers and expiring keys with synod's linearizability checker,
//! the counter and the agreed clock with the checks of
//! [`crate::workload_checks`].

use synod_history::{Operation, OperationKind, Status};

use crate::workload_checks::{
    check_agreed_time, check_balances, check_counter, check_expiring_reads, check_rights,
};
use crate::world::{Record, RecordStatus, EXPIRING_KEY_PREFIX};

/// A client id above every simulated client's, for the removals that
/// stand for expiry.
const EXPIRY_CLIENT_BASE: u64 = 1 << 32;

/// The records in the history format: every register and expiring-key
/// operation (the counter's `incr` has no form there).
pub fn to_operations(records: &[Record]) -> Vec<Operation> {
    records
        .iter()
        .filter(|record| {
            !matches!(
                record.operation,
                "incr" | "transfer" | "balances" | "rights" | "probe"
            )
        })
        .map(to_operation)
        .collect()
}

fn to_operation(record: &Record) -> Operation {
    Operation {
        client: record.client,
        op: match record.operation {
            "get" => OperationKind::Get,
            "set" => OperationKind::Set,
            "contains" => OperationKind::Contains,
            "remove" => OperationKind::Remove,
            other => unreachable!("the simulator records no {other} operations here"),
        },
        key: record.key.clone(),
        value: record.value.clone(),
        found: record.found,
        status: match record.status {
            RecordStatus::Ok => Status::Ok,
            RecordStatus::Fail => Status::Fail,
            RecordStatus::Info => Status::Info,
        },
        call: record.call,
        return_time: record.return_time,
        node: record.node,
    }
}

/// What the register checker is given: the history, plus for every write
/// of an expiring key an `info` removal from its call on, which stands for
/// the expiry (it may happen at any time after, or never). Whether it
/// happened no earlier than the agreed clock allows is
/// [`check_expiring_reads`]'s part.
fn operations_to_check(records: &[Record]) -> Vec<Operation> {
    let mut operations = to_operations(records);
    let expiries = records.iter().enumerate().filter(|(_, record)| {
        record.operation == "set"
            && record.key.starts_with(EXPIRING_KEY_PREFIX)
            && record.status != RecordStatus::Fail
    });
    for (index, record) in expiries {
        operations.push(Operation {
            client: EXPIRY_CLIENT_BASE + index as u64,
            op: OperationKind::Remove,
            key: record.key.clone(),
            value: String::new(),
            found: false,
            status: Status::Info,
            call: record.call,
            return_time: 0,
            node: None,
        });
    }
    operations
}

/// One line per violation: keys that are not linearizable, a counter
/// outside its bounds or out of order, money created or lost by transfers,
/// a read of an expired key, the agreed clock going back. `final_counter`
/// is the counter's value on the converged replicas (`None`: never
/// written), `final_balances_sum` the sum of their balances.
pub fn check_records(
    records: &[Record],
    final_counter: Option<i64>,
    final_balances_sum: i64,
) -> Vec<String> {
    let operations = operations_to_check(records);
    // Seeds already run in parallel: one thread per check is enough.
    let options = synod_history::CheckOptions {
        threads_max: 1,
        ..synod_history::CheckOptions::default()
    };
    let outcome = synod_history::check_history_with(&operations, &options);
    let mut violations: Vec<String> = outcome
        .violations
        .iter()
        .map(|violation| {
            let operations: Vec<String> = violation
                .operations
                .iter()
                .map(synod_history::to_json_line)
                .collect();
            format!(
                "linearizability: key {:?}: {} {}",
                violation.key,
                violation.explanation,
                operations.join(" ")
            )
        })
        .collect();
    violations.extend(check_counter(records, final_counter));
    violations.extend(check_balances(records, final_balances_sum));
    violations.extend(check_expiring_reads(records));
    violations.extend(check_agreed_time(records));
    violations.extend(check_rights(records));
    violations
}

/// The history as JSON Lines, for `--history` output and failing seeds.
pub fn to_json_lines(records: &[Record]) -> String {
    to_operations(records)
        .iter()
        .map(|operation| synod_history::to_json_line(operation) + "\n")
        .collect()
}
