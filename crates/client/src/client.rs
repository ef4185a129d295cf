//! The client: one connection, one session, and the retry rules.

use bytes::Bytes;
use synod_kv::{Sequence, SessionId, SessionTag, SetCondition};
use synod_resp::reply::{error_code, error_code_of};
use synod_resp::{Frame, Request};
use tokio::sync::Mutex;
use tokio::time::{timeout_at, Instant};

use crate::connection::Connection;
use crate::error::Error;
use crate::options::{ClientOptions, Endpoint};
use crate::retry::Attempts;

/// A connection to a synod cluster, with exactly-once writes.
///
/// # Writes
///
/// The first write registers a session (`SYNOD.SESSION`). Every write is
/// then sent as `SYNOD.TAGGED session sequence …` with the next sequence of
/// the session. When an attempt times out, the connection drops, or the
/// node answers `-CLUSTERDOWN`, `-TRYAGAIN` or `-UNKNOWN`, the client moves
/// to the next endpoint and, after a pause, sends the *same* session and
/// sequence again: the store applies each (session, sequence) at most once
/// and answers a retry with the original answer. When the attempts run out
/// and some attempt may have reached a node, the write ends in
/// [`Error::OutcomeUnknown`], never in a failure; when none could have,
/// in [`Error::Unavailable`].
///
/// If the node answers `-SESSIONEXPIRED` (the session was evicted), the
/// client registers a new session. The write is then sent afresh when no
/// earlier attempt of it may have been applied (this attempt's answer says
/// it was not); otherwise it ends in [`Error::OutcomeUnknown`], since an
/// earlier attempt may have been applied under the old session.
///
/// # One request at a time
///
/// The store's contract is at most one outstanding command per session:
/// a second write with a higher sequence would turn a pending retry of the
/// first into a stale duplicate. So a `Client` runs one call at a time: a
/// mutex is held across each call, retries included, and reads queue
/// behind writes on the one connection. For concurrency, open several
/// clients; each registers its own session.
///
/// # Reads
///
/// Reads (`get`, `exists`, `ping`) are not tagged: they have no effect, so
/// retrying them needs no session. When their attempts run out they end in
/// [`Error::Unavailable`].
///
/// # Cancellation
///
/// Dropping a call's future abandons it and its connection (a late reply
/// must not be read as the answer to the next call). An abandoned write
/// may or may not be applied, as with [`Error::OutcomeUnknown`].
pub struct Client {
    endpoints: Vec<Endpoint>,
    options: ClientOptions,
    state: Mutex<State>,
}

/// What the client remembers between calls.
struct State {
    /// The open connection, taken out during a round trip so that a
    /// cancelled call drops it.
    connection: Option<Connection>,
    /// The endpoint to connect to next; it moves on after every failure.
    endpoint_index: usize,
    /// The session, once registered; `None` again after it expired.
    session: Option<SessionId>,
    /// The sequence the next write of the session takes.
    sequence_next: Sequence,
}

impl State {
    /// The tag for a new write, taking the session's next sequence; `None`
    /// when there is no session yet.
    fn take_tag(&mut self) -> Option<SessionTag> {
        let session = self.session?;
        let sequence = self.sequence_next;
        self.sequence_next = Sequence(sequence.0 + 1);
        Some(SessionTag { session, sequence })
    }
}

/// How one round trip ended.
enum Attempt {
    /// A reply came back.
    Answered(Frame),
    /// The request was not sent: no connection could be made.
    NotDelivered(String),
    /// The request was sent, or may have been, and no usable reply came.
    Unanswered(String),
}

/// What an error reply asks the client to do.
enum ErrorReply {
    /// A transient condition: try again on another node.
    Retry,
    /// The session is gone; the command was not applied.
    SessionExpired,
    /// The sequence is below the session's last: not applied, and the
    /// session is not this client's alone any more.
    SequenceStale,
    /// A refusal that a retry would meet again.
    Final,
}

fn classify(message: &str) -> ErrorReply {
    match error_code_of(message) {
        error_code::CLUSTER_DOWN | error_code::TRY_AGAIN | error_code::OUTCOME_UNKNOWN => {
            ErrorReply::Retry
        }
        error_code::SESSION_EXPIRED => ErrorReply::SessionExpired,
        error_code::SEQUENCE_STALE => ErrorReply::SequenceStale,
        _ => ErrorReply::Final,
    }
}

impl Client {
    /// Connects to the first reachable endpoint, trying each once in order.
    /// Later calls move to the next endpoint whenever one fails; list the
    /// endpoints in a different order in different processes to spread the
    /// load.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] for no endpoints or `attempts_max` of 0;
    /// [`Error::Unavailable`] when no endpoint accepts a connection.
    pub async fn connect<I, E>(endpoints: I, options: ClientOptions) -> Result<Client, Error>
    where
        I: IntoIterator<Item = E>,
        E: Into<Endpoint>,
    {
        let endpoints: Vec<Endpoint> = endpoints.into_iter().map(Into::into).collect();
        if endpoints.is_empty() {
            return Err(Error::Configuration("no endpoints"));
        }
        if options.attempts_max == 0 {
            return Err(Error::Configuration("attempts_max is 0"));
        }
        let mut state = State {
            connection: None,
            endpoint_index: 0,
            session: None,
            sequence_next: Sequence(1),
        };
        let mut last_failure = String::new();
        for (index, endpoint) in endpoints.iter().enumerate() {
            let deadline = Instant::now() + options.attempt_timeout;
            match open(endpoint, deadline).await {
                Ok(connection) => {
                    state.connection = Some(connection);
                    state.endpoint_index = index;
                    return Ok(Client {
                        endpoints,
                        options,
                        state: Mutex::new(state),
                    });
                }
                Err(failure) => last_failure = failure,
            }
        }
        Err(Error::Unavailable {
            attempts: endpoints.len() as u32,
            last_failure,
        })
    }

    /// The value of `key`, or `None` when it does not exist.
    ///
    /// # Errors
    ///
    /// See [`Error`]; a read ends in [`Error::Unavailable`] when no node
    /// answers.
    pub async fn get(&self, key: impl Into<Bytes>) -> Result<Option<Bytes>, Error> {
        let request = Request::Get { key: key.into() };
        match self.read(&request).await? {
            Frame::Bulk(value) => Ok(Some(value)),
            Frame::Null => Ok(None),
            reply => Err(unexpected(&request, reply)),
        }
    }

    /// Stores `value` under `key`.
    ///
    /// # Errors
    ///
    /// See [`Error`]; notably [`Error::OutcomeUnknown`].
    pub async fn set(&self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<(), Error> {
        if self.set_on(key, value, SetCondition::Always).await? {
            Ok(())
        } else {
            Err(Error::UnexpectedReply {
                request: "set",
                reply: "null to an unconditional SET".to_owned(),
            })
        }
    }

    /// Stores `value` under `key` only when the key does not exist
    /// (`SET … NX`); tells whether it stored.
    ///
    /// # Errors
    ///
    /// See [`Error`]; notably [`Error::OutcomeUnknown`].
    pub async fn set_if_absent(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<bool, Error> {
        self.set_on(key, value, SetCondition::IfAbsent).await
    }

    /// Stores `value` under `key` only when the key exists (`SET … XX`);
    /// tells whether it stored.
    ///
    /// # Errors
    ///
    /// See [`Error`]; notably [`Error::OutcomeUnknown`].
    pub async fn set_if_present(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<bool, Error> {
        self.set_on(key, value, SetCondition::IfPresent).await
    }

    /// Deletes the keys; answers how many existed. A key named twice is
    /// deleted and counted once.
    ///
    /// # Errors
    ///
    /// See [`Error`]; notably [`Error::OutcomeUnknown`], and
    /// [`Error::InvalidArgument`] for no keys.
    pub async fn del<K: Into<Bytes>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<u64, Error> {
        let request = Request::Del {
            keys: keys.into_iter().map(Into::into).collect(),
        };
        let reply = self.write(&request).await?;
        count(&request, reply)
    }

    /// Counts the keys that exist; a key named twice counts twice.
    ///
    /// # Errors
    ///
    /// See [`Error`]; [`Error::InvalidArgument`] for no keys.
    pub async fn exists<K: Into<Bytes>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<u64, Error> {
        let request = Request::Exists {
            keys: keys.into_iter().map(Into::into).collect(),
        };
        let reply = self.read(&request).await?;
        count(&request, reply)
    }

    /// Checks that some node answers.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] when none does.
    pub async fn ping(&self) -> Result<(), Error> {
        let request = Request::Ping { message: None };
        match self.read(&request).await? {
            Frame::Simple(text) if text == "PONG" => Ok(()),
            reply => Err(unexpected(&request, reply)),
        }
    }

    async fn set_on(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        condition: SetCondition,
    ) -> Result<bool, Error> {
        let request = Request::Set {
            key: key.into(),
            value: value.into(),
            condition,
        };
        match self.write(&request).await? {
            Frame::Simple(text) if text == "OK" => Ok(true),
            Frame::Null => Ok(false),
            reply => Err(unexpected(&request, reply)),
        }
    }

    /// Sends a read until a node answers it.
    async fn read(&self, request: &Request) -> Result<Frame, Error> {
        check_limits(request)?;
        let frame = request.to_frame();
        let mut state = self.state.lock().await;
        let mut attempts = Attempts::new(&self.options);
        let mut last_failure = String::new();
        while attempts.start_next().await {
            let failure = match self.round_trip(&mut state, &frame).await {
                Attempt::Answered(Frame::Error(message)) => match classify(&message) {
                    ErrorReply::Retry => message,
                    _ => return Err(Error::Server(message)),
                },
                Attempt::Answered(reply) => return Ok(reply),
                Attempt::NotDelivered(reason) | Attempt::Unanswered(reason) => reason,
            };
            self.move_on(&mut state, &mut attempts, request, &failure);
            last_failure = failure;
        }
        Err(Error::Unavailable {
            attempts: attempts.made(),
            last_failure,
        })
    }

    /// Sends a write, tagged with the session, until it is answered; see
    /// the type's documentation for the rules.
    async fn write(&self, write: &Request) -> Result<Frame, Error> {
        check_limits(write)?;
        let mut state = self.state.lock().await;
        let mut attempts = Attempts::new(&self.options);
        // Whether some attempt of this write may have reached a node without
        // an answer that rules out its having been applied.
        let mut maybe_applied = false;
        let mut tag: Option<SessionTag> = None;
        let mut last_failure = String::new();
        while attempts.start_next().await {
            let Some(current) = tag.or_else(|| state.take_tag()) else {
                // A session is registered only when no attempt of this write
                // may have been applied (at the start, or after an expiry that
                // said so), so a final refusal here is honest.
                assert!(!maybe_applied);
                if let Err(failure) = self.register(&mut state).await? {
                    self.move_on(
                        &mut state,
                        &mut attempts,
                        &Request::SessionRegister,
                        &failure,
                    );
                    last_failure = failure;
                }
                continue;
            };
            tag = Some(current);
            let frame = Request::Tagged {
                tag: current,
                write: Box::new(write.clone()),
            }
            .to_frame();
            let failure = match self.round_trip(&mut state, &frame).await {
                Attempt::Answered(Frame::Error(message)) => match classify(&message) {
                    ErrorReply::Retry => {
                        maybe_applied = true;
                        message
                    }
                    ErrorReply::SessionExpired if !maybe_applied => {
                        tracing::debug!(?current, "session expired; registering a new one");
                        state.session = None;
                        tag = None;
                        continue;
                    }
                    ErrorReply::SessionExpired | ErrorReply::SequenceStale => {
                        state.session = None;
                        return Err(Error::OutcomeUnknown {
                            attempts: attempts.made(),
                            last_failure: message,
                        });
                    }
                    ErrorReply::Final if maybe_applied => {
                        return Err(Error::OutcomeUnknown {
                            attempts: attempts.made(),
                            last_failure: message,
                        });
                    }
                    ErrorReply::Final => return Err(Error::Server(message)),
                },
                Attempt::Answered(reply) => return Ok(reply),
                Attempt::NotDelivered(reason) => reason,
                Attempt::Unanswered(reason) => {
                    maybe_applied = true;
                    reason
                }
            };
            self.move_on(&mut state, &mut attempts, write, &failure);
            last_failure = failure;
        }
        let attempts = attempts.made();
        Err(if maybe_applied {
            Error::OutcomeUnknown {
                attempts,
                last_failure,
            }
        } else {
            Error::Unavailable {
                attempts,
                last_failure,
            }
        })
    }

    /// One attempt to register a session. `Ok(Err(failure))` when it should
    /// be tried again elsewhere; `Err` when the call must end.
    async fn register(&self, state: &mut State) -> Result<Result<(), String>, Error> {
        let request = Request::SessionRegister;
        match self.round_trip(state, &request.to_frame()).await {
            Attempt::Answered(Frame::Integer(id)) if id > 0 => {
                state.session = Some(SessionId(id as u64));
                state.sequence_next = Sequence(1);
                tracing::debug!(session = id, "registered a session");
                Ok(Ok(()))
            }
            Attempt::Answered(Frame::Error(message)) => match classify(&message) {
                ErrorReply::Retry => Ok(Err(message)),
                _ => Err(Error::Server(message)),
            },
            Attempt::Answered(reply) => Err(unexpected(&request, reply)),
            Attempt::NotDelivered(reason) | Attempt::Unanswered(reason) => Ok(Err(reason)),
        }
    }

    /// After a failed attempt: drop the connection, move to the next
    /// endpoint, and pause before the next attempt.
    fn move_on(
        &self,
        state: &mut State,
        attempts: &mut Attempts,
        request: &Request,
        failure: &str,
    ) {
        tracing::debug!(
            command = request.name(),
            endpoint = %self.endpoints[state.endpoint_index],
            attempt = attempts.made(),
            failure,
            "attempt failed; moving to the next endpoint"
        );
        state.connection = None;
        state.endpoint_index = (state.endpoint_index + 1) % self.endpoints.len();
        attempts.failed();
    }

    /// Sends `request` on the current connection (opening one if needed)
    /// and waits for the reply, all within one attempt timeout.
    async fn round_trip(&self, state: &mut State, request: &Frame) -> Attempt {
        let deadline = Instant::now() + self.options.attempt_timeout;
        let endpoint = &self.endpoints[state.endpoint_index];
        let mut connection = match state.connection.take() {
            Some(connection) => connection,
            None => match open(endpoint, deadline).await {
                Ok(connection) => connection,
                Err(failure) => return Attempt::NotDelivered(failure),
            },
        };
        if !connection.authenticated {
            if let Some(credentials) = &self.options.credentials {
                match timeout_at(deadline, connection.call(&auth_frame(credentials))).await {
                    Ok(Ok(Frame::Simple(_))) => {}
                    // The cluster asks for no password: go on without.
                    Ok(Ok(Frame::Error(message)))
                        if message.starts_with(NO_PASSWORD_CONFIGURED_REPLY) => {}
                    // No quorum for the read of the user, say: nothing was
                    // sent, try again elsewhere.
                    Ok(Ok(Frame::Error(message)))
                        if matches!(classify(&message), ErrorReply::Retry) =>
                    {
                        return Attempt::NotDelivered(format!("{endpoint}: AUTH: {message}"))
                    }
                    // Refused: the request is not sent, and the refusal is
                    // its answer (the caller reports it, not retrying).
                    Ok(Ok(refusal @ Frame::Error(_))) => return Attempt::Answered(refusal),
                    Ok(Ok(other)) => {
                        return Attempt::NotDelivered(format!(
                            "{endpoint}: unexpected reply to AUTH: {other:?}"
                        ))
                    }
                    Ok(Err(error)) => {
                        return Attempt::NotDelivered(format!("{endpoint}: AUTH: {error}"))
                    }
                    Err(_) => {
                        return Attempt::NotDelivered(format!("{endpoint}: no reply to AUTH"))
                    }
                }
            }
            connection.authenticated = true;
        }
        match timeout_at(deadline, connection.call(request)).await {
            Ok(Ok(reply)) => {
                state.connection = Some(connection);
                Attempt::Answered(reply)
            }
            Ok(Err(error)) => Attempt::Unanswered(format!("{endpoint}: {error}")),
            Err(_) => Attempt::Unanswered(format!(
                "{endpoint}: no reply within {:?}",
                self.options.attempt_timeout
            )),
        }
    }
}

/// Opens a connection to `endpoint` by `deadline`, describing the failure.
async fn open(endpoint: &Endpoint, deadline: Instant) -> Result<Connection, String> {
    match timeout_at(deadline, Connection::open(endpoint)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(format!("connecting to {endpoint}: {error}")),
        Err(_) => Err(format!("connecting to {endpoint}: timed out")),
    }
}

/// The start of the reply to `AUTH password` when the default user needs
/// no password (Redis's words).
const NO_PASSWORD_CONFIGURED_REPLY: &str = "ERR AUTH <password> called without any password";

/// `AUTH [username] password`.
fn auth_frame(credentials: &crate::Credentials) -> Frame {
    Request::Auth {
        username: credentials
            .username
            .as_ref()
            .map(|name| Bytes::copy_from_slice(name.as_bytes())),
        password: synod_resp::Password(Bytes::copy_from_slice(credentials.password.as_bytes())),
    }
    .to_frame()
}

/// Refuses, before sending, a request the server would refuse for a limit.
fn check_limits(request: &Request) -> Result<(), Error> {
    match request.to_command() {
        Some(command) => Ok(command.validate()?),
        None => Ok(()),
    }
}

fn count(request: &Request, reply: Frame) -> Result<u64, Error> {
    match reply {
        Frame::Integer(count) if count >= 0 => Ok(count as u64),
        reply => Err(unexpected(request, reply)),
    }
}

fn unexpected(request: &Request, reply: Frame) -> Error {
    Error::UnexpectedReply {
        request: request.name(),
        reply: format!("{reply:?}"),
    }
}
