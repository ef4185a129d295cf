//! Model checking of synod's production node.
//!
//! This crate wraps [`synod_node::Node`] — the very replica the server and
//! the simulator run: the consensus core, the kv store, request routing,
//! forwarding, rejection, reads and apply, not a re-implementation — as a
//! [`stateright`] actor, so that the model checker can explore every
//! interleaving of message deliveries, timer firings and (optionally)
//! crashes within a bound, and check linearizability and agreement in every
//! state it reaches.
//!
//! # What is modelled
//!
//! * **Servers** ([`ServerActor`]): one node each, driven as the server's
//!   drive loop drives it. After every input (a peer message, a client
//!   request or a timer firing) the actor drains the node: it sends its
//!   messages, writes each persist batch to the actor's [`DiskState`]
//!   (saved as stateright storage so that a crash keeps it) and reports it
//!   persisted, answers the clients, and records what was applied.
//!   Persistence is synchronous within one handler, so the model never
//!   crashes between a write and the messages it guards (the simulator and
//!   the scenario harness cover slow and lost writes).
//! * **Clients**: stateright's [`RegisterActor`] clients. Each puts one
//!   value, waits for the answer, then reads, each time at a different
//!   server. A put becomes a kv `Set` of [`REGISTER_KEY`] handed to the node
//!   as a write, a get a linearizable read; the node tags, forwards,
//!   proposes and answers them as the server does. (The store's sessions
//!   are not used: registering one would take a log entry of its own.)
//! * **Time**: one stateright timer per server. A firing ticks the node
//!   until it has output (at most [`IDLE_TICKS_PER_FIRING_MAX`] ticks), so a
//!   firing of a follower is an election timeout and a firing of a leader a
//!   heartbeat. Collapsing the ticks without output into one step keeps the
//!   state space small; the price is that a message never arrives between
//!   two silent ticks of one firing, only before or after the firing. Every
//!   server has a budget of firings for the whole run
//!   ([`ModelConfig::timer_firings_max`]), kept on its disk so that
//!   restarts do not renew it. Every other step reacts to a message, and
//!   once the budgets are spent the reactions die out, so the state space is
//!   finite (every configuration in the tests is explored to the end).
//! * **Network**: stateright's per-channel FIFO or unordered network,
//!   optionally bounded to a number of messages in flight at once
//!   ([`ModelConfig::messages_in_flight_max`]). A message may stay
//!   undelivered forever, which also covers its loss: no property looks at
//!   the network.
//! * **Snapshots**: the node's compaction policy, with the replica
//!   configuration's snapshot interval small in two of the tests; a
//!   snapshot installed from a peer or the disk counts as applying the
//!   slots it skips.
//! * **Crashes** (optional): a crashed server loses everything but its
//!   [`DiskState`]; on restart it builds a new node from the durable state
//!   and a new seed (the node restores its snapshot and re-applies the
//!   decided log), and has forgotten its clients' pending requests (they
//!   stay unanswered).
//! * **Answers**: a request the node refused (a rejected write, a failed
//!   read) certainly had no effect, so the server hands it to the node again
//!   at its next timer firing. This checks that contract too: a put applied
//!   twice would break linearizability. A write whose outcome the node calls
//!   unknown (its leader changed) is never answered, as if the answer were
//!   lost.
//!
//! # What is checked
//!
//! * `linearizable` (always): the history of client invocations and
//!   answers is linearizable for a single register
//!   ([`LinearizabilityTester`]).
//! * `agreement` (always): no two servers have applied different values in
//!   the same slot, nor hold stores with different digests right after the
//!   same slot (which also holds installed snapshots to account).
//! * `every client answered` (sometimes): a state exists in which every
//!   client has had both its answers, so the checks are not vacuous.
//! * `leader changed` (sometimes): a state exists in which a replica leads
//!   under a ballot of round two or more, so leader changes are explored.
//! * `snapshot installed` (sometimes): a state exists in which a server
//!   skipped slots by installing a snapshot from a peer or its disk.
//!
//! ```
//! use stateright::Checker;
//! use synod_model::ModelConfig;
//!
//! // A single server that may time out once and elect itself, one client.
//! let mut config = ModelConfig::new(1, 1);
//! config.timer_firings_max = vec![1];
//! let checker = config.check_bfs();
//! checker.assert_no_discovery("linearizable");
//! checker.assert_any_discovery("every client answered");
//! ```
#![deny(missing_docs)]

mod server;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use stateright::actor::register::{RegisterActor, RegisterActorState, RegisterMsg};
use stateright::actor::{ActorModel, ActorModelState, Id, LossyNetwork, Network};
use stateright::semantics::register::Register;
use stateright::semantics::LinearizabilityTester;
use stateright::{Checker, Expectation, Model};
use synod_kv::{Operation, Response};
use synod_paxos::{Config, DurableState, Message, NodeId, PersistentChanges, Role, Value};

pub use server::{ServerActor, ServerState};

/// The one key the register lives under.
pub const REGISTER_KEY: &[u8] = b"register";

/// A timer firing ticks the replica at most this often while it produces no
/// output. Far above any timeout the model configures: a follower or
/// candidate times out, and a leader heartbeats, within a few ticks, so a
/// firing never reaches it unless the core stops keeping time.
pub const IDLE_TICKS_PER_FIRING_MAX: u64 = 64;

/// The message type of the whole model: register requests and answers
/// between clients and servers, and the core's protocol between servers.
pub type ModelMessage = RegisterMsg<u64, char, PeerMessage>;

/// The history the model keeps to check linearizability.
pub type History = LinearizabilityTester<Id, Register<char>>;

/// The actor type of the model: register clients around [`ServerActor`]s.
pub type ModelActor = RegisterActor<ServerActor>;

/// The stateright model of a synod cluster with register clients.
pub type SynodModel = ActorModel<ModelActor, ModelConfig, History>;

/// The state of the whole system, as the checker sees it.
pub type SystemState = ActorModelState<ModelActor, History>;

/// Maps the stateright actor id of a server to the core's node id (node ids
/// start at 1; the core reserves 0 for [`synod_paxos::Ballot::ZERO`]).
pub fn node_of(id: Id) -> NodeId {
    NodeId(usize::from(id) as u64 + 1)
}

/// The inverse of [`node_of`].
pub fn actor_of(node: NodeId) -> Id {
    assert!(node.0 >= 1, "node ids start at 1");
    Id::from((node.0 - 1) as usize)
}

/// A message of the core's protocol, carried between server actors.
///
/// Stateright requires messages to be totally ordered, which the core's
/// [`Message`] is not (it never needs to be). The order here compares the
/// debug rendering, which spells out every field, so it is total and
/// consistent with equality; the checker only uses it to order actions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PeerMessage(pub Message);

impl PartialOrd for PeerMessage {
    fn partial_cmp(&self, other: &PeerMessage) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PeerMessage {
    fn cmp(&self, other: &PeerMessage) -> std::cmp::Ordering {
        if self == other {
            return std::cmp::Ordering::Equal;
        }
        format!("{:?}", self.0).cmp(&format!("{:?}", other.0))
    }
}

/// The only timer of a server: logical time passing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelTimer {
    /// Tick the replica (see [`IDLE_TICKS_PER_FIRING_MAX`]).
    Tick,
}

/// What a server keeps across a crash: the core's durable state, and two
/// counters that bound the model.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DiskState {
    /// The acceptor state, after every persist request so far.
    pub durable: DurableState,
    /// How many times the server has restarted. Also seeds each
    /// incarnation's replica differently, as the core requires.
    pub restarts: u64,
    /// Timer firings used so far, over all incarnations.
    pub timer_firings: u64,
}

/// A deliberately broken disk, for negative tests of the crash model: the
/// checks must notice when a server forgets what it acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DiskFault {
    /// Every persist request is written whole.
    #[default]
    None,
    /// Promises are written, but accepted entries (and the commit index,
    /// which would refer to them) are silently lost, while the server goes
    /// on to announce them as persisted.
    LosesEntries,
}

impl DiskFault {
    /// What this disk actually keeps of `changes`.
    pub(crate) fn written(self, changes: &PersistentChanges) -> PersistentChanges {
        match self {
            DiskFault::None => changes.clone(),
            DiskFault::LosesEntries => PersistentChanges {
                promised: changes.promised,
                ..PersistentChanges::default()
            },
        }
    }
}

/// What a server knows about one slot it has gone past.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AppliedSlot {
    /// The value it applied in the slot; `None` when it skipped the slot by
    /// installing a snapshot that ends after it.
    pub value: Option<Value>,
    /// The store's digest right after the slot.
    pub digest: u64,
}

/// A client request a server has received and not yet answered: the
/// handle the server's node answers through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientRequest {
    /// The client actor.
    pub client: Id,
    /// The client's request id, echoed in the answer.
    pub request: u64,
}

/// The kv operation that reads the register.
pub(crate) fn get_register() -> Operation {
    Operation::Get {
        key: Bytes::from_static(REGISTER_KEY),
    }
}

/// Encodes a register value as the kv value.
pub(crate) fn encode_register(value: char) -> Bytes {
    Bytes::from(value.to_string())
}

/// Decodes the answer to [`get_register`]; a missing key is the register's
/// initial value.
pub(crate) fn decode_register(response: &Response) -> char {
    match response {
        Response::Value(None) => char::default(),
        Response::Value(Some(bytes)) => {
            let text = std::str::from_utf8(bytes).expect("the model stores chars");
            let mut chars = text.chars();
            let value = chars.next().expect("one char");
            assert!(chars.next().is_none(), "exactly one char");
            value
        }
        other => panic!("a register read answered {other:?}"),
    }
}

/// The bounds and settings of one model.
#[derive(Clone)]
pub struct ModelConfig {
    /// Servers, with actor ids `0..server_count` and node ids from 1.
    pub server_count: usize,
    /// Register clients, each of which puts once and then gets.
    pub client_count: usize,
    /// Per server: timer firings it may use in the whole run (a missing
    /// entry means none).
    pub timer_firings_max: Vec<u64>,
    /// Servers that may be down at once (clients never crash). Zero
    /// disables crashes.
    pub crashes_max: usize,
    /// Restarts each server may make in the whole run.
    pub restarts_max: u64,
    /// The servers (by index) that may crash; crashes of others are not
    /// explored. Empty means all of them.
    pub crashable_servers: Vec<usize>,
    /// The network semantics.
    pub network: Network<ModelMessage>,
    /// Whether the network may drop messages.
    pub lossy: bool,
    /// States with more undelivered messages than this are not explored.
    pub messages_in_flight_max: usize,
    /// How every server's disk misbehaves, if it does (negative tests).
    pub disk_fault: DiskFault,
    /// Applied to every replica's configuration after the model's defaults
    /// (e.g. to select a broken protocol variant in a negative test).
    pub configure: Arc<dyn Fn(&mut Config) + Send + Sync>,
}

impl fmt::Debug for ModelConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ModelConfig")
            .field("server_count", &self.server_count)
            .field("client_count", &self.client_count)
            .field("timer_firings_max", &self.timer_firings_max)
            .field("crashes_max", &self.crashes_max)
            .field("restarts_max", &self.restarts_max)
            .field("lossy", &self.lossy)
            .field("messages_in_flight_max", &self.messages_in_flight_max)
            .field("crashable_servers", &self.crashable_servers)
            .field("disk_fault", &self.disk_fault)
            .finish_non_exhaustive()
    }
}

impl ModelConfig {
    /// A model of `server_count` servers and `client_count` clients on an
    /// unordered, non-duplicating, reliable network, without crashes, where
    /// the first server may fire its timer twice and the second once.
    pub fn new(server_count: usize, client_count: usize) -> ModelConfig {
        ModelConfig {
            server_count,
            client_count,
            timer_firings_max: vec![2, 1],
            crashes_max: 0,
            restarts_max: 0,
            crashable_servers: Vec::new(),
            network: Network::new_unordered_nonduplicating([]),
            lossy: false,
            messages_in_flight_max: usize::MAX,
            disk_fault: DiskFault::None,
            configure: Arc::new(|_| {}),
        }
    }

    /// The configuration of the replica on `node`: small timeouts so that
    /// elections, heartbeats and request timeouts all happen within a few
    /// firings, then [`ModelConfig::configure`].
    pub fn replica_config(&self, node: NodeId) -> Config {
        let members = (0..self.server_count)
            .map(|index| node_of(Id::from(index)))
            .collect();
        let mut config = Config::new(node, members);
        config.heartbeat_interval_ticks = 1;
        config.election_timeout_ticks = 2;
        config.request_timeout_ticks = 4;
        config.catch_up_retry_ticks = 2;
        // Pre-votes would multiply the states without adding a behaviour
        // of the acceptors (see `Config::pre_vote`); the simulator runs them.
        config.pre_vote = false;
        // A bound on messages in flight was chosen as the smallest that
        // reaches some interleaving; the leader's announcements of its
        // acceptance would each take one of those places (see
        // `Config::announce_acceptance`). Checks without the bound run them.
        config.announce_acceptance = self.messages_in_flight_max == usize::MAX;
        (self.configure)(&mut config);
        config
    }

    /// The stateright model with its properties.
    pub fn into_model(self) -> SynodModel {
        let server_actors: Vec<ModelActor> = (0..self.server_count)
            .map(|index| {
                RegisterActor::Server(ServerActor {
                    config: self.replica_config(node_of(Id::from(index))),
                    timer_firings_max: self.timer_firings_max.get(index).copied().unwrap_or(0),
                    disk_fault: self.disk_fault,
                })
            })
            .collect();
        let client_actors: Vec<ModelActor> = (0..self.client_count)
            .map(|_| RegisterActor::Client {
                put_count: 1,
                server_count: self.server_count,
            })
            .collect();
        let network = self.network.clone();
        let lossy = if self.lossy {
            LossyNetwork::Yes
        } else {
            LossyNetwork::No
        };
        let crashes_max = self.crashes_max;
        ActorModel::new(self, LinearizabilityTester::new(Register(char::default())))
            .actors(server_actors)
            .actors(client_actors)
            .init_network(network)
            .lossy_network(lossy)
            .max_crashes(crashes_max)
            .record_msg_out(RegisterMsg::record_invocations)
            .record_msg_in(RegisterMsg::record_returns)
            .within_boundary(within_boundary)
            .property(Expectation::Always, "linearizable", |_, state| {
                state.history.serialized_history().is_some()
            })
            .property(Expectation::Always, "agreement", |_, state| {
                agreement(state)
            })
            .property(
                Expectation::Sometimes,
                "every client answered",
                |_, state| every_client_answered(state),
            )
            .property(Expectation::Sometimes, "snapshot installed", |_, state| {
                servers(state).any(|server| {
                    server
                        .applied
                        .values()
                        .any(|applied| applied.value.is_none())
                })
            })
            .property(Expectation::Sometimes, "leader changed", |_, state| {
                servers(state).any(|server| {
                    let replica = server.node.replica();
                    replica.role() == Role::Leader && replica.promised().round >= 2
                })
            })
    }

    /// Runs a breadth-first check on one thread to completion.
    pub fn check_bfs(self) -> impl Checker<SynodModel> {
        self.into_model().checker().spawn_bfs().join()
    }
}

/// The states worth exploring: no client crashed (stateright's crashes hit
/// any actor, but a restarted client would reissue a request it already
/// made) and no server restarted more often than allowed.
fn within_boundary(config: &ModelConfig, state: &SystemState) -> bool {
    let forbidden_crash = state.crashed.iter().enumerate().any(|(index, crashed)| {
        *crashed
            && (index >= config.server_count
                || !(config.crashable_servers.is_empty()
                    || config.crashable_servers.contains(&index)))
    });
    let restarts_exceeded = state
        .actor_storages
        .iter()
        .flatten()
        .any(|disk| disk.restarts > config.restarts_max);
    !forbidden_crash && !restarts_exceeded && state.network.len() <= config.messages_in_flight_max
}

/// The server states of a system state.
pub fn servers(state: &SystemState) -> impl Iterator<Item = &ServerState> {
    state
        .actor_states
        .iter()
        .filter_map(|actor| match &**actor {
            RegisterActorState::Server(server) => Some(server),
            RegisterActorState::Client { .. } => None,
        })
}

/// True when no two servers have applied different values in one slot, or
/// hold stores that differ right after the same slot (which also checks
/// every installed snapshot against the servers that applied the slots).
pub fn agreement(state: &SystemState) -> bool {
    let servers: Vec<&ServerState> = servers(state).collect();
    servers.iter().enumerate().all(|(index, left)| {
        servers[index + 1..].iter().all(|right| {
            left.applied.iter().all(|(slot, mine)| {
                right.applied.get(slot).is_none_or(|theirs| {
                    let values_agree = match (&mine.value, &theirs.value) {
                        (Some(mine), Some(theirs)) => mine == theirs,
                        _ => true,
                    };
                    values_agree && mine.digest == theirs.digest
                })
            })
        })
    })
}

/// True when every client has had the answers to all its requests.
pub fn every_client_answered(state: &SystemState) -> bool {
    state.actor_states.iter().all(|actor| match &**actor {
        RegisterActorState::Client { awaiting, .. } => awaiting.is_none(),
        RegisterActorState::Server(_) => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_values_round_trip() {
        let encoded = encode_register('B');
        assert_eq!(decode_register(&Response::Value(Some(encoded))), 'B');
        assert_eq!(decode_register(&Response::Value(None)), char::default());
    }

    #[test]
    fn node_ids_map_to_actor_ids() {
        assert_eq!(node_of(Id::from(0)), NodeId(1));
        assert_eq!(actor_of(NodeId(3)), Id::from(2));
    }
}
