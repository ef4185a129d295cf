//! synod's own commands for exactly-once writes: `SYNOD.SESSION` and
//! `SYNOD.TAGGED`.

use synod_kv::{Sequence, SessionId, SessionTag};

use super::{dispatch, parse_unsigned, Arguments, CommandError, CommandSpecification, Request};

pub(super) const SESSION: CommandSpecification =
    CommandSpecification::without_keys("synod.session", 1, &["write"], parse_session);

/// At least the session, the sequence and the wrapped command (`EXEC`, or
/// a write of one key such as `DEL k`).
pub(super) const TAGGED: CommandSpecification =
    CommandSpecification::without_keys("synod.tagged", -4, &["write", "movablekeys"], parse_tagged);

fn parse_session(_arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::SessionRegister)
}

/// `SYNOD.TAGGED session sequence <command …>`: the wrapped command is parsed
/// like a request of its own, then must be a write.
fn parse_tagged(arguments: &mut Arguments) -> Result<Request, CommandError> {
    let session = SessionId(parse_unsigned(&arguments.next()?)?);
    let sequence = Sequence(parse_unsigned(&arguments.next()?)?);
    if sequence.0 == 0 {
        return Err(CommandError::SequenceZero);
    }
    let write = dispatch(arguments.rest())?;
    // Every write of the store, and nothing else: reads need no tag, and
    // neither a registration nor a tagged command can be tagged again.
    // `EXEC` too: the transaction it closes is one write of the session.
    let is_write = write == Request::Exec
        || !matches!(write, Request::SessionRegister | Request::Tagged { .. })
            && write
                .to_command()
                .is_some_and(|command| !command.operation.is_read());
    if !is_write {
        return Err(CommandError::TaggedNotWrite {
            command: write.name(),
        });
    }
    Ok(Request::Tagged {
        tag: SessionTag { session, sequence },
        write: Box::new(write),
    })
}
