//! Mutual TLS between members, on real processes: a cluster that speaks
//! it serves clients; a process without a certificate of the cluster's CA
//! cannot complete a peer handshake; a process holding node 2's
//! certificate cannot claim to be node 3; each refusal is logged with its
//! reason by the node that refused.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{free_address, synod, text, wait_until, Cluster};

/// How long a refusal may take to show in the refusing node's log.
const REFUSAL_WAIT: Duration = Duration::from_secs(15);

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
