//! `synod get|set|del|exists`: one call through synod-client.
//!
//! Exit status: 0 done; 1 nothing found or stored (`get` of a missing key,
//! `set --nx`/`--xx` whose condition did not hold); 2 an error, with no
//! effect; 3 a write whose outcome is unknown (it may or may not have been
//! applied: read the key to find out).

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use synod_client::{Client, ClientOptions, Error};

/// Where the client connects.
#[derive(Args, Debug)]
pub struct Endpoints {
    /// Client addresses of some or all nodes, comma separated.
    #[arg(
        long,
        global = true,
        default_value = "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"
    )]
    endpoints: String,
    /// The user to authenticate as (`AUTH user password`); the default
    /// user when only a password is given.
    #[arg(long, global = true, requires = "password")]
    user: Option<String>,
    /// The password to authenticate with, when the cluster needs one.
    /// Better given in the environment than on the command line, where
    /// other users of the machine can see it.
    #[arg(long, global = true, env = "SYNOD_PASSWORD", hide_env_values = true)]
    password: Option<String>,
}

/// One key-value call.
#[derive(Subcommand, Debug)]
pub enum KvCommand {
    /// Print the value of a key (exit status 1 when it does not exist).
    Get {
        /// The key.
        key: String,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Store a value under a key.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Only when the key does not exist.
        #[arg(long, conflicts_with = "xx")]
        nx: bool,
        /// Only when the key exists.
        #[arg(long)]
        xx: bool,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Delete keys and print how many existed.
    Del {
        /// The keys.
        #[arg(required = true)]
        keys: Vec<String>,
        #[command(flatten)]
        endpoints: Endpoints,
    },
    /// Print how many of the keys exist.
    Exists {
        /// The keys.
        #[arg(required = true)]
        keys: Vec<String>,
        #[command(flatten)]
        endpoints: Endpoints,
    },
}

/// What a call printed and how it ends.
enum Outcome {
    Printed,
    NothingFound,
}

/// Runs one key-value call.
pub fn run(command: KvCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(failure) => {
            eprintln!("synod: cannot start the runtime: {failure}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(call(command)) {
        Ok(Outcome::Printed) => ExitCode::SUCCESS,
        Ok(Outcome::NothingFound) => ExitCode::from(1),
        Err(failure @ Error::OutcomeUnknown { .. }) => {
            eprintln!("synod: {failure}");
            ExitCode::from(3)
        }
        Err(failure) => {
            eprintln!("synod: {failure}");
            ExitCode::from(2)
        }
    }
}

async fn call(command: KvCommand) -> Result<Outcome, Error> {
    let (endpoints, credentials) = match &command {
        KvCommand::Get { endpoints, .. }
        | KvCommand::Set { endpoints, .. }
        | KvCommand::Del { endpoints, .. }
        | KvCommand::Exists { endpoints, .. } => (
            endpoints.endpoints.clone(),
            endpoints
                .password
                .clone()
                .map(|password| synod_client::Credentials {
                    username: endpoints.user.clone(),
                    password,
                }),
        ),
    };
    let endpoints: Vec<String> = endpoints
        .split(',')
        .map(str::trim)
        .filter(|endpoint| !endpoint.is_empty())
        .map(str::to_string)
        .collect();
    let options = ClientOptions {
        credentials,
        ..ClientOptions::default()
    };
    let client = Client::connect(endpoints, options).await?;
    let mut stdout = std::io::stdout().lock();
    let outcome = match command {
        KvCommand::Get { key, .. } => match client.get(key).await? {
            Some(value) => {
                let _ = stdout.write_all(&value);
                let _ = stdout.write_all(b"\n");
                Outcome::Printed
            }
            None => Outcome::NothingFound,
        },
        KvCommand::Set {
            key, value, nx, xx, ..
        } => {
            let stored = match (nx, xx) {
                (true, _) => client.set_if_absent(key, value).await?,
                (_, true) => client.set_if_present(key, value).await?,
                _ => {
                    client.set(key, value).await?;
                    true
                }
            };
            let _ = writeln!(stdout, "{}", if stored { "OK" } else { "not stored" });
            if stored {
                Outcome::Printed
            } else {
                Outcome::NothingFound
            }
        }
        KvCommand::Del { keys, .. } => {
            let _ = writeln!(stdout, "{}", client.del(keys).await?);
            Outcome::Printed
        }
        KvCommand::Exists { keys, .. } => {
            let _ = writeln!(stdout, "{}", client.exists(keys).await?);
            Outcome::Printed
        }
    };
    Ok(outcome)
}
