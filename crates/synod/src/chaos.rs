//! `synod chaos`: a real cluster under a seeded schedule of faults, every
//! client operation recorded and checked (see `crates/chaos`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use synod_chaos::run::NODES_MIN;
use synod_chaos::{ChaosOptions, ChaosOutcome, Nemesis};
use synod_history::HistoryWriter;

/// Exit status when the run found a violation.
const EXIT_VIOLATION: u8 = 1;
/// Exit status when the run could not be set up or its output not written.
const EXIT_ERROR: u8 = 2;
/// The largest cluster `chaos` starts.
const NODES_MAX: u64 = 9;

/// Arguments of `synod chaos`.
#[derive(Args, Debug)]
pub struct ChaosArguments {
    /// Cluster size (3 or 5 are the usual ones).
    #[arg(long, default_value_t = 3)]
    nodes: u64,
    /// How long faults are injected (e.g. 60s, 10m).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Nemeses, comma separated: kill, pause, partition, partial, oneway,
    /// loss, delay, disk, or all.
    #[arg(long, default_value = "all")]
    nemesis: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 10)]
    clients: u64,
    /// Keys the clients use.
    #[arg(long, default_value_t = 20)]
    keys: u64,
    /// Operations per second of all clients together; 0 for as fast as
    /// they go (long histories take the checker longer).
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Write the history (shared format, JSON Lines) here.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Write the HTML report (one self-contained page) here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write the run's timeline and figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Seed of the fault schedule and the clients (random without it).
    #[arg(long)]
    seed: Option<u64>,
    /// Directory for the nodes' data and logs (a new temporary one without
    /// it, removed after a passing run).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Run the nodes with the leader lease (`synod server --lease`): the
    /// pause nemesis then checks that a leader resuming after its lease
    /// ran out does not serve a stale read.
    #[arg(long)]
    lease: bool,
}

/// Runs `synod chaos`.
pub fn run(arguments: ChaosArguments) -> ExitCode {
    match chaos(arguments) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_VIOLATION),
        Err(problem) => {
            eprintln!("synod chaos: {problem}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn chaos(arguments: ChaosArguments) -> Result<bool, String> {
    if !(NODES_MIN..=NODES_MAX).contains(&arguments.nodes) {
        return Err(format!(
            "--nodes must be between {NODES_MIN} and {NODES_MAX}"
        ));
    }
    if arguments.clients == 0 || arguments.keys == 0 {
        return Err("--clients and --keys must be at least 1".into());
    }
    let nemeses = Nemesis::parse_list(&arguments.nemesis)?;
    let seed = arguments
        .seed
        .unwrap_or_else(|| synod_server::drive::random_u64() >> 11);
    let temporary = arguments.work.is_none();
    let work = arguments.work.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("synod-chaos-{}-{seed}", std::process::id()))
    });
    let names: Vec<&str> = nemeses.iter().map(|nemesis| nemesis.name()).collect();
    let rerun = format!(
        "synod chaos --nodes {} --duration {} --nemesis {} --clients {} --keys {} --rate {} --seed {seed}",
        arguments.nodes,
        humantime::format_duration(arguments.duration),
        names.join(","),
        arguments.clients,
        arguments.keys,
        arguments.rate,
    ) + if arguments.lease { " --lease" } else { "" };
    let options = ChaosOptions {
        executable: std::env::current_exe()
            .map_err(|failure| format!("cannot find the synod executable: {failure}"))?,
        nodes: arguments.nodes,
        duration: arguments.duration,
        nemeses,
        clients: arguments.clients,
        keys: arguments.keys,
        rate: arguments.rate,
        seed,
        work: work.clone(),
        rerun: rerun.clone(),
        lease: arguments.lease,
    };
    say(&format!(
        "synod chaos: {} nodes, {} of {}, {} clients on {} keys, seed {seed}; work in {}",
        options.nodes,
        humantime::format_duration(options.duration),
        names.join(","),
        options.clients,
        options.keys,
        work.display()
    ));
    let outcome = synod_chaos::run(&options, &|line| say(line))?;
    print_summary(&outcome);
    if let Some(path) = &arguments.history {
        write_history(path, &outcome)?;
    }
    if let Some(path) = &arguments.report {
        let page = synod_chaos::html::render(&outcome.timeline, &outcome.operations);
        std::fs::write(path, page)
            .map_err(|failure| format!("cannot write {}: {failure}", path.display()))?;
        say(&format!("report: {}", path.display()));
    }
    if let Some(path) = &arguments.json {
        let text = serde_json::to_string_pretty(&outcome.timeline)
            .map_err(|failure| failure.to_string())?;
        std::fs::write(path, text)
            .map_err(|failure| format!("cannot write {}: {failure}", path.display()))?;
    }
    let passed = outcome.passed();
    if passed && temporary {
        let _ = std::fs::remove_dir_all(&work);
    } else if !passed {
        say(&format!(
            "the nodes' data and logs stay in {}",
            work.display()
        ));
    }
    say(&format!("rerun: {rerun}"));
    Ok(passed)
}

fn write_history(path: &PathBuf, outcome: &ChaosOutcome) -> Result<(), String> {
    let file = std::fs::File::create(path)
        .map_err(|failure| format!("cannot create {}: {failure}", path.display()))?;
    let mut writer = HistoryWriter::new(std::io::BufWriter::new(file));
    for operation in &outcome.operations {
        writer
            .record(operation)
            .map_err(|failure| format!("cannot write {}: {failure}", path.display()))?;
    }
    writer
        .flush()
        .map_err(|failure| format!("cannot write {}: {failure}", path.display()))?;
    say(&format!(
        "history: {} ({} operations)",
        path.display(),
        outcome.operations.len()
    ));
    Ok(())
}

fn seconds(nanoseconds: u64) -> f64 {
    nanoseconds as f64 / 1e9
}

fn print_summary(outcome: &ChaosOutcome) {
    let timeline = &outcome.timeline;
    let count = |status| {
        outcome
            .operations
            .iter()
            .filter(|operation| operation.status == status)
            .count()
    };
    say(&format!(
        "operations: ok {}, fail {}, info {} (final reads included)",
        count(synod_history::Status::Ok),
        count(synod_history::Status::Fail),
        count(synod_history::Status::Info),
    ));
    say(&format!(
        "availability: {:.1} % of operations ok; longest unavailability {:.2} s (from {:.1} s)",
        outcome.availability.percent,
        seconds(outcome.availability.longest_gap_nanoseconds),
        seconds(outcome.availability.longest_gap_start_nanoseconds),
    ));
    say(&format!("faults: {}", timeline.faults.len()));
    for fault in &timeline.faults {
        let held = fault.end_nanoseconds - fault.start_nanoseconds;
        let recovery = fault
            .recovery_nanoseconds
            .map_or("no write after the heal".to_string(), |recovery| {
                format!("a write {:.0} ms after the heal", recovery as f64 / 1e6)
            });
        say(&format!(
            "  {:>6.1} s  {:<9} held {:.1} s, {}: {}",
            seconds(fault.start_nanoseconds),
            fault.nemesis,
            seconds(held),
            recovery,
            fault.description
        ));
    }
    for figures in synod_chaos::verdict::per_nemesis(&outcome.operations, &timeline.faults) {
        say(&format!(
            "  {:<9} {} faults, {:.1} % ok while in force, worst unavailability {:.2} s",
            figures.nemesis,
            figures.faults,
            figures.availability_percent,
            seconds(figures.worst_gap_nanoseconds)
        ));
    }
    say(&format!(
        "leader changes: {}",
        timeline.leader_changes.len().saturating_sub(1)
    ));
    for violation in &outcome.violations {
        say(&format!("violation: {violation}"));
    }
    for lost in &outcome.lost {
        say(&format!("lost: {lost}"));
    }
    for finding in &outcome.findings {
        say(&format!("finding: {finding}"));
    }
    say(&format!("verdict: {}", timeline.verdict));
}

/// Prints a line; a closed standard output is not a reason to stop.
fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}
