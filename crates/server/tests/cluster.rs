//! Clusters of real nodes in one process, on loopback ports chosen by the
//! kernel, spoken to over real TCP in raw RESP and HTTP.

mod common;

use common::bind;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use synod_paxos::NodeId;
use synod_resp::{encode, parse_frame, Frame};
use synod_server::config::{ServerConfig, SNAPSHOT_INTERVAL_SLOTS};
use synod_server::durable::{ClusterState, FilePersistence};
use synod_server::persistence::MemoryPersistence;
use synod_server::server::{start, Listeners, RunningServer};
use synod_storage::Identity;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every test finishes well within this, or fails.
const TEST_TIME_MAX: Duration = Duration::from_secs(30);

/// Binds loopback listeners for one node per entry of `cluster_ids` (node
/// ids 1, 2, …) and describes each node as belonging to the cluster given.
async fn configs(
    cluster_ids: &[u64],
    snapshot_interval_slots: u64,
) -> Vec<(ServerConfig, Listeners)> {
    let mut listeners = Vec::new();
    for _ in cluster_ids {
        listeners.push(bind().await);
    }
    let peers: BTreeMap<NodeId, String> = listeners
        .iter()
        .enumerate()
        .map(|(index, listeners)| {
            (
                NodeId(index as u64 + 1),
                listeners.peer.local_addr().unwrap().to_string(),
            )
        })
        .collect();
    listeners
        .into_iter()
        .zip(cluster_ids)
        .enumerate()
        .map(|(index, (listeners, cluster_id))| {
            let config = ServerConfig {
                id: NodeId(index as u64 + 1),
                cluster_id: *cluster_id,
                client_address: listeners.client.local_addr().unwrap(),
                peer_address: listeners.peer.local_addr().unwrap(),
                admin_address: listeners.admin.local_addr().unwrap(),
                peers: peers.clone(),
                data_directory: None,
                snapshot_interval_slots,
                lease: false,
                initial_voters: None,
                peer_tls: None,
                client_tls: None,
            };
            (config, listeners)
        })
        .collect()
}

/// Starts one node per entry of `cluster_ids`, each believing it belongs to
/// the cluster given, or leaves it down for `None`; state in memory.
async fn cluster(cluster_ids: &[Option<u64>]) -> Vec<RunningServer> {
    let ids: Vec<u64> = cluster_ids.iter().map(|id| id.unwrap_or(0)).collect();
    let mut servers = Vec::new();
    for ((config, listeners), cluster_id) in configs(&ids, SNAPSHOT_INTERVAL_SLOTS)
        .await
        .into_iter()
        .zip(cluster_ids)
    {
        if cluster_id.is_none() {
            continue;
        }
        let server = start(config, Box::new(MemoryPersistence::default()), listeners)
            .await
            .expect("the node starts");
        servers.push(server);
    }
    servers
}

async fn wait_for_leader(servers: &[RunningServer]) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let leaders: Vec<usize> = servers
            .iter()
            .enumerate()
            .filter(|(_, server)| server.status().role == "leader")
            .map(|(index, _)| index)
            .collect();
        let everyone_knows = servers
            .iter()
            .all(|server| server.status().leader.is_some());
        if leaders.len() == 1 && everyone_knows {
            return leaders[0];
        }
        assert!(Instant::now() < deadline, "no leader elected within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Client {
    stream: TcpStream,
    buffer: BytesMut,
}

impl Client {
    async fn connect(server: &RunningServer) -> Client {
        Client {
            stream: TcpStream::connect(server.client_address).await.unwrap(),
            buffer: BytesMut::new(),
        }
    }

    async fn send(&mut self, words: &[&[u8]]) {
        let frame = Frame::Array(
            words
                .iter()
                .map(|word| Frame::Bulk(Bytes::copy_from_slice(word)))
                .collect(),
        );
        let mut output = BytesMut::new();
        encode(&frame, &mut output);
        self.stream.write_all(&output).await.unwrap();
    }

    async fn receive(&mut self) -> Frame {
        loop {
            if let Some(frame) = parse_frame(&mut self.buffer).expect("the server speaks RESP") {
                return frame;
            }
            let read = self.stream.read_buf(&mut self.buffer).await.unwrap();
            assert!(read > 0, "the server closed the connection");
        }
    }

    async fn call(&mut self, words: &[&[u8]]) -> Frame {
        self.send(words).await;
        self.receive().await
    }
}

fn bulk(text: &str) -> Frame {
    Frame::Bulk(Bytes::copy_from_slice(text.as_bytes()))
}

fn ok() -> Frame {
    Frame::Simple("OK".into())
}

/// `GET path` over HTTP/1.0; returns the status code and body.
async fn http_get(server: &RunningServer, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(server.admin_address).await.unwrap();
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let code = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (code, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_cluster_serves_every_command_through_any_node() {
    tokio::time::timeout(TEST_TIME_MAX, async {
        let servers = cluster(&[Some(11); 3]).await;
        let leader = wait_for_leader(&servers).await;
        let follower = (leader + 1) % 3;

        let mut at_follower = Client::connect(&servers[follower]).await;
        let mut at_leader = Client::connect(&servers[leader]).await;
        assert_eq!(at_follower.call(&[b"SET", b"k", b"v1"]).await, ok());
        assert_eq!(at_leader.call(&[b"GET", b"k"]).await, bulk("v1"));
        assert_eq!(at_follower.call(&[b"GET", b"k"]).await, bulk("v1"));
        assert_eq!(
            at_leader.call(&[b"SET", b"k", b"v2", b"NX"]).await,
            Frame::Null
        );
        assert_eq!(at_leader.call(&[b"SET", b"k", b"v2", b"XX"]).await, ok());
        assert_eq!(
            at_follower.call(&[b"EXISTS", b"k", b"k", b"nope"]).await,
            Frame::Integer(2)
        );
        assert_eq!(
            at_follower.call(&[b"DEL", b"k", b"nope"]).await,
            Frame::Integer(1)
        );
        assert_eq!(at_leader.call(&[b"GET", b"k"]).await, Frame::Null);
        assert_eq!(
            at_leader.call(&[b"PING"]).await,
            Frame::Simple("PONG".into())
        );
        let Frame::Error(message) = at_leader.call(&[b"LPUSH", b"list", b"a"]).await else {
            panic!("an unknown command is an error");
        };
        assert!(message.starts_with("ERR unknown command"), "{message}");
        // The connection is still usable after a command error.
        assert_eq!(at_leader.call(&[b"EXISTS", b"k"]).await, Frame::Integer(0));

        for server in &servers {
            let (code, body) = http_get(server, "/health").await;
            assert_eq!(code, 200, "{body}");
        }
        let (code, status) = http_get(&servers[leader], "/status").await;
        assert_eq!(code, 200);
        let status: serde_json::Value = serde_json::from_str(&status).unwrap();
        assert_eq!(status["role"], "leader");
        assert_eq!(status["members"].as_array().unwrap().len(), 3);
        let (code, metrics) = http_get(&servers[leader], "/metrics").await;
        assert_eq!(code, 200);
        for name in [
            "synod_proposals_total",
            "synod_decisions_total",
            "synod_fsyncs_total",
            "synod_batch_size_commands_bucket",
            "synod_request_latency_seconds_bucket{command=\"get\"",
            "synod_leader_changes_total",
        ] {
            assert!(metrics.contains(name), "{name} missing");
        }
        for server in servers {
            server.stop().await.unwrap();
        }
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_of_a_thousand_writes_is_answered_in_order_with_few_group_commits() {
    tokio::time::timeout(TEST_TIME_MAX, async {
        let servers = cluster(&[Some(12); 3]).await;
        let leader = wait_for_leader(&servers).await;
        let fsyncs_before = servers[leader].metrics().fsyncs.get();
        let mut client = Client::connect(&servers[leader]).await;
        let mut output = BytesMut::new();
        for index in 0..1_000 {
            let key = format!("key-{index}");
            let value = format!("value-{index}");
            let frame = Frame::Array(vec![bulk("SET"), bulk(&key), bulk(&value)]);
            encode(&frame, &mut output);
        }
        for index in 0..1_000 {
            encode(
                &Frame::Array(vec![bulk("GET"), bulk(&format!("key-{index}"))]),
                &mut output,
            );
        }
        client.stream.write_all(&output).await.unwrap();
        for _ in 0..1_000 {
            assert_eq!(client.receive().await, ok());
        }
        for index in 0..1_000 {
            assert_eq!(client.receive().await, bulk(&format!("value-{index}")));
        }
        let fsyncs = servers[leader].metrics().fsyncs.get() - fsyncs_before;
        assert!(
            fsyncs < 500,
            "1,000 pipelined writes took {fsyncs} group commits"
        );
        for server in servers {
            server.stop().await.unwrap();
        }
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_quorum_requests_fail_clearly_and_health_says_so() {
    tokio::time::timeout(TEST_TIME_MAX, async {
        // One node of three: it can never be elected.
        let servers = cluster(&[Some(13), None, None]).await;
        let mut client = Client::connect(&servers[0]).await;
        let started = Instant::now();
        let Frame::Error(message) = client.call(&[b"SET", b"k", b"v"]).await else {
            panic!("a write without a quorum fails");
        };
        assert!(message.starts_with("CLUSTERDOWN no quorum"), "{message}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let Frame::Error(message) = client.call(&[b"GET", b"k"]).await else {
            panic!("a read without a quorum fails");
        };
        assert!(message.starts_with("CLUSTERDOWN no quorum"), "{message}");
        let (code, _) = http_get(&servers[0], "/health").await;
        assert_eq!(code, 503);
        for server in servers {
            server.stop().await.unwrap();
        }
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_another_cluster_is_refused_at_the_handshake() {
    tokio::time::timeout(TEST_TIME_MAX, async {
        let servers = cluster(&[Some(21), Some(22)]).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while servers
            .iter()
            .any(|server| server.metrics().peer_handshakes_refused.get() == 0)
        {
            assert!(Instant::now() < deadline, "the handshakes were not refused");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(servers
            .iter()
            .all(|server| server.metrics().peer_messages_received.get() == 0));
        assert!(servers
            .iter()
            .all(|server| server.status().leader.is_none()));
        for server in servers {
            server.stop().await.unwrap();
        }
    })
    .await
    .expect("the test finishes in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_commands_of_one_connection_take_effect_in_the_order_sent() {
    tokio::time::timeout(TEST_TIME_MAX, async {
        let servers = cluster(&[Some(14); 3]).await;
        let leader = wait_for_leader(&servers).await;
        for index in [leader, (leader + 1) % 3] {
            let mut client = Client::connect(&servers[index]).await;
            // Reads behind writes, and writes behind reads, on one key.
            let mut output = BytesMut::new();
            for round in 0..200 {
                let value = format!("{index}-{round}");
                encode(&Frame::Array(vec![bulk("GET"), bulk("k")]), &mut output);
                encode(
                    &Frame::Array(vec![bulk("SET"), bulk("k"), bulk(&value)]),
                    &mut output,
                );
                encode(&Frame::Array(vec![bulk("EXISTS"), bulk("k")]), &mut output);
                encode(&Frame::Array(vec![bulk("GET"), bulk("k")]), &mut output);
            }
            client.stream.write_all(&output).await.unwrap();
            let mut previous = if index == leader {
                Frame::Null
            } else {
                bulk(&format!("{leader}-199"))
            };
            for round in 0..200 {
                let value = bulk(&format!("{index}-{round}"));
                assert_eq!(
                    client.receive().await,
                    previous,
                    "round {round}: GET before SET"
                );
                assert_eq!(client.receive().await, ok());
                assert_eq!(client.receive().await, Frame::Integer(1));
                assert_eq!(
                    client.receive().await,
                    value,
                    "round {round}: GET after SET"
                );
                previous = value;
            }
        }
        for server in servers {
            server.stop().await.unwrap();
        }
    })
    .await
    .expect("the test finishes in time");
}

/// A data directory under the system temp dir, removed when dropped.
struct TemporaryDirectory(std::path::PathBuf);

impl TemporaryDirectory {
    fn new(name: &str) -> TemporaryDirectory {
        let path =
            std::env::temp_dir().join(format!("synod-cluster-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        TemporaryDirectory(path)
    }
}

impl Drop for TemporaryDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn open_log(
    directory: &TemporaryDirectory,
    config: &ServerConfig,
    state: ClusterState,
) -> Box<FilePersistence> {
    let identity = Identity {
        cluster_id: config.cluster_id,
        node_id: config.id.0,
    };
    let path = directory.0.join(format!("node-{}", config.id.0));
    Box::new(FilePersistence::open(&path, identity, state).expect("the data directory opens"))
}

/// Writes each key (its name as its value), retrying while the cluster
/// answers that the write was not applied (during an election).
async fn set_keys(client: &mut Client, keys: std::ops::Range<u32>) {
    for key in keys {
        let key = format!("key-{key}");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match client.call(&[b"SET", key.as_bytes(), key.as_bytes()]).await {
                Frame::Simple(reply) if reply == "OK" => break,
                Frame::Error(error)
                    if error.starts_with("TRYAGAIN") || error.starts_with("CLUSTERDOWN") =>
                {
                    assert!(Instant::now() < deadline, "{key} kept failing: {error}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => panic!("SET {key} answered {other:?}"),
            }
        }
    }
}

/// Starts the node of `config` on its data directory.
async fn restart(directory: &TemporaryDirectory, config: &ServerConfig) -> RunningServer {
    let persistence = open_log(directory, config, ClusterState::Existing);
    let listeners = Listeners::bind(config).await.unwrap();
    start(config.clone(), persistence, listeners).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_compacted_slots_restarts_from_its_log_and_installs_a_snapshot() {
    tokio::time::timeout(TEST_TIME_MAX, async {
        let directory = TemporaryDirectory::new("snapshot");
        let mut servers = Vec::new();
        let mut configs_of_nodes = Vec::new();
        for (config, listeners) in configs(&[15; 3], 20).await {
            let persistence = open_log(&directory, &config, ClusterState::New);
            configs_of_nodes.push(config.clone());
            servers.push(start(config, persistence, listeners).await.unwrap());
        }
        let leader = wait_for_leader(&servers).await;
        let lagging = (leader + 1) % 3;
        let other = (leader + 2) % 3;
        let mut client = Client::connect(&servers[leader]).await;
        // One slot per write: several snapshots on every node.
        set_keys(&mut client, 0..100).await;
        let mut servers: Vec<Option<RunningServer>> = servers.into_iter().map(Some).collect();
        servers[lagging].take().unwrap().stop().await.unwrap();
        // The others move on and compact past everything the stopped node has.
        set_keys(&mut client, 100..300).await;
        // A restarted leader keeps no votes for old slots: whoever leads next
        // can only bring the lagging node up to date with a snapshot.
        servers[leader].take().unwrap().stop().await.unwrap();
        servers[leader] = Some(restart(&directory, &configs_of_nodes[leader]).await);
        let mut client = Client::connect(servers[other].as_ref().unwrap()).await;
        set_keys(&mut client, 300..310).await;

        let restarted = restart(&directory, &configs_of_nodes[lagging]).await;
        assert!(
            restarted.status().applied_index >= 80,
            "recovered from its own snapshot"
        );
        servers[lagging] = Some(restarted);
        let servers: Vec<RunningServer> = servers.into_iter().flatten().collect();
        let leader = wait_for_leader(&servers).await;
        let lagging_id = configs_of_nodes[lagging].id.0;
        let restarted = servers
            .iter()
            .find(|server| server.status().id == lagging_id)
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let leading = servers[leader].status();
            let caught_up = restarted.status().applied_index == leading.commit_index
                && leading
                    .members
                    .iter()
                    .any(|member| member.id == lagging_id && member.lag == Some(0));
            if caught_up {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the restarted node did not catch up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(restarted.metrics().snapshots_installed.get(), 1);
        let mut at_restarted = Client::connect(restarted).await;
        for key in [0, 99, 100, 299, 309] {
            let key = format!("key-{key}");
            assert_eq!(
                at_restarted.call(&[b"GET", key.as_bytes()]).await,
                bulk(&key)
            );
        }
        for server in servers {
            server.stop().await.unwrap();
        }
    })
    .await
    .expect("the test finishes in time");
}
