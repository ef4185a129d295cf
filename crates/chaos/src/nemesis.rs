//! The faults: what each nemesis does to the cluster, and how it is undone.
//!
//! A nemesis picks its victims at random (the seeded generator of the run)
//! and, where it matters, aims at the leader on purpose half of the time.
//! Link faults go through the per-link proxies, so one-way cuts are as easy
//! as symmetric ones. Every link fault picks how the link fails: refused
//! (connections reset, new ones refused), stalled (open and frozen, as
//! silent packet loss does to live TCP) or black-holed (accepted, nothing
//! forwarded).

use std::fmt;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use synod_proxy::LinkState;

use crate::cluster::Cluster;
use crate::disk::{self, DiskDamage};

/// Loss probability range of the `loss` nemesis, in percent.
const LOSS_PERCENT_RANGE: std::ops::RangeInclusive<u32> = 5..=30;
/// Added one-way delay range of the `delay` nemesis, in milliseconds.
const DELAY_MILLISECONDS_RANGE: std::ops::RangeInclusive<u64> = 5..=100;

/// A kind of fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Nemesis {
    /// SIGKILL a node (the leader half of the time); restart it at heal.
    Kill,
    /// SIGSTOP a node (the leader half of the time); SIGCONT at heal.
    Pause,
    /// Split the cluster: the leader alone, a random minority, or two
    /// halves joined only through a bridge node.
    Partition,
    /// Partial connectivity from the OmniPaxos paper: quorum-loss,
    /// constrained election, chained.
    Partial,
    /// A node that can send but not receive, or receive but not send.
    OneWay,
    /// Random loss on every link, as TCP sees it: segments retransmitted late.
    Loss,
    /// Added latency on every link, or on one node's links.
    Delay,
    /// On a stopped node: a torn write at the log's tail (must recover), or
    /// a flipped bit mid-log (must refuse to start; then repaired).
    Disk,
    /// Membership changes under load: a spare node joins (learner, then
    /// voter), a voter leaves (the leader half the time), or a voter's
    /// data directory is wiped and it is replaced by a new node.
    Member,
}

impl Nemesis {
    /// Every nemesis, in the order `--nemesis all` lists them.
    pub const ALL: [Nemesis; 9] = [
        Nemesis::Kill,
        Nemesis::Pause,
        Nemesis::Partition,
        Nemesis::Partial,
        Nemesis::OneWay,
        Nemesis::Loss,
        Nemesis::Delay,
        Nemesis::Disk,
        Nemesis::Member,
    ];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Nemesis::Kill => "kill",
            Nemesis::Pause => "pause",
            Nemesis::Partition => "partition",
            Nemesis::Partial => "partial",
            Nemesis::OneWay => "oneway",
            Nemesis::Loss => "loss",
            Nemesis::Delay => "delay",
            Nemesis::Disk => "disk",
            Nemesis::Member => "member",
        }
    }

    /// Parses `kill,pause,…` or `all`.
    ///
    /// # Errors
    ///
    /// An unknown name, or an empty list.
    pub fn parse_list(text: &str) -> Result<Vec<Nemesis>, String> {
        let mut chosen = Vec::new();
        for name in text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            if name == "all" {
                chosen.extend(Nemesis::ALL);
                continue;
            }
            let nemesis = Nemesis::ALL
                .into_iter()
                .find(|nemesis| nemesis.name() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = Nemesis::ALL.iter().map(|n| n.name()).collect();
                    format!("unknown nemesis {name:?}; known: {}, all", known.join(", "))
                })?;
            chosen.push(nemesis);
        }
        chosen.sort();
        chosen.dedup();
        if chosen.is_empty() {
            return Err("no nemesis given".into());
        }
        Ok(chosen)
    }
}

impl fmt::Display for Nemesis {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A fault in force, with what undoes it.
#[derive(Debug)]
pub struct Injected {
    /// The nemesis that did it.
    pub nemesis: Nemesis,
    /// What it did, for a person.
    pub description: String,
    /// The nodes it touched.
    pub nodes: Vec<u64>,
    /// Something that went wrong that must fail the run (a damaged log that
    /// was not refused, say).
    pub finding: Option<String>,
}

/// Injects one fault of `nemesis` into `cluster`.
///
/// # Errors
///
/// The cluster could not be manipulated (a process would not start).
pub fn inject(
    nemesis: Nemesis,
    cluster: &mut Cluster,
    random: &mut StdRng,
) -> Result<Injected, String> {
    let active = cluster.active_ids();
    let leader = cluster.leader();
    let mut injected = Injected {
        nemesis,
        description: String::new(),
        nodes: Vec::new(),
        finding: None,
    };
    match nemesis {
        Nemesis::Kill => {
            let (victim, why) = pick_victim(&active, leader, random);
            cluster.kill(index(victim));
            injected.description = format!("SIGKILL node {victim}{why}");
            injected.nodes = vec![victim];
        }
        Nemesis::Pause => {
            let (victim, why) = pick_victim(&active, leader, random);
            cluster.pause(index(victim));
            injected.description = format!("SIGSTOP node {victim}{why}");
            injected.nodes = vec![victim];
        }
        Nemesis::Partition => partition(cluster, leader, random, &mut injected),
        Nemesis::Partial => partial(cluster, leader, random, &mut injected),
        Nemesis::OneWay => {
            let (victim, why) = pick_victim(&active, leader, random);
            let mode = pick_mode(random);
            if random.random_bool(0.5) {
                cluster.proxies.set_inbound(victim, mode);
                injected.description = format!(
                    "node {victim}{why} sends but receives nothing ({})",
                    mode_name(mode)
                );
            } else {
                cluster.proxies.set_outbound(victim, mode);
                injected.description = format!(
                    "node {victim}{why} receives but sends nothing ({})",
                    mode_name(mode)
                );
            }
            injected.nodes = vec![victim];
        }
        Nemesis::Loss => {
            let percent = random.random_range(LOSS_PERCENT_RANGE);
            cluster.proxies.set_loss_all(f64::from(percent) / 100.0);
            injected.description = format!("{percent} % of segments lost on every link");
            injected.nodes = active.clone();
        }
        Nemesis::Delay => {
            let milliseconds = random.random_range(DELAY_MILLISECONDS_RANGE);
            let delay = std::time::Duration::from_millis(milliseconds);
            if random.random_bool(0.5) {
                cluster.proxies.set_delay_all(delay);
                injected.description = format!("{milliseconds} ms added on every link");
                injected.nodes = active.clone();
            } else {
                let (victim, why) = pick_victim(&active, leader, random);
                for other in active.iter().copied().filter(|other| *other != victim) {
                    cluster.proxies.set_delay(victim, other, delay);
                    cluster.proxies.set_delay(other, victim, delay);
                }
                injected.description =
                    format!("{milliseconds} ms added on the links of node {victim}{why}");
                injected.nodes = vec![victim];
            }
        }
        Nemesis::Disk => {
            let victim = active[random.random_range(0..active.len())];
            cluster.kill(index(victim));
            let damage = if random.random_bool(0.5) {
                DiskDamage::TornTail
            } else {
                DiskDamage::FlippedBit
            };
            let outcome = disk::damage_and_check(cluster, index(victim), damage, random)?;
            injected.description = format!("node {victim} stopped; {}", outcome.description);
            injected.finding = outcome.finding;
            injected.nodes = vec![victim];
        }
        Nemesis::Member => crate::membership::change(cluster, leader, random, &mut injected)?,
    }
    Ok(injected)
}

/// Undoes every fault: links up with no delay or loss, paused nodes
/// continued, stopped nodes started.
///
/// # Errors
///
/// A node cannot be restarted, or exited by itself.
pub fn heal(cluster: &mut Cluster) -> Result<(), String> {
    cluster.proxies.heal();
    cluster.heal_processes()
}

fn index(node: u64) -> usize {
    usize::try_from(node - 1).expect("node ids are small")
}

/// The leader half of the time (when one is known), otherwise any of
/// `active`.
pub fn pick_victim(
    active: &[u64],
    leader: Option<u64>,
    random: &mut StdRng,
) -> (u64, &'static str) {
    match leader {
        Some(leader) if active.contains(&leader) && random.random_bool(0.5) => {
            (leader, " (the leader)")
        }
        _ => {
            let victim = active[random.random_range(0..active.len())];
            let why = if Some(victim) == leader {
                " (the leader)"
            } else {
                ""
            };
            (victim, why)
        }
    }
}

fn pick_mode(random: &mut StdRng) -> LinkState {
    [LinkState::Refused, LinkState::Stalled, LinkState::BlackHole][random.random_range(0..3)]
}

fn mode_name(mode: LinkState) -> &'static str {
    match mode {
        LinkState::Up => "up",
        LinkState::Stalled => "stalled",
        LinkState::Refused => "refused",
        LinkState::BlackHole => "black hole",
    }
}

/// Cuts both directions between every node of `left` and every node of
/// `right`.
fn cut_between(cluster: &Cluster, left: &[u64], right: &[u64], mode: LinkState) {
    for one in left {
        for other in right {
            cluster.proxies.set(*one, *other, mode);
            cluster.proxies.set(*other, *one, mode);
        }
    }
}

/// Leaves only the links in `kept` (pairs, both directions) up among
/// `active`.
fn keep_only(cluster: &Cluster, active: &[u64], kept: &[(u64, u64)], mode: LinkState) {
    for (position, one) in active.iter().copied().enumerate() {
        for other in active[position + 1..].iter().copied() {
            let is_kept = kept.contains(&(one, other)) || kept.contains(&(other, one));
            if !is_kept {
                cluster.proxies.set(one, other, mode);
                cluster.proxies.set(other, one, mode);
            }
        }
    }
}

fn others(active: &[u64], except: &[u64]) -> Vec<u64> {
    active
        .iter()
        .copied()
        .filter(|node| !except.contains(node))
        .collect()
}

fn partition(cluster: &Cluster, leader: Option<u64>, random: &mut StdRng, injected: &mut Injected) {
    let active = cluster.active_ids();
    let size = active.len() as u64;
    let mode = pick_mode(random);
    let shape = random.random_range(0..3);
    let (left, right, what) = match (shape, leader) {
        (0, Some(leader)) if active.contains(&leader) => (
            vec![leader],
            others(&active, &[leader]),
            "the leader isolated",
        ),
        (2, _) => {
            // Two halves that only a bridge node joins: both halves can
            // reach a majority only through it.
            let mut nodes: Vec<u64> = active.clone();
            nodes.shuffle(random);
            let bridge = nodes.pop().expect("a cluster has nodes");
            let half = nodes.len() / 2;
            let (left, right) = nodes.split_at(half);
            cut_between(cluster, left, right, mode);
            injected.description = format!(
                "{left:?} | {right:?} joined only through bridge node {bridge} ({})",
                mode_name(mode)
            );
            injected.nodes = active.clone();
            return;
        }
        _ => {
            let mut nodes: Vec<u64> = active.clone();
            nodes.shuffle(random);
            let minority = random.random_range(1..=((size as usize - 1) / 2).max(1));
            let (left, right) = nodes.split_at(minority);
            (left.to_vec(), right.to_vec(), "minority | majority")
        }
    };
    cut_between(cluster, &left, &right, mode);
    injected.description = format!("{left:?} | {right:?}, {what} ({})", mode_name(mode));
    injected.nodes = left;
}

fn partial(cluster: &Cluster, leader: Option<u64>, random: &mut StdRng, injected: &mut Injected) {
    let active = cluster.active_ids();
    let mode = pick_mode(random);
    let leader = leader
        .filter(|leader| active.contains(leader))
        .unwrap_or_else(|| active[random.random_range(0..active.len())]);
    let mut followers = others(&active, &[leader]);
    followers.shuffle(random);
    match random.random_range(0..3) {
        0 => {
            // Quorum-loss: every node reaches only one follower, the hub; the
            // leader keeps a link but loses its quorum, and only the hub
            // can gather one.
            let hub = followers[0];
            let kept: Vec<(u64, u64)> = others(&active, &[hub])
                .into_iter()
                .map(|node| (hub, node))
                .collect();
            keep_only(cluster, &active, &kept, mode);
            injected.description = format!(
                "quorum-loss: only hub node {hub} reaches everyone, leader {leader} reaches only it ({})",
                mode_name(mode)
            );
            injected.nodes = vec![hub, leader];
        }
        1 => {
            // Constrained election: the leader is cut off, and among the
            // rest only one follower reaches a majority.
            let chosen = followers[0];
            let mut kept: Vec<(u64, u64)> = Vec::new();
            for other in others(&active, &[leader, chosen]) {
                kept.push((chosen, other));
            }
            keep_only(cluster, &active, &kept, mode);
            injected.description = format!(
                "constrained: leader {leader} cut off, only node {chosen} reaches a majority ({})",
                mode_name(mode)
            );
            injected.nodes = vec![leader, chosen];
        }
        _ => {
            // Chained: the nodes in a line, the leader at one end.
            let mut line = vec![leader];
            line.extend(&followers);
            let kept: Vec<(u64, u64)> = line.windows(2).map(|pair| (pair[0], pair[1])).collect();
            keep_only(cluster, &active, &kept, mode);
            injected.description = format!(
                "chained: {} with the leader at the end ({})",
                line.iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(" - "),
                mode_name(mode)
            );
            injected.nodes = line;
        }
    }
}
