//! The operator's side of membership: add a node (as a learner, then a
//! voter once it has caught up), remove one, hand leadership over, through
//! the `/cluster` admin API of whichever node leads. `synod cluster`,
//! `synod up --nodes 5` and the chaos `member` nemesis all go through here,
//! so there is one way to change a cluster.
//!
//! Every step is idempotent and retried until a deadline: a refusal because
//! another change is still taking effect (409) is waited out, a node that
//! is not the leader (421) sends us on to the next endpoint, and a step
//! already done (the node is already a learner, already removed) counts as
//! done. So an operator can rerun a command that timed out.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::admin;

/// One admin request's connect, read and write limit.
pub const ADMIN_REQUEST_TIMEOUT_MILLISECONDS: u64 = 2_000;
/// Pause between two attempts of a step that must wait.
pub const RETRY_PAUSE_MILLISECONDS: u64 = 200;

/// Why a membership step failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MembershipError {
    /// The cluster refused a step that cannot succeed by waiting.
    #[error("refused: {0}")]
    Refused(String),
    /// The deadline passed; the last reason a step had to wait.
    #[error("timed out: {0}")]
    TimedOut(String),
}

/// The `/cluster` API of a cluster, reached through any of its nodes.
#[derive(Clone, Debug)]
pub struct Membership {
    /// Admin addresses (`host:port`) of some of the cluster's nodes.
    pub endpoints: Vec<String>,
    /// When every step gives up.
    pub deadline: Instant,
}

/// What one attempt at a step came to.
enum Attempt {
    Done(Value),
    Wait(String),
}

impl Membership {
    /// A client of `endpoints` that gives up `timeout` from now.
    pub fn new(endpoints: Vec<String>, timeout: Duration) -> Membership {
        Membership {
            endpoints,
            deadline: Instant::now() + timeout,
        }
    }

    /// `GET /cluster` from the first endpoint that answers, preferring one
    /// that knows a leader.
    ///
    /// # Errors
    ///
    /// [`MembershipError::TimedOut`] when no endpoint answers by the
    /// deadline.
    pub fn view(&self) -> Result<Value, MembershipError> {
        self.retry(|| {
            let mut last = "no endpoint answered".to_string();
            let mut leaderless = None;
            for endpoint in &self.endpoints {
                match call(endpoint, "GET", "/cluster", None) {
                    Ok((200, view)) if !view["leader"].is_null() => return Ok(Attempt::Done(view)),
                    Ok((200, view)) => leaderless = Some(view),
                    Ok((code, body)) => last = format!("{endpoint}: HTTP {code} {body}"),
                    Err(failure) => last = format!("{endpoint}: {failure}"),
                }
            }
            Ok(match leaderless {
                Some(view) if Instant::now() + pause() >= self.deadline => Attempt::Done(view),
                _ => Attempt::Wait(last),
            })
        })
    }

    /// Adds `id` (its peers reach it at `peer`) as a learner.
    ///
    /// # Errors
    ///
    /// [`MembershipError::Refused`] when the id is retired or the address
    /// is refused; [`MembershipError::TimedOut`] otherwise.
    pub fn add_learner(&self, id: u64, peer: &str) -> Result<(), MembershipError> {
        let body = json!({ "id": id, "peer": peer }).to_string();
        self.step(
            || Ok(role_of(&self.view()?, id).is_some()),
            "POST",
            "/cluster/members",
            Some(&body),
        )
    }

    /// Promotes learner `id` to voter once it has caught up (the leader
    /// refuses while it lags).
    ///
    /// # Errors
    ///
    /// [`MembershipError::Refused`] when `id` is not a member;
    /// [`MembershipError::TimedOut`] when it does not catch up in time.
    pub fn promote(&self, id: u64) -> Result<(), MembershipError> {
        self.step(
            || Ok(role_of(&self.view()?, id) == Some("voter")),
            "POST",
            &format!("/cluster/members/{id}/promote"),
            None,
        )
    }

    /// Adds `id` as a learner and promotes it once it has caught up.
    ///
    /// # Errors
    ///
    /// As [`Membership::add_learner`] and [`Membership::promote`].
    pub fn add_voter(&self, id: u64, peer: &str) -> Result<(), MembershipError> {
        self.add_learner(id, peer)?;
        self.promote(id)
    }

    /// Removes `id` (a voter or a learner).
    ///
    /// # Errors
    ///
    /// [`MembershipError::Refused`] when it would leave no voter;
    /// [`MembershipError::TimedOut`] otherwise.
    pub fn remove(&self, id: u64) -> Result<(), MembershipError> {
        self.step(
            || Ok(role_of(&self.view()?, id).is_none()),
            "DELETE",
            &format!("/cluster/members/{id}"),
            None,
        )
    }

    /// Hands leadership to voter `to`.
    ///
    /// # Errors
    ///
    /// [`MembershipError::Refused`] when `to` is not a voter;
    /// [`MembershipError::TimedOut`] otherwise.
    pub fn transfer_leadership(&self, to: u64) -> Result<(), MembershipError> {
        let body = json!({ "to": to }).to_string();
        self.step(
            || Ok(self.view()?["leader"].as_u64() == Some(to)),
            "POST",
            "/cluster/leader",
            Some(&body),
        )
    }

    /// Waits until the configuration in force everywhere it is asked has
    /// exactly `voters` and no learners, and no change is pending.
    ///
    /// # Errors
    ///
    /// [`MembershipError::TimedOut`].
    pub fn wait_for_voters(&self, voters: &[u64]) -> Result<(), MembershipError> {
        let mut wanted = voters.to_vec();
        wanted.sort_unstable();
        self.retry(|| {
            let view = self.view()?;
            let configuration = &view["configuration"];
            let have: Vec<u64> = ids(&configuration["voters"]);
            let settled = have == wanted
                && ids(&configuration["learners"]).is_empty()
                && view["configuration_next"].is_null();
            Ok(if settled {
                Attempt::Done(view)
            } else {
                Attempt::Wait(format!("voters are {have:?}, waiting for {wanted:?}"))
            })
        })
        .map(|_| ())
    }

    /// Runs one step: done when `done` says so; otherwise sends the request
    /// to each endpoint until one (the leader) takes it, then waits for
    /// `done`.
    fn step(
        &self,
        done: impl Fn() -> Result<bool, MembershipError>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(), MembershipError> {
        self.retry(|| {
            if done()? {
                return Ok(Attempt::Done(Value::Null));
            }
            let mut last = "no endpoint answered".to_string();
            for endpoint in &self.endpoints {
                match call(endpoint, method, path, body) {
                    // Taken: wait until it shows.
                    Ok((200, _)) => return Ok(Attempt::Wait("taken; waiting for it".into())),
                    Ok((400, answer)) => return Err(MembershipError::Refused(error_text(&answer))),
                    Ok((code, answer)) => {
                        last = format!("{endpoint}: HTTP {code}: {}", error_text(&answer))
                    }
                    Err(failure) => last = format!("{endpoint}: {failure}"),
                }
            }
            Ok(Attempt::Wait(last))
        })
        .map(|_| ())
    }

    fn retry(
        &self,
        mut attempt: impl FnMut() -> Result<Attempt, MembershipError>,
    ) -> Result<Value, MembershipError> {
        loop {
            match attempt()? {
                Attempt::Done(value) => return Ok(value),
                Attempt::Wait(reason) => {
                    if Instant::now() + pause() >= self.deadline {
                        return Err(MembershipError::TimedOut(reason));
                    }
                    std::thread::sleep(pause());
                }
            }
        }
    }
}

fn pause() -> Duration {
    Duration::from_millis(RETRY_PAUSE_MILLISECONDS)
}

/// One request; the body parsed as JSON (null when it is not JSON).
fn call(
    endpoint: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, Value)> {
    let timeout = Duration::from_millis(ADMIN_REQUEST_TIMEOUT_MILLISECONDS);
    let (code, text) = admin::request(endpoint, method, path, body, timeout)?;
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((code, value))
}

fn error_text(answer: &Value) -> String {
    match &answer["error"] {
        Value::String(error) => error.clone(),
        _ => answer.to_string(),
    }
}

fn ids(list: &Value) -> Vec<u64> {
    let mut ids: Vec<u64> = list
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    ids.sort_unstable();
    ids
}

/// `id`'s role in the newest configuration of `view`: "voter", "learner",
/// or none.
fn role_of(view: &Value, id: u64) -> Option<&'static str> {
    let newest = if view["configuration_next"].is_null() {
        &view["configuration"]
    } else {
        &view["configuration_next"]
    };
    if ids(&newest["voters"]).contains(&id) {
        Some("voter")
    } else if ids(&newest["learners"]).contains(&id) {
        Some("learner")
    } else {
        None
    }
}
