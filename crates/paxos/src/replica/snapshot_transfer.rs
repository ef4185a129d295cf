//! Snapshot transfer in chunks, pulled by the replica that needs it.
//!
//! A replica too far behind for the log its peers kept asks for catch-up as
//! usual; the peer answers with the first chunk of its latest snapshot. The
//! receiver appends each chunk to the state it assembles and asks for the
//! next one where its state ends, so one chunk is in flight at a time and
//! neither side holds more than one chunk beyond the snapshot itself (the
//! sender's chunks are views of the snapshot it keeps, not copies).
//!
//! - **Checksummed**: each chunk carries the CRC32C of its data, checked on
//!   receipt, and of the whole state, checked once assembled. A chunk that
//!   fails its check is asked for again; a state that fails is discarded
//!   and the transfer starts over.
//! - **Resumable**: the receiver keeps what it assembled when the sender
//!   goes quiet (a dropped connection, a crash). The catch-up retry timer
//!   asks the next peer ahead of it for the chunk at the same offset.
//!   Replicas that snapshot the same end hold the same state, so any of
//!   them can continue the transfer.
//! - **Restarted cleanly**: a sender that compacted again no longer holds
//!   the snapshot being transferred; it answers with the start of its new
//!   one, and the receiver drops the old state and starts over. A sender
//!   therefore never has to keep an old snapshot (or the log below it) for
//!   a transfer.

use bytes::BytesMut;

use crate::message::Message;
use crate::types::{NodeId, Slot, Snapshot, SnapshotChunk};

use super::Replica;

/// A snapshot being assembled from chunks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct IncomingSnapshot {
    end: Slot,
    state_size_bytes: u64,
    state_checksum: u32,
    /// The state received so far, allocated once at its announced size.
    state: BytesMut,
    /// The peer the last chunk came from: the next is asked of it.
    source: NodeId,
    /// When the last chunk was taken.
    progress_tick: u64,
}

/// How far a snapshot transfer into this replica has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SnapshotTransferProgress {
    /// The end of the snapshot being received.
    pub end: Slot,
    /// State bytes received (and checked) so far.
    pub received_bytes: u64,
    /// The size of the whole state.
    pub total_bytes: u64,
    /// The peer the last chunk came from.
    pub source: NodeId,
}

impl Replica {
    /// The snapshot transfer into this replica in progress, if any.
    pub fn snapshot_transfer(&self) -> Option<SnapshotTransferProgress> {
        self.incoming_snapshot
            .as_ref()
            .map(|incoming| SnapshotTransferProgress {
                end: incoming.end,
                received_bytes: incoming.state.len() as u64,
                total_bytes: incoming.state_size_bytes,
                source: incoming.source,
            })
    }

    /// Sends `to` the chunk of our latest snapshot that starts at `offset`,
    /// or at 0 when `offset` is not inside it.
    pub(super) fn send_snapshot_chunk(&mut self, to: NodeId, offset: u64) {
        let Some(snapshot) = &self.snapshot else {
            return;
        };
        let state_size_bytes = snapshot.state.len() as u64;
        let offset = if offset < state_size_bytes { offset } else { 0 };
        let state_checksum = match self.snapshot_checksum {
            Some((end, checksum)) if end == snapshot.end => checksum,
            _ => {
                let checksum = crc32c::crc32c(&snapshot.state);
                self.snapshot_checksum = Some((snapshot.end, checksum));
                checksum
            }
        };
        let chunk_end = state_size_bytes.min(offset + self.config.snapshot_chunk_size_max_bytes);
        let data = snapshot.state.slice(offset as usize..chunk_end as usize);
        let chunk = SnapshotChunk {
            end: snapshot.end,
            state_size_bytes,
            state_checksum,
            membership: snapshot.membership.clone(),
            offset,
            data_checksum: crc32c::crc32c(&data),
            data,
        };
        let committed = self.committed;
        self.send_now(to, Message::SnapshotChunk { chunk, committed });
    }

    pub(super) fn handle_snapshot_chunk_request(&mut self, from: NodeId, end: Slot, offset: u64) {
        let holds = self
            .snapshot
            .as_ref()
            .is_some_and(|snapshot| snapshot.end == end);
        self.send_snapshot_chunk(from, if holds { offset } else { 0 });
    }

    /// Takes a chunk that continues the transfer in progress, or starts
    /// one. Exactly one request answers each chunk taken, so duplicated
    /// chunks and several senders do not multiply the streams of chunks;
    /// a chunk not taken is dropped, and the catch-up retry timer asks
    /// again if the transfer stalls.
    pub(super) fn handle_snapshot_chunk(
        &mut self,
        from: NodeId,
        chunk: SnapshotChunk,
        committed: Slot,
    ) {
        self.note_committed(from, committed);
        if chunk.end <= self.committed {
            self.drop_unneeded_snapshot_transfer();
            return;
        }
        let continues = self.incoming_snapshot.as_ref().is_some_and(|incoming| {
            incoming.end == chunk.end
                && incoming.state_size_bytes == chunk.state_size_bytes
                && incoming.state_checksum == chunk.state_checksum
        });
        if !continues && !self.switches_to(&chunk) {
            return;
        }
        if !self.chunk_is_sound(&chunk) {
            // Damaged or impossible: ask again for what we lack of it.
            let offset = if continues {
                self.incoming_received_bytes()
            } else {
                0
            };
            self.request_snapshot_chunk(from, chunk.end, offset);
            return;
        }
        if !continues {
            if chunk.offset != 0 {
                self.request_snapshot_chunk(from, chunk.end, 0);
                return;
            }
            self.incoming_snapshot = Some(IncomingSnapshot {
                end: chunk.end,
                state_size_bytes: chunk.state_size_bytes,
                state_checksum: chunk.state_checksum,
                state: BytesMut::with_capacity(chunk.state_size_bytes as usize),
                source: from,
                progress_tick: self.now_tick,
            });
        }
        let now_tick = self.now_tick;
        let incoming = self
            .incoming_snapshot
            .as_mut()
            .expect("a transfer is in progress");
        if chunk.offset != incoming.state.len() as u64 {
            // A duplicate, or a late answer to an earlier request.
            return;
        }
        incoming.state.extend_from_slice(&chunk.data);
        incoming.source = from;
        incoming.progress_tick = now_tick;
        // Progress: the retry timer counts from the last chunk.
        self.catch_up_requested_tick = Some(now_tick);
        if (incoming.state.len() as u64) < incoming.state_size_bytes {
            let (end, offset) = (incoming.end, incoming.state.len() as u64);
            self.request_snapshot_chunk(from, end, offset);
            return;
        }
        let incoming = self
            .incoming_snapshot
            .take()
            .expect("a transfer is in progress");
        let state = incoming.state.freeze();
        if crc32c::crc32c(&state) != incoming.state_checksum {
            self.request_snapshot_chunk(from, incoming.end, 0);
            return;
        }
        let snapshot = Snapshot {
            end: incoming.end,
            state,
            membership: chunk.membership,
        };
        self.install_received_snapshot(from, snapshot, committed);
    }

    /// Whether a chunk of another snapshot than the one in transfer
    /// replaces it: always without a transfer; when it is newer (its sender
    /// compacted again, or is further along); and when the transfer has
    /// stalled for a retry period (its source crashed, and the others only
    /// hold an older snapshot). Otherwise two senders of different
    /// snapshots would restart each other's transfer forever (regression:
    /// five-node seed 876, with 16-byte chunks).
    fn switches_to(&self, chunk: &SnapshotChunk) -> bool {
        match &self.incoming_snapshot {
            None => true,
            Some(incoming) => {
                chunk.end > incoming.end
                    || self.now_tick >= incoming.progress_tick + self.config.catch_up_retry_ticks
            }
        }
    }

    fn incoming_received_bytes(&self) -> u64 {
        self.incoming_snapshot
            .as_ref()
            .map_or(0, |incoming| incoming.state.len() as u64)
    }

    /// A chunk that is what it says: its data matches its checksum and lies
    /// within a state no larger than we accept.
    fn chunk_is_sound(&self, chunk: &SnapshotChunk) -> bool {
        let data_size_bytes = chunk.data.len() as u64;
        chunk.state_size_bytes <= self.config.snapshot_size_max_bytes
            && (data_size_bytes > 0 || chunk.state_size_bytes == 0)
            && chunk
                .offset
                .checked_add(data_size_bytes)
                .is_some_and(|chunk_end| chunk_end <= chunk.state_size_bytes)
            && crc32c::crc32c(&chunk.data) == chunk.data_checksum
    }

    fn request_snapshot_chunk(&mut self, to: NodeId, end: Slot, offset: u64) {
        self.send_now(to, Message::SnapshotChunkRequest { end, offset });
    }

    /// For the catch-up retry timer: the transfer in progress continues
    /// from `source` where it stopped. Returns false without one.
    pub(super) fn resume_snapshot_transfer(&mut self, source: NodeId) -> bool {
        let Some(incoming) = &self.incoming_snapshot else {
            return false;
        };
        let (end, offset) = (incoming.end, incoming.state.len() as u64);
        self.request_snapshot_chunk(source, end, offset);
        true
    }

    /// Forgets a transfer the log made unnecessary.
    pub(super) fn drop_unneeded_snapshot_transfer(&mut self) {
        if self
            .incoming_snapshot
            .as_ref()
            .is_some_and(|incoming| incoming.end <= self.committed)
        {
            self.incoming_snapshot = None;
        }
    }
}
