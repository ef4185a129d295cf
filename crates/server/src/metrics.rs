//! Counters and histograms of one node, rendered as Prometheus text.
//!
//! Counters are atomics bumped wherever the event happens (drive loop,
//! connection tasks, peer tasks); histograms sit behind a mutex that is held
//! only to record one value or to render.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Upper bounds of the request latency histogram buckets, in microseconds.
const LATENCY_BUCKETS_MICROSECONDS: [u64; 14] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 5_000_000,
];
/// Upper bounds of the batch size histogram buckets, in commands per slot.
const BATCH_BUCKETS_COMMANDS: [u64; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024];
/// Largest latency a histogram records; larger values are clamped.
const LATENCY_MAX_MICROSECONDS: u64 = 3_600_000_000;

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn increment(&self) {
        self.add(1);
    }

    /// Adds `count`.
    pub fn add(&self, count: u64) {
        self.0.fetch_add(count, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Adds one.
    pub fn increment(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Subtracts one.
    pub fn decrement(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Everything a node counts.
#[derive(Debug)]
pub struct Metrics {
    /// Client writes handed to the core.
    pub proposals: Counter,
    /// Proposals the core handed back unproposed.
    pub proposals_rejected: Counter,
    /// Writes answered "outcome unknown".
    pub writes_outcome_unknown: Counter,
    /// Slots decided and applied here.
    pub decisions: Counter,
    /// Commands applied to the state machine.
    pub commands_applied: Counter,
    /// Reads served, and reads that failed.
    pub reads_served: Counter,
    /// Reads that failed.
    pub reads_failed: Counter,
    /// Group commits (one durable write and sync each).
    pub fsyncs: Counter,
    /// Snapshots of the state machine taken here (the log before each is
    /// compacted).
    pub snapshots_taken: Counter,
    /// Snapshots received from a peer and installed.
    pub snapshots_installed: Counter,
    /// Times this node saw a new leader.
    pub leader_changes: Counter,
    /// Peer messages handed to the transport.
    pub peer_messages_sent: Counter,
    /// Peer messages dropped because a peer's send queue was full.
    pub peer_messages_dropped: Counter,
    /// Peer messages received and decoded.
    pub peer_messages_received: Counter,
    /// Handshakes refused (either direction).
    pub peer_handshakes_refused: Counter,
    /// Open client connections.
    pub client_connections: Gauge,
    /// Client connections refused at the connection limit.
    pub client_connections_refused: Counter,
    /// Client connections closed because replies they did not read passed
    /// the output limit.
    pub client_output_buffer_closes: Counter,
    /// Client connections whose TLS handshake failed or timed out.
    pub client_tls_handshakes_failed: Counter,
    /// `AUTH` and `HELLO … AUTH` refused: unknown user, wrong password or
    /// user off.
    pub client_authentication_failures: Counter,
    /// Client connections closed for not authenticating in time.
    pub client_authentication_timeouts: Counter,
    /// Client connections refused at the limit of unauthenticated ones.
    pub client_unauthenticated_refused: Counter,
    /// Commands per decided slot.
    batch_size: Mutex<Histogram<u64>>,
    /// Request latency by command name, in microseconds.
    request_latency: Mutex<BTreeMap<&'static str, Histogram<u64>>>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            proposals: Counter::default(),
            proposals_rejected: Counter::default(),
            writes_outcome_unknown: Counter::default(),
            decisions: Counter::default(),
            commands_applied: Counter::default(),
            reads_served: Counter::default(),
            reads_failed: Counter::default(),
            fsyncs: Counter::default(),
            snapshots_taken: Counter::default(),
            snapshots_installed: Counter::default(),
            leader_changes: Counter::default(),
            peer_messages_sent: Counter::default(),
            peer_messages_dropped: Counter::default(),
            peer_messages_received: Counter::default(),
            peer_handshakes_refused: Counter::default(),
            client_connections: Gauge::default(),
            client_connections_refused: Counter::default(),
            client_output_buffer_closes: Counter::default(),
            client_tls_handshakes_failed: Counter::default(),
            client_authentication_failures: Counter::default(),
            client_authentication_timeouts: Counter::default(),
            client_unauthenticated_refused: Counter::default(),
            batch_size: Mutex::new(new_histogram(1 << 20)),
            request_latency: Mutex::new(BTreeMap::new()),
        }
    }
}

fn new_histogram(highest: u64) -> Histogram<u64> {
    Histogram::new_with_bounds(1, highest, 2).expect("constant histogram bounds are valid")
}

impl Metrics {
    /// Records the number of commands in one decided slot.
    pub fn record_batch_size(&self, commands: usize) {
        let mut histogram = self.batch_size.lock().expect("metrics lock");
        histogram.saturating_record(commands as u64);
    }

    /// Records how long a client request of `command` took to answer.
    pub fn record_request_latency(&self, command: &'static str, latency: Duration) {
        let microseconds = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let mut histograms = self.request_latency.lock().expect("metrics lock");
        histograms
            .entry(command)
            .or_insert_with(|| new_histogram(LATENCY_MAX_MICROSECONDS))
            .saturating_record(microseconds.max(1));
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let counters: [(&str, &str, &Counter); 21] = [
            (
                "synod_proposals_total",
                "Client writes handed to the core.",
                &self.proposals,
            ),
            (
                "synod_proposals_rejected_total",
                "Proposals handed back unproposed.",
                &self.proposals_rejected,
            ),
            (
                "synod_writes_outcome_unknown_total",
                "Writes answered with an unknown outcome.",
                &self.writes_outcome_unknown,
            ),
            (
                "synod_decisions_total",
                "Slots decided and applied.",
                &self.decisions,
            ),
            (
                "synod_commands_applied_total",
                "Commands applied to the state machine.",
                &self.commands_applied,
            ),
            (
                "synod_reads_served_total",
                "Linearizable reads served.",
                &self.reads_served,
            ),
            (
                "synod_reads_failed_total",
                "Reads that failed.",
                &self.reads_failed,
            ),
            (
                "synod_fsyncs_total",
                "Group commits of the acceptor state.",
                &self.fsyncs,
            ),
            (
                "synod_snapshots_taken_total",
                "Snapshots of the state machine taken.",
                &self.snapshots_taken,
            ),
            (
                "synod_snapshots_installed_total",
                "Snapshots received from a peer and installed.",
                &self.snapshots_installed,
            ),
            (
                "synod_leader_changes_total",
                "Times this node saw a new leader.",
                &self.leader_changes,
            ),
            (
                "synod_peer_messages_sent_total",
                "Peer messages queued for sending.",
                &self.peer_messages_sent,
            ),
            (
                "synod_peer_messages_dropped_total",
                "Peer messages dropped at a full send queue.",
                &self.peer_messages_dropped,
            ),
            (
                "synod_peer_messages_received_total",
                "Peer messages received.",
                &self.peer_messages_received,
            ),
            (
                "synod_peer_handshakes_refused_total",
                "Peer handshakes refused.",
                &self.peer_handshakes_refused,
            ),
            (
                "synod_client_connections_refused_total",
                "Client connections refused at the limit.",
                &self.client_connections_refused,
            ),
            (
                "synod_client_output_buffer_closes_total",
                "Client connections closed for not reading their replies.",
                &self.client_output_buffer_closes,
            ),
            (
                "synod_client_tls_handshakes_failed_total",
                "Client TLS handshakes that failed or timed out.",
                &self.client_tls_handshakes_failed,
            ),
            (
                "synod_client_authentication_failures_total",
                "AUTH refused: unknown user, wrong password or user off.",
                &self.client_authentication_failures,
            ),
            (
                "synod_client_authentication_timeouts_total",
                "Client connections closed for not authenticating in time.",
                &self.client_authentication_timeouts,
            ),
            (
                "synod_client_unauthenticated_refused_total",
                "Client connections refused at the limit of unauthenticated ones.",
                &self.client_unauthenticated_refused,
            ),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.get()
            );
        }
        let _ = writeln!(
            out,
            "# HELP synod_client_connections Open client connections.\n# TYPE synod_client_connections gauge\nsynod_client_connections {}",
            self.client_connections.get()
        );
        {
            let histogram = self.batch_size.lock().expect("metrics lock");
            out.push_str("# HELP synod_batch_size_commands Commands per decided slot.\n");
            out.push_str("# TYPE synod_batch_size_commands histogram\n");
            render_histogram(
                &mut out,
                "synod_batch_size_commands",
                "",
                &histogram,
                &BATCH_BUCKETS_COMMANDS,
                1.0,
            );
        }
        let histograms = self.request_latency.lock().expect("metrics lock");
        out.push_str("# HELP synod_request_latency_seconds Client request latency by command.\n");
        out.push_str("# TYPE synod_request_latency_seconds histogram\n");
        for (command, histogram) in histograms.iter() {
            let labels = format!("command=\"{command}\"");
            render_histogram(
                &mut out,
                "synod_request_latency_seconds",
                &labels,
                histogram,
                &LATENCY_BUCKETS_MICROSECONDS,
                1e-6,
            );
        }
        out
    }
}

/// Writes one Prometheus histogram (cumulative buckets, sum, count); values
/// and bucket bounds are multiplied by `scale` for the exposition's unit.
fn render_histogram(
    out: &mut String,
    name: &str,
    labels: &str,
    histogram: &Histogram<u64>,
    bounds: &[u64],
    scale: f64,
) {
    let separator = if labels.is_empty() { "" } else { "," };
    for bound in bounds {
        let count = histogram.count_between(0, *bound);
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{separator}le=\"{}\"}} {count}",
            *bound as f64 * scale
        );
    }
    let total = histogram.len();
    let _ = writeln!(
        out,
        "{name}_bucket{{{labels}{separator}le=\"+Inf\"}} {total}"
    );
    let sum = histogram.mean() * total as f64 * scale;
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "{name}_sum{braces} {sum}");
    let _ = writeln!(out, "{name}_count{braces} {total}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_required_metric() {
        let metrics = Metrics::default();
        metrics.proposals.add(3);
        metrics.record_batch_size(2);
        metrics.record_request_latency("set", Duration::from_millis(3));
        metrics.record_request_latency("get", Duration::from_micros(80));
        let text = metrics.render();
        for name in [
            "synod_proposals_total 3",
            "synod_decisions_total",
            "synod_fsyncs_total",
            "synod_leader_changes_total",
            "synod_batch_size_commands_bucket{le=\"2\"} 1",
            "synod_request_latency_seconds_bucket{command=\"set\",le=\"0.005\"} 1",
            "synod_request_latency_seconds_count{command=\"get\"} 1",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
