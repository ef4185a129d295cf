//! What a link does to its traffic ([`LinkFaults`]), and the one question
//! every pump asks of it before moving bytes ([`wait_while_stalled`]).

use std::time::Duration;

use tokio::sync::watch;

/// How long a chunk the link "loses" is held back before it is forwarded:
/// Linux's minimum TCP retransmission timeout (`TCP_RTO_MIN`), the time a
/// sender waits before it resends a segment nobody acknowledged.
pub const RETRANSMISSION_DELAY_MILLISECONDS: u64 = 200;

/// Whether a link passes traffic at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkState {
    /// Traffic flows.
    Up,
    /// Connections stay open and freeze; held bytes flow when it is up again.
    Stalled,
    /// Connections are closed and new ones refused.
    Refused,
    /// Connections stay open, and every byte read from either side is
    /// discarded: nothing reaches the other side and nothing is held. When
    /// the link leaves this state, the connections that lived through it
    /// are closed (see the crate documentation for why).
    BlackHole,
}

/// Everything a link does to its traffic: whether it passes at all, and
/// how late.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkFaults {
    /// Whether traffic passes.
    pub state: LinkState,
    /// Added one-way latency: every chunk read from either side of a
    /// connection is forwarded no earlier than this after it was read.
    pub delay: Duration,
    /// The probability, in `[0, 1]`, that a chunk is "lost" and held back
    /// for [`RETRANSMISSION_DELAY_MILLISECONDS`] on top of `delay`, as a
    /// retransmission would be (see the crate documentation for the model).
    pub loss_probability: f64,
}

impl LinkFaults {
    /// A link without faults: up, no added delay, no loss.
    pub const HEALTHY: LinkFaults = LinkFaults {
        state: LinkState::Up,
        delay: Duration::ZERO,
        loss_probability: 0.0,
    };

    /// How long after it was read a chunk may be forwarded, `lost` or not.
    pub(crate) fn forwarding_delay(&self, lost: bool) -> Duration {
        if lost {
            self.delay + Duration::from_millis(RETRANSMISSION_DELAY_MILLISECONDS)
        } else {
            self.delay
        }
    }
}

impl Default for LinkFaults {
    fn default() -> LinkFaults {
        LinkFaults::HEALTHY
    }
}

/// What a pump may do once the link is not stalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Passage {
    /// Move bytes.
    Open,
    /// Discard bytes until the black hole ends, then close.
    BlackHole,
    /// Close now: the link is refused, or the proxies are gone.
    Closed,
}

/// Waits while the link is stalled, and says what to do next. Marks the
/// state seen, so a later change wakes `faults.changed()`.
pub(crate) async fn wait_while_stalled(faults: &mut watch::Receiver<LinkFaults>) -> Passage {
    loop {
        match faults.borrow_and_update().state {
            LinkState::Up => return Passage::Open,
            LinkState::BlackHole => return Passage::BlackHole,
            LinkState::Refused => return Passage::Closed,
            LinkState::Stalled => {}
        }
        if faults.changed().await.is_err() {
            return Passage::Closed;
        }
    }
}

/// Waits for the next change of the faults and says whether the link is
/// still a black hole (false also when the proxies are gone).
pub(crate) async fn still_black_hole_after_change(
    faults: &mut watch::Receiver<LinkFaults>,
) -> bool {
    if faults.changed().await.is_err() {
        return false;
    }
    faults.borrow_and_update().state == LinkState::BlackHole
}
