//! Client histories of synod and a linearizability checker for them.
//!
//! This crate owns the history format of `shared/spec/history-format.md`:
//! the record type ([`Operation`]), reading ([`parse_history`]), writing
//! ([`to_json_line`], [`HistoryWriter`]), the checker behind
//! `synod check-history FILE` ([`check_history`], [`check_history_cli`]) and
//! random history generators for tests ([`generate`]).
//!
//! ```
//! use synod_history::{check_history, parse_history, to_json_line};
//!
//! let text = r#"
//! {"client":0,"op":"set","key":"x","value":"1","found":false,"status":"ok","call":100,"return":900}
//! {"client":1,"op":"get","key":"x","value":"1","found":true,"status":"ok","call":500,"return":1200}
//! {"client":2,"op":"remove","key":"x","value":"","found":true,"status":"info","call":1300,"return":0}
//! "#;
//! let operations = parse_history(text).unwrap();
//! assert_eq!(
//!     to_json_line(&operations[0]),
//!     r#"{"client":0,"op":"set","key":"x","value":"1","found":false,"status":"ok","call":100,"return":900}"#
//! );
//! let outcome = check_history(&operations);
//! assert!(outcome.is_linearizable());
//! assert_eq!((outcome.keys_checked, outcome.operations_checked), (1, 3));
//!
//! // A read after the write completed that still sees the key absent.
//! let stale = parse_history(r#"
//! {"client":0,"op":"set","key":"x","value":"1","found":false,"status":"ok","call":100,"return":200}
//! {"client":1,"op":"get","key":"x","value":"","found":false,"status":"ok","call":300,"return":400}
//! "#).unwrap();
//! let outcome = check_history(&stale);
//! assert_eq!(outcome.violations.len(), 1);
//! assert_eq!(outcome.violations[0].key, "x");
//! ```
//!
//! Semantics of statuses and timestamps are documented on the [`check`]
//! module.

#![deny(missing_docs)]

pub mod check;
mod cli;
pub mod generate;
mod operation;
mod parse;
mod write;

pub use check::{
    check_history, check_history_with, CheckOptions, CheckOutcome, SearchStrategy, Violation,
    MEMO_BYTES_MAX_DEFAULT,
};
pub use cli::{
    check_history_cli, run_check_history, EXIT_LINEARIZABLE, EXIT_MALFORMED, EXIT_NOT_LINEARIZABLE,
};
pub use operation::{Operation, OperationKind, Status};
pub use parse::{parse_history, ParseError, ParseErrorReason};
pub use write::{to_json_line, HistoryWriter};
