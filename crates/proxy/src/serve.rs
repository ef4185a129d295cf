//! The accept loop of one link's proxy, and the set-up of each connection
//! it accepts.

use std::net::SocketAddr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::faults::{LinkFaults, LinkState};
use crate::pump::{discard_reads_until_black_hole_ends, pump};

/// A proxy gives up connecting to its target after this long (the target
/// is down: the dialer sees the connection close and retries).
const CONNECT_TIMEOUT_MILLISECONDS: u64 = 1_000;

/// Accepts connections for one link until the runtime stops. `random`
/// seeds the loss decisions of each connection accepted, in accept order.
pub(crate) async fn serve(
    listener: TcpListener,
    target: SocketAddr,
    faults: watch::Receiver<LinkFaults>,
    mut random: StdRng,
) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        let mut faults = faults.clone();
        let state = faults.borrow_and_update().state;
        match state {
            LinkState::Refused => drop(inbound),
            LinkState::BlackHole => {
                // Nothing reaches the target, not even a connection.
                tokio::spawn(async move {
                    let mut inbound = inbound;
                    discard_reads_until_black_hole_ends(&mut inbound, &mut faults).await;
                });
            }
            LinkState::Up | LinkState::Stalled => {
                let seeds = [random.random::<u64>(), random.random::<u64>()];
                tokio::spawn(connect_and_pump(inbound, target, faults, seeds));
            }
        }
    }
}

/// Connects to `target` and pumps both directions until either ends: a
/// close, a refusal, or the end of a black hole ends both.
async fn connect_and_pump(
    inbound: TcpStream,
    target: SocketAddr,
    faults: watch::Receiver<LinkFaults>,
    seeds: [u64; 2],
) {
    let connect = TcpStream::connect(target);
    let timeout = Duration::from_millis(CONNECT_TIMEOUT_MILLISECONDS);
    let Ok(Ok(outbound)) = tokio::time::timeout(timeout, connect).await else {
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (inbound_read, inbound_write) = inbound.into_split();
    let (outbound_read, outbound_write) = outbound.into_split();
    let [forward_seed, backward_seed] = seeds;
    tokio::select! {
        () = pump(
            inbound_read,
            outbound_write,
            faults.clone(),
            StdRng::seed_from_u64(forward_seed),
        ) => {}
        () = pump(
            outbound_read,
            inbound_write,
            faults,
            StdRng::seed_from_u64(backward_seed),
        ) => {}
    }
}
