//! The store's deadlines: which keys expire when, the agreed clock, and the
//! commands that read or change them. The rules are in [`crate::expiry`].

use bytes::Bytes;
use imbl::{OrdMap, OrdSet};

use crate::expiry::{ExpireCondition, Expiry, KeyExpiry, Resolved, UnixMillis};
use crate::fingerprint::Fingerprint;
use crate::key::StoredKey;
use crate::response::{Refusal, Response};
use crate::store::Store;

/// The domain of deadline fingerprints.
const FINGERPRINT_DOMAIN_DEADLINE: u64 = 4;

/// The deadlines of the keys that have one, and the agreed clock.
///
/// Two indexes of the same pairs: by key, to answer `TTL` and to drop a
/// key's deadline when it is overwritten, and by time, to find the keys
/// that fall due. Both are persistent maps, like the entries, so that a
/// snapshot can be encoded from a clone while the store goes on.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Deadlines {
    /// The agreed time: the largest clock reading applied so far.
    pub(crate) clock: UnixMillis,
    pub(crate) by_key: OrdMap<StoredKey, UnixMillis>,
    pub(crate) by_time: OrdSet<(UnixMillis, StoredKey)>,
    /// The wrapping sum of the fingerprints of all pairs.
    pub(crate) digest: u64,
}

impl Deadlines {
    /// The deadline of `key`, if it has one.
    pub(crate) fn get(&self, key: &StoredKey) -> Option<UnixMillis> {
        self.by_key.get(key).copied()
    }

    /// Gives `key` the deadline `deadline`, or none.
    pub(crate) fn set(&mut self, key: &StoredKey, deadline: Option<UnixMillis>) {
        if self.by_key.is_empty() && deadline.is_none() {
            return; // The common case of a store without deadlines: free.
        }
        if let Some(previous) = self.by_key.remove(key) {
            self.by_time.remove(&(previous, key.clone()));
            self.digest = self
                .digest
                .wrapping_sub(deadline_fingerprint(key.bytes(), previous));
        }
        if let Some(deadline) = deadline {
            assert!(
                deadline > self.clock,
                "a deadline at or before the agreed time removes the key instead"
            );
            self.by_key.insert(key.clone(), deadline);
            self.by_time.insert((deadline, key.clone()));
            self.digest = self
                .digest
                .wrapping_add(deadline_fingerprint(key.bytes(), deadline));
        }
    }

    /// How many keys have a deadline.
    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }

    /// The earliest deadline, if any key has one.
    pub(crate) fn next(&self) -> Option<UnixMillis> {
        self.by_time.get_min().map(|(deadline, _)| *deadline)
    }

    /// Checks that both indexes hold the same pairs, that none is due, and
    /// that the digest is right.
    pub(crate) fn check_invariants(&self) -> Result<(), &'static str> {
        if self.by_key.len() != self.by_time.len() {
            return Err("the deadline indexes differ in size");
        }
        let mut digest = 0u64;
        for (key, deadline) in &self.by_key {
            if !self.by_time.contains(&(*deadline, key.clone())) {
                return Err("a deadline is missing from the index by time");
            }
            if *deadline <= self.clock {
                return Err("a key outlived its deadline");
            }
            digest = digest.wrapping_add(deadline_fingerprint(key.bytes(), *deadline));
        }
        if digest != self.digest {
            return Err("the deadlines digest disagrees with the deadlines");
        }
        Ok(())
    }
}

fn deadline_fingerprint(key: &[u8], deadline: UnixMillis) -> u64 {
    let mut fingerprint = Fingerprint::new(FINGERPRINT_DOMAIN_DEADLINE);
    fingerprint.write_bytes(key);
    fingerprint.write_u64(deadline.0);
    fingerprint.finish()
}

impl Store {
    /// The agreed time: the latest clock reading the log has carried.
    pub fn clock(&self) -> UnixMillis {
        self.deadlines.clock
    }

    /// The earliest deadline of any key: when the leader should advance the
    /// clock next, so that the key is removed on time.
    pub fn next_deadline(&self) -> Option<UnixMillis> {
        self.deadlines.next()
    }

    /// The deadline of `key`, if it exists and has one.
    pub fn deadline(&self, key: &Bytes) -> Option<UnixMillis> {
        self.deadlines.get(&StoredKey::new(key.clone()))
    }

    /// How many keys have a deadline.
    pub fn expiring_len(&self) -> usize {
        self.deadlines.len()
    }

    /// Moves the agreed clock to `now` unless it is already later, and
    /// removes every key that fell due; answers how many.
    pub(crate) fn advance_clock(&mut self, now: UnixMillis) -> Response {
        if now <= self.deadlines.clock {
            return Response::Count(0);
        }
        self.deadlines.clock = now;
        let mut removed = 0;
        while let Some((deadline, key)) = self.deadlines.by_time.get_min().cloned() {
            if deadline > now {
                break;
            }
            let existed = self.take(key.bytes()).is_some();
            assert!(existed, "a key with a deadline exists");
            removed += 1;
        }
        Response::Count(removed)
    }

    /// `SET` with an expiry option: like [`Store::set`], then the deadline.
    /// Answers the previous value when `answer_previous` (`SET … GET`).
    pub(crate) fn set_expiring(
        &mut self,
        key: Bytes,
        value: Bytes,
        condition: crate::SetCondition,
        expiry: Expiry,
        answer_previous: bool,
    ) -> Response {
        let Some(resolved) = expiry.resolve(self.deadlines.clock) else {
            return Response::Refused(Refusal::InvalidExpireTime);
        };
        let previous = self.value(&key);
        let stored_key = StoredKey::new(key.clone());
        let kept = self.deadlines.get(&stored_key);
        // Stores with a new change count, which covers the deadline too.
        let stored = self.set(key.clone(), value, condition);
        if stored {
            match resolved {
                Resolved::Clear => {}
                Resolved::Keep => self.deadlines.set(&stored_key, kept),
                Resolved::Deadline(deadline) => self.deadlines.set(&stored_key, Some(deadline)),
                Resolved::Past => {
                    self.take(&key);
                }
            }
        }
        if answer_previous {
            Response::Value(previous)
        } else {
            Response::Stored(stored)
        }
    }

    /// `EXPIRE` and its kin: answers 1 when the deadline was set (or the key
    /// removed, its time being past), 0 when the key is missing or the
    /// condition does not hold.
    pub(crate) fn expire(
        &mut self,
        key: &Bytes,
        expiry: Expiry,
        condition: ExpireCondition,
    ) -> Response {
        let Some(resolved) = expiry.resolve(self.deadlines.clock) else {
            return Response::Refused(Refusal::InvalidExpireTime);
        };
        let stored_key = StoredKey::new(key.clone());
        if !self.entries.contains_key(&stored_key) {
            return Response::Count(0);
        }
        let current = self.deadlines.get(&stored_key);
        let proposed = match resolved {
            Resolved::Deadline(deadline) => Some(deadline),
            Resolved::Past => None,
            Resolved::Clear | Resolved::Keep => {
                unreachable!("validate refuses an EXPIRE without a time")
            }
        };
        if !condition.allows(current, proposed) {
            return Response::Count(0);
        }
        match proposed {
            Some(deadline) => {
                self.deadlines.set(&stored_key, Some(deadline));
                self.touch(&stored_key);
            }
            None => {
                self.take(key);
            }
        }
        Response::Count(1)
    }

    /// `PERSIST`: answers 1 when the key had a deadline and now has none.
    pub(crate) fn persist(&mut self, key: &Bytes) -> Response {
        let stored_key = StoredKey::new(key.clone());
        if self.deadlines.get(&stored_key).is_none() {
            return Response::Count(0);
        }
        self.deadlines.set(&stored_key, None);
        self.touch(&stored_key);
        Response::Count(1)
    }

    /// `TTL` and its kin.
    pub(crate) fn read_expiry(&self, key: &Bytes) -> Response {
        let stored_key = StoredKey::new(key.clone());
        if !self.entries.contains_key(&stored_key) {
            return Response::Expiry(KeyExpiry::Missing);
        }
        Response::Expiry(match self.deadlines.get(&stored_key) {
            None => KeyExpiry::Persistent,
            Some(deadline) => KeyExpiry::At {
                deadline,
                now: self.deadlines.clock,
            },
        })
    }

    /// `GETEX`: answers the value, then changes its deadline (a missing key
    /// stays missing).
    pub(crate) fn get_and_expire(&mut self, key: &Bytes, expiry: Expiry) -> Response {
        let Some(resolved) = expiry.resolve(self.deadlines.clock) else {
            return Response::Refused(Refusal::InvalidExpireTime);
        };
        let value = self.value(key);
        if value.is_some() {
            let stored_key = StoredKey::new(key.clone());
            match resolved {
                Resolved::Keep => {}
                Resolved::Clear => {
                    if self.deadlines.get(&stored_key).is_some() {
                        self.deadlines.set(&stored_key, None);
                        self.touch(&stored_key);
                    }
                }
                Resolved::Deadline(deadline) => {
                    self.deadlines.set(&stored_key, Some(deadline));
                    self.touch(&stored_key);
                }
                Resolved::Past => {
                    self.take(key);
                }
            }
        }
        Response::Value(value)
    }
}
