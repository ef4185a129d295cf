//! `synod sim --availability`: the availability table of the simulator.

use std::io::Write;
use std::process::ExitCode;

use synod_paxos::Mutation;
use synod_sim::availability::{summarize, AvailabilityBounds, Scenario, PROGRESS_WINDOW_UNITS};
use synod_sim::WorldOptions;

/// Runs every scenario `seeds` times at `nodes` and prints one row each.
/// Fails when any seed breaks a bound or a safety check.
pub fn run(
    nodes: usize,
    first_seed: u64,
    seeds: u64,
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
        "| scenario | seeds | to progress, median | to progress, worst | longest gap, worst \
         | progress, mean | progress, worst | leader changes, max | failing seeds |"
    );
    let _ = writeln!(stdout, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut failing = 0;
    for scenario in Scenario::ALL {
        let summary = summarize(scenario, nodes, first_seed, seeds, mutation, threads);
        let ticks = |units: u64| format!("{:.1}", units as f64 / units_per_tick as f64);
        let _ = writeln!(
            stdout,
            "| {} | {} | {} | {} | {} | {:.1} % | {:.1} % | {} | {} |",
            scenario.name(),
            summary.seeds,
            ticks(summary.time_to_progress_median_units),
            ticks(summary.time_to_progress_worst_units),
            ticks(summary.longest_gap_worst_units),
            summary.progress_mean_per_mille as f64 / 10.0,
            summary.progress_worst_per_mille as f64 / 10.0,
            summary.leader_changes_max,
            summary.failing.len(),
        );
        failing += summary.failing.len();
        for (seed, violation) in summary.failing.iter().take(3) {
            let _ = writeln!(stdout, "    seed {seed}: {violation}");
        }
    }
    let _ = writeln!(stdout, "sim --availability: {failing} failing seeds");
    if failing == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
