//! The data directory's identity: a node starts only on its own directory,
//! and a node whose disk was lost is told to rejoin as a new member.

mod common;

use std::fs;

use common::{assert_records, payload, TestDirectory};
use synod_storage::{
    CorruptionKind, DataDirectory, Identity, IdentityError, OpenedDirectory, Storage,
    StorageOptions, IDENTITY_FILE_NAME,
};

const NODE: Identity = Identity {
    cluster_id: 0xC1,
    node_id: 3,
};

fn initialise(directory: &TestDirectory) -> DataDirectory {
    match DataDirectory::open(directory.path(), NODE).expect("open") {
        OpenedDirectory::Fresh(fresh) => fresh.initialise().expect("initialise"),
        OpenedDirectory::Existing(_) => panic!("a new directory is fresh"),
    }
}

#[test]
fn identity_missing_directory_is_fresh_and_initialises() {
    let directory = TestDirectory::new("identity-fresh");
    let data = initialise(&directory);
    assert_eq!(data.identity(), NODE);
    assert!(directory.names().contains(&IDENTITY_FILE_NAME.to_string()));
    let (mut storage, recovered) = data
        .open_storage(StorageOptions::default())
        .expect("open storage");
    assert!(recovered.records.is_empty());
    storage.append(&payload(0)).expect("append");
    storage.sync().expect("sync");
    drop(storage);

    let OpenedDirectory::Existing(data) =
        DataDirectory::open(directory.path(), NODE).expect("reopen")
    else {
        panic!("an initialised directory is existing");
    };
    let (_, recovered) = data
        .open_storage(StorageOptions::default())
        .expect("open storage");
    assert_records(&recovered, 0, 1);
}

#[test]
fn identity_of_another_node_is_refused() {
    let directory = TestDirectory::new("identity-mismatch");
    initialise(&directory);
    for other in [
        Identity {
            cluster_id: 0xC1,
            node_id: 4,
        },
        Identity {
            cluster_id: 0xC2,
            node_id: 3,
        },
    ] {
        let error =
            DataDirectory::open(directory.path(), other).expect_err("another node's directory");
        assert!(
            matches!(error, IdentityError::Mismatch { found: NODE, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("node 3"), "{error}");
    }
}

#[test]
fn identity_damaged_is_refused() {
    let directory = TestDirectory::new("identity-corrupt");
    initialise(&directory);
    let path = directory.file(IDENTITY_FILE_NAME);
    let mut bytes = fs::read(&path).expect("read");
    bytes[21] ^= 1;
    fs::write(&path, bytes).expect("write");
    let error = DataDirectory::open(directory.path(), NODE).expect_err("damaged identity");
    assert!(matches!(error, IdentityError::Corrupt { .. }), "{error}");
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
}

#[test]
fn identity_missing_with_records_is_refused() {
    let directory = TestDirectory::new("identity-missing");
    let data = initialise(&directory);
    let (mut storage, _) = data
        .open_storage(StorageOptions::default())
        .expect("open storage");
    storage.append(b"a promise").expect("append");
    storage.sync().expect("sync");
    drop(storage);
    fs::remove_file(directory.file(IDENTITY_FILE_NAME)).expect("delete identity");
    let error = DataDirectory::open(directory.path(), NODE).expect_err("records without identity");
    assert!(
        matches!(&error, IdentityError::IdentityMissing { files, .. } if files.len() == 1),
        "{error}"
    );
    assert!(error.to_string().contains("re-add the node"), "{error}");
}

#[test]
fn identity_missing_after_an_interrupted_initialisation_is_fresh() {
    let directory = TestDirectory::new("identity-interrupted");
    initialise(&directory);
    // A crash after the empty log was created but before the identity file
    // was renamed into place.
    fs::rename(
        directory.file(IDENTITY_FILE_NAME),
        directory.file("identity.tmp"),
    )
    .expect("rename");
    let OpenedDirectory::Fresh(fresh) = DataDirectory::open(directory.path(), NODE).expect("open")
    else {
        panic!("an empty log proves nothing was written");
    };
    let data = fresh.initialise().expect("initialise again");
    let (_, recovered) = data
        .open_storage(StorageOptions::default())
        .expect("open storage");
    assert!(recovered.records.is_empty());
    assert!(!directory.names().iter().any(|name| name.ends_with(".tmp")));
}

#[test]
fn identity_present_but_log_deleted_is_refused() {
    let directory = TestDirectory::new("identity-no-log");
    let data = initialise(&directory);
    for name in directory.segments() {
        fs::remove_file(directory.file(&name)).expect("delete");
    }
    let error = data
        .open_storage(StorageOptions::default())
        .expect_err("the log is gone");
    assert_eq!(
        error.corruption_kind(),
        Some(CorruptionKind::LogMissing),
        "{error}"
    );
}

#[test]
fn identity_fresh_directory_of_a_known_member_is_a_lost_disk() {
    let directory = TestDirectory::new("identity-lost");
    let OpenedDirectory::Fresh(fresh) = DataDirectory::open(directory.path(), NODE).expect("open")
    else {
        panic!("a missing directory is fresh");
    };
    let error = fresh.refuse_as_lost_disk();
    let message = error.to_string();
    assert!(message.contains("this node's disk was lost"), "{message}");
    assert!(
        message.contains("re-add it as a new member")
            || message.contains("Re-add it as a new member"),
        "{message}"
    );
    assert!(
        !directory.path().exists(),
        "refusing must not create anything"
    );
}

#[test]
fn identity_ignores_unrelated_files_in_a_fresh_directory() {
    let directory = TestDirectory::new("identity-unrelated");
    fs::create_dir_all(directory.path()).expect("create");
    fs::create_dir(directory.file("lost+found")).expect("create");
    fs::write(directory.file("notes.txt"), b"operator notes").expect("write");
    assert!(matches!(
        DataDirectory::open(directory.path(), NODE).expect("open"),
        OpenedDirectory::Fresh(_)
    ));
}

#[test]
fn identity_file_of_the_wrong_size_is_refused_without_loading_it() {
    let directory = TestDirectory::new("identity-huge");
    initialise(&directory);
    let file = fs::OpenOptions::new()
        .write(true)
        .open(directory.file(IDENTITY_FILE_NAME))
        .expect("open");
    file.set_len(1 << 30).expect("sparse extend");
    drop(file);
    let error = DataDirectory::open(directory.path(), NODE).expect_err("oversized identity");
    assert!(matches!(error, IdentityError::Corrupt { .. }), "{error}");
}
