//! One chaos run: start the cluster, let the clients loose, inject faults on
//! the seeded schedule ([`crate::schedule`]), heal, read every key from
//! every node, and judge.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use synod_history::{check_history, Operation, OperationKind, Status};

use crate::clients::{self, key_name, ClientPlan, Shared};
use crate::cluster::{leader_of, Cluster};
use crate::nemesis::Nemesis;
use crate::observer::Observer;
use crate::schedule;
use crate::timeline::Timeline;
use crate::verdict::{self, Availability};

/// How long the healed cluster has to elect a leader, and each final read
/// to be answered.
pub const RECOVERY_WAIT_MILLISECONDS: u64 = 30_000;
/// After the final heal, how long the cluster is left alone before the
/// final reads. A write a client gave up on can still be on its way (held by
/// a stalled link, queued to a peer); this gives it time to land, so that
/// the final reads through different nodes see the same state. A write that
/// lands even later is still handled correctly by the checker, which treats
/// it as concurrent with everything after its call.
const SETTLE_MILLISECONDS: u64 = 3_000;
/// Client ids of the final readers start here, apart from the clients':
/// the reader through node `n` is `FINAL_READER_CLIENT_BASE + n`.
pub const FINAL_READER_CLIENT_BASE: u64 = 1_000_000;
/// Seeds of the clients are spread from the run's seed by this stride.
const CLIENT_SEED_STRIDE: u64 = 0xD1B5_4A32_D192_ED03;

/// The smallest cluster a chaos run starts: with fewer nodes no fault
/// leaves a quorum, and the partial-connectivity shapes need two followers.
pub const NODES_MIN: u64 = 3;

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
    /// Run the nodes with the leader lease (`synod server --lease`).
    pub lease: bool,
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
    assert!(
        options.nodes >= NODES_MIN,
        "chaos needs at least {NODES_MIN} nodes"
    );
    let spares = if options.nemeses.contains(&Nemesis::Member) {
        crate::membership::spares_for(options.duration)
    } else {
        0
    };
    let mut cluster = Cluster::start(
        &options.executable,
        &options.work,
        options.nodes,
        spares,
        options.seed,
        options.lease,
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
    let handles: Vec<_> = (0..options.clients)
        .map(|lane| {
            let plan = ClientPlan {
                addresses: cluster.client_addresses(),
                keys: options.keys,
                think,
                seed: options.seed ^ (lane + 1).wrapping_mul(CLIENT_SEED_STRIDE),
            };
            runtime.spawn(clients::run_client(plan, Arc::clone(&shared)))
        })
        .collect();

    let injections = schedule::inject_until(
        &mut cluster,
        &options.nemeses,
        options.seed,
        Instant::now(),
        options.duration,
        &shared,
        progress,
    );
    let mut faults = injections.faults;
    let mut findings = injections.findings;
    let faulty_end_nanoseconds = shared.nanoseconds(Instant::now());
    if let Err(problem) = crate::nemesis::heal(&mut cluster) {
        findings.push(format!("final heal: {problem}"));
    }
    shared.stop.store(true, Ordering::Relaxed);
    runtime.block_on(async {
        for handle in handles {
            let _ = handle.await;
        }
    });
    progress("healed everything; waiting for a leader, then reading every key from every node");
    if let Err(problem) = wait_for_leader(&cluster) {
        findings.push(format!("after the final heal: {problem}"));
    }
    std::thread::sleep(Duration::from_millis(SETTLE_MILLISECONDS));
    let final_values = final_reads(&cluster, options.keys, &shared, &runtime, &mut findings);
    let leader_changes = observer.stop();
    drop(runtime);
    drop(cluster);

    findings.extend(std::mem::take(
        &mut *shared.findings.lock().expect("not poisoned"),
    ));
    let operations = std::mem::take(&mut *shared.operations.lock().expect("not poisoned"));
    for fault in &mut faults {
        fault.recovery_nanoseconds = verdict::recovery_after(&operations, fault.end_nanoseconds);
    }
    let client_operations: Vec<Operation> = operations
        .iter()
        .filter(|operation| operation.client < FINAL_READER_CLIENT_BASE)
        .cloned()
        .collect();
    let availability = verdict::availability(&client_operations, 0, faulty_end_nanoseconds);
    let outcome = check_history(&operations);
    let violations: Vec<String> = outcome
        .violations
        .iter()
        .map(|violation| format!("key {}: {}", violation.key, violation.explanation))
        .collect();
    let mut lost: Vec<String> = final_values
        .iter()
        .flat_map(|values| verdict::lost_writes(&operations, values))
        .collect();
    lost.sort();
    lost.dedup();
    let linearizable = outcome.is_linearizable();
    let timeline = Timeline {
        seed: options.seed,
        nodes: options.nodes,
        clients: shared.next_client.load(Ordering::Relaxed),
        duration_nanoseconds: faulty_end_nanoseconds,
        faults,
        leader_changes,
        verdict: verdict_words(linearizable, lost.len(), findings.len()),
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

/// The verdict in a few words.
fn verdict_words(linearizable: bool, lost: usize, findings: usize) -> String {
    let mut problems = Vec::new();
    if !linearizable {
        problems.push("NOT linearizable".to_string());
    }
    if lost > 0 {
        problems.push(format!("{lost} acknowledged writes lost"));
    }
    if findings > 0 {
        problems.push(format!("{findings} findings"));
    }
    if problems.is_empty() {
        "linearizable, nothing acknowledged lost".to_string()
    } else {
        problems.join(", ")
    }
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
/// in the history as operations of one final reader per node. Returns, per
/// node, what its reads saw per key. A key a node would not read in time is
/// a finding. Nodes need not agree with each other here: a write abandoned
/// by its client may land between two nodes' reads, and the checker judges
/// that; each read must only be one the last writes could explain.
fn final_reads(
    cluster: &Cluster,
    keys: u64,
    shared: &Arc<Shared>,
    runtime: &tokio::runtime::Runtime,
    findings: &mut Vec<String>,
) -> Vec<BTreeMap<String, Option<String>>> {
    let deadline = Instant::now() + Duration::from_millis(RECOVERY_WAIT_MILLISECONDS);
    let mut per_node = Vec::new();
    for (node, address) in cluster.active_client_addresses() {
        let reader = FINAL_READER_CLIENT_BASE + node;
        let mut seen = BTreeMap::new();
        let mut connection = None;
        for key_index in 0..keys {
            let key = key_name(key_index);
            let read = runtime.block_on(async {
                while Instant::now() < deadline {
                    if connection.is_none() {
                        connection = clients::connect(address).await;
                    }
                    if let Some(open) = connection.as_mut() {
                        let operation = clients::perform(
                            open,
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
                        connection = None;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                None
            });
            match read {
                Some(value) => {
                    seen.insert(key, value);
                }
                None => findings.push(format!(
                    "node {node} did not answer a read of {key} in time"
                )),
            }
        }
        per_node.push(seen);
    }
    per_node
}
