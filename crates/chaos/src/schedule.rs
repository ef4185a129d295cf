//! The fault schedule: quiet, a fault, its heal, again, until the time is
//! up. Fault number `n` draws everything it decides (the quiet before it,
//! the nemesis, its victims and shape, how long it is held) from a
//! generator seeded with the run's seed and `n` alone, so what one fault
//! draws (which depends on who leads, or on a log's contents) never shifts
//! the faults after it: a rerun with the same seed makes the same choices.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::clients::Shared;
use crate::cluster::Cluster;
use crate::nemesis::{self, Nemesis};
use crate::timeline::FaultWindow;

/// Quiet time before each fault, in milliseconds.
const QUIET_MILLISECONDS: std::ops::RangeInclusive<u64> = 1_000..=3_000;
/// How long a fault is held, in milliseconds.
const FAULT_MILLISECONDS: std::ops::RangeInclusive<u64> = 2_000..=6_000;
/// Progress lines are this far apart.
const PROGRESS_INTERVAL_MILLISECONDS: u64 = 5_000;
/// Spreads fault numbers over the seed space (the golden ratio in 64 bits).
const FAULT_SEED_STRIDE: u64 = 0x9E37_79B9_7F4A_7C15;

/// The generator of fault number `fault` of the run seeded `seed`.
pub fn fault_random(seed: u64, fault: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ (fault + 1).wrapping_mul(FAULT_SEED_STRIDE))
}

/// What the schedule did, and what went wrong while doing it.
pub struct Injections {
    /// Every fault, in order.
    pub faults: Vec<FaultWindow>,
    /// Things that must fail the run (a damaged log not refused, a node
    /// that would not come back).
    pub findings: Vec<String>,
}

/// Injects faults from `nemeses` into `cluster` until `duration` has
/// passed since `started`, printing progress with `progress`.
pub fn inject_until(
    cluster: &mut Cluster,
    nemeses: &[Nemesis],
    seed: u64,
    started: Instant,
    duration: Duration,
    shared: &Shared,
    progress: &dyn Fn(&str),
) -> Injections {
    assert!(!nemeses.is_empty(), "a schedule needs a nemesis");
    let end = started + duration;
    let mut progress_line = ProgressLine {
        started,
        duration,
        next: started + Duration::from_millis(PROGRESS_INTERVAL_MILLISECONDS),
    };
    let mut injections = Injections {
        faults: Vec::new(),
        findings: Vec::new(),
    };
    for number in 0.. {
        let mut random = fault_random(seed, number);
        let quiet = Duration::from_millis(random.random_range(QUIET_MILLISECONDS));
        let nemesis = nemeses[random.random_range(0..nemeses.len())];
        let hold = Duration::from_millis(random.random_range(FAULT_MILLISECONDS));
        progress_line.sleep_until((Instant::now() + quiet).min(end), shared, "none", progress);
        if Instant::now() >= end {
            break;
        }
        let start_nanoseconds = shared.nanoseconds(Instant::now());
        let injected = match nemesis::inject(nemesis, cluster, &mut random) {
            Ok(injected) => injected,
            Err(problem) => {
                injections.findings.push(format!("{nemesis}: {problem}"));
                break;
            }
        };
        progress(&format!("fault: {nemesis}: {}", injected.description));
        injections.findings.extend(injected.finding.clone());
        progress_line.sleep_until(
            (Instant::now() + hold).min(end),
            shared,
            &injected.description,
            progress,
        );
        // The window ends when the heal begins: a restarted node's start
        // belongs to its recovery, not to the fault.
        let end_nanoseconds = shared.nanoseconds(Instant::now());
        let healed = nemesis::heal(cluster);
        injections.faults.push(FaultWindow {
            nemesis: nemesis.name().into(),
            description: injected.description,
            nodes: injected.nodes,
            start_nanoseconds,
            end_nanoseconds,
            recovery_nanoseconds: None,
        });
        progress(&format!("healed: {nemesis}"));
        if let Err(problem) = healed {
            injections
                .findings
                .push(format!("after {nemesis}: {problem}"));
            break;
        }
    }
    injections
}

/// The line printed every few seconds while faults run.
struct ProgressLine {
    started: Instant,
    duration: Duration,
    next: Instant,
}

impl ProgressLine {
    /// Sleeps until `until`, printing the progress line when it is due.
    fn sleep_until(
        &mut self,
        until: Instant,
        shared: &Shared,
        fault: &str,
        progress: &dyn Fn(&str),
    ) {
        loop {
            let now = Instant::now();
            if now >= until {
                return;
            }
            if now >= self.next {
                progress(&format!(
                    "[{:>4.0}s/{}s] ok {} fail {} info {} | leader {} | fault: {fault}",
                    now.duration_since(self.started).as_secs_f64(),
                    self.duration.as_secs(),
                    shared.ok.load(std::sync::atomic::Ordering::Relaxed),
                    shared.fail.load(std::sync::atomic::Ordering::Relaxed),
                    shared.info.load(std::sync::atomic::Ordering::Relaxed),
                    shared
                        .leader()
                        .map_or("none".into(), |leader| leader.to_string()),
                ));
                self.next = now + Duration::from_millis(PROGRESS_INTERVAL_MILLISECONDS);
            }
            std::thread::sleep(
                until
                    .saturating_duration_since(now)
                    .min(Duration::from_millis(100)),
            );
        }
    }
}
