//! `MULTI`, `EXEC`, `DISCARD`, `WATCH` and `UNWATCH` on one connection:
//! what is queued, what is watched, and the one log entry `EXEC` becomes
//! (see `synod_kv::versions`). Redis's rules: a command refused while
//! queuing makes `EXEC` answer `-EXECABORT`; a command that fails when
//! the transaction runs answers its error in its place and the others still
//! apply; `EXEC` answers nil when a watched key changed; `EXEC` and
//! `DISCARD` forget the watches.

use bytes::Bytes;
use synod_kv::{Command, KeyVersion, Operation, Response, KEYS_PER_COMMAND_MAX};
use synod_resp::reply;
use synod_resp::{Frame, Request};

use super::{submit, ClientContext, Connection, Pending};

/// The commands queued since `MULTI`.
#[derive(Debug, Default)]
pub(super) struct Transaction {
    queued: Vec<Request>,
    /// A command was refused while queuing: `EXEC` will abort.
    pub(super) dirty: bool,
}

/// The keys `WATCH` saw, in the order first watched.
#[derive(Debug, Default)]
pub(super) struct Watches {
    keys: Vec<(Bytes, KeyVersion)>,
}

/// Handles `request` if it is a transaction command or the connection is
/// inside `MULTI`; otherwise hands it back for the usual path.
pub(super) async fn handle(
    request: Request,
    connection: &mut Connection,
    context: &ClientContext,
) -> Result<(Pending, bool), Request> {
    let ready = |frame| Ok((Pending::Ready(frame), false));
    if connection.transaction.is_none() {
        return match request {
            Request::Multi => {
                connection.transaction = Some(Transaction::default());
                ready(reply::ok())
            }
            Request::Exec => ready(reply::error("EXEC without MULTI")),
            Request::Tagged { write, .. } if *write == Request::Exec => {
                ready(reply::error("EXEC without MULTI"))
            }
            Request::Discard => ready(reply::error("DISCARD without MULTI")),
            Request::Watch { keys } => ready(watch(keys, connection, context).await),
            Request::Unwatch => {
                connection.watches.keys.clear();
                ready(reply::ok())
            }
            other => Err(other),
        };
    }
    match request {
        Request::Exec => Ok(exec(None, connection, context).await),
        Request::Tagged { tag, write } if *write == Request::Exec => {
            Ok(exec(Some(tag), connection, context).await)
        }
        Request::Discard => {
            connection.transaction = None;
            connection.watches.keys.clear();
            ready(reply::ok())
        }
        Request::Multi => ready(reply::error("MULTI calls can not be nested")),
        Request::Watch { .. } => ready(reply::error("WATCH inside MULTI is not allowed")),
        Request::Quit => Err(Request::Quit),
        other => {
            let transaction = connection.transaction.as_mut().expect("checked above");
            let queueable = matches!(
                other,
                Request::Unwatch | Request::Ping { .. } | Request::Echo { .. }
            ) || other.to_command().is_some_and(|command| {
                command.session.is_none()
                    && !matches!(
                        command.operation,
                        Operation::RegisterSession | Operation::Access(_)
                    )
            });
            if !queueable {
                transaction.dirty = true;
                return ready(reply::error(format_args!(
                    "Command not allowed inside a transaction: '{}'",
                    other.name()
                )));
            }
            if transaction.queued.len() >= KEYS_PER_COMMAND_MAX {
                transaction.dirty = true;
                return ready(reply::error(format_args!(
                    "a transaction queues at most {KEYS_PER_COMMAND_MAX} commands"
                )));
            }
            transaction.queued.push(other);
            ready(Frame::Simple("QUEUED".to_owned()))
        }
    }
}

/// A request that did not parse. Inside `MULTI`, as in Redis: an unknown
/// command or a wrong number of arguments is refused now and aborts the
/// `EXEC`; any other error (a bad option, a value that is not a number) is
/// queued and answered in its place when `EXEC` runs.
pub(super) fn refused(
    error: synod_resp::CommandError,
    connection: &mut Connection,
) -> (Pending, bool) {
    let Some(transaction) = &mut connection.transaction else {
        return (Pending::Ready(error.reply()), false);
    };
    if error.refuses_queuing() || transaction.queued.len() >= KEYS_PER_COMMAND_MAX {
        transaction.dirty = true;
        return (Pending::Ready(error.reply()), false);
    }
    let Frame::Error(reply) = error.reply() else {
        unreachable!("a command error replies an error");
    };
    transaction.queued.push(Request::Refused { reply });
    (Pending::Ready(Frame::Simple("QUEUED".to_owned())), false)
}

/// `WATCH keys`: reads their versions now, linearizably, before the next
/// request of the connection is read (so that no later write of this
/// connection can come first), behind the connection's writes in flight.
async fn watch(keys: Vec<Bytes>, connection: &mut Connection, context: &ClientContext) -> Frame {
    let new: Vec<Bytes> = keys
        .into_iter()
        .filter(|key| {
            !connection
                .watches
                .keys
                .iter()
                .any(|(watched, _)| watched == key)
        })
        .collect();
    if new.is_empty() {
        return reply::ok();
    }
    if connection.watches.keys.len() + new.len() > KEYS_PER_COMMAND_MAX {
        return reply::error(format_args!(
            "a connection watches at most {KEYS_PER_COMMAND_MAX} keys"
        ));
    }
    let operation = Operation::ReadVersions { keys: new.clone() };
    match super::access::ask(operation, connection, context).await {
        Ok(Response::Versions(versions)) if versions.len() == new.len() => {
            connection
                .watches
                .keys
                .extend(new.into_iter().zip(versions));
            reply::ok()
        }
        Ok(other) => reply::reply_for(&other, &Request::Watch { keys: Vec::new() }),
        Err(frame) => frame,
    }
}
/// `EXEC`: the queued commands and the watches as one log entry (with the
/// session tag of `SYNOD.TAGGED … EXEC`, if any).
async fn exec(
    tag: Option<synod_kv::SessionTag>,
    connection: &mut Connection,
    context: &ClientContext,
) -> (Pending, bool) {
    let transaction = connection.transaction.take().expect("inside MULTI");
    let watches = std::mem::take(&mut connection.watches.keys);
    if transaction.dirty {
        return (
            Pending::Ready(Frame::Error(
                "EXECABORT Transaction discarded because of previous errors.".to_owned(),
            )),
            false,
        );
    }
    let operations: Vec<Operation> = transaction
        .queued
        .iter()
        .filter_map(|request| request.to_command().map(|command| command.operation))
        .collect();
    let shape = Request::Queued {
        requests: transaction.queued,
    };
    if operations.is_empty() && watches.is_empty() && tag.is_none() {
        // Nothing for the log: PING, ECHO and UNWATCH answer here.
        return (
            Pending::Ready(reply::reply_for(&Response::Transaction(Vec::new()), &shape)),
            false,
        );
    }
    let operation = Operation::Transaction {
        watches,
        operations,
    };
    if let Err(error) = operation.validate() {
        return (Pending::Ready(reply::error(error)), false);
    }
    let command = match tag {
        Some(tag) => Command::tagged(tag.session, tag.sequence, operation),
        None => Command::untagged(operation),
    };
    submit(command, &shape, connection, context).await
}
