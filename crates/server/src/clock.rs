//! Ticks that follow the monotonic clock.
//!
//! The core counts time in ticks. A timer that merely fires every tick
//! interval loses the ticks of a stopped process (SIGSTOP, a stalled
//! virtual machine): on resuming, the node would count less time than has
//! passed. For timeouts that only delays an election; for the leader lease
//! it would be unsafe, since a leader that resumed after its lease ran out
//! would still believe it held one. So the drive loop asks [`TickClock`]
//! for every tick that has come due before it hands the node any input,
//! and the node's tick count never lags the clock by a whole tick when it
//! decides anything. Without a lease, missed ticks are dropped instead (one
//! tick on resuming), which is what the simulator models in that mode.

use std::time::{Duration, Instant, SystemTime};

use synod_kv::UnixMillis;

/// Ticks delivered at once after a long pause, at most: more than every
/// timeout of the core (the longest, the request timeout, is 200 ticks), so
/// every timer and lease that could run out has run out; the rest of a
/// longer pause changes nothing.
pub const CATCH_UP_TICKS_MAX: u64 = 1_000;

/// The wall clock in Unix milliseconds (0 before 1970). Only the leader's
/// reading matters, and only for expiry: see `synod_kv::expiry` for what a
/// wrong wall clock can and cannot do.
pub fn unix_now() -> UnixMillis {
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    UnixMillis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
}

/// When the next tick is due.
#[derive(Clone, Copy, Debug)]
pub struct TickClock {
    interval: Duration,
    next_tick_at: Instant,
    /// Deliver the ticks a pause missed (with a lease), or only one.
    catch_up: bool,
}

impl TickClock {
    /// A clock whose first tick comes one `interval` after `now`; with
    /// `catch_up`, a pause is made up for with every tick it missed.
    pub fn new(interval: Duration, now: Instant, catch_up: bool) -> TickClock {
        assert!(!interval.is_zero(), "a tick lasts some time");
        TickClock {
            interval,
            next_tick_at: now + interval,
            catch_up,
        }
    }

    /// When the next tick comes due (for the loop to sleep until).
    pub fn next_tick_at(&self) -> Instant {
        self.next_tick_at
    }

    /// The ticks due by `now` (at most [`CATCH_UP_TICKS_MAX`]), counted as
    /// delivered: the next one is then due one interval after the last.
    pub fn take_due(&mut self, now: Instant) -> u64 {
        if now < self.next_tick_at {
            return 0;
        }
        let behind = now.duration_since(self.next_tick_at);
        let due = behind.as_nanos() / self.interval.as_nanos() + 1;
        let due = u64::try_from(due).unwrap_or(u64::MAX);
        let interval_nanoseconds = u64::try_from(self.interval.as_nanos()).unwrap_or(u64::MAX);
        self.next_tick_at += Duration::from_nanos(interval_nanoseconds.saturating_mul(due));
        assert!(self.next_tick_at > now, "every tick due was taken");
        if self.catch_up {
            due.min(CATCH_UP_TICKS_MAX)
        } else {
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN_MILLISECONDS: Duration = Duration::from_millis(10);

    #[test]
    fn no_tick_is_due_before_its_time() {
        let start = Instant::now();
        let mut clock = TickClock::new(TEN_MILLISECONDS, start, true);
        assert_eq!(clock.take_due(start + Duration::from_millis(9)), 0);
        assert_eq!(clock.take_due(start + TEN_MILLISECONDS), 1);
        assert_eq!(clock.take_due(start + Duration::from_millis(19)), 0);
        assert_eq!(clock.next_tick_at(), start + Duration::from_millis(20));
    }

    #[test]
    fn a_pause_is_made_up_for_with_every_tick_it_missed() {
        let start = Instant::now();
        let mut clock = TickClock::new(TEN_MILLISECONDS, start, true);
        // Stopped for 255 ms: ticks at 10, 20, …, 250 ms are due.
        assert_eq!(clock.take_due(start + Duration::from_millis(255)), 25);
        assert_eq!(clock.next_tick_at(), start + Duration::from_millis(260));
        assert_eq!(clock.take_due(start + Duration::from_millis(260)), 1);
    }

    #[test]
    fn a_very_long_pause_delivers_a_bounded_number_of_ticks() {
        let start = Instant::now();
        let mut clock = TickClock::new(TEN_MILLISECONDS, start, true);
        assert_eq!(
            clock.take_due(start + Duration::from_secs(3_600)),
            CATCH_UP_TICKS_MAX
        );
        assert_eq!(clock.take_due(start + Duration::from_secs(3_600)), 0);
    }

    #[test]
    fn without_catching_up_a_pause_costs_its_ticks() {
        let start = Instant::now();
        let mut clock = TickClock::new(TEN_MILLISECONDS, start, false);
        assert_eq!(clock.take_due(start + Duration::from_millis(255)), 1);
        assert_eq!(clock.next_tick_at(), start + Duration::from_millis(260));
    }
}
