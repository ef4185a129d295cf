//! The fault lane: every fault window as a labelled bar in its row of the
//! fault lane, with a faint band of the same colour down through the leader
//! and client lanes, so that what the clients saw can be read against what
//! was done to the cluster.

use std::fmt::{self, Write};

use crate::timeline::FaultWindow;

use super::layout::{fault_drawn_end, Layout, FAULT_ROW_HEIGHT_PIXELS};
use super::text::{shorten, Escaped, Milliseconds, NodeList, Seconds, TimeOrNone};

/// Colours of the faults, chosen by nemesis so that all kills look alike.
const NEMESIS_COLOURS: [&str; 8] = [
    "#8e44ad", "#c0392b", "#2471a3", "#d35400", "#117a65", "#7d6608", "#a93226", "#5b2c6f",
];

/// Roughly how wide one character of a fault label is, to fit the label to
/// its bar.
const LABEL_CHARACTER_WIDTH_PIXELS: f64 = 6.2;

/// The longest fault label; the whole description is in the tooltip and the
/// fault table.
const LABEL_CHARACTERS_MAX: usize = 80;

pub(super) fn write_faults(
    out: &mut String,
    layout: &Layout,
    faults: &[FaultWindow],
) -> fmt::Result {
    assert_eq!(faults.len(), layout.fault_rows.len());
    writeln!(out, r#"<g class="fault-lane">"#)?;
    for (index, (fault, row)) in faults.iter().zip(&layout.fault_rows).enumerate() {
        write_fault(out, layout, index, fault, *row)?;
    }
    writeln!(out, "</g>")
}

fn write_fault(
    out: &mut String,
    layout: &Layout,
    index: usize,
    fault: &FaultWindow,
    row: usize,
) -> fmt::Result {
    let colour = nemesis_colour(&fault.nemesis);
    let healed = fault.end_nanoseconds.max(fault.start_nanoseconds);
    let x = layout.x(fault.start_nanoseconds);
    let width = layout.width(fault.start_nanoseconds, healed);
    let bar_top = layout.fault_lane_top() + row as f64 * FAULT_ROW_HEIGHT_PIXELS + 2.0;
    let bar_height = FAULT_ROW_HEIGHT_PIXELS - 4.0;
    let band_top = layout.leader_lane_top();
    writeln!(
        out,
        r#"<g class="fault" data-index="{index}" data-nemesis="{}" data-description="{}" data-nodes="{}" data-start="{}" data-end="{}" data-recovery="{}">"#,
        Escaped(&fault.nemesis),
        Escaped(&fault.description),
        NodeList(&fault.nodes),
        fault.start_nanoseconds,
        fault.end_nanoseconds,
        TimeOrNone(fault.recovery_nanoseconds),
    )?;
    write_fault_title(out, fault)?;
    writeln!(
        out,
        r#"<rect class="fault-band" x="{x:.1}" y="{band_top:.1}" width="{width:.1}" height="{:.1}" fill="{colour}"/>"#,
        layout.height() - band_top,
    )?;
    writeln!(
        out,
        r#"<rect class="fault-bar" x="{x:.1}" y="{bar_top:.1}" width="{width:.1}" height="{bar_height:.1}" fill="{colour}"/>"#,
    )?;
    if let Some(recovery) = fault.recovery_nanoseconds {
        let recovered = fault_drawn_end(fault);
        writeln!(
            out,
            r#"<rect class="fault-recovery" x="{:.1}" y="{bar_top:.1}" width="{:.1}" height="{bar_height:.1}" fill="{colour}"><title>recovered {} ms after the heal</title></rect>"#,
            layout.x(healed),
            layout.width(healed, recovered),
            Milliseconds(recovery),
        )?;
    }
    writeln!(
        out,
        r#"<text class="fault-label" x="{:.1}" y="{:.1}">{}</text>"#,
        x + 3.0,
        bar_top + bar_height - 4.0,
        Escaped(&fault_label(fault, width)),
    )?;
    writeln!(out, "</g>")
}

/// The tooltip of a fault: everything the table row says.
fn write_fault_title(out: &mut String, fault: &FaultWindow) -> fmt::Result {
    write!(
        out,
        "<title>{}: {}\nnodes {}, from {} s",
        Escaped(&fault.nemesis),
        Escaped(&fault.description),
        NodeList(&fault.nodes),
        Seconds(fault.start_nanoseconds),
    )?;
    write!(out, " to {} s", Seconds(fault.end_nanoseconds))?;
    if let Some(recovery) = fault.recovery_nanoseconds {
        write!(
            out,
            ", recovered {} ms after the heal",
            Milliseconds(recovery)
        )?;
    }
    writeln!(out, "</title>")
}

/// "nemesis: description", cut to what fits in the bar, but never shorter
/// than the nemesis: a label that says which fault it is matters more than
/// one that stays inside its bar.
fn fault_label(fault: &FaultWindow, width_pixels: f64) -> String {
    let label = format!("{}: {}", fault.nemesis, fault.description);
    let fitting = (width_pixels / LABEL_CHARACTER_WIDTH_PIXELS) as usize;
    let characters_max = fitting
        .max(fault.nemesis.chars().count())
        .min(LABEL_CHARACTERS_MAX);
    shorten(&label, characters_max).into_owned()
}

/// A colour for a nemesis that is the same in every run: an FNV-1a hash of
/// its name picks from the palette.
fn nemesis_colour(nemesis: &str) -> &'static str {
    const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = nemesis.bytes().fold(FNV_OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    });
    NEMESIS_COLOURS[(hash % NEMESIS_COLOURS.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_narrow_fault_still_names_its_nemesis() {
        let fault = FaultWindow {
            nemesis: "partition".to_string(),
            description: "isolate node 3 from the majority".to_string(),
            nodes: vec![3],
            start_nanoseconds: 0,
            end_nanoseconds: 1,
            recovery_nanoseconds: None,
        };
        assert_eq!(fault_label(&fault, 1.0), "partition…");
        assert_eq!(
            fault_label(&fault, 1_000.0),
            "partition: isolate node 3 from the majority"
        );
    }

    #[test]
    fn a_nemesis_keeps_its_colour() {
        assert_eq!(nemesis_colour("kill"), nemesis_colour("kill"));
    }
}
