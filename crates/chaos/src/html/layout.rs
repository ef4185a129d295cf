//! Where everything goes on the timeline drawing: the time scale that turns
//! nanoseconds since the run began into pixels, and the vertical order of the
//! lanes (time axis, faults, leader, then one lane per client).

use std::collections::BTreeSet;

use synod_history::{Operation, Status};

use crate::timeline::{FaultWindow, Timeline};

/// Width of the whole drawing. Fixed rather than fitted to the window, so
/// that the coordinates in the page do not depend on who opens it.
pub(super) const DRAWING_WIDTH_PIXELS: f64 = 1200.0;

/// Room left of the plot for the lane labels ("client 12", "leader").
const LABELS_WIDTH_PIXELS: f64 = 100.0;

/// Room right of the plot, so that the last tick label is not cut.
const RIGHT_MARGIN_PIXELS: f64 = 24.0;

/// Height of the time axis above the lanes.
pub(super) const AXIS_HEIGHT_PIXELS: f64 = 26.0;

/// Height of one row of the fault lane; overlapping faults take more rows.
pub(super) const FAULT_ROW_HEIGHT_PIXELS: f64 = 20.0;

/// Overlapping faults are stacked in at most this many rows; beyond it they
/// share the row that frees up first, so a run with a fault storm still has a
/// drawing of bounded height.
const FAULT_ROWS_MAX: usize = 8;

/// Height of the leader lane: the terms and, above them, the change labels
/// on two alternating lines so that close changes do not print over each
/// other.
pub(super) const LEADER_LANE_HEIGHT_PIXELS: f64 = 40.0;

/// Height of one client lane.
pub(super) const CLIENT_LANE_HEIGHT_PIXELS: f64 = 18.0;

/// Narrowest bar drawn, so that an instantaneous operation or fault can still
/// be seen and hovered.
pub(super) const BAR_WIDTH_PIXELS_MIN: f64 = 1.0;

/// The geometry of one drawing.
#[derive(Debug)]
pub(super) struct Layout {
    /// The right edge of the time axis, in nanoseconds since the run began:
    /// the latest moment anything in the run happened, and at least 1 so the
    /// scale never divides by zero.
    pub run_end: u64,
    /// The client lanes in order: every id `0..timeline.clients`, plus any id
    /// found in the history outside that range, so no operation is dropped.
    pub clients: Vec<u64>,
    /// For every fault, in the timeline's order, the row of the fault lane it
    /// is drawn in.
    pub fault_rows: Vec<usize>,
    /// Number of rows of the fault lane (at least one, so the lane exists even
    /// in a run without faults).
    pub fault_row_count: usize,
}

impl Layout {
    pub(super) fn new(timeline: &Timeline, operations: &[Operation]) -> Layout {
        let run_end = run_end(timeline, operations);
        let mut clients: BTreeSet<u64> = (0..timeline.clients).collect();
        clients.extend(operations.iter().map(|operation| operation.client));
        let fault_rows = fault_rows(&timeline.faults);
        let fault_row_count = fault_rows.iter().map(|row| row + 1).max().unwrap_or(1);
        assert!(run_end > 0);
        assert!(fault_row_count <= FAULT_ROWS_MAX);
        Layout {
            run_end,
            clients: clients.into_iter().collect(),
            fault_rows,
            fault_row_count,
        }
    }

    /// The left edge of the plot, where time 0 is.
    pub(super) fn plot_left(&self) -> f64 {
        LABELS_WIDTH_PIXELS
    }

    /// The right edge of the plot, where the run ends.
    pub(super) fn plot_right(&self) -> f64 {
        DRAWING_WIDTH_PIXELS - RIGHT_MARGIN_PIXELS
    }

    /// The horizontal position of a moment; times past the end are drawn at
    /// the end.
    pub(super) fn x(&self, time: u64) -> f64 {
        let fraction = time.min(self.run_end) as f64 / self.run_end as f64;
        self.plot_left() + fraction * (self.plot_right() - self.plot_left())
    }

    /// The width of a bar from `start` to `end`, never narrower than
    /// [`BAR_WIDTH_PIXELS_MIN`].
    pub(super) fn width(&self, start: u64, end: u64) -> f64 {
        (self.x(end) - self.x(start)).max(BAR_WIDTH_PIXELS_MIN)
    }

    pub(super) fn fault_lane_top(&self) -> f64 {
        AXIS_HEIGHT_PIXELS
    }

    pub(super) fn fault_lane_height(&self) -> f64 {
        self.fault_row_count as f64 * FAULT_ROW_HEIGHT_PIXELS
    }

    pub(super) fn leader_lane_top(&self) -> f64 {
        self.fault_lane_top() + self.fault_lane_height()
    }

    /// The top of the client lane at position `lane` (not client id: ids may
    /// have gaps).
    pub(super) fn client_lane_top(&self, lane: usize) -> f64 {
        self.leader_lane_top() + LEADER_LANE_HEIGHT_PIXELS + lane as f64 * CLIENT_LANE_HEIGHT_PIXELS
    }

    /// The height of the whole drawing.
    pub(super) fn height(&self) -> f64 {
        self.client_lane_top(self.clients.len())
    }

    /// The position of a client's lane, if the client has one.
    pub(super) fn lane_of(&self, client: u64) -> Option<usize> {
        self.clients.binary_search(&client).ok()
    }
}

/// When a fault stops being drawn: its heal plus the recovery that followed.
pub(super) fn fault_drawn_end(fault: &FaultWindow) -> u64 {
    let end = fault.end_nanoseconds.max(fault.start_nanoseconds);
    end.saturating_add(fault.recovery_nanoseconds.unwrap_or(0))
}

/// The latest moment anything in the run happened. `Timeline::duration`
/// covers only the faulty part; operations still in flight, the final heal
/// and its recovery may come after it, and the drawing must include them.
fn run_end(timeline: &Timeline, operations: &[Operation]) -> u64 {
    let operations_end = operations.iter().map(|operation| match operation.status {
        // The return time of an operation with an unknown outcome is
        // meaningless (often 0); only its call is a known moment.
        Status::Info => operation.call,
        Status::Ok | Status::Fail => operation.call.max(operation.return_time),
    });
    let faults_end = timeline.faults.iter().map(|fault| {
        let healed = fault.end_nanoseconds.max(fault.start_nanoseconds);
        healed.saturating_add(fault.recovery_nanoseconds.unwrap_or(0))
    });
    let leader_changes_end = timeline
        .leader_changes
        .iter()
        .map(|change| change.at_nanoseconds);
    operations_end
        .chain(faults_end)
        .chain(leader_changes_end)
        .fold(timeline.duration_nanoseconds, u64::max)
        .max(1)
}

/// Assigns every fault a row so that faults that overlap in time are drawn
/// one above the other: each fault, in order of start, takes the first row
/// that is free by then.
fn fault_rows(faults: &[FaultWindow]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..faults.len()).collect();
    order.sort_by_key(|&index| faults[index].start_nanoseconds);
    let mut row_ends: Vec<u64> = Vec::new();
    let mut rows = vec![0; faults.len()];
    for index in order {
        let fault = &faults[index];
        let free = row_ends
            .iter()
            .position(|&row_end| row_end <= fault.start_nanoseconds);
        let row = match free {
            Some(row) => row,
            None if row_ends.len() < FAULT_ROWS_MAX => {
                row_ends.push(0);
                row_ends.len() - 1
            }
            None => (0..row_ends.len())
                .min_by_key(|&row| row_ends[row])
                .expect("the rows are full, so there are rows"),
        };
        row_ends[row] = row_ends[row].max(fault_drawn_end(fault));
        rows[index] = row;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(start: u64, end: Option<u64>) -> FaultWindow {
        FaultWindow {
            nemesis: "kill".to_string(),
            description: "SIGKILL node 1".to_string(),
            nodes: vec![1],
            start_nanoseconds: start,
            end_nanoseconds: end.unwrap_or(start),
            recovery_nanoseconds: None,
        }
    }

    #[test]
    fn overlapping_faults_are_stacked_and_disjoint_ones_share_a_row() {
        let faults = [fault(0, Some(10)), fault(5, Some(20)), fault(12, None)];
        assert_eq!(fault_rows(&faults), vec![0, 1, 0]);
    }

    #[test]
    fn the_fault_lane_never_grows_past_its_row_limit() {
        let faults: Vec<FaultWindow> = (0..50).map(|start| fault(start, None)).collect();
        let rows = fault_rows(&faults);
        assert!(rows.iter().all(|&row| row < FAULT_ROWS_MAX));
    }

    #[test]
    fn the_run_ends_at_the_latest_known_moment() {
        let timeline = Timeline {
            duration_nanoseconds: 100,
            clients: 2,
            faults: vec![FaultWindow {
                recovery_nanoseconds: Some(50),
                ..fault(10, Some(120))
            }],
            ..Timeline::default()
        };
        assert_eq!(run_end(&timeline, &[]), 170);
        let layout = Layout::new(&timeline, &[]);
        assert_eq!(layout.clients, vec![0, 1]);
        assert_eq!(layout.x(0), layout.plot_left());
        assert_eq!(layout.x(1_000), layout.plot_right());
    }
}
