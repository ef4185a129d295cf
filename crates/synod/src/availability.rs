//! `synod sim --availability`: the availability table of the simulator.

use std::io::Write;
use std::process::ExitCode;

use synod_paxos::Mutation;
use synod_sim::availability::{
    run_availability_traced, summarize, AvailabilityBounds, Scenario, PROGRESS_WINDOW_UNITS,
};
use synod_sim::WorldOptions;

/// Runs every scenario `seeds` times at `nodes` and prints one row each.
/// Fails when any seed breaks a bound or a safety check.
pub fn run(
    nodes: usize,
    first_seed: u64,
    seeds: u64,
    scenarios: &[Scenario],
    mutation: Mutation,
    threads: usize,
) -> ExitCode {
    let bounds = AvailabilityBounds::for_world(&WorldOptions::default());
    let units_per_tick = WorldOptions::default().tick_units;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(
        stdout,
        "availability, {nodes} nodes, {seeds} seeds per scenario; times in ticks \
         ({units_per_tick} units each); bound on every gap: {} ticks \
         (2 × the maximum election timeout); progress = share of {}-tick windows \
         with a completed operation",
        bounds.progress_gap_max_units / units_per_tick,
        PROGRESS_WINDOW_UNITS / units_per_tick,
    );
    let _ = writeln!(
        stdout,
        "| scenario | seeds | to progress, median | to progress, worst | to a write, worst \
         | longest gap, worst | progress, mean | progress, worst | leader changes, max \
         | failing seeds |"
    );
    let _ = writeln!(stdout, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut failing = 0;
    for scenario in scenarios.iter().copied() {
        let summary = summarize(scenario, nodes, first_seed, seeds, mutation, threads);
        let ticks = |units: u64| format!("{:.1}", units as f64 / units_per_tick as f64);
        let _ = writeln!(
            stdout,
            "| {} | {} | {} | {} | {} | {} | {:.1} % | {:.1} % | {} | {} |",
            scenario.name(),
            summary.seeds,
            ticks(summary.time_to_progress_median_units),
            ticks(summary.time_to_progress_worst_units),
            ticks(summary.write_time_to_progress_worst_units),
            ticks(summary.longest_gap_worst_units),
            summary.progress_mean_per_mille as f64 / 10.0,
            summary.progress_worst_per_mille as f64 / 10.0,
            summary.leader_changes_max,
            summary.failing.len(),
        );
        failing += summary.failing.len();
        for (seed, violation) in summary.failing.iter().take(3) {
            let _ = writeln!(
                stdout,
                "    seed {seed}: {violation}\n      replay: synod sim --availability --nodes {nodes} \
                 --scenario {} --seed {seed}",
                scenario.argument()
            );
        }
    }
    let _ = writeln!(stdout, "sim --availability: {failing} failing seeds");
    if failing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Replays one seed of each scenario with a trace of every event, then the
/// measurements and violations.
pub fn replay(nodes: usize, seed: u64, scenarios: &[Scenario], mutation: Mutation) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    let mut failing = 0;
    for scenario in scenarios.iter().copied() {
        let (outcome, trace) = run_availability_traced(scenario, nodes, seed, mutation);
        for line in &trace {
            let _ = writeln!(stdout, "{line}");
        }
        let _ = writeln!(
            stdout,
            "{}: seed {seed}: {} units to progress, longest gap {} units, progress {} per mille, \
             {} leader changes, {} violations",
            scenario.name(),
            outcome.time_to_progress_units,
            outcome.longest_gap_units,
            outcome.progress_per_mille,
            outcome.leader_changes,
            outcome.violations.len()
        );
        for violation in &outcome.violations {
            let _ = writeln!(stdout, "  {violation}");
        }
        failing += usize::from(!outcome.violations.is_empty());
    }
    if failing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
