//! The report of a comparison: a Markdown table of every cell, side by
//! side per workload and concurrency with synod's ratio to each other
//! system, and an SVG plot of throughput against p99 latency per system.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::run::CellResult;

/// The system the ratios are taken for.
pub const REFERENCE_SYSTEM: &str = "synod";
/// Size of the plot, in pixels.
pub const PLOT_WIDTH_PIXELS: u32 = 1200;
/// Height of one workload's chart, in pixels.
pub const PLOT_ROW_HEIGHT_PIXELS: u32 = 420;

/// A key of the table: the workload's mix and the concurrency.
type Row = (String, usize);

/// Writes the Markdown table to `output` (with a link to the plot) and
/// the plot to `plot`.
///
/// # Errors
///
/// A file that cannot be written, or a plot that cannot be drawn.
pub fn write(results: &[CellResult], output: &Path, plot: &Path) -> Result<(), String> {
    let plot_name = plot
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let markdown = table(results, &plot_name);
    std::fs::write(output, markdown).map_err(|error| format!("{}: {error}", output.display()))?;
    draw(results, plot).map_err(|error| format!("{}: {error}", plot.display()))
}

/// The systems in the order they first appear.
fn systems(results: &[CellResult]) -> Vec<String> {
    let mut seen = Vec::new();
    for result in results {
        if !seen.contains(&result.system) {
            seen.push(result.system.clone());
        }
    }
    seen
}

/// The Markdown table: one row per (workload, concurrency), one column per
/// system, and synod's ratio to each other system.
pub fn table(results: &[CellResult], plot_name: &str) -> String {
    let systems = systems(results);
    let mut cells: BTreeMap<(Row, String), &CellResult> = BTreeMap::new();
    let mut rows: BTreeSet<(usize, Row)> = BTreeSet::new();
    for result in results {
        let mix = result.workload.mix;
        let row = (mix.to_string(), result.concurrency);
        rows.insert((usize::from(mix.read_percent), row.clone()));
        cells.insert((row, result.system.clone()), result);
    }
    let others: Vec<&String> = systems
        .iter()
        .filter(|system| *system != REFERENCE_SYSTEM)
        .collect();
    let has_reference = systems.iter().any(|system| system == REFERENCE_SYSTEM);
    let mut out = String::new();
    out.push_str("Cells are ops/s (p50 / p99 ms), closed loop.");
    if has_reference && !others.is_empty() {
        out.push_str(" A ratio is synod's throughput over the other system's.");
    }
    out.push_str("\n\n| workload | in flight |");
    for system in &systems {
        let _ = write!(out, " {system} |");
    }
    if has_reference {
        for other in &others {
            let _ = write!(out, " synod / {other} |");
        }
    }
    out.push_str("\n|---|---:|");
    for _ in 0..systems.len() + if has_reference { others.len() } else { 0 } {
        out.push_str("---:|");
    }
    out.push('\n');
    for (_, row) in &rows {
        let _ = write!(out, "| {} | {} |", row.0, row.1);
        for system in &systems {
            match cells.get(&(row.clone(), system.clone())) {
                Some(cell) => {
                    let _ = write!(
                        out,
                        " {} ({:.2} / {:.2}) |",
                        thousands(cell.throughput),
                        cell.latency.p50 as f64 / 1_000.0,
                        cell.latency.p99 as f64 / 1_000.0
                    );
                }
                None => out.push_str(" – |"),
            }
        }
        if has_reference {
            let reference = cells.get(&(row.clone(), REFERENCE_SYSTEM.to_string()));
            for other in &others {
                let other = cells.get(&(row.clone(), (*other).clone()));
                match (reference, other) {
                    (Some(reference), Some(other)) if other.throughput > 0.0 => {
                        let _ = write!(out, " {:.2}× |", reference.throughput / other.throughput);
                    }
                    _ => out.push_str(" – |"),
                }
            }
        }
        out.push('\n');
    }
    let server_rows: Vec<&&CellResult> = cells
        .values()
        .filter(|cell| cell.server.is_some())
        .collect();
    if !server_rows.is_empty() {
        out.push_str("\nWhat the nodes reported during each measured cell (all nodes' fsyncs together; commands per decided slot):\n\n");
        out.push_str(
            "| system | workload | in flight | fsyncs/s | mean batch |\n|---|---|---:|---:|---:|\n",
        );
        for cell in server_rows {
            let server = cell.server.expect("filtered");
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.1} |",
                cell.system,
                cell.workload.mix,
                cell.concurrency,
                thousands(server.fsyncs_per_second),
                server.mean_batch_commands
            );
        }
    }
    let failing: Vec<&CellResult> = results.iter().filter(|cell| cell.errors > 0).collect();
    if !failing.is_empty() {
        out.push_str("\nCells with errors:\n\n");
        for cell in failing {
            let _ = writeln!(
                out,
                "- {} {} at {}: {} errors (first: {})",
                cell.system,
                cell.workload.mix,
                cell.concurrency,
                cell.errors,
                cell.first_error.as_deref().unwrap_or("?")
            );
        }
    }
    if !plot_name.is_empty() {
        let _ = writeln!(out, "\n![throughput against p99 latency]({plot_name})");
    }
    out
}

/// `12345.6` as `12,346`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// One chart per workload: for each system, its cells by concurrency as a
/// line of (throughput, p99 latency), log-scaled latency.
fn draw(results: &[CellResult], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let systems = systems(results);
    let mut mixes: Vec<(u8, String)> = results
        .iter()
        .map(|cell| {
            (
                cell.workload.mix.read_percent,
                cell.workload.mix.to_string(),
            )
        })
        .collect();
    mixes.sort();
    mixes.dedup();
    if mixes.is_empty() {
        return Err("no results to plot".into());
    }
    let height = PLOT_ROW_HEIGHT_PIXELS * mixes.len() as u32;
    let root = SVGBackend::new(path, (PLOT_WIDTH_PIXELS, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((mixes.len(), 1));
    for ((_, mix), panel) in mixes.iter().zip(panels.iter()) {
        let cells: Vec<&CellResult> = results
            .iter()
            .filter(|cell| &cell.workload.mix.to_string() == mix && cell.throughput > 0.0)
            .collect();
        let throughput_max = cells.iter().map(|cell| cell.throughput).fold(1.0, f64::max);
        let latency = |cell: &CellResult| (cell.latency.p99.max(1) as f64) / 1_000.0;
        let latency_min = cells
            .iter()
            .map(|cell| latency(cell))
            .fold(f64::MAX, f64::min);
        let latency_max = cells.iter().map(|cell| latency(cell)).fold(0.0, f64::max);
        let mut chart = ChartBuilder::on(panel)
            .caption(
                format!("{mix}: throughput against p99 latency"),
                ("sans-serif", 22),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(
                0.0..throughput_max * 1.1,
                (latency_min.min(latency_max) * 0.8..latency_max.max(latency_min) * 1.25)
                    .log_scale(),
            )?;
        chart
            .configure_mesh()
            .x_desc("ops/s")
            .y_desc("p99 latency (ms)")
            .x_label_formatter(&|value| thousands(*value))
            .draw()?;
        for (index, system) in systems.iter().enumerate() {
            let mut points: Vec<(usize, f64, f64)> = cells
                .iter()
                .filter(|cell| &cell.system == system)
                .map(|cell| (cell.concurrency, cell.throughput, latency(cell)))
                .collect();
            if points.is_empty() {
                continue;
            }
            points.sort_by_key(|point| point.0);
            let color = Palette99::pick(index).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|point| (point.1, point.2)),
                    color.stroke_width(2),
                ))?
                .label(system.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart.draw_series(
                points
                    .iter()
                    .map(|point| Circle::new((point.1, point.2), 4, color.filled())),
            )?;
            chart.draw_series(points.iter().map(|point| {
                Text::new(
                    format!("{}", point.0),
                    (point.1, point.2),
                    ("sans-serif", 12),
                )
            }))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Latency, Mode};
    use crate::workload::{KeyDistribution, Mix, Workload};

    fn cell(system: &str, read_percent: u8, concurrency: usize, throughput: f64) -> CellResult {
        CellResult {
            system: system.to_string(),
            target: "redis://127.0.0.1:1".to_string(),
            workload: Workload {
                mix: Mix { read_percent },
                keys: 10,
                key_size_bytes: 16,
                value_size_bytes: 100,
                distribution: KeyDistribution::Uniform,
            },
            concurrency,
            connections: 1,
            mode: Mode::Closed,
            stale_reads: false,
            seconds: 1.0,
            operations: throughput as u64,
            errors: 0,
            throughput,
            latency: Latency {
                p50: 1_000,
                p99: 2_500,
                ..Latency::default()
            },
            read_latency: Latency::default(),
            write_latency: Latency::default(),
            server: None,
            first_error: None,
        }
    }

    #[test]
    fn the_table_puts_systems_side_by_side_with_ratios() {
        let results = [
            cell("synod", 0, 16, 9_000.0),
            cell("etcd", 0, 16, 3_000.0),
            cell("synod", 100, 16, 50_000.0),
        ];
        let table = table(&results, "plot.svg");
        assert!(table.contains("| synod / etcd |"), "{table}");
        assert!(
            table.contains("| write | 16 | 9,000 (1.00 / 2.50) | 3,000 (1.00 / 2.50) | 3.00× |"),
            "{table}"
        );
        assert!(
            table.contains("| read | 16 | 50,000 (1.00 / 2.50) | – | – |"),
            "{table}"
        );
        assert!(table.contains("![throughput against p99 latency](plot.svg)"));
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
    }

    #[test]
    fn the_plot_is_an_svg_with_every_system() {
        let directory =
            std::env::temp_dir().join(format!("synod-bench-plot-{}", std::process::id()));
        std::fs::create_dir_all(&directory).unwrap();
        let path = directory.join("plot.svg");
        let results = [
            cell("synod", 0, 1, 900.0),
            cell("synod", 0, 16, 9_000.0),
            cell("etcd", 0, 16, 3_000.0),
        ];
        draw(&results, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..50.min(svg.len())]);
        assert!(svg.contains("synod") && svg.contains("etcd"));
        std::fs::remove_dir_all(&directory).unwrap();
    }
}
