//! The HTML report of a chaos run: one self-contained page (inline CSS and
//! inline SVG, no scripts, no fetches of any kind) that shows what the
//! clients did, what was done to the cluster, and who led, on one time axis.
//!
//! The page has, from top to bottom: a header with the verdict, the run's
//! numbers and the rerun command; a legend; the timeline drawing; a table of
//! faults; and a table of leader changes. Hovering any bar shows its details
//! (SVG `<title>` tooltips, which need no script).
//!
//! Histories longer than [`OPERATIONS_DRAWN_MAX`] are drawn as time buckets
//! per client, each coloured by the worst status in it (info, then fail,
//! then ok), so that the page stays under a few megabytes however long the
//! run (about 650 kB for 100,000 operations of 16 clients). Every client lane
//! is drawn either way.
//!
//! # Hooks
//!
//! The elements below carry stable classes and `data-` attributes for tools
//! and tests that read the page (a headless browser checks that the timeline
//! shows every client, fault and leader change). They are a contract: change
//! them only together with their readers. Times are integers in nanoseconds
//! since the run began, the clock of the history; attribute values taken from
//! data are HTML-escaped.
//!
//! | element | selector | attributes |
//! |---|---|---|
//! | the drawing | `svg#timeline` | `data-run-end` (ns), `data-drawing` (`operations` or `buckets`), `data-buckets-per-lane` (only for `buckets`) |
//! | a client lane, one per client `0..clients` plus any other id in the history | `g.client-lane` | `data-client` (id), `data-operations` (count); contains `text.lane-label` "client N" |
//! | one operation (drawing `operations`) | `g.client-lane rect.operation` | classes: status `ok`/`fail`/`info` and kind `read`/`write` |
//! | a bucket of operations (drawing `buckets`) | `g.client-lane rect.bucket` | classes: worst status and `read`/`write` (any write); `data-operations` (count) |
//! | a fault window, in the timeline's order | `g.fault` (inside `g.fault-lane`) | `data-index`, `data-nemesis`, `data-description`, `data-nodes` (space-separated ids), `data-start`, `data-end` (ns: when the heal began), `data-recovery` (ns or `none`); contains `text.fault-label` "nemesis: description" (shortened to fit) and a `title` with all of it |
//! | the leader lane | `g.leader-lane` | `data-changes` (count) |
//! | a leader change, in order | `g.leader-change` (class `none` added when no node led) | `data-index`, `data-leader` (node id or `none`), `data-at`; contains `text.leader-change-label` "leader N" or "no leader" |
//! | a leader's term | `rect.leader-term` | `data-leader` (node id or `none`) |
//! | header values | `#verdict`, `#seed`, `#nodes`, `#clients`, `#duration` (s), `#operations`, `#operations-ok`, `#operations-fail`, `#operations-info`, `#rerun` | text content |
//! | table rows | `#fault-table tr.fault-row`, `#leader-change-table tr.leader-change-row` | `data-index`, matching the drawing's |

mod background;
mod faults;
mod layout;
mod leaders;
mod operations;
mod summary;
mod tables;
mod text;

use std::fmt::{self, Write};

use synod_history::Operation;

use crate::timeline::Timeline;

use layout::{Layout, DRAWING_WIDTH_PIXELS};
use operations::Drawing;
use text::{Escaped, Seconds};

pub use operations::OPERATIONS_DRAWN_MAX;

/// The style sheet, inlined into every page.
const STYLE: &str = include_str!("html/style.css");

/// What the colours and shapes of the drawing mean.
const LEGEND: &str = r#"<div class="legend">
<span><span class="swatch ok"></span>ok</span>
<span><span class="swatch fail"></span>fail (certainly not applied)</span>
<span><span class="swatch info"></span>info (outcome unknown; may take effect until the end of the run)</span>
<span><span class="swatch read"></span>thin, light: read (get, contains); tall: write (set, remove)</span>
<span><span class="swatch fault"></span>fault window (pale tail: until the first write acknowledged after the heal)</span>
<span><span class="swatch no-leader"></span>no leader</span>
</div>
"#;

/// Renders the report of one chaos run: its timeline (faults and leader
/// changes) and the clients' operations, as one self-contained HTML page.
pub fn render(timeline: &Timeline, operations: &[Operation]) -> String {
    let mut page = String::new();
    write_page(&mut page, timeline, operations).expect("formatting into a String cannot fail");
    page
}

fn write_page(out: &mut String, timeline: &Timeline, operations: &[Operation]) -> fmt::Result {
    let layout = Layout::new(timeline, operations);
    let drawing = Drawing::choose(operations.len(), layout.clients.len());
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, r#"<html lang="en">"#)?;
    writeln!(out, r#"<head><meta charset="utf-8">"#)?;
    writeln!(
        out,
        "<title>synod chaos — seed {} — {}</title>",
        timeline.seed,
        Escaped(&timeline.verdict)
    )?;
    writeln!(out, "<style>\n{STYLE}</style>\n</head>\n<body>")?;
    summary::write_summary(out, timeline, operations)?;
    write_timeline(out, timeline, operations, &layout, drawing)?;
    tables::write_fault_table(out, &timeline.faults)?;
    tables::write_leader_change_table(out, &timeline.leader_changes)?;
    writeln!(out, "</body>\n</html>")
}

/// The drawing, layered from the back: axis and stripes, fault bands, the
/// leader lane, then the client lanes on top.
fn write_timeline(
    out: &mut String,
    timeline: &Timeline,
    operations: &[Operation],
    layout: &Layout,
    drawing: Drawing,
) -> fmt::Result {
    writeln!(out, "<section><h2>Timeline</h2>")?;
    out.push_str(LEGEND);
    write_drawing_caption(out, layout, drawing)?;
    let height = layout.height();
    write!(
        out,
        r#"<div class="timeline-scroll"><svg id="timeline" width="{DRAWING_WIDTH_PIXELS:.0}" height="{height:.0}" viewBox="0 0 {DRAWING_WIDTH_PIXELS:.0} {height:.0}" data-run-end="{}""#,
        layout.run_end
    )?;
    match drawing {
        Drawing::Operations => writeln!(out, r#" data-drawing="operations">"#)?,
        Drawing::Buckets { per_lane } => writeln!(
            out,
            r#" data-drawing="buckets" data-buckets-per-lane="{per_lane}">"#
        )?,
    }
    background::write_background(out, layout)?;
    faults::write_faults(out, layout, &timeline.faults)?;
    leaders::write_leaders(out, layout, &timeline.leader_changes)?;
    operations::write_client_lanes(out, layout, operations, drawing)?;
    writeln!(out, "</svg></div></section>")
}

/// One sentence on how the operations are drawn, so nobody reads a bucket
/// as one long operation.
fn write_drawing_caption(out: &mut String, layout: &Layout, drawing: Drawing) -> fmt::Result {
    write!(out, r#"<p id="timeline-drawing">"#)?;
    match drawing {
        Drawing::Operations => write!(
            out,
            "Each bar is one operation, from its call to its return.",
        )?,
        Drawing::Buckets { per_lane } => write!(
            out,
            "More than {OPERATIONS_DRAWN_MAX} operations: each client's operations are counted in \
             {per_lane} buckets of {} s by call time; a bucket shows the worst status in it \
             (info, then fail, then ok). Hover for the counts.",
            Seconds(layout.run_end / per_lane as u64),
        )?,
    }
    writeln!(out, " The run spans {} s.</p>", Seconds(layout.run_end))
}

#[cfg(test)]
mod tests {
    use synod_history::{OperationKind, Status};

    use super::*;
    use crate::timeline::{FaultWindow, LeaderChange};

    /// The size a page of a 100,000-operation history must stay under to be
    /// opened comfortably and attached to a bug report.
    const PAGE_FOR_100_000_OPERATIONS_BYTES_MAX: usize = 3 * 1024 * 1024;

    const MILLISECOND: u64 = 1_000_000;
    const SECOND: u64 = 1_000 * MILLISECOND;

    fn operation(
        client: u64,
        op: OperationKind,
        status: Status,
        call: u64,
        key: &str,
    ) -> Operation {
        Operation {
            client,
            op,
            key: key.to_string(),
            value: if op == OperationKind::Set {
                "1".to_string()
            } else {
                String::new()
            },
            found: false,
            status,
            call,
            return_time: if status == Status::Info {
                0
            } else {
                call + 5 * MILLISECOND
            },
            node: Some(client % 3 + 1),
        }
    }

    fn small_timeline() -> Timeline {
        Timeline {
            seed: 42,
            nodes: 3,
            clients: 4,
            duration_nanoseconds: 10 * SECOND,
            faults: vec![
                FaultWindow {
                    nemesis: "kill".to_string(),
                    description: "SIGKILL node 2 (the leader)".to_string(),
                    nodes: vec![2],
                    start_nanoseconds: SECOND,
                    end_nanoseconds: 3 * SECOND,
                    recovery_nanoseconds: Some(250 * MILLISECOND),
                },
                FaultWindow {
                    nemesis: "partition".to_string(),
                    description: "<script>alert('fault')</script> isolate node 1".to_string(),
                    nodes: vec![1],
                    start_nanoseconds: 2 * SECOND,
                    end_nanoseconds: 4 * SECOND,
                    recovery_nanoseconds: None,
                },
                FaultWindow {
                    nemesis: "pause".to_string(),
                    description: "SIGSTOP node 3".to_string(),
                    nodes: vec![3],
                    start_nanoseconds: 8 * SECOND,
                    end_nanoseconds: 10 * SECOND,
                    recovery_nanoseconds: None,
                },
            ],
            leader_changes: vec![
                LeaderChange {
                    at_nanoseconds: 200 * MILLISECOND,
                    leader: Some(2),
                },
                LeaderChange {
                    at_nanoseconds: SECOND,
                    leader: None,
                },
                LeaderChange {
                    at_nanoseconds: 1_400 * MILLISECOND,
                    leader: Some(1),
                },
            ],
            verdict: "linearizable, nothing lost <b>".to_string(),
            rerun: "synod chaos --seed 42 --clients 4".to_string(),
        }
    }

    /// Clients 0 to 2 act; client 3 never completes anything but must still
    /// have its lane.
    fn small_history() -> Vec<Operation> {
        vec![
            operation(0, OperationKind::Set, Status::Ok, 100 * MILLISECOND, "x"),
            operation(0, OperationKind::Get, Status::Ok, 300 * MILLISECOND, "x"),
            operation(
                1,
                OperationKind::Remove,
                Status::Fail,
                1_100 * MILLISECOND,
                "y",
            ),
            operation(
                1,
                OperationKind::Set,
                Status::Info,
                1_200 * MILLISECOND,
                "<script>alert(1)</script>",
            ),
            operation(2, OperationKind::Contains, Status::Info, 2 * SECOND, "z"),
        ]
    }

    fn large_history(operation_count: u64, clients: u64) -> Vec<Operation> {
        let kinds = [
            OperationKind::Get,
            OperationKind::Set,
            OperationKind::Contains,
            OperationKind::Remove,
        ];
        (0..operation_count)
            .map(|index| {
                let status = match index % 97 {
                    0 => Status::Info,
                    1..=3 => Status::Fail,
                    _ => Status::Ok,
                };
                let kind = kinds[(index % 4) as usize];
                let key = format!("key-{}", index % 1_000);
                operation(index % clients, kind, status, index * 300_000, &key)
            })
            .collect()
    }

    #[test]
    fn every_client_has_a_lane_even_one_without_operations() {
        let page = render(&small_timeline(), &small_history());
        for client in 0..4 {
            assert!(page.contains(&format!(r#"<g class="client-lane" data-client="{client}""#)));
            assert!(page.contains(&format!(">client {client}</text>")));
        }
        assert!(page.contains(r#"data-drawing="operations""#));
        assert_eq!(page.matches(r#"<rect class="operation "#).count(), 5);
        assert_eq!(page.matches(r#"<rect class="operation info "#).count(), 2);
    }

    #[test]
    fn every_fault_window_is_drawn_and_tabled() {
        let timeline = small_timeline();
        let page = render(&timeline, &small_history());
        for (index, fault) in timeline.faults.iter().enumerate() {
            let hook = format!(
                r#"<g class="fault" data-index="{index}" data-nemesis="{}" data-description="{}" data-nodes="{}" data-start="{}""#,
                fault.nemesis,
                Escaped(&fault.description),
                fault.nodes[0],
                fault.start_nanoseconds,
            );
            assert!(page.contains(&hook), "missing {hook}");
            assert!(page.contains(&format!(r#"<tr class="fault-row" data-index="{index}">"#)));
        }
        assert!(page.contains(r#"data-end="4000000000" data-recovery="none""#));
        assert!(page.contains(r#"data-end="3000000000" data-recovery="250000000""#));
        assert!(page.contains("SIGKILL node 2 (the leader)</text>"));
    }

    #[test]
    fn every_leader_change_is_marked_and_tabled() {
        let timeline = small_timeline();
        let page = render(&timeline, &small_history());
        for (index, change) in timeline.leader_changes.iter().enumerate() {
            let leader = text::NodeOrNone(change.leader);
            let label = text::LeaderName(change.leader);
            assert!(page.contains(&format!(
                r#"data-index="{index}" data-leader="{leader}" data-at="{}""#,
                change.at_nanoseconds
            )));
            assert!(page.contains(&format!(">{label}</text>")));
            assert!(page.contains(&format!(
                r#"<tr class="leader-change-row" data-index="{index}">"#
            )));
        }
        assert_eq!(page.matches(r#"<g class="leader-change"#).count(), 3);
        assert!(page.contains(r#"<g class="leader-change none""#));
    }

    #[test]
    fn the_header_states_the_run() {
        let page = render(&small_timeline(), &small_history());
        assert!(
            page.contains(r#"<strong id="verdict">linearizable, nothing lost &lt;b&gt;</strong>"#)
        );
        assert!(page.contains(r#"<dd id="seed">42</dd>"#));
        assert!(page.contains(r#"<dd id="operations-ok">2</dd>"#));
        assert!(page.contains(r#"<dd id="operations-fail">1</dd>"#));
        assert!(page.contains(r#"<dd id="operations-info">2</dd>"#));
        assert!(page.contains(r#"<code id="rerun">synod chaos --seed 42 --clients 4</code>"#));
    }

    #[test]
    fn data_is_escaped_so_no_script_can_run() {
        let page = render(&small_timeline(), &small_history());
        assert!(
            !page.contains("<script"),
            "a string from the run reached the page unescaped"
        );
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&lt;script&gt;alert(&#39;fault&#39;)&lt;/script&gt; isolate node 1"));
        assert!(!page.contains("<b>"));
    }

    #[test]
    fn the_page_is_self_contained() {
        let page = render(&small_timeline(), &small_history());
        for reference in [
            "http://", "https://", "src=", "href=", "@import", "<link", "<script",
        ] {
            assert!(!page.contains(reference), "the page references {reference}");
        }
        let groups_opened = page.matches("<g ").count() + page.matches("<g>").count();
        assert_eq!(groups_opened, page.matches("</g>").count());
        assert!(page.trim_end().ends_with("</html>"));
    }

    #[test]
    fn an_empty_run_still_renders_every_lane() {
        let timeline = Timeline {
            clients: 2,
            ..Timeline::default()
        };
        let page = render(&timeline, &[]);
        assert!(page.contains(r#"data-client="1""#));
        assert!(page.contains("no faults"));
        assert!(page.contains("no leader change observed"));
    }

    #[test]
    fn a_hundred_thousand_operations_make_a_small_page_with_every_lane() {
        let clients = 16;
        let mut timeline = small_timeline();
        timeline.clients = clients;
        timeline.duration_nanoseconds = 30 * SECOND;
        let history = large_history(100_000, clients);
        assert!(history.len() > OPERATIONS_DRAWN_MAX);
        let page = render(&timeline, &history);
        assert!(
            page.len() < PAGE_FOR_100_000_OPERATIONS_BYTES_MAX,
            "the page is {} bytes",
            page.len()
        );
        assert!(page.contains(r#"data-drawing="buckets""#));
        assert!(!page.contains(r#"<rect class="operation "#));
        for client in 0..clients {
            assert!(page.contains(&format!(
                r#"<g class="client-lane" data-client="{client}" data-operations="6250">"#
            )));
        }
        for status in ["ok", "fail", "info"] {
            assert!(page.contains(&format!(r#"<rect class="bucket {status} "#)));
        }
        assert_eq!(
            page.matches(r#"<g class="fault""#).count(),
            timeline.faults.len()
        );
    }
}
