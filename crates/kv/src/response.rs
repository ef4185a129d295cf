//! Responses: what the store answers to a command, and their binary encoding.
//!
//! A response travels from the replica that applied the command back through
//! the server to the client, and a session keeps the last one to answer a
//! retry, so it has a stable encoding like commands do. Layout of version 1:
//!
//! ```text
//! version: u8 = 1
//! response code: u8, then the response's fields:
//!   1 value               present: u8 (0 | 1), [value: varint length, bytes]
//!   2 found               u8 (0 | 1)
//!   3 stored              u8 (0 | 1)
//!   4 removed             u8 (0 | 1)
//!   5 count               varint
//!   6 session registered  session id: varint
//!   7 session expired
//!   8 sequence stale
//!   9 invalid command
//!  10 integer             varint of the i64's two's complement bits
//!  11 refused             refusal code: u8 (1 not an integer, 2 overflow, 3 too large,
//!                         4 invalid expire time, 5 answer not kept, 6 no such key,
//!                         7 same object, 8 not a float, 9 float overflow)
//!  12 expiry              kind: u8 (0 missing, 1 persistent, 2 at),
//!                         [deadline: varint, now: varint] (Unix milliseconds)
//!  13 versions            count: varint, per key: kind: u8 (0 changed,
//!                         1 unchanged as of), count: varint
//!  14 transaction         count: varint, then per operation its response's
//!                         code and fields (no version byte)
//!  15 aborted
//!  16 values              count: varint, per key: present: u8 (0 | 1),
//!                         [value: varint length, bytes]
//!  17 keys                count: varint, count × key
//!  18 scan page           cursor: varint, count: varint, count × key
//!  19 users               users (see `crate::access`)
//!  20 denied              denial: u8 (1 authentication required, 2 category:
//!                         then u8 1 read, 2 write, 4 admin; 3 key, 4 user removed)
//! refusal codes 10 users full, 11 default user undeletable, 12 user too large
//! ```

use bytes::Bytes;

use crate::access::{
    encoding::put_users, encoding::take_users, AccessRefusal, Category, Denial, User,
};
use crate::command::SessionId;
use crate::expiry::{KeyExpiry, UnixMillis};
use crate::limits::KEYS_PER_COMMAND_MAX;
use crate::limits::{check_value, RESPONSE_SIZE_MAX_BYTES};
use crate::versions::KeyVersion;
use synod_codec::{DecodeError, Reader, Writer};

/// The version of the response encoding that [`Response::encode`] writes.
pub const RESPONSE_FORMAT_VERSION: u8 = 1;

/// The store's answer to one command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Response {
    /// The answer to `get`: the value, or `None` when the key does not exist.
    Value(Option<Bytes>),
    /// The answer to `contains`: whether the key exists.
    Found(bool),
    /// The answer to `set`: whether the value was stored; `false` only when
    /// an `if absent` or `if present` condition did not hold.
    Stored(bool),
    /// The answer to `remove`: whether the key existed (and so was removed).
    Removed(bool),
    /// The answer to `remove many` (keys removed) and `count existing` (keys
    /// that exist).
    Count(u64),
    /// The answer to `register session`: the new session's id.
    SessionRegistered(SessionId),
    /// The command names a session the store does not know: never registered
    /// or evicted. The command was not applied; the client must register a
    /// new session, and the outcome of its earlier unanswered commands stays
    /// unknown.
    SessionExpired,
    /// The command's sequence is below the session's last one: it is an old
    /// duplicate, and was not applied. The client has already moved on, so
    /// it will not wait for this answer.
    SequenceStale,
    /// The command could not be decoded, broke a limit, or makes no sense
    /// (a tagged session registration, a write sent to the read path). It
    /// was not applied.
    InvalidCommand,
    /// The answer to `increment by`: the counter's new value.
    Integer(i64),
    /// The command was applied to a state it does not fit (a counter that
    /// is not an integer, a sum that overflows): nothing changed. Unlike
    /// [`Response::InvalidCommand`], the same command may succeed in
    /// another state.
    Refused(Refusal),
    /// The answer to `read expiry`: the key's deadline and the agreed time.
    Expiry(KeyExpiry),
    /// The answer to `read versions`: what `WATCH` saw of each key.
    Versions(Vec<KeyVersion>),
    /// The answer to a transaction that ran: one response per operation.
    /// Its encoding may exceed [`RESPONSE_SIZE_MAX_BYTES`] (several values).
    Transaction(Vec<Response>),
    /// A transaction did not run: a watched key had changed (`EXEC`
    /// answers nil).
    Aborted,
    /// The answer to `get many`: each key's value or `None`, in order. Its
    /// encoding may exceed [`RESPONSE_SIZE_MAX_BYTES`] (several values).
    Values(Vec<Option<Bytes>>),
    /// The answer to `keys`: the keys that match. Its encoding may exceed
    /// [`RESPONSE_SIZE_MAX_BYTES`].
    Keys(Vec<Bytes>),
    /// The answer to a read of users: those asked for, in id order.
    Users(Vec<User>),
    /// The principal may not run the command: nothing happened (see
    /// [`crate::access`]).
    Denied(Denial),
    /// The answer to `scan`: the keys of this page that pass the filters,
    /// and where to continue (0: the iteration is complete).
    ScanPage {
        /// The cursor of the next page.
        cursor: u64,
        /// The keys.
        keys: Vec<Bytes>,
    },
}

/// Why a well-formed command changed nothing; the words are Redis's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The value is not an integer in canonical decimal form, or is out of
    /// the `i64` range.
    NotInteger,
    /// The increment or decrement would leave the `i64` range.
    Overflow,
    /// The value would exceed [`crate::VALUE_SIZE_MAX_BYTES`].
    TooLarge,
    /// The deadline, measured from the agreed time, leaves the signed
    /// 64-bit milliseconds Redis allows.
    InvalidExpireTime,
    /// A retried transaction: it was applied, but its answer was larger
    /// than [`RESPONSE_SIZE_MAX_BYTES`], too large for a session to keep.
    AnswerNotKept,
    /// `RENAME` of a key that does not exist.
    NoSuchKey,
    /// `COPY` of a key onto itself.
    SameObject,
    /// `INCRBYFLOAT` of a value or by an increment that is not a number.
    NotFloat,
    /// `INCRBYFLOAT` past the representable range.
    FloatOverflow,
    /// A change of users that could not be made.
    Access(AccessRefusal),
}

impl Refusal {
    /// The message Redis gives for it (after `ERR `).
    pub fn message(self) -> &'static str {
        match self {
            Refusal::NotInteger => "value is not an integer or out of range",
            Refusal::Overflow => "increment or decrement would overflow",
            Refusal::TooLarge => {
                "string exceeds maximum allowed size (synod's value limit, 1048576 bytes)"
            }
            Refusal::InvalidExpireTime => "invalid expire time",
            Refusal::AnswerNotKept => {
                "the transaction was applied, but its answer was too large to keep for a retry"
            }
            Refusal::NoSuchKey => "no such key",
            Refusal::SameObject => "source and destination objects are the same",
            Refusal::NotFloat => "value is not a valid float",
            Refusal::FloatOverflow => "increment would produce NaN or Infinity",
            Refusal::Access(AccessRefusal::UsersFull) => {
                "the cluster has 1024 users already (synod's limit)"
            }
            Refusal::Access(AccessRefusal::DefaultUserUndeletable) => {
                "The 'default' user cannot be removed"
            }
            Refusal::Access(AccessRefusal::UserTooLarge) => {
                "a user may have at most 16 passwords and 64 key patterns (synod's limits)"
            }
        }
    }

    fn code(self) -> u8 {
        match self {
            Refusal::NotInteger => 1,
            Refusal::Overflow => 2,
            Refusal::TooLarge => 3,
            Refusal::InvalidExpireTime => 4,
            Refusal::AnswerNotKept => 5,
            Refusal::NoSuchKey => 6,
            Refusal::SameObject => 7,
            Refusal::NotFloat => 8,
            Refusal::FloatOverflow => 9,
            Refusal::Access(AccessRefusal::UsersFull) => 10,
            Refusal::Access(AccessRefusal::DefaultUserUndeletable) => 11,
            Refusal::Access(AccessRefusal::UserTooLarge) => 12,
        }
    }
}

impl Response {
    /// Encodes the response (see the module doc for the layout).
    ///
    /// # Panics
    ///
    /// When a value is above [`crate::VALUE_SIZE_MAX_BYTES`], which the store
    /// never answers.
    #[must_use]
    pub fn encode(&self) -> Bytes {
        let mut writer = Writer::with_capacity(self.encoded_size_hint_bytes());
        writer.put_u8(RESPONSE_FORMAT_VERSION);
        self.encode_body(&mut writer);
        if !matches!(
            self,
            Response::Transaction(_)
                | Response::Values(_)
                | Response::Keys(_)
                | Response::Users(_)
                | Response::ScanPage { .. }
        ) {
            assert!(writer.len() <= RESPONSE_SIZE_MAX_BYTES);
        }
        writer.into_bytes()
    }

    /// The response code and fields, without the format version.
    fn encode_body(&self, writer: &mut Writer) {
        match self {
            Response::Value(value) => {
                writer.put_u8(response_code::VALUE);
                writer.put_bool(value.is_some());
                if let Some(value) = value {
                    writer.put_bytes(value);
                }
            }
            Response::Found(flag) => put_flag(writer, response_code::FOUND, *flag),
            Response::Stored(flag) => put_flag(writer, response_code::STORED, *flag),
            Response::Removed(flag) => put_flag(writer, response_code::REMOVED, *flag),
            Response::Count(count) => {
                writer.put_u8(response_code::COUNT);
                writer.put_u64(*count);
            }
            Response::SessionRegistered(session) => {
                writer.put_u8(response_code::SESSION_REGISTERED);
                writer.put_u64(session.0);
            }
            Response::SessionExpired => writer.put_u8(response_code::SESSION_EXPIRED),
            Response::SequenceStale => writer.put_u8(response_code::SEQUENCE_STALE),
            Response::InvalidCommand => writer.put_u8(response_code::INVALID_COMMAND),
            Response::Integer(value) => {
                writer.put_u8(response_code::INTEGER);
                writer.put_u64(u64::from_ne_bytes(value.to_ne_bytes()));
            }
            Response::Refused(refusal) => {
                writer.put_u8(response_code::REFUSED);
                writer.put_u8(refusal.code());
            }
            Response::Expiry(expiry) => {
                writer.put_u8(response_code::EXPIRY);
                match expiry {
                    KeyExpiry::Missing => writer.put_u8(0),
                    KeyExpiry::Persistent => writer.put_u8(1),
                    KeyExpiry::At { deadline, now } => {
                        writer.put_u8(2);
                        writer.put_u64(deadline.0);
                        writer.put_u64(now.0);
                    }
                }
            }
            Response::Versions(versions) => {
                writer.put_u8(response_code::VERSIONS);
                writer.put_length(versions.len());
                for version in versions {
                    let (kind, count) = match version {
                        KeyVersion::Changed(count) => (0, count),
                        KeyVersion::UnchangedAsOf(count) => (1, count),
                    };
                    writer.put_u8(kind);
                    writer.put_u64(*count);
                }
            }
            Response::Transaction(responses) => {
                writer.put_u8(response_code::TRANSACTION);
                writer.put_length(responses.len());
                for response in responses {
                    response.encode_body(writer);
                }
            }
            Response::Aborted => writer.put_u8(response_code::ABORTED),
            Response::Users(users) => {
                writer.put_u8(response_code::USERS);
                put_users(writer, users.iter());
            }
            Response::Denied(denial) => {
                writer.put_u8(response_code::DENIED);
                match denial {
                    Denial::AuthenticationRequired => writer.put_u8(1),
                    Denial::Category(category) => {
                        writer.put_u8(2);
                        writer.put_u8(crate::access::Categories::of(*category).bits());
                    }
                    Denial::Key => writer.put_u8(3),
                    Denial::UserRemoved => writer.put_u8(4),
                }
            }
            Response::Keys(keys) => {
                writer.put_u8(response_code::KEYS);
                writer.put_length(keys.len());
                keys.iter().for_each(|key| writer.put_bytes(key));
            }
            Response::ScanPage { cursor, keys } => {
                writer.put_u8(response_code::SCAN_PAGE);
                writer.put_u64(*cursor);
                writer.put_length(keys.len());
                keys.iter().for_each(|key| writer.put_bytes(key));
            }
            Response::Values(values) => {
                writer.put_u8(response_code::VALUES);
                writer.put_length(values.len());
                for value in values {
                    writer.put_bool(value.is_some());
                    if let Some(value) = value {
                        writer.put_bytes(value);
                    }
                }
            }
        }
    }

    /// Decodes a response written by [`Response::encode`]. Never panics; a
    /// value above the value size limit and trailing bytes are errors.
    ///
    /// # Errors
    ///
    /// Why the bytes are not a response.
    pub fn decode(bytes: &[u8]) -> Result<Response, DecodeError> {
        let mut reader = Reader::new(bytes);
        let response = Response::decode_from(&mut reader)?;
        reader.finish()?;
        Ok(response)
    }

    /// Decodes one response from the front of `reader`, leaving what follows.
    pub(crate) fn decode_from(reader: &mut Reader<'_>) -> Result<Response, DecodeError> {
        reader.take_version("response", RESPONSE_FORMAT_VERSION)?;
        Response::decode_body(reader, true)
    }

    /// The response code and fields; `outer`: not inside a transaction's
    /// answer (which holds no transaction).
    fn decode_body(reader: &mut Reader<'_>, outer: bool) -> Result<Response, DecodeError> {
        let response = match reader.take_u8()? {
            response_code::VALUE => {
                if reader.take_bool("value presence")? {
                    let value = reader.take_bytes()?;
                    check_value(value)?;
                    Response::Value(Some(Bytes::copy_from_slice(value)))
                } else {
                    Response::Value(None)
                }
            }
            response_code::FOUND => Response::Found(reader.take_bool("found")?),
            response_code::STORED => Response::Stored(reader.take_bool("stored")?),
            response_code::REMOVED => Response::Removed(reader.take_bool("removed")?),
            response_code::COUNT => Response::Count(reader.take_u64()?),
            response_code::SESSION_REGISTERED => {
                Response::SessionRegistered(SessionId(reader.take_u64()?))
            }
            response_code::SESSION_EXPIRED => Response::SessionExpired,
            response_code::SEQUENCE_STALE => Response::SequenceStale,
            response_code::INVALID_COMMAND => Response::InvalidCommand,
            response_code::INTEGER => {
                Response::Integer(i64::from_ne_bytes(reader.take_u64()?.to_ne_bytes()))
            }
            response_code::REFUSED => Response::Refused(match reader.take_u8()? {
                1 => Refusal::NotInteger,
                2 => Refusal::Overflow,
                3 => Refusal::TooLarge,
                4 => Refusal::InvalidExpireTime,
                5 => Refusal::AnswerNotKept,
                6 => Refusal::NoSuchKey,
                7 => Refusal::SameObject,
                8 => Refusal::NotFloat,
                9 => Refusal::FloatOverflow,
                10 => Refusal::Access(AccessRefusal::UsersFull),
                11 => Refusal::Access(AccessRefusal::DefaultUserUndeletable),
                12 => Refusal::Access(AccessRefusal::UserTooLarge),
                tag => {
                    return Err(DecodeError::TagUnknown {
                        field: "refusal",
                        tag,
                    })
                }
            }),
            response_code::EXPIRY => Response::Expiry(match reader.take_u8()? {
                0 => KeyExpiry::Missing,
                1 => KeyExpiry::Persistent,
                2 => KeyExpiry::At {
                    deadline: UnixMillis(reader.take_u64()?),
                    now: UnixMillis(reader.take_u64()?),
                },
                tag => {
                    return Err(DecodeError::TagUnknown {
                        field: "expiry kind",
                        tag,
                    })
                }
            }),
            response_code::VERSIONS => {
                let count = reader.take_length()?;
                if count > KEYS_PER_COMMAND_MAX {
                    return Err(crate::LimitError::KeysTooMany { count }.into());
                }
                let mut versions = Vec::with_capacity(count);
                for _ in 0..count {
                    let kind = reader.take_u8()?;
                    let count = reader.take_u64()?;
                    versions.push(match kind {
                        0 => KeyVersion::Changed(count),
                        1 => KeyVersion::UnchangedAsOf(count),
                        tag => {
                            return Err(DecodeError::TagUnknown {
                                field: "key version",
                                tag,
                            })
                        }
                    });
                }
                Response::Versions(versions)
            }
            response_code::TRANSACTION if outer => {
                let count = reader.take_length()?;
                if count > KEYS_PER_COMMAND_MAX {
                    return Err(crate::LimitError::TransactionTooLarge.into());
                }
                let mut responses = Vec::with_capacity(count);
                for _ in 0..count {
                    responses.push(Response::decode_body(reader, false)?);
                }
                Response::Transaction(responses)
            }
            response_code::ABORTED => Response::Aborted,
            response_code::USERS => Response::Users(take_users(reader)?),
            response_code::DENIED => Response::Denied(match reader.take_u8()? {
                1 => Denial::AuthenticationRequired,
                2 => Denial::Category(match reader.take_u8()? {
                    1 => Category::Read,
                    2 => Category::Write,
                    4 => Category::Admin,
                    tag => {
                        return Err(DecodeError::TagUnknown {
                            field: "category",
                            tag,
                        })
                    }
                }),
                3 => Denial::Key,
                4 => Denial::UserRemoved,
                tag => {
                    return Err(DecodeError::TagUnknown {
                        field: "denial",
                        tag,
                    })
                }
            }),
            response_code::KEYS => Response::Keys(take_key_list(reader)?),
            response_code::SCAN_PAGE => {
                let cursor = reader.take_u64()?;
                Response::ScanPage {
                    cursor,
                    keys: take_key_list(reader)?,
                }
            }
            response_code::VALUES => {
                let count = reader.take_length()?;
                if count > KEYS_PER_COMMAND_MAX {
                    return Err(crate::LimitError::KeysTooMany { count }.into());
                }
                let mut values = Vec::with_capacity(count);
                for _ in 0..count {
                    values.push(if reader.take_bool("value presence")? {
                        let value = reader.take_bytes()?;
                        check_value(value)?;
                        Some(Bytes::copy_from_slice(value))
                    } else {
                        None
                    });
                }
                Response::Values(values)
            }
            tag => {
                return Err(DecodeError::TagUnknown {
                    field: "response code",
                    tag,
                })
            }
        };
        Ok(response)
    }

    /// Enough room for any response but a large value, which adds its length.
    fn encoded_size_hint_bytes(&self) -> usize {
        const FIXED_SIZE_MAX_BYTES: usize = 24;
        match self {
            Response::Value(Some(value)) => FIXED_SIZE_MAX_BYTES + value.len(),
            Response::Versions(versions) => FIXED_SIZE_MAX_BYTES * (1 + versions.len()),
            Response::Values(values) => values
                .iter()
                .map(|value| FIXED_SIZE_MAX_BYTES + value.as_ref().map_or(0, Bytes::len))
                .sum::<usize>()
                .saturating_add(FIXED_SIZE_MAX_BYTES),
            Response::Transaction(responses) => responses
                .iter()
                .map(Response::encoded_size_hint_bytes)
                .sum::<usize>()
                .saturating_add(FIXED_SIZE_MAX_BYTES),
            _ => FIXED_SIZE_MAX_BYTES,
        }
    }
}

/// Keys of a `keys` or `scan` answer. No allocation is sized by the count:
/// a forged one runs out of input.
fn take_key_list(reader: &mut Reader<'_>) -> Result<Vec<Bytes>, DecodeError> {
    let count = reader.take_length()?;
    let mut keys = Vec::new();
    for _ in 0..count {
        let key = reader.take_bytes()?;
        crate::limits::check_key(key)?;
        keys.push(Bytes::copy_from_slice(key));
    }
    Ok(keys)
}

fn put_flag(writer: &mut Writer, code: u8, flag: bool) {
    writer.put_u8(code);
    writer.put_bool(flag);
}

/// The response codes of the encoding; never reuse or renumber one.
mod response_code {
    pub(super) const VALUE: u8 = 1;
    pub(super) const FOUND: u8 = 2;
    pub(super) const STORED: u8 = 3;
    pub(super) const REMOVED: u8 = 4;
    pub(super) const COUNT: u8 = 5;
    pub(super) const SESSION_REGISTERED: u8 = 6;
    pub(super) const SESSION_EXPIRED: u8 = 7;
    pub(super) const SEQUENCE_STALE: u8 = 8;
    pub(super) const INVALID_COMMAND: u8 = 9;
    pub(super) const INTEGER: u8 = 10;
    pub(super) const REFUSED: u8 = 11;
    pub(super) const EXPIRY: u8 = 12;
    pub(super) const VERSIONS: u8 = 13;
    pub(super) const TRANSACTION: u8 = 14;
    pub(super) const ABORTED: u8 = 15;
    pub(super) const VALUES: u8 = 16;
    pub(super) const KEYS: u8 = 17;
    pub(super) const SCAN_PAGE: u8 = 18;
    pub(super) const USERS: u8 = 19;
    pub(super) const DENIED: u8 = 20;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::VALUE_SIZE_MAX_BYTES;

    #[test]
    fn responses_encode_to_the_documented_layout() {
        let cases: [(Response, &[u8]); 9] = [
            (Response::Integer(300), &[1, 10, 0xac, 0x02]),
            (
                Response::Integer(-1),
                &[
                    1, 10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ],
            ),
            (Response::Refused(Refusal::Overflow), &[1, 11, 2]),
            (Response::Value(None), &[1, 1, 0]),
            (
                Response::Value(Some(Bytes::from_static(b"ab"))),
                &[1, 1, 1, 2, b'a', b'b'],
            ),
            (Response::Stored(false), &[1, 3, 0]),
            (Response::Count(300), &[1, 5, 0xac, 0x02]),
            (Response::SessionRegistered(SessionId(7)), &[1, 6, 7]),
            (Response::InvalidCommand, &[1, 9]),
        ];
        for (response, expected) in cases {
            assert_eq!(response.encode().as_ref(), expected, "{response:?}");
            assert_eq!(Response::decode(expected), Ok(response));
        }
    }

    #[test]
    fn decode_rejects_bad_tags_versions_and_trailing_bytes() {
        assert_eq!(
            Response::decode(&[1, 21]),
            Err(DecodeError::TagUnknown {
                field: "response code",
                tag: 21
            })
        );
        assert_eq!(
            Response::decode(&[0, 9]),
            Err(DecodeError::VersionUnsupported {
                format: "response",
                version: 0
            })
        );
        assert_eq!(
            Response::decode(&[1, 2, 2]),
            Err(DecodeError::TagUnknown {
                field: "found",
                tag: 2
            })
        );
        assert_eq!(
            Response::decode(&[1, 9, 9]),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
        assert_eq!(Response::decode(&[1]), Err(DecodeError::Truncated));
    }

    #[test]
    fn the_largest_value_fits_in_the_response_size_limit() {
        let response = Response::Value(Some(Bytes::from(vec![0; VALUE_SIZE_MAX_BYTES])));
        let encoded = response.encode();
        assert!(encoded.len() <= RESPONSE_SIZE_MAX_BYTES);
        assert_eq!(Response::decode(&encoded), Ok(response));
    }
}
