//! The clients: concurrent, each on its own connection to a random node,
//! recording every operation in the shared history format.
//!
//! A client runs one operation at a time. A write that times out, loses its
//! connection or is answered `-UNKNOWN` may still take effect at any later
//! moment, so it is recorded as `info` and the client goes on under a new id
//! (as Jepsen does with a crashed process): the abandoned write stays
//! concurrent with everything after it, and no checker may order the
//! client's next operation after it. A write answered `-TRYAGAIN` or
//! `-CLUSTERDOWN` certainly took no effect and is `fail`, as is any read that
//! failed. Any other error, or a reply of the wrong shape, is a finding that
//! fails the run: a correct server never gives it to these commands.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use synod_history::{Operation, OperationKind, Status};

/// Stands for "no leader" in [`Shared::leader`] (node ids start at 1).
pub const NO_LEADER: u64 = 0;
/// How long one operation may take before it is abandoned as `info`.
pub const OPERATION_TIMEOUT_MILLISECONDS: u64 = 1_000;
/// How long a client waits before reconnecting after a failure.
const RECONNECT_PAUSE_MILLISECONDS: u64 = 50;

/// What every client shares: the run's clock, the history, the counters.
pub struct Shared {
    /// Time zero of the history.
    pub epoch: Instant,
    /// Every operation recorded so far.
    pub operations: Mutex<Vec<Operation>>,
    /// Client ids handed out so far (a client takes a new one after `info`).
    pub next_client: AtomicU64,
    /// Operations that completed `ok`, `fail`, `info`.
    pub ok: AtomicU64,
    /// See `ok`.
    pub fail: AtomicU64,
    /// See `ok`.
    pub info: AtomicU64,
    /// Set to stop the clients after their current operation.
    pub stop: AtomicBool,
    /// The leader as the observer last saw it; [`NO_LEADER`] for none.
    pub leader: AtomicU64,
    /// Answers no correct server gives (an error for a valid command, a
    /// reply of the wrong shape): each fails the run.
    pub findings: Mutex<Vec<String>>,
}

impl Shared {
    /// A fresh record whose clock starts now.
    pub fn new() -> Shared {
        Shared {
            epoch: Instant::now(),
            operations: Mutex::new(Vec::new()),
            next_client: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            fail: AtomicU64::new(0),
            info: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            findings: Mutex::new(Vec::new()),
            leader: AtomicU64::new(NO_LEADER),
        }
    }

    /// Nanoseconds since the run began.
    pub fn nanoseconds(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The leader as the observer last saw it.
    pub fn leader(&self) -> Option<u64> {
        match self.leader.load(Ordering::Relaxed) {
            NO_LEADER => None,
            leader => Some(leader),
        }
    }

    /// Notes an answer no correct server gives.
    pub fn find(&self, finding: String) {
        self.findings
            .lock()
            .expect("no client panics holding the findings")
            .push(finding);
    }

    /// Keeps `operation` and counts it.
    pub fn record(&self, operation: Operation) {
        let counter = match operation.status {
            Status::Ok => &self.ok,
            Status::Fail => &self.fail,
            Status::Info => &self.info,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.operations
            .lock()
            .expect("no client panics holding the history")
            .push(operation);
    }
}

impl Default for Shared {
    fn default() -> Shared {
        Shared::new()
    }
}

/// One client's plan.
#[derive(Clone, Debug)]
pub struct ClientPlan {
    /// Every node's client address (node id = index + 1).
    pub addresses: Vec<SocketAddr>,
    /// Keys `k0 … k(keys-1)`.
    pub keys: u64,
    /// Mean pause between two operations of this client.
    pub think: Duration,
    /// Seed of this client's choices.
    pub seed: u64,
}

/// The name of key number `index`.
pub fn key_name(index: u64) -> String {
    format!("k{index}")
}

/// Runs one client until `shared.stop` is set.
pub async fn run_client(plan: ClientPlan, shared: Arc<Shared>) {
    let mut random = StdRng::seed_from_u64(plan.seed);
    let mut client = shared.next_client.fetch_add(1, Ordering::Relaxed);
    let mut written = 0_u64;
    let mut connection: Option<(u64, redis::aio::MultiplexedConnection)> = None;
    while !shared.stop.load(Ordering::Relaxed) {
        if !plan.think.is_zero() {
            let pause = plan.think.mul_f64(random.random_range(0.0..2.0));
            tokio::time::sleep(pause).await;
        }
        let (node, mut open) = match connection.take() {
            Some(open) => open,
            None => {
                let node = random.random_range(0..plan.addresses.len());
                match connect(plan.addresses[node]).await {
                    Some(open) => (node as u64 + 1, open),
                    None => {
                        tokio::time::sleep(Duration::from_millis(RECONNECT_PAUSE_MILLISECONDS))
                            .await;
                        continue;
                    }
                }
            }
        };
        let key = key_name(random.random_range(0..plan.keys));
        let roll = random.random_range(0..10);
        let kind = match roll {
            0..=3 => OperationKind::Get,
            4..=7 => OperationKind::Set,
            8 => OperationKind::Contains,
            _ => OperationKind::Remove,
        };
        written += 1;
        let value = if kind == OperationKind::Set {
            format!("{client}-{written}")
        } else {
            String::new()
        };
        let operation = perform(&mut open, client, node, kind, key, value, &shared).await;
        let status = operation.status;
        shared.record(operation);
        match status {
            Status::Ok => connection = Some((node, open)),
            Status::Fail => {}
            Status::Info => client = shared.next_client.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// A connection to `address`, or `None` if none is had within the
/// operation timeout. The redis crate's own response timeout (500 ms by
/// default) is turned off: [`perform`] applies the run's.
pub async fn connect(address: SocketAddr) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://{address}")).ok()?;
    let timeout = Duration::from_millis(OPERATION_TIMEOUT_MILLISECONDS);
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(None);
    tokio::time::timeout(
        timeout,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    .ok()?
    .ok()
}

/// Sends one operation and records what came of it.
pub async fn perform(
    connection: &mut redis::aio::MultiplexedConnection,
    client: u64,
    node: u64,
    kind: OperationKind,
    key: String,
    value: String,
    shared: &Shared,
) -> Operation {
    let timeout = Duration::from_millis(OPERATION_TIMEOUT_MILLISECONDS);
    let call = Instant::now();
    let mut operation = Operation {
        client,
        op: kind,
        key: key.clone(),
        value: value.clone(),
        found: false,
        status: Status::Info,
        call: shared.nanoseconds(call),
        return_time: 0,
        node: Some(node),
    };
    let mut command = redis::cmd(kind_name(kind));
    command.arg(&key);
    if kind == OperationKind::Set {
        command.arg(&value);
    }
    let reply =
        tokio::time::timeout(timeout, command.query_async::<redis::Value>(connection)).await;
    let is_read = matches!(kind, OperationKind::Get | OperationKind::Contains);
    let outcome = match reply {
        Ok(Ok(reply)) => match interpret(kind, &value, reply.clone()) {
            Some(answer) => Outcome::Answered(answer),
            None => {
                shared.find(format!("{} {key} answered {reply:?}", kind_name(kind)));
                Outcome::Unknown
            }
        },
        Ok(Err(error)) => match error.code() {
            // synod's words for "certainly not applied" (see
            // `synod_node::RequestError::certainly_not_applied`).
            Some("TRYAGAIN" | "CLUSTERDOWN") => Outcome::NotApplied,
            Some("UNKNOWN") => Outcome::Unknown,
            Some(_) => {
                shared.find(format!(
                    "{} {key} answered the error {error}",
                    kind_name(kind)
                ));
                Outcome::Unknown
            }
            // A lost connection.
            None => Outcome::Unknown,
        },
        Err(_elapsed) => Outcome::Unknown,
    };
    match outcome {
        Outcome::Answered((found, answer)) => {
            operation.status = Status::Ok;
            operation.found = found;
            operation.value = answer;
            operation.return_time = shared.nanoseconds(Instant::now());
        }
        // A read that failed changed nothing, whatever the reason; a write
        // certainly did not take effect only when the server says so.
        Outcome::NotApplied | Outcome::Unknown
            if is_read || matches!(outcome, Outcome::NotApplied) =>
        {
            operation.status = Status::Fail;
            if is_read {
                operation.value = String::new();
            }
            operation.return_time = shared.nanoseconds(Instant::now());
        }
        // A write whose fate is unknown may still take effect.
        Outcome::NotApplied | Outcome::Unknown => {}
    }
    operation
}

/// What became of an operation.
enum Outcome {
    /// Answered: found (or removed), and the value read or written.
    Answered((bool, String)),
    /// The server said it certainly did not apply it.
    NotApplied,
    /// No answer, or an answer that leaves its fate open.
    Unknown,
}

fn kind_name(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::Get => "GET",
        OperationKind::Set => "SET",
        OperationKind::Contains => "EXISTS",
        OperationKind::Remove => "DEL",
    }
}

/// What a reply says for `kind`: whether the key was found (or removed), and
/// the value read or written. `None` for an error or an unexpected reply.
fn interpret(kind: OperationKind, written: &str, reply: redis::Value) -> Option<(bool, String)> {
    match (kind, reply) {
        (OperationKind::Get, redis::Value::Nil) => Some((false, String::new())),
        (OperationKind::Get, redis::Value::BulkString(bytes)) => {
            Some((true, String::from_utf8_lossy(&bytes).into_owned()))
        }
        (OperationKind::Set, redis::Value::Okay) => Some((false, written.to_string())),
        (OperationKind::Set, redis::Value::SimpleString(text)) if text == "OK" => {
            Some((false, written.to_string()))
        }
        (OperationKind::Contains | OperationKind::Remove, redis::Value::Int(count)) => {
            Some((count > 0, String::new()))
        }
        _ => None,
    }
}
