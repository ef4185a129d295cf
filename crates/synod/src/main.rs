//! The `synod` command: the server, the local cluster, the client CLI, the
//! simulator and the history checker behind one binary.

mod simulate;

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
    /// Run the deterministic simulator over many seeds (or replay one).
    Sim(simulate::SimArguments),
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
        Command::Sim(arguments) => simulate::run(arguments),
        Command::CheckHistory { file } => {
            let code = synod_history::check_history_cli(&file);
            ExitCode::from(u8::try_from(code).unwrap_or(2))
        }
    }
}
