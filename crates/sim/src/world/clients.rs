//! The simulated clients: each runs one operation at a time against random
//! nodes, retries on timeouts and refusals, and records what it saw in the
//! shared history format for the linearizability checker.
//!
//! The workload: registers (`get`, `contains`, `set`, `remove` on keys
//! `k…`), one counter ([`COUNTER_KEY`], `incr` by 1 to 10) and expiring keys
//! (`e…`: `set` with an absolute deadline, `get`). See `crate::history` for
//! how each is checked.

use bytes::Bytes;
use synod_kv::{Command, Expiry, Operation, Principal, Response, Sequence, SessionId};
use synod_node::Request;
use synod_paxos::NodeId;

use super::{
    ClientEvent, ClientHandle, ClientReply, World, NANOSECONDS_PER_UNIT,
    WALL_CLOCK_EPOCH_MILLISECONDS,
};

/// The key of the workload's counter.
pub const COUNTER_KEY: &str = "counter";

/// The prefix of the workload's expiring keys.
pub const EXPIRING_KEY_PREFIX: &str = "e";

/// An expiring key's deadline lies this far at most before the writer's
/// time (so that some writes remove the key at once)…
const DEADLINE_BEFORE_MAX_MILLISECONDS: u64 = 100;
/// …and this far at most after it.
const DEADLINE_AFTER_MAX_MILLISECONDS: u64 = 2_000;

/// The outcome of a client operation as recorded in the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordStatus {
    /// Completed with the recorded result.
    Ok,
    /// Certainly had no effect.
    Fail,
    /// Unknown: may take effect at any time after its call, or never.
    Info,
}

/// A client operation that completed successfully: what availability is
/// measured by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// When the answer arrived.
    pub at_units: u64,
    /// When the attempt that was answered was sent.
    pub attempt_sent_units: u64,
    /// True for a write (set, remove), false for a read.
    pub is_write: bool,
}

/// One client operation in the history (the shared history format).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The client.
    pub client: u64,
    /// `get`, `set`, `contains`, `remove` or `incr`.
    pub operation: &'static str,
    /// The key.
    pub key: String,
    /// Value written or read (empty otherwise); for `incr`, the counter's
    /// value it answered.
    pub value: String,
    /// Whether the key existed (get, contains) or was removed (remove).
    pub found: bool,
    /// The outcome.
    pub status: RecordStatus,
    /// Virtual nanoseconds when the client first sent it.
    pub call: u64,
    /// Virtual nanoseconds when the answer arrived (0 for info).
    pub return_time: u64,
    /// The node that answered, if any.
    pub node: Option<u64>,
    /// The agreed time the answer observed (Unix milliseconds), if it came
    /// from the store.
    pub agreed_time: Option<u64>,
    /// For a `set` of an expiring key: its deadline (Unix milliseconds).
    pub deadline: Option<u64>,
    /// For `incr`: what it added.
    pub delta: Option<i64>,
}

#[derive(Clone, Debug)]
pub(super) struct ClientOperation {
    pub(super) operation: Operation,
    pub(super) record_name: &'static str,
    pub(super) key: String,
    pub(super) value: String,
    pub(super) call_units: u64,
    /// Request numbers of every attempt (any answer to one of them counts).
    pub(super) attempts: Vec<u64>,
    pub(super) attempt_deadline_units: u64,
    /// When the latest attempt was sent.
    pub(super) attempt_sent_units: u64,
    /// True once an attempt may have been proposed (timed out unanswered).
    pub(super) maybe_applied: bool,
    pub(super) sequence: Option<Sequence>,
    pub(super) agreed_time: Option<u64>,
    pub(super) deadline: Option<u64>,
    pub(super) delta: Option<i64>,
    /// For a transfer: where it stands.
    pub(super) transfer: Option<super::transfers::Transfer>,
    /// On whose behalf it runs (a user of the rights workload, else
    /// anonymous).
    pub(super) principal: Principal,
}

/// A client: one operation at a time, retried on timeouts and rejections.
#[derive(Clone, Debug)]
pub struct SimClient {
    /// The client id (also its history id).
    pub id: u64,
    session: Option<SessionId>,
    registering: Option<ClientOperation>,
    pub(super) next_sequence: u64,
    next_request: u64,
    pub(super) current: Option<ClientOperation>,
    values_written: u64,
    /// Operations completed, of any status.
    pub completed: u64,
}

impl SimClient {
    /// A client with no session yet.
    pub(super) fn new(id: u64) -> SimClient {
        SimClient {
            id,
            session: None,
            registering: None,
            next_sequence: 1,
            next_request: 0,
            current: None,
            values_written: 0,
            completed: 0,
        }
    }

    /// True while an operation (or a session registration) is outstanding.
    pub fn is_busy(&self) -> bool {
        self.current.is_some() || self.registering.is_some()
    }
}

impl World {
    /// Puts a request or reply on the client links, with a random delay.
    pub(super) fn schedule_client_event(&mut self, event: ClientEvent) {
        let delay = self
            .rng
            .between(1, self.options.client_delay_max_units.max(1));
        let order = self.rng.next_u64();
        self.client_events.insert((self.now + delay, order), event);
    }

    pub(super) fn deliver_client_events(&mut self) {
        let later = self.client_events.split_off(&(self.now + 1, 0));
        let due = std::mem::replace(&mut self.client_events, later);
        for event in due.into_values() {
            match event {
                ClientEvent::Request {
                    node,
                    handle,
                    command,
                } => self.node_receive_request(node, handle, command),
                ClientEvent::Reply {
                    handle,
                    node,
                    reply,
                } => self.client_receive(handle.client as usize, handle.request, node, reply),
            }
        }
    }

    fn node_receive_request(&mut self, id: NodeId, handle: ClientHandle, command: Command) {
        let index = self.node_index(id);
        if self.nodes[index].node.is_none() {
            return; // A crashed node loses the request; the client times out.
        }
        if let Some(at) = self.after_pause(index) {
            let order = self.rng.next_u64();
            let event = ClientEvent::Request {
                node: id,
                handle,
                command,
            };
            self.client_events.insert((at, order), event);
            return;
        }
        let node = self.nodes[index].node.as_mut().expect("checked above");
        let request = if command.operation.is_read() {
            Request::Read(command.principal, command.operation)
        } else {
            Request::Write(command)
        };
        node.request(handle, request);
    }

    fn send_request(&mut self, client: usize, node: NodeId, command: Command) -> u64 {
        let request = self.clients[client].next_request;
        self.clients[client].next_request += 1;
        let handle = ClientHandle {
            client: self.clients[client].id,
            request,
        };
        self.schedule_client_event(ClientEvent::Request {
            node,
            handle,
            command,
        });
        request
    }

    fn random_node(&mut self) -> NodeId {
        let targets = &self.client_targets;
        targets[self.rng.below(targets.len() as u64) as usize]
    }

    pub(super) fn step_clients(&mut self) {
        for client in 0..self.clients.len() {
            self.step_client(client);
        }
    }

    fn step_client(&mut self, client: usize) {
        let now = self.now;
        let timeout = self.options.attempt_timeout_units;
        if let Some(registering) = &self.clients[client].registering {
            if now >= registering.attempt_deadline_units {
                let node = self.random_node();
                let request =
                    self.send_request(client, node, Command::untagged(Operation::RegisterSession));
                let registering = self.clients[client].registering.as_mut().expect("checked");
                registering.attempts.push(request);
                registering.attempt_deadline_units = now + timeout;
            }
            return;
        }
        if self.clients[client].current.is_none() {
            if !self.clients_active || !self.rng.chance(1, 20) {
                return;
            }
            if self.clients[client].session.is_none() {
                self.start_registration(client);
                return;
            }
            let operation = self.new_operation(client);
            self.clients[client].current = Some(operation);
            self.send_attempt(client);
            return;
        }
        let current = self.clients[client].current.as_ref().expect("checked");
        if now < current.attempt_deadline_units {
            return;
        }
        // The attempt timed out: a write may or may not have been proposed.
        let is_write = !current.operation.is_read();
        let attempts = current.attempts.len();
        if is_write {
            self.clients[client]
                .current
                .as_mut()
                .expect("checked")
                .maybe_applied = true;
        }
        if is_write && self.attempts_max.is_some_and(|max| attempts >= max) {
            self.finish(client, None, RecordStatus::Info, None);
            return;
        }
        self.send_attempt(client);
    }

    fn start_registration(&mut self, client: usize) {
        let node = self.random_node();
        let request =
            self.send_request(client, node, Command::untagged(Operation::RegisterSession));
        self.clients[client].registering = Some(ClientOperation {
            operation: Operation::RegisterSession,
            record_name: "register",
            key: String::new(),
            value: String::new(),
            call_units: self.now,
            attempts: vec![request],
            attempt_deadline_units: self.now + self.options.attempt_timeout_units,
            attempt_sent_units: self.now,
            maybe_applied: false,
            sequence: None,
            agreed_time: None,
            deadline: None,
            delta: None,
            transfer: None,
            principal: Principal::Anonymous,
        });
    }

    fn new_operation(&mut self, client: usize) -> ClientOperation {
        // Drawn only with the rights workload, so that the runs without it
        // keep their schedules seed for seed.
        let access = self.options.access && self.rng.chance(1, 8);
        let mut operation = match self.rng.below(20) {
            _ if access => self.new_access_operation(),
            0..=11 => self.new_register_operation(client),
            12..=14 => self.new_counter_operation(),
            15..=17 => self.new_expiring_operation(client),
            18 => self.new_transfer_operation(),
            _ => self.new_balances_operation(),
        };
        operation.sequence = if operation.operation.is_read() {
            None
        } else {
            let state = &mut self.clients[client];
            let sequence = Sequence(state.next_sequence);
            state.next_sequence += 1;
            Some(sequence)
        };
        operation
    }

    /// `incr` of the counter by 1 to 10.
    fn new_counter_operation(&mut self) -> ClientOperation {
        let delta = self.rng.between(1, 10) as i64;
        let mut operation = self.client_operation(
            Operation::IncrementBy {
                key: Bytes::from_static(COUNTER_KEY.as_bytes()),
                delta,
            },
            "incr",
            COUNTER_KEY.to_owned(),
            String::new(),
        );
        operation.delta = Some(delta);
        operation
    }

    /// A `get` of an expiring key, or a `set` of it with an absolute
    /// deadline near the writer's time (`SET … PXAT`).
    fn new_expiring_operation(&mut self, client: usize) -> ClientOperation {
        let key_number = self.rng.below(self.options.keys as u64);
        let key = format!("{EXPIRING_KEY_PREFIX}{key_number}");
        let key_bytes = Bytes::from(key.clone().into_bytes());
        if self.rng.chance(1, 2) {
            return self.client_operation(
                Operation::Get { key: key_bytes },
                "get",
                key,
                String::new(),
            );
        }
        let state = &mut self.clients[client];
        state.values_written += 1;
        let value = format!("c{}v{}", state.id, state.values_written);
        let deadline = WALL_CLOCK_EPOCH_MILLISECONDS + self.now - DEADLINE_BEFORE_MAX_MILLISECONDS
            + self
                .rng
                .below(DEADLINE_BEFORE_MAX_MILLISECONDS + DEADLINE_AFTER_MAX_MILLISECONDS);
        let mut operation = self.client_operation(
            Operation::SetExpiring {
                key: key_bytes,
                value: Bytes::from(value.clone().into_bytes()),
                condition: synod_kv::SetCondition::Always,
                expiry: Expiry::At(deadline as i64),
                answer_previous: false,
            },
            "set",
            key,
            value,
        );
        operation.deadline = Some(deadline);
        operation
    }

    pub(super) fn client_operation(
        &self,
        operation: Operation,
        record_name: &'static str,
        key: String,
        value: String,
    ) -> ClientOperation {
        ClientOperation {
            operation,
            record_name,
            key,
            value,
            call_units: self.now,
            attempts: Vec::new(),
            attempt_deadline_units: 0,
            attempt_sent_units: 0,
            maybe_applied: false,
            sequence: None,
            agreed_time: None,
            deadline: None,
            delta: None,
            transfer: None,
            principal: Principal::Anonymous,
        }
    }

    /// `get`, `contains`, `set` or `remove` of a register key.
    fn new_register_operation(&mut self, client: usize) -> ClientOperation {
        let key_number = self.rng.below(self.options.keys as u64);
        let key = format!("k{key_number}");
        let key_bytes = Bytes::from(key.clone().into_bytes());
        let choice = self.rng.below(10);
        let (operation, record_name, value) = match choice {
            0..=2 => (Operation::Get { key: key_bytes }, "get", String::new()),
            3 => (
                Operation::Contains { key: key_bytes },
                "contains",
                String::new(),
            ),
            4..=7 => {
                let state = &mut self.clients[client];
                state.values_written += 1;
                let value = format!("c{}v{}", state.id, state.values_written);
                (
                    Operation::Set {
                        key: key_bytes,
                        value: Bytes::from(value.clone().into_bytes()),
                        condition: synod_kv::SetCondition::Always,
                    },
                    "set",
                    value,
                )
            }
            _ => (
                Operation::Remove { key: key_bytes },
                "remove",
                String::new(),
            ),
        };
        self.client_operation(operation, record_name, key, value)
    }

    pub(super) fn send_attempt(&mut self, client: usize) {
        let current = self.clients[client]
            .current
            .as_ref()
            .expect("an operation is current");
        let command = match (current.sequence, self.clients[client].session) {
            (Some(sequence), Some(session)) => {
                Command::tagged(session, sequence, current.operation.clone())
            }
            _ => Command::untagged(current.operation.clone()),
        }
        .on_behalf_of(current.principal);
        let node = self.random_node();
        let request = self.send_request(client, node, command);
        let deadline = self.now + self.options.attempt_timeout_units;
        let current = self.clients[client].current.as_mut().expect("checked");
        current.attempts.push(request);
        current.attempt_deadline_units = deadline;
        current.attempt_sent_units = self.now;
    }

    fn client_receive(&mut self, client: usize, request: u64, node: NodeId, reply: ClientReply) {
        if let Some(registering) = &self.clients[client].registering {
            if registering.attempts.contains(&request) {
                if let ClientReply::Response(Response::SessionRegistered(session), _) = reply {
                    let state = &mut self.clients[client];
                    state.session = Some(session);
                    state.next_sequence = 1;
                    state.registering = None;
                } else {
                    // Retry the registration promptly.
                    let registering = self.clients[client].registering.as_mut().expect("checked");
                    registering.attempt_deadline_units = self.now;
                }
            }
            return;
        }
        let Some(current) = &self.clients[client].current else {
            return;
        };
        if !current.attempts.contains(&request) {
            return; // An answer to an operation the client has moved past.
        }
        let is_write = !current.operation.is_read();
        match reply {
            ClientReply::Response(response, agreed_time) => {
                let current = self.clients[client].current.as_mut().expect("checked");
                current.agreed_time = agreed_time.map(|time| time.0);
                self.complete_with(client, node, response);
            }
            ClientReply::NotApplied | ClientReply::Unknown => {
                // Retry soon, elsewhere. An unknown outcome counts as the
                // attempt timing out: the write may have been applied.
                let backoff = self.rng.between(5, 30);
                let current = self.clients[client].current.as_mut().expect("checked");
                let last = *current.attempts.last().expect("an attempt was sent");
                if reply == ClientReply::Unknown && is_write {
                    current.maybe_applied = true;
                }
                if last == request {
                    current.attempt_deadline_units = self.now + backoff;
                }
            }
        }
    }

    fn complete_with(&mut self, client: usize, node: NodeId, response: Response) {
        let Some(response) = self.advance_transfer(client, node, response) else {
            return; // The transfer moved on to its next step.
        };
        let current = self.clients[client].current.as_ref().expect("checked");
        let name = current.record_name;
        match (name, response) {
            ("get", Response::Value(value)) => {
                let (found, text) = match value {
                    Some(bytes) => (true, String::from_utf8_lossy(&bytes).into_owned()),
                    None => (false, String::new()),
                };
                self.clients[client]
                    .current
                    .as_mut()
                    .expect("checked")
                    .value = text;
                self.finish(client, Some(node), RecordStatus::Ok, Some(found));
            }
            ("contains", Response::Found(found)) => {
                self.finish(client, Some(node), RecordStatus::Ok, Some(found))
            }
            ("set", Response::Stored(_)) => {
                self.finish(client, Some(node), RecordStatus::Ok, Some(false))
            }
            ("balances", Response::Values(values)) => {
                let sum = super::transfers::sum_of_balances(&values);
                self.clients[client]
                    .current
                    .as_mut()
                    .expect("checked")
                    .value = sum.to_string();
                self.finish(client, Some(node), RecordStatus::Ok, None);
            }
            ("incr", Response::Integer(value)) => {
                self.clients[client]
                    .current
                    .as_mut()
                    .expect("checked")
                    .value = value.to_string();
                self.finish(client, Some(node), RecordStatus::Ok, None);
            }
            ("remove", Response::Removed(found)) => {
                self.finish(client, Some(node), RecordStatus::Ok, Some(found))
            }
            ("rights", Response::Stored(true)) => {
                self.finish(client, Some(node), RecordStatus::Ok, None)
            }
            // `found`: the probe was allowed to read.
            ("probe", Response::Value(_)) => {
                self.finish(client, Some(node), RecordStatus::Ok, Some(true))
            }
            ("probe", Response::Denied(_)) => {
                self.finish(client, Some(node), RecordStatus::Ok, Some(false))
            }
            (_, Response::SessionExpired) => {
                let status = if current.maybe_applied {
                    RecordStatus::Info
                } else {
                    RecordStatus::Fail
                };
                self.clients[client].session = None;
                self.finish(client, None, status, None);
            }
            (name, other) => {
                self.violations.push(format!(
                    "client {client} got {other:?} for a {name} operation"
                ));
                self.finish(client, None, RecordStatus::Info, None);
            }
        }
    }

    pub(super) fn finish(
        &mut self,
        client: usize,
        node: Option<NodeId>,
        status: RecordStatus,
        found: Option<bool>,
    ) {
        let state = &mut self.clients[client];
        let current = state.current.take().expect("an operation is current");
        state.completed += 1;
        let is_read = current.operation.is_read();
        if status == RecordStatus::Ok {
            self.completions.push(Completion {
                at_units: self.now,
                attempt_sent_units: current.attempt_sent_units,
                is_write: !is_read,
            });
        }
        if is_read && status != RecordStatus::Ok {
            return; // A read that never completed had no effect: nothing to check.
        }
        let record = Record {
            client: state.id,
            operation: current.record_name,
            key: current.key,
            value: current.value,
            found: found.unwrap_or(false),
            status,
            call: current.call_units * NANOSECONDS_PER_UNIT,
            return_time: if status == RecordStatus::Ok {
                self.now * NANOSECONDS_PER_UNIT
            } else {
                0
            },
            node: node.map(|id| id.0),
            agreed_time: current.agreed_time,
            deadline: current.deadline,
            delta: current.delta,
        };
        if self.options.trace {
            let line = format!("client {} {:?}", record.client, record);
            self.log(|| line);
        }
        self.history.push(record);
    }

    /// Operations still outstanding (registrations included).
    pub fn busy_clients(&self) -> usize {
        self.clients
            .iter()
            .filter(|client| client.is_busy())
            .count()
    }
}
