//! Named scenarios of snapshot transfer in chunks: a replica behind the
//! compacted log pulls the snapshot one chunk at a time, checks every chunk
//! and the whole, resumes from another replica when its source goes quiet,
//! and starts over when the source compacts again.

use bytes::Bytes;
use synod_paxos::{Config, DurableState, Envelope, Message, NodeId, Replica, Slot, SnapshotChunk};
use synod_sim::harness::Harness;

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

/// One command per slot, a snapshot every 50 slots, chunks of 64 bytes: a
/// snapshot of a few hundred commands spans dozens of chunks.
fn small_chunks(config: &mut Config) {
    config.batch_commands_max = 1;
    config.snapshot_interval_slots = 50;
    config.snapshot_chunk_size_max_bytes = 64;
}

/// A cluster where N3 missed 300 commands that N1 and N2 compacted away.
fn cluster_with_n3_behind_the_compacted_log(seed: u64) -> Harness {
    let mut cluster = Harness::with_config(3, seed, small_chunks);
    cluster.elect(N1);
    cluster.crash(N3);
    for index in 0..300 {
        cluster.propose(N1, format!("command {index}"));
        if index % 50 == 49 {
            cluster.run(1);
        }
    }
    cluster.run(2);
    for id in [N1, N2] {
        assert!(
            cluster.replica(id).log_start() > Slot(200),
            "{id} compacted"
        );
    }
    cluster.restart(N3);
    cluster
}

/// Delivers one round of messages at a time (no ticks) until N3 holds part
/// of a snapshot, and returns how much.
fn deliver_until_part_of_a_snapshot_arrived(cluster: &mut Harness) -> u64 {
    for _ in 0..1_000 {
        cluster.collect_all();
        if let Some(progress) = cluster.replica(N3).snapshot_transfer() {
            if progress.received_bytes >= 4 * 64 {
                return progress.received_bytes;
            }
        }
        if cluster.deliver(|_| true) == 0 {
            cluster.tick_all();
        }
    }
    panic!("no snapshot transfer started");
}

fn chunk_requests(sent: &[Envelope], from: NodeId, to: NodeId) -> Vec<(Slot, u64)> {
    sent.iter()
        .filter(|envelope| envelope.from == from && envelope.to == to)
        .filter_map(|envelope| match envelope.message {
            Message::SnapshotChunkRequest { end, offset } => Some((end, offset)),
            _ => None,
        })
        .collect()
}

fn assert_caught_up(cluster: &Harness) {
    assert_eq!(
        cluster.node(N3).store(),
        cluster.node(N1).store(),
        "the snapshot and the suffix rebuilt the leader's state"
    );
    assert_eq!(cluster.replica(N3).snapshot_transfer(), None);
}

#[test]
fn a_snapshot_travels_in_chunks_of_the_configured_size() {
    let mut cluster = cluster_with_n3_behind_the_compacted_log(88);
    cluster.run(30);
    assert_eq!(
        cluster.installed[&N3].len(),
        1,
        "one snapshot, then the log"
    );
    let chunks: Vec<&SnapshotChunk> = cluster
        .sent
        .iter()
        .filter(|envelope| envelope.to == N3)
        .filter_map(|envelope| match &envelope.message {
            Message::SnapshotChunk { chunk, .. } => Some(chunk),
            _ => None,
        })
        .collect();
    let total = chunks[0].state_size_bytes;
    assert!(chunks.len() as u64 >= total / 64, "{} chunks", chunks.len());
    assert!(chunks.iter().all(|chunk| chunk.data.len() <= 64));
    assert_caught_up(&cluster);
}

#[test]
fn a_transfer_whose_source_crashed_resumes_from_another_replica_where_it_stopped() {
    let mut cluster = cluster_with_n3_behind_the_compacted_log(88);
    let received = deliver_until_part_of_a_snapshot_arrived(&mut cluster);
    let source = cluster
        .replica(N3)
        .snapshot_transfer()
        .expect("a transfer is under way")
        .source;
    let other = if source == N1 { N2 } else { N1 };
    assert_eq!(
        cluster.replica(other).log_start(),
        cluster.replica(source).log_start(),
        "precondition: both hold the snapshot being transferred"
    );
    cluster.crash(source);
    cluster.elect(other);
    cluster.run(30);
    let resumed = chunk_requests(&cluster.sent, N3, other);
    assert!(
        resumed.iter().any(|(_, offset)| *offset >= received),
        "N3 asked {other} to continue from byte {received}: {resumed:?}"
    );
    let restarts = cluster
        .sent
        .iter()
        .filter(|envelope| envelope.from == other && envelope.to == N3)
        .filter(|envelope| {
            matches!(&envelope.message, Message::SnapshotChunk { chunk, .. } if chunk.offset == 0)
        })
        .count();
    assert_eq!(restarts, 0, "N3 never started over");
    assert_eq!(cluster.installed[&N3].len(), 1);
    cluster.restart(source);
    cluster.run(5);
    assert_caught_up(&cluster);
}

#[test]
fn a_source_that_compacted_again_meanwhile_restarts_the_transfer_with_its_new_snapshot() {
    let mut cluster = cluster_with_n3_behind_the_compacted_log(88);
    deliver_until_part_of_a_snapshot_arrived(&mut cluster);
    let first = cluster.replica(N3).snapshot_transfer().expect("under way");
    // Hold N3's next request while the cluster moves on and compacts again.
    let mut held: Vec<Envelope> = Vec::new();
    cluster.collect_all();
    cluster.queue.retain(|envelope| {
        let keep = envelope.from != N3;
        if !keep {
            held.push(envelope.clone());
        }
        keep
    });
    cluster.isolated.insert(N3);
    for index in 300..400 {
        cluster.propose(N1, format!("command {index}"));
        if index % 50 == 49 {
            cluster.run(1);
        }
    }
    cluster.run(2);
    let newer = cluster.replica(first.source).log_start();
    assert!(newer > first.end, "the source compacted again");
    cluster.isolated.remove(&N3);
    cluster.queue.extend(held);
    cluster.run(40);
    let restarted = chunk_requests(&cluster.sent, N3, first.source)
        .into_iter()
        .chain(chunk_requests(&cluster.sent, N3, N2))
        .any(|(end, offset)| end >= newer && offset > 0);
    assert!(restarted, "N3 moved to the newer snapshot");
    assert_eq!(cluster.installed[&N3].len(), 1, "only the newer one");
    assert!(cluster.installed[&N3][0] >= newer);
    assert_caught_up(&cluster);
}

/// A replica that asks to catch up, to feed chunks by hand.
fn lagging_follower() -> Replica {
    let mut config = Config::new(N3, vec![N1, N2, N3]);
    config.snapshot_chunk_size_max_bytes = 4;
    Replica::new(config, DurableState::default(), 7)
}

/// The chunk of `state` (a snapshot ending at slot 10) at `offset`.
fn chunk(state: &[u8], offset: usize, size: usize) -> SnapshotChunk {
    let data = Bytes::copy_from_slice(&state[offset..offset + size]);
    SnapshotChunk {
        end: Slot(10),
        state_size_bytes: state.len() as u64,
        state_checksum: crc32c::crc32c(state),
        membership: None,
        offset: offset as u64,
        data_checksum: crc32c::crc32c(&data),
        data,
    }
}

/// Hands `replica` a chunk from `from`, sent with a commit index past it.
fn send_chunk(replica: &mut Replica, from: NodeId, chunk: SnapshotChunk) {
    let committed = Slot(chunk.end.0 + 30);
    replica.step(from, Message::SnapshotChunk { chunk, committed });
}

/// The offset of the chunk the replica asked for last.
fn requested_offset(replica: &mut Replica) -> Option<u64> {
    let ready = replica.ready();
    let mut messages = ready.messages;
    messages.extend(ready.persist.persisted().messages);
    // The latest request: the others were answered by the chunks fed since.
    messages
        .iter()
        .rev()
        .find_map(|envelope| match envelope.message {
            Message::SnapshotChunkRequest { offset, .. } => Some(offset),
            _ => None,
        })
}

#[test]
fn a_damaged_chunk_is_asked_for_again_and_a_damaged_whole_is_discarded() {
    let state = b"0123456789ab";
    let mut replica = lagging_follower();
    send_chunk(&mut replica, N1, chunk(state, 0, 4));
    assert_eq!(requested_offset(&mut replica), Some(4));
    let mut damaged = chunk(state, 4, 4);
    damaged.data = Bytes::from_static(b"XXXX");
    send_chunk(&mut replica, N1, damaged);
    assert_eq!(requested_offset(&mut replica), Some(4), "asked again");
    let progress = replica.snapshot_transfer().expect("kept what it had");
    assert_eq!(progress.received_bytes, 4);
    // Chunks that each pass their own check but do not add up to the state
    // the first chunk announced: the whole fails and is discarded.
    let mut wrong = *state;
    wrong[9] = b'!';
    for offset in [4, 8] {
        let mut piece = chunk(&wrong, offset, 4);
        piece.state_checksum = crc32c::crc32c(state);
        send_chunk(&mut replica, N1, piece);
    }
    assert_eq!(requested_offset(&mut replica), Some(0), "started over");
    assert_eq!(replica.snapshot_transfer(), None);
    assert_eq!(replica.committed(), Slot(0), "nothing installed");
}

#[test]
fn a_chunk_announcing_a_state_larger_than_the_limit_is_refused_before_allocating() {
    let mut replica = lagging_follower();
    let mut huge = chunk(b"abcd", 0, 4);
    huge.state_size_bytes = replica.config().snapshot_size_max_bytes + 1;
    send_chunk(&mut replica, N1, huge);
    assert_eq!(replica.snapshot_transfer(), None);
}

#[test]
fn chunks_of_an_older_snapshot_from_another_sender_do_not_restart_the_transfer() {
    // Regression (five-node seed 876, 16-byte chunks): two senders holding
    // different snapshots answered in turn, and each chunk of one restarted
    // the transfer of the other, forever.
    let newer = b"newer snapshot state";
    let older = b"older state";
    let mut replica = lagging_follower();
    let mut first = chunk(newer, 0, 4);
    first.end = Slot(26);
    send_chunk(&mut replica, N1, first);
    assert_eq!(requested_offset(&mut replica), Some(4));
    let mut stale = chunk(older, 0, 4);
    stale.end = Slot(19);
    send_chunk(&mut replica, N2, stale);
    assert_eq!(
        requested_offset(&mut replica),
        None,
        "the older one is dropped"
    );
    let progress = replica.snapshot_transfer().expect("still under way");
    assert_eq!((progress.end, progress.received_bytes), (Slot(26), 4));
    // A duplicate of a chunk already taken asks for nothing either.
    let mut again = chunk(newer, 0, 4);
    again.end = Slot(26);
    send_chunk(&mut replica, N1, again);
    assert_eq!(requested_offset(&mut replica), None);
}
