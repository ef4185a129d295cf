//! Golden tests of the node, in the style of etcd-io/raft's `testdata`:
//! each file in `tests/testdata/` is a script of steps, and after each step
//! the expected output records every message sent, every event, every
//! answer and every change of a node's state. A change of behaviour shows
//! up as a diff of these files.
//!
//! When behaviour changes on purpose, rewrite the expectations and review
//! the diff:
//!
//! ```sh
//! REWRITE=1 cargo test -p synod-sim --test golden
//! git diff crates/sim/tests/testdata
//! ```
//!
//! Directives (ids are node numbers):
//!
//! | directive | what it does |
//! |---|---|
//! | `cluster nodes=3 seed=1 [batch=1] [snapshot-interval=N]` | a new cluster |
//! | `campaign id=1` | node 1 campaigns now, skipping the pre-vote (as in a leader transfer) |
//! | `time-out id=1` | tick node 1 alone until its election timeout expires and it asks for pre-votes |
//! | `tick id=1 [times=N]`, `tick-all [times=N]` | logical time passes |
//! | `set id=2 key=x value=1`, `get id=3 key=x` | a client request |
//! | `deliver [from=1] [to=2] [kind=accept]` | deliver the queued messages that match |
//! | `drop [from=1] [to=2] [kind=accept]` | lose them |
//! | `stabilize` | deliver everything until the cluster is quiet |
//! | `hold id=1`, `persist id=1` | hold node 1's writes; make them durable |
//! | `crash id=1`, `restart id=1` | lose what is not durable; start from disk |
//! | `isolate id=1`, `heal` | cut a node off both ways; restore |
//! | `queue` | the messages in flight |
//! | `status` | every running node's state |

use std::collections::BTreeMap;
use std::fmt::Write as _;

use datadriven::{walk, TestCase};
use synod_node::{Event, Request};
use synod_paxos::{Ballot, Config, Envelope, NodeId, Role, Slot};
use synod_sim::describe::{describe, value_text};
use synod_sim::harness::{set_command, Harness, RequestId};

/// What a step may change of a node, compared before and after it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct NodeState {
    role: Role,
    leader: Option<NodeId>,
    promised: Ballot,
    committed: Slot,
    applied: Slot,
    log_start: Slot,
}

fn states(harness: &Harness) -> BTreeMap<NodeId, Option<NodeState>> {
    harness
        .members()
        .into_iter()
        .map(|id| {
            let state = harness.nodes[&id].as_ref().map(|node| NodeState {
                role: node.replica().role(),
                leader: node.replica().leader(),
                promised: node.replica().promised(),
                committed: node.replica().committed(),
                applied: node.applied(),
                log_start: node.replica().log_start(),
            });
            (id, state)
        })
        .collect()
}

fn describe_state(state: &Option<NodeState>) -> String {
    match state {
        None => "down".to_string(),
        Some(state) => format!(
            "role={} leader={} promised={} committed={} applied={} log-start={}",
            state.role.name(),
            state
                .leader
                .map_or("none".to_string(), |leader| leader.to_string()),
            state.promised,
            state.committed.0,
            state.applied.0,
            state.log_start.0
        ),
    }
}

fn describe_event(node: NodeId, event: &Event) -> String {
    match event {
        Event::Applied { slot, value, .. } => {
            format!("{node} applied slot {} {}", slot.0, value_text(value))
        }
        Event::SnapshotInstalled { end, .. } => {
            format!("{node} installed a snapshot up to slot {}", end.0)
        }
        Event::SnapshotTaken { end } => format!("{node} took a snapshot up to slot {}", end.0),
        Event::LeaderChanged { leader } => format!(
            "{node} knows leader {}",
            leader.map_or("none".to_string(), |leader| leader.to_string())
        ),
    }
}

/// A selection of queued messages by sender, receiver and kind.
fn matcher(case: &mut TestCase) -> impl Fn(&Envelope) -> bool {
    let from: Option<u64> = case.try_take_arg("from").expect("from is a node id");
    let to: Option<u64> = case.try_take_arg("to").expect("to is a node id");
    let kind: Option<String> = case.try_take_arg("kind").expect("kind is a message kind");
    move |envelope| {
        from.is_none_or(|from| envelope.from == NodeId(from))
            && to.is_none_or(|to| envelope.to == NodeId(to))
            && kind
                .as_ref()
                .is_none_or(|kind| envelope.message.kind() == kind)
    }
}

fn node(case: &mut TestCase) -> NodeId {
    NodeId(case.take_arg("id").expect("the step names a node: id=N"))
}

/// Runs one step; returns what it did.
fn step(harness: &mut Option<Harness>, case: &mut TestCase) -> String {
    if case.directive == "cluster" {
        let nodes: u64 = case.take_arg("nodes").expect("nodes=N");
        let seed: u64 = case.take_arg("seed").expect("seed=N");
        let batch: Option<usize> = case.try_take_arg("batch").expect("batch=N");
        let interval: Option<u64> = case
            .try_take_arg("snapshot-interval")
            .expect("snapshot-interval=N");
        let configure: fn(&mut Config) = match (batch, interval) {
            (None, None) => |_| {},
            (Some(1), None) => |config| config.batch_commands_max = 1,
            (Some(1), Some(5)) => |config| {
                config.batch_commands_max = 1;
                config.snapshot_interval_slots = 5;
            },
            other => panic!("no configuration prepared for {other:?}"),
        };
        *harness = Some(Harness::with_config(nodes, seed, configure));
        return "ok\n".to_string();
    }
    let harness = harness.as_mut().expect("a cluster step comes first");
    let before = states(harness);
    let (sent, events, answered) = (
        harness.sent.len(),
        harness.events.len(),
        harness.answered.len(),
    );
    let mut output = String::new();
    match case.directive.as_str() {
        "campaign" => harness.campaign(node(case)),
        "time-out" => harness.time_out(node(case)),
        "tick" => {
            let id = node(case);
            let times: usize = case.try_take_arg("times").expect("times=N").unwrap_or(1);
            for _ in 0..times {
                harness.tick(id);
            }
        }
        "tick-all" => {
            let times: usize = case.try_take_arg("times").expect("times=N").unwrap_or(1);
            for _ in 0..times {
                harness.tick_all();
            }
        }
        "set" => {
            let id = node(case);
            let key: String = case.take_arg("key").expect("key=K");
            let value: String = case.take_arg("value").expect("value=V");
            let request = harness.request(id, Request::Write(set_command(&key, &value)));
            harness.collect(id);
            writeln!(output, "request r{} to {id}", request.0).expect("a string");
        }
        "get" => {
            let id = node(case);
            let key: String = case.take_arg("key").expect("key=K");
            let request = harness.get(id, &key);
            writeln!(output, "request r{} to {id}", request.0).expect("a string");
        }
        "deliver" => {
            let select = matcher(case);
            let delivered = harness.deliver(select);
            writeln!(output, "delivered {delivered}").expect("a string");
        }
        "drop" => {
            let select = matcher(case);
            let dropped = harness.drop_where(select);
            writeln!(output, "dropped {dropped}").expect("a string");
        }
        "stabilize" => harness.stabilize(),
        "hold" => {
            harness.holding_writes.insert(node(case));
        }
        "persist" => {
            let id = node(case);
            harness.holding_writes.remove(&id);
            harness.persist(id);
        }
        "crash" => harness.crash(node(case)),
        "restart" => {
            let id = node(case);
            harness.restart(id);
            harness.collect(id);
        }
        "isolate" => {
            harness.isolated.insert(node(case));
        }
        "heal" => harness.isolated.clear(),
        "queue" => {
            for envelope in &harness.queue {
                writeln!(output, "{}", describe(envelope)).expect("a string");
            }
        }
        "status" => {
            for (id, state) in states(harness) {
                writeln!(output, "{id}: {}", describe_state(&state)).expect("a string");
            }
        }
        other => panic!("unknown directive {other:?}"),
    }
    case.expect_empty().expect("every argument is used");
    for envelope in &harness.sent[sent..] {
        writeln!(output, "sent {}", describe(envelope)).expect("a string");
    }
    for (node, event) in &harness.events[events..] {
        writeln!(output, "{}", describe_event(*node, event)).expect("a string");
    }
    for request in &harness.answered[answered..] {
        let (node, result) = &harness.answers[request];
        writeln!(output, "answer r{} from {node}: {result:?}", request.0).expect("a string");
    }
    for (id, after) in states(harness) {
        let before = &before[&id];
        if before != &after {
            writeln!(
                output,
                "{id}: {} => {}",
                describe_state(before),
                describe_state(&after)
            )
            .expect("a string");
        }
    }
    if output.is_empty() {
        output.push_str("nothing happened\n");
    }
    output
}

#[test]
fn golden_scripts_of_the_node() {
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/testdata");
    walk(directory, |file| {
        let mut harness = None;
        file.run(|case| step(&mut harness, case));
    });
}

/// The handles are numbered in request order, so a script can name them.
#[test]
fn request_ids_are_numbered_in_order() {
    let mut harness = Harness::new(1, 1);
    assert_eq!(harness.get(NodeId(1), "x"), RequestId(0));
    assert_eq!(harness.get(NodeId(1), "x"), RequestId(1));
}
