//! TLS on real processes.
//!
//! Between members (mutual TLS): a cluster that speaks it serves clients; a
//! process without a certificate of the cluster's CA cannot complete a peer
//! handshake; a process holding node 2's certificate cannot claim to be
//! node 3; each refusal is logged with its reason by the node that refused.
//!
//! With clients: `redis-cli --tls --cacert …` and redis-py with `ssl=True`
//! work, and a client that does not speak TLS gets nothing.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{free_address, synod, text, wait_until, Cluster};

/// How long a refusal may take to show in the refusing node's log.
const REFUSAL_WAIT: Duration = Duration::from_secs(15);
/// How long a client that never starts its TLS handshake may wait to be
/// closed: the node's limit (10 s) and some slack.
const STALLED_HANDSHAKE_WAIT: Duration = Duration::from_secs(20);

/// A `synod server` that is not a member: it dials the cluster's nodes as
/// node `id` with the TLS files given. Killed when dropped.
struct Intruder(Child);

impl Intruder {
    fn start(cluster: &Cluster, id: u64, tls: Vec<String>, name: &str) -> Intruder {
        let peers = cluster
            .nodes
            .iter()
            .map(|node| {
                // Its own peer address stands in for the node it pretends
                // to be; the members' addresses are the real ones.
                let address = if node.id == id {
                    free_address()
                } else {
                    node.peer
                };
                format!("{}={address}", node.id)
            })
            .collect::<Vec<_>>()
            .join(",");
        let own_peer = peers
            .split(',')
            .find_map(|entry| entry.strip_prefix(&format!("{id}=")))
            .unwrap()
            .to_string();
        let log = std::fs::File::create(cluster.directory.join(format!("{name}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_synod"))
            .arg("server")
            .args(tls)
            .args(["--id", &id.to_string()])
            .args(["--client", &free_address().to_string()])
            .args(["--peer", &own_peer])
            .args(["--admin", &free_address().to_string()])
            .args(["--peers", &peers])
            .args(["--cluster-id", &cluster.cluster_id.to_string()])
            .arg("--data")
            .arg(cluster.directory.join(name))
            .arg("--new-cluster")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("the intruder starts");
        Intruder(child)
    }
}

impl Drop for Intruder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn members_speak_mutual_tls_and_strangers_and_impostors_are_refused_with_the_reason() {
    let cluster = Cluster::start_with_peer_tls(3);
    let certificates = cluster.peer_tls.clone().unwrap();

    // The members replicate over TLS: a write through one node is read
    // through another.
    let _: () = redis::cmd("SET")
        .arg("over-tls")
        .arg("yes")
        .query(&mut cluster.redis(0))
        .unwrap();
    let read: String = redis::cmd("GET")
        .arg("over-tls")
        .query(&mut cluster.redis(2))
        .unwrap();
    assert_eq!(read, "yes");
    let node_one_log = cluster.nodes[0].log.clone();
    assert!(
        !log_of(&node_one_log).contains("refused a peer"),
        "members were refused: {}",
        log_of(&node_one_log)
    );

    // A stranger: certificates of another CA, for the same cluster id and
    // node ids.
    let strangers_ca = cluster.directory.join("stranger-certs");
    let made = synod(&[
        "certs",
        "--out",
        strangers_ca.to_str().unwrap(),
        "--cluster-id",
        &cluster.cluster_id.to_string(),
    ]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    // It trusts the cluster's CA, so that the refusal is the member's
    // verdict on its certificate, not its own on the member's.
    let mut stranger_files = Cluster::peer_tls_arguments(&strangers_ca, 3);
    stranger_files[1] = certificates.join("ca.pem").to_str().unwrap().to_string();
    let stranger = Intruder::start(&cluster, 3, stranger_files, "stranger");
    wait_until(
        REFUSAL_WAIT,
        "node 1 to refuse the stranger's TLS handshake",
        || {
            log_of(&node_one_log).lines().any(|line| {
                line.contains("refused a peer TLS handshake")
                    && line.contains("invalid peer certificate")
            })
        },
    );
    drop(stranger);

    // An impostor: node 2's own certificate and key, claiming to be node 3.
    let impostor = Intruder::start(
        &cluster,
        3,
        Cluster::peer_tls_arguments(&certificates, 2),
        "impostor",
    );
    wait_until(
        REFUSAL_WAIT,
        "node 1 to refuse node 2's certificate claiming node 3",
        || {
            log_of(&node_one_log).lines().any(|line| {
                line.contains("refused a peer's claim")
                    && line.contains("claimed_node=3")
                    && line.contains("does not name node 3")
            })
        },
    );
    // The impostor is told why.
    let impostor_log = cluster.directory.join("impostor.log");
    wait_until(REFUSAL_WAIT, "the impostor to log its refusal", || {
        log_of(&impostor_log).contains("certificate does not name the node it claims")
    });
    drop(impostor);

    for line in log_of(&node_one_log)
        .lines()
        .filter(|line| line.contains("refused a peer"))
        .take(2)
    {
        eprintln!("node 1: {line}");
    }

    // The members still serve.
    let _: () = redis::cmd("SET")
        .arg("after")
        .arg("intruders")
        .query(&mut cluster.redis(1))
        .unwrap();
    let read: String = redis::cmd("GET")
        .arg("after")
        .query(&mut cluster.redis(0))
        .unwrap();
    assert_eq!(read, "intruders");
}

/// `redis-cli` with TLS, verifying the node against the cluster's CA.
fn redis_cli_tls(ca: &Path, port: u16, arguments: &[&str]) -> Output {
    Command::new("redis-cli")
        .args(["--tls", "--cacert", ca.to_str().unwrap()])
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(arguments)
        .output()
        .expect("redis-cli runs (Debian's redis-tools)")
}

#[test]
fn clients_speak_tls_with_redis_cli_and_redis_py() {
    let cluster = Cluster::start_with_peer_and_client_tls(3);
    let ca = cluster.peer_tls.clone().unwrap().join("ca.pem");
    let port = |index: usize| cluster.nodes[index].client.port();

    let set = redis_cli_tls(&ca, port(0), &["SET", "over-client-tls", "yes"]);
    assert_eq!(text(&set.stdout).trim(), "OK", "{}", text(&set.stderr));
    let get = redis_cli_tls(&ca, port(2), &["GET", "over-client-tls"]);
    assert_eq!(text(&get.stdout).trim(), "yes", "{}", text(&get.stderr));

    // A connection that opens and never starts its handshake is closed
    // once the handshake time limit (10 s) has passed, and counted.
    let mut stalled = std::net::TcpStream::connect(cluster.nodes[1].client).unwrap();
    stalled
        .set_read_timeout(Some(STALLED_HANDSHAKE_WAIT))
        .unwrap();
    let opened = std::time::Instant::now();
    let mut byte = [0u8; 1];
    let closed = std::io::Read::read(&mut stalled, &mut byte);
    assert!(
        matches!(closed, Ok(0))
            || closed
                .as_ref()
                .is_err_and(|error| error.kind() == std::io::ErrorKind::ConnectionReset),
        "the stalled connection was not closed: {closed:?} after {:?}",
        opened.elapsed()
    );
    eprintln!(
        "a stalled TLS handshake was closed after {:?}",
        opened.elapsed()
    );
    wait_until(REFUSAL_WAIT, "the failed handshake to be counted", || {
        common::http_get(cluster.nodes[1].admin, "/metrics")
            .map(|(_, body)| body.contains("\nsynod_client_tls_handshakes_failed_total 1\n"))
            .unwrap_or(false)
    });

    // Without TLS the node answers nothing a plain client can read.
    let plain = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port(1).to_string(), "PING"])
        .output()
        .unwrap();
    assert!(
        !text(&plain.stdout).contains("PONG"),
        "{}",
        text(&plain.stdout)
    );

    let python = std::env::var("SYNOD_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = format!(
        "import redis\n\
         r = redis.Redis(host='127.0.0.1', port={}, ssl=True, ssl_ca_certs={:?})\n\
         r.set('from-redis-py', 'tls')\n\
         print(r.get('from-redis-py').decode())\n",
        port(1),
        ca.to_str().unwrap()
    );
    match Command::new(&python).args(["-c", &script]).output() {
        Ok(output) if text(&output.stderr).contains("No module named 'redis'") => {
            assert!(
                std::env::var("SYNOD_REQUIRE_CLIENT_LIBRARIES").as_deref() != Ok("1"),
                "SYNOD_REQUIRE_CLIENT_LIBRARIES=1 but {python} has no redis-py"
            );
            eprintln!("no redis-py for {python}: its TLS check is skipped");
        }
        Ok(output) => {
            assert!(output.status.success(), "{}", text(&output.stderr));
            assert_eq!(text(&output.stdout).trim(), "tls");
        }
        Err(error) => panic!("cannot run {python}: {error}"),
    }
}

/// Whether the node answers `PING` over TLS to a client that trusts `ca`.
fn answers_over_tls(ca: &Path, port: u16) -> bool {
    text(&redis_cli_tls(ca, port, &["PING"]).stdout).trim() == "PONG"
}

#[test]
fn certificates_reload_on_sighup_and_a_file_that_does_not_load_changes_nothing() {
    let cluster = Cluster::start_with_peer_and_client_tls(1);
    let certificates = cluster.peer_tls.clone().unwrap();
    let (old_ca, port) = (certificates.join("ca.pem"), cluster.nodes[0].client.port());
    // Certificates of another CA, which the node will be given in place of
    // its own.
    let renewed = cluster.directory.join("renewed");
    let made = synod(&[
        "certs",
        "--out",
        renewed.to_str().unwrap(),
        "--cluster-id",
        &cluster.cluster_id.to_string(),
        "--nodes",
        "1",
    ]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let new_ca = renewed.join("ca.pem");
    assert!(answers_over_tls(&old_ca, port));
    assert!(!answers_over_tls(&new_ca, port));

    let log = cluster.nodes[0].log.clone();
    let hang_up = || {
        let sent = Command::new("kill")
            .args(["-HUP", &cluster.pid(0).to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    let logged = |line: &str, count: usize| {
        wait_until(REFUSAL_WAIT, line, || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .matches(line)
                .count()
                >= count
        });
    };
    for name in ["node-1.pem", "node-1-key.pem"] {
        std::fs::copy(renewed.join(name), certificates.join(name)).unwrap();
    }
    hang_up();
    logged("reloaded the TLS certificates", 1);
    assert!(
        answers_over_tls(&new_ca, port),
        "the renewed certificate is served"
    );
    assert!(!answers_over_tls(&old_ca, port));

    // A half-written renewal: the reload is refused, the node keeps serving
    // the certificate it had.
    std::fs::write(
        certificates.join("node-1.pem"),
        "-----BEGIN CERTIFICATE-----\n",
    )
    .unwrap();
    hang_up();
    logged("the TLS files did not load", 1);
    assert!(answers_over_tls(&new_ca, port));
}
