//! The deterministic state machine that every synod replica applies.
//!
//! This crate owns what the replicated log *means*. This first part holds
//! the commands clients send ([`Command`], [`Operation`]), their answers
//! ([`Response`]), their stable binary encodings (the log's payload) and the
//! size limits every layer enforces ([`limits`]).

#![deny(missing_docs)]

mod codec;
mod command;
pub mod limits;
mod response;

pub use codec::DecodeError;
pub use command::{
    Command, Operation, Sequence, SessionId, SessionTag, SetCondition, COMMAND_FORMAT_VERSION,
};
pub use limits::{
    LimitError, COMMAND_SIZE_MAX_BYTES, KEYS_PER_COMMAND_MAX, KEY_SIZE_MAX_BYTES,
    PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES, RESPONSE_SIZE_MAX_BYTES, VALUE_SIZE_MAX_BYTES,
};
pub use response::{Response, RESPONSE_FORMAT_VERSION};
