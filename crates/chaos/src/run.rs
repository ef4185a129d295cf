//! One chaos run: start the cluster, let the clients loose, inject faults on
//! the seeded schedule, heal, read every key from every node, and judge.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use synod_history::{check_history, Operation, OperationKind, Status};

use crate::clients::{self, key_name, ClientPlan, Shared};
use crate::cluster::{leader_of, Cluster};
use crate::nemesis::{self, Nemesis};
use crate::observer::Observer;
use crate::timeline::{FaultWindow, Timeline};
use crate::verdict::{self, Availability};

/// Quiet time between two faults, in milliseconds.
const QUIET_MILLISECONDS: std::ops::RangeInclusive<u64> = 1_000..=3_000;
/// How long a fault is held, in milliseconds.
const FAULT_MILLISECONDS: std::ops::RangeInclusive<u64> = 2_000..=6_000;
/// How long the healed cluster has to elect a leader and answer the final
/// reads.
pub const RECOVERY_WAIT_MILLISECONDS: u64 = 30_000;
/// Progress lines are this far apart.
const PROGRESS_INTERVAL_MILLISECONDS: u64 = 5_000;
/// Client ids of the final readers start here, apart from the clients'.
const FINAL_READER_CLIENT_BASE: u64 = 1_000_000;

/// What to run.
#[derive(Clone, Debug)]
pub struct ChaosOptions {
    /// The `synod` executable to start servers from.
    pub executable: PathBuf,
    /// Cluster size.
    pub nodes: u64,
    /// How long faults are injected.
    pub duration: Duration,
    /// The nemeses to pick from.
    pub nemeses: Vec<Nemesis>,
    /// Concurrent clients.
    pub clients: u64,
    /// Keys the clients use.
    pub keys: u64,
    /// Operations per second of all clients together (0: as fast as they
    /// can).
    pub rate: u64,
    /// Seed of the fault schedule and the clients' choices.
    pub seed: u64,
    /// Where the nodes' data and logs go.
    pub work: PathBuf,
    /// The command line that reruns this run (printed at the end).
    pub rerun: String,
}

/// What came of a run.
pub struct ChaosOutcome {
    /// Faults, leader changes, the verdict.
    pub timeline: Timeline,
    /// Every operation, the final reads included.
    pub operations: Vec<Operation>,
    /// Availability of the clients' operations during the faulty part.
    pub availability: Availability,
    /// Whether the history is linearizable.
    pub linearizable: bool,
    /// The checker's explanation when it is not.
    pub violations: Vec<String>,
    /// Acknowledged writes missing at the end.
    pub lost: Vec<String>,
    /// Other things that went wrong (a damaged log not refused, a node that
    /// would not restart, keys no node would read).
    pub findings: Vec<String>,
}

impl ChaosOutcome {
    /// True when the run found nothing wrong.
    pub fn passed(&self) -> bool {
        self.linearizable && self.lost.is_empty() && self.findings.is_empty()
    }
}

/// Runs the chaos described by `options`. Progress goes to `progress`.
///
/// # Errors
///
/// The cluster could not be set up at all.
pub fn run(options: &ChaosOptions, progress: &dyn Fn(&str)) -> Result<ChaosOutcome, String> {
    let mut random = StdRng::seed_from_u64(options.seed);
    let mut cluster = Cluster::start(
        &options.executable,
        &options.work,
        options.nodes,
        options.seed,
    )?;
    wait_for_leader(&cluster)?;
    let shared = Arc::new(Shared::new());
    let observer = Observer::start(&cluster, Arc::clone(&shared));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("synod-chaos-client")
        .enable_all()
        .build()
        .map_err(|failure| format!("cannot start the clients' runtime: {failure}"))?;
    let think = if options.rate == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(options.clients as f64 / options.rate as f64)
    };
    let mut handles = Vec::new();
    for lane in 0..options.clients {
        let plan = ClientPlan {
            addresses: cluster.client_addresses(),
            keys: options.keys,
            think,
            seed: options.seed ^ (lane + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        };
        handles.push(runtime.spawn(clients::run_client(plan, Arc::clone(&shared))));
    }

    let current: Arc<Mutex<String>> = Arc::new(Mutex::new("none".into()));
    let mut faults: Vec<FaultWindow> = Vec::new();
    let mut findings = Vec::new();
    let started = Instant::now();
    let mut next_progress = started + Duration::from_millis(PROGRESS_INTERVAL_MILLISECONDS);
    let report = |shared: &Shared, now: Instant, fault: &str| {
        progress(&format!(
            "[{:>4.0}s/{}s] ok {} fail {} info {} | leader {} | fault: {fault}",
            now.duration_since(started).as_secs_f64(),
            options.duration.as_secs(),
            shared.ok.load(Ordering::Relaxed),
            shared.fail.load(Ordering::Relaxed),
            shared.info.load(Ordering::Relaxed),
            observer
                .leader()
                .map_or("none".into(), |leader| leader.to_string()),
        ));
    };
    let sleep_until =
        |until: Instant, next_progress: &mut Instant, report: &mut dyn FnMut(Instant)| {
            while Instant::now() < until {
                let now = Instant::now();
                if now >= *next_progress {
                    report(now);
                    *next_progress = now + Duration::from_millis(PROGRESS_INTERVAL_MILLISECONDS);
                }
                std::thread::sleep(
                    until
                        .saturating_duration_since(now)
                        .min(Duration::from_millis(100)),
                );
            }
        };
    let end = started + options.duration;
    while Instant::now() < end {
        let quiet = Duration::from_millis(random.random_range(QUIET_MILLISECONDS));
        let quiet_end = (Instant::now() + quiet).min(end);
        sleep_until(quiet_end, &mut next_progress, &mut |now| {
            report(&shared, now, "none")
        });
        if Instant::now() >= end {
            break;
        }
        let nemesis = options.nemeses[random.random_range(0..options.nemeses.len())];
        let start = shared.nanoseconds(Instant::now());
        let injected = match nemesis::inject(nemesis, &mut cluster, &mut random) {
            Ok(injected) => injected,
            Err(problem) => {
                findings.push(format!("{nemesis}: {problem}"));
                break;
            }
        };
        progress(&format!("fault: {}: {}", nemesis, injected.description));
        *current.lock().expect("not poisoned") = injected.description.clone();
        findings.extend(injected.finding.clone());
        let hold = Duration::from_millis(random.random_range(FAULT_MILLISECONDS));
        let hold_end = (Instant::now() + hold).min(end);
        let description = injected.description.clone();
        sleep_until(hold_end, &mut next_progress, &mut |now| {
            report(&shared, now, &description);
        });
        let healed = nemesis::heal(&mut cluster);
        let end_time = shared.nanoseconds(Instant::now());
        faults.push(FaultWindow {
            nemesis: nemesis.name().into(),
            description: injected.description,
            nodes: injected.nodes,
            start,
            end: Some(end_time),
            recovery: None,
        });
        progress(&format!("healed: {nemesis}"));
        if let Err(problem) = healed {
            findings.push(format!("after {nemesis}: {problem}"));
            break;
        }
    }
    let faulty_end = shared.nanoseconds(Instant::now());
    if let Err(problem) = nemesis::heal(&mut cluster) {
        findings.push(format!("final heal: {problem}"));
    }
    shared.stop.store(true, Ordering::Relaxed);
    runtime.block_on(async {
        for handle in handles {
            let _ = handle.await;
        }
    });
    progress("healed everything; reading every key from every node");
    let final_values = final_reads(&cluster, options.keys, &shared, &runtime, &mut findings);
    let leader_changes = observer.stop();
    drop(runtime);
    drop(cluster);

    let operations = std::mem::take(&mut *shared.operations.lock().expect("not poisoned"));
    for fault in &mut faults {
        if let Some(end) = fault.end {
            fault.recovery = verdict::recovery_after(&operations, end);
        }
    }
    let client_operations: Vec<Operation> = operations
        .iter()
        .filter(|operation| operation.client < FINAL_READER_CLIENT_BASE)
        .cloned()
        .collect();
    let availability = verdict::availability(&client_operations, 0, faulty_end);
    let outcome = check_history(&operations);
    let violations: Vec<String> = outcome
        .violations
        .iter()
        .map(|violation| format!("key {}: {}", violation.key, violation.explanation))
        .collect();
    let lost = verdict::lost_writes(&operations, &final_values);
    let linearizable = outcome.is_linearizable();
    let verdict = if linearizable && lost.is_empty() && findings.is_empty() {
        "linearizable, nothing acknowledged lost".to_string()
    } else {
        let mut problems = Vec::new();
        if !linearizable {
            problems.push("NOT linearizable".to_string());
        }
        if !lost.is_empty() {
            problems.push(format!("{} acknowledged writes lost", lost.len()));
        }
        if !findings.is_empty() {
            problems.push(format!("{} findings", findings.len()));
        }
        problems.join(", ")
    };
    let timeline = Timeline {
        seed: options.seed,
        nodes: options.nodes,
        clients: shared.next_client.load(Ordering::Relaxed),
        duration: faulty_end,
        faults,
        leader_changes,
        verdict,
        rerun: options.rerun.clone(),
    };
    Ok(ChaosOutcome {
        timeline,
        operations,
        availability,
        linearizable,
        violations,
        lost,
        findings,
    })
}

fn wait_for_leader(cluster: &Cluster) -> Result<u64, String> {
    let deadline = Instant::now() + Duration::from_millis(RECOVERY_WAIT_MILLISECONDS);
    loop {
        if let Some(leader) = leader_of(&cluster.statuses()) {
            return Ok(leader);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "no leader within {RECOVERY_WAIT_MILLISECONDS} ms; see the node logs"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads every key through every node (linearizable reads), recording them
/// in the history as operations of one final reader per node. Returns what
/// the reads saw per key; a node that disagrees with the others, or a key
/// no node would read in time, is a finding.
fn final_reads(
    cluster: &Cluster,
    keys: u64,
    shared: &Arc<Shared>,
    runtime: &tokio::runtime::Runtime,
    findings: &mut Vec<String>,
) -> BTreeMap<String, Option<String>> {
    let deadline = Instant::now() + Duration::from_millis(RECOVERY_WAIT_MILLISECONDS);
    let mut seen: BTreeMap<String, Option<String>> = BTreeMap::new();
    for (index, address) in cluster.client_addresses().into_iter().enumerate() {
        let node = index as u64 + 1;
        let reader = FINAL_READER_CLIENT_BASE + node;
        for key_index in 0..keys {
            let key = key_name(key_index);
            let read = runtime.block_on(async {
                loop {
                    if Instant::now() > deadline {
                        return None;
                    }
                    let client = redis::Client::open(format!("redis://{address}")).ok()?;
                    if let Ok(mut connection) = client.get_multiplexed_async_connection().await {
                        let operation = clients::perform(
                            &mut connection,
                            reader,
                            node,
                            OperationKind::Get,
                            key.clone(),
                            String::new(),
                            shared,
                        )
                        .await;
                        let status = operation.status;
                        let value = operation.found.then(|| operation.value.clone());
                        shared.record(operation);
                        if status == Status::Ok {
                            return Some(value);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            match read {
                None => findings.push(format!(
                    "node {node} did not answer a read of {key} in time"
                )),
                Some(value) => match seen.get(&key) {
                    Some(earlier) if *earlier != value => findings.push(format!(
                        "{key}: node {node} reads {value:?}, an earlier node read {earlier:?}"
                    )),
                    Some(_) => {}
                    None => {
                        seen.insert(key, value);
                    }
                },
            }
        }
    }
    seen
}
