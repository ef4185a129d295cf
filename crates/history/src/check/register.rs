//! The history of one key, reduced to what the search needs: a register whose
//! states are small integers, the `ok` operations that must be linearized and
//! the `info` writes that may be.
//!
//! Values are interned into register states. A value that no `ok` `get` ever
//! returns cannot be told apart from another such value by any operation of
//! this key (`contains` and `remove` only see presence), so all of them share
//! one state, [`STATE_UNREAD_VALUE`]. This is exact, and it makes writes of
//! never-read values interchangeable, which the search exploits.

use std::collections::HashMap;

use crate::operation::{Operation, OperationKind, Status};

/// The register state "key absent".
pub(crate) const STATE_ABSENT: u32 = 0;
/// The register state "present, holding a value no `ok` `get` returns".
pub(crate) const STATE_UNREAD_VALUE: u32 = 1;
/// The first state that stands for one particular value read by some `get`.
const STATE_FIRST_READ_VALUE: u32 = 2;

/// What an operation does to, and demands of, the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// A `get`: with `found` the register must hold `state`, else be absent.
    Get { found: bool, state: u32 },
    /// A `contains`: the register's presence must equal `found`.
    Contains { found: bool },
    /// A `set`: the register becomes `state`.
    Set { state: u32 },
    /// A `remove`: presence must equal `found`; the register becomes absent.
    Remove { found: bool },
}

impl Effect {
    /// The state after applying this operation in `state`, or `None` if the
    /// operation's result is impossible in `state`.
    pub(crate) fn apply(self, state: u32) -> Option<u32> {
        let present = state != STATE_ABSENT;
        match self {
            Effect::Get {
                found: true,
                state: expected,
            } => (state == expected).then_some(state),
            Effect::Get { found: false, .. } => (!present).then_some(state),
            Effect::Contains { found } => (present == found).then_some(state),
            Effect::Set { state: written } => Some(written),
            Effect::Remove { found } => (present == found).then_some(STATE_ABSENT),
        }
    }

    /// Whether the operation never changes the state in which it is legal.
    /// Such an operation can be linearized as soon as it is legal without
    /// losing any linearization (see the search module).
    pub(crate) fn is_pure(self) -> bool {
        !matches!(self, Effect::Set { .. } | Effect::Remove { found: true })
    }

    /// Whether the operation's legality depends on the state.
    pub(crate) fn is_observer(self) -> bool {
        !matches!(self, Effect::Set { .. })
    }
}

/// An `ok` operation: it must be linearized between `call` and `return_time`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CompletedOperation {
    /// Index in the key's operation list.
    pub(crate) source: u32,
    pub(crate) effect: Effect,
    pub(crate) call: u64,
    pub(crate) return_time: u64,
}

/// An `info` `set` or `remove`: it may take effect once, at any time after
/// `call`, or never. Either way it is a blind write of `written_state`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingWrite {
    /// Index in the key's operation list.
    pub(crate) source: u32,
    pub(crate) written_state: u32,
    pub(crate) call: u64,
}

/// One key's history, ready for the search.
#[derive(Debug)]
pub(crate) struct Register {
    pub(crate) completed: Vec<CompletedOperation>,
    pub(crate) pending_writes: Vec<PendingWrite>,
    /// Number of distinct register states (absent, unread value, each read
    /// value).
    pub(crate) state_count: u32,
}

impl Register {
    /// Reduces one key's operations. `fail` operations and `info` reads are
    /// dropped: the first certainly did not happen, the second constrain
    /// nothing.
    pub(crate) fn new(operations: &[&Operation]) -> Register {
        assert!(
            operations.len() < u32::MAX as usize,
            "too many operations on one key"
        );
        let mut read_states: HashMap<&str, u32> = HashMap::new();
        for operation in operations {
            if operation.status == Status::Ok
                && operation.op == OperationKind::Get
                && operation.found
            {
                let next_state = STATE_FIRST_READ_VALUE + read_states.len() as u32;
                read_states
                    .entry(operation.value.as_str())
                    .or_insert(next_state);
            }
        }
        let state_of = |value: &str| {
            read_states
                .get(value)
                .copied()
                .unwrap_or(STATE_UNREAD_VALUE)
        };
        let mut completed = Vec::new();
        let mut pending_writes = Vec::new();
        for (index, operation) in operations.iter().enumerate() {
            let source = index as u32;
            match operation.status {
                Status::Fail => {}
                Status::Info => {
                    let written_state = match operation.op {
                        OperationKind::Set => state_of(&operation.value),
                        OperationKind::Remove => STATE_ABSENT,
                        OperationKind::Get | OperationKind::Contains => continue,
                    };
                    pending_writes.push(PendingWrite {
                        source,
                        written_state,
                        call: operation.call,
                    });
                }
                Status::Ok => {
                    let effect = match operation.op {
                        OperationKind::Get => Effect::Get {
                            found: operation.found,
                            state: if operation.found {
                                state_of(&operation.value)
                            } else {
                                STATE_ABSENT
                            },
                        },
                        OperationKind::Set => Effect::Set {
                            state: state_of(&operation.value),
                        },
                        OperationKind::Contains => Effect::Contains {
                            found: operation.found,
                        },
                        OperationKind::Remove => Effect::Remove {
                            found: operation.found,
                        },
                    };
                    completed.push(CompletedOperation {
                        source,
                        effect,
                        call: operation.call,
                        // A record that returns before its call cannot come
                        // from the parser; an in-memory one is read as an
                        // instantaneous operation at its call.
                        return_time: operation.return_time.max(operation.call),
                    });
                }
            }
        }
        Register {
            completed,
            pending_writes,
            state_count: STATE_FIRST_READ_VALUE + read_states.len() as u32,
        }
    }
}
