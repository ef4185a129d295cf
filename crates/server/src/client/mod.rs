//! The client API: RESP2 over TCP, parsed by `synod-resp`.
//!
//! Each connection has a reader, which parses requests and hands every
//! command to the drive loop at once (so a pipeline of requests is proposed
//! before any answer is awaited, and the core batches them into few slots),
//! and a writer, which answers in request order and writes every answer that
//! is ready in one go.
//!
//! Memory per connection is small and bounded: an idle connection holds no
//! read buffer (the reader waits for readability before it reserves one and
//! frees it once it is empty) and has no writer task until its first request;
//! a busy one buffers at most one request frame (`synod_resp`'s
//! [`REQUEST_SIZE_MAX_BYTES`]) plus one read chunk, and at most
//! [`PIPELINE_DEPTH_MAX`] unanswered requests before it stops reading.
//!
//! # Order within a connection
//!
//! Redis executes the commands of one connection in the order sent, and
//! clients rely on it (a `GET` pipelined after a `SET` sees the `SET`).
//! Writes are proposed in order and the log keeps that order. Reads take the
//! fast read-index path, which does not go through the log, so two rules
//! keep them in place:
//!
//! * a read sent while writes of the connection are unanswered goes through
//!   the log instead, right behind those writes;
//! * a write waits until the connection's read-index reads are answered, so
//!   that no such read can observe a write sent after it.
//!
//! Pure write pipelines and pure read pipelines never wait.
//!
//! Bad input follows the resp crate's connection-error rule: a request that
//! parses but is invalid gets `-ERR …` and the connection stays open; bytes
//! that are not RESP or break a framing limit get `-ERR Protocol error: …`
//! and the connection is closed after the replies before it are written.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use synod_resp::limits::REQUEST_SIZE_MAX_BYTES;
use synod_resp::reply::{self, InfoSection};
use synod_resp::{parse_frame, Frame, Protocol, Request};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Notify, Semaphore};
use tracing::{debug, warn};

use crate::drive::{ClientRequest, NodeStatus, RequestError, RequestResult};
use crate::metrics::Metrics;

mod access;
mod stream;
mod transaction;
mod writer;

use access::Identity;
pub use access::{
    Gates, AUTHENTICATION_TIMEOUT_MILLISECONDS, PASSWORD_CHECKS_CONCURRENT_MAX,
    PASSWORD_HASH_ITERATIONS, UNAUTHENTICATED_CONNECTIONS_MAX, UNAUTHENTICATED_REFUSALS_MAX,
};

use stream::{Read, ReadHalf};
use writer::write_answers;

use transaction::{Transaction, Watches};

/// Client connections open at once; one more is told
/// `-ERR max number of clients reached` and closed.
pub const CONNECTIONS_MAX: usize = 16_384;
/// Bytes reserved for one socket read.
pub const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Unanswered requests per connection before the reader stops reading (and
/// TCP pushes back on the client).
pub const PIPELINE_DEPTH_MAX: usize = 4_096;
/// The writer flushes once this many reply bytes are buffered.
pub const WRITE_BATCH_SIZE_MAX_BYTES: usize = 256 * 1024;
/// Reply bytes a connection may hold for a client that does not read them,
/// beyond one reply: past it the connection is closed (Redis's
/// `client-output-buffer-limit` hard limit). Redis sets no limit for normal
/// clients, so one client that pipelines reads of large values and never
/// reads the replies can exhaust its memory; here it costs at most this
/// much plus one reply.
pub const CLIENT_OUTPUT_BUFFER_MAX_BYTES: usize = 64 * 1024 * 1024;
/// A client's TLS handshake must finish within this, so that connections
/// that open and stall (slow-loris) do not hold their place.
pub const CLIENT_TLS_HANDSHAKE_TIMEOUT_MILLISECONDS: u64 = 10_000;
/// A refusal at the connection limit gives up after this long.
pub const REFUSAL_WRITE_TIMEOUT_MILLISECONDS: u64 = 1_000;

/// The message sent to a connection beyond [`CONNECTIONS_MAX`] (Redis's
/// words).
const CONNECTIONS_MAX_REPLY: &[u8] = b"-ERR max number of clients reached\r\n";

/// What every connection shares.
#[derive(Clone)]
pub struct ClientContext {
    /// The drive loop's request channel.
    pub requests: mpsc::Sender<ClientRequest>,
    /// The drive loop's published status (for `INFO`, `HELLO`).
    pub status: watch::Receiver<NodeStatus>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The client listener's port, for `INFO`.
    pub port: u16,
    /// Connections served at once; [`CONNECTIONS_MAX`] in a server.
    pub connections_max: usize,
    /// Reply bytes a connection may hold for its client beyond one reply;
    /// [`CLIENT_OUTPUT_BUFFER_MAX_BYTES`] in a server.
    pub output_buffer_max_bytes: usize,
    /// TLS for every connection of the listener, when configured; a
    /// reload (SIGHUP) replaces it for the handshakes after.
    pub tls: Option<crate::tls::Reloadable<tokio_rustls::TlsAcceptor>>,
    /// The bounds on unauthenticated connections and password hashing.
    pub gates: Gates,
}

/// Accepts client connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    context: ClientContext,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(context.connections_max));
    let next_connection = Arc::new(AtomicU64::new(1));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, most likely: the connections
                // already open keep working; back off instead of spinning.
                warn!(%error, "cannot accept a client connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            context.metrics.client_connections_refused.increment();
            tokio::spawn(refuse(stream));
            continue;
        };
        let id = next_connection.fetch_add(1, Ordering::Relaxed);
        let context = context.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            context.metrics.client_connections.increment();
            tokio::select! {
                _ = accept_connection(stream, remote, id, &context) => {}
                _ = shutdown.changed() => {}
            }
            context.metrics.client_connections.decrement();
            drop(permit);
        });
    }
}

/// Serves one accepted connection: over TLS when the listener has it,
/// after a handshake bounded by [`CLIENT_TLS_HANDSHAKE_TIMEOUT_MILLISECONDS`].
async fn accept_connection(
    stream: TcpStream,
    remote: SocketAddr,
    id: u64,
    context: &ClientContext,
) {
    let _ = stream.set_nodelay(true);
    let Some(tls) = context.tls.as_ref().map(crate::tls::Reloadable::current) else {
        let (reader, writer) = stream.into_split();
        return serve_connection(ReadHalf::Tcp(reader), writer, remote, id, context).await;
    };
    let handshake = tokio::time::timeout(
        Duration::from_millis(CLIENT_TLS_HANDSHAKE_TIMEOUT_MILLISECONDS),
        tls.accept(stream),
    )
    .await;
    match handshake {
        Ok(Ok(stream)) => {
            let (reader, writer) = tokio::io::split(stream);
            serve_connection(ReadHalf::Tls(reader), writer, remote, id, context).await;
        }
        Ok(Err(error)) => {
            context.metrics.client_tls_handshakes_failed.increment();
            debug!(%remote, %error, "client TLS handshake failed");
        }
        Err(_) => {
            context.metrics.client_tls_handshakes_failed.increment();
            debug!(%remote, "client TLS handshake timed out");
        }
    }
}

async fn refuse(mut stream: TcpStream) {
    let write = stream.write_all(CONNECTIONS_MAX_REPLY);
    let _ = tokio::time::timeout(
        Duration::from_millis(REFUSAL_WRITE_TIMEOUT_MILLISECONDS),
        write,
    )
    .await;
}

/// One answer owed to the client, in request order.
enum Pending {
    /// Known already.
    Ready(Frame),
    /// Owed by the drive loop.
    Waiting {
        answer: oneshot::Receiver<RequestResult>,
        /// What the answer settles, for the order rules.
        kind: InFlight,
        /// The request with its keys and values dropped: enough to shape the
        /// reply, without keeping a large value alive until it is answered.
        shape: Request,
        started: Instant,
    },
    /// Write what came before, then close the connection.
    Close,
}

/// An answer owed, with the protocol to encode it in: the connection's when
/// the request was read (after it, for `HELLO`).
type Owed = (Pending, Protocol);

/// What kind of request is in flight, for the order rules of the module
/// documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InFlight {
    /// A write (or a session registration).
    Write,
    /// A read through the log, ordered behind earlier writes.
    LogRead,
    /// A read through the read-index path.
    IndexRead,
}

/// Requests of one connection that the drive loop has not answered yet,
/// counted by the reader as it sends them and by the writer as it answers.
#[derive(Debug, Default)]
struct Outstanding {
    writes: AtomicUsize,
    index_reads: AtomicUsize,
    answered: Notify,
    /// The writer has stopped (the client is gone): nothing will be
    /// answered any more, so nobody may wait for answers.
    writer_stopped: AtomicBool,
    /// Told when the writer stops. Apart from `answered`, which is told
    /// at every answer, so that the reader is not woken for each.
    writer_stop: Notify,
}

impl Outstanding {
    fn counter(&self, kind: InFlight) -> Option<&AtomicUsize> {
        match kind {
            InFlight::Write => Some(&self.writes),
            InFlight::IndexRead => Some(&self.index_reads),
            InFlight::LogRead => None,
        }
    }

    /// Whether writes of the connection are unanswered: a read must then
    /// go through the log, behind them (the first order rule above).
    fn writes_in_flight(&self) -> bool {
        self.writes.load(Ordering::SeqCst) > 0
    }

    fn sent(&self, kind: InFlight) {
        if let Some(counter) = self.counter(kind) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn answered(&self, kind: InFlight) {
        if let Some(counter) = self.counter(kind) {
            counter.fetch_sub(1, Ordering::SeqCst);
            self.answered.notify_waiters();
        }
    }

    /// Waits until the writer has stopped.
    async fn writer_stopped(&self) {
        loop {
            let stopped = self.writer_stop.notified();
            tokio::pin!(stopped);
            stopped.as_mut().enable();
            if self.writer_stopped.load(Ordering::SeqCst) {
                return;
            }
            stopped.await;
        }
    }

    /// Waits until no read-index read of the connection is unanswered, or
    /// the writer has stopped.
    async fn index_reads_answered(&self) {
        loop {
            let answered = self.answered.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            if self.index_reads.load(Ordering::SeqCst) == 0
                || self.writer_stopped.load(Ordering::SeqCst)
            {
                return;
            }
            answered.await;
        }
    }
}

/// Marks the writer stopped when it ends, however it ends.
struct WriterStopped(Arc<Outstanding>);

impl Drop for WriterStopped {
    fn drop(&mut self) {
        self.0.writer_stopped.store(true, Ordering::SeqCst);
        self.0.answered.notify_waiters();
        self.0.writer_stop.notify_waiters();
    }
}

/// The connection's own state, for the `CLIENT` and `HELLO` commands and
/// the order rules.
struct Connection {
    id: u64,
    /// Who the connection is: the principal every command carries.
    identity: Identity,
    remote: SocketAddr,
    name: Option<Bytes>,
    outstanding: Arc<Outstanding>,
    /// `READONLY` was sent: reads are served from this node's applied state
    /// (stale, available without a quorum) until `READWRITE`.
    stale_reads: bool,
    /// The protocol the replies are encoded in, from `HELLO`.
    protocol: Protocol,
    /// Commands queued since `MULTI`, while one is open.
    transaction: Option<Transaction>,
    /// The keys `WATCH` saw, for the next `EXEC`.
    watches: Watches,
}

async fn serve_connection<W>(
    mut reader: ReadHalf,
    writer: W,
    remote: SocketAddr,
    id: u64,
    context: &ClientContext,
) where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let Some(identity) = Identity::admit(context) else {
        context.metrics.client_unauthenticated_refused.increment();
        let mut writer = writer;
        let write = writer.write_all(access::UNAUTHENTICATED_MAX_REPLY);
        let _ = tokio::time::timeout(
            Duration::from_millis(REFUSAL_WRITE_TIMEOUT_MILLISECONDS),
            write,
        )
        .await;
        return;
    };
    let mut connection = Connection {
        id,
        identity,
        remote,
        name: None,
        outstanding: Arc::new(Outstanding::default()),
        stale_reads: false,
        protocol: Protocol::Resp2,
        transaction: None,
        watches: Watches::default(),
    };
    let mut writer = Some(writer);
    let mut answers: Option<(mpsc::Sender<Owed>, tokio::task::JoinHandle<()>)> = None;
    // A connection closed for not authenticating owes its client nothing:
    // its writer is stopped, not awaited (a client that never reads would
    // hold it, and the connection's place, for ever).
    let mut abandoned = false;
    let mut buffer = BytesMut::new();
    'reading: loop {
        if buffer.is_empty() {
            // Hold no memory while idle.
            buffer = BytesMut::new();
        }
        // A writer that stopped (the client is gone, or it let its replies
        // pile up past the limit) ends the connection, even while the
        // client sends nothing more.
        let deadline = connection.identity.deadline;
        let authentication_timeout = async move {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        let read = tokio::select! {
            read = reader.read_into(&mut buffer) => read,
            () = connection.outstanding.writer_stopped() => break,
            () = authentication_timeout => {
                context.metrics.client_authentication_timeouts.increment();
                debug!(%remote, "closing a client connection that did not authenticate in time");
                abandoned = true;
                break;
            }
        };
        match read {
            Read::Received => {}
            Read::Again => continue,
            Read::Closed => break,
            Read::Failed(error) => {
                debug!(%remote, %error, "client connection failed");
                break;
            }
        }
        loop {
            let (pending, close) = match parse_frame(&mut buffer) {
                Ok(None) => break,
                Ok(Some(frame)) => handle_frame(frame, &mut connection, context).await,
                Err(error) => {
                    debug!(%remote, %error, "closing a client connection on a protocol error");
                    (Pending::Ready(error.reply()), true)
                }
            };
            let (sender, _) = answers.get_or_insert_with(|| {
                let (sender, receiver) = mpsc::channel(PIPELINE_DEPTH_MAX);
                let writer = writer.take().expect("the writer starts once");
                let task = tokio::spawn(write_answers(
                    writer,
                    receiver,
                    connection.outstanding.clone(),
                    context.metrics.clone(),
                    remote,
                    context.output_buffer_max_bytes,
                ));
                (sender, task)
            });
            // After the request: the reply to `HELLO 3` is already RESP3.
            if sender.send((pending, connection.protocol)).await.is_err() {
                break 'reading;
            }
            if close {
                let _ = sender.send((Pending::Close, connection.protocol)).await;
                break 'reading;
            }
        }
        debug_assert!(buffer.len() <= REQUEST_SIZE_MAX_BYTES + READ_CHUNK_BYTES);
    }
    // Let the writer finish the answers owed, then close.
    if let Some((sender, task)) = answers {
        drop(sender);
        if abandoned {
            task.abort();
        } else {
            let _ = task.await;
        }
    }
}

/// Turns one frame into the answer owed for it; the flag asks to close the
/// connection after it.
async fn handle_frame(
    frame: Frame,
    connection: &mut Connection,
    context: &ClientContext,
) -> (Pending, bool) {
    let request = match Request::parse(frame) {
        Ok(request) => request,
        Err(error) => {
            return transaction::refused(error, connection);
        }
    };
    if let Some((refusal, close)) =
        access::refuse_before_authentication(&request, connection, context)
    {
        return (Pending::Ready(refusal), close);
    }
    let request = match transaction::handle(request, connection, context).await {
        Ok(handled) => return handled,
        Err(request) => request,
    };
    let request = match access::handle(request, connection, context).await {
        Ok(handled) => return handled,
        Err(request) => request,
    };
    if let Some(mut command) = request.to_command() {
        if let synod_kv::Operation::RandomKey { seed } = &mut command.operation {
            *seed = random_seed();
        }
        return submit(command, &request, connection, context).await;
    }
    if let Some(frame) = reply::local_reply(&request) {
        return (Pending::Ready(frame), request == Request::Quit);
    }
    (
        Pending::Ready(connection_reply(request, connection, context)),
        false,
    )
}

/// A fresh random number for `RANDOMKEY`: std's hasher keys are random
/// per instance, which is all a random key needs (no `rand` dependency
/// for one number).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Hands `command` to the drive loop, through the read-index path or the
/// log as the order rules of the module documentation say; `request` shapes
/// the reply.
async fn submit(
    command: synod_kv::Command,
    request: &Request,
    connection: &mut Connection,
    context: &ClientContext,
) -> (Pending, bool) {
    {
        let outstanding = &connection.outstanding;
        let (reply, answer) = oneshot::channel();
        let started = Instant::now();
        let is_read = command.session.is_none() && command.operation.is_read();
        let kind = match (is_read, outstanding.writes_in_flight()) {
            (true, false) if !command.operation.reads_the_clock() => InFlight::IndexRead,
            (true, _) => InFlight::LogRead,
            (false, _) => InFlight::Write,
        };
        if kind == InFlight::Write {
            outstanding.index_reads_answered().await;
        }
        let principal = connection.identity.principal;
        let client_request = match kind {
            InFlight::IndexRead => ClientRequest::Read {
                operation: command.operation,
                principal,
                stale: connection.stale_reads,
                reply,
            },
            InFlight::LogRead | InFlight::Write => ClientRequest::Write {
                command: command.on_behalf_of(principal),
                reply,
            },
        };
        outstanding.sent(kind);
        if context.requests.send(client_request).await.is_err() {
            outstanding.answered(kind);
            return (
                Pending::Ready(reply::try_again("the node is shutting down")),
                false,
            );
        }
        let shape = reply_shape(request);
        (
            Pending::Waiting {
                answer,
                kind,
                shape,
                started,
            },
            false,
        )
    }
}

/// The reply to a request about the connection or the server.
fn connection_reply(
    request: Request,
    connection: &mut Connection,
    context: &ClientContext,
) -> Frame {
    match request {
        Request::Hello {
            protocol,
            auth: _,
            client_name,
        } => {
            // `AUTH` was handled already (see `access`).
            if let Some(protocol) = protocol {
                connection.protocol = protocol;
            }
            if client_name.is_some() {
                connection.name = client_name;
            }
            let leading = context.status.borrow().role == "leader";
            let role = if leading { "master" } else { "replica" };
            reply::hello(connection.id, role, connection.protocol)
        }
        Request::ClientSetName { name } => {
            connection.name = Some(name);
            reply::ok()
        }
        Request::ClientGetName => connection.name.clone().map_or(Frame::Null, Frame::Bulk),
        Request::ClientId => Frame::Integer(i64::try_from(connection.id).unwrap_or(i64::MAX)),
        Request::ClientInfo => reply::client_info(
            connection.id,
            &connection.remote.to_string(),
            connection.name.as_deref(),
            connection.protocol,
        ),
        Request::Info { .. } => reply::info(&info_sections(context)),
        Request::ReadOnly => {
            connection.stale_reads = true;
            reply::ok()
        }
        Request::ReadWrite => {
            connection.stale_reads = false;
            reply::ok()
        }
        other => reply::error(format_args!(
            "internal error: '{}' has no handler",
            other.name()
        )),
    }
}

fn info_sections(context: &ClientContext) -> Vec<InfoSection> {
    let status = context.status.borrow().clone();
    let field = |name: &str, value: String| (name.to_string(), value);
    vec![
        InfoSection {
            name: "Server".into(),
            fields: vec![
                field("synod_version", env!("CARGO_PKG_VERSION").into()),
                field("node_id", status.id.to_string()),
                field("tcp_port", context.port.to_string()),
            ],
        },
        InfoSection {
            name: "Clients".into(),
            fields: vec![field(
                "connected_clients",
                context.metrics.client_connections.get().to_string(),
            )],
        },
        InfoSection {
            name: "Replication".into(),
            fields: vec![
                field(
                    "role",
                    if status.role == "leader" {
                        "master"
                    } else {
                        "replica"
                    }
                    .into(),
                ),
                field("synod_role", status.role.into()),
                field(
                    "leader",
                    status
                        .leader
                        .map_or_else(|| "none".into(), |leader| leader.to_string()),
                ),
                field(
                    "ballot",
                    format!("{}.{}", status.ballot.round, status.ballot.node),
                ),
                field("commit_index", status.commit_index.to_string()),
                field("applied_index", status.applied_index.to_string()),
                field(
                    "members",
                    status
                        .members
                        .iter()
                        .map(|member| member.id.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            ],
        },
    ]
}

/// The request without its keys and values: the reply depends only on the
/// kind of request.
fn reply_shape(request: &Request) -> Request {
    match request {
        Request::Get { .. } => Request::Get { key: Bytes::new() },
        Request::Exchange { condition, .. } => Request::Exchange {
            key: Bytes::new(),
            value: Bytes::new(),
            condition: *condition,
        },
        Request::GetDel { .. } => Request::GetDel { key: Bytes::new() },
        Request::Append { .. } => Request::Append {
            key: Bytes::new(),
            value: Bytes::new(),
        },
        Request::SetMany { condition, .. } => Request::SetMany {
            pairs: Vec::new(),
            condition: *condition,
        },
        Request::SetIfAbsent { .. } => Request::SetIfAbsent {
            key: Bytes::new(),
            value: Bytes::new(),
        },
        Request::StringLength { .. } => Request::StringLength { key: Bytes::new() },
        Request::GetRange { start, end, .. } => Request::GetRange {
            key: Bytes::new(),
            start: *start,
            end: *end,
        },
        Request::Type { .. } => Request::Type { key: Bytes::new() },
        Request::IncrementBy { .. } => Request::IncrementBy {
            key: Bytes::new(),
            delta: 0,
        },
        Request::Set { condition, .. } => Request::Set {
            key: Bytes::new(),
            value: Bytes::new(),
            condition: *condition,
        },
        Request::Del { .. } => Request::Del { keys: Vec::new() },
        Request::Exists { .. } => Request::Exists { keys: Vec::new() },
        Request::Tagged { tag, write } => Request::Tagged {
            tag: *tag,
            write: Box::new(reply_shape(write)),
        },
        Request::Queued { requests } => Request::Queued {
            requests: requests.iter().map(reply_shape).collect(),
        },
        other => other.clone(),
    }
}

/// The reply for a drive-loop answer; `None` when the drive loop dropped the
/// request (it stopped).
fn answer_frame(result: Option<RequestResult>, shape: &Request) -> Frame {
    let is_read = shape
        .to_command()
        .is_some_and(|command| command.operation.is_read());
    match result {
        Some(Ok(response)) => reply::reply_for(&response, shape),
        // A read has no effect: whatever happened to it, it may be retried.
        Some(Err(RequestError::OutcomeUnknown(_))) | None if is_read => {
            reply::try_again("the read was not served; it had no effect")
        }
        Some(Err(error)) => error_frame(error),
        None => reply::outcome_unknown(),
    }
}

/// The reply for a request that got no response from the store.
pub fn error_frame(error: RequestError) -> Frame {
    match error {
        RequestError::NoLeader | RequestError::ReadTimeout => reply::cluster_down(error),
        RequestError::NotLeader { .. } | RequestError::Overloaded | RequestError::Stopping => {
            reply::try_again(error)
        }
        RequestError::OutcomeUnknown(_) => reply::outcome_unknown(),
        RequestError::Invalid { reason } => reply::error(reason),
    }
}

#[cfg(test)]
mod tests;
