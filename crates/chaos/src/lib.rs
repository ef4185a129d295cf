//! `synod chaos`: real `synod server` processes on loopback, faults injected
//! on a seeded schedule, every client operation recorded in the shared
//! history format and checked for linearizability at the end.

#![deny(missing_docs)]
//!
//! * [`cluster`]: the processes and the per-link proxies;
//! * [`nemesis`], [`disk`] and [`membership`]: the faults and how they are
//!   undone;
//! * [`clients`]: the concurrent clients and the history they record;
//! * [`observer`]: leader changes, polled from every node's status;
//! * [`schedule`]: the seeded sequence of faults and heals;
//! * [`mod@run`]: the whole run, the final heal and reads, the judgement;
//! * [`verdict`]: availability, recovery and lost-write figures;
//! * [`timeline`] and [`html`]: the record of the run and its report.

pub mod clients;
pub mod cluster;
pub mod disk;
pub mod html;
pub mod membership;
pub mod nemesis;
pub mod observer;
pub mod run;
pub mod schedule;
pub mod timeline;
pub mod verdict;

pub use nemesis::Nemesis;
pub use run::{run, ChaosOptions, ChaosOutcome};
