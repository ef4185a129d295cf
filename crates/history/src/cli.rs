//! `synod check-history FILE`: read a history, check it, say what was found.

use std::io::{self, Write};
use std::path::Path;
use std::time::Instant;

use crate::check::{check_history, CheckOutcome};
use crate::parse::parse_history;
use crate::write::to_json_line;

/// Exit code: every key has a linearization.
pub const EXIT_LINEARIZABLE: i32 = 0;
/// Exit code: at least one key has none.
pub const EXIT_NOT_LINEARIZABLE: i32 = 1;
/// Exit code: the file cannot be read or is not a valid history.
pub const EXIT_MALFORMED: i32 = 2;

/// Checks the history in `path`, printing the verdict to standard output
/// (standard error for unreadable or malformed input), and returns the exit
/// code: [`EXIT_LINEARIZABLE`], [`EXIT_NOT_LINEARIZABLE`] or
/// [`EXIT_MALFORMED`].
pub fn check_history_cli(path: &Path) -> i32 {
    let stdout = io::stdout();
    let stderr = io::stderr();
    run_check_history(path, &mut stdout.lock(), &mut stderr.lock())
}

/// [`check_history_cli`] with the output streams given, for tests.
///
/// Output on `out`: one summary line when linearizable; otherwise, per
/// violating key, a line naming the key and why, the operations that cannot
/// be ordered and then the last operations linearized before them, each as
/// the history line it came from, and a summary line. On `errors`:
/// `line N: reason` for malformed input, or why the file cannot be read.
pub fn run_check_history(path: &Path, out: &mut dyn Write, errors: &mut dyn Write) -> i32 {
    let started = Instant::now();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            // Nothing useful can be done if the error stream itself fails.
            let _ = writeln!(errors, "cannot read {}: {error}", path.display());
            return EXIT_MALFORMED;
        }
    };
    let operations = match parse_history(&text) {
        Ok(operations) => operations,
        Err(error) => {
            let _ = writeln!(errors, "{error}");
            return EXIT_MALFORMED;
        }
    };
    let outcome = check_history(&operations);
    let elapsed_milliseconds = started.elapsed().as_millis();
    let written = report(&outcome, operations.len(), elapsed_milliseconds, out);
    if let Err(error) = written {
        let _ = writeln!(errors, "cannot write the report: {error}");
    }
    if outcome.is_linearizable() {
        EXIT_LINEARIZABLE
    } else {
        EXIT_NOT_LINEARIZABLE
    }
}

fn report(
    outcome: &CheckOutcome,
    operations_read: usize,
    elapsed_milliseconds: u128,
    out: &mut dyn Write,
) -> io::Result<()> {
    let totals = format!(
        "{operations_read} operations read, {} checked, {} keys, {elapsed_milliseconds} ms",
        outcome.operations_checked, outcome.keys_checked
    );
    if outcome.is_linearizable() {
        return writeln!(out, "linearizable: {totals}");
    }
    for violation in &outcome.violations {
        writeln!(
            out,
            "key {:?} is not linearizable: {}",
            violation.key, violation.explanation
        )?;
        writeln!(out, "operations that cannot be ordered:")?;
        for operation in &violation.operations {
            writeln!(out, "{}", to_json_line(operation))?;
        }
        if !violation.linearized_before.is_empty() {
            writeln!(out, "last operations linearized before them:")?;
            for operation in &violation.linearized_before {
                writeln!(out, "{}", to_json_line(operation))?;
            }
        }
    }
    writeln!(
        out,
        "not linearizable: {} of {} keys have no linearization; {totals}",
        outcome.violations.len(),
        outcome.keys_checked
    )
}
