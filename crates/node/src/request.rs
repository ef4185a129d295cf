//! What a client asks of a node, and what it is told.

use synod_kv::{Command, LimitError, Operation, Principal, Response};
use synod_paxos::{NodeId, ReadError, RejectReason};
use thiserror::Error;

/// A client request handed to [`crate::Node::request`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Request {
    /// A command for the log, answered after it is decided and applied here.
    Write(Command),
    /// A linearizable read through the core's read path (no log entry), on
    /// behalf of a principal whose rights the store checks when it serves
    /// it (see `synod_kv::access`).
    Read(Principal, Operation),
    /// A read of this node's state as applied now, with no round to any
    /// other node: it answers at once, even without a quorum, but may miss
    /// writes decided elsewhere that this node has not applied yet. What it
    /// returns was decided (only decided commands are applied), and reads
    /// of one running node never go back in time. Served only when a
    /// client asks for it by name (RESP `READONLY`). The principal's
    /// rights are checked too, as of the same state.
    StaleRead(Principal, Operation),
}

/// The answer to a request.
pub type RequestResult = Result<Response, RequestError>;

/// One answer, for the client waiting behind `handle`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reply<H> {
    /// The handle the request came with.
    pub handle: H,
    /// The answer.
    pub result: RequestResult,
    /// For an answer from the store, the agreed time it observed (see
    /// `synod_kv::expiry`): the time of the state a read was served from,
    /// or of the slot a write was applied in. `None` for an error. For
    /// checkers: no read may return a key whose deadline is at or before it.
    pub agreed_time: Option<synod_kv::UnixMillis>,
}

/// Why a request got no response from the store.
///
/// Every variant but [`RequestError::OutcomeUnknown`] means the request
/// certainly took no effect, so the client may retry it elsewhere.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Error)]
pub enum RequestError {
    /// No leader became known within the request timeout. Not applied.
    #[error("no leader became known in time; the request was not applied")]
    NoLeader,
    /// The command reached a node that is not (or no longer) the leader and
    /// was handed back unproposed. Not applied.
    #[error("leadership changed before the command was proposed; it was not applied")]
    NotLeader {
        /// The leader the rejecting node knew of.
        leader: Option<NodeId>,
    },
    /// Too many requests are queued. Not applied.
    #[error("the cluster is overloaded; the request was not proposed")]
    Overloaded,
    /// The read was not confirmed in time (reads have no effect).
    #[error("the read could not be confirmed by a quorum in time")]
    ReadTimeout,
    /// The request breaks a limit or is not what it claims (a write passed
    /// as a read). Not applied.
    #[error("invalid request: {reason}")]
    Invalid {
        /// What is wrong with it.
        reason: String,
    },
    /// The write was proposed but its fate is unknown.
    #[error("outcome unknown: {0}")]
    OutcomeUnknown(UnknownReason),
    /// The node is stopping; the request was not proposed.
    #[error("the node is shutting down")]
    Stopping,
}

impl RequestError {
    /// True when the request certainly took no effect.
    pub fn certainly_not_applied(&self) -> bool {
        !matches!(self, RequestError::OutcomeUnknown(_))
    }
}

impl From<LimitError> for RequestError {
    fn from(error: LimitError) -> RequestError {
        RequestError::Invalid {
            reason: error.to_string(),
        }
    }
}

/// Why a write's outcome is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
pub enum UnknownReason {
    /// The leader it was handed to was lost.
    #[error("the leader was lost before the write was confirmed")]
    LeaderLost,
    /// It was not decided within the write timeout.
    #[error("the write was not confirmed in time")]
    Timeout,
    /// The node stopped while the write was in flight.
    #[error("the node stopped before the write was confirmed")]
    Stopped,
}

/// The client's view of a proposal the core handed back.
pub(crate) fn rejection_error(reason: RejectReason) -> RequestError {
    match reason {
        RejectReason::NoLeader => RequestError::NoLeader,
        RejectReason::NotLeader { leader } => RequestError::NotLeader { leader },
        RejectReason::Overloaded => RequestError::Overloaded,
    }
}

/// The client's view of a read the core could not serve.
pub(crate) fn read_error(failure: ReadError) -> RequestError {
    match failure {
        ReadError::NoLeader => RequestError::NoLeader,
        ReadError::NotLeader => RequestError::NotLeader { leader: None },
        ReadError::Timeout => RequestError::ReadTimeout,
        ReadError::Overloaded => RequestError::Overloaded,
    }
}
