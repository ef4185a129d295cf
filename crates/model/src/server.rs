//! A synod server as a stateright actor: the production [`Node`] driven as
//! the server's drive loop drives it, with a disk kept as stateright
//! storage so that crashes keep it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use stateright::actor::register::RegisterMsg;
use stateright::actor::{model_timeout, Actor, Id, Out};
use synod_kv::{Command, Operation, Response, SetCondition};
use synod_node::{Event, Node, NodeOptions, Ready, Reply, Request};
use synod_paxos::{Config, Slot};

use crate::{
    actor_of, decode_register, encode_register, get_register, node_of, AppliedSlot, ClientRequest,
    DiskFault, DiskState, ModelMessage, ModelTimer, PeerMessage, IDLE_TICKS_PER_FIRING_MAX,
    REGISTER_KEY,
};

/// What a client asked a server, kept until it is answered so that a
/// request the node refused can be handed to it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Asked {
    Put(char),
    Get,
}

/// The state of one server actor.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerState {
    /// The production node: core, store, request routing, apply.
    pub node: Node<ClientRequest>,
    /// What this server has on disk (also saved as stateright storage).
    pub disk: DiskState,
    /// What this incarnation applied (or skipped by a snapshot), by slot.
    pub applied: BTreeMap<Slot, AppliedSlot>,
    /// Requests received here and not answered yet.
    asked: BTreeMap<ClientRequest, Asked>,
    /// Requests the node certainly did not carry out (a rejected write, a
    /// failed read): handed to it again at the next firing. This checks
    /// the node's contract too: a write applied twice would break
    /// linearizability.
    to_retry: Vec<ClientRequest>,
}

/// A synod server: the production node, driven as the server drives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerActor {
    /// The replica's configuration.
    pub config: Config,
    /// Timer firings this server may use in the whole run.
    pub timer_firings_max: u64,
    /// How the server's disk misbehaves, if it does.
    pub disk_fault: DiskFault,
}

impl ServerActor {
    /// Arms the tick timer while the budget lasts.
    fn arm_timer(&self, disk: &DiskState, o: &mut Out<ServerActor>) {
        if disk.timer_firings < self.timer_firings_max {
            o.set_timer(ModelTimer::Tick, model_timeout());
        }
    }

    /// Hands `request` to the node.
    fn submit(state: &mut ServerState, request: ClientRequest) {
        let asked = state.asked[&request];
        let request_body = match asked {
            Asked::Put(value) => Request::Write(Command::untagged(Operation::Set {
                key: bytes::Bytes::from_static(REGISTER_KEY),
                value: encode_register(value),
                condition: SetCondition::Always,
            })),
            Asked::Get => Request::Read(synod_kv::Principal::Anonymous, get_register()),
        };
        state.node.request(request, request_body);
    }

    /// Handles the node's output until it has nothing more to say: send,
    /// persist (synchronously, so the model never crashes between a write
    /// and what it guards), answer, record what was applied.
    fn handle(&self, state: &mut ServerState, mut ready: Ready<ClientRequest>, o: &mut Out<Self>) {
        loop {
            for envelope in ready.messages {
                o.send(
                    actor_of(envelope.to),
                    RegisterMsg::Internal(PeerMessage(envelope.message)),
                );
            }
            for batch in ready.persist {
                let written = self.disk_fault.written(&batch.changes);
                state.disk.durable.apply(&written);
                o.save(state.disk.clone());
                state
                    .node
                    .persisted(batch.sequence)
                    .expect("every snapshot in the model was taken by Store::snapshot");
            }
            for reply in ready.replies {
                Self::answer(state, reply, o);
            }
            for event in ready.events {
                Self::record(state, event);
            }
            // Encoded at once: the model explores protocol states, and an
            // encoding finished later changes no message.
            if let Some(snapshot) = ready.snapshot_to_encode {
                state.node.snapshot_encoded(snapshot.end, snapshot.encode());
            }
            state.node.store().assert_invariants();
            ready = state.node.ready();
            if ready.is_empty() {
                return;
            }
        }
    }

    fn answer(state: &mut ServerState, reply: Reply<ClientRequest>, o: &mut Out<Self>) {
        let Reply { handle, result, .. } = reply;
        match result {
            Ok(Response::Stored(stored)) => {
                assert!(stored, "the model only proposes unconditional sets");
                state.asked.remove(&handle);
                o.send(handle.client, RegisterMsg::PutOk(handle.request));
            }
            Ok(response @ Response::Value(_)) => {
                state.asked.remove(&handle);
                let value = decode_register(&response);
                o.send(handle.client, RegisterMsg::GetOk(handle.request, value));
            }
            Ok(other) => panic!("the register was answered {other:?}"),
            Err(error) if error.certainly_not_applied() => state.to_retry.push(handle),
            // The outcome is unknown: the client is never answered, as if
            // the answer were lost (a pending call may take effect or not).
            Err(_) => {
                state.asked.remove(&handle);
            }
        }
    }

    fn record(state: &mut ServerState, event: Event) {
        match event {
            Event::Applied {
                slot,
                value,
                digest,
                ..
            } => {
                let digest = digest.expect("the model records digests");
                state.applied.insert(
                    slot,
                    AppliedSlot {
                        value: Some(value),
                        digest,
                    },
                );
            }
            Event::SnapshotInstalled { end, digest } => {
                let digest = digest.expect("the model records digests");
                Self::record_snapshot(state, end, digest);
            }
            Event::SnapshotTaken { .. } | Event::LeaderChanged { .. } => {}
        }
    }

    /// A snapshot ending at `end` stands for the slots it skipped.
    fn record_snapshot(state: &mut ServerState, end: Slot, digest: u64) {
        assert!(end.0 > 0, "a snapshot covers at least one slot");
        state
            .applied
            .entry(Slot(end.0 - 1))
            .or_insert(AppliedSlot {
                value: None,
                digest,
            })
            .digest = digest;
    }

    /// Collects and handles the node's output after an input.
    fn drain(&self, state: &mut ServerState, o: &mut Out<Self>) {
        let ready = state.node.ready();
        self.handle(state, ready, o);
    }
}

impl Actor for ServerActor {
    type Msg = ModelMessage;
    type State = ServerState;
    type Timer = ModelTimer;
    type Storage = DiskState;
    type Random = ();

    fn name(&self) -> String {
        format!("Server {}", self.config.id)
    }

    fn on_start(&self, _id: Id, storage: &Option<DiskState>, o: &mut Out<Self>) -> ServerState {
        let disk = match storage {
            None => DiskState::default(),
            Some(disk) => DiskState {
                restarts: disk.restarts + 1,
                ..disk.clone()
            },
        };
        // The node derives per-node randomness from the seed and the node
        // id; the restart count makes every incarnation's seed new.
        let seed = 1 + disk.restarts;
        let mut options = NodeOptions::new(self.config.clone());
        options.record_digests = true;
        let node = Node::new(options, disk.durable.clone(), seed)
            .expect("every snapshot in the model was taken by Store::snapshot");
        // Saved at once so that a crash before the first write still counts
        // this start, and the next incarnation gets a new seed.
        o.save(disk.clone());
        self.arm_timer(&disk, o);
        let mut state = ServerState {
            node,
            disk,
            applied: BTreeMap::new(),
            asked: BTreeMap::new(),
            to_retry: Vec::new(),
        };
        // A restarted node continues from its durable snapshot and applies
        // the decided log after it again.
        if let Some(snapshot) = &state.disk.durable.snapshot {
            let (end, digest) = (snapshot.end, state.node.store().digest());
            Self::record_snapshot(&mut state, end, digest);
        }
        self.drain(&mut state, o);
        state
    }

    fn on_msg(
        &self,
        _id: Id,
        state: &mut Cow<ServerState>,
        src: Id,
        msg: ModelMessage,
        o: &mut Out<Self>,
    ) {
        let asked = match msg {
            RegisterMsg::Put(request, value) => Some((request, Asked::Put(value))),
            RegisterMsg::Get(request) => Some((request, Asked::Get)),
            RegisterMsg::Internal(PeerMessage(message)) => {
                let state = state.to_mut();
                state.node.step(node_of(src), message);
                self.drain(state, o);
                None
            }
            RegisterMsg::PutOk(_) | RegisterMsg::GetOk(_, _) => None,
        };
        if let Some((request, asked)) = asked {
            let state = state.to_mut();
            let request = ClientRequest {
                client: src,
                request,
            };
            state.asked.insert(request, asked);
            Self::submit(state, request);
            self.drain(state, o);
        }
    }

    fn on_timeout(
        &self,
        _id: Id,
        state: &mut Cow<ServerState>,
        _timer: &ModelTimer,
        o: &mut Out<Self>,
    ) {
        let state = state.to_mut();
        state.disk.timer_firings += 1;
        o.save(state.disk.clone());
        for request in std::mem::take(&mut state.to_retry) {
            Self::submit(state, request);
        }
        state.node.tick();
        let mut ready = state.node.ready();
        let mut idle_ticks = 1;
        while ready.is_empty() && idle_ticks < IDLE_TICKS_PER_FIRING_MAX {
            state.node.tick();
            ready = state.node.ready();
            idle_ticks += 1;
        }
        self.handle(state, ready, o);
        self.arm_timer(&state.disk, o);
    }
}
