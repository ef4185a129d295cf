//! synod's Rust client: key-value calls over RESP and TCP, with writes that
//! are applied exactly once however often they are retried.
//!
//! Give [`Client::connect`] the addresses of some or all nodes; every node
//! accepts every command. Reads are retried freely. Writes are tagged with
//! a session and a sequence (`SYNOD.SESSION`, `SYNOD.TAGGED`), so a write
//! retried after a timeout or a lost connection is applied once, and a
//! write whose fate cannot be learnt ends in [`Error::OutcomeUnknown`]
//! rather than being reported as failed. See [`Client`] for the rules.
//!
//! ```no_run
//! use synod_client::{Client, ClientOptions, Error};
//!
//! # async fn example() -> Result<(), Error> {
//! let client = Client::connect(
//!     ["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"],
//!     ClientOptions::default(),
//! )
//! .await?;
//! client.set("greeting", "hello").await?;
//! assert!(!client.set_if_absent("greeting", "again").await?);
//! assert_eq!(client.get("greeting").await?.as_deref(), Some(&b"hello"[..]));
//! match client.del(["greeting"]).await {
//!     Ok(removed) => assert_eq!(removed, 1),
//!     // Applied once or not at all; read the key to find out.
//!     Err(Error::OutcomeUnknown { .. }) => {}
//!     Err(other) => return Err(other),
//! }
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

pub mod admin;
mod client;
mod connection;
mod error;
pub mod membership;
mod options;
mod retry;

pub use client::Client;
pub use error::Error;
pub use options::{ClientOptions, Credentials, Endpoint};
