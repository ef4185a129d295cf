//! `synod bench`: one workload definition against one or more targets, over
//! a sweep of concurrencies; and `synod bench-report`, which turns the JSON
//! results of such runs into the table and plot of docs/benchmarks.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use synod_bench::{
    connect, preload, run_cell, Cell, CellResult, KeyDistribution, Mix, Mode, Recorder, Target,
    Workload,
};

/// Arguments of `synod bench`.
#[derive(Args, Debug)]
pub struct BenchArguments {
    /// A system to measure, `[NAME=]redis://host:port[,…]` or
    /// `[NAME=]etcd://host:port[,…]`; repeat to compare several in one run.
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    /// Workloads, comma separated: write, read, 50-50, 90-10, 95-5
    /// (percent reads - percent writes).
    #[arg(long, default_value = "write,read")]
    workload: String,
    /// Requests in flight (workers), comma separated: one cell each.
    #[arg(long, default_value = "1,16,64,256,1024")]
    concurrency: String,
    /// Measured time per cell (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Unmeasured load before each cell.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    warm_up: Duration,
    /// Distinct keys, all written before the first cell.
    #[arg(long, default_value_t = 10_000)]
    keys: u64,
    /// Bytes per key.
    #[arg(long, default_value_t = 16)]
    key_size: usize,
    /// Bytes per value.
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    /// uniform, zipf, or zipf:EXPONENT.
    #[arg(long, default_value = "uniform")]
    distribution: String,
    /// Open loop at this many requests per second in total (latency from
    /// the time each request was due); closed loop without it.
    #[arg(long)]
    rate: Option<f64>,
    /// Connections per endpoint; the workers share them, pipelining.
    #[arg(long, default_value_t = 1)]
    connections_per_endpoint: usize,
    /// Ask for possibly stale reads by name: `READONLY` on RESP targets
    /// (synod serves them from the node's applied state, without a quorum
    /// round), serializable reads on etcd. Reads are linearizable without it.
    /// Refused with `--history`: stale reads are not linearizable.
    #[arg(long)]
    stale_reads: bool,
    /// A request unanswered this long counts as an error.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    request_timeout: Duration,
    /// Admin addresses of a synod target, `NAME=host:port[,…]`, whose
    /// `/metrics` give fsyncs per second and the mean batch size.
    #[arg(long = "metrics")]
    metrics: Vec<String>,
    /// Skip writing every key before the first cell.
    #[arg(long)]
    no_preload: bool,
    /// Write every result as a JSON array to this file (`-`: stdout).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Record every operation in the shared history format, for
    /// `synod check-history`. Values are then unique per write.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Seeds the draws of keys and operations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The CA certificate (PEM) that `rediss://` targets' certificates are
    /// verified against (`synod up --tls` writes it to DATA/certs/ca.pem).
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// Measure every cell this many times, the targets taking turns, and
    /// report per cell the whole time's throughput and the median round's
    /// percentiles: on a machine whose speed drifts, the systems compared
    /// then see the same drift. Each round lasts `--duration`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=ROUNDS_MAX))]
    rounds: u32,
}

/// The most `--rounds` accepts.
const ROUNDS_MAX: i64 = 100;

/// Arguments of `synod bench-report`.
#[derive(Args, Debug)]
pub struct ReportArguments {
    /// JSON results of `synod bench --json`.
    #[arg(required = true)]
    results: Vec<PathBuf>,
    /// The Markdown report to write.
    #[arg(long)]
    output: PathBuf,
    /// The SVG plot to write (throughput against p99 latency per system).
    #[arg(long)]
    plot: PathBuf,
}

/// A parsed `synod bench` run.
struct Plan {
    targets: Vec<(String, Target, Vec<String>)>,
    mixes: Vec<Mix>,
    concurrencies: Vec<usize>,
    workload: Workload,
}

fn plan(arguments: &BenchArguments) -> Result<Plan, String> {
    let mut targets = Vec::new();
    for (index, text) in arguments.targets.iter().enumerate() {
        let (name, url) = match text.split_once('=') {
            Some((name, url)) if !url.is_empty() => (name.to_string(), url),
            _ => (format!("target{}", index + 1), text.as_str()),
        };
        let target: Target = url.parse().map_err(|error| format!("--target: {error}"))?;
        targets.push((name, target, Vec::new()));
    }
    for text in &arguments.metrics {
        let (name, addresses) = text
            .split_once('=')
            .ok_or_else(|| format!("--metrics {text:?}: expected NAME=host:port[,…]"))?;
        let target = targets
            .iter_mut()
            .find(|(target, _, _)| target == name)
            .ok_or_else(|| format!("--metrics names {name:?}, which no --target is called"))?;
        target.2 = addresses.split(',').map(str::to_string).collect();
    }
    let mixes = arguments
        .workload
        .split(',')
        .map(|mix| mix.trim().parse::<Mix>().map_err(|error| error.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let concurrencies = arguments
        .concurrency
        .split(',')
        .map(|text| match text.trim().parse::<usize>() {
            Ok(concurrency) if concurrency > 0 => Ok(concurrency),
            _ => Err(format!(
                "--concurrency {text:?}: expected a positive number"
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(rate) = arguments.rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(format!(
                "--rate {rate}: expected a positive number of requests per second"
            ));
        }
    }
    if arguments.stale_reads && arguments.history.is_some() {
        return Err(
            "--history records a run to check for linearizability, and --stale-reads asks for \
             reads that are not linearizable: use one or the other"
                .into(),
        );
    }
    if arguments.duration.is_zero() {
        return Err("--duration must be positive".into());
    }
    let distribution: KeyDistribution = arguments
        .distribution
        .parse()
        .map_err(|error: synod_bench::WorkloadError| error.to_string())?;
    let workload = Workload {
        mix: mixes[0],
        keys: arguments.keys,
        key_size_bytes: arguments.key_size,
        value_size_bytes: arguments.value_size,
        distribution,
    };
    workload.validate().map_err(|error| error.to_string())?;
    Ok(Plan {
        targets,
        mixes,
        concurrencies,
        workload,
    })
}

/// Runs `synod bench`. Exit status 1 when a target cannot be reached or
/// preloaded, 2 on bad arguments.
pub fn run(arguments: BenchArguments) -> ExitCode {
    let plan = match plan(&arguments) {
        Ok(plan) => plan,
        Err(problem) => {
            eprintln!("synod bench: {problem}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run_plan(&arguments, &plan)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("synod bench: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn run_plan(arguments: &BenchArguments, plan: &Plan) -> Result<(), String> {
    let (recorder, history) = match &arguments.history {
        Some(path) => {
            let (recorder, file) = Recorder::to_file(path)
                .map_err(|error| format!("--history {}: {error}", path.display()))?;
            (recorder, Some(file))
        }
        None => (Recorder::disabled(), None),
    };
    let mode = arguments
        .rate
        .map_or(Mode::Closed, |rate| Mode::Open { rate });
    let mut results: Vec<CellResult> = Vec::new();
    println!(
        "{:<8} {:<7} {:>6} {:>11} {:>9} {:>9} {:>9} {:>9} {:>8} {:>9} {:>7}",
        "SYSTEM",
        "LOAD",
        "CONC",
        "OPS/S",
        "P50 ms",
        "P90 ms",
        "P99 ms",
        "P99.9 ms",
        "ERRORS",
        "FSYNC/S",
        "BATCH"
    );
    // Every target is connected and preloaded first; then each cell runs
    // against every target in turn, so that the targets of one cell are
    // measured minutes apart at most: on a machine whose speed drifts, the
    // ratios of one row stay comparable.
    let tls_ca = match &arguments.tls_ca {
        Some(path) => Some(
            std::fs::read(path).map_err(|error| format!("--tls-ca {}: {error}", path.display()))?,
        ),
        None => None,
    };
    let mut connected = Vec::with_capacity(plan.targets.len());
    for (system, target, metrics) in &plan.targets {
        let connections = connect(
            target,
            arguments.connections_per_endpoint,
            arguments.stale_reads,
            tls_ca.as_deref(),
        )
        .await
        .map_err(|error| format!("{system}: {error}"))?;
        if !arguments.no_preload {
            eprintln!("{system}: writing {} keys", plan.workload.keys);
            preload(&connections, &plan.workload, &recorder)
                .await
                .map_err(|error| format!("{system}: {error}"))?;
        }
        connected.push((system, target, metrics, connections));
    }
    for mix in &plan.mixes {
        for concurrency in &plan.concurrencies {
            let mut rounds: Vec<Vec<CellResult>> = vec![Vec::new(); connected.len()];
            for _ in 0..arguments.rounds {
                for ((system, target, metrics, connections), measured) in
                    connected.iter().zip(&mut rounds)
                {
                    let cell = Cell {
                        system: (*system).clone(),
                        target: (*target).clone(),
                        workload: Workload {
                            mix: *mix,
                            ..plan.workload.clone()
                        },
                        concurrency: *concurrency,
                        mode,
                        warm_up: arguments.warm_up,
                        duration: arguments.duration,
                        request_timeout: arguments.request_timeout,
                        seed: arguments.seed,
                        metrics: (*metrics).clone(),
                        stale_reads: arguments.stale_reads,
                    };
                    let result = run_cell(&cell, connections, &recorder).await;
                    if arguments.rounds > 1 {
                        print_row(&result);
                    }
                    measured.push(result);
                }
            }
            if arguments.rounds > 1 {
                println!("merged, {} rounds:", arguments.rounds);
            }
            for measured in rounds {
                let result = synod_bench::rounds::merge(&measured);
                print_row(&result);
                results.push(result);
            }
        }
    }
    drop(recorder);
    if let (Some(file), Some(path)) = (history, &arguments.history) {
        let written = file
            .finish()
            .map_err(|error| format!("--history {}: {error}", path.display()))?;
        eprintln!("recorded {written} operations in {}", path.display());
    }
    if let Some(path) = &arguments.json {
        let json = serde_json::to_string_pretty(&results).expect("results serialize");
        if path.as_os_str() == "-" {
            println!("{json}");
        } else {
            std::fs::write(path, json + "\n")
                .map_err(|error| format!("--json {}: {error}", path.display()))?;
        }
    }
    Ok(())
}

fn print_row(result: &CellResult) {
    let milliseconds = |microseconds: u64| microseconds as f64 / 1_000.0;
    let (fsyncs, batch) = match result.server {
        Some(server) => (
            format!("{:.0}", server.fsyncs_per_second),
            format!("{:.1}", server.mean_batch_commands),
        ),
        None => ("-".to_string(), "-".to_string()),
    };
    println!(
        "{:<8} {:<7} {:>6} {:>11.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>9} {:>7}",
        result.system,
        result.workload.mix.to_string(),
        result.concurrency,
        result.throughput,
        milliseconds(result.latency.p50),
        milliseconds(result.latency.p90),
        milliseconds(result.latency.p99),
        milliseconds(result.latency.p999),
        result.errors,
        fsyncs,
        batch
    );
    if let Some(error) = &result.first_error {
        eprintln!("  first error: {error}");
    }
}

/// Runs `synod bench-report`. Exit status 1 when a file cannot be read or
/// written.
pub fn report(arguments: ReportArguments) -> ExitCode {
    let mut results: Vec<CellResult> = Vec::new();
    for path in &arguments.results {
        let parsed = std::fs::read_to_string(path)
            .map_err(|error| error.to_string())
            .and_then(|text| {
                serde_json::from_str::<Vec<CellResult>>(&text).map_err(|error| error.to_string())
            });
        match parsed {
            Ok(mut cells) => results.append(&mut cells),
            Err(problem) => {
                eprintln!("synod bench-report: {}: {problem}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    match synod_bench::report::write(&results, &arguments.output, &arguments.plot) {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("synod bench-report: {problem}");
            ExitCode::FAILURE
        }
    }
}
