//! The handshake verdicts and the send queue, without sockets.
use super::*;

fn identity() -> PeerIdentity {
    PeerIdentity {
        id: NodeId(1),
        cluster_id: 7,
        tls: None,
    }
}

fn admission() -> Admission {
    Admission {
        members: [1, 2, 3].into_iter().map(NodeId).collect(),
        retired: [(NodeId(5), std::time::Instant::now())]
            .into_iter()
            .collect(),
        epoch: 4,
    }
}

fn hello(version: u16, cluster_id: u64, from: u64, to: u64) -> Hello {
    Hello {
        version,
        cluster_id,
        from: NodeId(from),
        to: NodeId(to),
    }
}

#[test]
fn a_handshake_is_judged_on_version_cluster_and_ids() {
    let identity = identity();
    let verdict = |hello: Hello, certified| judge(&identity, &admission(), &hello, certified);
    assert_eq!(
        verdict(hello(PROTOCOL_VERSION, 7, 2, 1), true),
        HelloReply::Accepted
    );
    assert_eq!(
        verdict(hello(PROTOCOL_VERSION - 1, 7, 2, 1), true),
        HelloReply::Refused(Refusal::VersionUnsupported {
            supported: PROTOCOL_VERSION
        }),
        "a peer of the previous protocol is refused with a reason"
    );
    assert_eq!(
        verdict(hello(9, 7, 2, 1), true),
        HelloReply::Refused(Refusal::VersionUnsupported {
            supported: PROTOCOL_VERSION
        })
    );
    assert_eq!(
        verdict(hello(PROTOCOL_VERSION, 8, 2, 1), true),
        HelloReply::Refused(Refusal::ClusterMismatch { expected: 7 })
    );
    assert_eq!(
        verdict(hello(PROTOCOL_VERSION, 7, 4, 1), true),
        HelloReply::Refused(Refusal::NodeUnknown)
    );
    assert_eq!(
        verdict(hello(PROTOCOL_VERSION, 7, 1, 1), true),
        HelloReply::Refused(Refusal::NodeUnknown)
    );
    assert_eq!(
        verdict(hello(PROTOCOL_VERSION, 7, 2, 3), true),
        HelloReply::Refused(Refusal::WrongNode { actual: 1 })
    );
    assert_eq!(
        verdict(hello(PROTOCOL_VERSION, 7, 5, 1), true),
        HelloReply::Refused(Refusal::Removed { epoch: 4 }),
        "a removed id is told so, not just that it is unknown"
    );
    assert_eq!(
        verdict(hello(PROTOCOL_VERSION, 7, 2, 1), false),
        HelloReply::Refused(Refusal::CertificateMismatch),
        "a member whose certificate names another node is refused"
    );
    assert_eq!(
        verdict(hello(PROTOCOL_VERSION, 8, 2, 1), false),
        HelloReply::Refused(Refusal::ClusterMismatch { expected: 7 }),
        "the plainer reason comes first"
    );
}

#[test]
fn a_full_queue_drops_its_oldest_message() {
    let queue = PeerQueue::default();
    for request in 0..PEER_QUEUE_MESSAGES_MAX as u64 {
        assert!(!queue.push(Message::ReadIndexRequest {
            request: synod_paxos::ReadRequestId(request),
            reads: 1,
        }));
    }
    assert!(queue.push(Message::ReadIndexRequest {
        request: synod_paxos::ReadRequestId(1_000_000),
        reads: 1,
    }));
    let first = queue.take_batch();
    assert_eq!(
        first[0],
        Message::ReadIndexRequest {
            request: synod_paxos::ReadRequestId(1),
            reads: 1,
        }
    );
    assert_eq!(first.len(), PEER_WRITE_BATCH_MESSAGES_MAX);
}
