//! Development certificates: a CA and one certificate per node, so that a
//! cluster with TLS is one command away (`synod certs`). An operator's own
//! CA can issue the same: what matters is the identity name of each node
//! ([`super::identity_name`]) among its subject alternative names, and the
//! two extended key usages (a peer is a TLS server and a TLS client).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use synod_paxos::NodeId;

use super::{identity_name, TlsError, TlsFiles};

/// Development certificates are valid until the first of January this many
/// years ahead.
pub const CERTIFICATE_VALIDITY_YEARS: i32 = 2;

/// Seconds in a mean Gregorian year: enough to know the current year.
const SECONDS_PER_YEAR: u64 = 31_556_952;

/// One node's certificate and key, in PEM.
#[derive(Clone, Debug)]
pub struct NodeCertificate {
    /// The node it names.
    pub node: NodeId,
    /// Its certificate.
    pub certificate_pem: String,
    /// Its private key.
    pub key_pem: String,
}

/// A development CA and the certificates it issued.
#[derive(Clone, Debug)]
pub struct DevelopmentCertificates {
    /// The CA's certificate: every node trusts it.
    pub ca_certificate_pem: String,
    /// The CA's key, kept to issue more later. Whoever holds it can make
    /// members of the cluster.
    pub ca_key_pem: String,
    /// One per node.
    pub nodes: Vec<NodeCertificate>,
}

fn generation_error(error: rcgen::Error) -> TlsError {
    TlsError::Generate(error.to_string())
}

/// Makes a CA for cluster `cluster_id` and a certificate for each of
/// `nodes`, naming the node's identity and every one of `hosts` (DNS names
/// or IP addresses clients and peers reach the nodes by).
///
/// # Errors
///
/// [`TlsError::Generate`] when a host is not a valid DNS name or address.
pub fn generate_development_certificates(
    cluster_id: u64,
    nodes: &[NodeId],
    hosts: &[String],
) -> Result<DevelopmentCertificates, TlsError> {
    let not_after = date_time_ymd(current_year() + CERTIFICATE_VALIDITY_YEARS, 1, 1);
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(generation_error)?;
    ca_params.distinguished_name.push(
        DnType::CommonName,
        format!("synod development CA, cluster {cluster_id}"),
    );
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_after = not_after;
    let ca_key = KeyPair::generate().map_err(generation_error)?;
    let ca_key_pem = ca_key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(generation_error)?;
    let mut issued = Vec::with_capacity(nodes.len());
    for &node in nodes {
        let identity = identity_name(cluster_id, node);
        let mut names = vec![identity.clone()];
        names.extend(hosts.iter().cloned());
        let mut params = CertificateParams::new(names).map_err(generation_error)?;
        params.distinguished_name.push(DnType::CommonName, identity);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.not_after = not_after;
        let key = KeyPair::generate().map_err(generation_error)?;
        let certificate = params.signed_by(&key, &ca).map_err(generation_error)?;
        issued.push(NodeCertificate {
            node,
            certificate_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
        });
    }
    Ok(DevelopmentCertificates {
        ca_certificate_pem: ca.pem(),
        ca_key_pem,
        nodes: issued,
    })
}

fn current_year() -> i32 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    1970 + i32::try_from(seconds / SECONDS_PER_YEAR).unwrap_or(0)
}

impl DevelopmentCertificates {
    /// The files [`DevelopmentCertificates::write_to`] writes for `node`.
    pub fn files(directory: &Path, node: NodeId) -> TlsFiles {
        TlsFiles {
            ca: directory.join("ca.pem"),
            certificate: directory.join(format!("node-{}.pem", node.0)),
            key: directory.join(format!("node-{}-key.pem", node.0)),
        }
    }

    /// Writes `ca.pem`, `ca-key.pem`, and `node-<id>.pem` with
    /// `node-<id>-key.pem` for each node into `directory` (created if
    /// missing). Keys are readable by their owner only. Refuses to replace
    /// a file that exists: a CA replaced by mistake splits a cluster.
    ///
    /// # Errors
    ///
    /// A file exists already or cannot be written.
    pub fn write_to(&self, directory: &Path) -> Result<Vec<PathBuf>, TlsError> {
        let mut files: Vec<(PathBuf, &str, bool)> = vec![
            (directory.join("ca.pem"), &self.ca_certificate_pem, false),
            (directory.join("ca-key.pem"), &self.ca_key_pem, true),
        ];
        for node in &self.nodes {
            let paths = DevelopmentCertificates::files(directory, node.node);
            files.push((paths.certificate, &node.certificate_pem, false));
            files.push((paths.key, &node.key_pem, true));
        }
        let failed = |path: &Path, source: std::io::Error| TlsError::Write {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(directory).map_err(|error| failed(directory, error))?;
        if let Some((path, _, _)) = files.iter().find(|(path, _, _)| path.exists()) {
            return Err(failed(
                path,
                std::io::Error::new(std::io::ErrorKind::AlreadyExists, "exists already"),
            ));
        }
        for (path, contents, secret) in &files {
            write_new(path, contents, *secret).map_err(|error| failed(path, error))?;
        }
        Ok(files.into_iter().map(|(path, _, _)| path).collect())
    }
}

fn write_new(path: &Path, contents: &str, secret: bool) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}
