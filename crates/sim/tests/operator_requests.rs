//! Named scenarios of an operator's requests: leader transfer and a
//! removed leader's handover (the leader names a successor in its
//! `Resign`, and the successor campaigns at once instead of after an
//! election timeout), and when a learner may be promoted.

use synod_paxos::{ChangeError, ConfigurationChange, NodeId, Role, TransferError};
use synod_sim::harness::Harness;

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);
const N4: NodeId = NodeId(4);

/// Ticks every node one round at a time until a node of `candidates`
/// leads; returns the rounds it took.
fn rounds_until_one_of_leads(cluster: &mut Harness, candidates: &[NodeId], limit: usize) -> usize {
    for round in 0..limit {
        let leads = candidates
            .iter()
            .any(|node| cluster.replica(*node).role() == Role::Leader);
        if leads {
            return round;
        }
        cluster.run(1);
    }
    panic!("none of {candidates:?} led within {limit} rounds");
}

#[test]
fn a_transferred_leadership_is_taken_without_waiting_for_a_timeout() {
    let mut cluster = Harness::new(3, 11);
    cluster.elect(N1);
    let before = cluster.set(N1, "x", "1");
    cluster.run(2);
    assert!(cluster.answer(before).is_some_and(Result::is_ok));
    cluster.transfer(N1, N2).expect("the leader hands over");
    assert_ne!(cluster.replica(N1).role(), Role::Leader);
    // No tick at all: the successor campaigns on the Resign itself.
    cluster.stabilize();
    assert_eq!(cluster.replica(N2).role(), Role::Leader);
    assert_eq!(cluster.replica(N1).leader(), Some(N2));
    let after = cluster.set(N2, "x", "2");
    let read = cluster.get(N3, "x");
    cluster.run(3);
    assert!(cluster.answer(after).is_some_and(Result::is_ok));
    assert!(cluster.answer(read).is_some_and(Result::is_ok));
}

#[test]
fn a_transfer_is_refused_off_the_leader_to_itself_and_to_a_learner() {
    let mut cluster = Harness::with_initial_voters(4, 3, 12);
    cluster.elect(N1);
    assert_eq!(
        cluster.transfer(N2, N3),
        Err(TransferError::NotLeader { leader: Some(N1) })
    );
    assert_eq!(cluster.transfer(N1, N1), Err(TransferError::AlreadyLeader));
    cluster
        .change(N1, ConfigurationChange::add_learner(N4))
        .expect("the leader adds a learner");
    cluster.run(3);
    assert_eq!(cluster.transfer(N1, N4), Err(TransferError::NotVoter(N4)));
    assert_eq!(cluster.replica(N1).role(), Role::Leader);
}

/// Without the successor in its `Resign`, a removed leader's followers
/// wait out at least their short post-resignation delay; with it the new
/// voter furthest along campaigns in the same round.
#[test]
fn a_removed_leader_hands_over_to_a_successor_in_the_round_it_resigns() {
    let mut cluster = Harness::new(3, 13);
    cluster.elect(N1);
    cluster
        .change(N1, ConfigurationChange::Remove(N1))
        .expect("the leader takes its own removal");
    // Until the removal is in force N1 keeps leading; count the rounds
    // from its resignation on.
    for _ in 0..200 {
        if cluster.replica(N1).role() != Role::Leader {
            break;
        }
        cluster.run(1);
    }
    assert_ne!(cluster.replica(N1).role(), Role::Leader, "N1 resigned");
    let rounds = rounds_until_one_of_leads(&mut cluster, &[N2, N3], 100);
    assert_eq!(
        rounds, 0,
        "a successor was elected in the round N1 resigned"
    );
    let write = cluster.set(N2, "after", "removal");
    cluster.run(3);
    assert!(cluster.answer(write).is_some_and(Result::is_ok));
}

/// Regression (real processes, `synod cluster add` before the new node
/// started): the leader promoted a learner it had never heard from,
/// because a never-reported commit index of 0 was within the promotion lag
/// of a short log. A voter that never started weakens every quorum.
#[test]
fn a_learner_never_heard_from_is_not_promoted() {
    let mut cluster = Harness::with_initial_voters(4, 3, 14);
    cluster.elect(N1);
    cluster.crash(N4);
    cluster
        .change(N1, ConfigurationChange::add_learner(N4))
        .expect("the leader adds a learner");
    cluster.run(5);
    assert!(matches!(
        cluster.change(N1, ConfigurationChange::Promote(N4)),
        Err(ChangeError::LearnerBehind { node: N4, .. })
    ));
    cluster.restart(N4);
    cluster.run(5);
    cluster
        .change(N1, ConfigurationChange::Promote(N4))
        .expect("a learner that caught up is promoted");
}

/// A leader that removes itself keeps leading until the removal is in
/// force: it decides every slot up to the new configuration's first, so
/// the new voters take over with nothing of the old configuration left
/// undecided by it.
#[test]
fn a_removed_leader_leads_until_its_removal_is_in_force() {
    let mut cluster = Harness::with_initial_voters(4, 3, 15);
    cluster.elect(N1);
    cluster
        .change(N1, ConfigurationChange::add_learner(N4))
        .expect("the leader adds a learner");
    let promoted = (0..40).any(|_| {
        cluster.run(1);
        cluster.change(N1, ConfigurationChange::Promote(N4)).is_ok()
    });
    assert!(promoted, "the learner is promoted once it caught up");
    let removal = (0..400).find_map(|_| {
        cluster.run(1);
        cluster.change(N1, ConfigurationChange::Remove(N1)).ok()
    });
    assert!(removal.is_some(), "the leader takes its own removal");
    let resigned = (0..300).any(|_| {
        cluster.run(1);
        cluster.replica(N1).role() != Role::Leader
    });
    assert!(resigned, "the removed leader steps down");
    let status = cluster.replica(N1).status();
    let (start, next) = match &status.configuration_next {
        Some((start, config)) => (*start, config.clone()),
        None => (status.configuration_start, status.configuration.clone()),
    };
    assert!(!next.is_member(N1));
    assert!(status.committed >= start, "{status:?}");
    assert_eq!(cluster.replica(N1).removal_in_force(), Some(next.epoch));
    assert_eq!(cluster.replica(N2).removal_in_force(), None);
}
