//! The client lanes: one lane per client, each operation a bar from its call
//! to its return; or, when the history is too long for that, the operations
//! counted into fixed time buckets, so that a run of any length gives a page
//! of bounded size.

use std::fmt::{self, Write};

use synod_history::{Operation, OperationKind, Status};

use crate::run::FINAL_READER_CLIENT_BASE;

use super::layout::{Layout, CLIENT_LANE_HEIGHT_PIXELS};
use super::text::{shorten, Escaped, Seconds};

/// Histories with more operations than this are drawn as buckets rather than
/// one bar per operation. One bar with its tooltip costs about 250 bytes, so
/// this keeps the individually drawn page under about a megabyte; beyond it
/// the bars would also be narrower than a pixel and overlap.
pub const OPERATIONS_DRAWN_MAX: usize = 4_000;

/// Buckets per client lane when aggregating: about two pixels each.
const BUCKETS_PER_LANE_MAX: usize = 500;

/// Buckets over all lanes together when aggregating, so that a run with many
/// clients still gives a page of bounded size: a bucket with its tooltip
/// costs about 200 bytes, so the buckets take at most about 1.6 MB even when
/// no two neighbours look alike. With many clients each lane gets fewer,
/// wider buckets.
const BUCKETS_MAX: usize = 8_000;

/// The longest key or value quoted in a tooltip.
const TOOLTIP_TEXT_CHARACTERS_MAX: usize = 40;

/// Padding above and below the tallest bar in a lane.
const BAR_PADDING_PIXELS: f64 = 2.0;

/// How much of the lane a read's bar fills, beside a write's full height:
/// reads change nothing, so they are drawn lighter.
const READ_BAR_HEIGHT_FRACTION: f64 = 0.55;

/// How the operations are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Drawing {
    /// One bar per operation.
    Operations,
    /// Operations counted into `per_lane` equal time buckets in every lane.
    Buckets { per_lane: usize },
}

impl Drawing {
    pub(super) fn choose(operation_count: usize, lane_count: usize) -> Drawing {
        if operation_count <= OPERATIONS_DRAWN_MAX {
            return Drawing::Operations;
        }
        let per_lane = (BUCKETS_MAX / lane_count.max(1)).clamp(1, BUCKETS_PER_LANE_MAX);
        Drawing::Buckets { per_lane }
    }
}

pub(super) fn write_client_lanes(
    out: &mut String,
    layout: &Layout,
    operations: &[Operation],
    drawing: Drawing,
) -> fmt::Result {
    let mut lanes: Vec<Vec<&Operation>> = vec![Vec::new(); layout.clients.len()];
    for operation in operations {
        let lane = layout
            .lane_of(operation.client)
            .expect("the layout has a lane for every client in the history");
        lanes[lane].push(operation);
    }
    for (lane, (client, operations)) in layout.clients.iter().zip(&lanes).enumerate() {
        let top = layout.client_lane_top(lane);
        writeln!(
            out,
            r#"<g class="client-lane" data-client="{client}" data-operations="{}">"#,
            operations.len()
        )?;
        // The final readers (one per node, after the heal) are named for
        // their node rather than by their large client id.
        let label = match client.checked_sub(FINAL_READER_CLIENT_BASE) {
            Some(node) => format!("final read n{node}"),
            None => format!("client {client}"),
        };
        writeln!(
            out,
            r#"<text class="lane-label" x="{:.1}" y="{:.1}">{label}</text>"#,
            layout.plot_left() - 6.0,
            top + CLIENT_LANE_HEIGHT_PIXELS - 5.0,
        )?;
        match drawing {
            Drawing::Operations => write_operations(out, layout, top, operations)?,
            Drawing::Buckets { per_lane } => {
                write_buckets(out, layout, top, *client, operations, per_lane)?
            }
        }
        writeln!(out, "</g>")?;
    }
    Ok(())
}

fn is_write(kind: OperationKind) -> bool {
    match kind {
        OperationKind::Set | OperationKind::Remove => true,
        OperationKind::Get | OperationKind::Contains => false,
    }
}

fn read_or_write(write: bool) -> &'static str {
    if write {
        "write"
    } else {
        "read"
    }
}

/// The vertical extent of a bar: writes fill the lane, reads a centred part.
fn bar_vertical(lane_top: f64, write: bool) -> (f64, f64) {
    let full = CLIENT_LANE_HEIGHT_PIXELS - 2.0 * BAR_PADDING_PIXELS;
    let height = if write {
        full
    } else {
        full * READ_BAR_HEIGHT_FRACTION
    };
    (
        lane_top + BAR_PADDING_PIXELS + (full - height) / 2.0,
        height,
    )
}

/// One bar per operation. Operations of unknown outcome may take effect at
/// any moment up to the end of the run, so their hatched bar runs to the end;
/// they are drawn first so that the client's later operations lie on top.
fn write_operations(
    out: &mut String,
    layout: &Layout,
    lane_top: f64,
    operations: &[&Operation],
) -> fmt::Result {
    let unknown = operations
        .iter()
        .filter(|operation| operation.status == Status::Info);
    let known = operations
        .iter()
        .filter(|operation| operation.status != Status::Info);
    for operation in unknown.chain(known) {
        let end = match operation.status {
            Status::Info => layout.run_end,
            Status::Ok | Status::Fail => operation.return_time.max(operation.call),
        };
        let write = is_write(operation.op);
        let (y, height) = bar_vertical(lane_top, write);
        write!(
            out,
            r#"<rect class="operation {} {}" x="{:.1}" y="{y:.1}" width="{:.1}" height="{height:.1}"><title>"#,
            operation.status,
            read_or_write(write),
            layout.x(operation.call),
            layout.width(operation.call, end),
        )?;
        write_operation_title(out, operation)?;
        writeln!(out, "</title></rect>")?;
    }
    Ok(())
}

/// The tooltip of one operation: what was asked, what came back, when, and
/// through which node.
fn write_operation_title(out: &mut String, operation: &Operation) -> fmt::Result {
    let key = shorten(&operation.key, TOOLTIP_TEXT_CHARACTERS_MAX);
    let value = shorten(&operation.value, TOOLTIP_TEXT_CHARACTERS_MAX);
    write!(
        out,
        "client {} {} {}",
        operation.client,
        operation.op,
        Escaped(&key)
    )?;
    match (operation.op, operation.status) {
        (OperationKind::Set, _) => write!(out, " = {}", Escaped(&value))?,
        (OperationKind::Get, Status::Ok) if operation.found => {
            write!(out, " → {}", Escaped(&value))?
        }
        (OperationKind::Get | OperationKind::Contains, Status::Ok) => {
            let answer = if operation.found {
                "found"
            } else {
                "not found"
            };
            write!(out, " → {answer}")?
        }
        (OperationKind::Remove, Status::Ok) => {
            let answer = if operation.found {
                "removed"
            } else {
                "was absent"
            };
            write!(out, " → {answer}")?
        }
        (_, Status::Fail | Status::Info) => {}
    }
    match operation.status {
        Status::Info => write!(
            out,
            "\ninfo (outcome unknown), called at {} s",
            Seconds(operation.call)
        )?,
        Status::Ok | Status::Fail => write!(
            out,
            "\n{}, {}–{} s",
            operation.status,
            Seconds(operation.call),
            Seconds(operation.return_time)
        )?,
    }
    if let Some(node) = operation.node {
        write!(out, ", node {node}")?;
    }
    Ok(())
}

/// What fell into one bucket (or a run of neighbouring buckets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counts {
    ok: u64,
    fail: u64,
    info: u64,
    reads: u64,
    writes: u64,
}

impl Counts {
    fn add(&mut self, operation: &Operation) {
        match operation.status {
            Status::Ok => self.ok += 1,
            Status::Fail => self.fail += 1,
            Status::Info => self.info += 1,
        }
        if is_write(operation.op) {
            self.writes += 1;
        } else {
            self.reads += 1;
        }
    }

    fn merge(&mut self, other: &Counts) {
        self.ok += other.ok;
        self.fail += other.fail;
        self.info += other.info;
        self.reads += other.reads;
        self.writes += other.writes;
    }

    fn total(&self) -> u64 {
        self.ok + self.fail + self.info
    }

    /// The status that colours the bucket: an unknown outcome is the most
    /// interesting thing in a history, then a failure.
    fn worst(&self) -> Status {
        if self.info > 0 {
            Status::Info
        } else if self.fail > 0 {
            Status::Fail
        } else {
            Status::Ok
        }
    }

    /// What the bucket looks like; neighbouring buckets that look alike are
    /// drawn as one rectangle, which keeps a steady lane to a few elements.
    fn appearance(&self) -> (Status, bool) {
        (self.worst(), self.writes > 0)
    }
}

/// The operations of one lane counted by the bucket their call falls in
/// (an operation of unknown outcome counts where it was called, not to the
/// end of the run, or one timeout would colour the rest of the lane).
fn write_buckets(
    out: &mut String,
    layout: &Layout,
    lane_top: f64,
    client: u64,
    operations: &[&Operation],
    per_lane: usize,
) -> fmt::Result {
    assert!(per_lane > 0);
    let mut buckets = vec![Counts::default(); per_lane];
    for operation in operations {
        let bucket = (u128::from(operation.call) * per_lane as u128 / u128::from(layout.run_end))
            .min(per_lane as u128 - 1);
        buckets[bucket as usize].add(operation);
    }
    let bucket_start = |bucket: usize| -> u64 {
        (u128::from(layout.run_end) * bucket as u128 / per_lane as u128) as u64
    };
    let mut bucket = 0;
    while bucket < per_lane {
        if buckets[bucket].total() == 0 {
            bucket += 1;
            continue;
        }
        let first = bucket;
        let mut counts = buckets[bucket];
        bucket += 1;
        while bucket < per_lane
            && buckets[bucket].total() > 0
            && buckets[bucket].appearance() == counts.appearance()
        {
            counts.merge(&buckets[bucket]);
            bucket += 1;
        }
        let (start, end) = (bucket_start(first), bucket_start(bucket));
        write_bucket(out, layout, lane_top, client, start, end, &counts)?;
    }
    Ok(())
}

fn write_bucket(
    out: &mut String,
    layout: &Layout,
    lane_top: f64,
    client: u64,
    start: u64,
    end: u64,
    counts: &Counts,
) -> fmt::Result {
    let (worst, write) = counts.appearance();
    let (y, height) = bar_vertical(lane_top, write);
    writeln!(
        out,
        r#"<rect class="bucket {worst} {}" data-operations="{}" x="{:.1}" y="{y:.1}" width="{:.1}" height="{height:.1}"><title>client {client}, {}–{} s: {} operations: {} ok, {} fail, {} info; {} reads, {} writes</title></rect>"#,
        read_or_write(write),
        counts.total(),
        layout.x(start),
        layout.width(start, end),
        Seconds(start),
        Seconds(end),
        counts.total(),
        counts.ok,
        counts.fail,
        counts.info,
        counts.reads,
        counts.writes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_histories_with_many_clients_get_fewer_buckets_per_lane() {
        assert_eq!(
            Drawing::choose(OPERATIONS_DRAWN_MAX, 5),
            Drawing::Operations
        );
        assert_eq!(
            Drawing::choose(OPERATIONS_DRAWN_MAX + 1, 5),
            Drawing::Buckets {
                per_lane: BUCKETS_PER_LANE_MAX
            }
        );
        assert_eq!(
            Drawing::choose(OPERATIONS_DRAWN_MAX + 1, 1_000),
            Drawing::Buckets {
                per_lane: BUCKETS_MAX / 1_000
            }
        );
        assert_eq!(
            Drawing::choose(OPERATIONS_DRAWN_MAX + 1, 1_000_000),
            Drawing::Buckets { per_lane: 1 }
        );
    }

    #[test]
    fn an_unknown_outcome_colours_its_bucket_before_a_failure() {
        let mut counts = Counts {
            ok: 5,
            fail: 1,
            ..Counts::default()
        };
        assert_eq!(counts.worst(), Status::Fail);
        counts.info = 1;
        assert_eq!(counts.appearance(), (Status::Info, false));
    }
}
