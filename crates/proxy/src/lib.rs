//! A TCP proxy per directed peer link, for fault injection between real
//! `synod server` processes on loopback, without root.
//!
//! synod's transport gives every ordered pair of nodes its own connection:
//! node `i` dials node `j` and sends on it only (see `synod-server`'s
//! `transport`). So if node `i`'s `--peers` map names node `j` at a proxy
//! that forwards to `j`, that proxy carries exactly the link `i → j`, and
//! cutting it is a one-way cut. [`LinkProxies`] starts one proxy per
//! ordered pair and switches each link between three states:
//!
//! * [`LinkState::Up`]: bytes flow both ways.
//! * [`LinkState::Stalled`]: connections stay open and freeze, as silent
//!   packet loss does to live TCP: nothing is read or forwarded until the
//!   link is up again; then what was held flows on, late.
//! * [`LinkState::Refused`]: connections are closed and new ones are
//!   accepted and closed at once, as a rebooted host or a firewall reject.
//!
//! Hand-rolled on tokio because the tools made for this (toxiproxy and
//! friends) are separate services in other languages; this is a few
//! hundred lines with no state beyond the switch per link.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Bytes a pump reads at once.
const PUMP_BUFFER_SIZE_BYTES: usize = 64 * 1024;
/// A proxy gives up connecting to its target after this long (the target
/// is down: the dialer sees the connection close and retries).
const CONNECT_TIMEOUT_MILLISECONDS: u64 = 1_000;

/// What a link does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkState {
    /// Traffic flows.
    Up,
    /// Connections stay open and freeze; held bytes flow when it is up again.
    Stalled,
    /// Connections are closed and new ones refused.
    Refused,
}

/// One proxied link: where its dialer connects, and its switch.
struct Link {
    address: SocketAddr,
    state: watch::Sender<LinkState>,
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
    /// `target`, the peer address of `to`.
    ///
    /// # Errors
    ///
    /// When the runtime cannot start or a port cannot be bound.
    pub fn start(links: &[(u64, u64, SocketAddr)]) -> io::Result<LinkProxies> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("synod-proxy")
            .enable_all()
            .build()?;
        let mut started = BTreeMap::new();
        for (from, to, target) in links {
            let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
            let address = listener.local_addr()?;
            let (state, watcher) = watch::channel(LinkState::Up);
            runtime.spawn(serve(listener, *target, watcher));
            started.insert((*from, *to), Link { address, state });
        }
        Ok(LinkProxies {
            links: started,
            runtime: Some(runtime),
        })
    }

    /// Where the dialer of link `from → to` connects.
    ///
    /// # Panics
    ///
    /// When no such link was started.
    pub fn address(&self, from: u64, to: u64) -> SocketAddr {
        self.link(from, to).address
    }

    /// Switches link `from → to`.
    pub fn set(&self, from: u64, to: u64, state: LinkState) {
        self.link(from, to).state.send_replace(state);
    }

    /// Switches every link into `to` (`to` no longer hears anyone).
    pub fn set_inbound(&self, to: u64, state: LinkState) {
        for ((_, receiver), link) in &self.links {
            if *receiver == to {
                link.state.send_replace(state);
            }
        }
    }

    /// Switches every link out of `from` (nobody hears `from`).
    pub fn set_outbound(&self, from: u64, state: LinkState) {
        for ((sender, _), link) in &self.links {
            if *sender == from {
                link.state.send_replace(state);
            }
        }
    }

    /// Brings every link up.
    pub fn heal(&self) {
        for link in self.links.values() {
            link.state.send_replace(LinkState::Up);
        }
    }

    fn link(&self, from: u64, to: u64) -> &Link {
        self.links
            .get(&(from, to))
            .unwrap_or_else(|| panic!("no proxied link {from} -> {to}"))
    }
}

impl Drop for LinkProxies {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Accepts connections for one link until the runtime stops.
async fn serve(listener: TcpListener, target: SocketAddr, state: watch::Receiver<LinkState>) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        if *state.borrow() == LinkState::Refused {
            drop(inbound);
            continue;
        }
        let state = state.clone();
        tokio::spawn(async move {
            let connect = TcpStream::connect(target);
            let timeout = Duration::from_millis(CONNECT_TIMEOUT_MILLISECONDS);
            let Ok(Ok(outbound)) = tokio::time::timeout(timeout, connect).await else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let (inbound_read, inbound_write) = inbound.into_split();
            let (outbound_read, outbound_write) = outbound.into_split();
            // Either direction ending (a close, a refusal) ends both.
            tokio::select! {
                _ = pump(inbound_read, outbound_write, state.clone()) => {}
                _ = pump(outbound_read, inbound_write, state) => {}
            }
        });
    }
}

/// Copies bytes from `source` to `sink` while the link is up; holds them
/// while it is stalled; returns when either side closes or the link is
/// refused.
async fn pump(
    mut source: tokio::net::tcp::OwnedReadHalf,
    mut sink: tokio::net::tcp::OwnedWriteHalf,
    mut state: watch::Receiver<LinkState>,
) {
    let mut buffer = vec![0u8; PUMP_BUFFER_SIZE_BYTES];
    loop {
        if !wait_until_up(&mut state).await {
            return;
        }
        let read = tokio::select! {
            read = source.read(&mut buffer) => read,
            changed = state.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        let length = match read {
            Ok(0) | Err(_) => return,
            Ok(length) => length,
        };
        // Bytes read just as the link stalled are held, not lost.
        if !wait_until_up(&mut state).await {
            return;
        }
        if sink.write_all(&buffer[..length]).await.is_err() {
            return;
        }
    }
}

/// Waits while the link is stalled. Returns false when it is refused (or
/// the proxies are gone): the connection must close.
async fn wait_until_up(state: &mut watch::Receiver<LinkState>) -> bool {
    loop {
        match *state.borrow_and_update() {
            LinkState::Up => return true,
            LinkState::Refused => return false,
            LinkState::Stalled => {}
        }
        if state.changed().await.is_err() {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use super::{LinkProxies, LinkState};

    fn echo_server() -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 1024];
                    while let Ok(length) = stream.read(&mut buffer) {
                        if length == 0 || stream.write_all(&buffer[..length]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        address
    }

    fn round_trip(stream: &mut TcpStream, text: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(text)?;
        let mut answer = vec![0u8; text.len()];
        stream.read_exact(&mut answer)?;
        Ok(answer)
    }

    #[test]
    fn a_stalled_link_holds_bytes_and_delivers_them_when_up_again() {
        let proxies = LinkProxies::start(&[(1, 2, echo_server())]).unwrap();
        let mut stream = TcpStream::connect(proxies.address(1, 2)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        assert_eq!(round_trip(&mut stream, b"one").unwrap(), b"one");
        proxies.set(1, 2, LinkState::Stalled);
        let stalled = round_trip(&mut stream, b"two");
        assert!(stalled.is_err(), "nothing passes a stalled link");
        proxies.set(1, 2, LinkState::Up);
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut answer = [0u8; 3];
        stream.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"two", "what was held arrives late");
    }

    #[test]
    fn a_refused_link_closes_connections_and_refuses_new_ones() {
        let proxies = LinkProxies::start(&[(1, 2, echo_server())]).unwrap();
        let mut stream = TcpStream::connect(proxies.address(1, 2)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(round_trip(&mut stream, b"one").unwrap(), b"one");
        proxies.set_inbound(2, LinkState::Refused);
        assert!(round_trip(&mut stream, b"two").is_err());
        let mut again = TcpStream::connect(proxies.address(1, 2)).unwrap();
        again
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(round_trip(&mut again, b"three").is_err());
        proxies.heal();
        let mut healed = TcpStream::connect(proxies.address(1, 2)).unwrap();
        healed
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(round_trip(&mut healed, b"four").unwrap(), b"four");
    }
}
