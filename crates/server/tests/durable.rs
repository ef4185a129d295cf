//! The file-backed persistence on real directories: what was persisted
//! survives a restart, and a node never comes back with empty state.

use std::path::PathBuf;

use bytes::Bytes;
use synod_paxos::{Ballot, Entry, NodeId, PersistentChanges, Slot, Value};
use synod_server::durable::{ClusterState, FilePersistence, OpenError};
use synod_server::persistence::Persistence;
use synod_storage::{Identity, IdentityError};

/// A fresh directory under the system temp dir, removed when dropped.
struct TemporaryDirectory(PathBuf);

impl TemporaryDirectory {
    fn new(name: &str) -> TemporaryDirectory {
        let path = std::env::temp_dir().join(format!(
            "synod-durable-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_nanos()
        ));
        TemporaryDirectory(path)
    }
}

impl Drop for TemporaryDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const IDENTITY: Identity = Identity {
    cluster_id: 7,
    node_id: 2,
};

fn changes() -> PersistentChanges {
    let ballot = Ballot {
        round: 3,
        node: NodeId(1),
    };
    let mut changes = PersistentChanges {
        promised: Some(ballot),
        committed: Some(Slot(1)),
        ..PersistentChanges::default()
    };
    changes.entries.insert(
        Slot(0),
        Entry {
            ballot,
            value: Value::Batch(vec![Bytes::from_static(b"set x 1")].into()),
        },
    );
    changes
}

#[test]
fn persisted_state_survives_a_restart_of_the_node() {
    let directory = TemporaryDirectory::new("restart");
    let mut first =
        FilePersistence::open(&directory.0, IDENTITY, ClusterState::New).expect("initialised");
    assert_eq!(first.recover(), Default::default());
    first.persist(&changes()).expect("durable");
    let expected = first.recover();
    drop(first);
    let mut second =
        FilePersistence::open(&directory.0, IDENTITY, ClusterState::Existing).expect("reopened");
    assert_eq!(second.recover(), expected);
    assert_eq!(expected.committed, Slot(1));
}

#[test]
fn an_empty_directory_in_an_existing_cluster_is_a_lost_disk_and_the_node_refuses_to_vote() {
    let directory = TemporaryDirectory::new("lost");
    let error = FilePersistence::open(&directory.0, IDENTITY, ClusterState::Existing)
        .expect_err("must not come back with empty state");
    let message = error.to_string();
    assert!(
        matches!(
            error,
            OpenError::Identity {
                source: IdentityError::DiskLost { .. },
                ..
            }
        ),
        "{message}"
    );
    assert!(
        message.contains("new member"),
        "tells the safe path: {message}"
    );
}

#[test]
fn a_directory_of_another_node_is_refused() {
    let directory = TemporaryDirectory::new("other");
    let mut first =
        FilePersistence::open(&directory.0, IDENTITY, ClusterState::New).expect("initialised");
    first.persist(&changes()).expect("durable");
    drop(first);
    let other = Identity {
        cluster_id: 7,
        node_id: 3,
    };
    let error = FilePersistence::open(&directory.0, other, ClusterState::Existing)
        .expect_err("another node's disk");
    assert!(
        matches!(
            error,
            OpenError::Identity {
                source: IdentityError::Mismatch { .. },
                ..
            }
        ),
        "{error}"
    );
}
