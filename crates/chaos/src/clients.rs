//! The clients: concurrent, each on its own connection to a random node,
//! recording every operation in the shared history format.
//!
//! A client runs one operation at a time. A write that times out or loses
//! its connection may still take effect at any later moment, so it is
//! recorded as `info` and the client goes on under a new id (as Jepsen does
//! with a crashed process): the abandoned write stays concurrent with
//! everything after it, and no checker may order the client's next
//! operation after it. A read that fails changed nothing and is `fail`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use synod_history::{Operation, OperationKind, Status};

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
        }
    }

    /// Nanoseconds since the run began.
    pub fn nanoseconds(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
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

async fn connect(address: SocketAddr) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(format!("redis://{address}")).ok()?;
    let timeout = Duration::from_millis(OPERATION_TIMEOUT_MILLISECONDS);
    tokio::time::timeout(timeout, client.get_multiplexed_async_connection())
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
    let mut command = redis::cmd(match kind {
        OperationKind::Get => "GET",
        OperationKind::Set => "SET",
        OperationKind::Contains => "EXISTS",
        OperationKind::Remove => "DEL",
    });
    command.arg(&key);
    if kind == OperationKind::Set {
        command.arg(&value);
    }
    let reply =
        tokio::time::timeout(timeout, command.query_async::<redis::Value>(connection)).await;
    let answered = match reply {
        Ok(Ok(reply)) => interpret(kind, &value, reply),
        _ => None,
    };
    let reads_only = matches!(kind, OperationKind::Get | OperationKind::Contains);
    match answered {
        Some((found, value)) => {
            operation.status = Status::Ok;
            operation.found = found;
            operation.value = value;
            operation.return_time = shared.nanoseconds(Instant::now());
        }
        // A read that failed or timed out changed nothing.
        _ if reads_only => {
            operation.status = Status::Fail;
            operation.value = String::new();
            operation.return_time = shared.nanoseconds(Instant::now());
        }
        // A write whose answer did not come may still take effect.
        _ => {}
    }
    operation
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
