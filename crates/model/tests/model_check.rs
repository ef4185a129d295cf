//! Model checks of the production Paxos core and kv store (see the crate
//! documentation for what is modelled). Every check explores its bounded
//! state space to the end, breadth first, and prints what it explored.
//!
//! Bounds common to all checks: three servers, register clients that put
//! once and then get, the core's small model timeouts, and a budget of timer
//! firings per server (each firing of a follower is an election timeout, of
//! a leader a heartbeat). Each check names its own further bounds.

use std::time::Instant;

use stateright::actor::Network;
use stateright::{Checker, HasDiscoveries, Model};
use synod_model::{ModelConfig, SynodModel};
use synod_paxos::Mutation;

/// Explores `config` completely and prints what was explored.
fn explore(name: &str, config: ModelConfig) -> impl Checker<SynodModel> {
    println!("{name}: {config:?}");
    let start = Instant::now();
    let checker = config.into_model().checker().spawn_bfs().join();
    println!(
        "{name}: {} unique states ({} generated), depth {}, {:.1?}",
        checker.unique_state_count(),
        checker.state_count(),
        checker.max_depth(),
        start.elapsed()
    );
    assert!(checker.is_done(), "{name}: the state space is finite");
    checker
}

/// Asserts that no explored state breaks a safety property and that every
/// client could be answered (the model is not vacuous).
fn assert_safe_and_live(checker: &impl Checker<SynodModel>) {
    checker.assert_no_discovery("linearizable");
    checker.assert_no_discovery("agreement");
    checker.assert_any_discovery("every client answered");
}

#[test]
fn one_leader_two_clients_any_number_of_messages_in_flight() {
    let mut config = ModelConfig::new(3, 2);
    config.network = Network::new_ordered([]);
    config.timer_firings_max = vec![1, 0, 0];
    let checker = explore("one leader, two clients", config);
    assert_safe_and_live(&checker);
}

#[test]
fn leader_change_one_client_any_number_of_messages_in_flight() {
    let mut config = ModelConfig::new(3, 1);
    config.network = Network::new_ordered([]);
    config.timer_firings_max = vec![1, 1, 0];
    let checker = explore("leader change, one client", config);
    assert_safe_and_live(&checker);
    checker.assert_any_discovery("leader changed");
}

#[test]
fn leader_change_two_clients_five_messages_in_flight() {
    let mut config = ModelConfig::new(3, 2);
    config.network = Network::new_ordered([]);
    config.timer_firings_max = vec![1, 1, 0];
    config.messages_in_flight_max = 5;
    let checker = explore("leader change, two clients", config);
    assert_safe_and_live(&checker);
    checker.assert_any_discovery("leader changed");
}

/// Runs `mutation` until the first safety violation and returns which
/// property broke, if any did.
fn violation(mutation: Mutation, mut config: ModelConfig) -> Option<&'static str> {
    config.configure = match mutation {
        Mutation::None => |_| {},
        Mutation::AcceptQuorumTooSmall => |config| config.mutation = Mutation::AcceptQuorumTooSmall,
        Mutation::LeaderIgnoresPromisedValues => {
            |config| config.mutation = Mutation::LeaderIgnoresPromisedValues
        }
        Mutation::AcceptBelowPromise => |config| config.mutation = Mutation::AcceptBelowPromise,
        Mutation::ApplyOutOfOrder => |config| config.mutation = Mutation::ApplyOutOfOrder,
        Mutation::ReadWithoutConfirmation => {
            |config| config.mutation = Mutation::ReadWithoutConfirmation
        }
    };
    let start = Instant::now();
    let checker = config
        .into_model()
        .checker()
        .finish_when(HasDiscoveries::AnyFailures)
        .spawn_bfs()
        .join();
    let broken = ["linearizable", "agreement"]
        .into_iter()
        .find(|name| checker.discovery(name).is_some());
    println!(
        "{mutation:?}: {broken:?} after {} unique states, {:.1?}",
        checker.unique_state_count(),
        start.elapsed()
    );
    if let Some(name) = broken {
        let path = checker.discovery(name).expect("found above");
        println!(
            "{mutation:?}: counterexample of {} steps:",
            path.clone().into_actions().len()
        );
        for action in path.clone().into_actions() {
            println!("  {action:?}");
        }
        for server in synod_model::servers(path.last_state()) {
            println!("  {}: applied {:?}", server.replica.id(), server.applied);
        }
    }
    broken
}

#[test]
fn a_phase_two_quorum_too_small_is_caught() {
    let mut config = ModelConfig::new(3, 2);
    config.network = Network::new_ordered([]);
    config.timer_firings_max = vec![1, 1, 0];
    config.messages_in_flight_max = 5;
    assert!(violation(Mutation::AcceptQuorumTooSmall, config).is_some());
}

#[test]
fn a_read_without_confirmation_is_caught() {
    let mut config = ModelConfig::new(3, 2);
    config.network = Network::new_ordered([]);
    config.timer_firings_max = vec![0, 1, 1];
    config.messages_in_flight_max = 5;
    assert_eq!(
        violation(Mutation::ReadWithoutConfirmation, config),
        Some("linearizable")
    );
}
