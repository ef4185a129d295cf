//! One direction of a proxied connection: a reader that stamps every chunk
//! with the time it may be forwarded, a bounded queue, and a writer that
//! forwards chunks in order, each no earlier than its stamp.
//!
//! Reading and writing are separate so that delay adds latency without
//! capping throughput: the reader keeps reading while earlier chunks wait
//! out their delay in the queue.

use rand::rngs::StdRng;
use rand::Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::faults::{still_black_hole_after_change, wait_while_stalled, LinkFaults, Passage};

/// Bytes a pump reads at once.
const PUMP_BUFFER_SIZE_BYTES: usize = 64 * 1024;
/// Chunks read but not yet forwarded, per direction. This bounds what a
/// delayed link holds (at most this many times [`PUMP_BUFFER_SIZE_BYTES`]);
/// when the queue is full the reader stops, and the sender's TCP window
/// fills, as on a long path whose window is full.
const PUMP_QUEUE_CHUNKS_MAX: usize = 256;

/// Bytes read from one side, and when they may reach the other.
struct Chunk {
    bytes: Vec<u8>,
    due: Instant,
}

/// How reading ended.
enum ReadEnd {
    /// The source closed: forward what is queued, then close.
    SourceClosed,
    /// The connection must close now (refused, black hole over, proxies or
    /// writer gone); what is queued is dropped.
    Abandoned,
}

/// Moves bytes from `source` to `sink` under the link's faults until either
/// side closes, the link is refused, or a black hole the connection lived
/// through ends. `random` decides which chunks are lost.
pub(crate) async fn pump(
    source: OwnedReadHalf,
    sink: OwnedWriteHalf,
    faults: watch::Receiver<LinkFaults>,
    random: StdRng,
) {
    let (sender, receiver) = mpsc::channel(PUMP_QUEUE_CHUNKS_MAX);
    let writing = write_chunks(receiver, sink, faults.clone());
    tokio::pin!(writing);
    tokio::select! {
        end = read_chunks(source, sender, faults, random) => {
            if let ReadEnd::SourceClosed = end {
                writing.await;
            }
        }
        () = &mut writing => {}
    }
}

/// Reads chunks while the link is up and queues them stamped with their
/// forwarding time; reads nothing while it is stalled; reads and discards
/// while it is a black hole.
async fn read_chunks(
    mut source: OwnedReadHalf,
    queue: mpsc::Sender<Chunk>,
    mut faults: watch::Receiver<LinkFaults>,
    mut random: StdRng,
) -> ReadEnd {
    let mut buffer = vec![0u8; PUMP_BUFFER_SIZE_BYTES];
    loop {
        match wait_while_stalled(&mut faults).await {
            Passage::Open => {}
            Passage::BlackHole => {
                discard_reads_until_black_hole_ends(&mut source, &mut faults).await;
                return ReadEnd::Abandoned;
            }
            Passage::Closed => return ReadEnd::Abandoned,
        }
        // A change of the faults interrupts the read (reads are cancel
        // safe), so a stall or a black hole takes effect at once.
        let read = tokio::select! {
            read = source.read(&mut buffer) => read,
            changed = faults.changed() => {
                if changed.is_err() {
                    return ReadEnd::Abandoned;
                }
                continue;
            }
        };
        let length = match read {
            Ok(0) | Err(_) => return ReadEnd::SourceClosed,
            Ok(length) => length,
        };
        let read_at = Instant::now();
        let current = *faults.borrow();
        // Drawn for every chunk, lost or not, so the sequence of draws does
        // not depend on the probability.
        let lost = random.random_bool(current.loss_probability);
        let chunk = Chunk {
            bytes: buffer[..length].to_vec(),
            due: read_at + current.forwarding_delay(lost),
        };
        if queue.send(chunk).await.is_err() {
            return ReadEnd::Abandoned;
        }
    }
}

/// Forwards queued chunks in order, each no earlier than it is due: a chunk
/// held back keeps every later one behind it, as TCP's in-order delivery
/// does. Holds chunks while the link is stalled; discards them while it is
/// a black hole, and then returns when the black hole ends.
async fn write_chunks(
    mut queue: mpsc::Receiver<Chunk>,
    mut sink: OwnedWriteHalf,
    mut faults: watch::Receiver<LinkFaults>,
) {
    while let Some(chunk) = queue.recv().await {
        tokio::time::sleep_until(chunk.due).await;
        match wait_while_stalled(&mut faults).await {
            Passage::Open => {}
            Passage::BlackHole => {
                return discard_queue_until_black_hole_ends(&mut queue, &mut faults).await;
            }
            Passage::Closed => return,
        }
        if sink.write_all(&chunk.bytes).await.is_err() {
            return;
        }
    }
}

/// Reads and drops everything from `source` until the link stops being a
/// black hole or `source` closes. Reading on keeps the sender's TCP from
/// filling its window, so its writes succeed into the void.
pub(crate) async fn discard_reads_until_black_hole_ends(
    source: &mut (impl AsyncRead + Unpin),
    faults: &mut watch::Receiver<LinkFaults>,
) {
    let mut buffer = vec![0u8; PUMP_BUFFER_SIZE_BYTES];
    loop {
        tokio::select! {
            read = source.read(&mut buffer) => {
                if matches!(read, Ok(0) | Err(_)) {
                    return;
                }
            }
            still = still_black_hole_after_change(faults) => {
                if !still {
                    return;
                }
            }
        }
    }
}

/// Drops queued chunks until the link stops being a black hole or the
/// reader is gone, so the reader never blocks on a full queue meanwhile.
async fn discard_queue_until_black_hole_ends(
    queue: &mut mpsc::Receiver<Chunk>,
    faults: &mut watch::Receiver<LinkFaults>,
) {
    loop {
        tokio::select! {
            chunk = queue.recv() => {
                if chunk.is_none() {
                    return;
                }
            }
            still = still_black_hole_after_change(faults) => {
                if !still {
                    return;
                }
            }
        }
    }
}
