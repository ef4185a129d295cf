//! The client's retry and sequence rules against a fake cluster on
//! loopback: nodes that share one real state machine (`synod_kv::Store`)
//! and follow a test's fault policy. Every test is bounded in time.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use synod_client::{Client, ClientOptions, Error};
use synod_kv::{Sequence, SessionId, SessionTag, Store, StoreConfig};
use synod_resp::{encode, parse_frame, reply, Frame, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a node does with one request.
#[derive(Clone)]
enum Action {
    /// Apply it and answer.
    Answer,
    /// Apply it, then close the connection: the answer is lost.
    ApplyAndDrop,
    /// Neither apply nor answer; keep the connection open (a node that
    /// hangs, or a partition).
    Silence,
    /// Do not apply; answer this instead.
    Reply(Frame),
}

/// Decides the action for a request, given the node that received it.
type Policy = Box<dyn FnMut(usize, &Request) -> Action + Send>;

struct Shared {
    store: Store,
    policy: Policy,
    /// Every request received, in order, with the node that received it.
    received: Vec<(usize, Request)>,
}

struct FakeCluster {
    shared: Arc<Mutex<Shared>>,
    endpoints: Vec<String>,
}

impl FakeCluster {
    async fn start(nodes: usize, policy: Policy) -> FakeCluster {
        let shared = Arc::new(Mutex::new(Shared {
            store: Store::new(StoreConfig::default()),
            policy,
            received: Vec::new(),
        }));
        let mut endpoints = Vec::new();
        for node in 0..nodes {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            endpoints.push(listener.local_addr().unwrap().to_string());
            tokio::spawn(accept(listener, node, shared.clone()));
        }
        FakeCluster { shared, endpoints }
    }

    /// The tagged writes received, as (node, tag).
    fn tagged_writes(&self) -> Vec<(usize, SessionTag)> {
        let shared = self.shared.lock().unwrap();
        shared
            .received
            .iter()
            .filter_map(|(node, request)| match request {
                Request::Tagged { tag, .. } => Some((*node, *tag)),
                _ => None,
            })
            .collect()
    }

    fn registrations(&self) -> usize {
        let shared = self.shared.lock().unwrap();
        shared
            .received
            .iter()
            .filter(|(_, request)| *request == Request::SessionRegister)
            .count()
    }

    fn value(&self, key: &'static str) -> Option<Bytes> {
        let shared = self.shared.lock().unwrap();
        match shared.store.read(&synod_kv::Operation::Get {
            key: Bytes::from_static(key.as_bytes()),
        }) {
            synod_kv::Response::Value(value) => value,
            other => panic!("a get answers a value, not {other:?}"),
        }
    }
}

async fn accept(listener: TcpListener, node: usize, shared: Arc<Mutex<Shared>>) {
    loop {
        let (socket, _) = listener.accept().await.unwrap();
        tokio::spawn(serve(socket, node, shared.clone()));
    }
}

async fn serve(mut socket: TcpStream, node: usize, shared: Arc<Mutex<Shared>>) {
    let mut input = BytesMut::new();
    loop {
        while let Some(frame) = parse_frame(&mut input).unwrap() {
            let request = Request::parse(frame).unwrap();
            let reply = {
                let mut shared = shared.lock().unwrap();
                shared.received.push((node, request.clone()));
                match (shared.policy)(node, &request) {
                    Action::Answer => apply(&mut shared.store, &request),
                    Action::ApplyAndDrop => {
                        apply(&mut shared.store, &request);
                        return;
                    }
                    Action::Silence => None,
                    Action::Reply(frame) => Some(frame),
                }
            };
            match reply {
                Some(reply) => {
                    let mut output = BytesMut::new();
                    encode(&reply, &mut output);
                    socket.write_all(&output).await.unwrap();
                }
                None => std::future::pending::<()>().await,
            }
        }
        if socket.read_buf(&mut input).await.unwrap_or(0) == 0 {
            return;
        }
    }
}

fn apply(store: &mut Store, request: &Request) -> Option<Frame> {
    Some(match request.to_command() {
        Some(command) => reply::reply_for(&store.apply(&command), request),
        None => reply::local_reply(request).expect("the client sends only stateless requests"),
    })
}

/// Short timeouts and pauses, so that a test of exhausted attempts takes
/// a fraction of a second.
fn quick_options() -> ClientOptions {
    ClientOptions {
        attempt_timeout: Duration::from_millis(300),
        attempts_max: 4,
        backoff_initial: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        credentials: None,
    }
}

async fn client_for(cluster: &FakeCluster) -> Client {
    Client::connect(cluster.endpoints.clone(), quick_options())
        .await
        .unwrap()
}

/// Runs a test body with a bound on its wall-clock time.
async fn bounded<F: Future<Output = ()>>(body: F) {
    tokio::time::timeout(Duration::from_secs(20), body)
        .await
        .expect("the test finishes within its time bound");
}

fn is_tagged(request: &Request) -> bool {
    matches!(request, Request::Tagged { .. })
}

/// Answers every request but tagged writes, which meet `actions` in turn,
/// and are answered once the script runs out.
fn script_tagged_writes(actions: Vec<Action>) -> Policy {
    let mut actions = actions.into_iter();
    Box::new(move |_, request| {
        if is_tagged(request) {
            actions.next().unwrap_or(Action::Answer)
        } else {
            Action::Answer
        }
    })
}

fn tag(session: u64, sequence: u64) -> SessionTag {
    SessionTag {
        session: SessionId(session),
        sequence: Sequence(sequence),
    }
}

#[tokio::test]
async fn a_lost_answer_is_retried_with_the_same_sequence_and_returns_the_original_answer() {
    bounded(async {
        let cluster = FakeCluster::start(2, script_tagged_writes(vec![Action::ApplyAndDrop])).await;
        let client = client_for(&cluster).await;
        // Applied by the first attempt; a second application of SET NX would
        // answer false. The retry must get the original answer, true.
        assert_eq!(client.set_if_absent("k", "v").await, Ok(true));
        assert_eq!(
            cluster.tagged_writes(),
            [(0, tag(1, 1)), (1, tag(1, 1))],
            "the retry goes to the next node with the same session and sequence"
        );
        assert_eq!(cluster.value("k"), Some(Bytes::from_static(b"v")));
        // The next write takes the next sequence, on the node that answered.
        assert_eq!(client.set_if_absent("k", "w").await, Ok(false));
        assert_eq!(cluster.tagged_writes()[2], (1, tag(1, 2)));
        assert_eq!(cluster.registrations(), 1);
    })
    .await;
}

#[tokio::test]
async fn every_write_takes_the_next_sequence_of_one_lazily_registered_session() {
    bounded(async {
        let cluster = FakeCluster::start(1, Box::new(|_, _| Action::Answer)).await;
        let client = client_for(&cluster).await;
        assert_eq!(client.get("k").await, Ok(None));
        assert_eq!(cluster.registrations(), 0, "reads need no session");
        client.set("k", "1").await.unwrap();
        assert_eq!(client.set_if_present("k", "2").await, Ok(true));
        assert_eq!(client.set_if_present("absent", "2").await, Ok(false));
        assert_eq!(client.exists(["k", "k", "absent"]).await, Ok(2));
        assert_eq!(client.del(["k", "absent"]).await, Ok(1));
        assert_eq!(client.get("k").await, Ok(None));
        client.ping().await.unwrap();
        let sequences: Vec<u64> = cluster
            .tagged_writes()
            .iter()
            .map(|(_, tag)| tag.sequence.0)
            .collect();
        assert_eq!(sequences, [1, 2, 3, 4]);
        assert_eq!(cluster.registrations(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_write_whose_attempts_all_time_out_is_outcome_unknown() {
    bounded(async {
        let cluster = FakeCluster::start(3, script_tagged_writes(vec![Action::Silence; 8])).await;
        let client = client_for(&cluster).await;
        let started = std::time::Instant::now();
        let outcome = client.set("k", "v").await;
        assert!(
            matches!(outcome, Err(Error::OutcomeUnknown { attempts: 4, .. })),
            "{outcome:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        // One registration on node 0, then three attempts of the same
        // write, the first on node 0 and each retry on the next node.
        assert_eq!(
            cluster.tagged_writes(),
            [(0, tag(1, 1)), (1, tag(1, 1)), (2, tag(1, 1))]
        );
    })
    .await;
}

#[tokio::test]
async fn cluster_down_try_again_and_unknown_replies_are_retried_elsewhere() {
    bounded(async {
        let refusals = [
            reply::cluster_down("1 of 3 replicas answered"),
            reply::try_again("electing a leader"),
            reply::outcome_unknown(),
        ];
        let cluster = FakeCluster::start(
            3,
            script_tagged_writes(refusals.into_iter().map(Action::Reply).collect()),
        )
        .await;
        // A registration and three refusals leave the fifth attempt to succeed.
        let options = ClientOptions {
            attempts_max: 5,
            ..quick_options()
        };
        let client = Client::connect(cluster.endpoints.clone(), options)
            .await
            .unwrap();
        assert_eq!(client.del(["k"]).await, Ok(0));
        assert_eq!(
            cluster.tagged_writes(),
            [
                (0, tag(1, 1)),
                (1, tag(1, 1)),
                (2, tag(1, 1)),
                (0, tag(1, 1))
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn an_error_reply_is_returned_without_retrying() {
    bounded(async {
        let refusal = Action::Reply(reply::error("refused for a reason"));
        let cluster = FakeCluster::start(2, script_tagged_writes(vec![refusal])).await;
        let client = client_for(&cluster).await;
        assert_eq!(
            client.set("k", "v").await,
            Err(Error::Server("ERR refused for a reason".into()))
        );
        assert_eq!(cluster.tagged_writes().len(), 1);
    })
    .await;
}

#[tokio::test]
async fn an_error_reply_after_a_lost_answer_is_outcome_unknown() {
    bounded(async {
        let script = vec![
            Action::ApplyAndDrop,
            Action::Reply(reply::error("internal trouble")),
        ];
        let cluster = FakeCluster::start(2, script_tagged_writes(script)).await;
        let client = client_for(&cluster).await;
        let outcome = client.set("k", "v").await;
        assert!(
            matches!(outcome, Err(Error::OutcomeUnknown { .. })),
            "the first attempt was applied, so this is not a failure: {outcome:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn an_expired_session_on_the_first_attempt_registers_again_and_writes_afresh() {
    bounded(async {
        let expiry = Action::Reply(reply::session_expired());
        let cluster = FakeCluster::start(1, script_tagged_writes(vec![expiry])).await;
        let client = client_for(&cluster).await;
        assert_eq!(client.set_if_absent("k", "v").await, Ok(true));
        assert_eq!(cluster.registrations(), 2);
        assert_eq!(cluster.tagged_writes(), [(0, tag(1, 1)), (0, tag(2, 1))]);
    })
    .await;
}

#[tokio::test]
async fn an_expired_session_after_a_lost_answer_is_outcome_unknown_then_a_new_session_is_used() {
    bounded(async {
        let script = vec![
            Action::ApplyAndDrop,
            Action::Reply(reply::session_expired()),
        ];
        let cluster = FakeCluster::start(2, script_tagged_writes(script)).await;
        let client = client_for(&cluster).await;
        let outcome = client.set("k", "v").await;
        assert!(
            matches!(outcome, Err(Error::OutcomeUnknown { .. })),
            "{outcome:?}"
        );
        assert_eq!(
            cluster.value("k"),
            Some(Bytes::from_static(b"v")),
            "it was applied"
        );
        client.set("k", "w").await.unwrap();
        assert_eq!(cluster.registrations(), 2);
        assert_eq!(cluster.tagged_writes().last().unwrap().1, tag(2, 1));
    })
    .await;
}

#[tokio::test]
async fn a_write_that_never_reaches_a_node_is_unavailable_not_unknown() {
    bounded(async {
        // Registration hangs, so the write itself is never sent.
        let cluster = FakeCluster::start(
            2,
            Box::new(|_, request| {
                if *request == Request::SessionRegister {
                    Action::Silence
                } else {
                    Action::Answer
                }
            }),
        )
        .await;
        let client = client_for(&cluster).await;
        let outcome = client.set("k", "v").await;
        assert!(
            matches!(outcome, Err(Error::Unavailable { attempts: 4, .. })),
            "{outcome:?}"
        );
        assert!(cluster.tagged_writes().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_read_whose_connection_drops_is_retried() {
    bounded(async {
        let mut first = true;
        let cluster = FakeCluster::start(
            2,
            Box::new(move |_, request| {
                if matches!(request, Request::Get { .. }) && std::mem::take(&mut first) {
                    Action::ApplyAndDrop
                } else {
                    Action::Answer
                }
            }),
        )
        .await;
        let client = client_for(&cluster).await;
        client.set("k", "v").await.unwrap();
        assert_eq!(client.get("k").await, Ok(Some(Bytes::from_static(b"v"))));
    })
    .await;
}

#[tokio::test]
async fn concurrent_calls_keep_one_outstanding_write_per_session() {
    bounded(async {
        let cluster = FakeCluster::start(1, Box::new(|_, _| Action::Answer)).await;
        let client = Arc::new(client_for(&cluster).await);
        let writers: Vec<_> = (0..16)
            .map(|index| {
                let client = client.clone();
                tokio::spawn(async move { client.set(format!("k{index}"), "v").await })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap().unwrap();
        }
        let sequences: Vec<u64> = cluster
            .tagged_writes()
            .iter()
            .map(|(_, tag)| tag.sequence.0)
            .collect();
        // Arrival order is sequence order: no write overtook another.
        assert_eq!(sequences, (1..=16).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn connecting_needs_a_reachable_endpoint_and_limits_are_checked_before_sending() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed = listener.local_addr().unwrap();
        drop(listener);
        let outcome = Client::connect([closed], quick_options()).await;
        assert!(matches!(outcome, Err(Error::Unavailable { .. })));
        let outcome = Client::connect(Vec::<String>::new(), quick_options()).await;
        assert!(matches!(outcome, Err(Error::Configuration(_))));

        let cluster = FakeCluster::start(1, Box::new(|_, _| Action::Answer)).await;
        // The closed endpoint is skipped.
        let client = Client::connect(
            [closed.to_string(), cluster.endpoints[0].clone()],
            quick_options(),
        )
        .await
        .unwrap();
        assert_eq!(
            client.del(Vec::<Bytes>::new()).await,
            Err(Error::InvalidArgument(synod_kv::LimitError::KeysEmpty))
        );
        let huge = vec![b'v'; synod_kv::VALUE_SIZE_MAX_BYTES + 1];
        assert!(matches!(
            client.set("k", huge).await,
            Err(Error::InvalidArgument(_))
        ));
        assert!(cluster.shared.lock().unwrap().received.is_empty());
    })
    .await;
}
