//! Commands: what a client asks the store to do, and their binary encoding.
//!
//! An encoded command is the payload of one replicated log entry. Every
//! replica persists it and decodes it again when it applies the entry, maybe
//! years later and with a newer build, so the encoding is hand-written rather
//! than derived: it is stable (a format version byte leads, and a field is
//! never reinterpreted within a version), compact (integers and lengths are
//! variable-length, see [`synod_codec`]) and cheap (one pass, one
//! allocation). Layout of version 1:
//!
//! ```text
//! version: u8 = 1
//! flags:   u8, bit 0: a session id and a sequence follow; bit 1: a user
//!          id follows (absent: the anonymous principal)
//! [session: varint, sequence: varint]
//! [user: varint]
//! operation code: u8, then the operation's fields:
//!   1 get            key
//!   2 contains       key
//!   3 set            condition: u8 (0 always, 1 if absent, 2 if present), key, value
//!   4 remove         key
//!   5 remove many    count: varint, count × key
//!   6 count existing count: varint, count × key
//!   7 register session
//!   8 increment by   key, delta: varint of the i64's two's complement bits
//!   9 exchange       condition: u8, key, value
//!  10 take           key
//!  11 append         key, value
//!  12 count keys
//!  13 set many       condition: u8 (0 always, 1 if none exists), count: varint,
//!                    count × (key, value)
//!  14 advance clock  now: varint (Unix milliseconds)
//!  15 set expiring   answer previous: u8 (0 | 1), condition: u8, expiry, key, value
//!  16 expire         condition: u8 (0 always, 1 nx, 2 xx, 3 gt, 4 lt, 5 xx lt),
//!                    expiry, key
//!  17 persist        key
//!  18 read expiry    key
//!  19 get and expire expiry, key
//!  20 read versions  count: varint, count × key
//!  21 transaction    watch count: varint, per watch: key, kind: u8 (0 changed,
//!                    1 unchanged as of), count: varint; then operation count:
//!                    varint, per operation: its code and fields as above
//!  22 get many       count: varint, count × key
//!  23 flush
//!  24 rename         only if absent: u8 (0 | 1), from: key, to: key
//!  25 copy           replace: u8 (0 | 1), from: key, to: key
//!  26 set range      offset: varint, key, value
//!  27 keys           pattern
//!  28 scan           cursor: varint, count: varint, filters: u8 (bit 0
//!                    pattern, bit 1 type), [pattern], [type]
//!  29 random key     seed: varint
//!  30 increment by float  key, increment (decimal text)
//!  31 access         a user operation (see `crate::access`)
//! expiry: u8 (0 clear, 1 keep, 2 at, 3 after), then for 2 and 3 the
//!         milliseconds as a varint of the i64's two's complement bits
//! key, value: varint length, then that many bytes
//! ```

use bytes::Bytes;

use crate::access::{AccessOperation, Principal, UserId};
use crate::expiry::{ExpireCondition, Expiry, UnixMillis};
use crate::limits::{
    check_key, check_key_count, check_payload, check_value, LimitError, COMMAND_SIZE_MAX_BYTES,
    KEYS_PER_COMMAND_MAX,
};
use crate::versions::KeyVersion;
use synod_codec::{bytes_size_bytes, u64_size_bytes, DecodeError, Reader, Writer};

mod encoding;

use self::encoding::TRANSACTION_HEADER_SIZE_MAX_BYTES;

/// The version of the command encoding that [`Command::encode`] writes.
pub const COMMAND_FORMAT_VERSION: u8 = 1;

/// The flag of a command that belongs to a session. Entries written before
/// users existed have only this flag or none, and so decode as anonymous.
const FLAG_SESSION: u8 = 1;
/// The flag of a command run on behalf of an authenticated user.
const FLAG_USER: u8 = 2;

/// Identifies a client session; assigned by the store from a counter that is
/// part of the replicated state, so every replica assigns the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

/// The number a client gives each command of one session, increasing by at
/// least one per command. Sequence 0 stands for the registration itself, so a
/// client's first command carries sequence 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sequence(pub u64);

/// Marks a command as one step of a client session, which makes retrying it
/// safe: the store applies each (session, sequence) at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionTag {
    /// The session the command belongs to.
    pub session: SessionId,
    /// The command's place in that session.
    pub sequence: Sequence,
}

/// When a `set` stores its value; the `NX` and `XX` options of Redis `SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SetCondition {
    /// Store unconditionally (plain `SET`).
    #[default]
    Always,
    /// Store only when the key does not exist (`SET NX`).
    IfAbsent,
    /// Store only when the key already exists (`SET XX`).
    IfPresent,
}

/// One operation on the key-value map, or the registration of a session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Read the value of a key.
    Get {
        /// The key to read.
        key: Bytes,
    },
    /// Tell whether a key exists.
    Contains {
        /// The key to look up.
        key: Bytes,
    },
    /// Store a value under a key, subject to a condition.
    Set {
        /// The key to write.
        key: Bytes,
        /// The value to store.
        value: Bytes,
        /// When to store.
        condition: SetCondition,
    },
    /// Delete a key and tell whether it existed.
    Remove {
        /// The key to delete.
        key: Bytes,
    },
    /// Delete several keys and count how many existed (`DEL k1 k2 …`). A key
    /// named twice is removed once and counted once.
    RemoveMany {
        /// The keys to delete, in order.
        keys: Vec<Bytes>,
    },
    /// Count how many of the keys exist (`EXISTS k1 k2 …`). A key named twice
    /// is counted twice, as Redis does.
    CountExisting {
        /// The keys to look up.
        keys: Vec<Bytes>,
    },
    /// Open a new client session; answered with its id.
    RegisterSession,
    /// Add `delta` to the integer stored at the key (a missing key counts
    /// as 0) and store the sum (`INCR`, `DECR`, `INCRBY`, `DECRBY`). The
    /// stored value must be an integer in Redis's canonical decimal form,
    /// and the sum must fit in an `i64`; otherwise nothing changes and the
    /// answer says why.
    IncrementBy {
        /// The counter's key.
        key: Bytes,
        /// What to add; negative to decrement.
        delta: i64,
    },
    /// Store a value subject to a condition, like [`Operation::Set`], and
    /// answer the value it replaced, or found (`GETSET`, `SET … GET`).
    Exchange {
        /// The key to write.
        key: Bytes,
        /// The value to store.
        value: Bytes,
        /// When to store.
        condition: SetCondition,
    },
    /// Delete a key and answer its value (`GETDEL`).
    Take {
        /// The key to delete.
        key: Bytes,
    },
    /// Append to the value (a missing key counts as empty) and answer the
    /// new length, unless it would exceed [`crate::VALUE_SIZE_MAX_BYTES`]
    /// (`APPEND`).
    Append {
        /// The key to write.
        key: Bytes,
        /// The bytes to append.
        value: Bytes,
    },
    /// Count the keys (`DBSIZE`).
    CountKeys,
    /// Store several values at once (`MSET`), or only when none of the keys
    /// exists (`MSETNX`). A key named twice takes its last value.
    SetMany {
        /// The keys and values, in order.
        pairs: Vec<(Bytes, Bytes)>,
        /// [`SetCondition::Always`] or [`SetCondition::IfAbsent`] (all of
        /// them absent); [`SetCondition::IfPresent`] is refused by
        /// [`Operation::validate`].
        condition: SetCondition,
    },
    /// Move the agreed clock forward to `now` (never back) and remove every
    /// key that fell due. Only the leader proposes it, first in each batch
    /// it forms; a client's is refused by the node (see [`crate::expiry`]).
    AdvanceClock {
        /// The leader's clock reading.
        now: UnixMillis,
    },
    /// `SET` with an expiry option (`EX`, `PX`, `EXAT`, `PXAT`, `KEEPTTL`):
    /// [`Operation::Set`], or [`Operation::Exchange`] when
    /// `answer_previous`, then the deadline.
    SetExpiring {
        /// The key to write.
        key: Bytes,
        /// The value to store.
        value: Bytes,
        /// When to store.
        condition: SetCondition,
        /// The key's time to live once stored.
        expiry: Expiry,
        /// Answer the previous value (`SET … GET`) rather than whether it
        /// stored.
        answer_previous: bool,
    },
    /// Give the key a deadline (`EXPIRE`, `PEXPIRE`, `EXPIREAT`,
    /// `PEXPIREAT`); a time already past removes it.
    Expire {
        /// The key.
        key: Bytes,
        /// [`Expiry::At`] or [`Expiry::After`]; the others are refused by
        /// [`Operation::validate`].
        expiry: Expiry,
        /// When to change the deadline.
        condition: ExpireCondition,
    },
    /// Remove the key's deadline (`PERSIST`).
    Persist {
        /// The key.
        key: Bytes,
    },
    /// Read the key's deadline and the agreed time (`TTL`, `PTTL`,
    /// `EXPIRETIME`, `PEXPIRETIME`).
    ReadExpiry {
        /// The key.
        key: Bytes,
    },
    /// Read the value, then change its deadline (`GETEX`).
    GetAndExpire {
        /// The key.
        key: Bytes,
        /// What becomes of the deadline; [`Expiry::Keep`] is a plain read.
        expiry: Expiry,
    },
    /// Read the values of several keys at once (`MGET`): one state, so a
    /// transaction is seen whole or not at all.
    GetMany {
        /// The keys, in order; a key named twice is answered twice.
        keys: Vec<Bytes>,
    },
    /// Remove every key (`FLUSHALL`, `FLUSHDB`). Each leaves a tombstone,
    /// so that watches see the change.
    Flush,
    /// Move a key's value and deadline to another key (`RENAME`), or only
    /// when that one does not exist (`RENAMENX`).
    Rename {
        /// The key to move.
        from: Bytes,
        /// Its new name.
        to: Bytes,
        /// `RENAMENX`: only when `to` does not exist.
        only_if_absent: bool,
    },
    /// Copy a key's value and deadline to another key (`COPY`).
    Copy {
        /// The key to copy.
        from: Bytes,
        /// The copy's name.
        to: Bytes,
        /// `REPLACE`: overwrite `to` if it exists.
        replace: bool,
    },
    /// Overwrite the value from `offset` on, zero-padding a shorter value
    /// (`SETRANGE`); answers the new length.
    SetRange {
        /// The key.
        key: Bytes,
        /// Where to write, in bytes.
        offset: u64,
        /// What to write there.
        value: Bytes,
    },
    /// Add a decimal number to the number stored at the key (a missing key
    /// counts as 0) and store the sum (`INCRBYFLOAT`); see `crate::float`.
    IncrementByFloat {
        /// The key.
        key: Bytes,
        /// The increment, as the client spelled it.
        increment: Bytes,
    },
    /// Every key matching a glob-style pattern (`KEYS`).
    Keys {
        /// The pattern (see [`crate::pattern`]).
        pattern: Bytes,
    },
    /// One page of a keyspace iteration (`SCAN`); see `crate::scan`.
    Scan {
        /// Where to continue: 0 to start, else a cursor a page answered.
        cursor: u64,
        /// `MATCH`: only keys matching it.
        pattern: Option<Bytes>,
        /// `COUNT`: about how many keys to visit.
        count: u64,
        /// `TYPE`: only keys of that type (`string`, all of synod's).
        type_filter: Option<Bytes>,
    },
    /// A key at random (`RANDOMKEY`): the one at or after `seed` in scan
    /// order.
    RandomKey {
        /// Drawn by the server.
        seed: u64,
    },
    /// Manage users, or read them (see [`crate::access`]).
    Access(AccessOperation),
    /// Read when each key last changed (`WATCH`); see [`crate::versions`].
    ReadVersions {
        /// The keys, in order.
        keys: Vec<Bytes>,
    },
    /// Apply `operations` one after the other as one log entry, unless a
    /// watched key changed since it was watched (`MULTI` … `EXEC`).
    Transaction {
        /// The watched keys and what `WATCH` saw of them.
        watches: Vec<(Bytes, KeyVersion)>,
        /// The queued operations; neither registrations, clock advances,
        /// version reads nor transactions (see [`Operation::validate`]).
        operations: Vec<Operation>,
    },
}

impl Operation {
    /// Whether the operation only reads. A read leaves the state unchanged, so
    /// a leader may answer it without the log once it has confirmed its
    /// leadership (see [`Store::read`](crate::Store::read)).
    pub fn is_read(&self) -> bool {
        match self {
            Operation::Access(access) => access.is_read(),
            Operation::Get { .. }
            | Operation::Contains { .. }
            | Operation::CountExisting { .. }
            | Operation::CountKeys
            | Operation::ReadExpiry { .. }
            | Operation::ReadVersions { .. }
            | Operation::GetMany { .. }
            | Operation::Keys { .. }
            | Operation::Scan { .. }
            | Operation::RandomKey { .. } => true,
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
            | Operation::IncrementByFloat { .. } => false,
        }
    }

    /// Whether the operation may be queued in a transaction.
    fn fits_in_transaction(&self) -> bool {
        !matches!(
            self,
            Operation::RegisterSession
                | Operation::AdvanceClock { .. }
                | Operation::ReadVersions { .. }
                | Operation::Transaction { .. }
                | Operation::Access(_)
        )
    }

    /// The key and value bytes the operation carries.
    fn payload_size_bytes(&self) -> usize {
        match self {
            Operation::Access(access) => access.encoded_size_bytes(),
            Operation::Get { key }
            | Operation::Contains { key }
            | Operation::Remove { key }
            | Operation::Take { key }
            | Operation::IncrementBy { key, .. }
            | Operation::Persist { key }
            | Operation::ReadExpiry { key }
            | Operation::GetAndExpire { key, .. }
            | Operation::Expire { key, .. } => key.len(),
            Operation::Rename { from, to, .. } | Operation::Copy { from, to, .. } => {
                from.len() + to.len()
            }
            Operation::SetRange { key, value, .. } => key.len() + value.len(),
            Operation::IncrementByFloat { key, increment } => key.len() + increment.len(),
            Operation::Keys { pattern } => pattern.len(),
            Operation::Scan {
                pattern,
                type_filter,
                ..
            } => {
                pattern.as_ref().map_or(0, Bytes::len) + type_filter.as_ref().map_or(0, Bytes::len)
            }
            Operation::RandomKey { .. } => 0,
            Operation::Set { key, value, .. }
            | Operation::Exchange { key, value, .. }
            | Operation::SetExpiring { key, value, .. }
            | Operation::Append { key, value } => key.len() + value.len(),
            Operation::RemoveMany { keys }
            | Operation::CountExisting { keys }
            | Operation::ReadVersions { keys }
            | Operation::GetMany { keys } => keys.iter().map(Bytes::len).sum(),
            Operation::SetMany { pairs, .. } => pairs
                .iter()
                .map(|(key, value)| key.len() + value.len())
                .sum(),
            Operation::RegisterSession
            | Operation::CountKeys
            | Operation::AdvanceClock { .. }
            | Operation::Flush => 0,
            Operation::Transaction {
                watches,
                operations,
            } => {
                watches.iter().map(|(key, _)| key.len()).sum::<usize>()
                    + operations
                        .iter()
                        .map(Operation::payload_size_bytes)
                        .sum::<usize>()
            }
        }
    }

    /// Whether the answer is a distance from the agreed time (`TTL`). Such
    /// a read is best written to the log, where the leader's batch stamp
    /// brings the agreed time up to date: on the read path it would be the
    /// time of the last batch, which may be long past on an idle cluster.
    pub fn reads_the_clock(&self) -> bool {
        matches!(self, Operation::ReadExpiry { .. })
    }

    /// Checks the operation against the limits of [`crate::limits`]. The
    /// server calls it on client input before proposing.
    ///
    /// # Errors
    ///
    /// The first limit the operation breaks.
    pub fn validate(&self) -> Result<(), LimitError> {
        match self {
            Operation::Access(access) => access
                .validate()
                .map_err(|reason| LimitError::AccessInvalid { reason }),
            Operation::Get { key }
            | Operation::Contains { key }
            | Operation::Remove { key }
            | Operation::Take { key }
            | Operation::IncrementBy { key, .. }
            | Operation::Persist { key }
            | Operation::ReadExpiry { key }
            | Operation::GetAndExpire { key, .. } => check_key(key),
            Operation::Rename { from, to, .. } | Operation::Copy { from, to, .. } => {
                check_key(from)?;
                check_key(to)?;
                check_payload(from.len() + to.len())
            }
            Operation::SetRange { key, offset, value } => {
                check_key(key)?;
                check_value(value)?;
                let end = usize::try_from(*offset)
                    .ok()
                    .and_then(|offset| offset.checked_add(value.len()));
                // An empty value writes nothing, whatever the offset (Redis
                // checks the size only for a non-empty one).
                if !value.is_empty() && end.is_none_or(|end| end > crate::VALUE_SIZE_MAX_BYTES) {
                    return Err(LimitError::ValueTooLarge {
                        size_bytes: end.unwrap_or(usize::MAX),
                    });
                }
                check_payload(key.len() + value.len())
            }
            Operation::Expire { key, expiry, .. } => {
                if matches!(expiry, Expiry::Clear | Expiry::Keep) {
                    return Err(LimitError::ExpiryWithoutTime);
                }
                check_key(key)
            }
            Operation::AdvanceClock { now } => {
                if *now > UnixMillis::MAX {
                    return Err(LimitError::TimeOutOfRange);
                }
                Ok(())
            }
            Operation::Set { key, value, .. }
            | Operation::Exchange { key, value, .. }
            | Operation::SetExpiring { key, value, .. }
            | Operation::Append { key, value } => {
                check_key(key)?;
                check_value(value)?;
                check_payload(key.len() + value.len())
            }
            Operation::RemoveMany { keys }
            | Operation::CountExisting { keys }
            | Operation::ReadVersions { keys }
            | Operation::GetMany { keys } => {
                check_key_count(keys.len())?;
                keys.iter().try_for_each(|key| check_key(key))?;
                check_payload(keys.iter().map(Bytes::len).sum())
            }
            Operation::Transaction {
                watches,
                operations,
            } => {
                if watches.len() > KEYS_PER_COMMAND_MAX || operations.len() > KEYS_PER_COMMAND_MAX {
                    return Err(LimitError::TransactionTooLarge);
                }
                watches.iter().try_for_each(|(key, _)| check_key(key))?;
                for operation in operations {
                    if !operation.fits_in_transaction() {
                        return Err(LimitError::NotAllowedInTransaction);
                    }
                    operation.validate()?;
                }
                check_payload(self.payload_size_bytes())?;
                // The version, session and code bytes, then the fields.
                if TRANSACTION_HEADER_SIZE_MAX_BYTES + self.fields_size_bytes()
                    > COMMAND_SIZE_MAX_BYTES
                {
                    return Err(LimitError::TransactionTooLarge);
                }
                Ok(())
            }
            Operation::RegisterSession
            | Operation::CountKeys
            | Operation::Flush
            | Operation::RandomKey { .. } => Ok(()),
            Operation::Keys { pattern } => check_key(pattern),
            Operation::IncrementByFloat { key, increment } => {
                check_key(key)?;
                check_value(increment)?;
                check_payload(key.len() + increment.len())
            }
            Operation::Scan {
                pattern,
                type_filter,
                ..
            } => {
                pattern.iter().try_for_each(|pattern| check_key(pattern))?;
                type_filter.iter().try_for_each(|name| check_key(name))
            }
            Operation::SetMany { pairs, condition } => {
                if *condition == SetCondition::IfPresent {
                    return Err(LimitError::ConditionUnsupported);
                }
                check_key_count(pairs.len())?;
                for (key, value) in pairs {
                    check_key(key)?;
                    check_value(value)?;
                }
                check_payload(
                    pairs
                        .iter()
                        .map(|(key, value)| key.len() + value.len())
                        .sum(),
                )
            }
        }
    }
}

/// One command of the replicated log: an operation, and the session step it
/// belongs to, if any.
///
/// Untagged commands (from plain RESP clients) are applied every time they
/// appear in the log, so a client that retries one may apply it twice. Tagged
/// commands are applied at most once per (session, sequence); see
/// [`Store`](crate::Store) for the session rules and the client's contract.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Command {
    /// The session step, for exactly-once application of retries.
    pub session: Option<SessionTag>,
    /// On whose behalf the command runs: the rights checked when it is
    /// applied (see [`crate::access`]).
    pub principal: Principal,
    /// What to do.
    pub operation: Operation,
}

impl Command {
    /// A command outside any session.
    pub fn untagged(operation: Operation) -> Command {
        Command {
            session: None,
            principal: Principal::Anonymous,
            operation,
        }
    }

    /// A command that is step `sequence` of session `session`.
    pub fn tagged(session: SessionId, sequence: Sequence, operation: Operation) -> Command {
        Command {
            session: Some(SessionTag { session, sequence }),
            principal: Principal::Anonymous,
            operation,
        }
    }

    /// The same command, run on behalf of `principal`.
    #[must_use]
    pub fn on_behalf_of(mut self, principal: Principal) -> Command {
        self.principal = principal;
        self
    }

    /// Checks the command against the limits of [`crate::limits`]. A command
    /// that passes encodes to at most [`COMMAND_SIZE_MAX_BYTES`].
    ///
    /// # Errors
    ///
    /// The first limit the command breaks.
    pub fn validate(&self) -> Result<(), LimitError> {
        self.operation.validate()
    }

    /// Encodes the command for the replicated log (see the module doc for the
    /// layout).
    ///
    /// # Panics
    ///
    /// When the command breaks a limit: the caller must
    /// [`validate`](Command::validate) client input first and refuse it,
    /// because a replica would only decode it as an invalid command.
    #[must_use]
    pub fn encode(&self) -> Bytes {
        if let Err(error) = self.validate() {
            panic!("encoding a command that breaks a limit: {error}");
        }
        let size_bytes = self.encoded_size_bytes();
        let mut writer = Writer::with_capacity(size_bytes);
        writer.put_u8(COMMAND_FORMAT_VERSION);
        let user = match self.principal {
            Principal::Anonymous => None,
            Principal::User(id) => Some(id),
        };
        writer.put_u8(
            u8::from(self.session.is_some()) * FLAG_SESSION + u8::from(user.is_some()) * FLAG_USER,
        );
        if let Some(tag) = self.session {
            writer.put_u64(tag.session.0);
            writer.put_u64(tag.sequence.0);
        }
        if let Some(id) = user {
            writer.put_u64(id.0);
        }
        writer.put_u8(self.operation.code());
        self.operation.encode_fields(&mut writer);
        assert_eq!(writer.len(), size_bytes);
        assert!(size_bytes <= COMMAND_SIZE_MAX_BYTES);
        writer.into_bytes()
    }

    /// Decodes a command written by [`Command::encode`]. Never panics: any
    /// byte string either decodes to a command within the limits or yields a
    /// [`DecodeError`], and trailing bytes are an error.
    ///
    /// # Errors
    ///
    /// Why the bytes are not a command: truncated, trailing bytes, unknown
    /// version or tag, a non-canonical integer, or a broken limit.
    pub fn decode(bytes: &[u8]) -> Result<Command, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.take_version("command", COMMAND_FORMAT_VERSION)?;
        let flags = reader.take_u8()?;
        if flags & !(FLAG_SESSION | FLAG_USER) != 0 {
            return Err(DecodeError::TagUnknown {
                field: "command flags",
                tag: flags,
            });
        }
        let session = if flags & FLAG_SESSION != 0 {
            Some(SessionTag {
                session: SessionId(reader.take_u64()?),
                sequence: Sequence(reader.take_u64()?),
            })
        } else {
            None
        };
        let principal = if flags & FLAG_USER != 0 {
            Principal::User(UserId(reader.take_u64()?))
        } else {
            Principal::Anonymous
        };
        let code = reader.take_u8()?;
        let operation = Operation::decode_fields(code, &mut reader)?;
        reader.finish()?;
        Ok(Command {
            session,
            principal,
            operation,
        })
    }

    fn encoded_size_bytes(&self) -> usize {
        let session_size_bytes = match self.session {
            None => 0,
            Some(tag) => u64_size_bytes(tag.session.0) + u64_size_bytes(tag.sequence.0),
        };
        let user_size_bytes = match self.principal {
            Principal::Anonymous => 0,
            Principal::User(id) => u64_size_bytes(id.0),
        };
        // Version, flags and operation code take one byte each.
        3 + session_size_bytes + user_size_bytes + self.operation.fields_size_bytes()
    }
}

#[cfg(test)]
mod tests;
