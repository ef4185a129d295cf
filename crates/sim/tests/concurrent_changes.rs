//! Named scenarios of configuration changes that race: a change proposed
//! by a leader that is then isolated (lost with it, or recovered by its
//! successor), two leaders proposing changes at once, and a second change
//! asked of a leader while its first is not in force. The random runs of
//! `synod sim --membership` produce all of these; here each is pinned
//! down, with what must hold afterwards.

use synod_paxos::{ChangeError, Configuration, ConfigurationChange, NodeId, Role};
use synod_sim::harness::{of_kind, Harness};

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);
const N4: NodeId = NodeId(4);
const N5: NodeId = NodeId(5);

/// Rounds a change needs to be decided and come into force
/// (`CONFIGURATION_DELAY_SLOTS` slots of no-ops or writes), generously.
const ROUNDS_UNTIL_IN_FORCE_MAX: usize = 400;

/// Every node of `nodes` holds the same newest configuration, starting at
/// the same slot, and applied the same commands (as far as each got).
fn assert_agreement(cluster: &Harness, nodes: &[NodeId]) {
    let first = cluster.replica(nodes[0]);
    for node in &nodes[1..] {
        let replica = cluster.replica(*node);
        assert_eq!(
            replica.membership().latest(),
            first.membership().latest(),
            "{node:?} and {:?} disagree on the newest configuration",
            nodes[0]
        );
        assert_eq!(
            replica.membership().latest_start(),
            first.membership().latest_start(),
            "{node:?} and {:?} disagree on where it starts",
            nodes[0]
        );
    }
    let reference = cluster.applied_commands(nodes[0]);
    for node in &nodes[1..] {
        let applied = cluster.applied_commands(*node);
        let common = applied.len().min(reference.len());
        assert_eq!(
            applied[..common],
            reference[..common],
            "{node:?} applied other commands than {:?}",
            nodes[0]
        );
    }
}

/// Writes through `leader` and runs until `expected` is the newest
/// configuration, in force, on every node of `nodes`.
fn run_until_in_force(
    cluster: &mut Harness,
    leader: NodeId,
    expected: &Configuration,
    nodes: &[NodeId],
) {
    for round in 0..ROUNDS_UNTIL_IN_FORCE_MAX {
        let in_force = nodes.iter().all(|node| {
            let replica = cluster.replica(*node);
            replica.membership().latest() == expected
                && replica.membership().latest_start() <= replica.status().committed
        });
        if in_force {
            return;
        }
        if round % 4 == 0 && cluster.replica(leader).role() == Role::Leader {
            cluster.set(leader, "tick", &round.to_string());
        }
        cluster.run(1);
    }
    panic!("{expected:?} was not in force on {nodes:?} within {ROUNDS_UNTIL_IN_FORCE_MAX} rounds");
}

/// Ends N1's isolation, runs until `expected` is in force on N1-N3, checks
/// that they agree, and returns N1's newest configuration.
fn heal_n1_and_settle(
    cluster: &mut Harness,
    leader: NodeId,
    expected: &Configuration,
) -> Configuration {
    cluster.isolated.remove(&N1);
    run_until_in_force(cluster, leader, expected, &[N1, N2, N3]);
    assert_agreement(cluster, &[N1, N2, N3]);
    cluster.replica(N1).membership().latest().clone()
}

/// The leader's change never left it: isolated at once, only it accepted
/// the change. The next leader cannot learn it, proposes its own change,
/// and after the heal the old leader adopts the new history; the lost
/// change is nowhere.
#[test]
fn a_change_whose_leader_is_isolated_before_any_accept_arrives_is_lost_everywhere() {
    let mut cluster = Harness::with_initial_voters(5, 3, 21);
    cluster.elect(N1);
    cluster
        .change(N1, ConfigurationChange::add_learner(N4))
        .expect("the leader proposes adding N4");
    cluster.isolated.insert(N1);
    cluster.campaign(N2);
    cluster.stabilize();
    assert_eq!(cluster.replica(N2).role(), Role::Leader);
    // The isolated leader still believes it leads: its own change is not
    // in force, so it takes no second one.
    assert_eq!(
        cluster.change(N1, ConfigurationChange::Remove(N3)),
        Err(ChangeError::ChangePending)
    );
    let expected = cluster
        .change(N2, ConfigurationChange::add_learner(N5))
        .expect("the new leader knows of no pending change");
    run_until_in_force(&mut cluster, N2, &expected, &[N2, N3]);
    let latest = heal_n1_and_settle(&mut cluster, N2, &expected);
    assert!(latest.is_member(N5), "the new leader's change is in force");
    assert!(
        !latest.is_member(N4),
        "the isolated leader's change was lost"
    );
    assert_ne!(cluster.replica(N1).role(), Role::Leader);
}

/// The leader's Accept of its change reached one voter before the leader
/// was cut off: a majority's promises to the next leader include that
/// acceptance, so the successor must decide the same change in the same
/// slot, and take no other change until it is in force.
#[test]
fn a_change_accepted_by_one_voter_before_its_leader_is_isolated_is_recovered_by_the_next_leader() {
    let mut cluster = Harness::with_initial_voters(5, 3, 22);
    cluster.elect(N1);
    cluster
        .change(N1, ConfigurationChange::add_learner(N4))
        .expect("the leader proposes adding N4");
    // Send the Accept (the change rides with the next round's messages).
    cluster.tick(N1);
    cluster.collect_all();
    let delivered = cluster.deliver(|envelope| {
        envelope.from == N1 && envelope.to == N2 && envelope.message.kind() == "accept"
    });
    assert!(delivered > 0, "N2 received the change's Accept");
    cluster.drop_where(|envelope| envelope.from == N1 || envelope.to == N1);
    cluster.drop_where(of_kind("accepted"));
    cluster.isolated.insert(N1);
    cluster.campaign(N3);
    cluster.stabilize();
    assert_eq!(cluster.replica(N3).role(), Role::Leader);
    // Settling the election decided the recovered change and filled the
    // slots up to its start with no-ops.
    let recovered = cluster.replica(N3).membership().latest().clone();
    assert!(recovered.is_member(N4), "the successor decided N1's change");
    run_until_in_force(&mut cluster, N3, &recovered, &[N2, N3]);
    let expected = cluster
        .change(N3, ConfigurationChange::add_learner(N5))
        .expect("once the first change is in force the next one is taken");
    run_until_in_force(&mut cluster, N3, &expected, &[N2, N3]);
    let latest = heal_n1_and_settle(&mut cluster, N3, &expected);
    assert!(latest.is_member(N4) && latest.is_member(N5));
}

/// Two leaders of different ballots (the old one partitioned with a
/// minority) each propose a change. Only the majority side's can be
/// decided; after the heal every voter holds one history with it.
#[test]
fn changes_proposed_by_two_leaders_at_once_leave_one_history() {
    let mut cluster = Harness::with_initial_voters(5, 3, 23);
    cluster.elect(N1);
    cluster.isolated.insert(N1);
    cluster.campaign(N2);
    cluster.stabilize();
    assert_eq!(cluster.replica(N2).role(), Role::Leader);
    assert_eq!(cluster.replica(N1).role(), Role::Leader, "N1 has not heard");
    cluster
        .change(N1, ConfigurationChange::Remove(N3))
        .expect("the stale leader proposes removing N3");
    let expected = cluster
        .change(N2, ConfigurationChange::add_learner(N4))
        .expect("the new leader proposes adding N4");
    run_until_in_force(&mut cluster, N2, &expected, &[N2, N3]);
    let latest = heal_n1_and_settle(&mut cluster, N2, &expected);
    assert!(
        latest.is_member(N4),
        "the majority side's change is in force"
    );
    assert!(
        latest.is_voter(N3),
        "the minority side's removal was never decided"
    );
}

/// One change at a time: a leader refuses a second change until the first
/// is in force, then takes it.
#[test]
fn a_second_change_waits_until_the_first_is_in_force() {
    let mut cluster = Harness::with_initial_voters(5, 3, 24);
    cluster.elect(N1);
    let first = cluster
        .change(N1, ConfigurationChange::add_learner(N4))
        .expect("the leader proposes adding N4");
    assert_eq!(
        cluster.change(N1, ConfigurationChange::add_learner(N5)),
        Err(ChangeError::ChangePending),
        "queued, not yet decided"
    );
    // One round of Accepts and acknowledgements decides the change; its
    // configuration starts `CONFIGURATION_DELAY_SLOTS` later.
    cluster.deliver(of_kind("accept"));
    cluster.deliver(of_kind("accepted"));
    let leader = cluster.replica(N1);
    assert_eq!(
        leader.membership().latest(),
        &first,
        "the change is decided"
    );
    assert!(leader.membership().latest_start() > leader.status().committed);
    assert_eq!(
        cluster.change(N1, ConfigurationChange::add_learner(N5)),
        Err(ChangeError::ChangePending),
        "decided, not yet in force"
    );
    run_until_in_force(&mut cluster, N1, &first, &[N1, N2, N3]);
    let second = cluster
        .change(N1, ConfigurationChange::add_learner(N5))
        .expect("the first change is in force");
    run_until_in_force(&mut cluster, N1, &second, &[N1, N2, N3]);
    assert_agreement(&cluster, &[N1, N2, N3]);
}
