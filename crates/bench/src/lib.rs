//! synod's load generator: one workload definition run against synod, Redis
//! and etcd alike (`synod bench`), and the report that puts their results
//! side by side (`synod bench-report`).
//!
//! It measures from outside, as a client does: nothing here reads the
//! store's internals except the fsync and batch counters on `/metrics`,
//! which show that the durability behind a figure is real.

pub mod record;
pub mod report;
pub mod rounds;
pub mod run;
pub mod scrape;
pub mod target;
pub mod workload;

pub use record::{HistoryFile, Recorder};
pub use run::{connect, preload, run_cell, Cell, CellResult, Latency, Mode};
pub use target::{Connection, Protocol, Target, TargetError};
pub use workload::{Chooser, KeyDistribution, Mix, Workload, WorkloadError};
