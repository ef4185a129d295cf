//! The leader lane: each stretch of one leader's rule as a coloured term, and
//! a labelled marker at every observed change, with a faint line down
//! through the client lanes so that stalls can be matched to elections.

use std::fmt::{self, Write};

use crate::timeline::LeaderChange;

use super::layout::{Layout, LEADER_LANE_HEIGHT_PIXELS};
use super::text::{LeaderName, NodeOrNone, Seconds};

/// Colours of the leaders' terms, chosen by node id.
const NODE_COLOURS: [&str; 7] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
];

/// Height of the term bars at the bottom of the lane.
const TERM_HEIGHT_PIXELS: f64 = 12.0;

/// The change labels alternate between two lines this far apart, so that two
/// changes close together stay readable.
const LABEL_LINE_SPACING_PIXELS: f64 = 11.0;

pub(super) fn write_leaders(
    out: &mut String,
    layout: &Layout,
    changes: &[LeaderChange],
) -> fmt::Result {
    let top = layout.leader_lane_top();
    let term_top = top + LEADER_LANE_HEIGHT_PIXELS - TERM_HEIGHT_PIXELS - 3.0;
    writeln!(
        out,
        r#"<g class="leader-lane" data-changes="{}">"#,
        changes.len()
    )?;
    writeln!(
        out,
        r#"<text class="lane-label" x="{:.1}" y="{:.1}">leader</text>"#,
        layout.plot_left() - 6.0,
        term_top + TERM_HEIGHT_PIXELS - 2.0,
    )?;
    for (index, change) in changes.iter().enumerate() {
        let until = changes
            .get(index + 1)
            .map_or(layout.run_end, |next| next.at_nanoseconds)
            .max(change.at_nanoseconds);
        write_term(out, layout, term_top, change, until)?;
    }
    for (index, change) in changes.iter().enumerate() {
        write_change(out, layout, index, change)?;
    }
    writeln!(out, "</g>")
}

/// The stretch from one change to the next, in the leader's colour, or
/// hatched grey while no node led.
fn write_term(
    out: &mut String,
    layout: &Layout,
    term_top: f64,
    change: &LeaderChange,
    until: u64,
) -> fmt::Result {
    let fill = match change.leader {
        Some(node) => NODE_COLOURS[(node % NODE_COLOURS.len() as u64) as usize],
        None => "url(#hatch-no-leader)",
    };
    writeln!(
        out,
        r#"<rect class="leader-term" data-leader="{}" x="{:.1}" y="{term_top:.1}" width="{:.1}" height="{TERM_HEIGHT_PIXELS:.1}" fill="{fill}"><title>{} from {} s to {} s</title></rect>"#,
        NodeOrNone(change.leader),
        layout.x(change.at_nanoseconds),
        layout.width(change.at_nanoseconds, until),
        LeaderName(change.leader),
        Seconds(change.at_nanoseconds),
        Seconds(until),
    )
}

/// The marker of one change: a line across the whole drawing and the label.
fn write_change(
    out: &mut String,
    layout: &Layout,
    index: usize,
    change: &LeaderChange,
) -> fmt::Result {
    let x = layout.x(change.at_nanoseconds);
    let top = layout.leader_lane_top();
    let label_y = top + 10.0 + (index % 2) as f64 * LABEL_LINE_SPACING_PIXELS;
    let none = if change.leader.is_none() { " none" } else { "" };
    writeln!(
        out,
        r#"<g class="leader-change{none}" data-index="{index}" data-leader="{}" data-at="{}"><title>{} at {} s</title><line class="leader-change-line" x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{:.1}"/><text class="leader-change-label" x="{:.1}" y="{label_y:.1}">{}</text></g>"#,
        NodeOrNone(change.leader),
        change.at_nanoseconds,
        LeaderName(change.leader),
        Seconds(change.at_nanoseconds),
        layout.height(),
        x + 2.0,
        LeaderName(change.leader),
    )
}
