//! Membership on real nodes in one process (loopback, ports chosen by the
//! kernel): a node joins through the admin API as a learner, is promoted
//! once it has caught up, the leader is removed and hands over, and the
//! removed node stops and names the way back.

mod common;

use common::bind;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use synod_client::membership::Membership;
use synod_client::{Client, ClientOptions};
use synod_paxos::NodeId;
use synod_server::config::{ServerConfig, SNAPSHOT_INTERVAL_SLOTS};
use synod_server::drive::DriveError;
use synod_server::persistence::MemoryPersistence;
use synod_server::server::{start, Listeners, RunningServer, ServerError};

/// The test finishes well within this, or fails.
const TEST_TIME_MAX: Duration = Duration::from_secs(60);
/// Keys written before the cluster changes.
const KEYS: u32 = 200;

fn config(id: u64, listeners: &Listeners, peers: &BTreeMap<NodeId, String>) -> ServerConfig {
    ServerConfig {
        id: NodeId(id),
        cluster_id: 77,
        client_address: listeners.client.local_addr().unwrap(),
        peer_address: listeners.peer.local_addr().unwrap(),
        admin_address: listeners.admin.local_addr().unwrap(),
        peers: peers.clone(),
        data_directory: None,
        snapshot_interval_slots: SNAPSHOT_INTERVAL_SLOTS,
        lease: false,
        initial_voters: None,
        peer_tls: None,
        client_tls: None,
    }
}

/// Runs a blocking membership step off the runtime's threads.
async fn step(
    endpoints: Vec<String>,
    run: impl FnOnce(&Membership) -> Result<(), synod_client::membership::MembershipError>
        + Send
        + 'static,
) {
    tokio::task::spawn_blocking(move || run(&Membership::new(endpoints, TEST_TIME_MAX)))
        .await
        .expect("the step ran")
        .expect("the step succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joins_as_learner_is_promoted_and_the_removed_leader_hands_over_and_stops() {
    tokio::time::timeout(TEST_TIME_MAX, async {
        let mut listeners = Vec::new();
        for _ in 0..3 {
            listeners.push(bind().await);
        }
        let peers: BTreeMap<NodeId, String> = listeners
            .iter()
            .zip(1..)
            .map(|(listeners, id)| (NodeId(id), listeners.peer.local_addr().unwrap().to_string()))
            .collect();
        let mut servers: BTreeMap<u64, RunningServer> = BTreeMap::new();
        for (listeners, id) in listeners.into_iter().zip(1..) {
            let config = config(id, &listeners, &peers);
            let server = start(config, Box::new(MemoryPersistence::default()), listeners)
                .await
                .expect("the node starts");
            servers.insert(id, server);
        }
        let endpoints = |servers: &BTreeMap<u64, RunningServer>| -> Vec<String> {
            servers
                .values()
                .map(|server| server.admin_address.to_string())
                .collect()
        };
        let client = Client::connect(
            servers
                .values()
                .map(|server| server.client_address.to_string()),
            ClientOptions::default(),
        )
        .await
        .expect("the client connects");
        for key in 0..KEYS {
            client
                .set(format!("k{key}"), format!("v{key}"))
                .await
                .expect("a write");
        }

        // Node 4 joins: added as a learner, started knowing today's members
        // and the initial voters, promoted once it has caught up.
        let listeners = bind().await;
        let address = listeners.peer.local_addr().unwrap().to_string();
        let mut joined_peers = peers.clone();
        joined_peers.insert(NodeId(4), address.clone());
        let mut joining = config(4, &listeners, &joined_peers);
        joining.initial_voters = Some(vec![NodeId(1), NodeId(2), NodeId(3)]);
        let added = address.clone();
        step(endpoints(&servers), move |membership| {
            membership.add_learner(4, &added)
        })
        .await;
        let server = start(joining, Box::new(MemoryPersistence::default()), listeners)
            .await
            .expect("the new node starts");
        servers.insert(4, server);
        step(endpoints(&servers), |membership| membership.promote(4)).await;
        step(endpoints(&servers), |membership| {
            membership.wait_for_voters(&[1, 2, 3, 4])
        })
        .await;

        // The leader is removed: it hands over, then stops by itself.
        let leader = servers[&4].status().leader.expect("a leader is known");
        let remaining: Vec<u64> = [1, 2, 3, 4]
            .into_iter()
            .filter(|id| *id != leader)
            .collect();
        step(endpoints(&servers), move |membership| {
            membership.remove(leader)
        })
        .await;
        let wanted = remaining.clone();
        step(endpoints(&servers), move |membership| {
            membership.wait_for_voters(&wanted)
        })
        .await;
        let removed = servers.remove(&leader).expect("the leader ran");
        let outcome = removed.run_until(std::future::pending()).await;
        assert!(
            matches!(
                outcome,
                Err(ServerError::Drive(DriveError::Removed { id, .. })) if id == leader
            ),
            "the removed node stops by itself: {outcome:?}"
        );

        // Nothing was lost, and the new configuration takes writes.
        let client = Client::connect(
            [servers[&4].client_address.to_string()],
            ClientOptions::default(),
        )
        .await
        .expect("the client connects to the new node");
        for key in 0..KEYS {
            let value = client.get(format!("k{key}")).await.expect("a read");
            assert_eq!(value.as_deref(), Some(format!("v{key}").as_bytes()));
        }
        client
            .set("after", "removal")
            .await
            .expect("a write after the removal");
        let started = Instant::now();
        for (_, server) in servers {
            server.stop().await.expect("the node stops cleanly");
        }
        assert!(started.elapsed() < TEST_TIME_MAX);
    })
    .await
    .expect("the test finishes in time");
}
