//! The tables under the timeline: every fault and every leader change with
//! exact times, for when the drawing is too dense to read them off.

use std::fmt::{self, Write};

use crate::timeline::{FaultWindow, LeaderChange};

use super::text::{Escaped, LeaderName, Milliseconds, NodeList, Seconds};

pub(super) fn write_fault_table(out: &mut String, faults: &[FaultWindow]) -> fmt::Result {
    writeln!(out, r#"<section><h2>Faults ({})</h2>"#, faults.len())?;
    writeln!(out, r#"<table id="fault-table">"#)?;
    writeln!(
        out,
        "<thead><tr><th>#</th><th>nemesis</th><th>description</th><th>nodes</th><th>start (s)</th><th>end (s)</th><th>recovery (ms)</th></tr></thead><tbody>"
    )?;
    if faults.is_empty() {
        writeln!(
            out,
            r#"<tr class="empty"><td colspan="7">no faults</td></tr>"#
        )?;
    }
    for (index, fault) in faults.iter().enumerate() {
        let end = Seconds(fault.end_nanoseconds).to_string();
        let recovery = match fault.recovery_nanoseconds {
            Some(recovery) => Milliseconds(recovery).to_string(),
            None => "—".to_string(),
        };
        writeln!(
            out,
            r#"<tr class="fault-row" data-index="{index}"><td>{index}</td><td>{}</td><td>{}</td><td>{}</td><td class="number">{}</td><td class="number">{end}</td><td class="number">{recovery}</td></tr>"#,
            Escaped(&fault.nemesis),
            Escaped(&fault.description),
            NodeList(&fault.nodes),
            Seconds(fault.start_nanoseconds),
        )?;
    }
    writeln!(out, "</tbody></table></section>")
}

pub(super) fn write_leader_change_table(out: &mut String, changes: &[LeaderChange]) -> fmt::Result {
    writeln!(
        out,
        r#"<section><h2>Leader changes ({})</h2>"#,
        changes.len()
    )?;
    writeln!(out, r#"<table id="leader-change-table">"#)?;
    writeln!(
        out,
        "<thead><tr><th>#</th><th>at (s)</th><th>leader</th></tr></thead><tbody>"
    )?;
    if changes.is_empty() {
        writeln!(
            out,
            r#"<tr class="empty"><td colspan="3">no leader change observed</td></tr>"#
        )?;
    }
    for (index, change) in changes.iter().enumerate() {
        writeln!(
            out,
            r#"<tr class="leader-change-row" data-index="{index}"><td>{index}</td><td class="number">{}</td><td>{}</td></tr>"#,
            Seconds(change.at_nanoseconds),
            LeaderName(change.leader),
        )?;
    }
    writeln!(out, "</tbody></table></section>")
}
