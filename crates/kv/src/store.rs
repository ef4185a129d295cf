//! The store: the key-value map, the session table and the counters, and the
//! one deterministic function, [`Store::apply`], that changes them.

use std::fmt;

use bytes::Bytes;
use imbl::{ordmap, OrdMap};

use crate::access::{AccessControl, AccessOperation, Principal};
use crate::command::{Command, Operation, SetCondition};
use crate::deadlines::Deadlines;
use crate::fingerprint::Fingerprint;
use crate::key::StoredKey;
use crate::limits::{check_key, check_value, VALUE_SIZE_MAX_BYTES};
use crate::response::{Refusal, Response};
use crate::scan::{scan_order, scan_position, ScanOrder};
use crate::session::{Admission, SessionTable};
use crate::versions::Tombstones;

/// The default bound on open sessions. A session costs about a hundred bytes
/// (its cached answer is never a value, see [`Store`]), so ten thousand cost
/// about a megabyte on every replica while allowing as many live clients.
pub const SESSIONS_MAX_DEFAULT: usize = 10_000;

/// The domain of map entry fingerprints.
const FINGERPRINT_DOMAIN_ENTRY: u64 = 1;
/// The domain of the whole store's digest.
const FINGERPRINT_DOMAIN_STORE: u64 = 3;

/// How a store is set up. Every replica of a cluster must use the same
/// configuration, or their session tables diverge; it is therefore part of
/// the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreConfig {
    /// The most sessions kept at once; at least 1. Registering one more
    /// evicts the least recently used.
    pub sessions_max: usize,
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            sessions_max: SESSIONS_MAX_DEFAULT,
        }
    }
}

/// The replicated state machine: a map from key to value, a bounded table of
/// client sessions, and counters.
///
/// # Determinism
///
/// [`apply`](Store::apply) depends only on the store and the command: no
/// clock, no randomness, no iteration over hash maps. Replicas that apply
/// the same commands in the same order hold the same state, give the same
/// responses and report the same [`digest`](Store::digest).
///
/// # Sessions and the client's contract
///
/// A client that wants its retries applied at most once registers a session
/// (an untagged [`Operation::RegisterSession`]) and tags each later command
/// with the session id and a sequence that grows by at least one per
/// command. The registration itself is sequence 0. For a tagged command:
///
/// - an unknown session (never registered, or evicted) answers
///   [`Response::SessionExpired`], and the command is not applied;
/// - a sequence above the session's last is applied, and its answer is kept;
/// - the session's last sequence again (a retry) is not applied again: it
///   answers what the original answered. A retried read is evaluated again
///   instead of being answered from a cache (a cached value could be a
///   megabyte per session); that is linearizable because a read has no
///   effect and the new evaluation happens while the client waits;
/// - a sequence below the last answers [`Response::SequenceStale`], and the
///   command is not applied.
///
/// The contract this asks of a client: at most one outstanding command per
/// session, retried unchanged until it is answered. A client that wants
/// concurrency opens several sessions. A registration that is retried may
/// open two sessions; the unused one is evicted in time.
///
/// Untagged commands (plain RESP clients) are applied every time they reach
/// the log, with no exactly-once guarantee.
///
/// # Eviction
///
/// At most [`StoreConfig::sessions_max`] sessions are kept. When a
/// registration would exceed it, the least recently used session is evicted,
/// where the time of use is the store's applied-command counter when a
/// command last named the session (or registered it), and ties go to the
/// lowest id. The rule reads nothing but the applied log, so every replica
/// evicts the same session. Session ids are never reused.
///
/// # The applied-command counter
///
/// Every call of [`apply`](Store::apply) or
/// [`apply_encoded`](Store::apply_encoded) counts, whatever its outcome,
/// because each is one log entry: the counter is the number of log entries
/// applied, and the clock of the session table.
///
/// # Equality
///
/// Two stores are equal when their whole states are: entries, sessions and
/// counters. Hashing uses [`Store::digest`] (constant time), which equal
/// stores share, so a model checker can keep stores in its state set.
#[derive(Clone, PartialEq, Eq)]
pub struct Store {
    /// A persistent map (shared, copy-on-write nodes): a clone costs a
    /// reference count, so a snapshot can be encoded from a clone on
    /// another thread while this store goes on applying (see
    /// [`Store::snapshot_view`]). Encoding a million entries takes about
    /// 200 ms, which on the drive loop cost the leader its leadership.
    pub(crate) entries: OrdMap<StoredKey, Entry>,
    pub(crate) sessions: SessionTable,
    pub(crate) applied_commands: u64,
    /// The wrapping sum of the fingerprints of all entries, kept up to date
    /// on every change so that [`Store::digest`] costs constant time.
    pub(crate) entries_digest: u64,
    /// The agreed clock and the keys' deadlines (see [`crate::expiry`]).
    pub(crate) deadlines: Deadlines,
    /// When recently removed keys were removed, for `WATCH` (see
    /// [`crate::versions`]).
    pub(crate) tombstones: Tombstones,
    /// The keys in `SCAN` order (see [`crate::scan`]); derived from the
    /// entries.
    pub(crate) scan_order: ScanOrder,
    /// The users and their rights (see [`crate::access`]).
    pub(crate) access: AccessControl,
}

/// A stored value, and when it last changed: the applied-command count of
/// the command that last wrote it or its deadline. `WATCH` compares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) value: Bytes,
    pub(crate) changed: u64,
}

impl std::hash::Hash for Store {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.digest().hash(state);
    }
}

impl Store {
    /// An empty store.
    ///
    /// # Panics
    ///
    /// When `config.sessions_max` is 0.
    pub fn new(config: StoreConfig) -> Store {
        Store {
            entries: OrdMap::new(),
            sessions: SessionTable::new(config.sessions_max),
            applied_commands: 0,
            entries_digest: 0,
            deadlines: Deadlines::default(),
            tombstones: Tombstones::default(),
            scan_order: ScanOrder::new(),
            access: AccessControl::default(),
        }
    }

    /// Applies one command of the log and returns the answer for the client.
    ///
    /// A command that breaks a limit answers [`Response::InvalidCommand`]
    /// and changes nothing but the applied-command counter, as does a tagged
    /// [`Operation::RegisterSession`] (a session cannot register a session).
    ///
    /// The store keeps the [`Bytes`] of stored keys and values as given; a
    /// caller that slices them from a larger buffer keeps that buffer alive.
    /// [`Command::decode`] copies them into buffers of their own.
    pub fn apply(&mut self, command: &Command) -> Response {
        let now = self.count_applied();
        self.apply_counted(command.clone(), now)
    }

    /// Applies one log entry as it was replicated. Bytes that do not decode
    /// to a command answer [`Response::InvalidCommand`] on every replica
    /// alike, and still count as an applied command: the entry occupies a
    /// log position.
    pub fn apply_encoded(&mut self, bytes: &[u8]) -> Response {
        let now = self.count_applied();
        match Command::decode(bytes) {
            Ok(command) => self.apply_counted(command, now),
            Err(_) => Response::InvalidCommand,
        }
    }

    /// Counts one more applied command and returns the new count, which is
    /// the command's time in the session table.
    fn count_applied(&mut self) -> u64 {
        self.applied_commands = self
            .applied_commands
            .checked_add(1)
            .expect("the applied-command counter runs out after 2^64 commands");
        self.applied_commands
    }

    /// Takes the command by value, so that its key and value move into the
    /// map instead of being cloned (a clone of a freshly decoded `Bytes`
    /// allocates).
    fn apply_counted(&mut self, command: Command, now: u64) -> Response {
        if command.validate().is_err() {
            return Response::InvalidCommand;
        }
        let principal = command.principal;
        let Some(tag) = command.session else {
            if let Err(denial) = self.access.check(principal, &command.operation) {
                return Response::Denied(denial);
            }
            if command.operation == Operation::RegisterSession {
                return Response::SessionRegistered(self.sessions.register(now, principal));
            }
            return self.execute(command.operation, now);
        };
        let operation = command.operation;
        if operation == Operation::RegisterSession {
            return Response::InvalidCommand;
        }
        let is_read = operation.is_read();
        // The session's own answer first: a retry of a step that was
        // applied gets its answer even if the rights changed since. Then
        // the rights, for a step to run: a refused step was not applied,
        // so its retry is judged again, by the rights in force then.
        let admission = self.sessions.admit(tag, principal, is_read, now);
        if let Admission::Apply | Admission::EvaluateAgain = admission {
            if let Err(denial) = self.access.check(principal, &operation) {
                return Response::Denied(denial);
            }
        }
        match admission {
            Admission::Answer(response) => response,
            Admission::EvaluateAgain => self.read(&operation),
            Admission::Apply => {
                let response = self.execute(operation, now);
                // A session keeps at most one response of the usual size:
                // a transaction of many values answers a retry with a
                // refusal instead (it was applied).
                let kept = match &response {
                    Response::Transaction(_)
                        if response.encode().len() > crate::RESPONSE_SIZE_MAX_BYTES =>
                    {
                        Response::Refused(Refusal::AnswerNotKept)
                    }
                    _ => response.clone(),
                };
                self.sessions.record(tag, is_read, kept);
                response
            }
        }
    }

    /// Answers a read without the log, for a leader that has confirmed its
    /// leadership. Changes nothing, not even the counters. A write, or a
    /// read that breaks a limit, answers [`Response::InvalidCommand`]: only
    /// the log may change the state.
    #[must_use]
    pub fn read(&self, operation: &Operation) -> Response {
        if operation.validate().is_err() {
            return Response::InvalidCommand;
        }
        match operation {
            Operation::Access(access) if access.is_read() => self.read_users(access),
            Operation::Get { key } => Response::Value(self.value(key)),
            Operation::Contains { key } => Response::Found(self.entries.contains_key(&lookup(key))),
            Operation::CountExisting { keys } => {
                let count = keys
                    .iter()
                    .filter(|key| self.entries.contains_key(&lookup(key)))
                    .count();
                Response::Count(count as u64)
            }
            Operation::CountKeys => Response::Count(self.entries.len() as u64),
            Operation::ReadExpiry { key } => self.read_expiry(key),
            Operation::ReadVersions { keys } => self.read_versions(keys),
            Operation::Keys { pattern } => self.keys_matching(pattern),
            Operation::Scan {
                cursor,
                pattern,
                count,
                type_filter,
            } => self.scan(*cursor, pattern.as_ref(), *count, type_filter.as_ref()),
            Operation::RandomKey { seed } => self.random_key(*seed),
            Operation::GetMany { keys } => {
                Response::Values(keys.iter().map(|key| self.value(key)).collect())
            }
            Operation::Set { .. }
            | Operation::Remove { .. }
            | Operation::RemoveMany { .. }
            | Operation::RegisterSession
            | Operation::IncrementBy { .. }
            | Operation::Exchange { .. }
            | Operation::Take { .. }
            | Operation::Append { .. }
            | Operation::SetMany { .. }
            | Operation::AdvanceClock { .. }
            | Operation::SetExpiring { .. }
            | Operation::Expire { .. }
            | Operation::Persist { .. }
            | Operation::GetAndExpire { .. }
            | Operation::Transaction { .. }
            | Operation::Flush
            | Operation::Rename { .. }
            | Operation::Copy { .. }
            | Operation::SetRange { .. }
            | Operation::Access(_)
            | Operation::IncrementByFloat { .. } => Response::InvalidCommand,
        }
    }

    /// [`Store::read`] on behalf of `principal`: the read the server serves
    /// for a client, judged by the rights of [`crate::access`].
    #[must_use]
    pub fn read_as(&self, principal: Principal, operation: &Operation) -> Response {
        if let Err(denial) = self.access.check(principal, operation) {
            return Response::Denied(denial);
        }
        self.read(operation)
    }

    /// The users and their rights.
    pub fn access(&self) -> &AccessControl {
        &self.access
    }

    fn read_users(&self, operation: &AccessOperation) -> Response {
        match operation {
            AccessOperation::ListUsers => Response::Users(self.access.users().cloned().collect()),
            AccessOperation::ReadUser { name } | AccessOperation::Credentials { name } => {
                Response::Users(self.access.user_named(name).cloned().into_iter().collect())
            }
            AccessOperation::Authorize { .. } => Response::Found(true),
            AccessOperation::SetUser { .. } | AccessOperation::DeleteUsers { .. } => {
                Response::InvalidCommand
            }
        }
    }

    /// A fingerprint of the whole state: entries, sessions and counters.
    /// Replicas that applied the same commands report the same digest on
    /// every build and platform; replicas that diverged almost surely do
    /// not. Constant time: the parts are kept up to date by `apply`.
    #[must_use]
    pub fn digest(&self) -> u64 {
        let mut fingerprint = Fingerprint::new(FINGERPRINT_DOMAIN_STORE);
        fingerprint.write_u64(self.entries_digest);
        fingerprint.write_u64(self.entries.len() as u64);
        fingerprint.write_u64(self.sessions.digest());
        fingerprint.write_u64(self.sessions.len() as u64);
        fingerprint.write_u64(self.sessions.sessions_max() as u64);
        fingerprint.write_u64(self.sessions.session_id_next());
        fingerprint.write_u64(self.sessions.sessions_evicted());
        fingerprint.write_u64(self.applied_commands);
        fingerprint.write_u64(self.deadlines.digest);
        fingerprint.write_u64(self.deadlines.len() as u64);
        fingerprint.write_u64(self.deadlines.clock.0);
        fingerprint.write_u64(self.tombstones.digest());
        fingerprint.write_u64(self.access.digest());
        fingerprint.finish()
    }

    /// How many keys the map holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map holds no key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many commands (log entries) have been applied, whatever their
    /// outcome.
    pub fn applied_commands(&self) -> u64 {
        self.applied_commands
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// How many sessions have been evicted to make room for new ones. A
    /// rising count means clients get [`Response::SessionExpired`]: raise
    /// [`StoreConfig::sessions_max`] or find the client that leaks sessions.
    pub fn sessions_evicted(&self) -> u64 {
        self.sessions.sessions_evicted()
    }

    /// The configuration the store runs with.
    pub fn config(&self) -> StoreConfig {
        StoreConfig {
            sessions_max: self.sessions.sessions_max(),
        }
    }

    /// Checks every invariant of the state, in time linear in its size: for
    /// the simulator to run after each step, and for tests. The digest kept
    /// incrementally must equal the one computed from scratch, every key and
    /// value must be within the limits, and the session table must be
    /// consistent.
    ///
    /// # Panics
    ///
    /// When an invariant does not hold, which is a bug in this crate.
    pub fn assert_invariants(&self) {
        if let Err(violation) = self.check_invariants() {
            panic!("store invariant violated: {violation}");
        }
    }

    pub(crate) fn check_invariants(&self) -> Result<(), &'static str> {
        for (key, entry) in &self.entries {
            check_key(key.bytes()).map_err(|_| "a stored key breaks the key size limit")?;
            check_value(&entry.value).map_err(|_| "a stored value breaks the value size limit")?;
            if entry.changed > self.applied_commands {
                return Err("a key changed after the last applied command");
            }
        }
        self.tombstones
            .check_invariants(&self.entries, self.applied_commands)?;
        if entries_digest(&self.entries) != self.entries_digest {
            return Err("the entries digest disagrees with the entries");
        }
        self.deadlines.check_invariants()?;
        if self.scan_order != scan_order(self.entries.keys()) {
            return Err("the scan order disagrees with the entries");
        }
        if self
            .deadlines
            .by_key
            .keys()
            .any(|key| !self.entries.contains_key(key))
        {
            return Err("a deadline names a key that does not exist");
        }
        self.access.check_invariants()?;
        self.sessions.check_invariants()
    }

    /// Applies an operation that the session rules (if any) let through.
    pub(crate) fn execute(&mut self, operation: Operation, now: u64) -> Response {
        match operation {
            Operation::Access(access) if access.is_read() => self.read_users(&access),
            Operation::Access(access) => match self.access.change(&access) {
                Ok(count) => match access {
                    AccessOperation::DeleteUsers { .. } => Response::Count(count),
                    _ => Response::Stored(true),
                },
                Err(refusal) => Response::Refused(Refusal::Access(refusal)),
            },
            Operation::Get { .. }
            | Operation::Contains { .. }
            | Operation::CountExisting { .. }
            | Operation::CountKeys
            | Operation::ReadExpiry { .. }
            | Operation::ReadVersions { .. }
            | Operation::GetMany { .. }
            | Operation::Keys { .. }
            | Operation::Scan { .. }
            | Operation::RandomKey { .. } => self.read(&operation),
            Operation::Transaction {
                watches,
                operations,
            } => self.run_transaction(&watches, operations, now),
            Operation::Flush => self.flush(),
            Operation::Rename {
                from,
                to,
                only_if_absent,
            } => self.rename(&from, to, only_if_absent),
            Operation::Copy { from, to, replace } => self.copy(&from, to, replace),
            Operation::SetRange { key, offset, value } => self.set_range(key, offset, &value),
            Operation::IncrementByFloat { key, increment } => {
                self.increment_by_float(key, &increment)
            }
            Operation::AdvanceClock { now } => self.advance_clock(now),
            Operation::SetExpiring {
                key,
                value,
                condition,
                expiry,
                answer_previous,
            } => self.set_expiring(key, value, condition, expiry, answer_previous),
            Operation::Expire {
                key,
                expiry,
                condition,
            } => self.expire(&key, expiry, condition),
            Operation::Persist { key } => self.persist(&key),
            Operation::GetAndExpire { key, expiry } => self.get_and_expire(&key, expiry),
            Operation::Set {
                key,
                value,
                condition,
            } => Response::Stored(self.set(key, value, condition)),
            Operation::Remove { key } => Response::Removed(self.remove(&key)),
            Operation::RemoveMany { keys } => {
                let removed = keys.iter().filter(|key| self.remove(key)).count();
                Response::Count(removed as u64)
            }
            Operation::RegisterSession => {
                unreachable!("a registration is applied with its principal, not executed")
            }
            Operation::IncrementBy { key, delta } => self.increment(key, delta),
            Operation::Exchange {
                key,
                value,
                condition,
            } => {
                let previous = self.value(&key);
                self.set(key, value, condition);
                Response::Value(previous)
            }
            Operation::Take { key } => Response::Value(self.take(&key)),
            Operation::Append { key, value } => self.append(key, &value),
            Operation::SetMany { pairs, condition } => {
                let blocked = condition == SetCondition::IfAbsent
                    && pairs
                        .iter()
                        .any(|(key, _)| self.entries.contains_key(&lookup(key)));
                if blocked {
                    return Response::Stored(false);
                }
                for (key, value) in pairs {
                    self.set(key, value, SetCondition::Always);
                }
                Response::Stored(true)
            }
        }
    }

    /// Appends `suffix` to the value at `key` (empty when missing) and
    /// answers the new length; refuses, changing nothing, a value that
    /// would exceed [`VALUE_SIZE_MAX_BYTES`].
    fn append(&mut self, key: Bytes, suffix: &[u8]) -> Response {
        let current = self.value(&key).unwrap_or_default();
        let length = current.len() + suffix.len();
        if length > VALUE_SIZE_MAX_BYTES {
            return Response::Refused(Refusal::TooLarge);
        }
        let mut value = Vec::with_capacity(length);
        value.extend_from_slice(&current);
        value.extend_from_slice(suffix);
        self.put(key, Bytes::from(value));
        Response::Count(length as u64)
    }

    /// Adds `increment` to the number at `key` (0 when missing), Redis's
    /// way (see `crate::float`), keeping the deadline; answers the sum as
    /// stored. A refusal changes nothing.
    fn increment_by_float(&mut self, key: Bytes, increment: &[u8]) -> Response {
        let Some(increment) = crate::float::parse(increment) else {
            return Response::Refused(Refusal::NotFloat);
        };
        let current = match self.value(&key) {
            None => rust_decimal::Decimal::ZERO,
            Some(value) => match crate::float::parse(&value) {
                Some(current) => current,
                None => return Response::Refused(Refusal::NotFloat),
            },
        };
        let Some(sum) = crate::float::add(current, increment) else {
            return Response::Refused(Refusal::FloatOverflow);
        };
        let printed = Bytes::from(crate::float::print(sum));
        self.put(key, printed.clone());
        Response::Value(Some(printed))
    }

    /// Adds `delta` to the counter at `key` (0 when missing), Redis's way:
    /// the stored value must be an `i64` in canonical decimal form (no
    /// sign but `-`, no leading zeros or spaces: what Redis's `string2ll`
    /// accepts), and the sum must not overflow. A refusal changes nothing.
    fn increment(&mut self, key: Bytes, delta: i64) -> Response {
        let current = match self.entries.get(&lookup(&key)) {
            None => 0,
            Some(entry) => match canonical_integer(&entry.value) {
                Some(current) => current,
                None => return Response::Refused(Refusal::NotInteger),
            },
        };
        let Some(sum) = current.checked_add(delta) else {
            return Response::Refused(Refusal::Overflow);
        };
        self.put(key, Bytes::from(sum.to_string()));
        Response::Integer(sum)
    }

    /// Stores `value` under `key` when `condition` holds, without a
    /// deadline (Redis's `SET` drops a key's time to live); tells whether it
    /// stored.
    pub(crate) fn set(&mut self, key: Bytes, value: Bytes, condition: SetCondition) -> bool {
        let stored = self.store_value(key.clone(), value, condition);
        if stored {
            self.deadlines.set(&StoredKey::new(key), None);
        }
        stored
    }

    /// Replaces the value at `key` and keeps its deadline (`INCR`,
    /// `APPEND` and `SETRANGE` leave a key's time to live alone).
    pub(crate) fn put(&mut self, key: Bytes, value: Bytes) {
        self.store_value(key, value, SetCondition::Always);
    }

    /// The value at `key`, if any.
    pub(crate) fn value(&self, key: &Bytes) -> Option<Bytes> {
        self.entries
            .get(&lookup(key))
            .map(|entry| entry.value.clone())
    }

    /// Marks the key as changed by the command being applied (its deadline
    /// changed), for `WATCH`.
    pub(crate) fn touch(&mut self, key: &StoredKey) {
        let now = self.applied_commands;
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let before = entry_fingerprint(key.bytes(), entry);
        entry.changed = now;
        let after = entry_fingerprint(key.bytes(), entry);
        self.entries_digest = self.entries_digest.wrapping_sub(before).wrapping_add(after);
    }

    /// Stores `value` under `key` when `condition` holds; tells whether it
    /// stored. Leaves deadlines alone. One search of the map: the flame
    /// graph of a leader under writes had a fifth of its loop's time in
    /// apply, most of it in the key comparisons of a lookup followed by an
    /// insert.
    fn store_value(&mut self, key: Bytes, value: Bytes, condition: SetCondition) -> bool {
        let entry = Entry {
            value,
            changed: self.applied_commands,
        };
        let fingerprint = entry_fingerprint(&key, &entry);
        match self.entries.entry(StoredKey::new(key)) {
            ordmap::Entry::Occupied(mut occupied) => {
                if condition == SetCondition::IfAbsent {
                    return false;
                }
                let previous = occupied.insert(entry);
                self.entries_digest = self
                    .entries_digest
                    .wrapping_add(fingerprint)
                    .wrapping_sub(entry_fingerprint(occupied.key().bytes(), &previous));
            }
            ordmap::Entry::Vacant(vacant) => {
                if condition == SetCondition::IfPresent {
                    return false;
                }
                let key = vacant.key().clone();
                vacant.insert(entry);
                self.entries_digest = self.entries_digest.wrapping_add(fingerprint);
                self.scan_order.insert(scan_position(&key));
                self.tombstones.forget(&key);
            }
        }
        true
    }

    /// Removes `key`; tells whether it existed.
    fn remove(&mut self, key: &Bytes) -> bool {
        self.take(key).is_some()
    }

    /// Removes `key` and its deadline, and hands back its value.
    pub(crate) fn take(&mut self, key: &Bytes) -> Option<Bytes> {
        let stored_key = lookup(key);
        let previous = self.entries.remove(&stored_key)?;
        self.entries_digest = self
            .entries_digest
            .wrapping_sub(entry_fingerprint(key, &previous));
        self.deadlines.set(&stored_key, None);
        self.scan_order.remove(&scan_position(&stored_key));
        self.tombstones.record(stored_key, self.applied_commands);
        Some(previous.value)
    }
}

impl fmt::Debug for Store {
    /// A summary: the entries of a large store would flood a log line.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Store")
            .field("len", &self.len())
            .field("session_count", &self.session_count())
            .field("applied_commands", &self.applied_commands)
            .field("digest", &format_args!("{:#018x}", self.digest()))
            .finish()
    }
}

fn entry_fingerprint(key: &[u8], entry: &Entry) -> u64 {
    let mut fingerprint = Fingerprint::new(FINGERPRINT_DOMAIN_ENTRY);
    fingerprint.write_bytes(key);
    fingerprint.write_bytes(&entry.value);
    fingerprint.write_u64(entry.changed);
    fingerprint.finish()
}

/// The entries digest computed from scratch.
pub(crate) fn entries_digest(entries: &OrdMap<StoredKey, Entry>) -> u64 {
    entries.iter().fold(0u64, |sum, (key, entry)| {
        sum.wrapping_add(entry_fingerprint(key.bytes(), entry))
    })
}

/// The map key to look `key` up by (a clone of a `Bytes` is a reference
/// count, or one small allocation the first time a decoded one is shared).
fn lookup(key: &Bytes) -> StoredKey {
    StoredKey::new(key.clone())
}

/// The `i64` that `value` spells in canonical decimal form, the only form
/// Redis counts with: `"-0"`, `"+1"`, `"01"` and `" 1"` are not integers.
fn canonical_integer(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    let integer: i64 = text.parse().ok()?;
    (integer.to_string() == text).then_some(integer)
}
