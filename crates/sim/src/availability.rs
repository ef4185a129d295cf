//! Availability under faults, measured: for each fault scenario, how long
//! the cluster goes without completing a client operation, and what share
//! of the fault's time sees progress.
//!
//! A run warms a cluster up under load until a leader serves clients, then
//! injects one fault at a known time and holds it for
//! [`FAULT_DURATION_UNITS`] while ten clients keep working against random
//! nodes. Progress is a client operation that completes successfully; an
//! operation counts only if the attempt that was answered was sent after the
//! fault began, so that answers already on their way do not hide an outage.
//! After the fault the world heals and runs the checks every simulation
//! runs: liveness, convergence and linearizability.
//!
//! Every scenario below leaves at least one replica connected both ways to
//! a majority, so the cluster can always make progress; the bound the tests
//! assert is that it does within two maximum election timeouts
//! ([`AvailabilityBounds`]).

use synod_paxos::{Mutation, NodeId, ELECTION_TIMEOUT_TICKS_DEFAULT};

use crate::network::{MessageFaults, Network};
use crate::run::heal_and_check;
use crate::world::{Completion, World, WorldOptions};

/// How long each fault lasts.
pub const FAULT_DURATION_UNITS: u64 = 1_500;
/// Load and elections before the fault, at most (the run starts the fault
/// as soon as a leader has served a client, after at least
/// [`WARM_UP_UNITS_MIN`]).
const WARM_UP_UNITS_MAX: u64 = 3_000;
/// The cluster runs at least this long before a fault.
const WARM_UP_UNITS_MIN: u64 = 400;
/// The share of time with progress is counted in windows of this length.
pub const PROGRESS_WINDOW_UNITS: u64 = 50;
/// Clients in an availability run.
const CLIENTS: usize = 10;
/// A client gives up on an attempt after this long and retries elsewhere:
/// about one election timeout, as a client with a sensible timeout would.
const ATTEMPT_TIMEOUT_UNITS: u64 = 100;
/// After the faults heal, every pending operation must complete within this.
const LIVENESS_UNITS_MAX: u64 = 5_000;
/// In the constrained scenario, the hub falls behind for this long first.
const HUB_LAG_UNITS: u64 = 500;
/// A partitioned node stays away this long before it rejoins.
const REJOIN_AWAY_UNITS: u64 = 1_000;

/// One fault, injected at a known time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scenario {
    /// Every link into the leader is cut: it sends, it hears nothing.
    LeaderInboundCut,
    /// Every link out of the leader is cut: it hears, nobody hears it.
    LeaderOutboundCut,
    /// Every link into one follower is cut.
    FollowerInboundCut,
    /// Every link out of one follower is cut.
    FollowerOutboundCut,
    /// Every replica reaches only one hub, which is not the leader.
    QuorumLoss,
    /// As quorum-loss, but the hub, the only replica connected to a
    /// majority, first falls behind (cut off while the others write): the
    /// OmniPaxos paper's constrained election, where Raft's log check
    /// deadlocks. A Paxos candidate learns what it lacks from the promises.
    Constrained,
    /// The replicas form a chain with the leader at one end.
    Chained,
    /// The link between the leader and one follower goes down and up at
    /// random intervals.
    FlappingLink,
    /// The leader crashes and restarts a little later.
    LeaderCrashRestart,
    /// A follower cut off for a while rejoins (the fault begins when it
    /// comes back): it must not depose the leader.
    RejoinAfterPartition,
}

impl Scenario {
    /// Every scenario, in table order.
    pub const ALL: [Scenario; 10] = [
        Scenario::LeaderInboundCut,
        Scenario::LeaderOutboundCut,
        Scenario::FollowerInboundCut,
        Scenario::FollowerOutboundCut,
        Scenario::QuorumLoss,
        Scenario::Constrained,
        Scenario::Chained,
        Scenario::FlappingLink,
        Scenario::LeaderCrashRestart,
        Scenario::RejoinAfterPartition,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::LeaderInboundCut => "leader inbound cut",
            Scenario::LeaderOutboundCut => "leader outbound cut",
            Scenario::FollowerInboundCut => "follower inbound cut",
            Scenario::FollowerOutboundCut => "follower outbound cut",
            Scenario::QuorumLoss => "quorum-loss",
            Scenario::Constrained => "constrained",
            Scenario::Chained => "chained",
            Scenario::FlappingLink => "flapping link",
            Scenario::LeaderCrashRestart => "leader crash + restart",
            Scenario::RejoinAfterPartition => "rejoin after partition",
        }
    }

    /// The name on the command line (`synod sim --availability --scenario`).
    pub fn argument(self) -> &'static str {
        match self {
            Scenario::LeaderInboundCut => "leader-inbound-cut",
            Scenario::LeaderOutboundCut => "leader-outbound-cut",
            Scenario::FollowerInboundCut => "follower-inbound-cut",
            Scenario::FollowerOutboundCut => "follower-outbound-cut",
            Scenario::QuorumLoss => "quorum-loss",
            Scenario::Constrained => "constrained",
            Scenario::Chained => "chained",
            Scenario::FlappingLink => "flapping-link",
            Scenario::LeaderCrashRestart => "leader-crash-restart",
            Scenario::RejoinAfterPartition => "rejoin-after-partition",
        }
    }

    /// The scenario named `text` (see [`Scenario::argument`]).
    pub fn parse(text: &str) -> Result<Scenario, String> {
        Scenario::ALL
            .into_iter()
            .find(|scenario| scenario.argument() == text)
            .ok_or_else(|| {
                let known: Vec<&str> = Scenario::ALL.iter().map(|s| s.argument()).collect();
                format!("unknown scenario {text:?}; known: {}", known.join(", "))
            })
    }

    /// True when the fault leaves the leader with a majority that follows
    /// it, so that no leader change is needed: then the leader must stay.
    fn keeps_leader(self, nodes: usize) -> bool {
        match self {
            Scenario::FollowerInboundCut
            | Scenario::FollowerOutboundCut
            | Scenario::RejoinAfterPartition => true,
            // With three nodes the leader keeps one follower in these.
            Scenario::Chained | Scenario::Constrained | Scenario::QuorumLoss => nodes == 3,
            _ => false,
        }
    }
}

/// What the tests and the table hold every run to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvailabilityBounds {
    /// The worst time from the fault's start to the first completed
    /// operation, and the longest stretch without one during the fault.
    pub progress_gap_max_units: u64,
}

impl AvailabilityBounds {
    /// Two maximum election timeouts: a follower waits at most
    /// `2 × timeout − 1` ticks before it campaigns.
    pub fn for_world(options: &WorldOptions) -> AvailabilityBounds {
        let election_timeout_max_ticks = 2 * ELECTION_TIMEOUT_TICKS_DEFAULT - 1;
        AvailabilityBounds {
            progress_gap_max_units: 2 * election_timeout_max_ticks * options.tick_units,
        }
    }
}

/// What one seed of one scenario measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvailabilityOutcome {
    /// The seed.
    pub seed: u64,
    /// From the fault's start to the first completed operation (the whole
    /// fault's length when none completed).
    pub time_to_progress_units: u64,
    /// The same for the first completed write.
    pub write_time_to_progress_units: u64,
    /// The longest stretch of the fault without a completed operation.
    pub longest_gap_units: u64,
    /// Windows of the fault with at least one completed operation, out of
    /// all windows, in per mille.
    pub progress_per_mille: u64,
    /// Times the leading ballot changed during the fault.
    pub leader_changes: u64,
    /// Safety, liveness and linearizability violations, and breaches of
    /// the availability bounds.
    pub violations: Vec<String>,
}

/// Runs `scenario` on `nodes` replicas with `seed`.
pub fn run_availability(
    scenario: Scenario,
    nodes: usize,
    seed: u64,
    mutation: Mutation,
) -> AvailabilityOutcome {
    run(scenario, nodes, seed, mutation, false).0
}

/// Runs `scenario` like [`run_availability`] and also returns a readable
/// trace of every event, to replay a failing seed.
pub fn run_availability_traced(
    scenario: Scenario,
    nodes: usize,
    seed: u64,
    mutation: Mutation,
) -> (AvailabilityOutcome, Vec<String>) {
    run(scenario, nodes, seed, mutation, true)
}

fn run(
    scenario: Scenario,
    nodes: usize,
    seed: u64,
    mutation: Mutation,
    trace: bool,
) -> (AvailabilityOutcome, Vec<String>) {
    let options = WorldOptions {
        nodes,
        clients: CLIENTS,
        keys: 5,
        attempt_timeout_units: ATTEMPT_TIMEOUT_UNITS,
        mutation,
        trace,
        ..WorldOptions::default()
    };
    let bounds = AvailabilityBounds::for_world(&options);
    let mut world = World::new(seed, options);
    world.network.faults = MessageFaults {
        drop_per_mille: 0,
        duplicate_per_mille: 0,
        delay_max_units: 5,
    };
    let mut violations = Vec::new();
    if !warm_up(&mut world) {
        violations.push(format!(
            "no leader served a client within {WARM_UP_UNITS_MAX} units of a fault-free start"
        ));
    }
    // Taken before the fault starts: a crash takes the leader with it.
    let mut leading = world.leader();
    let mut leader_changes = 0;
    let mut fault = Fault::start(&mut world, scenario);
    let fault_start = world.now;
    if trace {
        let line = format!("t={fault_start:>6} FAULT {} begins", scenario.name());
        world.trace.push(line);
    }
    let fault_end = fault_start + FAULT_DURATION_UNITS;
    while world.now < fault_end {
        fault.step(&mut world);
        world.step();
        // The node, not its ballot: a leader that runs phase 1 again above
        // a rejoining acceptor's promise stays the same leader.
        let now_leading = world.leader();
        if now_leading.is_some() && now_leading != leading {
            if leading.is_some() {
                leader_changes += 1;
            }
            leading = now_leading;
        }
    }
    let during_fault: Vec<Completion> = world
        .completions
        .iter()
        .copied()
        .filter(|completion| {
            completion.attempt_sent_units >= fault_start && completion.at_units < fault_end
        })
        .collect();
    let progress: Vec<u64> = during_fault
        .iter()
        .map(|completion| completion.at_units)
        .collect();
    let time_to_progress_units = progress
        .first()
        .map_or(FAULT_DURATION_UNITS, |first| first - fault_start);
    // Reads alone could hide stalled writes: writes get their own clock.
    let write_time_to_progress_units = during_fault
        .iter()
        .find(|completion| completion.is_write)
        .map_or(FAULT_DURATION_UNITS, |first| first.at_units - fault_start);
    let mut longest_gap_units = 0;
    let mut previous = fault_start;
    for at in progress.iter().copied().chain([fault_end]) {
        longest_gap_units = longest_gap_units.max(at - previous);
        previous = at;
    }
    let windows = FAULT_DURATION_UNITS / PROGRESS_WINDOW_UNITS;
    let busy_windows = (0..windows)
        .filter(|window| {
            let start = fault_start + window * PROGRESS_WINDOW_UNITS;
            let end = start + PROGRESS_WINDOW_UNITS;
            progress.iter().any(|at| (start..end).contains(at))
        })
        .count() as u64;
    let progress_per_mille = busy_windows * 1_000 / windows;

    if time_to_progress_units > bounds.progress_gap_max_units {
        violations.push(format!(
            "availability: {time_to_progress_units} units from the fault's start to the first \
             completed operation (bound {})",
            bounds.progress_gap_max_units
        ));
    }
    if write_time_to_progress_units > bounds.progress_gap_max_units {
        violations.push(format!(
            "availability: {write_time_to_progress_units} units from the fault's start to the \
             first completed write (bound {})",
            bounds.progress_gap_max_units
        ));
    }
    if longest_gap_units > bounds.progress_gap_max_units {
        violations.push(format!(
            "availability: {longest_gap_units} units without a completed operation during the \
             fault (bound {})",
            bounds.progress_gap_max_units
        ));
    }
    if scenario.keeps_leader(nodes) && leader_changes > 0 {
        violations.push(format!(
            "availability: the leader changed {leader_changes} times although it kept a majority"
        ));
    }
    if trace {
        let line = format!("t={fault_end:>6} FAULT ends; healing");
        world.trace.push(line);
    }
    violations.extend(heal_and_check(&mut world, LIVENESS_UNITS_MAX));
    let outcome = AvailabilityOutcome {
        seed,
        time_to_progress_units,
        write_time_to_progress_units,
        longest_gap_units,
        progress_per_mille,
        leader_changes,
        violations,
    };
    (outcome, std::mem::take(&mut world.trace))
}

/// Runs until a leader has served a client operation, at least
/// [`WARM_UP_UNITS_MIN`] and at most [`WARM_UP_UNITS_MAX`] units. Returns
/// whether it did.
fn warm_up(world: &mut World) -> bool {
    while world.now < WARM_UP_UNITS_MAX {
        world.step();
        let served = world
            .completions
            .last()
            .is_some_and(|completion| completion.at_units + PROGRESS_WINDOW_UNITS >= world.now);
        if world.now >= WARM_UP_UNITS_MIN && served && world.leader().is_some() {
            return true;
        }
    }
    false
}

/// The running fault: what was cut, and what changes while it lasts.
struct Fault {
    /// A flapping link and when it next changes.
    flapping: Option<(NodeId, NodeId, u64)>,
    /// A crashed node and when it restarts.
    restart: Option<(NodeId, u64)>,
}

impl Fault {
    fn start(world: &mut World, scenario: Scenario) -> Fault {
        let members = world.members();
        let leader = world.leader().expect("the warm-up ends with a leader");
        let mut others: Vec<NodeId> = members
            .iter()
            .copied()
            .filter(|node| *node != leader)
            .collect();
        world.rng().shuffle(&mut others);
        let follower = others[0];
        let mut fault = Fault {
            flapping: None,
            restart: None,
        };
        let victim = match scenario {
            Scenario::LeaderInboundCut | Scenario::LeaderOutboundCut => leader,
            _ => follower,
        };
        let network = &mut world.network;
        match scenario {
            Scenario::LeaderInboundCut | Scenario::FollowerInboundCut => {
                for other in members.iter().filter(|node| **node != victim) {
                    network.set_direction(*other, victim, false);
                }
            }
            Scenario::LeaderOutboundCut | Scenario::FollowerOutboundCut => {
                for other in members.iter().filter(|node| **node != victim) {
                    network.set_direction(victim, *other, false);
                }
            }
            Scenario::QuorumLoss => {
                network.connect_only(&members, &Network::star(&members, follower));
            }
            Scenario::Constrained => {
                network.isolate(&members, follower);
                world.run_for(HUB_LAG_UNITS);
                let star = Network::star(&members, follower);
                world.network.connect_only(&members, &star);
            }
            Scenario::Chained => {
                let chain: Vec<NodeId> = std::iter::once(leader).chain(others).collect();
                network.connect_only(&members, &Network::chain(&chain));
            }
            Scenario::FlappingLink => {
                network.set_link(leader, follower, false);
                let next = world.now + flap_interval(world);
                fault.flapping = Some((leader, follower, next));
            }
            Scenario::LeaderCrashRestart => {
                world.crash(leader);
                let downtime = world.rng().between(100, 600);
                fault.restart = Some((leader, world.now + downtime));
            }
            Scenario::RejoinAfterPartition => {
                network.isolate(&members, follower);
                world.run_for(REJOIN_AWAY_UNITS);
                world.network.heal();
            }
        }
        fault
    }

    /// Changes what changes while the fault lasts.
    fn step(&mut self, world: &mut World) {
        if let Some((first, second, next)) = self.flapping {
            if world.now >= next {
                let up = !world.network.is_connected(first, second);
                world.network.set_link(first, second, up);
                let next = world.now + flap_interval(world);
                self.flapping = Some((first, second, next));
            }
        }
        if let Some((node, at)) = self.restart {
            if world.now >= at {
                world.restart(node);
                self.restart = None;
            }
        }
    }
}

/// A flapping link changes state after 2 to 30 ticks: sometimes faster
/// than heartbeats, sometimes as slow as elections.
fn flap_interval(world: &mut World) -> u64 {
    let tick_units = world.options().tick_units;
    world.rng().between(2 * tick_units, 30 * tick_units)
}

/// The table row of one scenario over many seeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioSummary {
    /// The scenario.
    pub scenario: Scenario,
    /// Replicas.
    pub nodes: usize,
    /// Seeds run.
    pub seeds: u64,
    /// The worst time to progress.
    pub time_to_progress_worst_units: u64,
    /// The median time to progress.
    pub time_to_progress_median_units: u64,
    /// The worst time to the first completed write.
    pub write_time_to_progress_worst_units: u64,
    /// The worst longest stretch without progress.
    pub longest_gap_worst_units: u64,
    /// The mean share of the fault's windows with progress, per mille.
    pub progress_mean_per_mille: u64,
    /// The lowest share of windows with progress of any seed, per mille.
    pub progress_worst_per_mille: u64,
    /// The most leader changes in one seed.
    pub leader_changes_max: u64,
    /// Seeds with a violation, with the first violation of each.
    pub failing: Vec<(u64, String)>,
}

/// Runs seeds `first..first + count` of `scenario` on `threads` threads.
pub fn summarize(
    scenario: Scenario,
    nodes: usize,
    first: u64,
    count: u64,
    mutation: Mutation,
    threads: usize,
) -> ScenarioSummary {
    let outcomes = crate::for_each_seed(first, count, threads, |seed| {
        run_guarded(scenario, nodes, seed, mutation)
    });
    let mut times: Vec<u64> = outcomes
        .iter()
        .map(|outcome| outcome.time_to_progress_units)
        .collect();
    times.sort_unstable();
    let seeds = outcomes.len() as u64;
    let values = |measure: fn(&AvailabilityOutcome) -> u64| outcomes.iter().map(measure);
    ScenarioSummary {
        scenario,
        nodes,
        seeds,
        time_to_progress_worst_units: times.last().copied().unwrap_or(0),
        time_to_progress_median_units: times.get(times.len() / 2).copied().unwrap_or(0),
        write_time_to_progress_worst_units: values(|outcome| outcome.write_time_to_progress_units)
            .max()
            .unwrap_or(0),
        longest_gap_worst_units: values(|outcome| outcome.longest_gap_units)
            .max()
            .unwrap_or(0),
        progress_mean_per_mille: values(|outcome| outcome.progress_per_mille).sum::<u64>()
            / seeds.max(1),
        progress_worst_per_mille: values(|outcome| outcome.progress_per_mille)
            .min()
            .unwrap_or(0),
        leader_changes_max: values(|outcome| outcome.leader_changes).max().unwrap_or(0),
        failing: outcomes
            .iter()
            .filter_map(|outcome| {
                outcome
                    .violations
                    .first()
                    .map(|violation| (outcome.seed, violation.clone()))
            })
            .collect(),
    }
}

/// Runs one seed; a panic is reported as a violation.
fn run_guarded(
    scenario: Scenario,
    nodes: usize,
    seed: u64,
    mutation: Mutation,
) -> AvailabilityOutcome {
    let result = std::panic::catch_unwind(|| run_availability(scenario, nodes, seed, mutation));
    result.unwrap_or_else(|payload| {
        let message = crate::run::panic_message(payload.as_ref());
        AvailabilityOutcome {
            seed,
            time_to_progress_units: FAULT_DURATION_UNITS,
            write_time_to_progress_units: FAULT_DURATION_UNITS,
            longest_gap_units: FAULT_DURATION_UNITS,
            progress_per_mille: 0,
            leader_changes: 0,
            violations: vec![format!("panic: {message}")],
        }
    })
}
