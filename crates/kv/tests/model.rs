//! Model-based test: the store against a plain reference model, a `BTreeMap`
//! for the data and a list of sessions searched linearly for eviction,
//! written straight from the rules in the `Store` documentation. Expiry is
//! modelled lazily, unlike the store: a key past its deadline lingers in the
//! model's map and is purged before each operation looks.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use common::{operation_with, small_key};
use proptest::prelude::*;
use synod_kv::{
    Command, ExpireCondition, Expiry, KeyExpiry, KeyVersion, Operation, Refusal, Response,
    Sequence, SessionId, SetCondition, Store, StoreConfig, UnixMillis,
    TOMBSTONE_RETENTION_COMMANDS, VALUE_SIZE_MAX_BYTES,
};

#[derive(Debug, Clone)]
struct ModelSession {
    id: u64,
    sequence_last: u64,
    answer: Option<Response>,
    used_last: u64,
}

/// A deadline resolved against the model's clock: `Some(None)` past (the
/// key goes), `Some(Some(t))` a future deadline, `None` out of range.
type ModelDeadline = Option<Option<u64>>;

#[derive(Debug)]
struct Model {
    entries: BTreeMap<Bytes, Bytes>,
    deadlines: BTreeMap<Bytes, u64>,
    clock: u64,
    /// When each existing key last changed (value or deadline).
    changed: BTreeMap<Bytes, u64>,
    /// When each recently removed key was removed.
    tombstones: BTreeMap<Bytes, u64>,
    /// The applied-command count of the operation being executed.
    now: u64,
    sessions: Vec<ModelSession>,
    sessions_max: usize,
    session_id_next: u64,
    applied_commands: u64,
}

impl Model {
    fn new(sessions_max: usize) -> Model {
        Model {
            entries: BTreeMap::new(),
            deadlines: BTreeMap::new(),
            clock: 0,
            changed: BTreeMap::new(),
            tombstones: BTreeMap::new(),
            now: 0,
            sessions: Vec::new(),
            sessions_max,
            session_id_next: 1,
            applied_commands: 0,
        }
    }

    fn apply(&mut self, command: &Command) -> Response {
        self.applied_commands += 1;
        let now = self.applied_commands;
        let operation = &command.operation;
        let Some(tag) = command.session else {
            return self.execute(operation, now);
        };
        if *operation == Operation::RegisterSession {
            return Response::InvalidCommand;
        }
        let Some(index) = self.sessions.iter().position(|s| s.id == tag.session.0) else {
            return Response::SessionExpired;
        };
        self.sessions[index].used_last = now;
        let session = self.sessions[index].clone();
        let sequence = tag.sequence.0;
        if sequence > session.sequence_last {
            let response = self.execute(operation, now);
            let session = &mut self.sessions[index];
            session.sequence_last = sequence;
            session.answer = if operation.is_read() {
                None
            } else {
                Some(response.clone())
            };
            response
        } else if sequence == session.sequence_last {
            match session.answer {
                Some(answer) => answer,
                None if operation.is_read() => self.execute(operation, now),
                None => Response::SequenceStale,
            }
        } else {
            Response::SequenceStale
        }
    }

    /// Removes the keys whose deadline is at or before the clock.
    fn purge(&mut self) {
        let due: Vec<Bytes> = self
            .deadlines
            .iter()
            .filter(|(_, deadline)| **deadline <= self.clock)
            .map(|(key, _)| key.clone())
            .collect();
        for key in due {
            self.remove(&key);
        }
    }

    fn deadline(&self, time: i64, relative: bool) -> ModelDeadline {
        let time = if relative {
            i64::try_from(self.clock).ok()?.checked_add(time)?
        } else {
            time
        };
        Some((time > 0 && time as u64 > self.clock).then_some(time as u64))
    }

    /// The deadline an expiry names (`Some(None)` for clear, keep and past).
    fn resolve(&self, expiry: Expiry) -> ModelDeadline {
        match expiry {
            Expiry::Clear | Expiry::Keep => Some(None),
            Expiry::At(time) => self.deadline(time, false),
            Expiry::After(time) => self.deadline(time, true),
        }
    }

    /// Removes the key, its deadline and its change; leaves a tombstone
    /// and drops those past the retention.
    fn remove(&mut self, key: &Bytes) -> Option<Bytes> {
        self.deadlines.remove(key);
        self.changed.remove(key);
        let removed = self.entries.remove(key)?;
        self.tombstones.insert(key.clone(), self.now);
        let now = self.now;
        self.tombstones
            .retain(|_, removed| *removed + TOMBSTONE_RETENTION_COMMANDS >= now);
        Some(removed)
    }

    /// The key changed now.
    fn touch(&mut self, key: &Bytes) {
        self.changed.insert(key.clone(), self.now);
        self.tombstones.remove(key);
    }

    /// Stores as `SET` does: the deadline goes.
    fn store(&mut self, key: &Bytes, value: &Bytes) {
        self.deadlines.remove(key);
        self.put(key, value);
    }

    /// Stores as `INCR` does: the deadline stays.
    fn put(&mut self, key: &Bytes, value: &Bytes) {
        self.touch(key);
        self.entries.insert(key.clone(), value.clone());
    }

    /// What `WATCH` sees of the key.
    fn version(&self, key: &Bytes) -> KeyVersion {
        match (self.changed.get(key), self.tombstones.get(key)) {
            (Some(changed), _) => KeyVersion::Changed(*changed),
            (None, Some(removed)) => KeyVersion::Changed(*removed),
            (None, None) => KeyVersion::UnchangedAsOf(self.applied_commands),
        }
    }

    fn execute(&mut self, operation: &Operation, now: u64) -> Response {
        self.now = now;
        self.purge();
        match operation {
            Operation::Access(_) => {
                unreachable!("the model covers keys; users have tests of their own")
            }
            Operation::IncrementByFloat { key, increment } => {
                use synod_kv::float;
                let Some(increment) = float::parse(increment) else {
                    return Response::Refused(Refusal::NotFloat);
                };
                let current = match self.entries.get(key) {
                    None => float::Decimal::ZERO,
                    Some(value) => match float::parse(value) {
                        Some(current) => current,
                        None => return Response::Refused(Refusal::NotFloat),
                    },
                };
                let Some(sum) = float::add(current, increment) else {
                    return Response::Refused(Refusal::FloatOverflow);
                };
                let printed = Bytes::from(float::print(sum));
                self.put(key, &printed);
                Response::Value(Some(printed))
            }
            Operation::Keys { pattern } => Response::Keys(
                self.entries
                    .keys()
                    .filter(|key| synod_kv::pattern::matches(pattern, key))
                    .cloned()
                    .collect(),
            ),
            Operation::Scan { .. } | Operation::RandomKey { .. } => {
                unreachable!("scans are checked by their own property test")
            }
            Operation::Flush => {
                let keys: Vec<Bytes> = self.entries.keys().cloned().collect();
                for key in keys {
                    self.remove(&key);
                }
                Response::Stored(true)
            }
            Operation::Rename {
                from,
                to,
                only_if_absent,
            } => {
                let Some(value) = self.entries.get(from).cloned() else {
                    return Response::Refused(Refusal::NoSuchKey);
                };
                let renamed = from != to && !(*only_if_absent && self.entries.contains_key(to));
                if renamed {
                    let deadline = self.deadlines.get(from).copied();
                    self.remove(from);
                    self.store(to, &value);
                    if let Some(deadline) = deadline {
                        self.deadlines.insert(to.clone(), deadline);
                    }
                }
                if *only_if_absent {
                    Response::Count(u64::from(renamed))
                } else {
                    Response::Stored(true)
                }
            }
            Operation::Copy { from, to, replace } => {
                if from == to {
                    return Response::Refused(Refusal::SameObject);
                }
                let Some(value) = self.entries.get(from).cloned() else {
                    return Response::Count(0);
                };
                if !replace && self.entries.contains_key(to) {
                    return Response::Count(0);
                }
                let deadline = self.deadlines.get(from).copied();
                self.store(to, &value);
                if let Some(deadline) = deadline {
                    self.deadlines.insert(to.clone(), deadline);
                }
                Response::Count(1)
            }
            Operation::SetRange { key, offset, value } => {
                let mut current = self
                    .entries
                    .get(key)
                    .map(|v| v.to_vec())
                    .unwrap_or_default();
                if value.is_empty() {
                    return Response::Count(current.len() as u64);
                }
                let offset = *offset as usize;
                if current.len() < offset + value.len() {
                    current.resize(offset + value.len(), 0);
                }
                current[offset..offset + value.len()].copy_from_slice(value);
                let length = current.len() as u64;
                self.put(key, &Bytes::from(current));
                Response::Count(length)
            }
            Operation::GetMany { keys } => Response::Values(
                keys.iter()
                    .map(|key| self.entries.get(key).cloned())
                    .collect(),
            ),
            Operation::ReadVersions { keys } => {
                Response::Versions(keys.iter().map(|key| self.version(key)).collect())
            }
            Operation::Transaction {
                watches,
                operations,
            } => {
                let unchanged =
                    watches
                        .iter()
                        .all(|(key, watched)| match (*watched, self.version(key)) {
                            (KeyVersion::Changed(then), KeyVersion::Changed(current)) => {
                                then == current
                            }
                            (
                                KeyVersion::UnchangedAsOf(then),
                                KeyVersion::UnchangedAsOf(current),
                            ) => then <= current && current - then < TOMBSTONE_RETENTION_COMMANDS,
                            _ => false,
                        });
                if !unchanged {
                    return Response::Aborted;
                }
                Response::Transaction(
                    operations
                        .iter()
                        .map(|operation| self.execute(operation, now))
                        .collect(),
                )
            }
            Operation::AdvanceClock { now } => {
                let before = self.entries.len();
                self.clock = self.clock.max(now.0);
                self.purge();
                Response::Count((before - self.entries.len()) as u64)
            }
            Operation::SetExpiring {
                key,
                value,
                condition,
                expiry,
                answer_previous,
            } => {
                let Some(deadline) = self.resolve(*expiry) else {
                    return Response::Refused(Refusal::InvalidExpireTime);
                };
                let previous = self.entries.get(key).cloned();
                let stores = match condition {
                    SetCondition::Always => true,
                    SetCondition::IfAbsent => previous.is_none(),
                    SetCondition::IfPresent => previous.is_some(),
                };
                if stores {
                    let kept = self.deadlines.get(key).copied();
                    self.store(key, value);
                    match (expiry, deadline) {
                        (Expiry::Clear, _) => {}
                        (Expiry::Keep, _) => {
                            if let Some(kept) = kept {
                                self.deadlines.insert(key.clone(), kept);
                            }
                        }
                        (_, Some(deadline)) => {
                            self.deadlines.insert(key.clone(), deadline);
                        }
                        (_, None) => {
                            self.remove(key);
                        }
                    }
                }
                if *answer_previous {
                    Response::Value(previous)
                } else {
                    Response::Stored(stores)
                }
            }
            Operation::Expire {
                key,
                expiry,
                condition,
            } => {
                let deadline = match *expiry {
                    Expiry::At(time) => self.deadline(time, false),
                    Expiry::After(time) => self.deadline(time, true),
                    Expiry::Clear | Expiry::Keep => unreachable!("refused by validate"),
                };
                let Some(deadline) = deadline else {
                    return Response::Refused(Refusal::InvalidExpireTime);
                };
                if !self.entries.contains_key(key) {
                    return Response::Count(0);
                }
                let current = self.deadlines.get(key).copied();
                let new = deadline.unwrap_or(0);
                let allowed = match condition {
                    ExpireCondition::Always => true,
                    ExpireCondition::IfNone => current.is_none(),
                    ExpireCondition::IfSome => current.is_some(),
                    ExpireCondition::IfLater => current.is_some_and(|current| new > current),
                    ExpireCondition::IfEarlier => current.is_none_or(|current| new < current),
                    ExpireCondition::IfSomeAndEarlier => {
                        current.is_some() && current.is_none_or(|current| new < current)
                    }
                };
                if !allowed {
                    return Response::Count(0);
                }
                match deadline {
                    Some(deadline) => {
                        self.deadlines.insert(key.clone(), deadline);
                        self.touch(key);
                    }
                    None => {
                        self.remove(key);
                    }
                }
                Response::Count(1)
            }
            Operation::Persist { key } => {
                let persisted = self.deadlines.remove(key).is_some();
                if persisted {
                    self.touch(key);
                }
                Response::Count(u64::from(persisted))
            }
            Operation::ReadExpiry { key } => Response::Expiry(if !self.entries.contains_key(key) {
                KeyExpiry::Missing
            } else {
                match self.deadlines.get(key) {
                    None => KeyExpiry::Persistent,
                    Some(deadline) => KeyExpiry::At {
                        deadline: UnixMillis(*deadline),
                        now: UnixMillis(self.clock),
                    },
                }
            }),
            Operation::GetAndExpire { key, expiry } => {
                let Some(deadline) = self.resolve(*expiry) else {
                    return Response::Refused(Refusal::InvalidExpireTime);
                };
                let value = self.entries.get(key).cloned();
                if value.is_some() {
                    match (expiry, deadline) {
                        (Expiry::Keep, _) => {}
                        (Expiry::Clear, _) => {
                            if self.deadlines.remove(key).is_some() {
                                self.touch(key);
                            }
                        }
                        (_, Some(deadline)) => {
                            self.deadlines.insert(key.clone(), deadline);
                            self.touch(key);
                        }
                        (_, None) => {
                            self.remove(key);
                        }
                    }
                }
                Response::Value(value)
            }
            Operation::Get { key } => Response::Value(self.entries.get(key).cloned()),
            Operation::Contains { key } => Response::Found(self.entries.contains_key(key)),
            Operation::CountExisting { keys } => Response::Count(
                keys.iter()
                    .filter(|key| self.entries.contains_key(*key))
                    .count() as u64,
            ),
            Operation::Set {
                key,
                value,
                condition,
            } => {
                let exists = self.entries.contains_key(key);
                let stores = match condition {
                    SetCondition::Always => true,
                    SetCondition::IfAbsent => !exists,
                    SetCondition::IfPresent => exists,
                };
                if stores {
                    self.store(key, value);
                }
                Response::Stored(stores)
            }
            Operation::Remove { key } => Response::Removed(self.remove(key).is_some()),
            Operation::RemoveMany { keys } => {
                let mut removed = 0;
                for key in keys {
                    if self.remove(key).is_some() {
                        removed += 1;
                    }
                }
                Response::Count(removed)
            }
            Operation::Exchange {
                key,
                value,
                condition,
            } => {
                let previous = self.entries.get(key).cloned();
                let stores = match condition {
                    SetCondition::Always => true,
                    SetCondition::IfAbsent => previous.is_none(),
                    SetCondition::IfPresent => previous.is_some(),
                };
                if stores {
                    self.store(key, value);
                }
                Response::Value(previous)
            }
            Operation::Take { key } => Response::Value(self.remove(key)),
            Operation::Append { key, value } => {
                let mut appended = self
                    .entries
                    .get(key)
                    .map(|v| v.to_vec())
                    .unwrap_or_default();
                appended.extend_from_slice(value);
                if appended.len() > VALUE_SIZE_MAX_BYTES {
                    return Response::Refused(Refusal::TooLarge);
                }
                let length = appended.len() as u64;
                self.put(key, &Bytes::from(appended));
                Response::Count(length)
            }
            Operation::CountKeys => Response::Count(self.entries.len() as u64),
            Operation::SetMany { pairs, condition } => {
                if *condition == SetCondition::IfAbsent
                    && pairs.iter().any(|(key, _)| self.entries.contains_key(key))
                {
                    return Response::Stored(false);
                }
                for (key, value) in pairs {
                    self.store(key, value);
                }
                Response::Stored(true)
            }
            Operation::IncrementBy { key, delta } => {
                let current = match self.entries.get(key) {
                    None => 0,
                    Some(value) => match redis_integer(value) {
                        Some(current) => current,
                        None => return Response::Refused(Refusal::NotInteger),
                    },
                };
                let sum = i128::from(current) + i128::from(*delta);
                let Ok(sum) = i64::try_from(sum) else {
                    return Response::Refused(Refusal::Overflow);
                };
                self.put(key, &Bytes::from(format!("{sum}")));
                Response::Integer(sum)
            }
            Operation::RegisterSession => {
                if self.sessions.len() == self.sessions_max {
                    let victim = (0..self.sessions.len())
                        .min_by_key(|&index| {
                            (self.sessions[index].used_last, self.sessions[index].id)
                        })
                        .unwrap();
                    self.sessions.remove(victim);
                }
                let id = self.session_id_next;
                self.session_id_next += 1;
                self.sessions.push(ModelSession {
                    id,
                    sequence_last: 0,
                    answer: Some(Response::SessionRegistered(SessionId(id))),
                    used_last: now,
                });
                Response::SessionRegistered(SessionId(id))
            }
        }
    }
}

/// Redis's `string2ll`, transcribed: an optional `-`, then `0` alone or a
/// digit 1-9 followed by digits, all within the `i64` range.
fn redis_integer(value: &[u8]) -> Option<i64> {
    let (negative, digits) = match value {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, value),
    };
    match digits {
        [b'0'] if !negative => return Some(0),
        [b'1'..=b'9', rest @ ..] if rest.iter().all(u8::is_ascii_digit) => {}
        _ => return None,
    }
    let mut magnitude: i128 = 0;
    for digit in digits {
        magnitude = magnitude * 10 + i128::from(digit - b'0');
        if magnitude > i128::from(i64::MAX) + 1 {
            return None;
        }
    }
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// How a tagged step picks its sequence relative to the last one the driver
/// sent in that session.
#[derive(Debug, Clone)]
enum SequencePick {
    Next,
    Retry,
    Stale(u64),
    Jump(u64),
}

#[derive(Debug, Clone)]
enum Step {
    Untagged(Operation),
    Tagged {
        session_pick: usize,
        sequence: SequencePick,
        operation: Operation,
    },
    ReadWithoutLog(Operation),
    Garbage(Vec<u8>),
    /// `WATCH keys` (a read without the log), then, if `interfere`, a
    /// write of the first key, then `EXEC` of `operations`: it must run
    /// exactly when nothing interfered.
    WatchedTransaction {
        keys: Vec<Bytes>,
        interfere: bool,
        operations: Vec<Operation>,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let operation = || operation_with(small_key().boxed());
    let sequence = prop_oneof![
        6 => Just(SequencePick::Next),
        3 => Just(SequencePick::Retry),
        1 => (1u64..3).prop_map(SequencePick::Stale),
        1 => (1u64..4).prop_map(SequencePick::Jump),
    ];
    prop_oneof![
        4 => operation().prop_map(Step::Untagged),
        2 => Just(Step::Untagged(Operation::RegisterSession)),
        6 => (any::<usize>(), sequence, operation()).prop_map(
            |(session_pick, sequence, operation)| Step::Tagged {
                session_pick,
                sequence,
                operation,
            }
        ),
        2 => operation().prop_map(Step::ReadWithoutLog),
        1 => prop::collection::vec(any::<u8>(), 0..8).prop_map(Step::Garbage),
        2 => (
            prop::collection::vec(small_key(), 1..3),
            any::<bool>(),
            prop::collection::vec(
                common::single_operation_with(small_key().boxed())
                    .prop_filter("fits in a transaction", common::fits_in_transaction),
                0..4,
            ),
        )
            .prop_map(|(keys, interfere, operations)| Step::WatchedTransaction {
                keys,
                interfere,
                operations,
            }),
    ]
}

/// Turns abstract steps into commands, remembering the last sequence it sent
/// per session id, including sessions the store may have evicted.
#[derive(Default)]
struct Driver {
    sequence_sent_last: BTreeMap<u64, u64>,
}

impl Driver {
    fn tagged(
        &mut self,
        model: &Model,
        pick: usize,
        sequence: &SequencePick,
    ) -> (SessionId, Sequence) {
        // Every id ever handed out, plus one never handed out.
        let candidates = model.session_id_next;
        let id = 1 + (pick as u64 % candidates);
        let last = self.sequence_sent_last.get(&id).copied().unwrap_or(0);
        let chosen = match sequence {
            SequencePick::Next => last + 1,
            SequencePick::Retry => last,
            SequencePick::Stale(back) => last.saturating_sub(*back),
            SequencePick::Jump(ahead) => last + 1 + ahead,
        };
        let highest = self.sequence_sent_last.entry(id).or_insert(0);
        *highest = (*highest).max(chosen);
        (SessionId(id), Sequence(chosen))
    }
}

fn run(sessions_max: usize, steps: &[Step]) -> Result<(), TestCaseError> {
    let mut store = Store::new(StoreConfig { sessions_max });
    let mut model = Model::new(sessions_max);
    let mut driver = Driver::default();
    for (index, step) in steps.iter().enumerate() {
        let (actual, expected) = match step {
            Step::Untagged(operation) => {
                let command = Command::untagged(operation.clone());
                (store.apply(&command), model.apply(&command))
            }
            Step::Tagged {
                session_pick,
                sequence,
                operation,
            } => {
                let (session, sequence) = driver.tagged(&model, *session_pick, sequence);
                let command = Command::tagged(session, sequence, operation.clone());
                // Half the time through the encoding, as a replica sees it.
                let actual = if index % 2 == 0 {
                    store.apply(&command)
                } else {
                    store.apply_encoded(&command.encode())
                };
                (actual, model.apply(&command))
            }
            Step::ReadWithoutLog(operation) => {
                let expected = if operation.is_read() {
                    // A read on the model, without counting it as applied.
                    let mut scratch = Model::new(sessions_max);
                    scratch.entries = model.entries.clone();
                    scratch.deadlines = model.deadlines.clone();
                    scratch.clock = model.clock;
                    scratch.changed = model.changed.clone();
                    scratch.tombstones = model.tombstones.clone();
                    scratch.applied_commands = model.applied_commands;
                    scratch.execute(operation, 0)
                } else {
                    Response::InvalidCommand
                };
                (store.read(operation), expected)
            }
            Step::WatchedTransaction {
                keys,
                interfere,
                operations,
            } => {
                let Response::Versions(versions) =
                    store.read(&Operation::ReadVersions { keys: keys.clone() })
                else {
                    panic!("a version read answers versions");
                };
                if *interfere {
                    let write = Command::untagged(Operation::Set {
                        key: keys[0].clone(),
                        value: Bytes::from_static(b"interfering"),
                        condition: SetCondition::Always,
                    });
                    prop_assert_eq!(store.apply(&write), model.apply(&write));
                }
                let watches = keys.iter().cloned().zip(versions).collect();
                let command = Command::untagged(Operation::Transaction {
                    watches,
                    operations: operations.clone(),
                });
                let actual = store.apply_encoded(&command.encode());
                prop_assert_eq!(
                    matches!(actual, Response::Aborted),
                    *interfere,
                    "a transaction runs exactly when no watched key changed"
                );
                (actual, model.apply(&command))
            }
            Step::Garbage(bytes) => {
                let actual = store.apply_encoded(bytes);
                let expected = match Command::decode(bytes) {
                    Ok(command) => model.apply(&command),
                    Err(_) => {
                        model.applied_commands += 1;
                        Response::InvalidCommand
                    }
                };
                (actual, expected)
            }
        };
        prop_assert_eq!(actual, expected, "step {} {:?}", index, step);
        model.purge();
        prop_assert_eq!(store.len(), model.entries.len());
        prop_assert_eq!(store.clock(), UnixMillis(model.clock));
        prop_assert_eq!(store.expiring_len(), model.deadlines.len());
        prop_assert_eq!(store.session_count(), model.sessions.len());
        prop_assert_eq!(store.applied_commands(), model.applied_commands);
        if index % 16 == 0 {
            store.assert_invariants();
        }
    }
    store.assert_invariants();
    for (key, value) in &model.entries {
        prop_assert_eq!(
            store.read(&Operation::Get { key: key.clone() }),
            Response::Value(Some(value.clone()))
        );
    }
    // The incrementally kept digest equals the one a restore computes from
    // scratch.
    let restored = Store::restore(&store.snapshot()).expect("an intact snapshot restores");
    prop_assert_eq!(restored.digest(), store.digest());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn the_store_behaves_as_the_reference_model(
        sessions_max in 1usize..4,
        steps in prop::collection::vec(step(), 0..200),
    ) {
        run(sessions_max, &steps)?;
    }
}
