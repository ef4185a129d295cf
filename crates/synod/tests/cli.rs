//! `synod up`, the key-value commands and `synod status`, as a person runs
//! them: processes, their output and their exit status.

mod common;

use common::{synod, text};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The whole test must finish within this.
const TEST_TIME_MAX: Duration = Duration::from_secs(90);

/// Three consecutive ports free a moment ago.
fn free_port_base() -> u16 {
    free_ports_base(3)
}

/// `count` consecutive ports free a moment ago.
fn free_ports_base(count: u16) -> u16 {
    loop {
        let base = common::free_address().port();
        let free = (0..count)
            .all(|offset| std::net::TcpListener::bind(("127.0.0.1", base + offset)).is_ok());
        if free && base + count < 32_000 {
            return base;
        }
    }
}

struct Up {
    child: Child,
    lines: Vec<String>,
}

/// Starts `synod up` and reads its output until every node is listed.
fn up(data: &Path, ports: (u16, u16, u16)) -> Up {
    up_with_nodes(data, ports, 3)
}

/// Starts `synod up --nodes nodes` and reads its output until every node
/// is listed.
fn up_with_nodes(data: &Path, ports: (u16, u16, u16), nodes: usize) -> Up {
    up_with(data, ports, nodes, &[])
}

/// `synod up` with `extra` arguments.
fn up_with(data: &Path, ports: (u16, u16, u16), nodes: usize, extra: &[&str]) -> Up {
    let mut child = Command::new(env!("CARGO_BIN_EXE_synod"))
        .arg("up")
        .args(extra)
        .args(["--nodes", &nodes.to_string()])
        .arg("--data")
        .arg(data)
        .args(["--client-port", &ports.0.to_string()])
        .args(["--peer-port", &ports.1.to_string()])
        .args(["--admin-port", &ports.2.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        lines.push(line);
        if lines.len() == nodes + 1 {
            break;
        }
    }
    assert_eq!(lines.len(), nodes + 1, "synod up printed {lines:?}");
    Up { child, lines }
}

fn stop(mut up: Up) {
    // SAFETY: kill only sends a signal to our own child.
    unsafe {
        libc::kill(up.child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = up.child.try_wait().unwrap() {
            assert!(status.success(), "synod up exited with {status}");
            return;
        }
        assert!(Instant::now() < deadline, "synod up did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn up_starts_a_cluster_that_the_cli_reads_and_writes_and_stops_on_sigterm() {
    let started = Instant::now();
    let data = std::env::temp_dir().join(format!("synod-cli-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let ports = (free_port_base(), free_port_base(), free_port_base());
    let first = up(&data, ports);
    assert!(
        first.lines[0].contains("is up (3 nodes"),
        "{:?}",
        first.lines
    );
    let leaders = first.lines[1..]
        .iter()
        .filter(|line| line.contains("role leader"))
        .count();
    assert_eq!(leaders, 1, "{:?}", first.lines);
    let cluster_line = first.lines[0].clone();

    let endpoints = format!(
        "--endpoints=127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}",
        ports.0,
        ports.0 + 1,
        ports.0 + 2
    );
    let endpoints = endpoints.as_str();
    let set = synod(&["set", "greeting", "hello", endpoints]);
    assert!(set.status.success(), "{}", text(&set.stderr));
    assert_eq!(text(&set.stdout), "OK\n");
    let get = synod(&["get", "greeting", endpoints]);
    assert_eq!(text(&get.stdout), "hello\n");
    let not_stored = synod(&["set", "greeting", "again", "--nx", endpoints]);
    assert_eq!(not_stored.status.code(), Some(1));
    assert_eq!(
        text(&synod(&["exists", "greeting", "nope", endpoints]).stdout),
        "1\n"
    );
    assert_eq!(
        text(&synod(&["del", "greeting", "nope", endpoints]).stdout),
        "1\n"
    );
    let missing = synod(&["get", "greeting", endpoints]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(text(&missing.stdout), "");

    let admin = format!(
        "--endpoints=127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}",
        ports.2,
        ports.2 + 1,
        ports.2 + 2
    );
    let status = synod(&["status", &admin]);
    assert!(status.status.success(), "{}", text(&status.stdout));
    let table = text(&status.stdout);
    assert!(table.starts_with("NODE"), "{table}");
    assert_eq!(
        table
            .lines()
            .filter(|line| line.contains(" leader "))
            .count(),
        1,
        "{table}"
    );

    let kept = synod(&["set", "kept", "across restarts", endpoints]);
    assert!(kept.status.success(), "{}", text(&kept.stderr));
    stop(first);
    // Every node is gone: its ports are free again.
    common::wait_until(
        Duration::from_secs(10),
        "the nodes' ports to be free",
        || std::net::TcpListener::bind(("127.0.0.1", ports.0)).is_ok(),
    );
    let unreachable = synod(&["status", &admin]);
    assert_eq!(unreachable.status.code(), Some(1));

    // A second up on the same directory restarts the same cluster, with its
    // data.
    let second = up(&data, ports);
    assert_eq!(second.lines[0], cluster_line);
    // Its nodes recovered their logs: what was written before is there.
    let kept = synod(&["get", "kept", endpoints]);
    assert_eq!(
        text(&kept.stdout),
        "across restarts\n",
        "{}",
        text(&kept.stderr)
    );
    stop(second);
    let refused = synod(&["up", "--data", data.to_str().unwrap(), "--nodes", "5"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("holds a 3-node cluster"),
        "{}",
        text(&refused.stderr)
    );
    let _ = std::fs::remove_dir_all(&data);
    assert!(
        started.elapsed() < TEST_TIME_MAX,
        "took {:?}",
        started.elapsed()
    );
}

/// `up --nodes 5` joins nodes 4 and 5 through the membership path, and
/// `synod cluster` moves leadership and removes the leader, whose id is
/// then refused for good.
#[test]
fn up_joins_nodes_beyond_three_and_cluster_commands_transfer_and_remove() {
    let started = Instant::now();
    let data = std::env::temp_dir().join(format!("synod-cli-join-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let ports = (free_ports_base(5), free_ports_base(5), free_ports_base(5));
    let cluster = up_with_nodes(&data, ports, 5);
    assert!(
        cluster.lines[0].contains("is up (5 nodes"),
        "{:?}",
        cluster.lines
    );
    let list = |base: u16, skip: Option<u16>| {
        let addresses: Vec<String> = (0..5)
            .filter(|offset| Some(offset + 1) != skip)
            .map(|offset| format!("127.0.0.1:{}", base + offset))
            .collect();
        format!("--endpoints={}", addresses.join(","))
    };
    let status = synod(&["status", &list(ports.2, None)]);
    let table = text(&status.stdout);
    assert!(table.contains("voters [1,2,3,4,5] learners []"), "{table}");
    let leader: u16 = cluster.lines[1..]
        .iter()
        .find(|line| line.contains("role leader"))
        .and_then(|line| line.strip_prefix("node ")?.split(':').next()?.parse().ok())
        .expect("a leader is listed");
    let successor = if leader == 5 { 4 } else { 5 };
    let transfer = synod(&[
        "cluster",
        "transfer-leader",
        "--to",
        &successor.to_string(),
        &list(ports.2, None),
    ]);
    assert!(transfer.status.success(), "{}", text(&transfer.stderr));
    assert_eq!(text(&transfer.stdout), format!("node {successor} leads\n"));
    let remove = synod(&[
        "cluster",
        "remove",
        "--id",
        &successor.to_string(),
        &list(ports.2, None),
    ]);
    assert!(remove.status.success(), "{}", text(&remove.stderr));
    let again = synod(&[
        "cluster",
        "add",
        "--id",
        &successor.to_string(),
        "--peer",
        "127.0.0.1:1",
        "--timeout",
        "10s",
        &list(ports.2, Some(successor)),
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("retired"),
        "{}",
        text(&again.stderr)
    );
    let set = synod(&["set", "after", "removal", &list(ports.0, Some(successor))]);
    assert!(set.status.success(), "{}", text(&set.stderr));
    let get = synod(&["get", "after", &list(ports.0, Some(successor))]);
    assert_eq!(text(&get.stdout), "removal\n");
    stop(cluster);
    let _ = std::fs::remove_dir_all(&data);
    assert!(
        started.elapsed() < TEST_TIME_MAX,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn sim_availability_prints_a_row_per_scenario_and_refuses_an_unknown_one() {
    let output = synod(&[
        "sim",
        "--availability",
        "--scenario",
        "rejoin-after-partition",
        "--seeds",
        "4",
    ]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("| rejoin after partition | 4 |"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("sim --availability: 0 failing seeds\n"),
        "{stdout}"
    );

    let output = synod(&["sim", "--availability", "--scenario", "nowhere"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("unknown scenario \"nowhere\""));
}

/// `synod certs` writes a CA and a certificate per node that the nodes'
/// TLS accepts, names the cluster in them, and never replaces a file.
#[test]
fn certs_writes_a_ca_and_node_certificates_once() {
    let directory = std::env::temp_dir().join(format!("synod-certs-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    let out = directory.to_str().unwrap();
    let made = synod(&["certs", "--out", out, "--cluster-id", "77", "--nodes", "2"]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let listed = text(&made.stdout);
    for name in [
        "ca.pem",
        "ca-key.pem",
        "node-1.pem",
        "node-1-key.pem",
        "node-2-key.pem",
    ] {
        assert!(
            directory.join(name).exists(),
            "{name} missing; printed {listed}"
        );
    }
    assert!(listed.contains("node-1.cluster-77.synod"), "{listed}");
    for node in [1, 2] {
        let files = synod_server::tls::DevelopmentCertificates::files(
            &directory,
            synod_paxos::NodeId(node),
        );
        synod_server::tls::PeerTls::load(&files, 77).expect("the node's TLS takes the files");
    }
    let again = synod(&["certs", "--out", out, "--cluster-id", "77"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again.stderr).contains("exists already"),
        "{}",
        text(&again.stderr)
    );
    let zero = synod(&["certs", "--out", out, "--cluster-id", "77", "--nodes", "0"]);
    assert_eq!(zero.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&directory);
}

/// `synod up --tls` makes certificates once, serves clients over TLS only,
/// and finds its certificates again on the next start.
#[test]
fn up_with_tls_serves_clients_over_tls_and_keeps_its_certificates() {
    let data = std::env::temp_dir().join(format!("synod-cli-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let ports = (free_port_base(), free_port_base(), free_port_base());
    let ca = data.join("certs").join("ca.pem");
    let redis_cli = |arguments: &[&str]| {
        let output = Command::new("redis-cli")
            .args(["--tls", "--cacert", ca.to_str().unwrap()])
            .args(["-p", &ports.0.to_string()])
            .args(arguments)
            .output()
            .expect("redis-cli runs");
        text(&output.stdout).trim().to_string()
    };
    let first = up_with(&data, ports, 3, &["--tls"]);
    assert_eq!(redis_cli(&["SET", "tls-key", "kept"]), "OK");
    let ca_first = std::fs::read(&ca).unwrap();
    stop(first);

    let second = up_with(&data, ports, 3, &["--tls"]);
    assert_eq!(std::fs::read(&ca).unwrap(), ca_first, "the CA was replaced");
    assert_eq!(redis_cli(&["GET", "tls-key"]), "kept");
    stop(second);
    let _ = std::fs::remove_dir_all(&data);
}
