//! What a call can end in, other than its answer.

use synod_kv::LimitError;
use thiserror::Error;

/// Why a call did not return an answer.
///
/// The distinction that matters for writes is between
/// [`Error::OutcomeUnknown`] (the write may have been applied) and
/// [`Error::Unavailable`] (it was not, because it never reached a node). The
/// client never reports a write as failed when it may have been applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// A write may or may not have been applied: it reached a node, or may
    /// have, and no answer came back within the attempts. It is applied at
    /// most once even so; read the key to learn its fate.
    #[error(
        "outcome unknown after {attempts} attempts: the write may or may not have been applied \
         (last failure: {last_failure})"
    )]
    OutcomeUnknown {
        /// The round trips made.
        attempts: u32,
        /// What went wrong last, for people.
        last_failure: String,
    },
    /// No node answered within the attempts, and the request had no effect:
    /// a read, or a write that never reached any node.
    #[error(
        "no node answered in {attempts} attempts; the request had no effect \
         (last failure: {last_failure})"
    )]
    Unavailable {
        /// The round trips made.
        attempts: u32,
        /// What went wrong last, for people.
        last_failure: String,
    },
    /// The server refused the request with an `-ERR` reply (or another
    /// error code the client does not retry). Retrying it unchanged would
    /// be refused the same way.
    #[error("the server refused the request: {0}")]
    Server(String),
    /// The request breaks a limit of the state machine; it was not sent.
    #[error("invalid request: {0}")]
    InvalidArgument(#[from] LimitError),
    /// The server answered with a reply of the wrong shape for the request:
    /// it is not synod, or not a compatible version.
    #[error("unexpected reply to {request}: {reply}")]
    UnexpectedReply {
        /// The command, lowercase.
        request: &'static str,
        /// The reply, for people.
        reply: String,
    },
    /// [`crate::Client::connect`] was given no endpoints, or options that
    /// allow no attempt.
    #[error("invalid configuration: {0}")]
    Configuration(&'static str),
}
