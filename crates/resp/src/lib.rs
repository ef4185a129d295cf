//! The Redis protocol (RESP2 and RESP3) of synod's client API, without any IO.
//!
//! This crate owns the bytes on the wire and what they mean: frames and
//! their incremental parsing ([`Frame`], [`parse_frame`], [`encode`]), the
//! limits that bound what a peer can make us buffer ([`limits`]), the
//! commands synod understands ([`Request`]) and their mapping to the state
//! machine's [`synod_kv::Command`], and the replies ([`reply`]). It does no
//! IO and keeps no connection state: reading sockets, closing connections,
//! forwarding to the leader and naming clients are the server's job, and
//! the client library's.
//!
//! The layout follows mini-redis: bytes → [`Frame`] → [`Request`] →
//! [`synod_kv::Command`] → [`synod_kv::Response`] → reply [`Frame`] → bytes.
//!
//! # The connection-error rule
//!
//! There are two kinds of bad input, and they end differently:
//!
//! - A [`ProtocolError`]: the bytes are not RESP, or break a limit of
//!   [`limits`] (a bulk length of 2^40, say). The parser cannot know where
//!   the next frame starts, so nothing after it can be trusted. The server
//!   sends [`ProtocolError::reply`] (`-ERR Protocol error: …`) and closes
//!   the connection. Skipping an over-limit bulk string instead would mean
//!   reading and discarding up to its declared length, which is exactly the
//!   work the limit exists to refuse.
//! - A [`CommandError`]: the frame was well-formed and read whole, but it is
//!   not a valid request (unknown command, wrong arity, a key over the kv
//!   limit, `SET … EX`). The stream is still in step, so the server sends
//!   [`CommandError::reply`] and reads the next request on the same
//!   connection.
//!
//! The limits of [`limits`] sit a little above the kv limits, so that a
//! key or value slightly too large is a command error (precise, connection
//! kept) and only a grossly oversized one is a protocol error.
//!
//! # Walkthrough
//!
//! ```
//! use bytes::BytesMut;
//! use synod_kv::{Response, Store, StoreConfig};
//! use synod_resp::{encode, parse_frame, reply, Request};
//!
//! let mut store = Store::new(StoreConfig::default());
//! // Two pipelined requests, the second not yet whole.
//! let mut input = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1"[..]);
//! let mut output = BytesMut::new();
//!
//! while let Some(frame) = parse_frame(&mut input).expect("valid RESP") {
//!     let reply = match Request::parse(frame) {
//!         Ok(request) => match request.to_command() {
//!             Some(command) => reply::reply_for(&store.apply(&command), &request),
//!             None => reply::local_reply(&request).expect("a stateless request"),
//!         },
//!         Err(error) => error.reply(),
//!     };
//!     encode(&reply, &mut output);
//! }
//! assert_eq!(&output[..], b"+OK\r\n");
//!
//! // The rest of the GET arrives; incomplete input was not an error.
//! input.extend_from_slice(b"\r\nk\r\n");
//! let request = Request::parse(parse_frame(&mut input).unwrap().unwrap()).unwrap();
//! let response = store.apply(&request.to_command().unwrap());
//! assert_eq!(response, Response::Value(Some("v".into())));
//! ```

#![deny(missing_docs)]

pub mod acl;
mod frame;
pub mod limits;
mod parse;
pub mod reply;
mod request;

pub use frame::{encode, encode_for, Frame, Protocol};
pub use parse::{parse_frame, ProtocolError};
pub use request::{
    AclRequest, AclRule, ClientAttribute, CommandError, CommandQuery, HelloAuth, Password, Request,
    TtlReport,
};
