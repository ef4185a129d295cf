//! Peer-to-peer messaging over TCP.
//!
//! Every node dials every other node once and uses that connection only to
//! send; what a peer sends arrives on the connection the peer dialed. So
//! there is exactly one sending connection per ordered pair of nodes and no
//! tie-breaking between simultaneous dials.
//!
//! * **Handshake.** The dialer sends a [`Hello`] (protocol version, cluster
//!   id, its id, the id it means to reach); the listener answers with a
//!   [`HelloReply`]. A wrong cluster, an unknown node or another protocol
//!   version is refused, and both sides log the reason.
//! * **TLS.** With peer TLS ([`PeerIdentity::tls`]) the hello travels
//!   inside mutual TLS: the dialer verifies that the listener's
//!   certificate names the node dialed, and the listener that the dialer's
//!   names the node its hello claims ([`crate::tls`]). A dialer without a
//!   certificate of the cluster's CA never gets to say hello, and one that
//!   claims another node's id is refused with
//!   [`Refusal::CertificateMismatch`]; both refusals are logged with the
//!   reason.
//! * **Send queues.** [`Transport::send`] never blocks the drive loop: each
//!   peer has a bounded queue, and when it is full the oldest message is
//!   dropped. Paxos tolerates loss (accepts are retransmitted, heartbeats
//!   repeat), while a stale backlog only delays what matters now.
//! * **Batching.** The writer task drains everything queued, encodes it as
//!   consecutive frames and writes them with one `write_all`.
//! * **Reconnection.** A lost or refused connection is retried with
//!   exponential backoff from [`RECONNECT_BACKOFF_INITIAL_MILLISECONDS`] to
//!   [`RECONNECT_BACKOFF_MAX_MILLISECONDS`].
//! * **Membership.** The peers dialed and the ids admitted follow the
//!   configurations in the log ([`Transport::set_peers`], called by the
//!   drive loop): a member added by a change is dialed at the address the
//!   change carries, a removed one is hung up on, and a removed id is
//!   refused with [`Refusal::Removed`], which tells that node why.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::BytesMut;
use synod_paxos::{Envelope, Message, NodeId};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tracing::{debug, error, info, warn};

use crate::metrics::Metrics;
use crate::tls::{PeerTls, Reloadable};
use crate::wire::{
    decode_hello, decode_hello_reply, decode_message, encode_hello, encode_hello_reply, put_frame,
    put_message_frame, take_frame, Hello, HelloReply, Refusal, WireError, FRAME_HEADER_SIZE_BYTES,
    HELLO_SIZE_BYTES, PROTOCOL_VERSION,
};

/// Messages queued for one peer before the oldest is dropped.
pub const PEER_QUEUE_MESSAGES_MAX: usize = 4_096;
/// Messages encoded into one socket write at most.
pub const PEER_WRITE_BATCH_MESSAGES_MAX: usize = 512;
/// A write batch stops growing past this many bytes.
pub const PEER_WRITE_BATCH_SIZE_MAX_BYTES: usize = 4 * 1024 * 1024;
/// First delay before re-dialing a peer.
pub const RECONNECT_BACKOFF_INITIAL_MILLISECONDS: u64 = 20;
/// Longest delay between two dials of a peer.
pub const RECONNECT_BACKOFF_MAX_MILLISECONDS: u64 = 1_000;
/// A dial (TCP connect) that takes longer fails.
pub const CONNECT_TIMEOUT_MILLISECONDS: u64 = 1_000;
/// A handshake that takes longer fails.
pub const HANDSHAKE_TIMEOUT_MILLISECONDS: u64 = 2_000;
/// Bytes read from a peer socket at once.
pub const PEER_READ_CHUNK_BYTES: usize = 64 * 1024;
/// A connection from a peer whose removal took effect here is hung up on
/// this long after it did: long enough for a removed leader to hand over
/// (it must still reach the new voters for that: about one heartbeat
/// round, 50 ms, after its removal is in force), short enough that a
/// removed node that missed its removal learns of it soon (its next dial
/// is refused with [`Refusal::Removed`]) and its clients go elsewhere.
/// Hanging up at once made a removed leader stop before it handed over,
/// and the cluster wait out an election timeout (chaos, member nemesis).
pub const REMOVED_PEER_HANG_UP_DELAY_MILLISECONDS: u64 = 500;
/// A connection buffer larger than this is freed once it is empty, so one
/// large frame (a snapshot) does not pin memory for the connection's life.
pub const PEER_BUFFER_RETAINED_MAX_BYTES: usize = 1024 * 1024;

/// A message from a peer, for the drive loop.
#[derive(Debug)]
pub struct PeerMessage {
    /// The sender, as authenticated by the handshake.
    pub from: NodeId,
    /// The message.
    pub message: Message,
}

/// Who this node is, for handshakes.
#[derive(Clone, Debug)]
pub struct PeerIdentity {
    /// This node.
    pub id: NodeId,
    /// Its cluster.
    pub cluster_id: u64,
    /// Mutual TLS between members, when configured.
    pub tls: Option<Reloadable<PeerTls>>,
}

/// A peer connection: TCP, or TLS over TCP.
trait PeerStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> PeerStream for T {}

/// Which node ids may connect, as the configurations known here say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Admission {
    /// Members of some configuration known here, and the peers of the
    /// start-up settings.
    pub members: BTreeSet<NodeId>,
    /// Removed ids (refused with [`Refusal::Removed`]), with when this
    /// node first saw each removal in force.
    pub retired: BTreeMap<NodeId, std::time::Instant>,
    /// The epoch of the newest configuration known here.
    pub epoch: u64,
}

/// Set when a peer refused this node because its id was removed from the
/// cluster: the drive loop stops the node (see `DriveError::Removed`).
#[derive(Debug, Default)]
pub struct RemovedSignal {
    /// The epoch the refusal named, plus one; zero while not removed.
    epoch_plus_one: AtomicU64,
}

impl RemovedSignal {
    /// The configuration epoch a peer said removed this node, if any.
    pub fn removed_at(&self) -> Option<u64> {
        self.epoch_plus_one.load(Ordering::Relaxed).checked_sub(1)
    }

    fn set(&self, epoch: u64) {
        self.epoch_plus_one.store(epoch + 1, Ordering::Relaxed);
    }
}

/// Why a dial did not produce a connection.
#[derive(Debug, thiserror::Error)]
enum DialError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("handshake refused by the peer: {0}")]
    Refused(Refusal),
    #[error("malformed handshake reply: {0}")]
    Wire(#[from] WireError),
    #[error("timed out")]
    Timeout,
    #[error("TLS handshake failed: {0}")]
    Tls(io::Error),
}

/// The bounded send queue of one peer.
#[derive(Debug, Default)]
struct PeerQueue {
    messages: Mutex<VecDeque<Message>>,
    ready: Notify,
    /// Cuts the dialer's backoff short: the peer just connected to us, so
    /// it is back. Without it a restarted node hears nothing for up to the
    /// longest backoff, times out and deposes a healthy leader.
    redial: Notify,
}

impl PeerQueue {
    /// Queues `message`; returns true when the oldest message was dropped
    /// to make room.
    fn push(&self, message: Message) -> bool {
        let mut messages = self.messages.lock().expect("peer queue lock");
        let dropped = if messages.len() >= PEER_QUEUE_MESSAGES_MAX {
            messages.pop_front();
            true
        } else {
            false
        };
        messages.push_back(message);
        drop(messages);
        self.ready.notify_one();
        dropped
    }

    /// Takes up to [`PEER_WRITE_BATCH_MESSAGES_MAX`] queued messages.
    fn take_batch(&self) -> Vec<Message> {
        let mut messages = self.messages.lock().expect("peer queue lock");
        let count = messages.len().min(PEER_WRITE_BATCH_MESSAGES_MAX);
        messages.drain(..count).collect()
    }
}

/// The queues of the peers dialed, shared with the listener (which cuts a
/// dialer's backoff short when that peer connects to us).
type SharedQueues = Arc<RwLock<BTreeMap<NodeId, Arc<PeerQueue>>>>;

/// One peer this node dials.
#[derive(Debug)]
struct PeerLink {
    address: String,
    queue: Arc<PeerQueue>,
    dialer: tokio::task::JoinHandle<()>,
}

/// The drive loop's handle for sending to peers. Sending never blocks.
#[derive(Debug)]
pub struct Transport {
    identity: PeerIdentity,
    links: BTreeMap<NodeId, PeerLink>,
    /// The address of each link, for `/status`.
    addresses: BTreeMap<NodeId, String>,
    queues: SharedQueues,
    admission: Arc<RwLock<Admission>>,
    removed: Arc<RemovedSignal>,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
}

impl Transport {
    /// Queues a message for its receiver. A message to a node this one has
    /// no address for (a member whose address only a later configuration
    /// carries) is counted as dropped: Paxos retransmits.
    pub fn send(&self, envelope: Envelope) {
        self.metrics.peer_messages_sent.increment();
        let Some(link) = self.links.get(&envelope.to) else {
            debug!(peer = %envelope.to, "no address for peer; message dropped");
            self.metrics.peer_messages_dropped.increment();
            return;
        };
        if link.queue.push(envelope.message) {
            self.metrics.peer_messages_dropped.increment();
        }
    }

    /// Dials exactly `peers` (this node's own entry is skipped): new ones
    /// get a dialer, removed ones are hung up on, a changed address is
    /// re-dialed. Who may connect becomes `admission`.
    pub fn set_peers(&mut self, peers: &BTreeMap<NodeId, String>, mut admission: Admission) {
        {
            let mut current = self.admission.write().expect("admission lock");
            for (node, since) in &mut admission.retired {
                if let Some(earlier) = current.retired.get(node) {
                    *since = *earlier;
                }
            }
            *current = admission;
        }
        let stale: Vec<NodeId> = self
            .links
            .iter()
            .filter(|(peer, link)| peers.get(peer) != Some(&link.address))
            .map(|(peer, _)| *peer)
            .collect();
        for peer in stale {
            let link = self.links.remove(&peer).expect("listed above");
            link.dialer.abort();
            self.queues.write().expect("queues lock").remove(&peer);
            info!(%peer, address = %link.address, "stopped dialing peer");
        }
        for (peer, address) in peers {
            if *peer == self.identity.id || self.links.contains_key(peer) {
                continue;
            }
            let queue = Arc::new(PeerQueue::default());
            let dialer = tokio::spawn(dial_loop(
                self.identity.clone(),
                *peer,
                address.clone(),
                queue.clone(),
                self.removed.clone(),
                self.metrics.clone(),
                self.shutdown.clone(),
            ));
            self.queues
                .write()
                .expect("queues lock")
                .insert(*peer, queue.clone());
            self.links.insert(
                *peer,
                PeerLink {
                    address: address.clone(),
                    queue,
                    dialer,
                },
            );
        }
        self.addresses = self
            .links
            .iter()
            .map(|(peer, link)| (*peer, link.address.clone()))
            .collect();
    }

    /// The peers dialed and their addresses.
    pub fn addresses(&self) -> &BTreeMap<NodeId, String> {
        &self.addresses
    }

    /// Set once a peer refused this node as removed from the cluster.
    pub fn removed(&self) -> &RemovedSignal {
        &self.removed
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        for link in self.links.values() {
            link.dialer.abort();
        }
    }
}

/// Starts the peer listener and one dialer per peer. Messages received go
/// to `inbox`; the tasks stop when `shutdown` turns true. The handle of the
/// listener's task is returned: once it finishes, the port is free.
pub fn start(
    identity: PeerIdentity,
    listener: TcpListener,
    peers: &BTreeMap<NodeId, String>,
    inbox: mpsc::Sender<PeerMessage>,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
) -> (Transport, tokio::task::JoinHandle<()>) {
    let admission = Admission {
        members: peers.keys().copied().collect(),
        ..Admission::default()
    };
    let mut transport = Transport {
        identity: identity.clone(),
        links: BTreeMap::new(),
        addresses: BTreeMap::new(),
        queues: SharedQueues::default(),
        admission: Arc::new(RwLock::new(Admission::default())),
        removed: Arc::new(RemovedSignal::default()),
        metrics: metrics.clone(),
        shutdown: shutdown.clone(),
    };
    transport.set_peers(peers, admission);
    let listening = tokio::spawn(accept_loop(
        identity,
        transport.admission.clone(),
        listener,
        inbox,
        transport.queues.clone(),
        metrics,
        shutdown,
    ));
    (transport, listening)
}

// --------------------------------------------------------------------------
// Dialing side: sends
// --------------------------------------------------------------------------

async fn dial_loop(
    identity: PeerIdentity,
    peer: NodeId,
    address: String,
    queue: Arc<PeerQueue>,
    removed: Arc<RemovedSignal>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff_milliseconds = RECONNECT_BACKOFF_INITIAL_MILLISECONDS;
    let mut failures_in_a_row: u64 = 0;
    loop {
        let attempt = tokio::select! {
            result = dial(&identity, peer, &address) => result,
            _ = shutdown.changed() => return,
        };
        match attempt {
            Ok(stream) => {
                info!(%peer, %address, "connected to peer");
                backoff_milliseconds = RECONNECT_BACKOFF_INITIAL_MILLISECONDS;
                failures_in_a_row = 0;
                let result = tokio::select! {
                    result = send_loop(stream, &queue) => result,
                    _ = shutdown.changed() => return,
                };
                if let Err(error) = result {
                    info!(%peer, %address, %error, "connection to peer lost; reconnecting");
                }
            }
            Err(DialError::Refused(Refusal::Removed { epoch })) => {
                metrics.peer_handshakes_refused.increment();
                error!(%peer, %address, reason = %Refusal::Removed { epoch }, "peer refused our handshake");
                removed.set(epoch);
            }
            Err(DialError::Refused(refusal)) => {
                metrics.peer_handshakes_refused.increment();
                warn!(%peer, %address, reason = %refusal, "peer refused our handshake");
            }
            Err(error) => {
                // A peer that is down fails every dial; say so once, then
                // keep quiet until it comes back.
                if failures_in_a_row == 0 {
                    warn!(%peer, %address, %error, "cannot reach peer; retrying with backoff");
                } else {
                    debug!(%peer, %address, %error, "cannot reach peer");
                }
                failures_in_a_row += 1;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(backoff_milliseconds)) => {}
            _ = queue.redial.notified() => backoff_milliseconds = RECONNECT_BACKOFF_INITIAL_MILLISECONDS,
            _ = shutdown.changed() => return,
        }
        backoff_milliseconds = (backoff_milliseconds * 2).min(RECONNECT_BACKOFF_MAX_MILLISECONDS);
    }
}

/// Connects to `peer` and completes the handshake.
async fn dial(
    identity: &PeerIdentity,
    peer: NodeId,
    address: &str,
) -> Result<Box<dyn PeerStream>, DialError> {
    let connect = TcpStream::connect(address);
    let stream = tokio::time::timeout(Duration::from_millis(CONNECT_TIMEOUT_MILLISECONDS), connect)
        .await
        .map_err(|_| DialError::Timeout)??;
    stream.set_nodelay(true)?;
    // The certificates in force now, for the whole handshake.
    let tls = identity.tls.as_ref().map(Reloadable::current);
    let handshake = async {
        let mut stream: Box<dyn PeerStream> = match &tls {
            Some(tls) => Box::new(
                tls.connector()
                    .connect(tls.server_name(peer), stream)
                    .await
                    .map_err(DialError::Tls)?,
            ),
            None => Box::new(stream),
        };
        let hello = Hello {
            version: PROTOCOL_VERSION,
            cluster_id: identity.cluster_id,
            from: identity.id,
            to: peer,
        };
        let mut buffer = BytesMut::new();
        put_frame(&mut buffer, &encode_hello(&hello))?;
        stream.write_all(&buffer).await?;
        buffer.clear();
        let payload = read_handshake_frame(&mut stream, &mut buffer).await?;
        match decode_hello_reply(&payload)? {
            HelloReply::Accepted => Ok(stream),
            HelloReply::Refused(refusal) => Err(DialError::Refused(refusal)),
        }
    };
    tokio::time::timeout(
        Duration::from_millis(HANDSHAKE_TIMEOUT_MILLISECONDS),
        handshake,
    )
    .await
    .map_err(|_| DialError::Timeout)?
}

/// Writes queued messages in batches until the connection fails. The peer
/// never sends on this connection after the handshake, so a read that
/// returns is the peer closing it (or dying).
async fn send_loop(stream: Box<dyn PeerStream>, queue: &PeerQueue) -> io::Result<()> {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut buffer = BytesMut::new();
    let mut probe = [0u8; 1];
    loop {
        let batch = queue.take_batch();
        if batch.is_empty() {
            tokio::select! {
                _ = queue.ready.notified() => continue,
                result = reader.read(&mut probe) => {
                    result?;
                    return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "closed by the peer"));
                }
            }
        }
        for message in &batch {
            if let Err(error) = put_message_frame(&mut buffer, message) {
                warn!(kind = message.kind(), %error, "dropping a message too large for one frame");
            }
            if buffer.len() >= PEER_WRITE_BATCH_SIZE_MAX_BYTES {
                writer.write_all(&buffer).await?;
                buffer.clear();
            }
        }
        writer.write_all(&buffer).await?;
        buffer.clear();
        if buffer.capacity() > PEER_BUFFER_RETAINED_MAX_BYTES {
            buffer = BytesMut::new();
        }
    }
}

// --------------------------------------------------------------------------
// Listening side: receives
// --------------------------------------------------------------------------

async fn accept_loop(
    identity: PeerIdentity,
    admission: Arc<RwLock<Admission>>,
    listener: TcpListener,
    inbox: mpsc::Sender<PeerMessage>,
    queues: SharedQueues,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        match accepted {
            Ok((stream, remote)) => {
                let identity = identity.clone();
                let admission = admission.clone();
                let inbox = inbox.clone();
                let queues = queues.clone();
                let metrics = metrics.clone();
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        result = serve_peer(stream, remote, &identity, &admission, &inbox, &queues, &metrics) => {
                            if let Err(error) = result {
                                info!(%remote, %error, "peer connection closed");
                            }
                        }
                        _ = shutdown.changed() => {}
                    }
                });
            }
            Err(error) => {
                // Out of file descriptors, most likely: back off briefly
                // instead of spinning.
                warn!(%error, "cannot accept a peer connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Why an inbound peer connection ended.
#[derive(Debug, thiserror::Error)]
enum ServeError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("TLS handshake refused: {0}")]
    Tls(io::Error),
    #[error("{0}")]
    Wire(#[from] WireError),
    #[error("handshake timed out")]
    Timeout,
    #[error("refused: {0}")]
    Refused(Refusal),
    #[error("the drive loop has stopped")]
    Stopped,
}

async fn serve_peer(
    stream: TcpStream,
    remote: SocketAddr,
    identity: &PeerIdentity,
    admission: &RwLock<Admission>,
    inbox: &mpsc::Sender<PeerMessage>,
    queues: &RwLock<BTreeMap<NodeId, Arc<PeerQueue>>>,
    metrics: &Metrics,
) -> Result<(), ServeError> {
    stream.set_nodelay(true)?;
    // The certificates in force now, for the whole handshake.
    let tls = identity.tls.as_ref().map(Reloadable::current);
    let (mut stream, certificates) = match &tls {
        Some(tls) => {
            let accepted = tokio::time::timeout(
                Duration::from_millis(HANDSHAKE_TIMEOUT_MILLISECONDS),
                tls.acceptor().accept(stream),
            )
            .await
            .map_err(|_| ServeError::Timeout)?;
            match accepted {
                Ok(stream) => {
                    let certificates: Option<Vec<_>> = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .map(|chain| chain.iter().map(|c| c.clone().into_owned()).collect());
                    (Box::new(stream) as Box<dyn PeerStream>, certificates)
                }
                Err(error) => {
                    metrics.peer_handshakes_refused.increment();
                    warn!(%remote, reason = %error, "refused a peer TLS handshake");
                    return Err(ServeError::Tls(error));
                }
            }
        }
        None => (Box::new(stream) as Box<dyn PeerStream>, None),
    };
    let mut buffer = BytesMut::new();
    let hello = tokio::time::timeout(
        Duration::from_millis(HANDSHAKE_TIMEOUT_MILLISECONDS),
        read_handshake_frame(&mut stream, &mut buffer),
    )
    .await
    .map_err(|_| ServeError::Timeout)??;
    let hello = decode_hello(&hello)?;
    let claim = match &tls {
        Some(tls) => tls.check_claim(certificates.as_deref(), hello.from),
        None => Ok(()),
    };
    let verdict = judge(
        identity,
        &admission.read().expect("admission lock"),
        &hello,
        claim.is_ok(),
    );
    if let (HelloReply::Refused(Refusal::CertificateMismatch), Err(mismatch)) = (verdict, &claim) {
        // The details the refusal sent to the dialer leaves out.
        warn!(%remote, claimed_node = hello.from.0, reason = %mismatch, "refused a peer's claim");
    }
    let mut reply = BytesMut::new();
    put_frame(&mut reply, &encode_hello_reply(&verdict))?;
    stream.write_all(&reply).await?;
    if let HelloReply::Refused(refusal) = verdict {
        metrics.peer_handshakes_refused.increment();
        warn!(
            %remote,
            claimed_node = hello.from.0,
            claimed_cluster = hello.cluster_id,
            version = hello.version,
            reason = %refusal,
            "refused a peer handshake"
        );
        return Err(ServeError::Refused(refusal));
    }
    let from = hello.from;
    info!(peer = %from, %remote, "peer connected");
    if let Some(queue) = queues.read().expect("queues lock").get(&from) {
        queue.redial.notify_one();
    }
    loop {
        // A peer whose removal took effect here is hung up on, once it
        // had time to hand over; its next dial is refused with the
        // reason, and it stops.
        let hang_up = admission
            .read()
            .expect("admission lock")
            .retired
            .get(&from)
            .is_some_and(|since| {
                since.elapsed() >= Duration::from_millis(REMOVED_PEER_HANG_UP_DELAY_MILLISECONDS)
            });
        if hang_up {
            info!(peer = %from, "hanging up on a removed peer");
            return Ok(());
        }
        while let Some(frame) = take_frame(&mut buffer)? {
            let message = decode_message(frame)?;
            metrics.peer_messages_received.increment();
            inbox
                .send(PeerMessage { from, message })
                .await
                .map_err(|_| ServeError::Stopped)?;
        }
        if buffer.is_empty() && buffer.capacity() > PEER_BUFFER_RETAINED_MAX_BYTES {
            buffer = BytesMut::new();
        }
        buffer.reserve(PEER_READ_CHUNK_BYTES);
        if stream.read_buf(&mut buffer).await? == 0 {
            return Ok(());
        }
    }
}

/// The verdict on a peer's handshake: every rule of admission, in order.
/// `certified` says whether the dialer's TLS certificate names the node its
/// hello claims (always true without peer TLS; see [`PeerTls::check_claim`]).
fn judge(
    identity: &PeerIdentity,
    admission: &Admission,
    hello: &Hello,
    certified: bool,
) -> HelloReply {
    let refusal = if hello.version != PROTOCOL_VERSION {
        Refusal::VersionUnsupported {
            supported: PROTOCOL_VERSION,
        }
    } else if hello.cluster_id != identity.cluster_id {
        Refusal::ClusterMismatch {
            expected: identity.cluster_id,
        }
    } else if admission.retired.contains_key(&hello.from) {
        Refusal::Removed {
            epoch: admission.epoch,
        }
    } else if hello.from == identity.id || !admission.members.contains(&hello.from) {
        Refusal::NodeUnknown
    } else if hello.to != identity.id {
        Refusal::WrongNode {
            actual: identity.id.0,
        }
    } else if !certified {
        Refusal::CertificateMismatch
    } else {
        return HelloReply::Accepted;
    };
    HelloReply::Refused(refusal)
}

/// Reads one handshake frame. A length prefix above the handshake's size is
/// refused at once: whatever is talking is not a synod peer, and its first
/// bytes must not make us wait for (or buffer) a large "frame".
async fn read_handshake_frame<S: AsyncRead + Unpin>(
    stream: &mut S,
    buffer: &mut BytesMut,
) -> Result<bytes::Bytes, WireError> {
    loop {
        if buffer.len() >= FRAME_HEADER_SIZE_BYTES {
            let header: [u8; FRAME_HEADER_SIZE_BYTES] = buffer[..FRAME_HEADER_SIZE_BYTES]
                .try_into()
                .expect("the slice has the header's length");
            if u32::from_le_bytes(header) as usize > HELLO_SIZE_BYTES {
                return Err(WireError::not_a_peer());
            }
            if let Some(frame) = take_frame(buffer)? {
                return Ok(frame);
            }
        }
        buffer.reserve(HELLO_SIZE_BYTES + FRAME_HEADER_SIZE_BYTES);
        match stream.read_buf(buffer).await {
            Ok(0) | Err(_) => return Err(synod_codec::DecodeError::Truncated.into()),
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests;
