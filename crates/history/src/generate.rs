//! Random histories for tests, benchmarks and the simulator's tests: ones that
//! are linearizable by construction, and ones that certainly are not.
//!
//! A linearizable history is made by simulating clients against one atomic
//! register per key: every operation that takes effect gets a linearization
//! point inside its interval (an `info` one possibly after the client gave
//! up), the register is applied in the order of those points, and the
//! results are what it answered. Randomness comes from a seeded
//! [`DeterministicRandom`], so a seed reproduces a history.

use std::collections::HashMap;

use crate::operation::{Operation, OperationKind, Status};

/// How many times [`inject_stale_read`] tries to corrupt an existing read
/// before it appends a stale read of its own.
const STALE_READ_ATTEMPTS_MAX: usize = 200;

/// A small seeded pseudo-random generator (SplitMix64): deterministic, fast,
/// and good enough for test data.
#[derive(Debug, Clone)]
pub struct DeterministicRandom {
    state: u64,
}

impl DeterministicRandom {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        DeterministicRandom { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    /// A number in `0..bound`; `bound` must be positive.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "an empty range has no random member");
        // The modulo bias is at most bound / 2^64: irrelevant for test data.
        self.next_u64() % bound
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The shape of a generated history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryShape {
    /// Operations in all (split evenly over the clients).
    pub operation_count: usize,
    /// Concurrent clients, each running one operation at a time.
    pub client_count: u64,
    /// Keys, named `k0`, `k1`, ...
    pub key_count: u64,
    /// Distinct values a `set` picks from (`v0`, `v1`, ...); `None` writes a
    /// fresh value every time, which makes reads pin down their write.
    pub value_count: Option<u64>,
    /// Percent of operations whose outcome the client does not learn
    /// (`info`); half of those take effect.
    pub info_percent: u64,
    /// Percent of operations rejected for certain (`fail`).
    pub fail_percent: u64,
    /// Longest operation, in clock units.
    pub duration_max: u64,
    /// Longest pause of a client between two operations, in clock units.
    pub pause_max: u64,
}

impl Default for HistoryShape {
    fn default() -> Self {
        HistoryShape {
            operation_count: 1_000,
            client_count: 5,
            key_count: 1,
            value_count: None,
            info_percent: 5,
            fail_percent: 2,
            duration_max: 100,
            pause_max: 50,
        }
    }
}

/// An operation under construction with the point where it takes effect.
struct Planned {
    operation: Operation,
    effect_time: Option<u64>,
}

/// A random history that is linearizable by construction, sorted by call.
pub fn linearizable_history(
    shape: &HistoryShape,
    random: &mut DeterministicRandom,
) -> Vec<Operation> {
    assert!(shape.client_count > 0 && shape.key_count > 0);
    assert!(shape.info_percent + shape.fail_percent <= 100);
    let mut planned = Vec::with_capacity(shape.operation_count);
    for client in 0..shape.client_count {
        let share = shape.operation_count as u64 / shape.client_count
            + u64::from(client < shape.operation_count as u64 % shape.client_count);
        let mut time = random.below(shape.pause_max + 1);
        for sequence in 0..share {
            let planned_operation = plan_operation(shape, random, client, sequence, time);
            time = planned_operation.operation.return_time;
            planned.push(planned_operation);
        }
    }
    apply_in_effect_order(&mut planned);
    let mut history: Vec<Operation> = planned
        .into_iter()
        .map(|planned| planned.operation)
        .collect();
    history.sort_by_key(|operation| (operation.call, operation.client));
    history
}

fn plan_operation(
    shape: &HistoryShape,
    random: &mut DeterministicRandom,
    client: u64,
    sequence: u64,
    time: u64,
) -> Planned {
    let op = match random.below(100) {
        0..40 => OperationKind::Get,
        40..75 => OperationKind::Set,
        75..85 => OperationKind::Contains,
        _ => OperationKind::Remove,
    };
    let value = match (op, shape.value_count) {
        (OperationKind::Set, None) => format!("{client}.{sequence}"),
        (OperationKind::Set, Some(count)) => format!("v{}", random.below(count)),
        _ => String::new(),
    };
    let call = time + random.below(shape.pause_max + 1);
    let duration = random.below(shape.duration_max + 1);
    let return_time = call + duration;
    let roll = random.below(100);
    let (status, effect_time) = if roll < shape.fail_percent {
        (Status::Fail, None)
    } else if roll < shape.fail_percent + shape.info_percent {
        // An abandoned request may still be applied, even after the client
        // gave up on it.
        let applied = random.percent(50);
        let effect_time = applied.then(|| call + random.below(3 * duration + 1));
        (Status::Info, effect_time)
    } else {
        (Status::Ok, Some(call + random.below(duration + 1)))
    };
    Planned {
        operation: Operation {
            client,
            op,
            key: format!("k{}", random.below(shape.key_count)),
            value,
            found: false,
            status,
            call,
            return_time,
            node: Some(random.below(3)),
        },
        effect_time,
    }
}

/// Applies the operations that take effect to one register per key in the
/// order of their effect times and records the answers.
fn apply_in_effect_order(planned: &mut [Planned]) {
    let mut order: Vec<(u64, usize)> = planned
        .iter()
        .enumerate()
        .filter_map(|(index, planned)| planned.effect_time.map(|time| (time, index)))
        .collect();
    // Equal effect times are inside both intervals, so either order is
    // consistent with real time.
    order.sort_unstable();
    let mut registers: HashMap<String, String> = HashMap::new();
    for (_, index) in order {
        let operation = &mut planned[index].operation;
        let current = registers.get(&operation.key).cloned();
        match operation.op {
            OperationKind::Get => {
                operation.found = current.is_some();
                operation.value = current.unwrap_or_default();
            }
            OperationKind::Contains => operation.found = current.is_some(),
            OperationKind::Set => {
                registers.insert(operation.key.clone(), operation.value.clone());
            }
            OperationKind::Remove => {
                operation.found = registers.remove(&operation.key).is_some();
            }
        }
        // A client that never learnt the answer records none.
        if operation.status == Status::Info && operation.op != OperationKind::Set {
            operation.found = false;
            operation.value.clear();
        }
    }
}

/// Makes `history` certainly non-linearizable with a stale read, and returns
/// the index of the read.
///
/// Preferably an `ok` `get` is changed to return a value `v` whose only write
/// completed before another `ok` write that completed before the `get` was
/// called: `v` is gone for good by then. When no such pair exists, a write, an
/// overwrite and a stale read are appended after everything else.
pub fn inject_stale_read(history: &mut Vec<Operation>, random: &mut DeterministicRandom) -> usize {
    let mut writers: HashMap<(&str, &str), usize> = HashMap::new();
    for operation in history.iter() {
        if operation.op == OperationKind::Set {
            *writers
                .entry((&operation.key, &operation.value))
                .or_default() += 1;
        }
    }
    let is_ok_write = |operation: &Operation| {
        operation.status == Status::Ok
            && matches!(operation.op, OperationKind::Set | OperationKind::Remove)
    };
    let mut choice = None;
    if !history.is_empty() {
        for _ in 0..STALE_READ_ATTEMPTS_MAX {
            let read = random.below(history.len() as u64) as usize;
            let get = &history[read];
            if get.status != Status::Ok || get.op != OperationKind::Get {
                continue;
            }
            let overwrites: Vec<&Operation> = history
                .iter()
                .filter(|write| {
                    write.key == get.key && is_ok_write(write) && write.return_time < get.call
                })
                .collect();
            if overwrites.is_empty() {
                continue;
            }
            let overwrite = overwrites[random.below(overwrites.len() as u64) as usize];
            let stale: Vec<&Operation> = history
                .iter()
                .filter(|set| {
                    set.key == get.key
                        && set.status == Status::Ok
                        && set.op == OperationKind::Set
                        && set.return_time < overwrite.call
                        && set.value != get.value
                        && writers[&(set.key.as_str(), set.value.as_str())] == 1
                })
                .collect();
            if stale.is_empty() {
                continue;
            }
            choice = Some((
                read,
                stale[random.below(stale.len() as u64) as usize]
                    .value
                    .clone(),
            ));
            break;
        }
    }
    if let Some((read, value)) = choice {
        history[read].value = value;
        history[read].found = true;
        return read;
    }
    append_stale_read(history)
}

fn append_stale_read(history: &mut Vec<Operation>) -> usize {
    let start = history
        .iter()
        .map(|operation| operation.call.max(operation.return_time))
        .max()
        .map_or(0, |time| time + 1);
    let client = history
        .iter()
        .map(|operation| operation.client + 1)
        .max()
        .unwrap_or(0);
    let key = history
        .first()
        .map_or_else(|| "k0".to_owned(), |operation| operation.key.clone());
    let make = |op, value: &str, found, call| Operation {
        client,
        op,
        key: key.clone(),
        value: value.to_owned(),
        found,
        status: Status::Ok,
        call,
        return_time: call + 1,
        node: None,
    };
    let old_value = format!("stale-{start}-old");
    let new_value = format!("stale-{start}-new");
    history.push(make(OperationKind::Set, &old_value, false, start));
    history.push(make(OperationKind::Set, &new_value, false, start + 2));
    history.push(make(OperationKind::Get, &old_value, true, start + 4));
    history.len() - 1
}

/// A random history with one stale read: certainly not linearizable.
pub fn non_linearizable_history(
    shape: &HistoryShape,
    random: &mut DeterministicRandom,
) -> Vec<Operation> {
    let mut history = linearizable_history(shape, random);
    inject_stale_read(&mut history, random);
    history
}
