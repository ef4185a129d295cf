//! One recorded client operation: the record type of the history format
//! (`shared/spec/history-format.md`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a client asked the store to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OperationKind {
    /// Read the value of the key; `value` is what was read (`""` when absent).
    Get,
    /// Store `value` under the key.
    Set,
    /// Ask whether the key exists; `found` is the answer.
    Contains,
    /// Delete the key; `found` tells whether it existed.
    Remove,
}

impl OperationKind {
    /// The spelling used in the history format.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Get => "get",
            OperationKind::Set => "set",
            OperationKind::Contains => "contains",
            OperationKind::Remove => "remove",
        }
    }
}

impl fmt::Display for OperationKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// What the client knows about the outcome of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The operation completed with the recorded result.
    Ok,
    /// The operation certainly did not take effect.
    Fail,
    /// Unknown outcome: it may have taken effect at any time after `call`, or
    /// never.
    Info,
}

impl Status {
    /// The spelling used in the history format.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Fail => "fail",
            Status::Info => "info",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// One line of a history: one completed or abandoned client operation.
///
/// The fields are declared in the order of the specification, and serde
/// serialises them in declaration order, so `serde_json::to_string` of an
/// `Operation` is exactly a history line (see [`crate::to_json_line`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Operation {
    /// Id of the client; a client runs one operation at a time.
    pub client: u64,
    /// What was asked.
    pub op: OperationKind,
    /// The key the operation is about.
    pub key: String,
    /// For `set` the value written, for `get` the value read (`""` when the
    /// key was absent), otherwise `""`.
    pub value: String,
    /// For `get` and `contains` whether the key existed, for `remove` whether
    /// a key was removed, for `set` always `false`.
    pub found: bool,
    /// What the client knows about the outcome.
    pub status: Status,
    /// When the client sent the request, in nanoseconds on the clock shared by
    /// all clients of the run.
    pub call: u64,
    /// When the client got the answer; ignored for `info` operations.
    #[serde(rename = "return")]
    pub return_time: u64,
    /// Which node the client talked to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<u64>,
}
