//! TLS for the peer and client listeners: rustls, with ring as the crypto
//! provider.
//!
//! # A member's identity
//!
//! A node's certificate names the node and its cluster as a DNS name among
//! its subject alternative names, `node-<id>.cluster-<cluster id>.synod`
//! ([`identity_name`]). Peer connections are mutual TLS, every certificate
//! verified against the cluster's CA, and each side checks the other's
//! identity:
//!
//! * the dialer asks for node Y's name as the server name, so a listener
//!   whose certificate does not name Y fails the handshake;
//! * the acceptor, after the handshake, checks that the dialer's
//!   certificate names the node the dialer claims in its hello
//!   ([`PeerTls::check_claim`]): node 2's certificate cannot claim to be
//!   node 3.
//!
//! A certificate of another cluster names other identities, so it is
//! refused as well, even when one CA signed both clusters.
//!
//! Client connections use the node's certificate as a server certificate
//! and ask clients for none ([`client_acceptor`]); who a client is, is a
//! matter for authentication, not for TLS.

mod certificates;
mod reload;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use synod_paxos::NodeId;
use tokio_rustls::{TlsAcceptor, TlsConnector};

pub use certificates::{
    generate_development_certificates, DevelopmentCertificates, NodeCertificate,
    CERTIFICATE_VALIDITY_YEARS,
};
pub use reload::{Reloadable, Reloaded, TlsReloader};

/// The domain under which node identities are named.
pub const IDENTITY_DOMAIN: &str = "synod";

/// The DNS name a node's certificate carries to say which node of which
/// cluster it is.
pub fn identity_name(cluster_id: u64, node: NodeId) -> String {
    format!("node-{}.cluster-{cluster_id}.{IDENTITY_DOMAIN}", node.0)
}

/// Why TLS could not be set up, or why a peer was refused.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A file holds nothing of what was expected.
    #[error("{path} holds no {what}")]
    Missing {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        what: &'static str,
    },
    /// rustls refused the certificates or the key.
    #[error("the TLS configuration is refused: {0}")]
    Refused(String),
    /// The peer completed the handshake without a certificate.
    #[error("the peer presented no certificate")]
    NoCertificate,
    /// The peer's (verified) certificate is another node's.
    #[error(
        "the peer's certificate does not name node {} of cluster {cluster_id}: {reason}",
        claimed.0
    )]
    WrongIdentity {
        /// The node the peer claims to be.
        claimed: NodeId,
        /// This node's cluster.
        cluster_id: u64,
        /// What the check found.
        reason: String,
    },
    /// Development certificates could not be made.
    #[error("cannot generate certificates: {0}")]
    Generate(String),
}

/// Where a node's TLS material lives, in PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The cluster's CA certificate(s): peers are verified against it.
    pub ca: PathBuf,
    /// This node's certificate, then any intermediates.
    pub certificate: PathBuf,
    /// This node's private key.
    pub key: PathBuf,
}

/// What [`TlsFiles`] hold, parsed.
struct Material {
    roots: RootCertStore,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TlsFiles {
    fn load(&self) -> Result<Material, TlsError> {
        let mut roots = RootCertStore::empty();
        for certificate in read_certificates(&self.ca)? {
            roots
                .add(certificate)
                .map_err(|error| TlsError::Refused(format!("{}: {error}", self.ca.display())))?;
        }
        let chain = read_certificates(&self.certificate)?;
        let key = read_key(&self.key)?;
        Ok(Material { roots, chain, key })
    }
}

/// Where the client listener's certificate and key live, in PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientTlsFiles {
    /// The certificate clients see (then any intermediates): it should
    /// name the host names and addresses clients connect to.
    pub certificate: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|error| match error {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::Missing {
            path: path.to_path_buf(),
            what: "private key",
        },
        error => TlsError::Read {
            path: path.to_path_buf(),
            source: std::io::Error::other(error.to_string()),
        },
    })
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read = |error: rustls::pki_types::pem::Error| TlsError::Read {
        path: path.to_path_buf(),
        source: std::io::Error::other(error.to_string()),
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(read)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    if certificates.is_empty() {
        return Err(TlsError::Missing {
            path: path.to_path_buf(),
            what: "certificate",
        });
    }
    Ok(certificates)
}

/// The one crypto provider: ring (see the workspace's Cargo.toml for why
/// not rustls's default). rustls 0.23.48 marks it deprecated because ring
/// has no post-quantum key exchange; the classical suites it offers are
/// the ones etcd and Redis negotiate today.
fn provider() -> Arc<CryptoProvider> {
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}

fn refused(error: impl std::fmt::Display) -> TlsError {
    TlsError::Refused(error.to_string())
}

/// Mutual TLS between the members of one cluster.
#[derive(Clone)]
pub struct PeerTls {
    cluster_id: u64,
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

impl PeerTls {
    /// Loads a node's files for cluster `cluster_id`.
    ///
    /// # Errors
    ///
    /// A file is missing, unreadable or refused by rustls.
    pub fn load(files: &TlsFiles, cluster_id: u64) -> Result<PeerTls, TlsError> {
        let Material { roots, chain, key } = files.load()?;
        let roots = Arc::new(roots);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
            .build()
            .map_err(refused)?;
        let server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(refused)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(refused)?;
        let client = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(refused)?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(refused)?;
        Ok(PeerTls {
            cluster_id,
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
        })
    }

    /// Accepts the TLS side of an incoming peer connection.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// Dials the TLS side of an outgoing peer connection; connect with
    /// [`PeerTls::server_name`] of the node dialed.
    pub fn connector(&self) -> &TlsConnector {
        &self.connector
    }

    /// The name node `node`'s certificate must carry.
    pub fn server_name(&self, node: NodeId) -> ServerName<'static> {
        ServerName::try_from(identity_name(self.cluster_id, node))
            .expect("an identity name is a valid DNS name")
    }

    /// Checks that the certificates a peer presented (already verified
    /// against the CA by the handshake) name the node it claims to be.
    ///
    /// # Errors
    ///
    /// [`TlsError::NoCertificate`] or [`TlsError::WrongIdentity`].
    pub fn check_claim(
        &self,
        certificates: Option<&[CertificateDer<'_>]>,
        claimed: NodeId,
    ) -> Result<(), TlsError> {
        let Some(end_entity) = certificates.and_then(|chain| chain.first()) else {
            return Err(TlsError::NoCertificate);
        };
        let wrong = |reason: String| TlsError::WrongIdentity {
            claimed,
            cluster_id: self.cluster_id,
            reason,
        };
        let certificate = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|error| wrong(format!("unparsable certificate: {error}")))?;
        certificate
            .verify_is_valid_for_subject_name(&self.server_name(claimed))
            .map_err(|error| wrong(format!("{error:?}")))
    }
}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PeerTls")
            .field("cluster_id", &self.cluster_id)
            .finish_non_exhaustive()
    }
}

/// TLS for the client listener: the node's certificate, no client
/// certificate asked for.
///
/// # Errors
///
/// A file is missing, unreadable or refused by rustls.
pub fn client_acceptor(files: &ClientTlsFiles) -> Result<TlsAcceptor, TlsError> {
    let chain = read_certificates(&files.certificate)?;
    let key = read_key(&files.key)?;
    let server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(refused)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(refused)?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

#[cfg(test)]
mod tests;
