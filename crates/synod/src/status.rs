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
    println!(
        "{:<6} {:<22} {:<10} {:<7} {:>10} {:>10} {:>6}",
        "NODE", "ADMIN", "ROLE", "LEADER", "COMMIT", "APPLIED", "LAG"
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
                println!(
                    "{:<6} {:<22} {:<10} {:<7} {:>10} {:>10} {:>6}",
                    id,
                    endpoint,
                    text(&status["role"]),
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
    if unreachable {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The parsed `/status` of one node.
pub fn fetch(endpoint: &str) -> Result<Value, String> {
    let (code, body) = admin::get(endpoint, "/status").map_err(|failure| failure.to_string())?;
    if code != 200 {
        return Err(format!("HTTP {code}"));
    }
    serde_json::from_str(&body).map_err(|failure| failure.to_string())
}
