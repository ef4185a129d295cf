//! The `member` nemesis: the cluster's membership changes while the
//! clients run, through the same path an operator takes
//! (`synod_client::membership`, `synod server --join`).
//!
//! Each injection is one of:
//! * **grow**: a spare joins as a learner and is promoted once caught up
//!   (while there are fewer than founders + 2 voters);
//! * **shrink**: a voter is removed, the leader half of the time (while
//!   there are more voters than founders). The removed node must stop by
//!   itself, and must refuse to start again under its old id, saying why;
//! * **replace**: a voter's data directory is wiped. It must refuse to
//!   start (a lost disk), and is removed and replaced by a spare.
//!
//! Any of these that does not happen as it should is a finding.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;
use synod_client::membership::Membership;

use crate::cluster::{index_of, Cluster};
use crate::nemesis::{pick_victim, Injected};

/// Spare nodes prepared per minute of faults when the `member` nemesis
/// runs: each joins at most once (ids are never reused), and about every
/// seventh fault of a run with three nemeses adds one.
pub const SPARE_NODES_PER_MINUTE: u64 = 3;
/// Spare nodes prepared at least, and at most (every pair of nodes has a
/// proxy per direction, so the proxies grow with the square).
pub const SPARE_NODES_RANGE: std::ops::RangeInclusive<u64> = 6..=24;

/// The spares a run of `duration` prepares.
pub fn spares_for(duration: Duration) -> u64 {
    (duration.as_secs().div_ceil(60) * SPARE_NODES_PER_MINUTE)
        .clamp(*SPARE_NODES_RANGE.start(), *SPARE_NODES_RANGE.end())
}
/// How long one membership step may take (a learner's catch-up included).
pub const STEP_TIMEOUT_MILLISECONDS: u64 = 30_000;
/// How long a removed node, or one refused at start, has to exit.
pub const EXIT_WAIT_MILLISECONDS: u64 = 10_000;

/// What a node must say when it is refused as removed.
const REMOVED_WORDS: &str = "under a new id";
/// What a node must say when its disk was lost.
const LOST_DISK_WORDS: &str = "disk was lost";

#[derive(Clone, Copy, Debug)]
enum Change {
    Grow(u64),
    Shrink,
    Replace(u64),
}

/// Makes one membership change; see the module documentation.
///
/// # Errors
///
/// The cluster could not be manipulated (a process would not start).
pub fn change(
    cluster: &mut Cluster,
    leader: Option<u64>,
    random: &mut StdRng,
    injected: &mut Injected,
) -> Result<(), String> {
    let membership = || {
        Membership::new(
            cluster.admin_endpoints(),
            Duration::from_millis(STEP_TIMEOUT_MILLISECONDS),
        )
    };
    let voters = match voters(&membership()) {
        Ok(voters) => voters,
        Err(problem) => {
            injected.description = "no membership change: the cluster did not answer".into();
            injected.finding = Some(format!("member: {problem}"));
            return Ok(());
        }
    };
    let founders = cluster.founders() as usize;
    let spare = cluster.next_spare();
    let mut choices = Vec::new();
    if let Some(spare) = spare {
        if voters.len() < founders + 2 {
            choices.push(Change::Grow(spare));
        }
        if voters.len() >= 3 {
            choices.push(Change::Replace(spare));
        }
    }
    if voters.len() > founders {
        choices.push(Change::Shrink);
    }
    if choices.is_empty() {
        injected.description = "no membership change left to make (every spare id used)".into();
        return Ok(());
    }
    let outcome = match choices[random.random_range(0..choices.len())] {
        Change::Grow(spare) => grow(cluster, spare, injected),
        Change::Shrink => {
            let (victim, why) = pick_victim(&voters, leader, random);
            shrink(cluster, victim, why, injected)
        }
        Change::Replace(spare) => {
            let victim = voters[random.random_range(0..voters.len())];
            replace(cluster, victim, spare, injected)
        }
    };
    if let Err(problem) = outcome {
        injected.finding = Some(format!("member: {problem}"));
    }
    Ok(())
}

fn voters(membership: &Membership) -> Result<Vec<u64>, String> {
    let view = membership.view().map_err(|failure| failure.to_string())?;
    Ok(view["configuration"]["voters"]
        .as_array()
        .map(|voters| {
            voters
                .iter()
                .filter_map(serde_json::Value::as_u64)
                .collect()
        })
        .unwrap_or_default())
}

fn membership_of(cluster: &Cluster) -> Membership {
    Membership::new(
        cluster.admin_endpoints(),
        Duration::from_millis(STEP_TIMEOUT_MILLISECONDS),
    )
}

/// Adds `spare` as a learner, starts it, promotes it, and waits until the
/// configuration with it is in force.
fn grow(cluster: &mut Cluster, spare: u64, injected: &mut Injected) -> Result<(), String> {
    injected.nodes = vec![spare];
    injected.description = format!("node {spare} joins");
    let before = voters(&membership_of(cluster))?;
    membership_of(cluster)
        .add_learner(spare, &cluster.peer_address(spare))
        .map_err(|failure| format!("adding node {spare}: {failure}"))?;
    cluster.join(spare)?;
    membership_of(cluster)
        .promote(spare)
        .map_err(|failure| format!("promoting node {spare}: {failure}"))?;
    let mut after = before;
    after.push(spare);
    membership_of(cluster)
        .wait_for_voters(&after)
        .map_err(|failure| format!("after node {spare} joined: {failure}"))?;
    injected.description = format!("node {spare} joined as a learner and was promoted to voter");
    Ok(())
}

/// Removes `victim`, checks that it stops by itself and refuses to start
/// again under its id.
fn shrink(
    cluster: &mut Cluster,
    victim: u64,
    why: &str,
    injected: &mut Injected,
) -> Result<(), String> {
    injected.nodes = vec![victim];
    injected.description = format!("node {victim}{why} is removed");
    let before = voters(&membership_of(cluster))?;
    membership_of(cluster)
        .remove(victim)
        .map_err(|failure| format!("removing node {victim}: {failure}"))?;
    let after: Vec<u64> = before.into_iter().filter(|node| *node != victim).collect();
    membership_of(cluster)
        .wait_for_voters(&after)
        .map_err(|failure| format!("after node {victim} was removed: {failure}"))?;
    let index = index_of(victim);
    let wait = Duration::from_millis(EXIT_WAIT_MILLISECONDS);
    let stopped = cluster.wait_for_exit(index, wait).is_some();
    cluster.kill(index);
    if !stopped {
        cluster.retire(index);
        return Err(format!("removed node {victim} did not stop by itself"));
    }
    // Under its old id it must refuse to come back, and say why.
    cluster.spawn(index)?;
    let refused = cluster.wait_for_exit(index, wait).is_some();
    cluster.kill(index);
    cluster.retire(index);
    if !refused {
        return Err(format!(
            "removed node {victim} started again under its old id"
        ));
    }
    if !cluster.log_mentions(index, REMOVED_WORDS) {
        return Err(format!(
            "removed node {victim} refused to start without saying {REMOVED_WORDS:?}"
        ));
    }
    injected.description = format!(
        "node {victim}{why} removed: it stopped by itself and refused to restart under its old id"
    );
    Ok(())
}

/// Wipes `victim`'s data directory, checks that it refuses to start,
/// removes it and adds `spare` in its place.
fn replace(
    cluster: &mut Cluster,
    victim: u64,
    spare: u64,
    injected: &mut Injected,
) -> Result<(), String> {
    injected.nodes = vec![victim, spare];
    injected.description = format!("node {victim}'s data directory is wiped");
    let index = index_of(victim);
    cluster.kill(index);
    let data = cluster.nodes[index].data.clone();
    std::fs::remove_dir_all(&data)
        .map_err(|failure| format!("cannot wipe {}: {failure}", data.display()))?;
    cluster.spawn(index)?;
    let wait = Duration::from_millis(EXIT_WAIT_MILLISECONDS);
    let refused = cluster.wait_for_exit(index, wait).is_some();
    cluster.kill(index);
    cluster.retire(index);
    if !refused {
        return Err(format!("node {victim} started on a wiped data directory"));
    }
    if !cluster.log_mentions(index, LOST_DISK_WORDS) {
        return Err(format!(
            "node {victim} refused its wiped directory without saying {LOST_DISK_WORDS:?}"
        ));
    }
    let before = voters(&membership_of(cluster))?;
    membership_of(cluster)
        .remove(victim)
        .map_err(|failure| format!("removing wiped node {victim}: {failure}"))?;
    let after: Vec<u64> = before.into_iter().filter(|node| *node != victim).collect();
    membership_of(cluster)
        .wait_for_voters(&after)
        .map_err(|failure| format!("after wiped node {victim} was removed: {failure}"))?;
    grow(cluster, spare, injected)?;
    injected.description = format!(
        "node {victim}'s data directory wiped: it refused to start (lost disk), was removed, \
         and node {spare} joined in its place"
    );
    Ok(())
}
