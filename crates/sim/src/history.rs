//! Turns the simulator's records into the shared history format and checks
//! them with synod's linearizability checker.

use synod_history::{Operation, OperationKind, Status};

use crate::world::{Record, RecordStatus};

/// The records as history-format operations.
pub fn to_operations(records: &[Record]) -> Vec<Operation> {
    records
        .iter()
        .map(|record| Operation {
            client: record.client,
            op: match record.operation {
                "get" => OperationKind::Get,
                "set" => OperationKind::Set,
                "contains" => OperationKind::Contains,
                "remove" => OperationKind::Remove,
                other => unreachable!("the simulator records no {other} operations"),
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
        })
        .collect()
}

/// One line per key that is not linearizable; empty when all are.
pub fn check_records(records: &[Record]) -> Vec<String> {
    let operations = to_operations(records);
    // Seeds already run in parallel: one thread per check is enough.
    let options = synod_history::CheckOptions {
        threads_max: 1,
        ..synod_history::CheckOptions::default()
    };
    let outcome = synod_history::check_history_with(&operations, &options);
    outcome
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
        .collect()
}

/// The history as JSON Lines, for `--history` output and failing seeds.
pub fn to_json_lines(records: &[Record]) -> String {
    to_operations(records)
        .iter()
        .map(|operation| synod_history::to_json_line(operation) + "\n")
        .collect()
}
