//! `synod certs`: a development CA and one certificate per node, with the
//! names the nodes' TLS checks expect (see `synod_server::tls`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use synod_paxos::NodeId;
use synod_server::tls::{generate_development_certificates, identity_name};

/// Nodes `synod certs` makes certificates for unless told.
const NODES_DEFAULT: u64 = 3;

/// Arguments of `synod certs`.
#[derive(Args, Debug)]
pub struct CertsArguments {
    /// The directory to write into (created if missing). Existing files are
    /// never replaced.
    #[arg(long, default_value = "synod-certs")]
    out: PathBuf,
    /// The cluster id the nodes are started with (`--cluster-id`): the
    /// certificates name it, so they serve that cluster only.
    #[arg(long)]
    cluster_id: u64,
    /// Make certificates for nodes 1 to this.
    #[arg(long, default_value_t = NODES_DEFAULT)]
    nodes: u64,
    /// Host names and IP addresses the nodes are reached by, comma
    /// separated; each certificate names all of them.
    #[arg(long, default_value = "localhost,127.0.0.1", value_delimiter = ',')]
    hosts: Vec<String>,
}

/// Runs `synod certs`. Exit status 2 on bad arguments or a file that
/// cannot be written.
pub fn run(arguments: CertsArguments) -> ExitCode {
    if arguments.nodes == 0 {
        eprintln!("error: --nodes must be at least 1");
        return ExitCode::from(2);
    }
    let nodes: Vec<NodeId> = (1..=arguments.nodes).map(NodeId).collect();
    let hosts: Vec<String> = arguments
        .hosts
        .iter()
        .map(|host| host.trim().to_string())
        .filter(|host| !host.is_empty())
        .collect();
    let written = generate_development_certificates(arguments.cluster_id, &nodes, &hosts)
        .and_then(|certificates| certificates.write_to(&arguments.out));
    match written {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            println!(
                "node certificates name {} … {} and {}",
                identity_name(arguments.cluster_id, NodeId(1)),
                identity_name(arguments.cluster_id, NodeId(arguments.nodes)),
                hosts.join(", ")
            );
            println!(
                "ca-key.pem can make members of this cluster: keep it out of the nodes' hosts"
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
