//! The connection limits, on a listener with no drive loop behind it.
use tokio::io::AsyncReadExt;

use super::*;
use crate::drive::{BallotStatus, ConfigurationStatus, NodeStatus};

fn status() -> NodeStatus {
    NodeStatus {
        id: 1,
        role: "follower",
        leader: None,
        ballot: BallotStatus { round: 0, node: 0 },
        commit_index: 0,
        applied_index: 0,
        members: Vec::new(),
        configuration: ConfigurationStatus {
            epoch: 0,
            start_slot: 0,
            voters: vec![1],
            learners: Vec::new(),
            retired: Vec::new(),
        },
        configuration_next: None,
        peer_addresses: std::collections::BTreeMap::new(),
        snapshot_transfer: None,
        authentication_required: false,
    }
}

/// A client listener with no drive loop behind it: enough for what
/// connections answer themselves (PING) and for the limits.
struct Serving {
    address: SocketAddr,
    metrics: Arc<Metrics>,
    _drive_loop: mpsc::Receiver<ClientRequest>,
    _status: watch::Sender<NodeStatus>,
    _shutdown: watch::Sender<bool>,
}

impl Serving {
    async fn start(connections_max: usize, output_buffer_max_bytes: usize) -> Serving {
        Serving::start_with(
            connections_max,
            output_buffer_max_bytes,
            status(),
            UNAUTHENTICATED_CONNECTIONS_MAX,
        )
        .await
    }

    async fn start_with(
        connections_max: usize,
        output_buffer_max_bytes: usize,
        status: NodeStatus,
        unauthenticated_max: usize,
    ) -> Serving {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (requests, drive_loop) = mpsc::channel(1);
        let (status_sender, status) = watch::channel(status);
        let metrics = Arc::new(Metrics::default());
        let context = ClientContext {
            requests,
            status,
            metrics: metrics.clone(),
            port: address.port(),
            connections_max,
            output_buffer_max_bytes,
            tls: None,
            gates: Gates::new(unauthenticated_max),
        };
        let (shutdown_sender, shutdown) = watch::channel(false);
        tokio::spawn(serve(listener, context, shutdown));
        Serving {
            address,
            metrics,
            _drive_loop: drive_loop,
            _status: status_sender,
            _shutdown: shutdown_sender,
        }
    }
}

async fn ping(stream: &mut TcpStream) -> Vec<u8> {
    stream.write_all(b"PING\r\n").await.unwrap();
    let mut reply = vec![0; 7];
    stream.read_exact(&mut reply).await.unwrap();
    reply
}

#[tokio::test]
async fn a_connection_beyond_the_limit_is_told_so_and_closed() {
    let serving = Serving::start(2, CLIENT_OUTPUT_BUFFER_MAX_BYTES).await;
    let (address, metrics) = (serving.address, serving.metrics.clone());

    let mut first = TcpStream::connect(address).await.unwrap();
    let mut second = TcpStream::connect(address).await.unwrap();
    assert_eq!(ping(&mut first).await, b"+PONG\r\n");
    assert_eq!(ping(&mut second).await, b"+PONG\r\n");
    let mut third = TcpStream::connect(address).await.unwrap();
    let mut refusal = Vec::new();
    third.read_to_end(&mut refusal).await.unwrap();
    assert_eq!(refusal, CONNECTIONS_MAX_REPLY);
    assert_eq!(metrics.client_connections_refused.get(), 1);

    // A closed connection frees its place.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    while metrics.client_connections.get() > 1 {
        assert!(
            Instant::now() < deadline,
            "the closed connection still counts"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut fourth = TcpStream::connect(address).await.unwrap();
    assert_eq!(ping(&mut fourth).await, b"+PONG\r\n");
}

#[tokio::test]
async fn a_client_that_does_not_read_its_replies_is_disconnected() {
    let serving = Serving::start(2, 1024).await;
    let (address, metrics) = (serving.address, serving.metrics.clone());

    // PINGs until the node closes: the socket buffers take a few MiB
    // of replies before any wait in the node.
    let mut client = TcpStream::connect(address).await.unwrap();
    let pings = b"PING\r\n".repeat(64 * 1024);
    let flood = async {
        for _ in 0..1_000 {
            if client.write_all(&pings).await.is_err() {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), flood)
        .await
        .expect("the node kept reading PINGs whose replies pile up");
    let deadline = Instant::now() + Duration::from_secs(5);
    while metrics.client_output_buffer_closes.get() == 0 {
        assert!(Instant::now() < deadline, "the node did not close");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(metrics.client_output_buffer_closes.get(), 1);

    // A client that reads is served as before.
    let mut reader = TcpStream::connect(address).await.unwrap();
    assert_eq!(ping(&mut reader).await, b"+PONG\r\n");
}

#[tokio::test]
async fn unauthenticated_connections_are_bounded_refused_before_auth_and_counted() {
    let requiring = NodeStatus {
        authentication_required: true,
        ..status()
    };
    let serving = Serving::start_with(16, CLIENT_OUTPUT_BUFFER_MAX_BYTES, requiring, 1).await;
    let (address, metrics) = (serving.address, serving.metrics.clone());

    // The one unauthenticated connection allowed may only authenticate.
    let mut first = TcpStream::connect(address).await.unwrap();
    first.write_all(b"PING\r\n").await.unwrap();
    let mut reply = vec![0; b"-NOAUTH Authentication required.\r\n".len()];
    first.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply, b"-NOAUTH Authentication required.\r\n");
    // The next one is told there is no room, and closed.
    let mut second = TcpStream::connect(address).await.unwrap();
    let mut refusal = Vec::new();
    second.read_to_end(&mut refusal).await.unwrap();
    assert_eq!(refusal, access::UNAUTHENTICATED_MAX_REPLY);
    assert_eq!(metrics.client_unauthenticated_refused.get(), 1);
    // Refused commands before authenticating are bounded: the connection
    // is closed after the last one allowed.
    let pings = b"PING\r\n".repeat(UNAUTHENTICATED_REFUSALS_MAX as usize);
    first.write_all(&pings).await.unwrap();
    let mut rest = Vec::new();
    first.read_to_end(&mut rest).await.unwrap();
    let refusals = 1 + rest
        .windows(7)
        .filter(|window| window == b"-NOAUTH")
        .count();
    assert_eq!(refusals, UNAUTHENTICATED_REFUSALS_MAX as usize);
    // A closed one frees its place.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut third = TcpStream::connect(address).await.unwrap();
        third.write_all(b"PING\r\n").await.unwrap();
        let mut reply = vec![0; 4];
        third.read_exact(&mut reply).await.unwrap();
        if reply == b"-NOA" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed connection holds its place"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn a_password_verifies_against_its_own_salted_hash_only() {
    let hash = access::hash_password(b"correct horse");
    let again = access::hash_password(b"correct horse");
    assert_ne!(hash.salt, again.salt, "every hash has a salt of its own");
    assert_ne!(hash.digest, again.digest);
    assert!(access::verify_password(b"correct horse", &hash));
    assert!(access::verify_password(b"correct horse", &again));
    assert!(!access::verify_password(b"correct horse ", &hash));
    assert!(!access::verify_password(b"", &hash));
    assert_eq!(hash.iterations, PASSWORD_HASH_ITERATIONS);
}
