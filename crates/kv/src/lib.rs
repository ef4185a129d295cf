//! The deterministic state machine that every synod replica applies.
//!
//! This crate owns what the replicated log *means*: the commands clients send
//! ([`Command`], [`Operation`]) and their stable binary encoding (the log's
//! payload), the answers ([`Response`]), the state ([`Store`]: a map from key
//! to value, a bounded table of client sessions for exactly-once retries, and
//! counters), the one function that changes that state ([`Store::apply`]),
//! snapshots of it, and the size limits every layer enforces
//! ([`limits`]). It does no IO, reads no clock and draws no random numbers:
//! replicas that apply the same commands in the same order end in the same
//! state, which [`Store::digest`] lets a simulator check cheaply.
//!
//! What it does not own: consensus (which command goes in which slot),
//! durability (where snapshots and the log are kept), and the client protocol
//! (RESP parsing; the server maps RESP commands to [`Operation`]s and
//! [`Response`]s to replies).
//!
//! # Walkthrough
//!
//! A client registers a session, then tags each command with the session id
//! and a growing sequence. The leader proposes the encoded command; every
//! replica applies the decided entry. A retry of the same step — the client
//! timed out and sent it again, so it is in the log twice — is answered from
//! the session without being applied a second time.
//!
//! ```
//! use bytes::Bytes;
//! use synod_kv::{Command, Operation, Response, Sequence, SetCondition, Store, StoreConfig};
//!
//! let mut replica = Store::new(StoreConfig::default());
//!
//! // Registration is an ordinary, untagged log entry.
//! let register = Command::untagged(Operation::RegisterSession).encode();
//! let Response::SessionRegistered(session) = replica.apply_encoded(&register) else {
//!     unreachable!("registration always succeeds");
//! };
//!
//! // Step 1 of the session: remove a key that is not there, then the retry.
//! let remove = Command::tagged(session, Sequence(1), Operation::Remove {
//!     key: Bytes::from_static(b"x"),
//! });
//! let set = Command::tagged(session, Sequence(2), Operation::Set {
//!     key: Bytes::from_static(b"x"),
//!     value: Bytes::from_static(b"1"),
//!     condition: SetCondition::Always,
//! });
//! assert_eq!(replica.apply_encoded(&remove.encode()), Response::Removed(false));
//! assert_eq!(replica.apply_encoded(&set.encode()), Response::Stored(true));
//! // The client's retry of step 2 lands in the log later: not applied again.
//! assert_eq!(replica.apply_encoded(&set.encode()), Response::Stored(true));
//! // A very late duplicate of step 1 is refused: it would remove x.
//! assert_eq!(replica.apply_encoded(&remove.encode()), Response::SequenceStale);
//!
//! // A leader serves reads without the log.
//! let get = Operation::Get { key: Bytes::from_static(b"x") };
//! assert_eq!(replica.read(&get), Response::Value(Some(Bytes::from_static(b"1"))));
//!
//! // A lagging replica catches up from a snapshot and agrees exactly.
//! let caught_up = Store::restore(&replica.snapshot()).expect("an intact snapshot");
//! assert_eq!(caught_up.digest(), replica.digest());
//! ```

#![deny(missing_docs)]

pub mod access;
mod command;
mod deadlines;
pub mod expiry;
mod fingerprint;
pub mod float;
mod key;
mod keyspace;
pub mod limits;
pub mod pattern;
mod response;
mod scan;
mod session;
mod snapshot;
mod store;
mod versions;

pub use access::{
    AccessControl, AccessOperation, AccessRefusal, Categories, Category, Denial, PasswordHash,
    Principal, Rule, User, UserId,
};
pub use command::{
    Command, Operation, Sequence, SessionId, SessionTag, SetCondition, COMMAND_FORMAT_VERSION,
};
pub use expiry::{ExpireCondition, Expiry, KeyExpiry, UnixMillis};
pub use limits::{
    LimitError, COMMAND_SIZE_MAX_BYTES, KEYS_PER_COMMAND_MAX, KEY_SIZE_MAX_BYTES,
    PAYLOAD_SIZE_PER_COMMAND_MAX_BYTES, RESPONSE_SIZE_MAX_BYTES, VALUE_SIZE_MAX_BYTES,
};
pub use response::{Refusal, Response, RESPONSE_FORMAT_VERSION};
pub use snapshot::{SnapshotError, SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC};
pub use store::{Store, StoreConfig, SESSIONS_MAX_DEFAULT};
pub use synod_codec::DecodeError;
pub use versions::{KeyVersion, TOMBSTONE_RETENTION_COMMANDS};
