//! Expiry: keys that vanish at a time the cluster agreed on.
//!
//! # The agreed clock
//!
//! No replica consults its own clock while applying; that would make
//! replicas disagree on which keys exist. The time lives in the log
//! instead: the leader puts its clock reading into every batch it forms
//! (an [`Operation::AdvanceClock`](crate::Operation::AdvanceClock) first in
//! the batch), and the store's clock is the largest reading applied so far.
//! So the agreed time:
//!
//! - is the same on every replica at the same log position;
//! - never goes backwards, across failovers too: a new leader whose clock
//!   is behind only stamps readings that change nothing until its clock
//!   passes the old leader's;
//! - is part of the state (snapshots carry it), so a replica that catches up
//!   from a snapshot continues from the same time.
//!
//! # The expiry rule
//!
//! A key whose deadline is at or before the agreed time does not exist. The
//! store keeps that as an invariant rather than checking it on every read:
//! advancing the clock removes every key that fell due (through the log,
//! as one command), and a write that would give a key a deadline already
//! past removes the key instead. A linearizable read is evaluated on an
//! applied state, so it never returns a key after its deadline as measured
//! by the agreed time at that point of the log.
//!
//! What a clock can and cannot break is in docs/expiry.md: a leader clock
//! that is wrong makes keys expire early or late, never out of order and
//! never differently on two replicas.

use synod_codec::{u64_size_bytes, DecodeError, Reader, Writer};

/// A time as milliseconds since the Unix epoch, on the agreed clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    /// The largest time a deadline may name: Redis keeps times as signed
    /// 64-bit milliseconds, and so do the commands that report them.
    pub const MAX: UnixMillis = UnixMillis(i64::MAX as u64);
}

/// What a write does to a key's time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expiry {
    /// The key lives until removed (`SET` without options, `PERSIST`).
    Clear,
    /// The key keeps the deadline it had, if any (`KEEPTTL`).
    Keep,
    /// The key expires at this Unix time in milliseconds (`EXAT`, `PXAT`,
    /// `EXPIREAT`); at or before the agreed time, it is removed at once.
    At(i64),
    /// The key expires this many milliseconds after the agreed time of the
    /// command (`EX`, `PX`, `EXPIRE`); zero or negative removes it at once.
    After(i64),
}

/// When `EXPIRE` and its kin change a deadline: Redis's `NX`, `XX`, `GT`
/// and `LT`. A key without a deadline counts as expiring never (later than
/// any deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExpireCondition {
    /// Always.
    #[default]
    Always,
    /// Only when the key has no deadline (`NX`).
    IfNone,
    /// Only when the key has a deadline (`XX`).
    IfSome,
    /// Only when the new deadline is later than the current one (`GT`).
    IfLater,
    /// Only when the new deadline is earlier than the current one (`LT`).
    IfEarlier,
    /// Only when the key has a deadline and the new one is earlier
    /// (`XX LT`).
    IfSomeAndEarlier,
}

/// A key's deadline as a read reports it (`TTL` and its kin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyExpiry {
    /// The key does not exist.
    Missing,
    /// The key exists and has no deadline.
    Persistent,
    /// The key expires at `deadline`; `now` is the agreed time the read
    /// observed, so a caller can tell the time left.
    At {
        /// When the key expires.
        deadline: UnixMillis,
        /// The agreed time of the read.
        now: UnixMillis,
    },
}

/// An [`Expiry`] resolved against the agreed clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// Remove any deadline.
    Clear,
    /// Leave the deadline as it is.
    Keep,
    /// Expire at this time, which is after the agreed time.
    Deadline(UnixMillis),
    /// The time named is not after the agreed time: the key goes now.
    Past,
}

impl Expiry {
    /// Resolves the expiry at agreed time `now`; `None` when the deadline
    /// overflows the signed 64-bit milliseconds Redis allows.
    pub(crate) fn resolve(self, now: UnixMillis) -> Option<Resolved> {
        let deadline = match self {
            Expiry::Clear => return Some(Resolved::Clear),
            Expiry::Keep => return Some(Resolved::Keep),
            Expiry::At(at) => at,
            Expiry::After(after) => i64::try_from(now.0).ok()?.checked_add(after)?,
        };
        match u64::try_from(deadline) {
            Ok(deadline) if deadline > now.0 => Some(Resolved::Deadline(UnixMillis(deadline))),
            _ => Some(Resolved::Past),
        }
    }

    pub(crate) fn size_bytes(self) -> usize {
        match self {
            Expiry::Clear | Expiry::Keep => 1,
            Expiry::At(time) | Expiry::After(time) => 1 + u64_size_bytes(signed_bits(time)),
        }
    }

    pub(crate) fn encode(self, writer: &mut Writer) {
        match self {
            Expiry::Clear => writer.put_u8(0),
            Expiry::Keep => writer.put_u8(1),
            Expiry::At(time) => {
                writer.put_u8(2);
                writer.put_u64(signed_bits(time));
            }
            Expiry::After(time) => {
                writer.put_u8(3);
                writer.put_u64(signed_bits(time));
            }
        }
    }

    pub(crate) fn decode(reader: &mut Reader<'_>) -> Result<Expiry, DecodeError> {
        Ok(match reader.take_u8()? {
            0 => Expiry::Clear,
            1 => Expiry::Keep,
            2 => Expiry::At(from_signed_bits(reader.take_u64()?)),
            3 => Expiry::After(from_signed_bits(reader.take_u64()?)),
            tag => {
                return Err(DecodeError::TagUnknown {
                    field: "expiry",
                    tag,
                })
            }
        })
    }
}

impl ExpireCondition {
    /// Whether a key whose deadline is `current` (`None`: none) may take
    /// `proposed` (`None`: already past, which counts as earliest).
    pub(crate) fn allows(self, current: Option<UnixMillis>, proposed: Option<UnixMillis>) -> bool {
        // Past deadlines compare as earlier than any future one, and no
        // deadline as later than all: Redis's rule for GT and LT.
        let proposed = proposed.unwrap_or(UnixMillis(0));
        match self {
            ExpireCondition::Always => true,
            ExpireCondition::IfNone => current.is_none(),
            ExpireCondition::IfSome => current.is_some(),
            ExpireCondition::IfLater => current.is_some_and(|current| proposed > current),
            ExpireCondition::IfEarlier => current.is_none_or(|current| proposed < current),
            ExpireCondition::IfSomeAndEarlier => current.is_some_and(|current| proposed < current),
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            ExpireCondition::Always => 0,
            ExpireCondition::IfNone => 1,
            ExpireCondition::IfSome => 2,
            ExpireCondition::IfLater => 3,
            ExpireCondition::IfEarlier => 4,
            ExpireCondition::IfSomeAndEarlier => 5,
        }
    }

    pub(crate) fn decode(reader: &mut Reader<'_>) -> Result<ExpireCondition, DecodeError> {
        Ok(match reader.take_u8()? {
            0 => ExpireCondition::Always,
            1 => ExpireCondition::IfNone,
            2 => ExpireCondition::IfSome,
            3 => ExpireCondition::IfLater,
            4 => ExpireCondition::IfEarlier,
            5 => ExpireCondition::IfSomeAndEarlier,
            tag => {
                return Err(DecodeError::TagUnknown {
                    field: "expire condition",
                    tag,
                })
            }
        })
    }
}

/// A signed number's bits as the varint encodes them (two's complement).
pub(crate) fn signed_bits(value: i64) -> u64 {
    u64::from_ne_bytes(value.to_ne_bytes())
}

pub(crate) fn from_signed_bits(bits: u64) -> i64 {
    i64::from_ne_bytes(bits.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_measures_relative_times_from_the_agreed_clock() {
        let now = UnixMillis(1_000);
        assert_eq!(
            Expiry::After(500).resolve(now),
            Some(Resolved::Deadline(UnixMillis(1_500)))
        );
        assert_eq!(Expiry::After(0).resolve(now), Some(Resolved::Past));
        assert_eq!(Expiry::After(-5).resolve(now), Some(Resolved::Past));
        assert_eq!(Expiry::At(1_000).resolve(now), Some(Resolved::Past));
        assert_eq!(Expiry::At(-1).resolve(now), Some(Resolved::Past));
        assert_eq!(
            Expiry::At(1_001).resolve(now),
            Some(Resolved::Deadline(UnixMillis(1_001)))
        );
        assert_eq!(Expiry::After(i64::MAX).resolve(now), None);
        assert_eq!(Expiry::Keep.resolve(now), Some(Resolved::Keep));
    }

    #[test]
    fn conditions_follow_redis_gt_and_lt_rules_for_keys_without_a_deadline() {
        let early = Some(UnixMillis(10));
        let late = Some(UnixMillis(20));
        assert!(!ExpireCondition::IfLater.allows(None, late));
        assert!(ExpireCondition::IfEarlier.allows(None, late));
        assert!(ExpireCondition::IfLater.allows(early, late));
        assert!(!ExpireCondition::IfLater.allows(late, late));
        assert!(ExpireCondition::IfEarlier.allows(late, early));
        assert!(ExpireCondition::IfEarlier.allows(late, None));
        assert!(ExpireCondition::IfNone.allows(None, late));
        assert!(!ExpireCondition::IfNone.allows(early, late));
        assert!(ExpireCondition::IfSome.allows(early, late));
        assert!(!ExpireCondition::IfSome.allows(None, late));
    }

    #[test]
    fn expiries_round_trip() {
        for expiry in [
            Expiry::Clear,
            Expiry::Keep,
            Expiry::At(-3),
            Expiry::At(1_700_000_000_000),
            Expiry::After(i64::MIN),
        ] {
            let mut writer = Writer::new();
            expiry.encode(&mut writer);
            assert_eq!(writer.len(), expiry.size_bytes());
            let bytes = writer.into_bytes();
            let mut reader = Reader::new(&bytes);
            assert_eq!(Expiry::decode(&mut reader), Ok(expiry));
        }
    }
}
