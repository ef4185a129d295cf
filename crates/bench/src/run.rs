//! Running one cell of a benchmark: one target, one workload, one
//! concurrency, closed or open loop, for a fixed time after a warm-up.
//!
//! Closed loop: each of `concurrency` workers sends its next request as
//! soon as the last one is answered, which measures the best throughput at
//! that concurrency. Open loop: requests are due at a fixed total rate,
//! worker `w` taking due times `w, w + n, w + 2n, …`, and latency is
//! measured from the time a request was due, not from when it was sent, so
//! a slow answer that delays the next send is charged to the store (no
//! coordinated omission, as in wrk2).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use synod_history::Status;
use tokio::time::Instant;

use crate::record::Recorder;
use crate::scrape::{scrape, ServerActivity};
use crate::target::{Connection, Target, TargetError};
use crate::workload::{Chooser, Workload};

/// The largest latency recorded (anything slower is clamped to it).
pub const LATENCY_MAX_MICROSECONDS: u64 = 60_000_000;
/// Significant figures of the latency histograms.
pub const LATENCY_SIGNIFICANT_FIGURES: u8 = 3;
/// Requests in flight while preloading the keys.
pub const PRELOAD_IN_FLIGHT: usize = 256;
/// How often the progress bar is redrawn.
const PROGRESS_INTERVAL_MILLISECONDS: u64 = 200;

/// Closed or open loop.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Mode {
    /// Each worker sends as soon as its last request is answered.
    Closed,
    /// Requests are due at this many per second in total.
    Open {
        /// Requests per second, all workers together.
        rate: f64,
    },
}

/// Everything one cell needs.
#[derive(Clone, Debug)]
pub struct Cell {
    /// The name of the system in the results (`synod`, `etcd`, …).
    pub system: String,
    /// Where the requests go.
    pub target: Target,
    /// What they are.
    pub workload: Workload,
    /// Workers, each with one request in flight at most.
    pub concurrency: usize,
    /// Closed or open loop.
    pub mode: Mode,
    /// Unmeasured load first, so connections and caches are warm.
    pub warm_up: Duration,
    /// The measured time.
    pub duration: Duration,
    /// A request unanswered for this long is abandoned (an error, and
    /// `info` in the history).
    pub request_timeout: Duration,
    /// Seeds the key and mix draws.
    pub seed: u64,
    /// Admin addresses whose `/metrics` are read around the measurement.
    pub metrics: Vec<String>,
    /// The connections ask for possibly stale reads (see [`connect`]).
    pub stale_reads: bool,
}

/// Latency percentiles, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// The slowest.
    pub max: u64,
    /// The mean.
    pub mean: f64,
}

impl Latency {
    fn of(histogram: &Histogram<u64>) -> Latency {
        if histogram.is_empty() {
            return Latency::default();
        }
        Latency {
            p50: histogram.value_at_quantile(0.5),
            p90: histogram.value_at_quantile(0.9),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
            mean: histogram.mean(),
        }
    }
}

/// What one cell measured; one JSON object of the results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    /// The system's name.
    pub system: String,
    /// The target, as given.
    pub target: String,
    /// The workload.
    pub workload: Workload,
    /// Workers.
    pub concurrency: usize,
    /// Connections in all.
    pub connections: usize,
    /// Closed or open loop.
    pub mode: Mode,
    /// Reads were asked for as possibly stale, not linearizable.
    #[serde(default)]
    pub stale_reads: bool,
    /// Seconds measured.
    pub seconds: f64,
    /// Operations answered successfully in the measured time.
    pub operations: u64,
    /// Operations that failed or timed out in the measured time.
    pub errors: u64,
    /// Successful operations per second.
    pub throughput: f64,
    /// Latency of every successful operation.
    pub latency: Latency,
    /// Latency of reads only.
    pub read_latency: Latency,
    /// Latency of writes only.
    pub write_latency: Latency,
    /// What synod's nodes reported (with `--metrics`).
    pub server: Option<ServerActivity>,
    /// The first error seen, to say what went wrong.
    pub first_error: Option<String>,
}

/// One worker's tally.
struct Tally {
    reads: Histogram<u64>,
    writes: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        let histogram = || {
            Histogram::new_with_bounds(1, LATENCY_MAX_MICROSECONDS, LATENCY_SIGNIFICANT_FIGURES)
                .expect("valid histogram bounds")
        };
        Tally {
            reads: histogram(),
            writes: histogram(),
            errors: 0,
            first_error: None,
        }
    }

    fn error(&mut self, reason: String) {
        self.errors += 1;
        self.first_error.get_or_insert(reason);
    }
}

/// Opens `per_endpoint` connections to each endpoint of `target`, asking
/// for stale reads on them when `stale_reads`, verifying TLS against
/// `tls_ca` (see [`Connection::open`]).
///
/// # Errors
///
/// The first endpoint that cannot be reached.
pub async fn connect(
    target: &Target,
    per_endpoint: usize,
    stale_reads: bool,
    tls_ca: Option<&[u8]>,
) -> Result<Vec<Connection>, TargetError> {
    let mut connections = Vec::new();
    for _ in 0..per_endpoint.max(1) {
        for endpoint in &target.endpoints {
            connections.push(Connection::open(target, endpoint, stale_reads, tls_ca).await?);
        }
    }
    Ok(connections)
}

/// Writes every key of the workload once, so reads find values.
///
/// # Errors
///
/// A key that could not be written (the benchmark cannot start).
pub async fn preload(
    connections: &[Connection],
    workload: &Workload,
    recorder: &Recorder,
) -> Result<(), String> {
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for worker in 0..PRELOAD_IN_FLIGHT.min(workload.keys as usize) {
        let mut connection = connections[worker % connections.len()].clone();
        let (next, workload, recorder) = (next.clone(), workload.clone(), recorder.clone());
        workers.push(tokio::spawn(async move {
            let client = recorder.new_client();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= workload.keys {
                    return Ok(());
                }
                let (key, value) = (workload.key(index), workload.value(client, index));
                let call = std::time::Instant::now();
                let result = connection.set(&key, &value).await;
                let done = std::time::Instant::now();
                match result {
                    Ok(()) => recorder.set(client, &key, &value, Status::Ok, call, done),
                    Err(error) => {
                        recorder.set(client, &key, &value, Status::Info, call, done);
                        return Err(format!("preloading {key}: {}", error.reason));
                    }
                }
            }
        }));
    }
    for worker in workers {
        worker.await.map_err(|error| error.to_string())??;
    }
    Ok(())
}

/// Runs one cell on open connections and returns what it measured.
pub async fn run_cell(cell: &Cell, connections: &[Connection], recorder: &Recorder) -> CellResult {
    assert!(cell.concurrency > 0, "a cell needs at least one worker");
    assert!(!connections.is_empty(), "a cell needs a connection");
    let start = Instant::now();
    let measure_from = start + cell.warm_up;
    let measure_until = measure_from + cell.duration;
    let completed = Arc::new(AtomicU64::new(0));
    let progress = progress_bar(cell);
    let mut workers = Vec::with_capacity(cell.concurrency);
    for worker in 0..cell.concurrency {
        let connection = connections[worker % connections.len()].clone();
        let context = WorkerContext {
            cell: cell.clone(),
            worker,
            start,
            measure_from,
            measure_until,
            completed: completed.clone(),
            recorder: recorder.clone(),
        };
        workers.push(tokio::spawn(context.run(connection)));
    }
    let activity = tokio::spawn(server_activity(
        cell.metrics.clone(),
        measure_from,
        measure_until,
    ));
    let mut redraw = tokio::time::interval(Duration::from_millis(PROGRESS_INTERVAL_MILLISECONDS));
    while Instant::now() < measure_until {
        redraw.tick().await;
        let elapsed = start.elapsed().min(measure_until - start);
        progress.set_position(elapsed.as_millis() as u64);
        progress.set_message(format!("{} ops", completed.load(Ordering::Relaxed)));
    }
    let mut total = Tally::new();
    for worker in workers {
        let tally = worker.await.expect("a benchmark worker panicked");
        total
            .reads
            .add(&tally.reads)
            .expect("same histogram bounds");
        total
            .writes
            .add(&tally.writes)
            .expect("same histogram bounds");
        total.errors += tally.errors;
        if total.first_error.is_none() {
            total.first_error = tally.first_error;
        }
    }
    progress.finish_and_clear();
    let mut all = total.reads.clone();
    all.add(&total.writes).expect("same histogram bounds");
    let seconds = cell.duration.as_secs_f64();
    CellResult {
        system: cell.system.clone(),
        target: cell.target.to_string(),
        workload: cell.workload.clone(),
        concurrency: cell.concurrency,
        connections: connections.len(),
        mode: cell.mode,
        stale_reads: cell.stale_reads,
        seconds,
        operations: all.len(),
        errors: total.errors,
        throughput: all.len() as f64 / seconds,
        latency: Latency::of(&all),
        read_latency: Latency::of(&total.reads),
        write_latency: Latency::of(&total.writes),
        server: activity.await.ok().flatten(),
        first_error: total.first_error,
    }
}

fn progress_bar(cell: &Cell) -> ProgressBar {
    let total = (cell.warm_up + cell.duration).as_millis() as u64;
    let progress = ProgressBar::new(total);
    progress.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {elapsed}/{duration} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    progress.set_prefix(format!(
        "{} {} c={}",
        cell.system, cell.workload.mix, cell.concurrency
    ));
    progress
}

async fn server_activity(
    metrics: Vec<String>,
    from: Instant,
    until: Instant,
) -> Option<ServerActivity> {
    if metrics.is_empty() {
        return None;
    }
    tokio::time::sleep_until(from).await;
    let before = scrape(&metrics).await?;
    let measured_from = Instant::now();
    tokio::time::sleep_until(until).await;
    let after = scrape(&metrics).await?;
    Some(before.activity_until(&after, measured_from.elapsed().as_secs_f64()))
}

/// One worker's view of its cell.
struct WorkerContext {
    cell: Cell,
    worker: usize,
    start: Instant,
    measure_from: Instant,
    measure_until: Instant,
    completed: Arc<AtomicU64>,
    recorder: Recorder,
}

impl WorkerContext {
    async fn run(self, mut connection: Connection) -> Tally {
        let cell = &self.cell;
        let mut chooser = Chooser::new(&cell.workload, cell.seed ^ (self.worker as u64 + 1));
        let mut tally = Tally::new();
        let client = self.recorder.new_client();
        let unique_values = self.recorder.is_enabled();
        let fixed_value = cell.workload.value(client, 0);
        let interval = match cell.mode {
            Mode::Closed => None,
            Mode::Open { rate } => Some(Duration::from_secs_f64(cell.concurrency as f64 / rate)),
        };
        let first_due = match cell.mode {
            Mode::Closed => self.start,
            Mode::Open { rate } => self.start + Duration::from_secs_f64(self.worker as f64 / rate),
        };
        let mut due = first_due;
        for sequence in 1.. {
            // Latency counts from when the request was due (open loop) or
            // sent (closed loop).
            let begun = match interval {
                Some(interval) => {
                    if due >= self.measure_until {
                        break;
                    }
                    tokio::time::sleep_until(due).await;
                    let intended = due;
                    due += interval;
                    intended
                }
                None => {
                    let now = Instant::now();
                    if now >= self.measure_until {
                        break;
                    }
                    now
                }
            };
            let draw = chooser.next_draw();
            let key = cell.workload.key(draw.key);
            let call = std::time::Instant::now();
            let outcome = if draw.is_read {
                let read = tokio::time::timeout(cell.request_timeout, connection.get(&key)).await;
                let done = std::time::Instant::now();
                match read {
                    Ok(Ok(value)) => {
                        self.recorder
                            .get(client, &key, value.as_deref(), Status::Ok, call, done);
                        Ok(())
                    }
                    Ok(Err(error)) => {
                        self.recorder
                            .get(client, &key, None, Status::Fail, call, done);
                        Err(error.reason)
                    }
                    Err(_) => {
                        self.recorder
                            .get(client, &key, None, Status::Fail, call, done);
                        Err("read timed out".to_string())
                    }
                }
            } else {
                let value = if unique_values {
                    cell.workload.value(client, sequence)
                } else {
                    fixed_value.clone()
                };
                let write =
                    tokio::time::timeout(cell.request_timeout, connection.set(&key, &value)).await;
                let done = std::time::Instant::now();
                let (status, result) = match write {
                    Ok(Ok(())) => (Status::Ok, Ok(())),
                    Ok(Err(error)) if error.certainly_not_applied => {
                        (Status::Fail, Err(error.reason))
                    }
                    Ok(Err(error)) => (Status::Info, Err(error.reason)),
                    Err(_) => (Status::Info, Err("write timed out".to_string())),
                };
                self.recorder.set(client, &key, &value, status, call, done);
                result
            };
            let finished = Instant::now();
            self.completed.fetch_add(1, Ordering::Relaxed);
            if finished < self.measure_from || finished > self.measure_until {
                continue;
            }
            match outcome {
                Ok(()) => {
                    let microseconds = (finished - begun).as_micros() as u64;
                    let histogram = if draw.is_read {
                        &mut tally.reads
                    } else {
                        &mut tally.writes
                    };
                    histogram.saturating_record(microseconds.clamp(1, LATENCY_MAX_MICROSECONDS));
                }
                Err(reason) => tally.error(reason),
            }
        }
        tally
    }
}
