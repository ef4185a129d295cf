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
//! order.

use std::sync::Arc;
use std::thread::JoinHandle;

use synod_node::{PersistBatch, PersistSequence};
use synod_storage::StorageError;
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

fn write_until_closed(
    mut persistence: Box<dyn Persistence>,
    batches: &std::sync::mpsc::Receiver<PersistBatch>,
    completions: &mpsc::UnboundedSender<Completion>,
    metrics: &Metrics,
) {
    while let Ok(first) = batches.recv() {
        let mut group = vec![first];
        group.extend(batches.try_iter());
        match write_group(persistence.as_mut(), &group, metrics) {
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
}

/// Group commit: every batch written, then one sync for all of them.
fn write_group(
    persistence: &mut dyn Persistence,
    group: &[PersistBatch],
    metrics: &Metrics,
) -> Result<(), StorageError> {
    let mut sync = false;
    for batch in group {
        persistence.write(&batch.changes)?;
        sync |= batch.needs_sync;
    }
    if sync {
        persistence.sync()?;
        metrics.fsyncs.increment();
    }
    Ok(())
}
