//! The binary encoding of an operation's fields (the layout is in the
//! documentation of [`crate::command`]): the operation codes, the size of
//! the fields, and writing and reading them. Kept apart from the operations
//! themselves so that each file reads in one sitting.

use super::*;

impl Operation {
    pub(super) fn code(&self) -> u8 {
        match self {
            Operation::Get { .. } => operation_code::GET,
            Operation::Contains { .. } => operation_code::CONTAINS,
            Operation::Set { .. } => operation_code::SET,
            Operation::Remove { .. } => operation_code::REMOVE,
            Operation::RemoveMany { .. } => operation_code::REMOVE_MANY,
            Operation::CountExisting { .. } => operation_code::COUNT_EXISTING,
            Operation::RegisterSession => operation_code::REGISTER_SESSION,
            Operation::IncrementBy { .. } => operation_code::INCREMENT_BY,
            Operation::Exchange { .. } => operation_code::EXCHANGE,
            Operation::Take { .. } => operation_code::TAKE,
            Operation::Append { .. } => operation_code::APPEND,
            Operation::CountKeys => operation_code::COUNT_KEYS,
            Operation::SetMany { .. } => operation_code::SET_MANY,
            Operation::AdvanceClock { .. } => operation_code::ADVANCE_CLOCK,
            Operation::SetExpiring { .. } => operation_code::SET_EXPIRING,
            Operation::Expire { .. } => operation_code::EXPIRE,
            Operation::Persist { .. } => operation_code::PERSIST,
            Operation::ReadExpiry { .. } => operation_code::READ_EXPIRY,
            Operation::GetAndExpire { .. } => operation_code::GET_AND_EXPIRE,
            Operation::ReadVersions { .. } => operation_code::READ_VERSIONS,
            Operation::Transaction { .. } => operation_code::TRANSACTION,
            Operation::GetMany { .. } => operation_code::GET_MANY,
            Operation::Flush => operation_code::FLUSH,
            Operation::Rename { .. } => operation_code::RENAME,
            Operation::Copy { .. } => operation_code::COPY,
            Operation::SetRange { .. } => operation_code::SET_RANGE,
            Operation::Keys { .. } => operation_code::KEYS,
            Operation::Scan { .. } => operation_code::SCAN,
            Operation::RandomKey { .. } => operation_code::RANDOM_KEY,
            Operation::IncrementByFloat { .. } => operation_code::INCREMENT_BY_FLOAT,
            Operation::Access(_) => operation_code::ACCESS,
        }
    }

    /// The size of the fields that follow the operation code.
    pub(super) fn fields_size_bytes(&self) -> usize {
        match self {
            Operation::Access(access) => access.encoded_size_bytes(),
            Operation::Get { key }
            | Operation::Contains { key }
            | Operation::Remove { key }
            | Operation::Take { key }
            | Operation::Persist { key }
            | Operation::ReadExpiry { key } => bytes_size_bytes(key.len()),
            Operation::AdvanceClock { now } => u64_size_bytes(now.0),
            Operation::Flush => 0,
            Operation::Keys { pattern } => bytes_size_bytes(pattern.len()),
            Operation::Scan {
                cursor,
                pattern,
                count,
                type_filter,
            } => {
                u64_size_bytes(*cursor)
                    + u64_size_bytes(*count)
                    + 1
                    + pattern
                        .as_ref()
                        .map_or(0, |pattern| bytes_size_bytes(pattern.len()))
                    + type_filter
                        .as_ref()
                        .map_or(0, |name| bytes_size_bytes(name.len()))
            }
            Operation::RandomKey { seed } => u64_size_bytes(*seed),
            Operation::IncrementByFloat { key, increment } => {
                bytes_size_bytes(key.len()) + bytes_size_bytes(increment.len())
            }
            Operation::Rename { from, to, .. } | Operation::Copy { from, to, .. } => {
                1 + bytes_size_bytes(from.len()) + bytes_size_bytes(to.len())
            }
            Operation::SetRange { key, offset, value } => {
                u64_size_bytes(*offset)
                    + bytes_size_bytes(key.len())
                    + bytes_size_bytes(value.len())
            }
            Operation::SetExpiring {
                key, value, expiry, ..
            } => {
                2 + expiry.size_bytes()
                    + bytes_size_bytes(key.len())
                    + bytes_size_bytes(value.len())
            }
            Operation::Expire { key, expiry, .. } => {
                1 + expiry.size_bytes() + bytes_size_bytes(key.len())
            }
            Operation::GetAndExpire { key, expiry } => {
                expiry.size_bytes() + bytes_size_bytes(key.len())
            }
            Operation::Set { key, value, .. } | Operation::Exchange { key, value, .. } => {
                1 + bytes_size_bytes(key.len()) + bytes_size_bytes(value.len())
            }
            Operation::Append { key, value } => {
                bytes_size_bytes(key.len()) + bytes_size_bytes(value.len())
            }
            Operation::CountKeys => 0,
            Operation::SetMany { pairs, .. } => {
                1 + u64_size_bytes(pairs.len() as u64)
                    + pairs
                        .iter()
                        .map(|(key, value)| {
                            bytes_size_bytes(key.len()) + bytes_size_bytes(value.len())
                        })
                        .sum::<usize>()
            }
            Operation::RemoveMany { keys }
            | Operation::CountExisting { keys }
            | Operation::ReadVersions { keys }
            | Operation::GetMany { keys } => {
                u64_size_bytes(keys.len() as u64)
                    + keys
                        .iter()
                        .map(|key| bytes_size_bytes(key.len()))
                        .sum::<usize>()
            }
            Operation::Transaction {
                watches,
                operations,
            } => {
                u64_size_bytes(watches.len() as u64)
                    + watches
                        .iter()
                        .map(|(key, version)| {
                            bytes_size_bytes(key.len())
                                + 1
                                + u64_size_bytes(version_count(*version))
                        })
                        .sum::<usize>()
                    + u64_size_bytes(operations.len() as u64)
                    + operations
                        .iter()
                        .map(|operation| 1 + operation.fields_size_bytes())
                        .sum::<usize>()
            }
            Operation::RegisterSession => 0,
            Operation::IncrementBy { key, delta } => {
                bytes_size_bytes(key.len()) + u64_size_bytes(delta_bits(*delta))
            }
        }
    }

    pub(super) fn encode_fields(&self, writer: &mut Writer) {
        match self {
            Operation::Access(access) => access.encode(writer),
            Operation::Get { key }
            | Operation::Contains { key }
            | Operation::Remove { key }
            | Operation::Take { key }
            | Operation::Persist { key }
            | Operation::ReadExpiry { key } => {
                writer.put_bytes(key);
            }
            Operation::AdvanceClock { now } => writer.put_u64(now.0),
            Operation::Flush => {}
            Operation::Keys { pattern } => writer.put_bytes(pattern),
            Operation::Scan {
                cursor,
                pattern,
                count,
                type_filter,
            } => {
                writer.put_u64(*cursor);
                writer.put_u64(*count);
                writer.put_u8(u8::from(pattern.is_some()) | (u8::from(type_filter.is_some()) << 1));
                pattern.iter().for_each(|pattern| writer.put_bytes(pattern));
                type_filter.iter().for_each(|name| writer.put_bytes(name));
            }
            Operation::RandomKey { seed } => writer.put_u64(*seed),
            Operation::IncrementByFloat { key, increment } => {
                writer.put_bytes(key);
                writer.put_bytes(increment);
            }
            Operation::Rename {
                from,
                to,
                only_if_absent: flag,
            }
            | Operation::Copy {
                from,
                to,
                replace: flag,
            } => {
                writer.put_bool(*flag);
                writer.put_bytes(from);
                writer.put_bytes(to);
            }
            Operation::SetRange { key, offset, value } => {
                writer.put_u64(*offset);
                writer.put_bytes(key);
                writer.put_bytes(value);
            }
            Operation::SetExpiring {
                key,
                value,
                condition,
                expiry,
                answer_previous,
            } => {
                writer.put_bool(*answer_previous);
                writer.put_u8(condition_code(*condition));
                expiry.encode(writer);
                writer.put_bytes(key);
                writer.put_bytes(value);
            }
            Operation::Expire {
                key,
                expiry,
                condition,
            } => {
                writer.put_u8(condition.code());
                expiry.encode(writer);
                writer.put_bytes(key);
            }
            Operation::GetAndExpire { key, expiry } => {
                expiry.encode(writer);
                writer.put_bytes(key);
            }
            Operation::Append { key, value } => {
                writer.put_bytes(key);
                writer.put_bytes(value);
            }
            Operation::CountKeys => {}
            Operation::SetMany { pairs, condition } => {
                writer.put_u8(condition_code(*condition));
                writer.put_length(pairs.len());
                for (key, value) in pairs {
                    writer.put_bytes(key);
                    writer.put_bytes(value);
                }
            }
            Operation::Set {
                key,
                value,
                condition,
            }
            | Operation::Exchange {
                key,
                value,
                condition,
            } => {
                writer.put_u8(condition_code(*condition));
                writer.put_bytes(key);
                writer.put_bytes(value);
            }
            Operation::RemoveMany { keys }
            | Operation::CountExisting { keys }
            | Operation::ReadVersions { keys }
            | Operation::GetMany { keys } => {
                writer.put_length(keys.len());
                keys.iter().for_each(|key| writer.put_bytes(key));
            }
            Operation::Transaction {
                watches,
                operations,
            } => {
                writer.put_length(watches.len());
                for (key, version) in watches {
                    writer.put_bytes(key);
                    writer.put_u8(match version {
                        KeyVersion::Changed(_) => 0,
                        KeyVersion::UnchangedAsOf(_) => 1,
                    });
                    writer.put_u64(version_count(*version));
                }
                writer.put_length(operations.len());
                for operation in operations {
                    writer.put_u8(operation.code());
                    operation.encode_fields(writer);
                }
            }
            Operation::RegisterSession => {}
            Operation::IncrementBy { key, delta } => {
                writer.put_bytes(key);
                writer.put_u64(delta_bits(*delta));
            }
        }
    }

    pub(super) fn decode_fields(
        code: u8,
        reader: &mut Reader<'_>,
    ) -> Result<Operation, DecodeError> {
        let operation = match code {
            operation_code::ACCESS => Operation::Access(AccessOperation::decode(reader)?),
            operation_code::GET => Operation::Get {
                key: take_key(reader)?,
            },
            operation_code::CONTAINS => Operation::Contains {
                key: take_key(reader)?,
            },
            operation_code::SET => {
                let condition = take_condition(reader)?;
                let (key, value) = take_pair(reader)?;
                Operation::Set {
                    key,
                    value,
                    condition,
                }
            }
            operation_code::EXCHANGE => {
                let condition = take_condition(reader)?;
                let (key, value) = take_pair(reader)?;
                Operation::Exchange {
                    key,
                    value,
                    condition,
                }
            }
            operation_code::TAKE => Operation::Take {
                key: take_key(reader)?,
            },
            operation_code::ADVANCE_CLOCK => Operation::AdvanceClock {
                now: UnixMillis(reader.take_u64()?),
            },
            operation_code::SET_EXPIRING => {
                let answer_previous = reader.take_bool("answer previous")?;
                let condition = take_condition(reader)?;
                let expiry = Expiry::decode(reader)?;
                let (key, value) = take_pair(reader)?;
                Operation::SetExpiring {
                    key,
                    value,
                    condition,
                    expiry,
                    answer_previous,
                }
            }
            operation_code::EXPIRE => {
                let condition = ExpireCondition::decode(reader)?;
                let expiry = Expiry::decode(reader)?;
                Operation::Expire {
                    key: take_key(reader)?,
                    expiry,
                    condition,
                }
            }
            operation_code::PERSIST => Operation::Persist {
                key: take_key(reader)?,
            },
            operation_code::READ_EXPIRY => Operation::ReadExpiry {
                key: take_key(reader)?,
            },
            operation_code::GET_AND_EXPIRE => {
                let expiry = Expiry::decode(reader)?;
                Operation::GetAndExpire {
                    key: take_key(reader)?,
                    expiry,
                }
            }
            operation_code::APPEND => {
                let (key, value) = take_pair(reader)?;
                Operation::Append { key, value }
            }
            operation_code::COUNT_KEYS => Operation::CountKeys,
            operation_code::SET_MANY => {
                let condition = take_condition(reader)?;
                let count = reader.take_length()?;
                // Checked before the loop so a forged count cannot make a
                // huge vector.
                check_key_count(count)?;
                let mut pairs = Vec::with_capacity(count);
                for _ in 0..count {
                    pairs.push(take_pair(reader)?);
                }
                Operation::SetMany { pairs, condition }
            }
            operation_code::REMOVE => Operation::Remove {
                key: take_key(reader)?,
            },
            operation_code::REMOVE_MANY => Operation::RemoveMany {
                keys: take_keys(reader)?,
            },
            operation_code::COUNT_EXISTING => Operation::CountExisting {
                keys: take_keys(reader)?,
            },
            operation_code::READ_VERSIONS => Operation::ReadVersions {
                keys: take_keys(reader)?,
            },
            operation_code::TRANSACTION => take_transaction(reader)?,
            operation_code::GET_MANY => Operation::GetMany {
                keys: take_keys(reader)?,
            },
            operation_code::FLUSH => Operation::Flush,
            operation_code::KEYS => Operation::Keys {
                pattern: take_key(reader)?,
            },
            operation_code::SCAN => {
                let cursor = reader.take_u64()?;
                let count = reader.take_u64()?;
                let filters = reader.take_u8()?;
                if filters > 3 {
                    return Err(DecodeError::TagUnknown {
                        field: "scan filters",
                        tag: filters,
                    });
                }
                let pattern = (filters & 1 != 0).then(|| take_key(reader)).transpose()?;
                let type_filter = (filters & 2 != 0).then(|| take_key(reader)).transpose()?;
                Operation::Scan {
                    cursor,
                    pattern,
                    count,
                    type_filter,
                }
            }
            operation_code::RANDOM_KEY => Operation::RandomKey {
                seed: reader.take_u64()?,
            },
            operation_code::INCREMENT_BY_FLOAT => {
                let (key, increment) = take_pair(reader)?;
                Operation::IncrementByFloat { key, increment }
            }
            operation_code::RENAME => {
                let only_if_absent = reader.take_bool("only if absent")?;
                Operation::Rename {
                    from: take_key(reader)?,
                    to: take_key(reader)?,
                    only_if_absent,
                }
            }
            operation_code::COPY => {
                let replace = reader.take_bool("replace")?;
                Operation::Copy {
                    from: take_key(reader)?,
                    to: take_key(reader)?,
                    replace,
                }
            }
            operation_code::SET_RANGE => {
                let offset = reader.take_u64()?;
                let (key, value) = take_pair(reader)?;
                Operation::SetRange { key, offset, value }
            }
            operation_code::REGISTER_SESSION => Operation::RegisterSession,
            operation_code::INCREMENT_BY => Operation::IncrementBy {
                key: take_key(reader)?,
                delta: i64::from_ne_bytes(reader.take_u64()?.to_ne_bytes()),
            },
            tag => {
                return Err(DecodeError::TagUnknown {
                    field: "operation code",
                    tag,
                })
            }
        };
        // The per-field checks above bound each key and value; this catches
        // the totals (payload size) with the same rule the server applies.
        operation.validate()?;
        Ok(operation)
    }
}

/// The operation codes of the encoding; never reuse or renumber one.
pub(super) mod operation_code {
    pub(in crate::command) const GET: u8 = 1;
    pub(in crate::command) const CONTAINS: u8 = 2;
    pub(in crate::command) const SET: u8 = 3;
    pub(in crate::command) const REMOVE: u8 = 4;
    pub(in crate::command) const REMOVE_MANY: u8 = 5;
    pub(in crate::command) const COUNT_EXISTING: u8 = 6;
    pub(in crate::command) const REGISTER_SESSION: u8 = 7;
    pub(in crate::command) const INCREMENT_BY: u8 = 8;
    pub(in crate::command) const EXCHANGE: u8 = 9;
    pub(in crate::command) const TAKE: u8 = 10;
    pub(in crate::command) const APPEND: u8 = 11;
    pub(in crate::command) const COUNT_KEYS: u8 = 12;
    pub(in crate::command) const SET_MANY: u8 = 13;
    pub(in crate::command) const ADVANCE_CLOCK: u8 = 14;
    pub(in crate::command) const SET_EXPIRING: u8 = 15;
    pub(in crate::command) const EXPIRE: u8 = 16;
    pub(in crate::command) const PERSIST: u8 = 17;
    pub(in crate::command) const READ_EXPIRY: u8 = 18;
    pub(in crate::command) const GET_AND_EXPIRE: u8 = 19;
    pub(in crate::command) const READ_VERSIONS: u8 = 20;
    pub(in crate::command) const TRANSACTION: u8 = 21;
    pub(in crate::command) const GET_MANY: u8 = 22;
    pub(in crate::command) const FLUSH: u8 = 23;
    pub(in crate::command) const RENAME: u8 = 24;
    pub(in crate::command) const COPY: u8 = 25;
    pub(in crate::command) const SET_RANGE: u8 = 26;
    pub(in crate::command) const KEYS: u8 = 27;
    pub(in crate::command) const SCAN: u8 = 28;
    pub(in crate::command) const RANDOM_KEY: u8 = 29;
    pub(in crate::command) const INCREMENT_BY_FLOAT: u8 = 30;
    pub(in crate::command) const ACCESS: u8 = 31;
}

/// An increment's bits as the varint encodes them: its two's complement,
/// so a small negative delta costs ten bytes, which a counter's rare
/// decrement can afford.
fn delta_bits(delta: i64) -> u64 {
    u64::from_ne_bytes(delta.to_ne_bytes())
}

fn condition_code(condition: SetCondition) -> u8 {
    match condition {
        SetCondition::Always => 0,
        SetCondition::IfAbsent => 1,
        SetCondition::IfPresent => 2,
    }
}

fn take_condition(reader: &mut Reader<'_>) -> Result<SetCondition, DecodeError> {
    match reader.take_u8()? {
        0 => Ok(SetCondition::Always),
        1 => Ok(SetCondition::IfAbsent),
        2 => Ok(SetCondition::IfPresent),
        tag => Err(DecodeError::TagUnknown {
            field: "set condition",
            tag,
        }),
    }
}

/// Takes a key, copying it out of the input: the decoded command outlives
/// the log entry's buffer.
fn take_key(reader: &mut Reader<'_>) -> Result<Bytes, DecodeError> {
    let key = reader.take_bytes()?;
    check_key(key)?;
    Ok(Bytes::copy_from_slice(key))
}

/// Takes a key and a value, each checked against its limit.
fn take_pair(reader: &mut Reader<'_>) -> Result<(Bytes, Bytes), DecodeError> {
    let key = take_key(reader)?;
    let value = Bytes::copy_from_slice(reader.take_bytes()?);
    check_value(&value)?;
    Ok((key, value))
}

/// The most bytes a command spends before a transaction's fields: the
/// format version, the session flag, session id and sequence, and the
/// operation code.
pub(super) const TRANSACTION_HEADER_SIZE_MAX_BYTES: usize =
    1 + 1 + 2 * synod_codec::VARINT_SIZE_MAX_BYTES + 1;

/// The count a key version carries.
fn version_count(version: KeyVersion) -> u64 {
    match version {
        KeyVersion::Changed(count) | KeyVersion::UnchangedAsOf(count) => count,
    }
}

fn take_transaction(reader: &mut Reader<'_>) -> Result<Operation, DecodeError> {
    // Counts are checked before the loops so a forged one cannot make a
    // huge vector.
    let watch_count = reader.take_length()?;
    if watch_count > KEYS_PER_COMMAND_MAX {
        return Err(LimitError::TransactionTooLarge.into());
    }
    let mut watches = Vec::with_capacity(watch_count);
    for _ in 0..watch_count {
        let key = take_key(reader)?;
        let kind = reader.take_u8()?;
        let count = reader.take_u64()?;
        let version = match kind {
            0 => KeyVersion::Changed(count),
            1 => KeyVersion::UnchangedAsOf(count),
            tag => {
                return Err(DecodeError::TagUnknown {
                    field: "key version",
                    tag,
                })
            }
        };
        watches.push((key, version));
    }
    let operation_count = reader.take_length()?;
    if operation_count > KEYS_PER_COMMAND_MAX {
        return Err(LimitError::TransactionTooLarge.into());
    }
    let mut operations = Vec::with_capacity(operation_count);
    for _ in 0..operation_count {
        let code = reader.take_u8()?;
        if code == operation_code::TRANSACTION {
            return Err(LimitError::NotAllowedInTransaction.into());
        }
        operations.push(Operation::decode_fields(code, reader)?);
    }
    Ok(Operation::Transaction {
        watches,
        operations,
    })
}

fn take_keys(reader: &mut Reader<'_>) -> Result<Vec<Bytes>, DecodeError> {
    let count = reader.take_length()?;
    // Checked before the loop so a forged count cannot make a huge vector.
    check_key_count(count)?;
    let mut keys = Vec::with_capacity(count);
    for _ in 0..count {
        keys.push(take_key(reader)?);
    }
    Ok(keys)
}
