//! The proxies between a client and an echo server, both on loopback.
//! Timing is asserted as lower bounds only: a slow machine makes a round
//! trip later, never earlier.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{LinkFaults, LinkProxies, LinkState, RETRANSMISSION_DELAY_MILLISECONDS};

/// How long a test waits for something that should happen.
const EXPECTED_WITHIN_MILLISECONDS: u64 = 5_000;
/// How long a test waits to see that something does not happen.
const ABSENT_FOR_MILLISECONDS: u64 = 300;

/// An echo server that also reports every chunk it receives, so a test can
/// tell what reached it.
fn recording_echo_server() -> (SocketAddr, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (received, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let received = received.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 1024];
                while let Ok(length) = stream.read(&mut buffer) {
                    if length == 0 || stream.write_all(&buffer[..length]).is_err() {
                        return;
                    }
                    let _ = received.send(buffer[..length].to_vec());
                }
            });
        }
    });
    (address, receiver)
}

fn echo_server() -> SocketAddr {
    recording_echo_server().0
}

/// Connects to link `1 → 2` with a read timeout.
fn connect(proxies: &LinkProxies, read_timeout_milliseconds: u64) -> TcpStream {
    let stream = TcpStream::connect(proxies.address(1, 2)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(read_timeout_milliseconds)))
        .unwrap();
    stream
}

/// Whether a read on `stream` found it closed (rather than timing out).
fn is_closed(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 16];
    match stream.read(&mut buffer) {
        Ok(length) => length == 0,
        Err(error) => !matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
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

#[test]
fn a_black_hole_discards_bytes_keeps_connections_open_and_closes_them_when_it_ends() {
    let (target, received) = recording_echo_server();
    let proxies = LinkProxies::start(&[(1, 2, target)]).unwrap();
    let mut before = connect(&proxies, ABSENT_FOR_MILLISECONDS);
    assert_eq!(round_trip(&mut before, b"one").unwrap(), b"one");
    assert_eq!(received.recv().unwrap(), b"one");

    proxies.set(1, 2, LinkState::BlackHole);
    let mut during = connect(&proxies, ABSENT_FOR_MILLISECONDS);
    for stream in [&mut before, &mut during] {
        stream.write_all(b"two").unwrap();
        assert!(!is_closed(stream), "a black hole keeps connections open");
    }
    let absent = Duration::from_millis(ABSENT_FOR_MILLISECONDS);
    assert!(
        received.recv_timeout(absent).is_err(),
        "nothing reaches the target"
    );

    proxies.heal();
    for stream in [&mut before, &mut during] {
        stream
            .set_read_timeout(Some(Duration::from_millis(EXPECTED_WITHIN_MILLISECONDS)))
            .unwrap();
        assert!(is_closed(stream), "a connection with a gap is closed");
    }
    let mut after = connect(&proxies, EXPECTED_WITHIN_MILLISECONDS);
    assert_eq!(round_trip(&mut after, b"three").unwrap(), b"three");
    assert_eq!(
        received.recv().unwrap(),
        b"three",
        "what was discarded is gone"
    );
}

#[test]
fn a_delayed_link_adds_the_delay_to_each_direction_in_order() {
    let delay = Duration::from_millis(100);
    let proxies = LinkProxies::start(&[(1, 2, echo_server())]).unwrap();
    let mut stream = connect(&proxies, EXPECTED_WITHIN_MILLISECONDS);
    assert_eq!(round_trip(&mut stream, b"one").unwrap(), b"one");

    proxies.set_delay(1, 2, delay);
    assert_eq!(proxies.faults(1, 2).delay, delay);
    let started = Instant::now();
    assert_eq!(round_trip(&mut stream, b"two").unwrap(), b"two");
    assert!(started.elapsed() >= 2 * delay, "{:?}", started.elapsed());

    stream.write_all(b"three").unwrap();
    stream.write_all(b"four").unwrap();
    let mut answer = [0u8; 9];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"threefour", "delayed chunks keep their order");
}

#[test]
fn a_lossy_link_holds_chunks_back_for_a_retransmission_delay() {
    let retransmission = Duration::from_millis(RETRANSMISSION_DELAY_MILLISECONDS);
    let proxies = LinkProxies::start_with_seed(&[(1, 2, echo_server())], 7).unwrap();
    let mut stream = connect(&proxies, EXPECTED_WITHIN_MILLISECONDS);
    assert_eq!(round_trip(&mut stream, b"one").unwrap(), b"one");

    proxies.set_loss(1, 2, 1.0);
    let started = Instant::now();
    assert_eq!(round_trip(&mut stream, b"two").unwrap(), b"two");
    assert!(
        started.elapsed() >= 2 * retransmission,
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn healing_clears_the_state_the_delay_and_the_loss() {
    let proxies = LinkProxies::start(&[(1, 2, echo_server())]).unwrap();
    // Far beyond the read timeout, so a fault that outlived the healing
    // could not pass unnoticed.
    proxies.set_delay_all(Duration::from_secs(60));
    proxies.set_loss_all(1.0);
    proxies.set_outbound(1, LinkState::Stalled);
    proxies.heal();
    assert_eq!(proxies.faults(1, 2), LinkFaults::HEALTHY);
    let mut stream = connect(&proxies, EXPECTED_WITHIN_MILLISECONDS);
    assert_eq!(round_trip(&mut stream, b"one").unwrap(), b"one");
}

#[test]
#[should_panic(expected = "a loss probability is in [0, 1]")]
fn a_loss_probability_above_one_is_refused() {
    let proxies = LinkProxies::start(&[(1, 2, echo_server())]).unwrap();
    proxies.set_loss(1, 2, 1.5);
}
