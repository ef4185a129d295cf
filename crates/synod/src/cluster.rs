//! `synod cluster`: change a running cluster's membership through the
//! admin API of its leader (see `synod_client::membership`).
//!
//! ```text
//! synod cluster add --id 4 --peer 127.0.0.1:7104 --endpoints 127.0.0.1:8001,127.0.0.1:8002
//! synod server --id 4 --join 127.0.0.1:8001 --client … --peer 127.0.0.1:7104 --admin … --data …
//! synod cluster remove --id 1 --endpoints …
//! synod cluster transfer-leader --to 2 --endpoints …
//! ```
//!
//! `add` adds the node as a learner, then waits for it to catch up (start
//! it meanwhile) and promotes it to voter; `--learner` stops at the first
//! step. Every command is idempotent: rerun it after a timeout.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use synod_client::membership::{Membership, MembershipError};

/// How long a command waits for its change by default: a new node may
/// have a whole snapshot to receive before it can be promoted.
pub const CLUSTER_TIMEOUT_DEFAULT: &str = "120s";

/// `synod cluster …`.
#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Add a node: as a learner, then as a voter once it has caught up.
    Add {
        /// The new node's id; never an id the cluster used before.
        #[arg(long)]
        id: u64,
        /// Where the other nodes reach its peer port (HOST:PORT).
        #[arg(long)]
        peer: String,
        /// Keep it a learner (receives the log, does not vote).
        #[arg(long)]
        learner: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Promote a learner to voter once it has caught up.
    Promote {
        /// The learner.
        #[arg(long)]
        id: u64,
        #[command(flatten)]
        common: Common,
    },
    /// Remove a node (the leader too: it hands over first). Its id is
    /// retired for good.
    Remove {
        /// The node.
        #[arg(long)]
        id: u64,
        #[command(flatten)]
        common: Common,
    },
    /// Hand leadership to a voter.
    TransferLeader {
        /// The voter to lead.
        #[arg(long)]
        to: u64,
        #[command(flatten)]
        common: Common,
    },
}

/// Settings every `cluster` command takes.
#[derive(Args, Debug)]
pub struct Common {
    /// Admin addresses of some of the cluster's nodes, comma separated.
    #[arg(long, default_value = "127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003")]
    endpoints: String,
    /// Give up after this long (e.g. 30s, 5m).
    #[arg(long, default_value = CLUSTER_TIMEOUT_DEFAULT, value_parser = humantime::parse_duration)]
    timeout: Duration,
}

impl Common {
    fn membership(&self) -> Membership {
        let endpoints = self
            .endpoints
            .split(',')
            .map(str::trim)
            .filter(|endpoint| !endpoint.is_empty())
            .map(String::from)
            .collect();
        Membership::new(endpoints, self.timeout)
    }
}

/// Runs `synod cluster …`. Exit status: 0 done, 1 refused or timed out.
pub fn run(command: ClusterCommand) -> ExitCode {
    let outcome = match &command {
        ClusterCommand::Add {
            id,
            peer,
            learner,
            common,
        } => add(&common.membership(), *id, peer, *learner),
        ClusterCommand::Promote { id, common } => {
            let membership = common.membership();
            membership
                .promote(*id)
                .map(|()| format!("node {id} is a voter"))
        }
        ClusterCommand::Remove { id, common } => common
            .membership()
            .remove(*id)
            .map(|()| format!("node {id} is removed; its id is retired")),
        ClusterCommand::TransferLeader { to, common } => common
            .membership()
            .transfer_leadership(*to)
            .map(|()| format!("node {to} leads")),
    };
    match outcome {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            eprintln!("synod cluster: {failure}");
            ExitCode::FAILURE
        }
    }
}

fn add(
    membership: &Membership,
    id: u64,
    peer: &str,
    learner: bool,
) -> Result<String, MembershipError> {
    membership.add_learner(id, peer)?;
    println!("node {id} is a learner at {peer}; start it with `synod server --id {id} --join ENDPOINT …`");
    if learner {
        return Ok(format!("node {id} stays a learner"));
    }
    println!("waiting for node {id} to catch up before promoting it");
    membership.promote(id)?;
    Ok(format!("node {id} is a voter"))
}
