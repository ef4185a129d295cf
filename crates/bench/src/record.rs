//! Optional history recording: every operation of a run, in the shared
//! history format, so `synod check-history` can tell whether the store
//! stayed linearizable under the benchmark's load.
//!
//! Workers hand operations to one writer thread through a channel, so a
//! worker never waits for the disk.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Instant;

use synod_history::{HistoryWriter, Operation, OperationKind, Status};

/// Where a run's operations go, if anywhere. Clones share the file, the
/// clock and the client numbering.
#[derive(Clone)]
pub struct Recorder {
    inner: Option<Arc<Inner>>,
    epoch: Instant,
    next_client: Arc<AtomicU64>,
}

struct Inner {
    sender: mpsc::Sender<Operation>,
}

/// The writer thread of a recorder; [`HistoryFile::finish`] flushes it.
pub struct HistoryFile {
    thread: JoinHandle<std::io::Result<u64>>,
}

impl HistoryFile {
    /// Waits until every recorded operation is on disk; the number written.
    ///
    /// Every [`Recorder`] clone must be dropped first.
    ///
    /// # Errors
    ///
    /// The first write error.
    pub fn finish(self) -> std::io::Result<u64> {
        self.thread
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("history writer panicked")))
    }
}

impl Recorder {
    /// A recorder that keeps nothing (no `--history`).
    pub fn disabled() -> Recorder {
        Recorder {
            inner: None,
            epoch: Instant::now(),
            next_client: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A recorder writing to `path` (created or truncated).
    ///
    /// # Errors
    ///
    /// The file cannot be created.
    pub fn to_file(path: &Path) -> std::io::Result<(Recorder, HistoryFile)> {
        let file = File::create(path)?;
        let (sender, receiver) = mpsc::channel::<Operation>();
        let thread = std::thread::spawn(move || {
            let mut writer = HistoryWriter::new(BufWriter::new(file));
            for operation in receiver {
                writer.record(&operation)?;
            }
            writer.flush()?;
            Ok(writer.operations_written())
        });
        let recorder = Recorder {
            inner: Some(Arc::new(Inner { sender })),
            epoch: Instant::now(),
            next_client: Arc::new(AtomicU64::new(0)),
        };
        Ok((recorder, HistoryFile { thread }))
    }

    /// Whether operations are kept (values are then worth making unique).
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// A new client id, unique in the run.
    pub fn new_client(&self) -> u64 {
        self.next_client.fetch_add(1, Ordering::Relaxed)
    }

    /// Nanoseconds since the run began, on the clock every client shares.
    pub fn nanoseconds(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Records a write of `value` to `key`.
    pub fn set(
        &self,
        client: u64,
        key: &str,
        value: &str,
        status: Status,
        call: Instant,
        done: Instant,
    ) {
        self.record(Operation {
            client,
            op: OperationKind::Set,
            key: key.to_string(),
            value: value.to_string(),
            found: false,
            status,
            call: self.nanoseconds(call),
            return_time: self.nanoseconds(done),
            node: None,
        });
    }

    /// Records a read of `key` that saw `value` (`None`: absent), or failed
    /// (`status` not ok; a failed read changed nothing).
    pub fn get(
        &self,
        client: u64,
        key: &str,
        value: Option<&[u8]>,
        status: Status,
        call: Instant,
        done: Instant,
    ) {
        self.record(Operation {
            client,
            op: OperationKind::Get,
            key: key.to_string(),
            value: value
                .map(|value| String::from_utf8_lossy(value).into_owned())
                .unwrap_or_default(),
            found: value.is_some(),
            status,
            call: self.nanoseconds(call),
            return_time: self.nanoseconds(done),
            node: None,
        });
    }

    fn record(&self, operation: Operation) {
        if let Some(inner) = &self.inner {
            // The writer thread only stops after every sender is gone.
            let _ = inner.sender.send(operation);
        }
    }
}
