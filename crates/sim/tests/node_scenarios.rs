//! Named scenarios of the node around the core: how a write or read sent to
//! any node is routed, refused, confirmed and answered. Each was a defect
//! found on the real binary (a new user's view) and fails without its fix.

use bytes::Bytes;
use synod_kv::Response;
use synod_node::{RequestError, RequestResult};
use synod_paxos::{Config, Mutation, NodeId, Role};
use synod_sim::harness::{between, of_kind, Harness};

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

/// A found value, as a read answers it.
fn value(text: &str) -> Response {
    Response::Value(Some(Bytes::copy_from_slice(text.as_bytes())))
}

/// Regression: a follower learned a commit only from the leader's next
/// heartbeat, so a write through a follower took a heartbeat interval
/// (50 ms on the server) where one through the leader took a round trip.
#[test]
fn a_write_through_a_follower_is_answered_without_waiting_for_a_heartbeat() {
    let mut cluster = Harness::new(3, 101);
    cluster.elect(N1);
    let write = cluster.set(N2, "x", "1");
    // Every message is delivered; no node ticks, so no heartbeat is sent.
    cluster.stabilize();
    assert_eq!(cluster.answer(write), Some(&Ok(Response::Stored(true))));
    assert_eq!(cluster.applied_commands(N3), ["x=1"]);
}

/// Regression: the leader refused a forwarded write (its queue was full)
/// and reported the refusal to itself, where no client waited; the
/// follower's client heard "outcome unknown" only at the write timeout,
/// for a write that certainly did not happen.
#[test]
fn a_forwarded_write_the_leader_refuses_is_answered_where_its_client_waits() {
    fn one_slot_one_queued(config: &mut Config) {
        config.pipeline_slots_max = 1;
        config.batch_commands_max = 1;
        config.proposals_queued_max = 1;
    }
    let mut cluster = Harness::with_config(3, 102, one_slot_one_queued);
    cluster.elect(N1);
    // The leader's only slot is in flight and its queue is full.
    cluster.set(N1, "a", "1");
    cluster.set(N1, "b", "2");
    let refused = cluster.set(N2, "c", "3");
    cluster.deliver(|envelope| between(N2, N1)(envelope) && of_kind("forward")(envelope));
    cluster.deliver(|envelope| envelope.to == N2 && of_kind("forward-rejected")(envelope));
    assert_eq!(
        cluster.answer(refused),
        Some(&Err(RequestError::Overloaded))
    );
    cluster.stabilize();
    cluster.run(2);
    assert_eq!(cluster.applied_commands(N2), ["a=1", "b=2"]);
}

/// Regression: the read limit counted only reads waiting for a leader and
/// reads confirmed, not the batches a follower forwarded nor the reads a
/// leader confirms for its followers, so forwarded reads bypassed it.
#[test]
fn every_read_a_node_holds_counts_against_its_read_limit() {
    fn two_reads(config: &mut Config) {
        config.reads_pending_max = 2;
    }
    let mut cluster = Harness::with_config(3, 103, two_reads);
    cluster.elect(N1);
    // N2 forwards each read to the leader; nothing reaches it yet.
    let follower_reads: Vec<_> = (0..4).map(|_| cluster.get(N2, "x")).collect();
    let overloaded = follower_reads
        .iter()
        .filter(|read| cluster.answer(**read) == Some(&Err(RequestError::Overloaded)))
        .count();
    assert_eq!(overloaded, 2, "a follower counts the reads it forwarded");
    // The leader takes N2's two reads, which fill its limit; N3's is refused.
    let third = cluster.get(N3, "x");
    cluster.deliver(|envelope| envelope.to == N1 && of_kind("read-index-request")(envelope));
    cluster.deliver(|envelope| envelope.to == N3 && of_kind("read-index-rejected")(envelope));
    assert_eq!(
        cluster.answer(third),
        Some(&Err(RequestError::Overloaded)),
        "a leader counts the reads its followers forwarded"
    );
    cluster.stabilize();
    for read in follower_reads {
        assert!(cluster.answer(read).is_some(), "every read is answered");
    }
}

/// Regression: reads a follower forwarded to a leader that then froze
/// waited for the whole request timeout (2 s on the server), though a new
/// leader was known after half a second; writes already failed fast.
#[test]
fn a_read_forwarded_to_a_leader_that_froze_is_sent_to_the_next_leader() {
    let mut cluster = Harness::new(3, 104);
    cluster.elect(N1);
    cluster.set(N1, "x", "1");
    cluster.run(2);
    let read = cluster.get(N3, "x");
    // N1 freezes with the read request on its way: nothing reaches it.
    cluster.isolated.insert(N1);
    cluster.elect(N2);
    cluster.stabilize();
    assert_eq!(cluster.replica(N3).leader(), Some(N2));
    assert_eq!(
        cluster.answer(read),
        Some(&Ok(value("1"))),
        "re-sent to the new leader as soon as it was known"
    );
}

/// Found while fixing the first scenario: a leader counted its own
/// acceptance of a slot before it was durable, and announced the decision
/// to its followers. If it then crashed and lost that write, a follower
/// had applied a value that no majority had durably accepted, and a new
/// leader could decide another one in the same slot.
#[test]
fn a_leader_announces_a_decision_only_once_its_own_acceptance_is_durable() {
    let mut cluster = Harness::new(3, 105);
    cluster.elect(N1);
    // N1's disk is slow: its writes wait. Its accept reaches N2 only.
    cluster.holding_writes.insert(N1);
    cluster.set(N1, "x", "1");
    cluster.drop_where(|envelope| between(N1, N3)(envelope) && of_kind("accept")(envelope));
    cluster.deliver(|envelope| between(N1, N2)(envelope) && of_kind("accept")(envelope));
    cluster.deliver(between(N2, N1));
    // A heartbeat interval passes on N1; N2 hears whatever N1 sends.
    let interval = cluster.replica(N1).config().heartbeat_interval_ticks;
    for _ in 0..interval {
        cluster.tick(N1);
    }
    cluster.deliver(between(N1, N2));
    assert!(
        cluster.applied_commands(N2).is_empty(),
        "a decision was announced before the leader's acceptance was durable"
    );
    // N1 crashes, losing the write; N3 leads with N1's promise alone.
    cluster.crash(N1);
    cluster.holding_writes.clear();
    cluster.restart(N1);
    cluster.isolated.insert(N2);
    cluster.elect(N3);
    cluster.set(N3, "x", "2");
    cluster.run(2);
    cluster.isolated.clear();
    cluster.run(3);
    // The harness asserts agreement on every applied slot.
    for node in cluster.members() {
        assert_eq!(cluster.applied_commands(node), ["x=2"], "{node}");
    }
    assert_eq!(cluster.replica(N3).role(), Role::Leader);
}

/// A replica counts its own promise, like its acceptances, only once it is
/// durable. A lone voter that led at once could send Accepts (to learners)
/// under a ballot whose promise a crash then takes back, and reuse that
/// ballot with other values after restarting.
#[test]
fn a_lone_voter_leads_only_once_its_own_promise_is_durable() {
    let mut cluster = Harness::new(1, 110);
    cluster.holding_writes.insert(N1);
    cluster.campaign(N1);
    cluster.run(2);
    assert_ne!(
        cluster.replica(N1).role(),
        Role::Leader,
        "it led on a promise still being written"
    );
    cluster.holding_writes.clear();
    cluster.persist(N1);
    assert_eq!(cluster.replica(N1).role(), Role::Leader);
    let write = cluster.set(N1, "x", "1");
    cluster.run(2);
    assert!(cluster.answer(write).is_some_and(Result::is_ok));
}

/// Found in review: a leader that stepped down handed its queued commands
/// back to itself, forwarded ones included, where no client waited; the
/// follower's client heard "outcome unknown" (or nothing, until the write
/// timeout) for a write that certainly was not proposed.
#[test]
fn a_forwarded_write_still_queued_when_the_leader_steps_down_is_refused_to_its_follower() {
    fn one_slot(config: &mut Config) {
        config.pipeline_slots_max = 1;
        config.batch_commands_max = 1;
    }
    let mut cluster = Harness::with_config(3, 106, one_slot);
    cluster.elect(N1);
    // The leader's only slot is in flight; the forwarded write queues.
    cluster.set(N1, "a", "1");
    let queued = cluster.set(N2, "b", "2");
    cluster.deliver(|envelope| between(N2, N1)(envelope) && of_kind("forward")(envelope));
    // N3 campaigns; its Prepare deposes N1 before N2 hears of N3.
    cluster.campaign(N3);
    cluster.deliver(|envelope| between(N3, N1)(envelope) && of_kind("prepare")(envelope));
    cluster.deliver(|envelope| envelope.to == N2 && of_kind("forward-rejected")(envelope));
    assert!(
        matches!(
            cluster.answer(queued),
            Some(Err(RequestError::NotLeader { .. }))
        ),
        "certainly not applied, and said so: {:?}",
        cluster.answer(queued)
    );
}

/// A stale read, asked for by name, answers at once from what the node
/// applied, even cut off from every other node, where a linearizable read
/// can only wait for a quorum. It never shows an undecided write: a value
/// the leader proposed but no majority accepted is not applied anywhere.
#[test]
fn a_stale_read_answers_from_the_applied_state_without_a_quorum() {
    let mut cluster = Harness::new(3, 109);
    cluster.elect(N1);
    cluster.set(N1, "x", "1");
    cluster.stabilize();
    // N3 is cut off; the others go on and decide x=2 without it.
    cluster.isolated.insert(N3);
    cluster.set(N1, "x", "2");
    cluster.stabilize_except(N3);
    assert_eq!(cluster.applied_commands(N2), ["x=1", "x=2"]);
    let stale = cluster.stale_get(N3, "x");
    assert_eq!(
        cluster.answer(stale),
        Some(&Ok(value("1"))),
        "stale, but decided"
    );
    let linearizable = cluster.get(N3, "x");
    cluster.run(3);
    assert_eq!(cluster.answer(linearizable), None, "no quorum confirms it");
    // A write decided nowhere is never read, stale or not.
    cluster.isolated.clear();
    cluster.isolated.insert(N2);
    cluster.isolated.insert(N3);
    cluster.set(N1, "x", "3");
    cluster.run(3);
    let leader_stale = cluster.stale_get(N1, "x");
    assert_eq!(cluster.answer(leader_stale), Some(&Ok(value("2"))));
    // Writes a read is about are refused as reads.
    let write_as_read = cluster.request(
        N2,
        synod_node::Request::StaleRead(
            synod_kv::Principal::Anonymous,
            synod_kv::Operation::Remove {
                key: Bytes::from_static(b"x"),
            },
        ),
    );
    cluster.collect(N2);
    assert!(matches!(
        cluster.answer(write_as_read),
        Some(Err(RequestError::Invalid { .. }))
    ));
}

/// A follower applies a decision it learns from the leader without waiting
/// for its own write of the same slot: a majority holds the value durably
/// already. Before, it waited, which put one more sync on the path of every
/// write answered by a follower.
#[test]
fn a_follower_answers_a_decided_write_while_its_own_acceptance_is_still_being_written() {
    let mut cluster = Harness::new(3, 106);
    cluster.elect(N1);
    // N2's disk is slow: its writes wait. N1 and N3 decide without it.
    cluster.holding_writes.insert(N2);
    let write = cluster.set(N2, "x", "1");
    cluster.stabilize();
    assert_eq!(cluster.answer(write), Some(&Ok(Response::Stored(true))));
    assert_eq!(cluster.applied_commands(N2), ["x=1"]);
    cluster.persist(N2);
    cluster.holding_writes.clear();
    cluster.stabilize();
    assert_eq!(cluster.applied_commands(N2), ["x=1"], "applied once");
}

/// The longest safe lease for the default election timeout.
fn with_lease(config: &mut Config) {
    config.lease_ticks = synod_paxos::lease_ticks_max(config.election_timeout_ticks);
}

/// A lease as long as if clocks never drifted (the `LeaseIgnoresClockDrift`
/// mutation).
fn with_lease_ignoring_drift(config: &mut Config) {
    with_lease(config);
    config.mutation = Mutation::LeaseIgnoresClockDrift;
}

/// A three-node cluster with a lease, past the quiet period in which a
/// replica that just started promises no one, with `N1` elected.
fn leased_cluster(seed: u64) -> Harness {
    leased_cluster_with(seed, with_lease)
}

fn leased_cluster_with(seed: u64, configure: fn(&mut Config)) -> Harness {
    let mut cluster = Harness::with_config(3, seed, configure);
    let quiet_ticks = cluster.replica(N1).config().election_timeout_ticks;
    for _ in 0..quiet_ticks {
        cluster.tick_all();
    }
    cluster.drop_where(|_| true);
    cluster.elect(N1);
    cluster
}

/// Ticks `N1` through one heartbeat interval and delivers everything: a
/// heartbeat round is acknowledged by both followers.
fn renew_lease(cluster: &mut Harness) {
    renew_lease_of(cluster, N1);
}

fn renew_lease_of(cluster: &mut Harness, leader: NodeId) {
    let interval = cluster.replica(leader).config().heartbeat_interval_ticks;
    for _ in 0..interval {
        cluster.tick(leader);
    }
    cluster.stabilize();
}

/// With the opt-in lease, a leader whose latest heartbeat round a majority
/// acknowledged serves a linearizable read at once, with no round of its
/// own; without it, the same read waits for a round.
#[test]
fn a_leader_holding_a_lease_serves_a_read_without_a_round_of_its_own() {
    let mut cluster = leased_cluster(108);
    cluster.set(N1, "x", "1");
    cluster.stabilize();
    renew_lease(&mut cluster);
    let read = cluster.get(N1, "x");
    assert_eq!(
        cluster.answer(read),
        Some(&Ok(value("1"))),
        "served at once"
    );

    let mut unleased = Harness::new(3, 108);
    unleased.elect(N1);
    unleased.set(N1, "x", "1");
    unleased.stabilize();
    renew_lease(&mut unleased);
    let read = unleased.get(N1, "x");
    assert_eq!(unleased.answer(read), None, "a round must confirm it first");
    unleased.stabilize();
    assert_eq!(unleased.answer(read), Some(&Ok(value("1"))));
}

/// The lease runs from the start of the last acknowledged round: once that
/// long has passed with no acknowledgement, reads wait for a round again.
#[test]
fn a_lease_runs_out_when_no_majority_acknowledges_the_leader_in_time() {
    let mut cluster = leased_cluster(109);
    renew_lease(&mut cluster);
    let lease_ticks = cluster.replica(N1).config().lease_ticks;
    for _ in 0..lease_ticks {
        cluster.tick(N1);
    }
    cluster.drop_where(|_| true);
    let read = cluster.get(N1, "x");
    assert_eq!(cluster.answer(read), None, "the lease ran out");
    // The next round (the one in flight was lost) confirms it.
    renew_lease(&mut cluster);
    assert_eq!(cluster.answer(read), Some(&Ok(Response::Value(None))));
}

/// Under a lease, a follower that hears its leader refuses to promise a
/// candidate, even one that skipped the pre-vote (a pre-vote it granted
/// before it heard the leader): the majority behind the leader's lease
/// must not help anyone else lead before it runs out.
#[test]
fn under_a_lease_a_follower_that_hears_its_leader_promises_no_one_else() {
    let mut cluster = leased_cluster(110);
    // N3 is cut off for an election timeout, so it supports no lease and
    // may campaign; N2 acknowledges N1's round meanwhile.
    cluster.isolated.insert(N3);
    let timeout = cluster.replica(N3).config().election_timeout_ticks;
    for _ in 0..timeout {
        cluster.tick(N3);
    }
    renew_lease(&mut cluster);
    cluster.drop_where(|_| true);
    cluster.isolated.clear();
    let leader_ballot = cluster.replica(N2).promised();
    cluster.campaign(N3);
    assert_eq!(cluster.replica(N3).role(), Role::Candidate, "N3 campaigns");
    assert_eq!(
        cluster.deliver(between(N3, N2)),
        1,
        "its Prepare reaches N2"
    );
    assert_eq!(cluster.replica(N2).promised(), leader_ballot, "no promise");
    // Once an election timeout passes without word from the leader, it
    // promises again.
    cluster.drop_where(|_| true);
    for _ in 0..timeout {
        cluster.tick(N2);
        cluster.tick(N3);
    }
    cluster.drop_where(|_| true);
    cluster.campaign(N3);
    cluster.deliver(between(N3, N2));
    assert!(
        cluster.replica(N2).promised() > leader_ballot,
        "promised N3"
    );
}

/// The clocks at the edge of the drift bound: the leader is cut off, its
/// followers count an election timeout (10 ticks of 9 time units) while
/// the leader's slower clock (ticks of 11 units) counts 8 in the same
/// time, and they elect N3, which takes a write. The leader has not
/// resigned (it heard a majority 8 of its ticks ago, under the election
/// timeout) and is asked a read. Returns the read's answer.
fn read_from_a_slow_leader_after_an_election(configure: fn(&mut Config)) -> Option<RequestResult> {
    let mut cluster = leased_cluster_with(111, configure);
    cluster.set(N1, "x", "1");
    cluster.stabilize();
    renew_lease(&mut cluster);
    cluster.isolated.insert(N1);
    let timeout = cluster.replica(N2).config().election_timeout_ticks;
    let drift = synod_paxos::LEASE_CLOCK_DRIFT_MAX_PERCENT;
    let leader_ticks = timeout * (100 - drift) / (100 + drift);
    for tick in 0..timeout {
        cluster.tick(N2);
        cluster.tick(N3);
        if tick < leader_ticks {
            cluster.tick(N1);
        }
    }
    cluster.stabilize();
    cluster.campaign(N3);
    cluster.stabilize();
    assert_eq!(cluster.replica(N3).role(), Role::Leader);
    let write = cluster.set(N3, "x", "2");
    cluster.stabilize();
    assert_eq!(cluster.answer(write), Some(&Ok(Response::Stored(true))));
    assert_eq!(cluster.replica(N1).role(), Role::Leader, "N1 still leads");
    let read = cluster.get(N1, "x");
    cluster.answer(read).cloned()
}

/// The lease is bounded so that it runs out before a new leader can be
/// elected even when clocks drift apart as far as the bound allows.
#[test]
fn a_leader_whose_clock_runs_slow_stops_serving_from_its_lease_in_time() {
    assert_eq!(
        read_from_a_slow_leader_after_an_election(with_lease),
        None,
        "the read waits for a round, which the cut-off leader cannot get"
    );
}

/// The scenario above can fail: a lease of the election timeout less one
/// tick, right if clocks ran at one rate, answers the read from the old
/// state after x=2 was acknowledged (a stale read).
#[test]
fn a_lease_that_ignores_clock_drift_serves_a_stale_read_when_clocks_drift() {
    assert_eq!(
        read_from_a_slow_leader_after_an_election(with_lease_ignoring_drift),
        Some(Ok(value("1")))
    );
}

/// Regression, found in review: a follower acknowledged the new leader's
/// heartbeats without promising its ballot; then the stalled stream of
/// the previous leader (queued while disconnected, flushed on reconnect)
/// made it follow that leader again, and it granted the old leader's
/// pre-vote and promise while the new leader's lease rested on it.
#[test]
fn late_messages_of_an_old_leader_do_not_end_a_followers_support_of_a_lease() {
    let mut cluster = leased_cluster(112);
    cluster.set(N1, "x", "1");
    cluster.stabilize();
    let old = cluster.replica(N1).promised();
    // N1's messages to N2 stall in a stream; N1 then hears nobody and
    // resigns by check-quorum.
    let mut stalled = Vec::new();
    while cluster.replica(N1).role() == Role::Leader {
        cluster.tick(N1);
        cluster.tick(N3);
        stalled.extend(
            cluster
                .queue
                .iter()
                .filter(|envelope| between(N1, N2)(envelope))
                .cloned(),
        );
        // N3 hears N1 (its resignation too), N1 hears nobody.
        cluster.deliver(between(N1, N3));
        cluster.drop_where(|_| true);
    }
    // N3 leads with N1's promise (N1 hears nothing of N3 after that); N2
    // only acknowledges N3's heartbeats.
    cluster.campaign(N3);
    cluster.deliver(between(N3, N1));
    cluster.deliver(between(N1, N3));
    assert_eq!(cluster.replica(N3).role(), Role::Leader);
    cluster.drop_where(|_| true);
    cluster.isolated.insert(N1);
    renew_lease_of(&mut cluster, N3);
    assert_eq!(cluster.replica(N2).leader(), Some(N3));
    assert_eq!(
        cluster.replica(N2).promised(),
        old,
        "acknowledged, not promised"
    );
    // The stalled stream arrives; N1 campaigns over N2.
    cluster.isolated.clear();
    cluster.queue.extend(stalled);
    cluster.deliver(between(N1, N2));
    cluster.campaign(N1);
    assert_eq!(cluster.replica(N1).role(), Role::Candidate, "N1 campaigns");
    assert!(
        cluster.deliver(between(N1, N2)) > 0,
        "its Prepare reaches N2"
    );
    assert_eq!(
        cluster.replica(N2).promised(),
        old,
        "N2 promises no one else yet"
    );
}

/// Regression, found in review: `campaign_now` on a follower whose
/// acknowledgement a leader's lease rests on raised its ballot, and with
/// the third node elected it while the leader still served reads.
#[test]
fn a_follower_supporting_a_lease_does_not_campaign_on_request() {
    let mut cluster = leased_cluster(113);
    renew_lease(&mut cluster);
    let promised = cluster.replica(N2).promised();
    cluster.campaign(N2);
    assert_eq!(cluster.replica(N2).role(), Role::Follower);
    assert_eq!(cluster.replica(N2).promised(), promised);
}

/// Regression, found in review: the same through a restart. A follower
/// acknowledged the leader's round, restarted (forgetting that), and
/// campaigned on request at once.
#[test]
fn a_restarted_replica_does_not_campaign_within_an_election_timeout() {
    let mut cluster = leased_cluster(114);
    renew_lease(&mut cluster);
    cluster.crash(N2);
    cluster.restart(N2);
    let promised = cluster.replica(N2).promised();
    cluster.campaign(N2);
    assert_eq!(cluster.replica(N2).role(), Role::Follower);
    assert_eq!(cluster.replica(N2).promised(), promised);
}
