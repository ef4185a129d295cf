//! Client libraries nobody here wrote, each running its scripted workload
//! (tests/clients/) against a cluster of three `synod server` processes.
//!
//! - redis-py with its default settings (RESP3 through `HELLO 3`), run by
//!   the Python in `SYNOD_PYTHON` (default `python3`);
//! - ioredis with its default settings, run by `node` with the
//!   `node_modules` directory in `SYNOD_NODE_MODULES` (default: Node's own
//!   search path).
//!
//! A library that is not installed is skipped with a note, unless
//! `SYNOD_REQUIRE_CLIENT_LIBRARIES=1` (set by `.ci/run`, which installs
//! them): then its absence fails the test.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::Cluster;

/// The workloads live at the repository's root, two levels above this crate.
fn workload(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/clients")
        .join(name)
}

/// A workload that has not finished by then is killed, and fails.
const WORKLOAD_TIME_MAX: Duration = Duration::from_secs(90);

/// Runs `command` to its end, or kills it (by its PID) after
/// [`WORKLOAD_TIME_MAX`].
fn run_bounded(command: &mut Command) -> Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the workload starts");
    let pid = child.id();
    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match finished.recv_timeout(WORKLOAD_TIME_MAX) {
        Ok(output) => output.expect("the workload's output is read"),
        Err(_) => {
            let pid = libc::pid_t::try_from(pid).expect("a PID fits pid_t");
            // SAFETY: kill has no memory effects; the PID is our child's,
            // not yet waited for, so it cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the workload did not finish within {WORKLOAD_TIME_MAX:?}");
        }
    }
}

/// Whether a missing library must fail the test rather than skip it.
fn required() -> bool {
    std::env::var("SYNOD_REQUIRE_CLIENT_LIBRARIES").as_deref() == Ok("1")
}

/// The Python to run redis-py with, if it has redis-py.
fn python_with_redis() -> Option<String> {
    let python = std::env::var("SYNOD_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let probe = Command::new(&python)
        .args(["-c", "import redis; print(redis.__version__)"])
        .output();
    match probe {
        Ok(output) if output.status.success() => {
            let version = String::from_utf8_lossy(&output.stdout);
            eprintln!("redis-py {} at {python}", version.trim());
            Some(python)
        }
        _ => {
            assert!(
                !required(),
                "SYNOD_REQUIRE_CLIENT_LIBRARIES=1 but {python} cannot import redis \
                 (pip install redis, or set SYNOD_PYTHON)"
            );
            eprintln!("no redis-py for {python}: its workload is skipped");
            None
        }
    }
}

/// Where `node` finds ioredis, if it does.
fn node_with_ioredis() -> Option<Option<String>> {
    let modules = std::env::var("SYNOD_NODE_MODULES").ok();
    let mut probe = Command::new("node");
    probe.args(["-e", "console.log(require('ioredis/package.json').version)"]);
    if let Some(modules) = &modules {
        probe.env("NODE_PATH", modules);
    }
    match probe.output() {
        Ok(output) if output.status.success() => {
            let version = String::from_utf8_lossy(&output.stdout);
            eprintln!("ioredis {}", version.trim());
            Some(modules)
        }
        _ => {
            assert!(
                !required(),
                "SYNOD_REQUIRE_CLIENT_LIBRARIES=1 but node cannot load ioredis \
                 (npm install ioredis, or set SYNOD_NODE_MODULES)"
            );
            eprintln!("no ioredis for node: its workload is skipped");
            None
        }
    }
}

/// Starts a cluster, runs `workload` against every node's client address,
/// and checks that it printed `passed`.
fn run_workload_against_a_cluster(mut workload: Command, passed: &str) {
    let cluster = Cluster::start(3);
    cluster.wait_for_leader(common::ELECTION_WAIT);
    let output = run_bounded(workload.args(cluster.client_endpoints()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        cluster.print_logs();
    }
    assert!(
        output.status.success() && stdout.contains(passed),
        "the workload failed:\n{stdout}\n{stderr}"
    );
}

#[test]
fn redis_py_with_its_defaults_runs_its_workload() {
    let Some(python) = python_with_redis() else {
        return;
    };
    let mut command = Command::new(python);
    command.arg(workload("redis_py_workload.py"));
    run_workload_against_a_cluster(command, "redis-py workload passed");
}

#[test]
fn ioredis_with_its_defaults_runs_its_workload() {
    let Some(modules) = node_with_ioredis() else {
        return;
    };
    let mut command = Command::new("node");
    command.arg(workload("ioredis_workload.js"));
    if let Some(modules) = modules {
        command.env("NODE_PATH", modules);
    }
    run_workload_against_a_cluster(command, "ioredis workload passed");
}
