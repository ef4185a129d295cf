//! A data directory written by an earlier build (record format 1, see
//! `tests/fixtures/README.md`) is recovered by this build — the server's
//! file persistence and the node that the server runs — and keeps working
//! when this build appends records of its own format to it.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use synod_kv::{Operation, Response, Store};
use synod_node::{Node, NodeOptions};
use synod_paxos::{Ballot, Config, DurableState, NodeId, PersistentChanges, Slot};
use synod_server::durable::{ClusterState, FilePersistence};
use synod_server::persistence::Persistence;
use synod_storage::Identity;

const FIXTURE: &str = "tests/fixtures/data-v1-node-1";

const IDENTITY: Identity = Identity {
    cluster_id: 8_838_051_114_918_278_057,
    node_id: 1,
};

/// A copy of the fixture, so that opening it (which takes a lock and may
/// append) never touches the committed files; removed when dropped.
struct Copy(PathBuf);

impl Copy {
    fn of_fixture(name: &str) -> Copy {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
        let target = std::env::temp_dir().join(format!(
            "synod-fixture-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_nanos()
        ));
        std::fs::create_dir_all(&target).expect("a temporary directory");
        for file in std::fs::read_dir(&source).expect("the fixture is checked in") {
            let file = file.expect("a readable directory entry");
            std::fs::copy(file.path(), target.join(file.file_name())).expect("copied");
        }
        Copy(target)
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The state machine a node rebuilds from its durable state: the node the
/// server runs restores the snapshot, then applies every decided slot after
/// it, in order, as the core hands them out.
fn rebuild(durable: &DurableState) -> Store {
    let members = vec![NodeId(1), NodeId(2), NodeId(3)];
    let options = NodeOptions::new(Config::new(NodeId(1), members));
    let mut node: Node<()> = Node::new(options, durable.clone(), 1).expect("the snapshot restores");
    loop {
        let ready = node.ready();
        if ready.is_empty() {
            break;
        }
        for batch in ready.persist {
            node.persisted(batch.sequence).expect("nothing to restore");
        }
    }
    assert_eq!(
        node.applied(),
        durable.committed,
        "every decided slot applied"
    );
    node.store().clone()
}

fn value_of(store: &Store, key: String) -> Option<Bytes> {
    match store.read(&Operation::Get {
        key: Bytes::from(key),
    }) {
        Response::Value(value) => value,
        other => panic!("a get answered {other:?}"),
    }
}

/// What `write_fixture.py` left behind.
fn assert_fixture_contents(store: &Store) {
    for j in 0..50 {
        let expected = (j % 7 != 0).then(|| Bytes::from(format!("v{}", 10_050 + j)));
        assert_eq!(value_of(store, format!("k{j}")), expected, "k{j}");
    }
}

#[test]
fn a_data_directory_of_record_format_one_is_recovered() {
    let copy = Copy::of_fixture("recover");
    let mut persistence =
        FilePersistence::open(&copy.0, IDENTITY, ClusterState::Existing).expect("opens");
    let durable = persistence.recover();
    assert_eq!(durable.committed, Slot(10_108));
    assert_eq!(
        durable.promised,
        Ballot {
            round: 1,
            node: NodeId(3)
        }
    );
    let snapshot_end = durable.log_start();
    assert!(snapshot_end >= Slot(10_000), "a snapshot at {snapshot_end}");
    assert_fixture_contents(&rebuild(&durable));
}

#[test]
fn records_of_this_build_follow_the_old_ones_in_the_same_log() {
    let copy = Copy::of_fixture("append");
    let higher = Ballot {
        round: 2,
        node: NodeId(1),
    };
    let before = {
        let mut persistence =
            FilePersistence::open(&copy.0, IDENTITY, ClusterState::Existing).expect("opens");
        let mut durable = persistence.recover();
        let changes = PersistentChanges {
            promised: Some(higher),
            ..PersistentChanges::default()
        };
        persistence.persist(&changes).expect("persists");
        durable.apply(&changes);
        durable
    };
    let mut reopened =
        FilePersistence::open(&copy.0, IDENTITY, ClusterState::Existing).expect("reopens");
    let after = reopened.recover();
    assert_eq!(after, before);
    assert_eq!(after.promised, higher);
    assert_fixture_contents(&rebuild(&after));
}
