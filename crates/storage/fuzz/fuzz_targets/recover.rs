//! Feeds arbitrary directories to recovery. The input is a sequence of
//! files, each `[name selector: 1 byte][length: 2 bytes little-endian][bytes]`;
//! the selector picks a name recovery cares about. Recovery must return,
//! never panic; a store that opens must accept an append and reopen.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synod_storage::{MemoryDisk, MemoryStorage, Storage, StorageOptions};

const NAMES: [&str; 8] = [
    "wal-00000000000000000000.log",
    "wal-00000000000000000001.log",
    "wal-00000000000000000002.log",
    "wal-00000000000000000010.log",
    "snapshot-00000000000000000000.snap",
    "snapshot-00000000000000000002.snap",
    "wal-00000000000000000001.log.tmp",
    "identity",
];

fuzz_target!(|data: &[u8]| {
    let mut disk = MemoryDisk::new();
    let mut rest = data;
    while let [selector, low, high, tail @ ..] = rest {
        let length = usize::from(u16::from_le_bytes([*low, *high])).min(tail.len());
        let (contents, next) = tail.split_at(length);
        disk.insert_file(
            NAMES[usize::from(*selector) % NAMES.len()],
            contents.to_vec(),
        );
        rest = next;
    }
    let options = StorageOptions {
        segment_size_max_bytes: 4096,
        record_size_max_bytes: 1024,
        ..StorageOptions::default()
    };
    if let Ok((mut storage, _)) = MemoryStorage::open(disk, options) {
        storage
            .append(b"after recovery")
            .expect("an opened store accepts appends");
        storage.sync().expect("an opened store syncs");
        storage.recover().expect("an opened store reopens");
    }
});
