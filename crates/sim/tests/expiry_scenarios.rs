//! Named scenarios of expiry on the agreed clock, driven by hand: which
//! clock stamps which batch, and what a failover to a node whose clock is
//! behind can and cannot do.

use bytes::Bytes;
use synod_kv::{Command, Expiry, KeyExpiry, Operation, Response, SetCondition, UnixMillis};
use synod_node::Request;
use synod_paxos::NodeId;
use synod_sim::harness::Harness;

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

/// Some Unix time in milliseconds.
const T: u64 = 1_800_000_000_000;

fn set_expiring(key: &str, expiry: Expiry) -> Command {
    Command::untagged(Operation::SetExpiring {
        key: Bytes::copy_from_slice(key.as_bytes()),
        value: Bytes::from_static(b"v"),
        condition: SetCondition::Always,
        expiry,
        answer_previous: false,
    })
}

fn read_expiry(key: &str) -> Request {
    let operation = Operation::ReadExpiry {
        key: Bytes::copy_from_slice(key.as_bytes()),
    };
    Request::Read(synod_kv::Principal::Anonymous, operation)
}

/// Every node's clock reads `time`.
fn set_all_times(cluster: &mut Harness, time: u64) {
    for id in cluster.members() {
        cluster.set_time(id, UnixMillis(time));
    }
}

/// A key falls due on a leader with no client traffic: the leader proposes
/// its clock alone, and every replica removes the key when it applies it.
#[test]
fn a_key_falls_due_on_an_idle_leader_and_leaves_every_replica_through_the_log() {
    let mut cluster = Harness::new(3, 401);
    set_all_times(&mut cluster, T);
    cluster.elect(N1);
    cluster.write_command(N1, set_expiring("k", Expiry::After(50)));
    cluster.stabilize();
    for id in [N1, N2, N3] {
        assert_eq!(cluster.node(id).store().len(), 1);
        assert_eq!(
            cluster.node(id).store().deadline(&Bytes::from_static(b"k")),
            Some(UnixMillis(T + 50)),
            "measured from the leader's stamp"
        );
    }
    set_all_times(&mut cluster, T + 49);
    cluster.tick(N1);
    cluster.stabilize();
    assert_eq!(cluster.node(N3).store().len(), 1, "not due yet");
    set_all_times(&mut cluster, T + 50);
    cluster.tick(N1);
    cluster.stabilize();
    for id in [N1, N2, N3] {
        assert_eq!(cluster.node(id).store().len(), 0, "{id} removed the key");
        assert_eq!(cluster.node(id).store().clock(), UnixMillis(T + 50));
    }
}

/// A leader whose clock is ahead expires a key; after a failover to a node
/// whose clock is a second behind, the agreed time does not go back: the
/// key stays gone, and a relative expiry counts from the agreed time, not
/// from the new leader's clock.
#[test]
fn a_new_leader_whose_clock_is_behind_neither_brings_a_key_back_nor_moves_time_back() {
    let mut cluster = Harness::new(3, 402);
    set_all_times(&mut cluster, T);
    cluster.set_time(N1, UnixMillis(T + 1_000));
    cluster.elect(N1);
    cluster.write_command(N1, set_expiring("gone", Expiry::At((T + 1_500) as i64)));
    cluster.stabilize();
    cluster.set_time(N1, UnixMillis(T + 2_000));
    cluster.tick(N1);
    cluster.stabilize();
    assert_eq!(cluster.node(N2).store().len(), 0);
    cluster.crash(N1);
    cluster.elect(N2);
    let read = cluster.request(N2, read_expiry("gone"));
    cluster.stabilize();
    assert_eq!(
        cluster.answer(read),
        Some(&Ok(Response::Expiry(KeyExpiry::Missing)))
    );
    cluster.write_command(N2, set_expiring("later", Expiry::After(100)));
    cluster.stabilize();
    for id in [N2, N3] {
        let store = cluster.node(id).store();
        assert_eq!(store.clock(), UnixMillis(T + 2_000), "time never goes back");
        assert_eq!(
            store.deadline(&Bytes::from_static(b"later")),
            Some(UnixMillis(T + 2_100))
        );
    }
}

/// A client cannot move the cluster's clock.
#[test]
fn a_client_cannot_advance_the_clock() {
    let mut cluster = Harness::new(3, 403);
    set_all_times(&mut cluster, T);
    cluster.elect(N1);
    let forged = cluster.write_command(
        N2,
        Command::untagged(Operation::AdvanceClock {
            now: UnixMillis(T + 1_000_000),
        }),
    );
    cluster.stabilize();
    assert!(matches!(
        cluster.answer(forged),
        Some(Err(synod_node::RequestError::Invalid { .. }))
    ));
    assert!(cluster.node(N1).store().clock() < UnixMillis(T + 1_000_000));
}
