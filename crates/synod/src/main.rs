//! The `synod` command: the server, the local cluster, the client CLI, the
//! simulator and the history checker behind one binary.

mod availability;
mod bench;
mod certs;
mod chaos;
mod cluster;
mod kv;
mod limits;
mod serve;
mod simulate;
mod status;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// synod: a linearizable replicated key-value store built on Multi-Paxos.
#[derive(Parser)]
#[command(name = "synod", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one node of a cluster until SIGINT or SIGTERM.
    Server(serve::ServerArguments),
    /// Start a local cluster of nodes on loopback; Ctrl-C stops it.
    Up(up::UpArguments),
    /// Change a running cluster's membership: add, promote, remove,
    /// transfer-leader.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Key-value calls: get, set, del, exists.
    #[command(flatten)]
    Kv(kv::KvCommand),
    /// Show every node's role, commit and applied index and replication lag.
    Status(status::StatusArguments),
    /// Make a development CA and a certificate for each node, for TLS
    /// between members and with clients.
    Certs(certs::CertsArguments),
    /// Run the deterministic simulator over many seeds (or replay one).
    Sim(simulate::SimArguments),
    /// Measure synod, Redis or etcd under one workload definition.
    Bench(bench::BenchArguments),
    /// Turn `synod bench --json` results into a Markdown table and a plot.
    BenchReport(bench::ReportArguments),
    /// Run a real cluster under kills, pauses, partitions and disk damage,
    /// and check every client operation for linearizability.
    ///
    /// Exit status: 0 linearizable with nothing lost, 1 a violation, 2 an
    /// error.
    Chaos(chaos::ChaosArguments),
    /// Check a client history (JSON Lines or a JSON array) for linearizability.
    ///
    /// Exit status: 0 linearizable, 1 not linearizable, 2 malformed input.
    CheckHistory {
        /// The history file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Server(arguments) => serve::run(arguments),
        Command::Up(arguments) => up::run(arguments),
        Command::Status(arguments) => status::run(arguments),
        Command::Certs(arguments) => certs::run(arguments),
        Command::Cluster(command) => cluster::run(command),
        Command::Kv(command) => kv::run(command),
        Command::Sim(arguments) => simulate::run(arguments),
        Command::Bench(arguments) => bench::run(arguments),
        Command::BenchReport(arguments) => bench::report(arguments),
        Command::Chaos(arguments) => chaos::run(arguments),
        Command::CheckHistory { file } => {
            let code = synod_history::check_history_cli(&file);
            ExitCode::from(u8::try_from(code).unwrap_or(2))
        }
    }
}
