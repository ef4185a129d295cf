//! Reading and writing the history format, and every malformed-input reason
//! with its line.

mod common;

use common::{get, info};
use synod_history::generate::{linearizable_history, DeterministicRandom, HistoryShape};
use synod_history::{
    parse_history, to_json_line, HistoryWriter, OperationKind, ParseError, ParseErrorReason, Status,
};

const SET_LINE: &str = r#"{"client":0,"op":"set","key":"x","value":"1","found":false,"status":"ok","call":100,"return":900}"#;
const GET_LINE: &str = r#"{"client":1,"op":"get","key":"x","value":"1","found":true,"status":"ok","call":500,"return":1200}"#;

fn error_of(text: &str) -> ParseError {
    parse_history(text).expect_err("input must be rejected")
}

/// A valid line with `field` replaced by `replacement` (a `"name":value`
/// fragment, or nothing to drop the field).
fn line_with(field: &str, replacement: &str) -> String {
    let fields = [
        ("client", r#""client":3"#),
        ("op", r#""op":"get""#),
        ("key", r#""key":"x""#),
        ("value", r#""value":"""#),
        ("found", r#""found":false"#),
        ("status", r#""status":"ok""#),
        ("call", r#""call":10"#),
        ("return", r#""return":20"#),
    ];
    assert!(fields.iter().any(|(name, _)| *name == field));
    let parts: Vec<&str> = fields
        .iter()
        .map(|(name, text)| if *name == field { replacement } else { *text })
        .filter(|text| !text.is_empty())
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// The reason for a bad third line after two good ones and a blank line.
fn reason_on_line_four(bad_line: &str) -> ParseErrorReason {
    let text = format!("{SET_LINE}\n{GET_LINE}\n\n{bad_line}\n{SET_LINE}\n");
    let error = error_of(&text);
    assert_eq!(error.line, 4, "{error}");
    error.reason
}

#[test]
fn parses_json_lines_with_blank_lines_and_crlf() {
    let text = format!("\n{SET_LINE}\r\n   \n{GET_LINE}\r\n\n");
    let operations = parse_history(&text).unwrap();
    assert_eq!(operations.len(), 2);
    assert_eq!(operations[0].op, OperationKind::Set);
    assert_eq!(operations[0].return_time, 900);
    assert_eq!(operations[1].value, "1");
    assert!(operations[1].found);
    assert_eq!(operations[1].node, None);
}

#[test]
fn parses_a_json_array_of_the_same_objects() {
    let text = format!("[\n  {SET_LINE},\n  {GET_LINE}\n]\n");
    let from_array = parse_history(&text).unwrap();
    let from_lines = parse_history(&format!("{SET_LINE}\n{GET_LINE}\n")).unwrap();
    assert_eq!(from_array, from_lines);
    assert_eq!(parse_history("[]").unwrap(), vec![]);
}

#[test]
fn errors_in_a_json_array_name_the_line_of_the_element() {
    let bad = line_with("op", r#""op":"put""#);
    let text = format!("[\n{SET_LINE},\n\n{bad},\n{GET_LINE}\n]");
    let error = error_of(&text);
    assert_eq!(error.line, 4);
    assert_eq!(
        error.reason,
        ParseErrorReason::UnknownOperation("put".to_owned())
    );

    let text = format!("[\n{SET_LINE},\n{GET_LINE},\n]");
    let error = error_of(&text);
    assert_eq!(error.line, 4, "{error}");
    assert!(matches!(error.reason, ParseErrorReason::InvalidJson(_)));
}

#[test]
fn empty_input_is_an_empty_history() {
    assert!(parse_history("").unwrap().is_empty());
    assert!(parse_history("\n \n").unwrap().is_empty());
}

#[test]
fn node_may_be_given_absent_or_null() {
    let with_node = SET_LINE.replace('}', r#","node":2}"#);
    assert_eq!(parse_history(&with_node).unwrap()[0].node, Some(2));
    let null_node = SET_LINE.replace('}', r#","node":null}"#);
    assert_eq!(parse_history(&null_node).unwrap()[0].node, None);
    let bad_node = SET_LINE.replace('}', r#","node":"n1"}"#);
    assert!(matches!(
        error_of(&bad_node).reason,
        ParseErrorReason::WrongType { field: "node", .. }
    ));
}

#[test]
fn unknown_fields_are_ignored() {
    let extra = SET_LINE.replace('}', r#","latency_ms":3}"#);
    assert_eq!(parse_history(&extra).unwrap().len(), 1);
}

#[test]
fn info_and_fail_records_are_not_checked_for_results() {
    let text = r#"{"client":2,"op":"remove","key":"x","value":"junk","found":true,"status":"info","call":1300,"return":0}
{"client":2,"op":"set","key":"x","value":"v","found":true,"status":"fail","call":1300,"return":5}"#;
    let operations = parse_history(text).unwrap();
    assert_eq!(operations[0].status, Status::Info);
    assert_eq!(operations[1].status, Status::Fail);
}

#[test]
fn rejects_invalid_json_with_its_line() {
    let reason = reason_on_line_four(r#"{"client":0,"op":"#);
    assert!(
        matches!(reason, ParseErrorReason::InvalidJson(_)),
        "{reason}"
    );
    let reason = reason_on_line_four("not json");
    assert!(
        matches!(reason, ParseErrorReason::InvalidJson(_)),
        "{reason}"
    );
}

#[test]
fn rejects_a_record_that_is_not_an_object() {
    assert_eq!(
        reason_on_line_four("42"),
        ParseErrorReason::NotAnObject("42".to_owned())
    );
}

#[test]
fn rejects_each_missing_field() {
    for field in [
        "client", "op", "key", "value", "found", "status", "call", "return",
    ] {
        let reason = reason_on_line_four(&line_with(field, ""));
        assert_eq!(reason, ParseErrorReason::MissingField(field), "{field}");
    }
}

#[test]
fn rejects_wrong_types_naming_the_field() {
    let cases = [
        ("client", r#""client":"3""#),
        ("client", r#""client":-1"#),
        ("op", r#""op":7"#),
        ("key", r#""key":null"#),
        ("value", r#""value":1"#),
        ("found", r#""found":"false""#),
        ("status", r#""status":true"#),
        ("call", r#""call":1.5"#),
        ("return", r#""return":[20]"#),
    ];
    for (field, replacement) in cases {
        match reason_on_line_four(&line_with(field, replacement)) {
            ParseErrorReason::WrongType { field: named, .. } => assert_eq!(named, field),
            other => panic!("{replacement}: unexpected {other}"),
        }
    }
    let reason = reason_on_line_four(&line_with("call", r#""call":"100""#));
    assert_eq!(
        reason.to_string(),
        "field `call`: expected a non-negative integer, found \"100\""
    );
}

#[test]
fn rejects_unknown_operation_and_status() {
    assert_eq!(
        reason_on_line_four(&line_with("op", r#""op":"put""#)),
        ParseErrorReason::UnknownOperation("put".to_owned())
    );
    assert_eq!(
        reason_on_line_four(&line_with("status", r#""status":"timeout""#)),
        ParseErrorReason::UnknownStatus("timeout".to_owned())
    );
}

#[test]
fn rejects_an_ok_operation_returning_before_its_call() {
    let reason = reason_on_line_four(&line_with("return", r#""return":9"#));
    assert_eq!(
        reason,
        ParseErrorReason::ReturnBeforeCall {
            call: 10,
            return_time: 9
        }
    );
    // An info operation's return is ignored.
    let info_line =
        line_with("return", r#""return":0"#).replace(r#""status":"ok""#, r#""status":"info""#);
    assert!(parse_history(&info_line).is_ok());
}

#[test]
fn rejects_ok_results_that_contradict_the_operation() {
    let set_found = SET_LINE.replace(r#""found":false"#, r#""found":true"#);
    let get_absent_with_value = GET_LINE.replace(r#""found":true"#, r#""found":false"#);
    let contains_with_value =
        line_with("op", r#""op":"contains""#).replace(r#""value":"""#, r#""value":"1""#);
    let remove_with_value =
        line_with("op", r#""op":"remove""#).replace(r#""value":"""#, r#""value":"1""#);
    assert!(matches!(
        reason_on_line_four(&get_absent_with_value),
        ParseErrorReason::InconsistentResult(_)
    ));
    // Fields that mean nothing for the operation are ignored, not judged.
    for line in [set_found, contains_with_value, remove_with_value] {
        assert!(parse_history(&line).is_ok(), "{line}");
    }
}

#[test]
fn error_message_reads_line_then_reason() {
    let error = error_of(&format!("{SET_LINE}\n{}", line_with("op", r#""op":"put""#)));
    assert_eq!(
        error.to_string(),
        "line 2: unknown operation \"put\" (expected \"get\", \"set\", \"contains\" or \"remove\")"
    );
}

#[test]
fn writes_fields_in_the_specified_order() {
    let operations = parse_history(SET_LINE).unwrap();
    assert_eq!(to_json_line(&operations[0]), SET_LINE);
    let mut with_node = info(get(4, "k\"ey", Some("v\nw"), (7, 8)));
    with_node.node = Some(1);
    assert_eq!(
        to_json_line(&with_node),
        r#"{"client":4,"op":"get","key":"k\"ey","value":"v\nw","found":true,"status":"info","call":7,"return":0,"node":1}"#
    );
}

#[test]
fn history_writer_output_parses_back_to_the_same_history() {
    let history = linearizable_history(&HistoryShape::default(), &mut DeterministicRandom::new(7));
    let mut writer = HistoryWriter::new(Vec::new());
    for operation in &history {
        writer.record(operation).unwrap();
    }
    assert_eq!(writer.operations_written(), history.len() as u64);
    let bytes = writer.into_inner().unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(text.lines().count(), history.len());
    assert_eq!(parse_history(&text).unwrap(), history);
    // The derived Deserialize reads the same lines.
    let first: synod_history::Operation =
        serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first, history[0]);
}
