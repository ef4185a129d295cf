//! What lies under everything else in the drawing: the pattern definitions,
//! the time axis with its grid, and the stripes and labels of the fault and
//! leader lanes.

use std::fmt::{self, Write};

use super::layout::{Layout, AXIS_HEIGHT_PIXELS, CLIENT_LANE_HEIGHT_PIXELS};

/// At most this many ticks on the time axis, so labels never collide.
const TICKS_MAX: u64 = 12;

/// Nanoseconds in a millisecond: the smallest tick step.
const NANOSECONDS_PER_MILLISECOND: u64 = 1_000_000;

/// Nanoseconds in a second, for the tick labels.
const NANOSECONDS_PER_SECOND: f64 = 1e9;

/// The hatching that marks operations of unknown outcome and stretches
/// without a leader. Referenced from the style sheet as `url(#hatch-info)`
/// and `url(#hatch-no-leader)`.
const PATTERNS: &str = r##"<defs>
<pattern id="hatch-info" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fdf0d0"/><rect width="3" height="6" fill="#d99a1e"/></pattern>
<pattern id="hatch-no-leader" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f2f2f2"/><rect width="2" height="6" fill="#b0b0b0"/></pattern>
</defs>
"##;

pub(super) fn write_background(out: &mut String, layout: &Layout) -> fmt::Result {
    out.push_str(PATTERNS);
    writeln!(out, r#"<g class="background">"#)?;
    write_lane_stripes(out, layout)?;
    write_axis(out, layout)?;
    writeln!(out, "</g>")
}

/// Alternating stripes behind the client lanes, so the eye can follow a lane
/// across a wide drawing, and the labels of the fault and leader lanes.
fn write_lane_stripes(out: &mut String, layout: &Layout) -> fmt::Result {
    let width = layout.plot_right() - layout.plot_left();
    let label_x = layout.plot_left() - 6.0;
    let fault_top = layout.fault_lane_top();
    writeln!(
        out,
        r#"<rect class="fault-lane-stripe" x="{:.1}" y="{fault_top:.1}" width="{width:.1}" height="{:.1}"/>"#,
        layout.plot_left(),
        layout.fault_lane_height(),
    )?;
    writeln!(
        out,
        r#"<text class="lane-label" x="{label_x:.1}" y="{:.1}">faults</text>"#,
        fault_top + 14.0
    )?;
    for lane in (0..layout.clients.len()).filter(|lane| lane % 2 == 1) {
        writeln!(
            out,
            r#"<rect class="client-lane-stripe" x="{:.1}" y="{:.1}" width="{width:.1}" height="{CLIENT_LANE_HEIGHT_PIXELS:.1}"/>"#,
            layout.plot_left(),
            layout.client_lane_top(lane),
        )?;
    }
    Ok(())
}

/// Tick labels in seconds along the top and a faint grid line under each,
/// down through every lane.
fn write_axis(out: &mut String, layout: &Layout) -> fmt::Result {
    let step = tick_step(layout.run_end);
    let decimals = tick_decimals(step);
    let bottom = layout.height();
    writeln!(
        out,
        r#"<text class="axis-title" x="{:.1}" y="12">time (s)</text>"#,
        layout.plot_left() - 6.0
    )?;
    let mut next = Some(0);
    while let Some(tick) = next.filter(|&tick| tick <= layout.run_end) {
        let x = layout.x(tick);
        let seconds = tick as f64 / NANOSECONDS_PER_SECOND;
        writeln!(
            out,
            r#"<line class="grid" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{bottom:.1}"/><text class="tick" x="{x:.1}" y="12">{seconds:.decimals$}</text>"#,
            AXIS_HEIGHT_PIXELS - 8.0,
        )?;
        next = tick.checked_add(step);
    }
    Ok(())
}

/// The smallest step of the form 1, 2 or 5 times a power of ten milliseconds
/// that puts at most [`TICKS_MAX`] intervals on the axis.
fn tick_step(run_end: u64) -> u64 {
    let mut magnitude = NANOSECONDS_PER_MILLISECOND;
    loop {
        for multiple in [1, 2, 5] {
            let step = magnitude.saturating_mul(multiple);
            if run_end / step <= TICKS_MAX {
                return step;
            }
        }
        magnitude = magnitude.saturating_mul(10);
    }
}

/// Enough decimals to tell two neighbouring ticks apart, and no more.
fn tick_decimals(step: u64) -> usize {
    match step {
        step if step >= 1_000 * NANOSECONDS_PER_MILLISECOND => 0,
        step if step >= 100 * NANOSECONDS_PER_MILLISECOND => 1,
        step if step >= 10 * NANOSECONDS_PER_MILLISECOND => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_few() {
        assert_eq!(tick_step(1), NANOSECONDS_PER_MILLISECOND);
        assert_eq!(tick_step(30_000_000_000), 5_000_000_000);
        assert_eq!(tick_step(1_000_000_000), 100_000_000);
        assert_eq!(tick_decimals(100_000_000), 1);
        assert!(u64::MAX / tick_step(u64::MAX) <= TICKS_MAX);
    }
}
