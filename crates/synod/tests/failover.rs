//! Cluster: failover: kill -9 the leader while eight clients write (R=3).
//!
//! Writes must resume on a new leader (the unavailability window is measured
//! and printed), every acknowledged write must be readable afterwards from
//! every node, and the killed node, restarted, must catch up until the
//! leader reports its replication lag as zero, without deposing it.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{check_readable, wait_until, Cluster, Seen, Writers};

const CLIENTS: usize = 8;
/// Writing before the leader is killed.
const WRITING_BEFORE_KILL: Duration = Duration::from_millis(1_500);
/// Writing after the leader is killed.
const WRITING_AFTER_KILL: Duration = Duration::from_secs(4);
/// The acceptance target for the unavailability window.
/// Followers campaign 300–600 ms after the last heartbeat; a pre-vote and a
/// phase 1 add a few milliseconds.
const UNAVAILABILITY_TARGET: Duration = Duration::from_secs(1);
/// The restarted node must catch up within this.
const CATCH_UP_TIME_MAX: Duration = Duration::from_secs(30);

#[test]
fn cluster_failover_kill_the_leader_while_eight_clients_write() {
    let test_started = Instant::now();
    let mut cluster = Cluster::start(3);
    let leader = cluster.wait_for_leader(common::ELECTION_WAIT);
    let writers = Writers::start(&cluster, CLIENTS);

    thread::sleep(WRITING_BEFORE_KILL);
    let killed_at = Instant::now();
    cluster.kill(leader);
    thread::sleep(WRITING_AFTER_KILL);
    let Seen {
        acknowledged: writes,
        refused,
        unknown,
    } = writers.stop();

    // Unavailability: from the kill to the first acknowledgement of a write
    // sent after it; and the longest silence between acknowledgements.
    let resumed = writes
        .iter()
        .filter(|write| write.sent > killed_at)
        .map(|write| write.answered)
        .min()
        .expect("writes resumed after the leader was killed");
    let window = resumed - killed_at;
    let mut answered: Vec<Instant> = writes.iter().map(|write| write.answered).collect();
    answered.sort();
    let longest_gap = answered
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .max()
        .unwrap_or_default();
    let before = writes
        .iter()
        .filter(|write| write.answered < killed_at)
        .count();
    eprintln!(
        "failover: leader n{} killed; writes resumed after {} ms (longest gap between \
         acknowledgements {} ms); {} writes acknowledged ({before} before the kill), {} refused, \
         {unknown} of unknown outcome",
        leader + 1,
        window.as_millis(),
        longest_gap.as_millis(),
        writes.len(),
        refused.len()
    );
    assert!(
        window < UNAVAILABILITY_TARGET,
        "writes resumed only after {window:?} (target {UNAVAILABILITY_TARGET:?})"
    );
    let new_leader = cluster.wait_for_leader(common::ELECTION_WAIT);
    assert_ne!(new_leader, leader);

    for index in cluster.running() {
        check_readable(&cluster, index, &writes, &refused);
    }

    // The killed node comes back from its write-ahead log and catches up on
    // what was decided while it was down.
    cluster.spawn(leader);
    let killed_id = leader as u64 + 1;
    let restarted_at = Instant::now();
    wait_until(CATCH_UP_TIME_MAX, "the restarted node to catch up", || {
        let (Some(leading), Some(restarted)) = (cluster.status(new_leader), cluster.status(leader))
        else {
            return false;
        };
        let lag_zero = leading["members"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|member| member["id"] == killed_id && member["lag"] == 0);
        lag_zero && restarted["applied_index"] == leading["commit_index"]
    });
    // The restarted node's election timeout expires before it hears the
    // new leader, but its pre-vote finds no support: it must not depose a
    // leader that a majority follows.
    assert_eq!(
        cluster.wait_for_leader(common::ELECTION_WAIT),
        new_leader,
        "the rejoining node deposed the leader"
    );
    eprintln!(
        "failover: the restarted node caught up in {} ms",
        restarted_at.elapsed().as_millis()
    );
    check_readable(&cluster, leader, &writes, &refused);
    assert!(test_started.elapsed() < Duration::from_secs(120));
}
