//! The transaction commands: `MULTI`, `EXEC`, `DISCARD`, `WATCH`,
//! `UNWATCH`. They change the connection's state, which the server keeps:
//! this module only parses them (see `synod_kv::versions` for what `WATCH`
//! and `EXEC` mean in the log).

use super::{Arguments, CommandError, CommandSpecification, Request};

pub(super) const MULTI: CommandSpecification = CommandSpecification::without_keys(
    "multi",
    1,
    &["noscript", "loading", "stale", "fast", "allow_busy"],
    |_| Ok(Request::Multi),
);

pub(super) const EXEC: CommandSpecification = CommandSpecification::without_keys(
    "exec",
    1,
    &["noscript", "loading", "stale", "skip_slowlog"],
    |_| Ok(Request::Exec),
);

pub(super) const DISCARD: CommandSpecification = CommandSpecification::without_keys(
    "discard",
    1,
    &["noscript", "loading", "stale", "fast", "allow_busy"],
    |_| Ok(Request::Discard),
);

pub(super) const WATCH: CommandSpecification = CommandSpecification::with_keys(
    "watch",
    -2,
    &["noscript", "loading", "stale", "fast", "allow_busy"],
    [1, -1, 1],
    parse_watch,
);

pub(super) const UNWATCH: CommandSpecification = CommandSpecification::without_keys(
    "unwatch",
    1,
    &["noscript", "loading", "stale", "fast", "allow_busy"],
    |_| Ok(Request::Unwatch),
);

fn parse_watch(arguments: &mut Arguments) -> Result<Request, CommandError> {
    Ok(Request::Watch {
        keys: arguments.rest(),
    })
}
