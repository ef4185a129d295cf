//! One seeded simulation run: a fault phase, then healing, then checks of
//! liveness (every pending operation completes), convergence (every replica
//! applies the same log) and linearizability of the recorded history.

use std::panic::{self, AssertUnwindSafe};

use synod_paxos::{Mutation, NodeId};

use crate::history::check_records;
use crate::network::{MessageFaults, Network};
use crate::world::{Record, World, WorldOptions};

/// The classes of faults a run may inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultSet {
    /// Lose messages.
    pub drop: bool,
    /// Deliver messages twice.
    pub duplicate: bool,
    /// Delay messages widely, so they overtake each other.
    pub reorder: bool,
    /// Full partitions: one node isolated, or the cluster split in two.
    pub partition: bool,
    /// Partial connectivity: the quorum-loss, constrained and chained
    /// scenarios of the OmniPaxos paper.
    pub partial: bool,
    /// Crash and restart any node, losing what was not yet durable.
    pub crash: bool,
    /// Crash the leader while its accepts are leaving (the seeds' example).
    pub leader_crash: bool,
    /// Pause a node (half the time the leader) as SIGSTOP or a long garbage
    /// collection would; it resumes believing what it believed before.
    pub pause: bool,
    /// Disk faults: a crash may tear the write in progress; an fsync may
    /// fail, which stops the node until it is restarted.
    pub disk: bool,
    /// Wall-clock jumps, forward and backward, mostly of the leader's
    /// clock: only the timing of expiry may change.
    pub clock: bool,
}

impl FaultSet {
    /// Every fault class.
    pub const ALL: FaultSet = FaultSet {
        drop: true,
        duplicate: true,
        reorder: true,
        partition: true,
        partial: true,
        crash: true,
        leader_crash: true,
        pause: true,
        disk: true,
        clock: true,
    };

    /// No faults at all.
    pub const NONE: FaultSet = FaultSet {
        drop: false,
        duplicate: false,
        reorder: false,
        partition: false,
        partial: false,
        crash: false,
        leader_crash: false,
        pause: false,
        disk: false,
        clock: false,
    };

    /// The names accepted by [`FaultSet::parse`].
    pub const NAMES: [&'static str; 10] = [
        "drop",
        "duplicate",
        "reorder",
        "partition",
        "partial",
        "crash",
        "leader-crash",
        "pause",
        "disk",
        "clock",
    ];

    /// Parses a comma-separated list of class names, `all` or `none`.
    pub fn parse(text: &str) -> Result<FaultSet, String> {
        let mut set = FaultSet::NONE;
        for name in text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            match name {
                "all" => set = FaultSet::ALL,
                "none" => {}
                "drop" => set.drop = true,
                "duplicate" => set.duplicate = true,
                "reorder" => set.reorder = true,
                "partition" => set.partition = true,
                "partial" => set.partial = true,
                "crash" => set.crash = true,
                "leader-crash" => set.leader_crash = true,
                "pause" => set.pause = true,
                "disk" => set.disk = true,
                "clock" => set.clock = true,
                other => {
                    return Err(format!(
                        "unknown fault class {other:?}; known: all, none, {}",
                        FaultSet::NAMES.join(", ")
                    ))
                }
            }
        }
        Ok(set)
    }

    /// The canonical comma-separated form, for replay commands.
    pub fn describe(&self) -> String {
        let flags = [
            self.drop,
            self.duplicate,
            self.reorder,
            self.partition,
            self.partial,
            self.crash,
            self.leader_crash,
            self.pause,
            self.disk,
            self.clock,
        ];
        if flags.iter().all(|flag| *flag) {
            return "all".into();
        }
        let names: Vec<&str> = FaultSet::NAMES
            .iter()
            .zip(flags)
            .filter(|(_, on)| *on)
            .map(|(name, _)| *name)
            .collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(",")
        }
    }
}

/// Settings of a simulation run.
#[derive(Clone, Debug)]
pub struct SimulationOptions {
    /// Replicas.
    pub nodes: usize,
    /// Clients.
    pub clients: usize,
    /// Distinct keys.
    pub keys: usize,
    /// Fault classes to inject.
    pub faults: FaultSet,
    /// Length of the fault phase in time units.
    pub fault_phase_units: u64,
    /// After healing, every pending operation must complete within this.
    pub liveness_units_max: u64,
    /// Broken protocol variant (mutation tests).
    pub mutation: Mutation,
    /// Record a readable trace.
    pub trace: bool,
    /// Run with the leader lease and drifting clocks (see
    /// [`WorldOptions::lease`]).
    pub lease: bool,
    /// Add the rights workload (see [`WorldOptions::access`]).
    pub access: bool,
    /// Membership changes: `nodes` voters start, two more nodes join (as
    /// learners, then voters) during the first half of the fault phase,
    /// and during the second half the cluster shrinks back to `nodes`
    /// voters, chosen at random (the leader among those removed, often).
    pub membership: bool,
}

/// Nodes that join during a run with membership changes.
pub const MEMBERSHIP_SPARE_NODES: usize = 2;

impl Default for SimulationOptions {
    fn default() -> SimulationOptions {
        SimulationOptions {
            nodes: 3,
            clients: 4,
            keys: 3,
            faults: FaultSet::ALL,
            fault_phase_units: 4_000,
            liveness_units_max: 5_000,
            mutation: Mutation::None,
            trace: false,
            lease: false,
            access: false,
            membership: false,
        }
    }
}

/// What one seed produced.
#[derive(Debug)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// Every violation found (safety, liveness, linearizability, panics).
    pub violations: Vec<String>,
    /// Client operations recorded and checked.
    pub operations_checked: usize,
    /// Reads given their read index under the leader lease.
    pub reads_served_under_lease: u64,
    /// The epoch of the newest configuration at the end (the number of
    /// changes that took effect).
    pub configuration_epoch: u64,
    /// Leader transfers started by the operator.
    pub leader_transfers: u64,
    /// Snapshots replicas received from peers and installed.
    pub snapshots_installed: u64,
    /// The recorded history.
    pub history: Vec<Record>,
    /// The event trace, when asked for.
    pub trace: Vec<String>,
}

/// Odd seeds split snapshot transfers into chunks of 16 bytes (the
/// workload's snapshots are 40 to 120 bytes), so that faults land between
/// chunks: a sender that compacts again, a partition, a crash midway. Even
/// seeds send each snapshot in one chunk, as a server does a small state.
fn snapshot_chunk_size_for(seed: u64) -> u64 {
    const SMALL_CHUNK_SIZE_BYTES: u64 = 16;
    if seed % 2 == 1 {
        SMALL_CHUNK_SIZE_BYTES
    } else {
        synod_paxos::SNAPSHOT_CHUNK_SIZE_MAX_BYTES_DEFAULT
    }
}

/// Runs one seed; a panic in any component is reported as a violation.
pub fn run_seed(seed: u64, options: &SimulationOptions) -> SeedOutcome {
    let result = panic::catch_unwind(AssertUnwindSafe(|| run_seed_unguarded(seed, options)));
    match result {
        Ok(outcome) => outcome,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            SeedOutcome {
                seed,
                violations: vec![format!("panic: {message}")],
                operations_checked: 0,
                reads_served_under_lease: 0,
                configuration_epoch: 0,
                leader_transfers: 0,
                snapshots_installed: 0,
                history: Vec::new(),
                trace: Vec::new(),
            }
        }
    }
}

/// The text a caught panic carried.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|text| text.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

/// Where the partition schedule stands.
enum Connectivity {
    Healthy,
    Degraded { until: u64 },
}

fn run_seed_unguarded(seed: u64, options: &SimulationOptions) -> SeedOutcome {
    let spare_nodes = if options.membership {
        MEMBERSHIP_SPARE_NODES
    } else {
        0
    };
    let world_options = WorldOptions {
        nodes: options.nodes + spare_nodes,
        initial_voters: options.membership.then_some(options.nodes),
        clients: options.clients,
        keys: options.keys,
        mutation: options.mutation,
        trace: options.trace,
        disk_faults: options.faults.disk,
        lease: options.lease,
        access: options.access,
        snapshot_chunk_size_max_bytes: snapshot_chunk_size_for(seed),
        ..WorldOptions::default()
    };
    let mut world = World::new(seed, world_options);
    let faults = options.faults;
    let fault_rates = MessageFaults {
        drop_per_mille: if faults.drop { 50 } else { 0 },
        duplicate_per_mille: if faults.duplicate { 30 } else { 0 },
        delay_max_units: if faults.reorder { 40 } else { 5 },
    };
    world.network.faults = fault_rates;
    world.attempts_max = Some(4);
    world.leader_crash_per_mille = if faults.leader_crash { 15 } else { 0 };
    let members = world.members();
    let mut restarts: Vec<(u64, NodeId)> = Vec::new();
    let mut connectivity = Connectivity::Healthy;
    let mut next_partition = 200 + world.rng().below(800);
    if options.membership {
        world.set_membership_target(Some(members.iter().copied().collect()));
    }

    while world.now < options.fault_phase_units {
        let now = world.now;
        if options.membership && now == options.fault_phase_units / 2 {
            let mut shrunk = members.clone();
            world.rng().shuffle(&mut shrunk);
            if let Some(leader) = world.leader() {
                // Remove the leader half the time.
                shrunk.retain(|node| *node != leader);
                if world.rng().chance(1, 2) {
                    shrunk.insert(0, leader);
                }
            }
            shrunk.truncate(options.nodes);
            world.set_membership_target(Some(shrunk.into_iter().collect()));
        }
        // Crashes and restarts of any node (sometimes several at once).
        if faults.crash && world.rng().chance(1, 700) {
            let victim = members[world.rng().below(members.len() as u64) as usize];
            if !world.is_crashed(victim) {
                world.crash(victim);
                let downtime = world.rng().between(50, 1_500);
                restarts.push((now + downtime, victim));
            }
        }
        if faults.pause && world.rng().chance(1, 700) {
            let victim = match world.leader() {
                Some(leader) if world.rng().chance(1, 2) => leader,
                _ => members[world.rng().below(members.len() as u64) as usize],
            };
            if !world.is_paused(victim) {
                let units = world.rng().between(50, 1_500);
                world.pause(victim, units);
            }
        }
        if faults.clock && world.rng().chance(1, 300) {
            // Mostly the leader's: its clock stamps the batches.
            let victim = match world.leader() {
                Some(leader) if world.rng().chance(3, 4) => leader,
                _ => members[world.rng().below(members.len() as u64) as usize],
            };
            let size = world.rng().between(50, 3_000) as i64;
            let delta = if world.rng().chance(1, 2) {
                size
            } else {
                -size
            };
            world.jump_clock(victim, delta);
        }
        {
            // Restart nodes that other faults took down: leaders crashed mid
            // phase 2, nodes stopped by a disk error.
            for node in &members {
                let restart_scheduled = restarts.iter().any(|(_, id)| id == node);
                if world.is_crashed(*node) && !restart_scheduled {
                    let downtime = world.rng().between(50, 800);
                    restarts.push((now + downtime, *node));
                }
            }
        }
        restarts.retain(|(at, node)| {
            if *at <= now {
                world.restart(*node);
                false
            } else {
                true
            }
        });
        // Partitions, full and partial.
        if (faults.partition || faults.partial) && now >= next_partition {
            match connectivity {
                Connectivity::Degraded { until } if now >= until => {
                    world.network.heal();
                    connectivity = Connectivity::Healthy;
                    next_partition = now + world.rng().between(100, 1_000);
                }
                Connectivity::Degraded { .. } => {}
                Connectivity::Healthy => {
                    let kind = choose_partition(&mut world, faults);
                    apply_partition(&mut world, &members, kind);
                    let until = now + world.rng().between(200, 1_500);
                    connectivity = Connectivity::Degraded { until };
                    next_partition = until;
                }
            }
        }
        world.step();
    }

    let violations = heal_and_check(&mut world, options.liveness_units_max);
    SeedOutcome {
        seed,
        violations,
        operations_checked: world.history.len(),
        reads_served_under_lease: world.reads_served_under_lease(),
        configuration_epoch: world
            .newest_configuration()
            .map_or(0, |config| config.epoch),
        leader_transfers: world.leader_transfers,
        snapshots_installed: world.snapshots_installed,
        history: std::mem::take(&mut world.history),
        trace: std::mem::take(&mut world.trace),
    }
}

/// Heals every fault, stops new client operations, and checks that every
/// pending operation completes (liveness), that the replicas converge, and
/// that the history is linearizable. Returns every violation found in the
/// whole run.
pub(crate) fn heal_and_check(world: &mut World, liveness_units_max: u64) -> Vec<String> {
    let members = world.members();
    world.network.heal();
    world.network.faults = MessageFaults {
        drop_per_mille: 0,
        duplicate_per_mille: 0,
        delay_max_units: 5,
    };
    world.leader_crash_per_mille = 0;
    world.fsync_failure_per_mille = 0;
    for node in &members {
        world.restart(*node);
    }
    world.clients_active = false;
    world.attempts_max = None;
    let all_done = run_healed_until(world, liveness_units_max, |world| world.busy_clients() == 0);
    if !all_done {
        let busy = world.busy_clients();
        world.violations.push(format!(
            "liveness: {busy} client operations still pending {liveness_units_max} units after the faults healed"
        ));
    }
    if !run_healed_until(world, liveness_units_max, World::membership_settled) {
        world.violations.push(format!(
            "membership: the target configuration is not in force {liveness_units_max} units after the clients finished"
        ));
    }
    if !run_healed_until(world, liveness_units_max, World::replicas_converged) {
        world.violations.push(format!(
            "convergence: replicas still apply different logs {liveness_units_max} units after the clients finished"
        ));
    }
    if !run_healed_until(
        world,
        liveness_units_max,
        World::replicas_applied_everything_decided,
    ) {
        world.violations.push(format!(
            "convergence: a member has not applied every decided slot {liveness_units_max} units after the clients finished"
        ));
    }
    world.check_governing_quorums();
    let mut violations = std::mem::take(&mut world.violations);
    violations.extend(check_records(
        &world.history,
        world.counter_value(),
        world.balances_sum(),
    ));
    violations
}

/// Runs the healed world until `done` holds or `units_max` pass; returns
/// whether it holds. An fsync failure armed before the heal may still stop
/// a node: the operator restarts every stopped node at each step.
fn run_healed_until(world: &mut World, units_max: u64, done: impl Fn(&World) -> bool) -> bool {
    let members = world.members();
    let started = world.now;
    while !done(world) && world.now - started < units_max {
        for node in &members {
            world.restart(*node);
        }
        world.step();
    }
    done(world)
}

#[derive(Clone, Copy, Debug)]
enum Partition {
    IsolateOne,
    Split,
    QuorumLoss,
    Constrained,
    Chained,
}

fn choose_partition(world: &mut World, faults: FaultSet) -> Partition {
    let mut kinds = Vec::new();
    if faults.partition {
        kinds.extend([Partition::IsolateOne, Partition::Split]);
    }
    if faults.partial {
        kinds.extend([
            Partition::QuorumLoss,
            Partition::Constrained,
            Partition::Chained,
        ]);
    }
    kinds[world.rng().below(kinds.len() as u64) as usize]
}

fn apply_partition(world: &mut World, members: &[NodeId], kind: Partition) {
    let count = members.len();
    let mut order = members.to_vec();
    // Put the current leader first so that the scenarios hit it.
    if let Some(leader) = world.leader() {
        order.retain(|node| *node != leader);
        order.insert(0, leader);
    }
    // Shuffle the rest.
    world.rng().shuffle(&mut order[1..]);
    let mut links = Vec::new();
    match kind {
        Partition::IsolateOne => {
            // Half the time the leader: a deposed leader that still
            // believes it leads is where stale reads would come from.
            let victim = if world.rng().chance(1, 2) {
                order[0]
            } else {
                order[world.rng().below(count as u64) as usize]
            };
            for first in &order {
                for second in &order {
                    if first < second && *first != victim && *second != victim {
                        links.push((*first, *second));
                    }
                }
            }
        }
        Partition::Split => {
            let minority = 1 + world.rng().below((count / 2).max(1) as u64) as usize;
            let (left, right) = order.split_at(minority.min(count));
            for side in [left, right] {
                for first in side {
                    for second in side {
                        if first < second {
                            links.push((*first, *second));
                        }
                    }
                }
            }
        }
        Partition::QuorumLoss => {
            // Everyone reaches only one hub, which is not the leader.
            links = Network::star(&order, order[count - 1]);
        }
        Partition::Constrained => {
            // The leader reaches one follower only; the rest stay connected
            // among themselves.
            let leader = order[0];
            if count > 1 {
                links.push((leader, order[1]));
            }
            for first in &order[1..] {
                for second in &order[1..] {
                    if first < second {
                        links.push((*first, *second));
                    }
                }
            }
        }
        Partition::Chained => links = Network::chain(&order),
    }
    world.network.connect_only(members, &links);
    if world.options().trace {
        let line = format!("t={:>6} PARTITION {kind:?} links {links:?}", world.now);
        world.trace.push(line);
    }
}
