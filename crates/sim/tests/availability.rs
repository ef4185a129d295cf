//! Availability under faults, in the normal test run: every scenario of
//! `synod_sim::availability` at three and five nodes must make progress
//! within two maximum election timeouts of the fault's start, and again
//! after every stretch without progress; a leader that keeps a majority must
//! not be deposed; and every run must stay safe and linearizable.
//! `SYNOD_SIM_SEEDS` raises the number of seeds per scenario (default 100);
//! `synod sim --availability --seeds 1000` prints the full table.

use synod_paxos::Mutation;
use synod_sim::availability::{run_availability, summarize, Scenario};

const SEEDS_DEFAULT: u64 = 100;
/// The broken variant must be caught within this many seeds.
const MUTATION_SEEDS_MAX: u64 = 100;

fn seeds() -> u64 {
    synod_sim::seeds_from_env(SEEDS_DEFAULT)
}

fn threads() -> usize {
    synod_sim::threads_default()
}

fn assert_available(nodes: usize) {
    for scenario in Scenario::ALL {
        let summary = summarize(scenario, nodes, 0, seeds(), Mutation::None, threads());
        assert_eq!(summary.seeds, seeds());
        assert!(
            summary.failing.is_empty(),
            "{} at {nodes} nodes: {:?}\n  replay: synod sim --availability --nodes {nodes} --first-seed {} --seeds 1",
            scenario.name(),
            summary.failing,
            summary.failing[0].0,
        );
        eprintln!(
            "{} at {nodes} nodes: worst time to progress {} units, worst gap {} units, \
             progress {} per mille on average",
            scenario.name(),
            summary.time_to_progress_worst_units,
            summary.longest_gap_worst_units,
            summary.progress_mean_per_mille
        );
    }
}

#[test]
fn three_replicas_make_progress_within_two_election_timeouts_of_every_fault() {
    assert_available(3);
}

#[test]
fn five_replicas_make_progress_within_two_election_timeouts_of_every_fault() {
    assert_available(5);
}

#[test]
fn elections_without_pre_vote_are_caught_by_the_availability_check() {
    for mutation in Mutation::UNAVAILABLE {
        let scenario = Scenario::LeaderInboundCut;
        let caught = (0..MUTATION_SEEDS_MAX).find(|seed| {
            !run_availability(scenario, 3, *seed, mutation)
                .violations
                .is_empty()
        });
        let Some(caught) = caught else {
            panic!(
                "{mutation:?} survived {MUTATION_SEEDS_MAX} seeds of {}",
                scenario.name()
            );
        };
        // The control: the correct protocol passes the same seeds.
        for seed in 0..=caught {
            let violations = run_availability(scenario, 3, seed, Mutation::None).violations;
            assert!(violations.is_empty(), "seed {seed}: {violations:?}");
        }
        eprintln!("{mutation:?} caught at seed {caught}");
    }
}
