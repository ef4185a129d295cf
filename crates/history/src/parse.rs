//! Reading histories: JSON Lines (the specified format) or one JSON array of
//! the same objects, with every error tied to a 1-based line number.
//!
//! Records are read field by field from a `serde_json::Value` rather than
//! through the derived `Deserialize`, so that each error names the field it is
//! about ("field `call`: expected a non-negative integer, found \"100\"").
//!
//! What is checked beyond the types, because a checker given such a record
//! could only guess what the recorder meant:
//! - an `ok` operation must not return before it was called;
//! - an `ok` `get` with `found=false` reads `""` (a value read from an
//!   absent key is a contradiction, not a detail).
//!
//! Fields that mean nothing for an operation (`found` of a `set`, `value` of
//! a `contains` or `remove`) are ignored, not judged: another recorder may
//! fill them loosely, and they cannot change what the operation did.
//!
//! The result fields of `info` and `fail` operations are not checked: the
//! client never learnt a result, so recorders may leave anything there (the
//! specification's own example has an `info` `remove` with `found=true` and
//! `return=0`). Fields not in the specification are ignored, so that a
//! recorder may add its own. `node` may be absent or `null`.

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use thiserror::Error;

use crate::operation::{Operation, OperationKind, Status};

/// A history that cannot be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    /// 1-based line of the input where the offending record starts (for a
    /// JSON syntax error: where the parser stopped).
    pub line: usize,
    /// What is wrong.
    pub reason: ParseErrorReason,
}

/// Why a history cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseErrorReason {
    /// The text is not JSON (the message is serde_json's, without position).
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// A record is JSON but not an object.
    #[error("expected a JSON object, found {0}")]
    NotAnObject(String),
    /// A required field is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A field holds a value of the wrong type.
    #[error("field `{field}`: expected {expected}, found {found}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What the format requires there.
        expected: &'static str,
        /// A short rendering of what was there.
        found: String,
    },
    /// `op` is not one of the four operations.
    #[error("unknown operation {0:?} (expected \"get\", \"set\", \"contains\" or \"remove\")")]
    UnknownOperation(String),
    /// `status` is not one of the three statuses.
    #[error("unknown status {0:?} (expected \"ok\", \"fail\" or \"info\")")]
    UnknownStatus(String),
    /// An `ok` operation returned before it was called.
    #[error("`return` ({return_time}) is before `call` ({call}) in an ok operation")]
    ReturnBeforeCall {
        /// The record's `call`.
        call: u64,
        /// The record's `return`.
        return_time: u64,
    },
    /// The result fields of an `ok` operation contradict its kind.
    #[error("inconsistent result: {0}")]
    InconsistentResult(&'static str),
}

/// The longest rendering of an offending value that an error message quotes.
const FOUND_RENDERING_CHARACTERS_MAX: usize = 40;

/// Parses a history: JSON Lines (blank lines allowed) or, when the first
/// non-blank character is `[`, one JSON array of the same objects.
///
/// An empty input is an empty history.
pub fn parse_history(text: &str) -> Result<Vec<Operation>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('[') {
        parse_array(text)
    } else {
        parse_lines(text)
    }
}

fn parse_lines(text: &str) -> Result<Vec<Operation>, ParseError> {
    let mut operations = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        operations.push(parse_record(line, index + 1)?);
    }
    Ok(operations)
}

fn parse_array(text: &str) -> Result<Vec<Operation>, ParseError> {
    let elements: Vec<&RawValue> =
        serde_json::from_str(text).map_err(|error| syntax_error(&error, 1))?;
    let mut operations = Vec::with_capacity(elements.len());
    // Elements come in increasing offset order, so the line count is carried
    // forward instead of recounted from the start for each element.
    let mut counted_offset = 0;
    let mut line = 1;
    for element in elements {
        let element_text = element.get();
        let offset = element_text.as_ptr() as usize - text.as_ptr() as usize;
        assert!(offset >= counted_offset && offset <= text.len());
        line += text.as_bytes()[counted_offset..offset]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count();
        counted_offset = offset;
        operations.push(parse_record(element_text, line)?);
    }
    Ok(operations)
}

/// Parses one record whose text starts on `first_line`.
fn parse_record(text: &str, first_line: usize) -> Result<Operation, ParseError> {
    let value: Value =
        serde_json::from_str(text).map_err(|error| syntax_error(&error, first_line))?;
    operation_from_value(&value).map_err(|reason| ParseError {
        line: first_line,
        reason,
    })
}

fn syntax_error(error: &serde_json::Error, first_line: usize) -> ParseError {
    let message = error.to_string();
    // serde_json appends " at line L column C"; the line is reported in our
    // own terms instead.
    let message = match message.rfind(" at line ") {
        Some(position) => message[..position].to_owned(),
        None => message,
    };
    ParseError {
        line: first_line + error.line().saturating_sub(1),
        reason: ParseErrorReason::InvalidJson(message),
    }
}

/// Builds an operation from a parsed record, checking every field.
pub(crate) fn operation_from_value(value: &Value) -> Result<Operation, ParseErrorReason> {
    let object = value
        .as_object()
        .ok_or_else(|| ParseErrorReason::NotAnObject(render(value)))?;
    let client = unsigned_field(object, "client")?;
    let op = match string_field(object, "op")? {
        "get" => OperationKind::Get,
        "set" => OperationKind::Set,
        "contains" => OperationKind::Contains,
        "remove" => OperationKind::Remove,
        other => return Err(ParseErrorReason::UnknownOperation(other.to_owned())),
    };
    let key = string_field(object, "key")?.to_owned();
    let value = string_field(object, "value")?.to_owned();
    let found = bool_field(object, "found")?;
    let status = match string_field(object, "status")? {
        "ok" => Status::Ok,
        "fail" => Status::Fail,
        "info" => Status::Info,
        other => return Err(ParseErrorReason::UnknownStatus(other.to_owned())),
    };
    let call = unsigned_field(object, "call")?;
    let return_time = unsigned_field(object, "return")?;
    let node = match object.get("node") {
        None | Some(Value::Null) => None,
        Some(node) => Some(node.as_u64().ok_or_else(|| ParseErrorReason::WrongType {
            field: "node",
            expected: "a non-negative integer or null",
            found: render(node),
        })?),
    };
    let operation = Operation {
        client,
        op,
        key,
        value,
        found,
        status,
        call,
        return_time,
        node,
    };
    check_ok_result(&operation)?;
    Ok(operation)
}

/// Checks what an `ok` record may claim (see the module comment).
fn check_ok_result(operation: &Operation) -> Result<(), ParseErrorReason> {
    if operation.status != Status::Ok {
        return Ok(());
    }
    if operation.return_time < operation.call {
        return Err(ParseErrorReason::ReturnBeforeCall {
            call: operation.call,
            return_time: operation.return_time,
        });
    }
    let inconsistency = match operation.op {
        OperationKind::Get if !operation.found && !operation.value.is_empty() => {
            Some("an ok get with found=false must have value \"\"")
        }
        _ => None,
    };
    match inconsistency {
        Some(detail) => Err(ParseErrorReason::InconsistentResult(detail)),
        None => Ok(()),
    }
}

fn field<'a>(
    object: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a Value, ParseErrorReason> {
    object.get(name).ok_or(ParseErrorReason::MissingField(name))
}

fn unsigned_field(
    object: &Map<String, Value>,
    name: &'static str,
) -> Result<u64, ParseErrorReason> {
    let value = field(object, name)?;
    value.as_u64().ok_or_else(|| ParseErrorReason::WrongType {
        field: name,
        expected: "a non-negative integer",
        found: render(value),
    })
}

fn string_field<'a>(
    object: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, ParseErrorReason> {
    let value = field(object, name)?;
    value.as_str().ok_or_else(|| ParseErrorReason::WrongType {
        field: name,
        expected: "a string",
        found: render(value),
    })
}

fn bool_field(object: &Map<String, Value>, name: &'static str) -> Result<bool, ParseErrorReason> {
    let value = field(object, name)?;
    value.as_bool().ok_or_else(|| ParseErrorReason::WrongType {
        field: name,
        expected: "true or false",
        found: render(value),
    })
}

/// A short rendering of an offending value for an error message: its JSON
/// text (so strings keep their quotes), shortened.
fn render(value: &Value) -> String {
    match value {
        Value::Array(_) => return "an array".to_owned(),
        Value::Object(_) => return "an object".to_owned(),
        _ => {}
    }
    let text = value.to_string();
    if text.chars().count() <= FOUND_RENDERING_CHARACTERS_MAX {
        return text;
    }
    let shortened: String = text.chars().take(FOUND_RENDERING_CHARACTERS_MAX).collect();
    format!("{shortened}…")
}
