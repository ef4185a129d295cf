//! Where the client connects, and how hard it tries.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// The address of one synod node, `host:port`. Every node accepts every
/// command (a node that is not the leader forwards it), so the client may
/// talk to any of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint(String);

impl Endpoint {
    /// The address as given, resolved when the client connects.
    pub fn address(&self) -> &str {
        &self.0
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(address: SocketAddr) -> Endpoint {
        Endpoint(address.to_string())
    }
}

impl From<String> for Endpoint {
    fn from(address: String) -> Endpoint {
        Endpoint(address)
    }
}

impl From<&str> for Endpoint {
    fn from(address: &str) -> Endpoint {
        Endpoint(address.to_owned())
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The user a client authenticates as on every connection it opens
/// (`AUTH`). The password never shows in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user; `None` for the default user (Redis's `requirepass`).
    pub username: Option<String>,
    /// Its password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// How the client retries. Every call is bounded: at most
/// [`attempts_max`](ClientOptions::attempts_max) round trips of at most
/// [`attempt_timeout`](ClientOptions::attempt_timeout) each, with the
/// backoff between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// The most time one attempt may take: connecting if needed, sending the
    /// request and receiving the whole reply. A write waits for a quorum to
    /// persist it, so this must be well above the cluster's commit latency,
    /// or every write becomes a retry.
    pub attempt_timeout: Duration,
    /// The most round trips one call makes, counting a session registration
    /// that a write needs first. At least 1.
    pub attempts_max: u32,
    /// The pause after the first failed attempt; it doubles after each
    /// further failure, up to [`backoff_max`](ClientOptions::backoff_max).
    /// Pausing gives a cluster that lost its leader time to elect another
    /// instead of spending every attempt during the election.
    pub backoff_initial: Duration,
    /// The longest pause between two attempts.
    pub backoff_max: Duration,
    /// Whom to authenticate as, when the cluster asks for a password. A
    /// refusal (`-WRONGPASS`) ends the call at once, with nothing sent.
    pub credentials: Option<Credentials>,
}

impl Default for ClientOptions {
    /// Eight attempts of two seconds, with pauses from 25 ms doubling up to
    /// one second: a call gives up after about 20 seconds at worst, which
    /// outlasts a typical leader election.
    fn default() -> ClientOptions {
        ClientOptions {
            attempt_timeout: Duration::from_secs(2),
            attempts_max: 8,
            backoff_initial: Duration::from_millis(25),
            backoff_max: Duration::from_secs(1),
            credentials: None,
        }
    }
}
