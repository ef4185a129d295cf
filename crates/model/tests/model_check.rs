//! Model checks of the production Paxos core and kv store (see the crate
//! documentation for what is modelled and how).
//!
//! Bounds common to every check: three servers; register clients that each
//! put one value and then get, at two different servers; the model's small
//! timeouts; and a budget of timer firings per server for the whole run (a
//! firing of a follower is an election timeout, of a leader a heartbeat).
//! Each check names its further bounds: the network (per-channel FIFO or
//! unordered), the most messages in flight at once, crashes, and log
//! compaction. A network
//! that may keep any message undelivered forever also covers message loss,
//! since the properties never look at the network.
//!
//! The passing checks explore their bounded state space to the end, breadth
//! first, and print its size. The negative checks run a deliberately broken
//! protocol variant or disk until the first violation and print the
//! counterexample: they prove the checks can fail.

use std::sync::Arc;
use std::time::Instant;

use stateright::actor::Network;
use stateright::{Checker, HasDiscoveries, Model};
use synod_model::{servers, DiskFault, ModelConfig};
use synod_paxos::Mutation;

/// The safety properties every check must keep.
const SAFETY_PROPERTIES: [&str; 2] = ["linearizable", "agreement"];

/// Three servers and `client_count` clients on per-channel FIFO links, where
/// server `i` may fire its timer `timer_firings_max[i]` times and at most
/// `messages_in_flight_max` messages are in flight at once.
fn fifo(
    client_count: usize,
    timer_firings_max: [u64; 3],
    messages_in_flight_max: usize,
) -> ModelConfig {
    let mut config = ModelConfig::new(3, client_count);
    config.network = Network::new_ordered([]);
    config.timer_firings_max = timer_firings_max.to_vec();
    config.messages_in_flight_max = messages_in_flight_max;
    config
}

/// The third server: it never times out, so it is a pure acceptor.
const ACCEPTOR: usize = 2;

/// The first server: it times out first in the checks where it may.
const FIRST_CANDIDATE: usize = 0;

/// Lets `server` (alone) crash, and restart from its disk, once.
fn crashes_once(mut config: ModelConfig, server: usize) -> ModelConfig {
    config.crashes_max = 1;
    config.restarts_max = 1;
    config.crashable_servers = vec![server];
    config
}

/// Makes every replica ask for a snapshot after each applied slot, so that
/// logs are compacted at once and lagging replicas install snapshots.
fn compacting(mut config: ModelConfig) -> ModelConfig {
    config.configure = Arc::new(|replica| replica.snapshot_interval_slots = 1);
    config
}

/// Explores `config` to the end and asserts that no state breaks a safety
/// property, that every client can be answered (the model is not vacuous)
/// and that each of `also_reached` (names of `sometimes` properties) is.
fn assert_safe(name: &str, config: ModelConfig, also_reached: &[&'static str]) {
    println!("{name}: {config:?}");
    let start = Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, |count| count.get());
    let checker = config
        .into_model()
        .checker()
        .threads(threads)
        .spawn_bfs()
        .join();
    println!(
        "{name}: {} unique states ({} generated), depth {}, {:.1?}",
        checker.unique_state_count(),
        checker.state_count(),
        checker.max_depth(),
        start.elapsed()
    );
    assert!(checker.is_done());
    for property in SAFETY_PROPERTIES {
        checker.assert_no_discovery(property);
    }
    checker.assert_any_discovery("every client answered");
    for property in also_reached {
        checker.assert_any_discovery(property);
    }
}

#[test]
fn one_leader_two_clients_any_number_of_messages_in_flight() {
    assert_safe(
        "one leader, two clients",
        fifo(2, [1, 0, 0], usize::MAX),
        &[],
    );
}

#[test]
fn leader_change_one_client_any_number_of_messages_in_flight() {
    assert_safe(
        "leader change, one client",
        fifo(1, [1, 1, 0], usize::MAX),
        &["leader changed"],
    );
}

/// The largest check (about four million states, two minutes on one core):
/// six messages in flight is the smallest bound at which an acceptor can
/// take an old leader's accept after promising a new leader (see the
/// `AcceptBelowPromise` check).
#[test]
fn leader_change_two_clients_six_messages_in_flight() {
    assert_safe(
        "leader change, two clients",
        fifo(2, [1, 1, 0], 6),
        &["leader changed"],
    );
}

#[test]
fn leader_change_one_client_reordering_network_four_messages_in_flight() {
    let mut config = fifo(1, [1, 1, 0], 4);
    config.network = Network::new_unordered_nonduplicating([]);
    assert_safe(
        "leader change, one client, reordering",
        config,
        &["leader changed"],
    );
}

#[test]
fn leader_change_two_clients_acceptor_restarts_four_messages_in_flight() {
    assert_safe(
        "leader change, two clients, acceptor restarts",
        crashes_once(fifo(2, [1, 1, 0], 4), ACCEPTOR),
        &["leader changed"],
    );
}

#[test]
fn leader_change_one_client_acceptor_restarts_five_messages_in_flight() {
    assert_safe(
        "leader change, one client, acceptor restarts",
        crashes_once(fifo(1, [1, 1, 0], 5), ACCEPTOR),
        &["leader changed"],
    );
}

#[test]
fn leader_change_two_clients_compaction_after_every_slot_five_messages_in_flight() {
    let config = compacting(fifo(2, [1, 1, 0], 5));
    assert_safe(
        "leader change, two clients, compaction",
        config,
        &["leader changed", "snapshot installed"],
    );
}

#[test]
fn leader_change_one_client_compaction_first_candidate_restarts_five_messages_in_flight() {
    let config = crashes_once(compacting(fifo(1, [1, 1, 0], 5)), FIRST_CANDIDATE);
    assert_safe(
        "leader change, one client, compaction, first candidate restarts",
        config,
        &["leader changed", "snapshot installed"],
    );
}

/// Runs `config` until the first safety violation; returns which property
/// broke, after printing the counterexample.
fn first_violation(name: &str, config: ModelConfig) -> Option<&'static str> {
    let start = Instant::now();
    let checker = config
        .into_model()
        .checker()
        .finish_when(HasDiscoveries::AnyFailures)
        .spawn_bfs()
        .join();
    let broken = SAFETY_PROPERTIES
        .into_iter()
        .find(|property| checker.discovery(property).is_some());
    println!(
        "{name}: {broken:?} broken after {} unique states, {:.1?}",
        checker.unique_state_count(),
        start.elapsed()
    );
    let path = checker.discovery(broken?).expect("found above");
    for action in path.clone().into_actions() {
        println!("  {action:?}");
    }
    for server in servers(path.last_state()) {
        println!("  {} applied {:?}", server.node.id(), server.applied);
    }
    broken
}

/// How a broken variant shows itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caught {
    /// A safety property of the model breaks.
    Property(&'static str),
    /// The node's own assertion stops it first (a panic whose message holds
    /// this text): the node refuses to apply slots out of order rather than
    /// diverge.
    NodeAssertion(&'static str),
}

/// The bounds within which the core's broken variant `mutation` is caught,
/// and how. The match is exhaustive, so a new variant does not compile
/// until it has a check.
fn catching_bounds(mutation: Mutation) -> (ModelConfig, Caught) {
    match mutation {
        Mutation::None => unreachable!("the correct protocol breaks nothing"),
        // The first leader announces its decision in a message of its own,
        // after its write (not in the Accept), so the second campaign must
        // run while two more of its messages wait: seven in flight.
        Mutation::AcceptQuorumTooSmall => (fifo(2, [1, 1, 0], 7), Caught::Property("agreement")),
        Mutation::LeaderIgnoresPromisedValues => {
            (fifo(2, [1, 1, 0], 5), Caught::Property("agreement"))
        }
        // An acceptor must take an old leader's accept after promising a
        // new leader, which needs six messages in flight at once.
        Mutation::AcceptBelowPromise => (fifo(2, [0, 1, 1], 6), Caught::Property("agreement")),
        Mutation::ApplyOutOfOrder => (
            fifo(2, [0, 1, 1], 5),
            Caught::NodeAssertion("applied strictly in order"),
        ),
        Mutation::ReadWithoutConfirmation => {
            (fifo(2, [0, 1, 1], 6), Caught::Property("linearizable"))
        }
        // The model persists within each handler, before any message
        // goes out, so a vote counted early is durable by the time anyone
        // hears of it: the variant changes nothing here. The simulator's
        // mutation matrix catches it, and the scenario
        // `a_leader_announces_a_decision_only_once_its_own_acceptance_is_durable`
        // tests the rule it breaks; for a follower's acceptance,
        // `a_follower_counts_its_own_acceptance_only_once_it_is_durable`.
        Mutation::CountOwnVoteBeforeWrite | Mutation::CountFollowerVoteBeforeWrite => {
            unreachable!("not observable in the model")
        }
        // The model has no clocks, so no lease.
        Mutation::LeaseIgnoresClockDrift => unreachable!("the model runs without a lease"),
        // Safe by design: only the simulator's availability check sees it.
        Mutation::PreVoteDisabled => unreachable!("breaks availability, not safety"),
        // The model's membership is fixed; the simulator's membership runs
        // and their governing-quorum check catch these.
        Mutation::LearnersVote | Mutation::ConfigurationWithoutDelay => {
            unreachable!("the model runs without membership changes")
        }
        // The model has no clocks and no expiring keys; the simulator's
        // expiry scenarios catch it.
        Mutation::ReadsExpireByLocalClock => unreachable!("the model has no expiry"),
        Mutation::WatchesIgnored => unreachable!("the model has no transactions"),
    }
}

/// Panic messages seen by any thread while a check that expects one runs.
static PANICS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Runs the broken variant `mutation` and asserts that it is caught.
fn assert_caught(mutation: Mutation) {
    let (mut config, caught) = catching_bounds(mutation);
    config.configure = Arc::new(move |replica| replica.mutation = mutation);
    match caught {
        Caught::Property(property) => {
            let broken = first_violation(&format!("{mutation:?}"), config);
            assert_eq!(broken, Some(property), "{mutation:?}");
        }
        Caught::NodeAssertion(text) => {
            PANICS.lock().expect("no panic holds it").clear();
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(|info| {
                PANICS
                    .lock()
                    .expect("no panic holds it")
                    .push(info.to_string());
            }));
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                first_violation(&format!("{mutation:?}"), config)
            }));
            std::panic::set_hook(previous);
            assert!(
                outcome.is_err(),
                "{mutation:?} ran without stopping the node"
            );
            let panics = PANICS.lock().expect("no panic holds it");
            assert!(
                panics.iter().any(|message| message.contains(text)),
                "{mutation:?}: expected a panic saying {text:?}, saw {panics:?}"
            );
        }
    }
}

#[test]
fn a_phase_two_quorum_too_small_breaks_agreement() {
    assert_caught(Mutation::AcceptQuorumTooSmall);
}

#[test]
fn a_leader_ignoring_promised_values_breaks_agreement() {
    assert_caught(Mutation::LeaderIgnoresPromisedValues);
}

#[test]
fn accepting_below_the_promise_breaks_agreement() {
    assert_caught(Mutation::AcceptBelowPromise);
}

#[test]
fn applying_out_of_order_stops_the_node() {
    assert_caught(Mutation::ApplyOutOfOrder);
}

#[test]
fn a_read_without_confirmation_breaks_linearizability() {
    assert_caught(Mutation::ReadWithoutConfirmation);
}

#[test]
fn every_broken_protocol_variant_has_a_check_above() {
    // Five variants have a test calling `assert_caught` above; the sixth,
    // CountOwnVoteBeforeWrite, cannot show in a model that persists
    // synchronously (see `catching_bounds`).
    assert_eq!(
        Mutation::BROKEN.len(),
        6,
        "add a test calling `assert_caught` for the new variant"
    );
}

/// The bounds of `leader_change_one_client_acceptor_restarts_five_messages_in_flight`,
/// which is safe with a sound disk.
#[test]
fn a_disk_that_loses_accepted_entries_breaks_linearizability() {
    let mut config = crashes_once(fifo(1, [1, 1, 0], 5), ACCEPTOR);
    config.disk_fault = DiskFault::LosesEntries;
    let broken = first_violation("disk loses entries", config);
    assert_eq!(broken, Some("linearizable"));
}
