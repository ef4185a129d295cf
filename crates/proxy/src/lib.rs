//! A TCP proxy per directed peer link, for fault injection between real
//! `synod server` processes on loopback, without root.
//!
//! synod's transport gives every ordered pair of nodes its own connection:
//! node `i` dials node `j` and sends on it only (see `synod-server`'s
//! `transport`). So if node `i`'s `--peers` map names node `j` at a proxy
//! that forwards to `j`, that proxy carries exactly the link `i → j`, and
//! cutting it is a one-way cut. [`LinkProxies`] starts one proxy per
//! ordered pair and sets each link's [`LinkFaults`]: a [`LinkState`], an
//! added delay and a loss probability.
//!
//! The states:
//!
//! * [`LinkState::Up`]: bytes flow both ways.
//! * [`LinkState::Stalled`]: connections stay open and freeze, as silent
//!   packet loss does to live TCP: nothing is read or forwarded until the
//!   link is up again; then what was held flows on, late.
//! * [`LinkState::Refused`]: connections are closed and new ones are
//!   accepted and closed at once, as a rebooted host or a firewall reject.
//! * [`LinkState::BlackHole`]: connections, old and new, stay open and
//!   every byte is read and discarded, as a firewall drop or a dead route:
//!   the sender's writes succeed and nothing arrives or comes back. Unlike
//!   a stall nothing is held, so when the link leaves the black hole, every
//!   connection that lived through it is closed: a TCP stream never has a
//!   gap in the middle, and forwarding what follows the discarded bytes
//!   would hand the receiver a corrupt stream. (Real TCP would retransmit
//!   what a short outage dropped, which is what a stall models; a black
//!   hole models the connections that do not survive one, such as those
//!   whose retransmissions ran out or whose firewall or NAT entry was
//!   forgotten.) Connections made afterwards work normally.
//!
//! Delay and loss apply to each direction of a proxied connection (the
//! link `i → j` carries `i`'s bytes to `j` and whatever `j` writes back on
//! that connection), to every chunk a proxy reads at once:
//!
//! * Delay: each chunk is forwarded no earlier than its read time plus the
//!   link's delay, in order. Reading goes on meanwhile, so delay adds
//!   latency without capping throughput (up to a bounded queue).
//! * Loss: TCP never delivers a gap, so what loss does to a live stream is
//!   make it late. With the link's probability, a chunk is "lost" and held
//!   back for [`RETRANSMISSION_DELAY_MILLISECONDS`] more, as if its first
//!   transmission was dropped and the retransmission arrived after Linux's
//!   minimum retransmission timeout; every later chunk waits behind it, as
//!   the receiver's TCP holds out-of-order segments. This is a model, not
//!   a simulation: a chunk is whatever one read returned (perhaps several
//!   segments, perhaps several messages), a retransmission is never lost
//!   again (no exponential backoff), and fast retransmit, tail-loss probes
//!   and congestion-window shrinkage are left out. Which chunks are lost is
//!   drawn from a generator seeded by [`LinkProxies::start_with_seed`], so
//!   a run is reproducible as far as the timing of reads allows.
//!
//! Hand-rolled on tokio because the tools made for this (toxiproxy and
//! friends) are separate services in other languages; this is a few
//! hundred lines with no state beyond the faults per link.

#![deny(missing_docs)]

mod faults;
mod pump;
mod serve;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use faults::{LinkFaults, LinkState, RETRANSMISSION_DELAY_MILLISECONDS};

/// The loss seed of [`LinkProxies::start`]: fixed, so that runs which do
/// not choose a seed still draw the same losses.
pub const LOSS_SEED_DEFAULT: u64 = 0;

/// One proxied link: where its dialer connects, and its faults.
struct Link {
    address: SocketAddr,
    faults: watch::Sender<LinkFaults>,
}

/// One proxy per directed link `(from, to)`, running on a runtime of its
/// own; dropping it stops every proxy and closes every connection.
pub struct LinkProxies {
    links: BTreeMap<(u64, u64), Link>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl LinkProxies {
    /// Starts a proxy on a free loopback port for each `(from, to, target)`:
    /// the dialer `from` connects to [`LinkProxies::address`] and reaches
    /// `target`, the peer address of `to`. Losses are drawn with
    /// [`LOSS_SEED_DEFAULT`].
    ///
    /// # Errors
    ///
    /// When the runtime cannot start or a port cannot be bound.
    pub fn start(links: &[(u64, u64, SocketAddr)]) -> io::Result<LinkProxies> {
        LinkProxies::start_with_seed(links, LOSS_SEED_DEFAULT)
    }

    /// Starts the proxies as [`LinkProxies::start`] does, drawing losses
    /// from generators seeded by `seed`: one per link in the order given,
    /// and from it one per connection in the order accepted.
    ///
    /// # Errors
    ///
    /// When the runtime cannot start or a port cannot be bound.
    pub fn start_with_seed(links: &[(u64, u64, SocketAddr)], seed: u64) -> io::Result<LinkProxies> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("synod-proxy")
            .enable_all()
            .build()?;
        let mut seeds = StdRng::seed_from_u64(seed);
        let mut started = BTreeMap::new();
        for (from, to, target) in links {
            let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
            let address = listener.local_addr()?;
            let (faults, watcher) = watch::channel(LinkFaults::HEALTHY);
            let random = StdRng::seed_from_u64(seeds.random());
            runtime.spawn(serve::serve(listener, *target, watcher, random));
            let previous = started.insert((*from, *to), Link { address, faults });
            assert!(previous.is_none(), "link {from} -> {to} given twice");
        }
        Ok(LinkProxies {
            links: started,
            runtime: Some(runtime),
        })
    }

    /// Node `from`'s `--peers` list (`id=host:port,…`) for a cluster whose
    /// nodes listen for peers at `peers`: itself at its own address, every
    /// other node at the proxy of the link `from → it`.
    ///
    /// # Panics
    ///
    /// When a link from `from` to one of `peers` was not started.
    pub fn peers_list(&self, from: u64, peers: &[(u64, SocketAddr)]) -> String {
        peers
            .iter()
            .map(|(to, address)| {
                let address = if *to == from {
                    *address
                } else {
                    self.address(from, *to)
                };
                format!("{to}={address}")
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Where the dialer of link `from → to` connects.
    ///
    /// # Panics
    ///
    /// When no such link was started.
    pub fn address(&self, from: u64, to: u64) -> SocketAddr {
        self.link(from, to).address
    }

    /// The faults link `from → to` has now.
    ///
    /// # Panics
    ///
    /// When no such link was started.
    pub fn faults(&self, from: u64, to: u64) -> LinkFaults {
        *self.link(from, to).faults.borrow()
    }

    /// Switches link `from → to`, keeping its delay and loss.
    ///
    /// # Panics
    ///
    /// When no such link was started.
    pub fn set(&self, from: u64, to: u64, state: LinkState) {
        self.link(from, to)
            .faults
            .send_modify(|faults| faults.state = state);
    }

    /// Switches every link into `to` (`to` no longer hears anyone).
    pub fn set_inbound(&self, to: u64, state: LinkState) {
        self.modify_where(|_, receiver| receiver == to, |faults| faults.state = state);
    }

    /// Switches every link out of `from` (nobody hears `from`).
    pub fn set_outbound(&self, from: u64, state: LinkState) {
        self.modify_where(|sender, _| sender == from, |faults| faults.state = state);
    }

    /// Adds `delay` to each direction of link `from → to`, for chunks read
    /// from now on (chunks already read keep their time).
    ///
    /// # Panics
    ///
    /// When no such link was started.
    pub fn set_delay(&self, from: u64, to: u64, delay: Duration) {
        self.link(from, to)
            .faults
            .send_modify(|faults| faults.delay = delay);
    }

    /// Adds `delay` to each direction of every link.
    pub fn set_delay_all(&self, delay: Duration) {
        self.modify_where(|_, _| true, |faults| faults.delay = delay);
    }

    /// Loses each chunk on link `from → to` with `probability`, in the
    /// crate documentation's sense: holds it back for
    /// [`RETRANSMISSION_DELAY_MILLISECONDS`].
    ///
    /// # Panics
    ///
    /// When no such link was started, or `probability` is not in `[0, 1]`.
    pub fn set_loss(&self, from: u64, to: u64, probability: f64) {
        assert_probability(probability);
        self.link(from, to)
            .faults
            .send_modify(|faults| faults.loss_probability = probability);
    }

    /// Loses each chunk on every link with `probability`.
    ///
    /// # Panics
    ///
    /// When `probability` is not in `[0, 1]`.
    pub fn set_loss_all(&self, probability: f64) {
        assert_probability(probability);
        self.modify_where(|_, _| true, |faults| faults.loss_probability = probability);
    }

    /// Clears every fault of every link: up, no delay, no loss. Chunks
    /// already read keep the time they were given.
    pub fn heal(&self) {
        for link in self.links.values() {
            link.faults.send_replace(LinkFaults::HEALTHY);
        }
    }

    fn link(&self, from: u64, to: u64) -> &Link {
        self.links
            .get(&(from, to))
            .unwrap_or_else(|| panic!("no proxied link {from} -> {to}"))
    }

    /// Applies `change` to the faults of every link `(from, to)` for which
    /// `selected(from, to)` holds.
    fn modify_where(&self, selected: impl Fn(u64, u64) -> bool, change: impl Fn(&mut LinkFaults)) {
        for ((from, to), link) in &self.links {
            if selected(*from, *to) {
                link.faults.send_modify(&change);
            }
        }
    }
}

impl Drop for LinkProxies {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A loss probability outside `[0, 1]` is a bug in the caller.
fn assert_probability(probability: f64) {
    assert!(
        (0.0..=1.0).contains(&probability),
        "a loss probability is in [0, 1], not {probability}"
    );
}
