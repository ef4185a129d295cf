//! The binary encoding of users, rules and user operations: in commands
//! (operation 31 of [`crate::command`]), in responses and in snapshots.
//!
//! ```text
//! user:           id: varint, name, enabled: u8, no password: u8,
//!                 password count: varint, per password: password hash,
//!                 categories: u8 (bit 0 read, 1 write, 2 admin),
//!                 pattern count: varint, per pattern: bytes
//! password hash:  iterations: varint, salt: bytes, digest: bytes
//! rule:           code: u8 (1 on, 2 off, 3 nopass, 4 resetpass,
//!                 5 add password: password hash, 6 remove password:
//!                 password hash, 7 allow: categories u8, 8 deny:
//!                 categories u8, 9 add key pattern: bytes, 10 resetkeys,
//!                 11 reset)
//! operation:      code: u8 (1 set user: name, rule count: varint, rules;
//!                 2 delete users: count: varint, names; 3 list users;
//!                 4 read user: name; 5 credentials: name;
//!                 6 authorize: category u8 (1 read, 2 write, 4 admin))
//! bytes:          varint length, then that many bytes
//! ```

use bytes::Bytes;
use synod_codec::{DecodeError, Reader, Writer};

use super::*;

/// Encodes users, count first.
pub fn encode_users(users: &[User]) -> Bytes {
    let mut writer = Writer::new();
    put_users(&mut writer, users.iter());
    writer.into_bytes()
}

/// Decodes what [`encode_users`] wrote.
///
/// # Errors
///
/// When the bytes are not users within the limits.
pub fn decode_users(bytes: &[u8]) -> Result<Vec<User>, DecodeError> {
    let mut reader = Reader::new(bytes);
    let users = take_users(&mut reader)?;
    reader.finish()?;
    Ok(users)
}

pub(crate) fn put_users<'user>(
    writer: &mut Writer,
    users: impl ExactSizeIterator<Item = &'user User>,
) {
    writer.put_length(users.len());
    for user in users {
        writer.put_u64(user.id.0);
        writer.put_bytes(&user.name);
        writer.put_bool(user.enabled);
        writer.put_bool(user.no_password);
        writer.put_length(user.passwords.len());
        for hash in &user.passwords {
            put_hash(writer, hash);
        }
        writer.put_u8(user.categories.bits());
        writer.put_length(user.key_patterns.len());
        for key_pattern in &user.key_patterns {
            writer.put_bytes(key_pattern);
        }
    }
}

pub(crate) fn take_users(reader: &mut Reader<'_>) -> Result<Vec<User>, DecodeError> {
    let count = reader.take_list_length(8)?;
    if count > USERS_MAX {
        return Err(limit("users", "more users than the limit"));
    }
    let mut users = Vec::with_capacity(count);
    for _ in 0..count {
        let id = UserId(reader.take_u64()?);
        let name = take_name(reader)?;
        let enabled = reader.take_bool("enabled")?;
        let no_password = reader.take_bool("no password")?;
        let password_count = reader.take_list_length(3)?;
        if password_count > PASSWORDS_PER_USER_MAX {
            return Err(limit("passwords", "more passwords than the limit"));
        }
        let passwords = (0..password_count)
            .map(|_| take_hash(reader))
            .collect::<Result<_, _>>()?;
        let categories = take_categories(reader)?;
        let pattern_count = reader.take_list_length(1)?;
        if pattern_count > KEY_PATTERNS_PER_USER_MAX {
            return Err(limit("key patterns", "more key patterns than the limit"));
        }
        let key_patterns = (0..pattern_count)
            .map(|_| take_key_pattern(reader))
            .collect::<Result<_, _>>()?;
        users.push(User {
            id,
            name,
            enabled,
            no_password,
            passwords,
            categories,
            key_patterns,
        });
    }
    Ok(users)
}

fn put_hash(writer: &mut Writer, hash: &PasswordHash) {
    writer.put_u64(u64::from(hash.iterations));
    writer.put_bytes(&hash.salt);
    writer.put_bytes(&hash.digest);
}

fn take_hash(reader: &mut Reader<'_>) -> Result<PasswordHash, DecodeError> {
    let iterations = u32::try_from(reader.take_u64()?)
        .map_err(|_| limit("iterations", "more than 2^32 iterations"))?;
    let salt = Bytes::copy_from_slice(reader.take_bytes()?);
    let digest = Bytes::copy_from_slice(reader.take_bytes()?);
    if salt.len() > PASSWORD_SALT_SIZE_MAX_BYTES || digest.len() != PASSWORD_DIGEST_SIZE_BYTES {
        return Err(limit("password hash", "a salt or digest of the wrong size"));
    }
    Ok(PasswordHash {
        iterations,
        salt,
        digest,
    })
}

fn take_categories(reader: &mut Reader<'_>) -> Result<Categories, DecodeError> {
    Categories::from_bits(reader.take_u8()?).ok_or(DecodeError::TagUnknown {
        field: "categories",
        tag: 0,
    })
}

fn take_name(reader: &mut Reader<'_>) -> Result<Bytes, DecodeError> {
    let name = Bytes::copy_from_slice(reader.take_bytes()?);
    check_user_name(&name).map_err(|reason| limit("user name", reason))?;
    Ok(name)
}

fn take_key_pattern(reader: &mut Reader<'_>) -> Result<Bytes, DecodeError> {
    let key_pattern = Bytes::copy_from_slice(reader.take_bytes()?);
    if key_pattern.len() > KEY_PATTERN_SIZE_MAX_BYTES {
        return Err(limit("key pattern", "a key pattern longer than the limit"));
    }
    Ok(key_pattern)
}

fn limit(field: &'static str, reason: &str) -> DecodeError {
    DecodeError::LimitExceeded {
        field,
        reason: reason.to_string(),
    }
}

/// Checks a user name: 1 to [`USER_NAME_SIZE_MAX_BYTES`] bytes, printable,
/// no spaces (`ACL LIST` prints it between spaces, as Redis does).
///
/// # Errors
///
/// Why the name is not one.
pub fn check_user_name(name: &[u8]) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > USER_NAME_SIZE_MAX_BYTES {
        return Err("a user name is 1 to 256 bytes");
    }
    if !name.iter().all(|byte| (b'!'..=b'~').contains(byte)) {
        return Err("a user name is printable ASCII without spaces");
    }
    Ok(())
}

impl AccessOperation {
    /// Checks the operation against the limits.
    ///
    /// # Errors
    ///
    /// The first limit it breaks, in words.
    pub fn validate(&self) -> Result<(), &'static str> {
        match self {
            AccessOperation::SetUser { name, rules } => {
                check_user_name(name)?;
                if rules.len() > RULES_PER_CHANGE_MAX {
                    return Err("too many rules in one change");
                }
                for rule in rules {
                    match rule {
                        Rule::AddKeyPattern(key_pattern)
                            if key_pattern.len() > KEY_PATTERN_SIZE_MAX_BYTES =>
                        {
                            return Err("a key pattern is longer than 1024 bytes")
                        }
                        Rule::AddPassword(hash) | Rule::RemovePassword(hash)
                            if hash.salt.len() > PASSWORD_SALT_SIZE_MAX_BYTES
                                || hash.digest.len() != PASSWORD_DIGEST_SIZE_BYTES =>
                        {
                            return Err("a password hash of the wrong size")
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            AccessOperation::DeleteUsers { names } => {
                if names.is_empty() || names.len() > NAMES_PER_CHANGE_MAX {
                    return Err("a removal names 1 to 256 users");
                }
                names.iter().try_for_each(|name| check_user_name(name))
            }
            AccessOperation::ReadUser { name } | AccessOperation::Credentials { name } => {
                check_user_name(name)
            }
            AccessOperation::ListUsers | AccessOperation::Authorize { .. } => Ok(()),
        }
    }

    /// The encoding's size, for the command's.
    pub(crate) fn encoded_size_bytes(&self) -> usize {
        let mut writer = Writer::new();
        self.encode(&mut writer);
        writer.len()
    }

    pub(crate) fn encode(&self, writer: &mut Writer) {
        match self {
            AccessOperation::SetUser { name, rules } => {
                writer.put_u8(1);
                writer.put_bytes(name);
                writer.put_length(rules.len());
                for rule in rules {
                    put_rule(writer, rule);
                }
            }
            AccessOperation::DeleteUsers { names } => {
                writer.put_u8(2);
                writer.put_length(names.len());
                for name in names {
                    writer.put_bytes(name);
                }
            }
            AccessOperation::ListUsers => writer.put_u8(3),
            AccessOperation::ReadUser { name } => {
                writer.put_u8(4);
                writer.put_bytes(name);
            }
            AccessOperation::Credentials { name } => {
                writer.put_u8(5);
                writer.put_bytes(name);
            }
            AccessOperation::Authorize { category } => {
                writer.put_u8(6);
                writer.put_u8(Categories::of(*category).bits());
            }
        }
    }

    pub(crate) fn decode(reader: &mut Reader<'_>) -> Result<AccessOperation, DecodeError> {
        let operation = match reader.take_u8()? {
            1 => {
                let name = take_name(reader)?;
                let count = reader.take_list_length(1)?;
                if count > RULES_PER_CHANGE_MAX {
                    return Err(limit("rules", "too many rules in one change"));
                }
                let rules = (0..count)
                    .map(|_| take_rule(reader))
                    .collect::<Result<_, _>>()?;
                AccessOperation::SetUser { name, rules }
            }
            2 => {
                let count = reader.take_list_length(2)?;
                let names = (0..count)
                    .map(|_| take_name(reader))
                    .collect::<Result<_, _>>()?;
                AccessOperation::DeleteUsers { names }
            }
            3 => AccessOperation::ListUsers,
            4 => AccessOperation::ReadUser {
                name: take_name(reader)?,
            },
            5 => AccessOperation::Credentials {
                name: take_name(reader)?,
            },
            6 => {
                let bits = reader.take_u8()?;
                let category = Category::ALL
                    .into_iter()
                    .find(|category| category.bit() == bits)
                    .ok_or(DecodeError::TagUnknown {
                        field: "category",
                        tag: bits,
                    })?;
                AccessOperation::Authorize { category }
            }
            tag => {
                return Err(DecodeError::TagUnknown {
                    field: "access operation",
                    tag,
                })
            }
        };
        operation
            .validate()
            .map_err(|reason| limit("access operation", reason))?;
        Ok(operation)
    }
}

fn put_rule(writer: &mut Writer, rule: &Rule) {
    match rule {
        Rule::On => writer.put_u8(1),
        Rule::Off => writer.put_u8(2),
        Rule::NoPassword => writer.put_u8(3),
        Rule::ResetPasswords => writer.put_u8(4),
        Rule::AddPassword(hash) => {
            writer.put_u8(5);
            put_hash(writer, hash);
        }
        Rule::RemovePassword(hash) => {
            writer.put_u8(6);
            put_hash(writer, hash);
        }
        Rule::Allow(categories) => {
            writer.put_u8(7);
            writer.put_u8(categories.bits());
        }
        Rule::Deny(categories) => {
            writer.put_u8(8);
            writer.put_u8(categories.bits());
        }
        Rule::AddKeyPattern(key_pattern) => {
            writer.put_u8(9);
            writer.put_bytes(key_pattern);
        }
        Rule::ResetKeys => writer.put_u8(10),
        Rule::Reset => writer.put_u8(11),
    }
}

fn take_rule(reader: &mut Reader<'_>) -> Result<Rule, DecodeError> {
    Ok(match reader.take_u8()? {
        1 => Rule::On,
        2 => Rule::Off,
        3 => Rule::NoPassword,
        4 => Rule::ResetPasswords,
        5 => Rule::AddPassword(take_hash(reader)?),
        6 => Rule::RemovePassword(take_hash(reader)?),
        7 => Rule::Allow(take_categories(reader)?),
        8 => Rule::Deny(take_categories(reader)?),
        9 => Rule::AddKeyPattern(take_key_pattern(reader)?),
        10 => Rule::ResetKeys,
        11 => Rule::Reset,
        tag => return Err(DecodeError::TagUnknown { field: "rule", tag }),
    })
}
