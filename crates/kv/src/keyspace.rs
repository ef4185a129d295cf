//! The keyspace commands that move, copy, rewrite or drop values whole:
//! `FLUSHALL`/`FLUSHDB`, `RENAME`/`RENAMENX`, `COPY`, `SETRANGE`, with
//! Redis 7's answers. A key's deadline travels with its value.

use bytes::Bytes;

use crate::key::StoredKey;
use crate::response::{Refusal, Response};
use crate::store::Store;
use crate::SetCondition;

impl Store {
    /// Removes every key; each leaves a tombstone, so that a `WATCH` of it
    /// sees the change (a flush of many keys is one long apply, as a
    /// synchronous `FLUSHALL` is in Redis).
    pub(crate) fn flush(&mut self) -> Response {
        let keys: Vec<Bytes> = self.entries.keys().map(|key| key.bytes().clone()).collect();
        for key in keys {
            self.take(&key);
        }
        Response::Stored(true)
    }

    /// `RENAME` (`Stored(true)`) and `RENAMENX` (`Count(1)`, or `Count(0)`
    /// when `to` exists); a missing `from` is refused.
    pub(crate) fn rename(&mut self, from: &Bytes, to: Bytes, only_if_absent: bool) -> Response {
        let Some(value) = self.value(from) else {
            return Response::Refused(Refusal::NoSuchKey);
        };
        let answer = |renamed: bool| {
            if only_if_absent {
                Response::Count(u64::from(renamed))
            } else {
                Response::Stored(true)
            }
        };
        if from == &to {
            // Redis answers without touching the key.
            return answer(!only_if_absent);
        }
        if only_if_absent && self.entries.contains_key(&StoredKey::new(to.clone())) {
            return answer(false);
        }
        let deadline = self.deadline(from);
        self.take(from);
        self.move_in(to, value, deadline);
        answer(true)
    }

    /// `COPY`: `Count(1)` when copied; `Count(0)` when `from` is missing or
    /// `to` exists without `replace`.
    pub(crate) fn copy(&mut self, from: &Bytes, to: Bytes, replace: bool) -> Response {
        if from == &to {
            return Response::Refused(Refusal::SameObject);
        }
        let Some(value) = self.value(from) else {
            return Response::Count(0);
        };
        if !replace && self.entries.contains_key(&StoredKey::new(to.clone())) {
            return Response::Count(0);
        }
        let deadline = self.deadline(from);
        self.move_in(to, value, deadline);
        Response::Count(1)
    }

    /// Stores `value` at `key` with `deadline` (which is after the agreed
    /// time: it belonged to an existing key).
    fn move_in(&mut self, key: Bytes, value: Bytes, deadline: Option<crate::UnixMillis>) {
        let stored_key = StoredKey::new(key.clone());
        self.set(key, value, SetCondition::Always);
        if deadline.is_some() {
            self.deadlines.set(&stored_key, deadline);
        }
    }

    /// `SETRANGE`: the new length. An empty `value` changes nothing (and
    /// creates no key); a missing key counts as empty.
    pub(crate) fn set_range(&mut self, key: Bytes, offset: u64, value: &[u8]) -> Response {
        let current = self.value(&key).unwrap_or_default();
        if value.is_empty() {
            return Response::Count(current.len() as u64);
        }
        let offset = usize::try_from(offset).expect("validate bounds the offset");
        let length = current.len().max(offset + value.len());
        let mut written = Vec::with_capacity(length);
        written.extend_from_slice(&current);
        written.resize(length, 0);
        written[offset..offset + value.len()].copy_from_slice(value);
        self.put(key, Bytes::from(written));
        Response::Count(length as u64)
    }
}
