//! `synod status`: one line per node from the admin endpoints' `/status`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use synod_client::admin;

/// Arguments of `synod status`.
#[derive(Args, Debug)]
pub struct StatusArguments {
    /// Admin addresses of the nodes, comma separated.
    #[arg(long, default_value = "127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003")]
    endpoints: String,
}

/// Runs `synod status`. Exit status 1 when a node is unreachable.
pub fn run(arguments: StatusArguments) -> ExitCode {
    let endpoints: Vec<&str> = arguments
        .endpoints
        .split(',')
        .map(str::trim)
        .filter(|endpoint| !endpoint.is_empty())
        .collect();
    let statuses: Vec<(&str, Result<Value, String>)> = endpoints
        .iter()
        .map(|endpoint| (*endpoint, fetch(endpoint)))
        .collect();
    // Replication lag is known to the leader only.
    let lag_by_node: BTreeMap<u64, u64> = statuses
        .iter()
        .filter_map(|(_, status)| status.as_ref().ok())
        .filter(|status| status["role"] == "leader")
        .flat_map(|status| status["members"].as_array().cloned().unwrap_or_default())
        .filter_map(|member| Some((member["id"].as_u64()?, member["lag"].as_u64()?)))
        .collect();
    // Each node's membership as the newest configuration any node reports.
    let newest = statuses
        .iter()
        .filter_map(|(_, status)| status.as_ref().ok())
        .max_by_key(|status| {
            status["configuration"]["epoch"]
                .as_u64()
                .unwrap_or_default()
        });
    let member_role: BTreeMap<u64, String> = newest
        .map(|status| {
            let configuration = &status["configuration"];
            let listed = |field: &str, role: &str| -> Vec<(u64, String)> {
                configuration[field]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|id| Some((id.as_u64()?, role.to_string())))
                    .collect()
            };
            let mut roles: BTreeMap<u64, String> = BTreeMap::new();
            roles.extend(listed("voters", "voter"));
            roles.extend(listed("learners", "learner"));
            roles
        })
        .unwrap_or_default();
    println!(
        "{:<6} {:<22} {:<10} {:<8} {:<7} {:>10} {:>10} {:>6}",
        "NODE", "ADMIN", "ROLE", "MEMBER", "LEADER", "COMMIT", "APPLIED", "LAG"
    );
    let mut unreachable = false;
    for (endpoint, status) in &statuses {
        match status {
            Ok(status) => {
                let id = status["id"].as_u64().unwrap_or_default();
                let text = |value: &Value| match value {
                    Value::Null => "-".to_string(),
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                let lag = lag_by_node
                    .get(&id)
                    .map_or_else(|| "-".to_string(), u64::to_string);
                let member = member_role.get(&id).map_or("none", String::as_str);
                println!(
                    "{:<6} {:<22} {:<10} {:<8} {:<7} {:>10} {:>10} {:>6}",
                    id,
                    endpoint,
                    text(&status["role"]),
                    member,
                    text(&status["leader"]),
                    text(&status["commit_index"]),
                    text(&status["applied_index"]),
                    lag
                );
            }
            Err(problem) => {
                unreachable = true;
                println!("{:<6} {:<22} unreachable: {problem}", "?", endpoint);
            }
        }
    }
    for status in statuses
        .iter()
        .filter_map(|(_, status)| status.as_ref().ok())
    {
        let transfer = &status["snapshot_transfer"];
        if let (Some(received), Some(total)) = (
            transfer["received_bytes"].as_u64(),
            transfer["total_bytes"].as_u64(),
        ) {
            println!(
                "node {} receives a snapshot up to slot {} from node {}: {} of {} bytes ({:.0} %)",
                status["id"],
                transfer["end_slot"],
                transfer["source"],
                received,
                total,
                100.0 * received as f64 / total.max(1) as f64
            );
        }
    }
    if let Some(status) = newest {
        println!("configuration: {}", describe(&status["configuration"]));
        if !status["configuration_next"].is_null() {
            println!("next:          {}", describe(&status["configuration_next"]));
        }
    }
    if unreachable {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// One configuration of `/status` as text.
fn describe(configuration: &Value) -> String {
    let list = |field: &str| {
        configuration[field]
            .as_array()
            .into_iter()
            .flatten()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    format!(
        "epoch {} from slot {}: voters [{}] learners [{}]",
        configuration["epoch"],
        configuration["start_slot"],
        list("voters"),
        list("learners")
    )
}

/// The parsed `/status` of one node.
pub fn fetch(endpoint: &str) -> Result<Value, String> {
    let (code, body) = admin::get(endpoint, "/status").map_err(|failure| failure.to_string())?;
    if code != 200 {
        return Err(format!("HTTP {code}"));
    }
    serde_json::from_str(&body).map_err(|failure| failure.to_string())
}
