//! Who a connection is: `AUTH`, `HELLO … AUTH`, the commands that manage
//! users (`ACL …`, `CONFIG SET requirepass`), and the limits on
//! connections that have not authenticated.
//!
//! The rights themselves are the store's rule (`synod_kv::access`): every
//! command carries the connection's principal, and the store judges it
//! where the command is applied, against the users as of that log
//! position. What this module adds:
//!
//! * **Passwords** are hashed here, before anything is proposed, with
//!   PBKDF2-HMAC-SHA256 and a random salt ([`hash_password`]); `AUTH` reads
//!   the user's hashes linearizably and checks the password against them.
//!   Hashing is deliberately slow, so it runs off the async threads, at
//!   most [`PASSWORD_CHECKS_CONCURRENT_MAX`] at a time: a flood of `AUTH`
//!   costs those threads, not the data path.
//! * **Before authenticating**, while this node's applied state says a
//!   password is needed, a connection may send only `AUTH`, `HELLO … AUTH`
//!   and `QUIT`; it must authenticate within
//!   [`AUTHENTICATION_TIMEOUT_MILLISECONDS`], and at most
//!   [`UNAUTHENTICATED_CONNECTIONS_MAX`] such connections are open at once.
//!   That view may lag the cluster by what this node has not applied yet;
//!   the store's check does not, so a command that slips past the view
//!   is still refused with `-NOAUTH`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ring::{digest, pbkdf2, rand::SecureRandom};
use synod_kv::access::{DEFAULT_USER_NAME, PASSWORDS_PER_USER_MAX, PASSWORD_DIGEST_SIZE_BYTES};
use synod_kv::{
    AccessOperation, Category, Command, Operation, PasswordHash, Principal, Response, Rule, User,
};
use synod_resp::{acl, reply, AclRequest, AclRule, Frame, Password, Request};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::{error_frame, submit, ClientContext, Connection, Pending};
use crate::drive::ClientRequest;

/// PBKDF2 iterations per password hash: a few milliseconds of one core
/// (3.3 ms for the same parameters in Python's hashlib on the 2-core
/// development machine), so a guess costs an attacker who stole the hashes
/// that much, and an `AUTH` costs the node that much. (Redis keeps one SHA-256, and asks for long
/// random passwords instead; this is a middle ground.)
pub const PASSWORD_HASH_ITERATIONS: u32 = 10_000;
/// Random salt per password hash, in bytes.
pub const PASSWORD_SALT_SIZE_BYTES: usize = 16;
/// A connection that must authenticate and has not within this is closed,
/// so that connections that open and stall (slow-loris) do not hold their
/// place.
pub const AUTHENTICATION_TIMEOUT_MILLISECONDS: u64 = 10_000;
/// Connections open at once that have not authenticated yet, while a
/// password is needed; one more is told so and closed.
pub const UNAUTHENTICATED_CONNECTIONS_MAX: usize = 1_024;
/// Password hashes computed at once (checks and new passwords).
pub const PASSWORD_CHECKS_CONCURRENT_MAX: usize = 2;
/// Commands refused with `-NOAUTH` on one connection before it is closed:
/// enough for a person who forgot to `AUTH`, too few for a client that
/// floods a node with requests it may not make.
pub const UNAUTHENTICATED_REFUSALS_MAX: u32 = 64;

/// The reply to a connection beyond [`UNAUTHENTICATED_CONNECTIONS_MAX`].
pub(super) const UNAUTHENTICATED_MAX_REPLY: &[u8] =
    b"-ERR max number of unauthenticated connections reached\r\n";

/// The bounds every connection of a listener shares.
#[derive(Clone, Debug)]
pub struct Gates {
    unauthenticated: Arc<Semaphore>,
    password_checks: Arc<Semaphore>,
}

impl Gates {
    /// Gates that admit `unauthenticated_max` unauthenticated connections.
    pub fn new(unauthenticated_max: usize) -> Gates {
        Gates {
            unauthenticated: Arc::new(Semaphore::new(unauthenticated_max)),
            password_checks: Arc::new(Semaphore::new(PASSWORD_CHECKS_CONCURRENT_MAX)),
        }
    }
}

/// Who the connection is, and what it holds until it authenticates.
pub(super) struct Identity {
    pub(super) principal: Principal,
    /// The user's name, for `ACL WHOAMI`.
    name: Bytes,
    /// Its place among the unauthenticated connections.
    permit: Option<OwnedSemaphorePermit>,
    /// When it must have authenticated.
    pub(super) deadline: Option<Instant>,
    /// Commands refused for want of authentication so far.
    refusals: u32,
}

impl Identity {
    /// A new connection's identity: anonymous; bounded in time and number
    /// while a password is needed. `None` when there is no room for one
    /// more unauthenticated connection.
    pub(super) fn admit(context: &ClientContext) -> Option<Identity> {
        let mut identity = Identity {
            principal: Principal::Anonymous,
            name: Bytes::from_static(DEFAULT_USER_NAME),
            permit: None,
            deadline: None,
            refusals: 0,
        };
        if context.status.borrow().authentication_required {
            identity.permit = Some(
                context
                    .gates
                    .unauthenticated
                    .clone()
                    .try_acquire_owned()
                    .ok()?,
            );
            identity.deadline =
                Some(Instant::now() + Duration::from_millis(AUTHENTICATION_TIMEOUT_MILLISECONDS));
        }
        Some(identity)
    }

    fn authenticated(&mut self, user: &User) {
        self.principal = Principal::User(user.id);
        self.name = user.name.clone();
        self.permit = None;
        self.deadline = None;
    }
}

/// `-NOAUTH` for a request an anonymous connection may not send while
/// this node's view says a password is needed, with the flag to close the
/// connection after it (past [`UNAUTHENTICATED_REFUSALS_MAX`]); `None` to
/// go on.
pub(super) fn refuse_before_authentication(
    request: &Request,
    connection: &mut Connection,
    context: &ClientContext,
) -> Option<(Frame, bool)> {
    if connection.identity.principal != Principal::Anonymous
        || !context.status.borrow().authentication_required
    {
        return None;
    }
    let refusal = refusal_before_authentication(request)?;
    let identity = &mut connection.identity;
    identity.refusals += 1;
    Some((refusal, identity.refusals >= UNAUTHENTICATED_REFUSALS_MAX))
}

fn refusal_before_authentication(request: &Request) -> Option<Frame> {
    match request {
        Request::Auth { .. } | Request::Quit | Request::Hello { auth: Some(_), .. } => None,
        Request::Hello { .. } => Some(Frame::Error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time"
                .to_owned(),
        )),
        _ => Some(acl::authentication_required()),
    }
}

/// Handles the requests about users and the admin commands the node
/// answers itself; hands any other back.
pub(super) async fn handle(
    request: Request,
    connection: &mut Connection,
    context: &ClientContext,
) -> Result<(Pending, bool), Request> {
    let ready = |frame| Ok((Pending::Ready(frame), false));
    match request {
        Request::Auth { username, password } => {
            ready(authenticate(username, password, connection, context).await)
        }
        Request::Hello {
            protocol,
            auth: Some(auth),
            client_name,
        } => {
            let frame = authenticate(Some(auth.username), auth.password, connection, context).await;
            if frame != reply::ok() {
                // Nothing of a refused HELLO takes effect, as in Redis.
                return ready(frame);
            }
            Err(Request::Hello {
                protocol,
                auth: None,
                client_name,
            })
        }
        Request::Acl(AclRequest::SetUser { name, rules }) => {
            Ok(set_user(name, rules, connection, context).await)
        }
        Request::ConfigSetPassword { password } => {
            let rules = if password.0.is_empty() {
                vec![AclRule::Stored(Rule::NoPassword)]
            } else {
                vec![
                    AclRule::Stored(Rule::ResetPasswords),
                    AclRule::AddPassword(password),
                ]
            };
            let name = Bytes::from_static(DEFAULT_USER_NAME);
            Ok(set_user(name, rules, connection, context).await)
        }
        Request::Acl(AclRequest::WhoAmI) => ready(Frame::Bulk(connection.identity.name.clone())),
        Request::Acl(AclRequest::Categories { category }) => {
            ready(acl::categories_reply(category.as_ref()))
        }
        Request::ConfigGet { .. } => {
            // The node answers it, but only to whom the store says may ask.
            let operation = Operation::Access(AccessOperation::Authorize {
                category: Category::Admin,
            });
            match ask(operation, connection, context).await {
                Ok(Response::Found(true)) => {
                    ready(reply::local_reply(&request).expect("CONFIG GET is answered locally"))
                }
                Ok(response) => ready(reply::reply_for(&response, &request)),
                Err(frame) => ready(frame),
            }
        }
        other => Err(other),
    }
}

/// `AUTH`: reads the user linearizably, then checks the password against
/// its hashes. A failure leaves the connection as it was.
async fn authenticate(
    username: Option<Bytes>,
    password: Password,
    connection: &mut Connection,
    context: &ClientContext,
) -> Frame {
    let names_default = username.is_none();
    let name = username.unwrap_or_else(|| Bytes::from_static(DEFAULT_USER_NAME));
    if synod_kv::access::check_user_name(&name).is_err() {
        context.metrics.client_authentication_failures.increment();
        return reply::wrong_password();
    }
    let operation = Operation::Access(AccessOperation::Credentials { name });
    let user = match ask(operation, connection, context).await {
        Ok(Response::Users(users)) => users.into_iter().next(),
        Ok(other) => {
            return reply::error(format_args!(
                "internal error: the store answered {other:?} to 'auth'"
            ))
        }
        Err(frame) => return frame,
    };
    let verified = match &user {
        Some(user) if user.enabled && user.no_password => {
            if names_default {
                return reply::error(
                    "AUTH <password> called without any password configured for the default \
                     user. Are you sure your configuration is correct?",
                );
            }
            true
        }
        Some(user) if user.enabled => {
            let hashes = user.passwords.clone();
            off_the_async_threads(context, move || {
                hashes.iter().any(|hash| verify_password(&password.0, hash))
            })
            .await
        }
        _ => {
            // An unknown or disabled user costs what a wrong password
            // costs, so that the time of a refusal does not tell which
            // user names exist.
            off_the_async_threads(context, move || {
                verify_password(&password.0, stand_in_hash());
            })
            .await;
            false
        }
    };
    match user {
        Some(user) if verified => {
            connection.identity.authenticated(&user);
            reply::ok()
        }
        _ => {
            context.metrics.client_authentication_failures.increment();
            reply::wrong_password()
        }
    }
}

/// `ACL SETUSER` (and `CONFIG SET requirepass`): hashes the new passwords,
/// finds the hashes of those to remove, and proposes the change on behalf
/// of the connection's user, whom the store checks for `admin`.
async fn set_user(
    name: Bytes,
    rules: Vec<AclRule>,
    connection: &mut Connection,
    context: &ClientContext,
) -> (Pending, bool) {
    let ready = |frame| (Pending::Ready(frame), false);
    // Hashing is slow on purpose: refuse what the store would refuse
    // before spending it (the store checks again, at the change's place
    // in the log).
    let additions = rules
        .iter()
        .filter(|rule| matches!(rule, AclRule::AddPassword(_)))
        .count();
    if additions > PASSWORDS_PER_USER_MAX {
        return ready(reply::error(format_args!(
            "a user may have at most {PASSWORDS_PER_USER_MAX} passwords (synod's limit)"
        )));
    }
    let operation = Operation::Access(AccessOperation::Authorize {
        category: Category::Admin,
    });
    match ask(operation, connection, context).await {
        Ok(Response::Found(true)) => {}
        Ok(response) => {
            let shape = Request::Acl(AclRequest::SetUser {
                name,
                rules: Vec::new(),
            });
            return ready(reply::reply_for(&response, &shape));
        }
        Err(frame) => return ready(frame),
    }
    let mut current: Option<Vec<PasswordHash>> = None;
    let mut stored = Vec::with_capacity(rules.len());
    for rule in rules {
        let rule = match rule {
            AclRule::Stored(rule) => rule,
            AclRule::AddPassword(password) => Rule::AddPassword(
                off_the_async_threads(context, move || hash_password(&password.0)).await,
            ),
            AclRule::RemovePassword(password) => {
                if current.is_none() {
                    let operation =
                        Operation::Access(AccessOperation::ReadUser { name: name.clone() });
                    current = Some(match ask(operation, connection, context).await {
                        Ok(Response::Users(users)) => users
                            .into_iter()
                            .next()
                            .map(|user| user.passwords)
                            .unwrap_or_default(),
                        Ok(response) => {
                            let shape = Request::Acl(AclRequest::GetUser { name });
                            return ready(reply::reply_for(&response, &shape));
                        }
                        Err(frame) => return ready(frame),
                    });
                }
                let hashes = current.clone().unwrap_or_default();
                let found = off_the_async_threads(context, move || {
                    hashes
                        .into_iter()
                        .find(|hash| verify_password(&password.0, hash))
                })
                .await;
                let Some(hash) = found else {
                    return ready(reply::error(
                        "Error in ACL SETUSER modifier '<...>': The password you are trying to \
                         remove from the user does not exist",
                    ));
                };
                Rule::RemovePassword(hash)
            }
        };
        stored.push(rule);
    }
    let operation = Operation::Access(AccessOperation::SetUser {
        name: name.clone(),
        rules: stored,
    });
    if let Err(error) = operation.validate() {
        return ready(reply::error(error));
    }
    // The shape keeps no password.
    let shape = Request::Acl(AclRequest::SetUser {
        name,
        rules: Vec::new(),
    });
    submit(Command::untagged(operation), &shape, connection, context).await
}

/// Runs a password hash on the blocking threads, at most
/// [`PASSWORD_CHECKS_CONCURRENT_MAX`] at a time.
async fn off_the_async_threads<T: Send + 'static>(
    context: &ClientContext,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let _permit = context
        .gates
        .password_checks
        .acquire()
        .await
        .expect("the semaphore is never closed");
    tokio::task::spawn_blocking(work)
        .await
        .expect("a password hash does not panic")
}

/// A read through the store on behalf of the connection, linearizable:
/// through the read index, or through the log behind the connection's
/// writes in flight (the order rules of the module above).
pub(super) async fn ask(
    operation: Operation,
    connection: &Connection,
    context: &ClientContext,
) -> Result<Response, Frame> {
    let (reply, answer) = oneshot::channel();
    let principal = connection.identity.principal;
    let request = if !connection.outstanding.writes_in_flight() {
        ClientRequest::Read {
            operation,
            principal,
            stale: false,
            reply,
        }
    } else {
        ClientRequest::Write {
            command: Command::untagged(operation).on_behalf_of(principal),
            reply,
        }
    };
    if context.requests.send(request).await.is_err() {
        return Err(reply::try_again("the node is shutting down"));
    }
    match answer.await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(error)) => Err(error_frame(error)),
        Err(_) => Err(reply::try_again("the node is shutting down")),
    }
}

/// A hash no password is checked against for real: what an `AUTH` of an
/// unknown user is timed against.
fn stand_in_hash() -> &'static PasswordHash {
    static STAND_IN: std::sync::OnceLock<PasswordHash> = std::sync::OnceLock::new();
    STAND_IN.get_or_init(|| hash_password(b"a stand-in for users that do not exist"))
}

/// The PBKDF2 algorithm of every hash this build writes.
static PASSWORD_ALGORITHM: pbkdf2::Algorithm = pbkdf2::PBKDF2_HMAC_SHA256;

/// A new salted hash of `password`.
pub(super) fn hash_password(password: &[u8]) -> PasswordHash {
    let mut salt = [0; PASSWORD_SALT_SIZE_BYTES];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .expect("the system's random source works");
    let mut digest = [0; PASSWORD_DIGEST_SIZE_BYTES];
    const _: () = assert!(PASSWORD_DIGEST_SIZE_BYTES == digest::SHA256_OUTPUT_LEN);
    let iterations =
        std::num::NonZeroU32::new(PASSWORD_HASH_ITERATIONS).expect("iterations are not zero");
    pbkdf2::derive(PASSWORD_ALGORITHM, iterations, &salt, password, &mut digest);
    PasswordHash {
        iterations: PASSWORD_HASH_ITERATIONS,
        salt: Bytes::copy_from_slice(&salt),
        digest: Bytes::copy_from_slice(&digest),
    }
}

/// Whether `password` is the one `hash` was made from (in constant time).
pub(super) fn verify_password(password: &[u8], hash: &PasswordHash) -> bool {
    let Some(iterations) = std::num::NonZeroU32::new(hash.iterations) else {
        return false;
    };
    pbkdf2::verify(
        PASSWORD_ALGORITHM,
        iterations,
        &hash.salt,
        password,
        &hash.digest,
    )
    .is_ok()
}
