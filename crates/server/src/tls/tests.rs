//! Real TLS handshakes over loopback between nodes holding development
//! certificates.

use std::path::PathBuf;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

const CLUSTER: u64 = 4242;

/// A fresh directory for one test's files.
fn directory(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("synod-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    path
}

/// Development certificates for nodes 1-3 of `cluster`, written to `path`.
fn cluster_files(path: &Path, cluster: u64) {
    let nodes = [NodeId(1), NodeId(2), NodeId(3)];
    generate_development_certificates(cluster, &nodes, &["127.0.0.1".to_string()])
        .unwrap()
        .write_to(path)
        .unwrap();
}

fn peer(path: &Path, cluster: u64, node: u64) -> PeerTls {
    PeerTls::load(&DevelopmentCertificates::files(path, NodeId(node)), cluster).unwrap()
}

/// What each side of one handshake saw.
struct Handshake {
    /// The acceptor's outcome: the certificates the dialer presented.
    accepted: Result<Option<Vec<CertificateDer<'static>>>, String>,
    /// The dialer's outcome, after a round trip through the connection.
    dialed: Result<(), String>,
}

/// `dialer` dials `acceptor`, asking for `dialed`'s name.
async fn handshake(acceptor: &PeerTls, dialer: TlsConnector, dialed: NodeId) -> Handshake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let tls_acceptor = acceptor.acceptor().clone();
    let accepting = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        match tls_acceptor.accept(stream).await {
            Ok(mut stream) => {
                let certificates = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .map(|chain| chain.iter().map(|c| c.clone().into_owned()).collect());
                let mut byte = [0u8; 1];
                if stream.read_exact(&mut byte).await.is_ok() {
                    let _ = stream.write_all(&byte).await;
                    let _ = stream.flush().await;
                }
                Ok(certificates)
            }
            Err(error) => Err(error.to_string()),
        }
    });
    let stream = TcpStream::connect(address).await.unwrap();
    let dialed = async {
        let mut stream = dialer
            .connect(acceptor.server_name(dialed), stream)
            .await
            .map_err(|error| error.to_string())?;
        stream
            .write_all(b"x")
            .await
            .map_err(|error| error.to_string())?;
        let mut byte = [0u8; 1];
        stream
            .read_exact(&mut byte)
            .await
            .map_err(|error| error.to_string())?;
        Ok(())
    }
    .await;
    Handshake {
        accepted: accepting.await.unwrap(),
        dialed,
    }
}

#[tokio::test]
async fn members_complete_the_handshake_and_their_claims_check() {
    let path = directory("members");
    cluster_files(&path, CLUSTER);
    let (one, two) = (peer(&path, CLUSTER, 1), peer(&path, CLUSTER, 2));
    let outcome = handshake(&two, one.connector().clone(), NodeId(2)).await;
    assert_eq!(outcome.dialed, Ok(()));
    let certificates = outcome.accepted.expect("node 2 accepts node 1");
    two.check_claim(certificates.as_deref(), NodeId(1))
        .expect("node 1's certificate names node 1");
}

#[tokio::test]
async fn a_certificate_from_another_ca_cannot_complete_a_peer_handshake() {
    let (ours, theirs) = (directory("ca-ours"), directory("ca-theirs"));
    cluster_files(&ours, CLUSTER);
    // Another CA, issuing for the same cluster id and node ids.
    cluster_files(&theirs, CLUSTER);
    let two = peer(&ours, CLUSTER, 2);
    // The stranger trusts our CA, so that its side of the handshake goes
    // through and node 2's check is what refuses it.
    let stranger_files = TlsFiles {
        ca: ours.join("ca.pem"),
        ..DevelopmentCertificates::files(&theirs, NodeId(1))
    };
    let stranger = PeerTls::load(&stranger_files, CLUSTER).unwrap();
    let outcome = handshake(&two, stranger.connector().clone(), NodeId(2)).await;
    let refusal = outcome.accepted.expect_err("node 2 refuses a stranger");
    assert!(refusal.contains("invalid peer certificate"), "{refusal}");
    assert!(outcome.dialed.is_err());
    // A stranger that trusts only its own CA refuses node 2 as well.
    let own_ca_only = peer(&theirs, CLUSTER, 1);
    let outcome = handshake(&two, own_ca_only.connector().clone(), NodeId(2)).await;
    let refusal = outcome.dialed.expect_err("the stranger refuses node 2");
    assert!(refusal.contains("invalid peer certificate"), "{refusal}");
}

#[tokio::test]
async fn a_dialer_without_a_certificate_cannot_complete_a_peer_handshake() {
    let path = directory("anonymous");
    cluster_files(&path, CLUSTER);
    let two = peer(&path, CLUSTER, 2);
    let mut roots = RootCertStore::empty();
    for certificate in read_certificates(&path.join("ca.pem")).unwrap() {
        roots.add(certificate).unwrap();
    }
    let anonymous = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let outcome = handshake(&two, TlsConnector::from(Arc::new(anonymous)), NodeId(2)).await;
    let refusal = outcome
        .accepted
        .expect_err("node 2 refuses a dialer without a certificate");
    assert!(refusal.contains("certificate"), "{refusal}");
    assert!(outcome.dialed.is_err());
}

#[tokio::test]
async fn node_twos_certificate_cannot_claim_to_be_node_three() {
    let path = directory("impostor");
    cluster_files(&path, CLUSTER);
    let (one, two) = (peer(&path, CLUSTER, 1), peer(&path, CLUSTER, 2));
    let outcome = handshake(&one, two.connector().clone(), NodeId(1)).await;
    let certificates = outcome
        .accepted
        .expect("a member's certificate passes the CA check");
    let refusal = one
        .check_claim(certificates.as_deref(), NodeId(3))
        .expect_err("node 2 claiming node 3 is refused");
    assert!(matches!(
        refusal,
        TlsError::WrongIdentity {
            claimed: NodeId(3),
            ..
        }
    ));
    assert!(
        refusal.to_string().contains("node 3 of cluster 4242"),
        "{refusal}"
    );
    one.check_claim(certificates.as_deref(), NodeId(2))
        .expect("node 2 claiming node 2 is accepted");
    assert!(matches!(
        one.check_claim(None, NodeId(2)),
        Err(TlsError::NoCertificate)
    ));
}

#[tokio::test]
async fn a_dialer_refuses_a_listener_that_is_not_the_node_it_dialed() {
    let path = directory("wrong-listener");
    cluster_files(&path, CLUSTER);
    let (one, two) = (peer(&path, CLUSTER, 1), peer(&path, CLUSTER, 2));
    // Node 1 means to reach node 3, but node 2 answers.
    let outcome = handshake(&two, one.connector().clone(), NodeId(3)).await;
    let refusal = outcome
        .dialed
        .expect_err("node 1 refuses node 2 posing as node 3");
    assert!(refusal.contains("not valid for name"), "{refusal}");
}

#[tokio::test]
async fn a_certificate_of_another_cluster_does_not_name_a_member() {
    let path = directory("other-cluster");
    cluster_files(&path, CLUSTER + 1);
    let other = peer(&path, CLUSTER + 1, 1);
    // The same files, loaded for our cluster: the names do not match.
    let ours = peer(&path, CLUSTER, 2);
    let outcome = handshake(&ours, other.connector().clone(), NodeId(2)).await;
    // The dialer (of the other cluster) asked for node 2 of our cluster.
    assert!(outcome.dialed.is_err());
}

#[test]
fn development_certificates_are_written_once_with_keys_for_the_owner_only() {
    let path = directory("written");
    cluster_files(&path, CLUSTER);
    for name in ["ca.pem", "node-1.pem", "node-3.pem"] {
        assert!(path.join(name).exists(), "{name}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in ["ca-key.pem", "node-2-key.pem"] {
            let mode = std::fs::metadata(path.join(key))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{key}");
        }
    }
    let again = generate_development_certificates(CLUSTER, &[NodeId(1)], &[])
        .unwrap()
        .write_to(&path);
    assert!(
        matches!(again, Err(TlsError::Write { ref source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists),
        "{again:?}"
    );
    let missing = PeerTls::load(&DevelopmentCertificates::files(&path, NodeId(9)), CLUSTER);
    assert!(matches!(missing, Err(TlsError::Read { .. })));
    let _ = std::fs::remove_dir_all(&path);
}
