//! The top of the page: the verdict and the numbers that say what kind of run
//! this was, and the command that reruns it.

use std::fmt::{self, Write};

use synod_history::{Operation, Status};

use crate::timeline::Timeline;

use super::text::{Escaped, Seconds};

/// How many operations ended each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct StatusCounts {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

impl StatusCounts {
    pub(super) fn of(operations: &[Operation]) -> StatusCounts {
        let mut counts = StatusCounts::default();
        for operation in operations {
            match operation.status {
                Status::Ok => counts.ok += 1,
                Status::Fail => counts.fail += 1,
                Status::Info => counts.info += 1,
            }
        }
        counts
    }
}

pub(super) fn write_summary(
    out: &mut String,
    timeline: &Timeline,
    operations: &[Operation],
) -> fmt::Result {
    let counts = StatusCounts::of(operations);
    writeln!(out, "<header>")?;
    writeln!(out, "<h1>synod chaos run</h1>")?;
    writeln!(
        out,
        r#"<p class="verdict">verdict: <strong id="verdict">{}</strong></p>"#,
        Escaped(&timeline.verdict)
    )?;
    writeln!(out, r#"<dl id="summary">"#)?;
    let facts: [(&str, &str, String); 8] = [
        ("seed", "seed", timeline.seed.to_string()),
        ("nodes", "nodes", timeline.nodes.to_string()),
        ("clients", "clients", timeline.clients.to_string()),
        (
            "duration",
            "duration (s)",
            Seconds(timeline.duration_nanoseconds).to_string(),
        ),
        ("operations", "operations", operations.len().to_string()),
        ("operations-ok", "ok", counts.ok.to_string()),
        ("operations-fail", "fail", counts.fail.to_string()),
        (
            "operations-info",
            "info (unknown outcome)",
            counts.info.to_string(),
        ),
    ];
    for (id, name, value) in facts {
        writeln!(
            out,
            r#"<div><dt>{name}</dt><dd id="{id}">{value}</dd></div>"#
        )?;
    }
    writeln!(out, "</dl>")?;
    writeln!(
        out,
        r#"<p class="rerun">rerun: <code id="rerun">{}</code></p>"#,
        Escaped(&timeline.rerun)
    )?;
    writeln!(out, "</header>")
}
