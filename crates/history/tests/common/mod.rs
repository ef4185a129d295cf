//! Terse constructors for hand-written histories.

#![allow(dead_code)]

use synod_history::{Operation, OperationKind, Status};

fn operation(
    client: u64,
    op: OperationKind,
    key: &str,
    value: &str,
    found: bool,
    interval: (u64, u64),
) -> Operation {
    Operation {
        client,
        op,
        key: key.to_owned(),
        value: value.to_owned(),
        found,
        status: Status::Ok,
        call: interval.0,
        return_time: interval.1,
        node: None,
    }
}

/// An ok `set` of `value` during `interval` (call, return).
pub fn set(client: u64, key: &str, value: &str, interval: (u64, u64)) -> Operation {
    operation(client, OperationKind::Set, key, value, false, interval)
}

/// An ok `get` that read `value` (`None`: found nothing).
pub fn get(client: u64, key: &str, value: Option<&str>, interval: (u64, u64)) -> Operation {
    operation(
        client,
        OperationKind::Get,
        key,
        value.unwrap_or(""),
        value.is_some(),
        interval,
    )
}

/// An ok `contains` that answered `found`.
pub fn contains(client: u64, key: &str, found: bool, interval: (u64, u64)) -> Operation {
    operation(client, OperationKind::Contains, key, "", found, interval)
}

/// An ok `remove` that reported `found`.
pub fn remove(client: u64, key: &str, found: bool, interval: (u64, u64)) -> Operation {
    operation(client, OperationKind::Remove, key, "", found, interval)
}

/// The same operation with an unknown outcome (its return set to 0, as a
/// recorder that never got one might write).
pub fn info(mut operation: Operation) -> Operation {
    operation.status = Status::Info;
    operation.return_time = 0;
    operation
}

/// The same operation, rejected for certain.
pub fn fail(mut operation: Operation) -> Operation {
    operation.status = Status::Fail;
    operation
}
