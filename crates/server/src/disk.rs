//! The disk thread: writes the node's persist batches and syncs them, off
//! the drive loop, so the loop keeps taking messages and requests while a
//! sync is in flight.
//!
//! With the sync inside the loop, a leader could not read the Accepted
//! answers that arrived during its own fsync, nor propose the requests that
//! arrived meanwhile, until the fsync ended: one batch in flight at a time.
//! Here the loop hands batches over a channel and goes on; the thread takes
//! every batch waiting, writes them all and syncs once (group commit), and
//! reports them done, in order. While it syncs, the next group gathers.
//! The node's persist queue already allows any number of batches in flight
//! and releases what each guards in order (`synod_node`'s persist rule); the
//! simulator drives it the same way, with writes completing late and in
//! order. Snapshot files are written by a thread of their own
//! ([`SnapshotWriting`]), so a large one does not hold up the log.

use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use synod_node::{PersistBatch, PersistSequence};
use synod_storage::{SnapshotJob, StorageError, WrittenSnapshot};
use tokio::sync::mpsc;

use crate::metrics::Metrics;
use crate::persistence::Persistence;

/// What the disk thread reports: the batches now durable (in the order
/// handed over), or the failure that stopped it.
pub type Completion = Result<Vec<PersistSequence>, StorageError>;

/// The drive loop's handle on the disk thread.
pub struct Disk {
    batches: Option<std::sync::mpsc::Sender<PersistBatch>>,
    thread: Option<JoinHandle<()>>,
}

impl Disk {
    /// Starts the thread that owns `persistence`; completions go to the
    /// returned receiver.
    ///
    /// # Errors
    ///
    /// The thread cannot be started.
    pub fn start(
        name: String,
        persistence: Box<dyn Persistence>,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<(Disk, mpsc::UnboundedReceiver<Completion>)> {
        let (batches, received) = std::sync::mpsc::channel::<PersistBatch>();
        // Unbounded: at most one completion per batch handed over, and the
        // loop hands over no more batches than its inputs produce.
        let (completions, receiver) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || write_until_closed(persistence, &received, &completions, &metrics))?;
        let disk = Disk {
            batches: Some(batches),
            thread: Some(thread),
        };
        Ok((disk, receiver))
    }

    /// Hands a batch to the thread. A stopped thread has reported why.
    pub fn write(&self, batch: PersistBatch) {
        if let Some(batches) = &self.batches {
            let _ = batches.send(batch);
        }
    }

    /// Lets the thread finish what it was handed and waits for it, so the
    /// data directory is released when this returns.
    pub fn stop(&mut self) {
        self.batches = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How often the disk thread, idle while a snapshot file is being written,
/// looks whether it is done.
const SNAPSHOT_POLL_INTERVAL_MILLISECONDS: u64 = 10;

fn write_until_closed(
    mut persistence: Box<dyn Persistence>,
    batches: &std::sync::mpsc::Receiver<PersistBatch>,
    completions: &mpsc::UnboundedSender<Completion>,
    metrics: &Metrics,
) {
    let mut snapshots = SnapshotWriting::default();
    loop {
        let first = if snapshots.is_writing() {
            match batches.recv_timeout(Duration::from_millis(SNAPSHOT_POLL_INTERVAL_MILLISECONDS)) {
                Ok(batch) => Some(batch),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match batches.recv() {
                Ok(batch) => Some(batch),
                Err(_) => break,
            }
        };
        if let Some(first) = first {
            let mut group = vec![first];
            group.extend(batches.try_iter());
            match write_group(persistence.as_mut(), &group, &mut snapshots, metrics) {
                Ok(()) => {
                    let done = group.iter().map(|batch| batch.sequence).collect();
                    if completions.send(Ok(done)).is_err() {
                        return;
                    }
                }
                Err(failure) => {
                    let _ = completions.send(Err(failure));
                    return;
                }
            }
        }
        if let Err(failure) = snapshots.install_finished(persistence.as_mut(), false) {
            let _ = completions.send(Err(failure));
            return;
        }
    }
    // Closed: the node is stopping. Finish the snapshot being written, so
    // the next start replays less of the log.
    if let Err(failure) = snapshots.install_finished(persistence.as_mut(), true) {
        let _ = completions.send(Err(failure));
    }
}

/// Group commit: every batch written, then one sync for all of them.
/// Snapshots among the batches are handed to [`SnapshotWriting`].
fn write_group(
    persistence: &mut dyn Persistence,
    group: &[PersistBatch],
    snapshots: &mut SnapshotWriting,
    metrics: &Metrics,
) -> Result<(), StorageError> {
    let mut sync = false;
    for batch in group {
        if let Some(job) = persistence.write_deferring_snapshot(&batch.changes)? {
            snapshots.offer(job);
        }
        sync |= batch.needs_sync;
    }
    if sync {
        persistence.sync()?;
        metrics.fsyncs.increment();
    }
    Ok(())
}

/// Snapshot files written on a thread of their own, one at a time.
///
/// Writing a snapshot of a large state machine (118 MB for a million keys
/// of 100 bytes) and syncing it takes far longer than an election timeout.
/// Written in line, it held up every persist batch behind it, and with them
/// the messages they guard (heartbeats among them): a leader under load was
/// deposed at each snapshot. The storage keeps the log the snapshot covers
/// until it is installed, so it may lag; a snapshot taken while another is
/// being written waits, and a newer one replaces it.
#[derive(Default)]
struct SnapshotWriting {
    writing: Option<JoinHandle<std::io::Result<WrittenSnapshot>>>,
    waiting: Option<SnapshotJob>,
}

impl SnapshotWriting {
    fn is_writing(&self) -> bool {
        self.writing.is_some()
    }

    fn offer(&mut self, job: SnapshotJob) {
        if self.writing.is_some() {
            self.waiting = Some(job);
        } else {
            self.start(job);
        }
    }

    fn start(&mut self, job: SnapshotJob) {
        let size_bytes = job.size_bytes();
        let spawned = std::thread::Builder::new()
            .name("synod-snapshot".to_string())
            .spawn(move || {
                let started = Instant::now();
                let written = job.write();
                if written.is_ok() {
                    tracing::info!(
                        size_bytes,
                        milliseconds = started.elapsed().as_millis() as u64,
                        "wrote a snapshot file"
                    );
                }
                written
            });
        match spawned {
            Ok(handle) => self.writing = Some(handle),
            // The log still holds everything: the next snapshot tries again.
            Err(error) => tracing::warn!(%error, "cannot start a thread to write a snapshot"),
        }
    }

    /// Installs the snapshot being written if it is done (or, with `wait`,
    /// once it is), then starts the one waiting.
    fn install_finished(
        &mut self,
        persistence: &mut dyn Persistence,
        wait: bool,
    ) -> Result<(), StorageError> {
        loop {
            let Some(handle) = self.writing.take_if(|handle| wait || handle.is_finished()) else {
                return Ok(());
            };
            match handle.join() {
                Ok(Ok(written)) => {
                    persistence.install_written_snapshot(written)?;
                }
                // A snapshot that could not be written leaves the log as it
                // was, longer: nothing is lost, and the next one may succeed.
                Ok(Err(error)) => tracing::warn!(%error, "cannot write a snapshot file"),
                Err(_) => tracing::warn!("the thread writing a snapshot file panicked"),
            }
            match self.waiting.take() {
                Some(job) => self.start(job),
                None => return Ok(()),
            }
            if !wait {
                return Ok(());
            }
        }
    }
}
