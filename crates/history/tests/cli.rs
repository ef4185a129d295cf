//! `synod check-history FILE`: exit codes and what a person reads.

use std::path::{Path, PathBuf};

use synod_history::generate::{linearizable_history, DeterministicRandom, HistoryShape};
use synod_history::{
    parse_history, run_check_history, to_json_line, EXIT_LINEARIZABLE, EXIT_MALFORMED,
    EXIT_NOT_LINEARIZABLE,
};

/// A file under the target directory's temporary folder, unique per test.
fn write_file(name: &str, contents: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!("synod-history-cli-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn run(path: &Path) -> (i32, String, String) {
    let (mut out, mut errors) = (Vec::new(), Vec::new());
    let code = run_check_history(path, &mut out, &mut errors);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(errors).unwrap(),
    )
}

#[test]
fn linearizable_history_exits_zero_with_a_one_line_summary() {
    let history = linearizable_history(&HistoryShape::default(), &mut DeterministicRandom::new(3));
    let text: String = history
        .iter()
        .map(|operation| to_json_line(operation) + "\n")
        .collect();
    let (code, out, errors) = run(&write_file("good.jsonl", &text));
    assert_eq!(code, EXIT_LINEARIZABLE);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.starts_with("linearizable: 1000 operations read"),
        "{out}"
    );
    assert!(out.contains("1 keys"), "{out}");
    assert!(errors.is_empty());
}

#[test]
fn violation_exits_one_and_prints_the_operations_as_history_lines() {
    let stale_get = r#"{"client":1,"op":"get","key":"y","value":"1","found":true,"status":"ok","call":40,"return":50}"#;
    let text = format!(
        "{}\n{}\n{}\n{}\n",
        r#"{"client":0,"op":"set","key":"y","value":"1","found":false,"status":"ok","call":0,"return":10}"#,
        r#"{"client":0,"op":"set","key":"y","value":"2","found":false,"status":"ok","call":20,"return":30}"#,
        stale_get,
        r#"{"client":0,"op":"set","key":"z","value":"1","found":false,"status":"ok","call":20,"return":30}"#,
    );
    let (code, out, errors) = run(&write_file("stale.jsonl", &text));
    assert_eq!(code, EXIT_NOT_LINEARIZABLE);
    assert!(errors.is_empty());
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("key \"y\" is not linearizable:"),
        "{out}"
    );
    assert!(lines.contains(&stale_get), "{out}");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("not linearizable: 1 of 2 keys"),
        "{out}"
    );
    // Every operation line is a valid history line.
    let operation_lines: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|line| line.starts_with('{'))
        .collect();
    assert_eq!(
        parse_history(&operation_lines.join("\n")).unwrap().len(),
        operation_lines.len()
    );
}

#[test]
fn malformed_history_exits_two_naming_the_line() {
    let text = format!(
        "{}\n\n{}\n",
        r#"{"client":0,"op":"set","key":"y","value":"1","found":false,"status":"ok","call":0,"return":10}"#,
        r#"{"client":0,"op":"set","key":"y","value":"1","found":false,"status":"ok","call":20,"return":10}"#,
    );
    let (code, out, errors) = run(&write_file("bad.jsonl", &text));
    assert_eq!(code, EXIT_MALFORMED);
    assert!(out.is_empty());
    assert_eq!(
        errors,
        "line 3: `return` (10) is before `call` (20) in an ok operation\n"
    );
}

#[test]
fn unreadable_file_exits_two() {
    let (code, _, errors) = run(Path::new("/nonexistent/history.jsonl"));
    assert_eq!(code, EXIT_MALFORMED);
    assert!(
        errors.starts_with("cannot read /nonexistent/history.jsonl"),
        "{errors}"
    );
    let not_utf8 = write_file("binary.jsonl", "");
    std::fs::write(&not_utf8, [0xff, 0xfe, 0x00]).unwrap();
    assert_eq!(run(&not_utf8).0, EXIT_MALFORMED);
}
