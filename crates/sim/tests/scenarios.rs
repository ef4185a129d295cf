//! Named scenarios of the production node (consensus core, routing and
//! apply), each driven message by message. The harness asserts agreement
//! and in-order apply on every decision.

use bytes::Bytes;
use synod_kv::{Command, Operation, Response, Sequence, SetCondition};
use synod_node::{Request, RequestError};
use synod_paxos::{
    Config, DurableState, Entry, Message, NodeId, Replica, Role, Slot, SlotEntry, Value,
};
use synod_sim::harness::{accepted_for, between, of_kind, Harness, RequestId};

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

fn one_command_per_slot(config: &mut Config) {
    config.batch_commands_max = 1;
}

#[test]
fn every_cluster_size_from_one_to_seven_elects_a_leader_and_decides_in_order() {
    for size in [1, 2, 3, 4, 5, 7] {
        let mut cluster = Harness::new(size, size);
        let leader = NodeId(size);
        cluster.elect(leader);
        for index in 0..20 {
            cluster.propose(NodeId(1 + index % size), format!("command {index}"));
        }
        cluster.run(5);
        let expected = cluster.applied_commands(leader);
        assert_eq!(expected.len(), 20, "size {size}: every command decided");
        for node in cluster.members() {
            assert_eq!(
                cluster.applied_commands(node),
                expected,
                "size {size}, {node}"
            );
        }
    }
}

#[test]
fn repair_n1_n2_n3_decides_the_value_only_n2_accepted_before_the_leader_died() {
    // The seeds' example: N1 is repairing, N2 accepted v101 in phase 2, and
    // N3, the leader, failed before anyone learned the decision.
    let mut cluster = Harness::with_config(3, 11, one_command_per_slot);
    cluster.elect(N3);
    cluster.propose(N3, "v100");
    cluster.run(2);
    cluster.crash(N1);
    cluster.propose(N3, "v101");
    cluster.deliver(|envelope| between(N3, N2)(envelope) && of_kind("accept")(envelope));
    let slot = cluster.slot_of(N2, "v101").expect("N2 accepted v101");
    assert!(
        !cluster.replica(N2).is_decided(slot),
        "nobody learned the decision"
    );
    cluster.crash(N3);
    // N1 comes back and runs the recovery round with N2: only v101 is safe.
    cluster.restart(N1);
    cluster.elect(N1);
    cluster.run(3);
    assert_eq!(cluster.applied_commands(N1), ["v100", "v101"]);
    assert_eq!(cluster.applied_commands(N2), ["v100", "v101"]);
    cluster.restart(N3);
    cluster.run(5);
    assert_eq!(cluster.applied_commands(N3), ["v100", "v101"]);
}

#[test]
fn duelling_proposers_converge_on_one_leader_and_drop_no_command() {
    for seed in 0..30 {
        let mut cluster = Harness::new(3, seed);
        // Everyone times out at once, round after round, until one wins.
        let mut rounds = 0;
        while cluster
            .members()
            .iter()
            .all(|node| cluster.replica(*node).role() != Role::Leader)
        {
            cluster.tick_all();
            // Deliver in an order that favours the duel: prepares first.
            cluster.deliver(of_kind("prepare"));
            cluster.stabilize();
            rounds += 1;
            assert!(rounds < 200, "seed {seed}: no leader after {rounds} rounds");
        }
        let requests: Vec<(NodeId, RequestId)> = cluster
            .members()
            .into_iter()
            .map(|node| (node, cluster.propose(node, format!("from {node}"))))
            .collect();
        cluster.run(10);
        let leaders = cluster
            .members()
            .into_iter()
            .filter(|node| cluster.replica(*node).role() == Role::Leader)
            .count();
        assert_eq!(leaders, 1, "seed {seed}");
        let applied = cluster.applied_commands(N1);
        for (node, request) in requests {
            let command = format!("from {node}");
            let decided = applied.contains(&command);
            // Every command is answered, and the answer is true: applied
            // when it says so, never applied when it says "not applied".
            match cluster.answer(request) {
                None => panic!("seed {seed}: {command} was dropped unanswered"),
                Some(Ok(_)) => assert!(decided, "seed {seed}: {command} answered but not decided"),
                Some(Err(error)) if error.certainly_not_applied() => assert!(
                    !decided,
                    "seed {seed}: {command} refused ({error}) yet decided"
                ),
                Some(Err(_)) => {}
            }
        }
    }
}

#[test]
fn decision_for_slot_n_plus_2_before_n_plus_1_waits_in_the_buffer() {
    let mut cluster = Harness::with_config(3, 5, one_command_per_slot);
    cluster.elect(N1);
    cluster.propose(N1, "first");
    cluster.propose(N1, "second");
    let first = cluster.slot_of(N1, "first").expect("assigned");
    let second = cluster.slot_of(N1, "second").expect("assigned");
    assert_eq!(second, first.next());
    cluster.deliver(|envelope| between(N1, N2)(envelope) && of_kind("accept")(envelope));
    // N2's acceptance of the later slot arrives first.
    cluster.deliver(accepted_for(second));
    assert!(cluster.replica(N1).is_decided(second));
    assert!(!cluster.replica(N1).is_decided(first));
    assert!(
        cluster.applied_commands(N1).is_empty(),
        "slot n+2 waits for n+1"
    );
    cluster.deliver(accepted_for(first));
    assert_eq!(cluster.applied_commands(N1), ["first", "second"]);
}

#[test]
fn a_node_down_for_one_thousand_slots_catches_up_in_bounded_batches() {
    let mut cluster = Harness::with_config(3, 9, one_command_per_slot);
    cluster.elect(N1);
    cluster.crash(N3);
    for index in 0..1_000 {
        cluster.propose(N1, format!("c{index}"));
        if index % 50 == 0 {
            cluster.stabilize();
        }
    }
    cluster.run(2);
    assert_eq!(cluster.applied_commands(N1).len(), 1_000);
    cluster.restart(N3);
    let limit = cluster.replica(N1).config().catch_up_slots_per_message_max;
    for _ in 0..100 {
        cluster.tick_all();
        for envelope in &cluster.queue {
            if let Message::CatchUp { entries, .. } = &envelope.message {
                assert!(entries.len() <= limit, "catch-up batches are bounded");
            }
        }
        cluster.stabilize();
        if cluster.applied_commands(N3).len() == 1_000 {
            break;
        }
    }
    assert_eq!(cluster.applied_commands(N3), cluster.applied_commands(N1));
}

#[test]
fn a_leader_deposed_mid_batch_loses_no_decided_command_and_applies_none_twice() {
    let mut cluster = Harness::new(3, 21);
    cluster.elect(N1);
    // Ten writes arrive together, so they share one slot.
    for index in 0..10 {
        let text = format!("batch {index}");
        cluster.request(
            N1,
            Request::Write(synod_sim::harness::set_command(&text, &text)),
        );
    }
    cluster.collect(N1);
    // The batch reaches N2 only; then N1 is cut off while it still leads.
    cluster.deliver(|envelope| between(N1, N2)(envelope) && of_kind("accept")(envelope));
    cluster.isolated.insert(N1);
    cluster.elect(N2);
    cluster.run(3);
    let expected: Vec<String> = (0..10).map(|index| format!("batch {index}")).collect();
    assert_eq!(
        cluster.applied_commands(N2),
        expected,
        "the new leader recovered the batch"
    );
    // The deposed leader still believes it leads and takes a command.
    assert_eq!(cluster.replica(N1).role(), Role::Leader);
    cluster.propose(N1, "to the deposed leader");
    cluster.isolated.clear();
    cluster.run(5);
    assert_ne!(
        cluster.replica(N1).role(),
        Role::Leader,
        "a higher ballot deposed it"
    );
    for node in cluster.members() {
        let applied = cluster.applied_commands(node);
        assert_eq!(&applied[..10], &expected[..], "{node}");
        let late = applied
            .iter()
            .filter(|command| *command == "to the deposed leader")
            .count();
        assert!(late <= 1, "{node} applied a command twice");
    }
}

#[test]
fn a_read_served_by_a_deposed_leader_is_never_stale() {
    let mut cluster = Harness::new(3, 33);
    cluster.elect(N1);
    cluster.set(N1, "x", "1");
    cluster.run(2);
    // N1 is cut off; N2 takes over and decides a newer write.
    cluster.isolated.insert(N1);
    cluster.elect(N2);
    cluster.set(N2, "x", "2");
    cluster.run(2);
    assert_eq!(cluster.applied_commands(N2), ["x=1", "x=2"]);
    // The deposed leader, still believing it leads, must not answer.
    assert_eq!(cluster.replica(N1).role(), Role::Leader);
    let stale = cluster.get(N1, "x");
    cluster.run(3);
    assert!(
        !matches!(cluster.answer(stale), Some(Ok(_))),
        "a leader without a quorum's confirmation served a read"
    );
    cluster.isolated.clear();
    cluster.run(3);
    assert!(
        matches!(
            cluster.answer(stale),
            Some(Err(
                RequestError::NotLeader { .. } | RequestError::ReadTimeout
            ))
        ),
        "never served stale, and never left unanswered: {:?}",
        cluster.answer(stale)
    );
    // The real leader serves it, after applying x=2; so does a follower,
    // through the read index.
    for node in [N2, N3] {
        let fresh = cluster.get(node, "x");
        cluster.run(2);
        assert_eq!(cluster.answer(fresh), Some(&Ok(value("2"))), "{node}");
    }
}

#[test]
fn a_client_retry_after_a_timeout_applies_once_and_gets_the_original_answer() {
    let mut cluster = Harness::new(3, 44);
    cluster.elect(N1);
    let register = cluster.write_command(N1, Command::untagged(Operation::RegisterSession));
    cluster.run(2);
    let Some(Ok(Response::SessionRegistered(session))) = cluster.answer(register).cloned() else {
        panic!("registration answered {:?}", cluster.answer(register));
    };
    let tagged = |sequence: u64, value: &'static str| {
        Command::tagged(
            session,
            Sequence(sequence),
            Operation::Set {
                key: "x".into(),
                value: value.into(),
                condition: SetCondition::Always,
            },
        )
    };
    // The first attempt is decided but the client misses its answer: it
    // times out and retries through another node.
    let first = cluster.write_command(N1, tagged(1, "one"));
    cluster.run(2);
    let retry = cluster.write_command(N2, tagged(1, "one"));
    cluster.run(2);
    // The next write, then a very late duplicate of the first.
    let second = cluster.write_command(N3, tagged(2, "two"));
    cluster.run(2);
    let late = cluster.write_command(N1, tagged(1, "one"));
    cluster.run(2);
    assert_eq!(cluster.answer(first), Some(&Ok(Response::Stored(true))));
    assert_eq!(
        cluster.answer(retry),
        cluster.answer(first),
        "the retry gets the original answer"
    );
    assert_eq!(cluster.answer(second), Some(&Ok(Response::Stored(true))));
    assert_eq!(
        cluster.answer(late),
        Some(&Ok(Response::SequenceStale)),
        "a late duplicate is not applied"
    );
    for node in cluster.members() {
        assert_eq!(
            cluster
                .node(node)
                .store()
                .read(&Operation::Get { key: "x".into() }),
            value("two"),
            "{node}: the late duplicate did not roll x back"
        );
    }
}

#[test]
fn a_proposal_without_any_leader_is_rejected_not_dropped() {
    let mut cluster = Harness::new(3, 55);
    cluster.isolated.insert(N1);
    let lonely = cluster.propose(N1, "lonely");
    let timeout = cluster.replica(N1).config().request_timeout_ticks;
    // N1 campaigns alone and can never win: no leader ever becomes known.
    for _ in 0..=timeout {
        cluster.tick(N1);
        cluster.stabilize();
    }
    assert_eq!(cluster.answer(lonely), Some(&Err(RequestError::NoLeader)));
}

#[test]
fn a_read_index_reply_meant_for_a_previous_incarnation_serves_no_read_of_the_restarted_node() {
    // Regression (simulator seed 682, five nodes): request numbers restarted
    // at zero after a crash, so the leader's late reply to the old request
    // was taken as the answer to a new read, with a read index from before
    // a write that completed before the new read began.
    let mut cluster = Harness::new(3, 68);
    cluster.elect(N1);
    cluster.set(N1, "x", "1");
    cluster.run(2);
    cluster.get(N3, "x");
    cluster.deliver(between(N3, N1));
    cluster.stabilize_except(N3);
    let old_replies: Vec<_> = cluster
        .queue
        .iter()
        .filter(|envelope| envelope.to == N3 && of_kind("read-index-reply")(envelope))
        .cloned()
        .collect();
    assert_eq!(old_replies.len(), 1, "the leader answered the old read");
    cluster.crash(N3);
    cluster.set(N1, "x", "2");
    cluster.run(2);
    cluster.restart(N3);
    // The restarted node hears from the leader, then takes a new read whose
    // request is held on its way while the old reply lands.
    let interval = cluster.replica(N1).config().heartbeat_interval_ticks;
    for _ in 0..interval {
        cluster.tick(N1);
    }
    cluster.deliver(|envelope| between(N1, N3)(envelope) && of_kind("heartbeat")(envelope));
    assert_eq!(cluster.replica(N3).leader(), Some(N1));
    let new = cluster.get(N3, "x");
    cluster.queue.splice(0..0, old_replies);
    cluster.deliver(|envelope| envelope.to == N3 && of_kind("read-index-reply")(envelope));
    if let Some(answer) = cluster.answer(new) {
        assert_eq!(
            answer,
            &Ok(value("2")),
            "served before applying a write that completed before the read"
        );
    }
    cluster.run(3);
    assert_eq!(cluster.answer(new), Some(&Ok(value("2"))));
}

#[test]
fn a_catch_up_request_from_a_replica_ahead_of_the_responder_gets_an_empty_answer() {
    // Regression (simulator seeds 3733 and 8172): a request for slots the
    // responder has not decided yet made it build an inverted range and
    // panic. It now answers with nothing but its own commit index.
    let mut cluster = Harness::new(3, 77);
    cluster.elect(N1);
    cluster.propose(N1, "x=1");
    cluster.run(2);
    let node = cluster.nodes.get_mut(&N2).unwrap().as_mut().unwrap();
    node.step(N3, Message::CatchUpRequest { from: Slot(50) });
    let ready = node.ready();
    assert_eq!(ready.messages.len(), 1);
    assert!(matches!(
        &ready.messages[0].message,
        Message::CatchUp { entries, committed } if entries.is_empty() && *committed == Slot(1)
    ));
}

#[test]
fn a_lagging_leader_whose_catch_up_source_restarted_behind_asks_another_peer() {
    // Regression (five-node seed 11659): a new leader behind the commit
    // index reported in a promise asked that one peer forever, though it had
    // restarted with an older durable commit index and could not answer.
    let members = vec![N1, N2, N3];
    let mut replica = Replica::new(Config::new(N1, members), DurableState::default(), 5);
    replica.campaign_now();
    let _ = replica.ready().persist.persisted();
    let ballot = replica.promised();
    for peer in [N2, N3] {
        replica.step(
            peer,
            Message::Promise {
                ballot,
                committed: Slot(3),
                entries: Vec::new(),
            },
        );
    }
    assert_eq!(replica.role(), Role::Leader);
    let catch_up_target = |ready: &synod_paxos::Ready| {
        ready
            .messages
            .iter()
            .find_map(|envelope| match envelope.message {
                Message::CatchUpRequest { from } => Some((envelope.to, from)),
                _ => None,
            })
    };
    let ready = replica.ready();
    let (first, from) = catch_up_target(&ready).expect("the leader asks to catch up");
    assert_eq!(from, Slot(0));
    let _ = ready.persist.persisted();
    // That peer restarted with nothing durable past slot 0.
    replica.step(
        first,
        Message::CatchUp {
            entries: Vec::new(),
            committed: Slot(0),
        },
    );
    let mut second = None;
    for _ in 0..replica.config().catch_up_retry_ticks + 1 {
        replica.tick();
        let ready = replica.ready();
        if let Some((target, _)) = catch_up_target(&ready) {
            second = Some(target);
        }
        let _ = ready.persist.persisted();
        if second.is_some() {
            break;
        }
    }
    let second = second.expect("the leader asks again");
    assert_ne!(second, first, "it asks a peer that is still ahead");
    let entries = (0..3)
        .map(|slot| SlotEntry {
            slot: Slot(slot),
            entry: Entry {
                ballot,
                value: Value::Noop,
            },
        })
        .collect();
    replica.step(
        second,
        Message::CatchUp {
            entries,
            committed: Slot(3),
        },
    );
    assert_eq!(replica.committed(), Slot(3));
}

#[test]
fn a_replica_behind_the_compacted_log_installs_a_snapshot_then_the_suffix() {
    fn compact_every_fifty_slots(config: &mut Config) {
        config.batch_commands_max = 1;
        config.snapshot_interval_slots = 50;
    }
    let mut cluster = Harness::with_config(3, 88, compact_every_fifty_slots);
    cluster.elect(N1);
    cluster.crash(N3);
    for index in 0..300 {
        cluster.propose(N1, format!("c{index}"));
        if index % 50 == 49 {
            cluster.run(1);
        }
    }
    cluster.run(2);
    assert!(
        cluster.replica(N1).log_start() > Slot(200),
        "the leader compacted"
    );
    for index in 300..310 {
        cluster.propose(N1, format!("c{index}"));
    }
    cluster.run(2);
    cluster.restart(N3);
    cluster.run(10);
    let installed = &cluster.installed[&N3];
    assert_eq!(installed.len(), 1, "one snapshot, then the log suffix");
    let all: Vec<String> = (0..310).map(|index| format!("c{index}")).collect();
    let in_snapshot = installed[0].0 as usize;
    assert_eq!(cluster.applied_commands(N3), all[in_snapshot..]);
    assert_eq!(
        cluster.node(N3).store(),
        cluster.node(N1).store(),
        "the snapshot and the suffix rebuilt the leader's state"
    );
    // And it serves as a voter afterwards: the cluster decides with N1 gone.
    cluster.crash(N1);
    cluster.elect(N2);
    cluster.propose(N2, "after");
    cluster.run(3);
    assert_eq!(
        cluster.applied_commands(N3).last().map(String::as_str),
        Some("after")
    );
}

/// A found value, as a read answers it.
fn value(text: &str) -> Response {
    Response::Value(Some(Bytes::copy_from_slice(text.as_bytes())))
}

#[test]
fn a_follower_that_promises_after_its_leader_resigned_does_not_depose_the_candidate() {
    // Regression (availability seed 99, leader inbound cut): a follower
    // whose leader resigned runs a short election timer. It promised
    // another candidate and then, with that short timer still running,
    // campaigned itself and deposed the candidate it had just supported.
    let mut cluster = Harness::new(3, 11);
    cluster.elect(N1);
    // N1 hears nothing for an election timeout and resigns.
    for _ in 0..12 {
        cluster.tick(N1);
    }
    assert_eq!(cluster.replica(N1).role(), Role::Follower, "N1 resigned");
    cluster.deliver(|envelope| envelope.to != N1);
    cluster.drop_where(|envelope| envelope.to == N1);
    assert_eq!(
        cluster.replica(N3).leader(),
        None,
        "N3 heard the resignation"
    );
    // N2 campaigns first; N3 promises.
    cluster.campaign(N2);
    cluster.deliver(|envelope| between(N2, N3)(envelope) && of_kind("prepare")(envelope));
    let promised = cluster.replica(N3).promised();
    // The short timer N3 ran after the resignation is gone: it waits a
    // whole election timeout for N2.
    let election_timeout = Config::new(N3, vec![N1, N2, N3]).election_timeout_ticks;
    for _ in 0..election_timeout - 1 {
        cluster.tick(N3);
    }
    assert_eq!(cluster.replica(N3).role(), Role::Follower);
    assert_eq!(cluster.replica(N3).promised(), promised);
}

#[test]
fn a_heartbeat_that_arrives_after_its_leaders_resignation_renews_no_lease() {
    // Regression (availability seed 216, leader inbound cut): a heartbeat
    // the deaf leader sent just before it resigned arrived after the
    // resignation, renewed the follower's lease on the gone leader, and
    // the follower refused the pre-vote of the replica that could have
    // led, for a whole election timeout.
    let mut cluster = Harness::new(3, 12);
    cluster.elect(N1);
    // N1 hears nothing for an election timeout; its heartbeats queue up,
    // then its resignation.
    for _ in 0..12 {
        cluster.tick(N1);
    }
    assert_eq!(cluster.replica(N1).role(), Role::Follower, "N1 resigned");
    cluster.deliver(|envelope| envelope.to == N2 && of_kind("resign")(envelope));
    assert_eq!(cluster.replica(N2).leader(), None);
    cluster.deliver(|envelope| envelope.to == N2 && of_kind("heartbeat")(envelope));
    assert_eq!(cluster.replica(N2).leader(), None, "a stale heartbeat");
    cluster.drop_where(|_| true);
    // N3 asks for pre-votes; N2 supports it.
    cluster.time_out(N3);
    cluster.deliver(|envelope| between(N3, N2)(envelope) && of_kind("pre-vote")(envelope));
    cluster.deliver(|envelope| between(N2, N3)(envelope));
    assert_eq!(cluster.replica(N3).role(), Role::Candidate);
}

#[test]
fn a_leader_that_a_majority_follows_outbids_a_rejoining_acceptors_stale_promise() {
    // N3 promised a higher ballot in an election that never finished (its
    // Prepares were lost), then rejoins. The leader, which still hears N2,
    // confirms that a majority follows it and runs phase 1 again above
    // N3's promise rather than stepping down for an election.
    let mut cluster = Harness::new(3, 13);
    let first = cluster.elect(N1);
    cluster.isolated.insert(N3);
    cluster.campaign(N3);
    cluster.stabilize();
    let stale = cluster.replica(N3).promised();
    assert!(stale > first, "N3 promised itself a higher ballot");
    // An election timeout passes in which N1 hears only N2.
    for _ in 0..12 {
        cluster.tick(N1);
        cluster.tick(N2);
        cluster.stabilize();
    }
    cluster.isolated.clear();
    cluster.tick(N1);
    cluster.tick(N1);
    cluster.stabilize();
    assert_eq!(cluster.replica(N1).role(), Role::Leader, "N1 still leads");
    assert!(cluster.replica(N1).promised() > stale, "above N3's promise");
    assert_eq!(cluster.replica(N3).leader(), Some(N1));
    assert_eq!(cluster.replica(N2).leader(), Some(N1));
}

/// Found in review of the membership change: a replica that missed the
/// growth from three voters to five restarts knowing only the initial
/// configuration and wins an election with one other voter (a majority of
/// the three it knows). It then catches up and learns of the five voters.
/// Meanwhile the real leader decided and acknowledged a write with the
/// other two new voters, which the new leader's phase 1 never saw. Its read
/// round is acknowledged by three of the five voters, so without Rule 3
/// for reads (`phase_one_complete`: a majority of every configuration
/// governing the slots it reads at must have promised) it served the value
/// from before the write.
#[test]
fn a_leader_elected_under_an_outgrown_configuration_serves_no_stale_read() {
    use synod_paxos::ConfigurationChange;
    use synod_paxos::ConfigurationChange::Promote;
    const N4: NodeId = NodeId(4);
    const N5: NodeId = NodeId(5);
    let mut cluster = Harness::with_initial_voters(5, 3, 77);
    cluster.elect(N1);
    cluster.set(N1, "x", "1");
    cluster.run(2);
    // N2 is down while the cluster grows to five voters.
    cluster.crash(N2);
    for change in [
        ConfigurationChange::add_learner(N4),
        ConfigurationChange::add_learner(N5),
        Promote(N4),
        Promote(N5),
    ] {
        cluster
            .change(N1, change)
            .expect("the leader takes the change");
        cluster.run(3);
    }
    for node in [N1, N3, N4, N5] {
        let status = cluster.replica(node).status();
        assert_eq!(status.configuration.voters.len(), 5, "{node}: {status:?}");
    }
    // N2 restarts behind the first change: it knows only N1, N2 and N3.
    cluster.restart(N2);
    assert_eq!(cluster.replica(N2).status().configuration.voters.len(), 3);
    // N1 decides and acknowledges x=2 with N4 and N5 only.
    let write = cluster.set(N1, "x", "2");
    talk_within(&mut cluster, &[N1, N4, N5], 20, false);
    assert_eq!(
        cluster.answer(write),
        Some(&Ok(Response::Stored(true))),
        "x=2 acknowledged"
    );
    // N2 campaigns; only N3 hears it, promises, and lets it catch up.
    cluster.campaign(N2);
    talk_within(&mut cluster, &[N2, N3], 40, false);
    assert_eq!(cluster.replica(N2).role(), Role::Leader);
    assert_eq!(cluster.replica(N2).status().configuration.voters.len(), 5);
    // A read at N2, with N2, N3 and N4 (three of the five voters) talking.
    let read = cluster.get(N2, "x");
    talk_within(&mut cluster, &[N2, N3, N4], 40, true);
    assert_ne!(
        cluster.answer(read),
        Some(&Ok(value("1"))),
        "a stale read: x=2 was acknowledged before the read began"
    );
    assert_eq!(cluster.answer(read), Some(&Ok(value("2"))));
}

/// Runs `rounds` rounds in which only the nodes of `group` hear each other
/// (every other message is lost), ticking them first when `tick` is set.
fn talk_within(cluster: &mut Harness, group: &[NodeId], rounds: usize, tick: bool) {
    let inside = |envelope: &synod_paxos::Envelope| {
        group.contains(&envelope.from) && group.contains(&envelope.to)
    };
    for _ in 0..rounds {
        if tick {
            for node in group {
                cluster.tick(*node);
            }
        }
        cluster.collect_all();
        cluster.deliver(inside);
        cluster.drop_where(|envelope| !inside(envelope));
    }
}
