//! Users and rights through the log, under the simulator: a change of
//! rights made through one node is enforced on every node once it is
//! acknowledged, a node that lags behind included (it serves no read from
//! a state older than the change).

use bytes::Bytes;
use synod_kv::{
    AccessOperation, Categories, Category, Command, Denial, Operation, Principal, Response, Rule,
};
use synod_node::Request;
use synod_paxos::NodeId;
use synod_sim::harness::{set_command, Harness};

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

/// Seeds of the runs; the seed moves the nodes' timeouts.
const SEEDS: u64 = 64;

fn set_user(name: &str, rules: Vec<Rule>) -> Command {
    Command::untagged(Operation::Access(AccessOperation::SetUser {
        name: Bytes::copy_from_slice(name.as_bytes()),
        rules,
    }))
}

fn get(key: &str) -> Operation {
    Operation::Get {
        key: Bytes::copy_from_slice(key.as_bytes()),
    }
}

#[test]
fn a_revoked_right_is_refused_on_every_node_once_the_change_is_acknowledged() {
    for seed in 0..SEEDS {
        let mut cluster = Harness::new(3, seed);
        cluster.elect(N1);
        // The reader is made through a follower, a value through another.
        let reader_rules = vec![
            Rule::On,
            Rule::NoPassword,
            Rule::Allow(Categories::of(Category::Read)),
            Rule::AddKeyPattern(Bytes::from_static(b"*")),
        ];
        let made = cluster.write_command(N2, set_user("reader", reader_rules));
        let written = cluster.write_command(N3, set_command("x", "1"));
        cluster.stabilize();
        assert_eq!(cluster.answer(made), Some(&Ok(Response::Stored(true))));
        assert_eq!(cluster.answer(written), Some(&Ok(Response::Stored(true))));
        let reader = Principal::User(
            cluster
                .node(N1)
                .store()
                .access()
                .user_named(b"reader")
                .expect("applied on the leader")
                .id,
        );
        for node in [N1, N2, N3] {
            let read = cluster.request(node, Request::Read(reader, get("x")));
            let write = cluster.write_command(node, set_command("x", "2").on_behalf_of(reader));
            cluster.stabilize();
            assert_eq!(
                cluster.answer(read),
                Some(&Ok(Response::Value(Some(Bytes::from_static(b"1"))))),
                "seed {seed}, node {node:?}"
            );
            assert_eq!(
                cluster.answer(write),
                Some(&Ok(Response::Denied(Denial::Category(Category::Write)))),
                "seed {seed}, node {node:?}"
            );
        }

        // The reader loses its reads through N3, while N2 hears nothing:
        // the change is acknowledged with N2 behind.
        let revoke = set_user("reader", vec![Rule::Deny(Categories::of(Category::Read))]);
        let revoked = cluster.write_command(N3, revoke);
        cluster.stabilize_except(N2);
        assert_eq!(
            cluster.answer(revoked),
            Some(&Ok(Response::Stored(true))),
            "seed {seed}"
        );
        assert!(
            cluster
                .node(N2)
                .store()
                .access()
                .user_named(b"reader")
                .expect("made before")
                .categories
                .contains(Category::Read),
            "seed {seed}: N2 must lag for the scenario to mean anything"
        );
        // After the acknowledgement, no node lets the reader read: the
        // leader and N3 at once, the lagging N2 once it caught up to the
        // read's index (never from its older state).
        let reads: Vec<_> = [N1, N2, N3]
            .into_iter()
            .map(|node| (node, cluster.request(node, Request::Read(reader, get("x")))))
            .collect();
        cluster.stabilize();
        for (node, read) in reads {
            assert_eq!(
                cluster.answer(read),
                Some(&Ok(Response::Denied(Denial::Category(Category::Read)))),
                "seed {seed}, node {node:?}"
            );
        }
        // A password for the default user turns anonymous clients away on
        // every node, for writes and reads alike.
        let requirepass = set_user(
            "default",
            vec![
                Rule::ResetPasswords,
                Rule::AddPassword(synod_kv::PasswordHash {
                    iterations: 1,
                    salt: Bytes::from_static(b"salt"),
                    digest: Bytes::from(vec![0; 32]),
                }),
            ],
        );
        let set = cluster.write_command(N2, requirepass);
        cluster.stabilize();
        assert_eq!(cluster.answer(set), Some(&Ok(Response::Stored(true))));
        for node in [N1, N2, N3] {
            let read = cluster.request(node, Request::Read(Principal::Anonymous, get("x")));
            let write = cluster.write_command(node, set_command("x", "3"));
            cluster.stabilize();
            for request in [read, write] {
                assert_eq!(
                    cluster.answer(request),
                    Some(&Ok(Response::Denied(Denial::AuthenticationRequired))),
                    "seed {seed}, node {node:?}"
                );
            }
        }
        // Every replica holds the same users.
        let digest = cluster.node(N1).store().digest();
        for node in [N2, N3] {
            assert_eq!(cluster.node(node).store().digest(), digest, "seed {seed}");
        }
    }
}
