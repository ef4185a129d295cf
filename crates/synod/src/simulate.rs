//! `synod sim`: many seeds in parallel, or one seed replayed with a trace.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use synod_paxos::Mutation;
use synod_sim::availability::Scenario;
use synod_sim::{run_seed, run_seeds, FaultSet, SeedOutcome, SimulationOptions};

/// Arguments of `synod sim`.
#[derive(Args, Debug)]
pub struct SimArguments {
    /// Number of seeds to run (seeds `first-seed .. first-seed + seeds`).
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// First seed of the range.
    #[arg(long, default_value_t = 0)]
    first_seed: u64,
    /// Replay exactly this seed (implies one seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Replicas in the cluster.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Simulated clients.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Fault classes, comma separated: all, none, drop, duplicate, reorder,
    /// partition, partial, crash, leader-crash, pause, disk.
    #[arg(long, default_value = "all")]
    faults: String,
    /// Length of the fault phase, in time units (10 units per tick).
    #[arg(long, default_value_t = 4_000)]
    fault_units: u64,
    /// Print a readable trace of every event (use with --seed).
    #[arg(long)]
    trace: bool,
    /// Run with the leader lease: replicas' clocks drift apart by up to the
    /// bound the lease tolerates, and a paused replica catches up on its
    /// ticks before it handles anything.
    #[arg(long)]
    lease: bool,
    /// Add the rights workload: clients grant and revoke a user's read
    /// right and read as that user, and each read must have been judged
    /// by rights in force during its call.
    #[arg(long)]
    access: bool,
    /// Change the membership during the run: `--nodes` voters start, two
    /// more nodes join as learners and become voters, then the cluster
    /// shrinks back to `--nodes` voters chosen at random (often removing
    /// the leader), all under the faults.
    #[arg(long)]
    membership: bool,
    /// Write the recorded history of the replayed seed to this file.
    #[arg(long)]
    history: Option<PathBuf>,
    /// Run a deliberately broken protocol variant (mutation testing; only in
    /// a build with the `mutations` feature).
    #[arg(long, value_enum)]
    mutation: Option<MutationName>,
    /// Worker threads (defaults to the number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Measure availability instead: run every fault scenario (one-way
    /// cuts of the leader and of a follower, quorum-loss, constrained,
    /// chained, a flapping link, a leader crash, a rejoin) `--seeds` times
    /// at `--nodes` and print a table of how long the cluster went without
    /// completing an operation.
    #[arg(long)]
    availability: bool,
    /// With --availability: run only this scenario (with --seed, replay
    /// one seed of it with a trace): leader-inbound-cut,
    /// leader-outbound-cut, follower-inbound-cut, follower-outbound-cut,
    /// quorum-loss, constrained, chained, flapping-link,
    /// leader-crash-restart, rejoin-after-partition.
    #[arg(long, requires = "availability")]
    scenario: Option<String>,
}

/// Names of the broken variants on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MutationName {
    /// Phase 2 quorum of f instead of f + 1.
    AcceptQuorumTooSmall,
    /// A new leader ignores accepted values in promises.
    LeaderIgnoresPromisedValues,
    /// An acceptor accepts below its promise.
    AcceptBelowPromise,
    /// Decided slots applied out of order.
    ApplyOutOfOrder,
    /// Reads served without quorum confirmation.
    ReadWithoutConfirmation,
    /// The leader counts its own acceptance before its write is durable.
    CountOwnVoteBeforeWrite,
    /// A follower counts its own acceptance before its write is durable.
    CountFollowerVoteBeforeWrite,
    /// A lease as long as if clocks never drifted (run with --lease).
    LeaseIgnoresClockDrift,
    /// Learners' acceptances counted in phase 2 (run with --membership).
    LearnersVote,
    /// A change governs the next slot, not CONFIGURATION_DELAY_SLOTS later
    /// (run with --membership).
    ConfigurationWithoutDelay,
    /// Elections without a pre-vote (breaks availability, not safety).
    PreVoteDisabled,
    /// Reads hide keys past their deadline on the serving node's own clock,
    /// as Redis-Raft does, not on the agreed clock.
    ReadsExpireByLocalClock,
    /// Transactions proposed without their watches (EXEC always runs).
    WatchesIgnored,
}

impl MutationName {
    fn mutation(self) -> Mutation {
        match self {
            MutationName::AcceptQuorumTooSmall => Mutation::AcceptQuorumTooSmall,
            MutationName::LeaderIgnoresPromisedValues => Mutation::LeaderIgnoresPromisedValues,
            MutationName::AcceptBelowPromise => Mutation::AcceptBelowPromise,
            MutationName::ApplyOutOfOrder => Mutation::ApplyOutOfOrder,
            MutationName::ReadWithoutConfirmation => Mutation::ReadWithoutConfirmation,
            MutationName::CountOwnVoteBeforeWrite => Mutation::CountOwnVoteBeforeWrite,
            MutationName::CountFollowerVoteBeforeWrite => Mutation::CountFollowerVoteBeforeWrite,
            MutationName::LeaseIgnoresClockDrift => Mutation::LeaseIgnoresClockDrift,
            MutationName::LearnersVote => Mutation::LearnersVote,
            MutationName::ConfigurationWithoutDelay => Mutation::ConfigurationWithoutDelay,
            MutationName::PreVoteDisabled => Mutation::PreVoteDisabled,
            MutationName::ReadsExpireByLocalClock => Mutation::ReadsExpireByLocalClock,
            MutationName::WatchesIgnored => Mutation::WatchesIgnored,
        }
    }
}

/// Runs `synod sim`; the last line printed is the summary.
pub fn run(arguments: SimArguments) -> ExitCode {
    let faults = match FaultSet::parse(&arguments.faults) {
        Ok(faults) => faults,
        Err(reason) => {
            eprintln!("synod sim: --faults: {reason}");
            return ExitCode::from(2);
        }
    };
    if arguments.nodes == 0 {
        eprintln!("synod sim: --nodes must be at least 1");
        return ExitCode::from(2);
    }
    if arguments.mutation.is_some() && !cfg!(feature = "mutations") {
        eprintln!(
            "synod sim: --mutation: this build carries no broken variants (they never ship \
             in the server); run `cargo run --release --features mutations -- sim --mutation …`"
        );
        return ExitCode::from(2);
    }
    let threads = arguments.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let mutation = arguments
        .mutation
        .map_or(Mutation::None, MutationName::mutation);
    if arguments.availability {
        std::panic::set_hook(Box::new(|_| {}));
        let scenarios = match arguments.scenario.as_deref().map(Scenario::parse) {
            Some(Ok(scenario)) => vec![scenario],
            Some(Err(reason)) => {
                eprintln!("synod sim: --scenario: {reason}");
                return ExitCode::from(2);
            }
            None => Scenario::ALL.to_vec(),
        };
        if let Some(seed) = arguments.seed {
            return crate::availability::replay(arguments.nodes, seed, &scenarios, mutation);
        }
        return crate::availability::run(
            arguments.nodes,
            arguments.first_seed,
            arguments.seeds,
            &scenarios,
            mutation,
            threads,
        );
    }
    let options = SimulationOptions {
        nodes: arguments.nodes,
        clients: arguments.clients,
        faults,
        fault_phase_units: arguments.fault_units,
        mutation,
        trace: arguments.trace,
        lease: arguments.lease,
        access: arguments.access,
        membership: arguments.membership,
        ..SimulationOptions::default()
    };
    let replay = |seed: u64| {
        let mut command = format!(
            "synod sim --seed {seed} --nodes {} --clients {} --faults {} --fault-units {}",
            options.nodes,
            options.clients,
            faults.describe(),
            options.fault_phase_units
        );
        if options.lease {
            command += " --lease";
        }
        if options.access {
            command += " --access";
        }
        if options.membership {
            command += " --membership";
        }
        if let Some(mutation) = arguments.mutation {
            command += &format!(
                " --mutation {}",
                mutation.to_possible_value().expect("named").get_name()
            );
        }
        command + " --trace"
    };
    let report = |outcome: &SeedOutcome| {
        if outcome.violations.is_empty() {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(
            stdout,
            "seed {}: {} violation(s)",
            outcome.seed,
            outcome.violations.len()
        );
        for violation in outcome.violations.iter().take(5) {
            let _ = writeln!(stdout, "  {violation}");
        }
        let _ = writeln!(stdout, "  replay: {}", replay(outcome.seed));
    };
    if let Some(seed) = arguments.seed {
        let outcome = run_seed(seed, &options);
        for line in &outcome.trace {
            println!("{line}");
        }
        if let Some(path) = &arguments.history {
            let text = synod_sim::history::to_json_lines(&outcome.history);
            if let Err(error) = std::fs::write(path, text) {
                eprintln!("synod sim: cannot write {}: {error}", path.display());
                return ExitCode::from(2);
            }
        }
        report(&outcome);
        let violations = outcome.violations.len();
        println!(
            "sim: 1 seeds, {violations} violations, {} ops checked",
            outcome.operations_checked
        );
        return if violations == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    // A panic in a seed is caught and reported as a violation with its
    // replay command; the default hook's backtrace would only bury it.
    std::panic::set_hook(Box::new(|_| {}));
    let summary = run_seeds(
        arguments.first_seed,
        arguments.seeds,
        &options,
        threads,
        &report,
    );
    let changes = if options.membership {
        format!(
            ", {} configuration changes, {} leader transfers",
            summary.configuration_changes, summary.leader_transfers
        )
    } else {
        String::new()
    };
    println!(
        "sim: {} seeds, {} violations, {} ops checked, {} snapshots installed from peers{changes}",
        summary.seeds, summary.violations, summary.operations_checked, summary.snapshots_installed
    );
    if summary.violations == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
