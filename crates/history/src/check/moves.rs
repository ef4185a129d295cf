//! What both searches share: the register's operations laid out on the time
//! line, and the rules that say which moves a configuration has.
//!
//! The `ok` operations become call and return entries ("nodes") sorted by
//! time; at equal times call entries sort before return entries, so
//! intervals are closed: an operation precedes another only if it returned
//! strictly before the other was called. A configuration's *candidates* are
//! the call entries of unlinearized operations that come before the first
//! return entry of an unlinearized operation: exactly the operations that
//! may be linearized next.
//!
//! The moves are reduced by four rules, each keeping at least one
//! linearization whenever one exists:
//! 1. **Pure operations first.** An operation that is legal now and never
//!    changes the state where it is legal (`get`, `contains`, `remove` with
//!    `found=false`) can be moved to the front of any linearization of the
//!    remaining operations, so when one is legal it is the only move.
//! 2. **`info` writes only just before an observer.** An `info` write is a
//!    blind write and need not happen at all, so in some linearization every
//!    `info` write that happens is immediately followed by an `ok` operation
//!    that observes the state and was illegal without it (otherwise drop the
//!    write, or move it later past pure operations that were legal before
//!    it). Moves are therefore "an `ok` operation" or "one `info` write then
//!    an `ok` observer".
//! 3. **Earliest of equals.** `info` writes of the same state are
//!    interchangeable once called, so the earliest-called unconsumed one is
//!    used; the consumed writes of a state are thus a prefix of its queue.
//! 4. **Any unread value will do.** A value no unlinearized `get` reads can
//!    no longer be told from any other such value, so the state is then
//!    folded into "unread value" (exact), and when a `remove` with
//!    `found=true` or a `contains` with `found=true` needs some value
//!    written, one write of an unread value stands for all of them.
//! 5. **Earliest deadline among equal writes.** Two `ok` `set`s that write
//!    the same (folded) state, or two `ok` `remove`s with `found=true`, are
//!    legal in the same states and leave the same state. In a linearization
//!    where the one returning later comes first, swapping them keeps it
//!    valid (an operation that had to follow the later one also had to
//!    follow the earlier one). So only the candidate that returns first is
//!    tried, alone or after an `info` write.

use super::register::{Effect, Register, STATE_ABSENT, STATE_UNREAD_VALUE};

/// The group of `remove` operations with `found=true` in rule 5 (sets are
/// grouped by the state they write, which is always smaller).
const GROUP_REMOVE: u32 = u32::MAX - 1;
/// "No such thing" in `u32` index fields.
pub(crate) const NONE: u32 = u32::MAX;
/// The head sentinel node, before every entry.
pub(crate) const HEAD: u32 = 0;

/// How many pending operations a deadlock report names at most.
const PENDING_REPORTED_MAX: usize = 8;
/// How many of the last linearized operations a deadlock report names.
pub(crate) const RECENT_REPORTED_MAX: usize = 4;

/// What a search concluded about one register.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    Linearizable,
    NotLinearizable(Deadlock),
    /// The search stopped at its limit without deciding.
    Undecided,
}

/// The deepest point where a search found no way forward.
#[derive(Debug, Clone)]
pub(crate) struct Deadlock {
    /// `ok` operations linearized at that point.
    pub(crate) completed_linearized: usize,
    /// `ok` operations in the register's history.
    pub(crate) completed_total: usize,
    /// Source indices: first the operation that returned without having
    /// been linearized, then other `ok` operations pending at that time.
    pub(crate) pending: Vec<u32>,
    /// Source indices of the last operations linearized, oldest first.
    pub(crate) recent: Vec<u32>,
    /// Register state at that point.
    pub(crate) state: u32,
    /// Source index of the operation that wrote that state, or `None` for
    /// the initial absent state.
    pub(crate) last_writer: Option<u32>,
}

impl Deadlock {
    /// Describes the configuration with `completed_linearized` operations
    /// linearized and `candidates` before `first_return`, reached by `path`
    /// (oldest move first).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        register: &Register,
        timeline: &Timeline,
        completed_linearized: usize,
        first_return: u32,
        candidates: &[u32],
        state: u32,
        last_writer: u32,
        path: impl DoubleEndedIterator<Item = Move>,
    ) -> Deadlock {
        let operation_of = |node: u32| timeline.node_operation[node as usize];
        let source_of = |node: u32| register.completed[operation_of(node) as usize].source;
        let blocking = operation_of(first_return);
        let mut pending = vec![source_of(first_return)];
        pending.extend(
            candidates
                .iter()
                .filter(|&&call_node| operation_of(call_node) != blocking)
                .map(|&call_node| source_of(call_node))
                .take(PENDING_REPORTED_MAX - 1),
        );
        let mut recent = Vec::new();
        for applied in path.rev() {
            if recent.len() >= RECENT_REPORTED_MAX {
                break;
            }
            recent.push(source_of(applied.call_node));
            if applied.pending_write != NONE {
                recent.push(register.pending_writes[applied.pending_write as usize].source);
            }
        }
        recent.truncate(RECENT_REPORTED_MAX);
        recent.reverse();
        Deadlock {
            completed_linearized,
            completed_total: register.completed.len(),
            pending,
            recent,
            state,
            last_writer: (last_writer != NONE).then_some(last_writer),
        }
    }
}

/// One step of a search: optionally an `info` write, then an `ok` operation
/// (named by its call node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Move {
    pub(crate) pending_write: u32,
    pub(crate) call_node: u32,
}

/// One register's operations on the time line, built once per key.
#[derive(Debug)]
pub(crate) struct Timeline {
    /// Per node: the `ok` operation, `NONE` for the sentinels. Node 0 is the
    /// head, the last node the tail, the others call and return entries in
    /// time order.
    pub(crate) node_operation: Vec<u32>,
    /// Per node: whether it is a return entry (the tail counts as one).
    pub(crate) node_is_return: Vec<bool>,
    /// Per `ok` operation: its call and return nodes.
    pub(crate) call_node: Vec<u32>,
    pub(crate) return_node: Vec<u32>,
    pub(crate) tail: u32,
    /// Per state: the `info` writes of that state, earliest call first.
    pub(crate) writes_by_state: Vec<Vec<u32>>,
    /// States other than absent that some `info` write produces.
    pub(crate) written_present_states: Vec<u32>,
    /// Per state: the `ok` `get`s that read it, by increasing return node.
    pub(crate) readers_by_state: Vec<Vec<u32>>,
    /// Words in a bitset of `info` writes.
    pub(crate) words_per_bitset: usize,
}

impl Timeline {
    pub(crate) fn new(register: &Register) -> Timeline {
        let completed = &register.completed;
        // Events sort by time, calls before returns at equal times, then by
        // operation for determinism.
        let mut events: Vec<(u64, bool, u32)> = Vec::with_capacity(completed.len() * 2);
        for (index, operation) in completed.iter().enumerate() {
            assert!(operation.call <= operation.return_time);
            events.push((operation.call, false, index as u32));
            events.push((operation.return_time, true, index as u32));
        }
        events.sort_unstable();
        let node_count = events.len() + 2;
        assert!(node_count < NONE as usize, "too many operations on one key");
        let tail = (node_count - 1) as u32;
        let mut node_operation = vec![NONE; node_count];
        let mut node_is_return = vec![false; node_count];
        let mut call_node = vec![NONE; completed.len()];
        let mut return_node = vec![NONE; completed.len()];
        for (position, &(_, is_return, operation)) in events.iter().enumerate() {
            let node = position as u32 + 1;
            node_operation[node as usize] = operation;
            node_is_return[node as usize] = is_return;
            if is_return {
                return_node[operation as usize] = node;
            } else {
                call_node[operation as usize] = node;
            }
        }
        node_is_return[tail as usize] = true;

        let state_count = register.state_count as usize;
        let mut writes_by_state = vec![Vec::new(); state_count];
        let mut order: Vec<u32> = (0..register.pending_writes.len() as u32).collect();
        order.sort_unstable_by_key(|&write| (register.pending_writes[write as usize].call, write));
        for write in order {
            let state = register.pending_writes[write as usize].written_state;
            writes_by_state[state as usize].push(write);
        }
        let written_present_states = (0..register.state_count)
            .filter(|&state| state != STATE_ABSENT && !writes_by_state[state as usize].is_empty())
            .collect();
        let mut readers_by_state = vec![Vec::new(); state_count];
        for (index, operation) in completed.iter().enumerate() {
            if let Effect::Get { found: true, state } = operation.effect {
                readers_by_state[state as usize].push(index as u32);
            }
        }
        for readers in &mut readers_by_state {
            readers.sort_unstable_by_key(|&reader| return_node[reader as usize]);
        }
        Timeline {
            node_operation,
            node_is_return,
            call_node,
            return_node,
            tail,
            writes_by_state,
            written_present_states,
            readers_by_state,
            words_per_bitset: register.pending_writes.len().div_ceil(64),
        }
    }
}

/// What the move rules need to know about a configuration.
pub(crate) trait Position {
    /// The register state (already folded by rule 4).
    fn state(&self) -> u32;
    /// `state` folded into the unread-value state when no unlinearized `get`
    /// reads it.
    fn canonical(&self, state: u32) -> u32;
    /// The earliest unconsumed `info` write of `written_state`, if one exists
    /// and was called no later than `time_limit`.
    fn available_write(&self, written_state: u32, time_limit: u64) -> Option<u32>;
}

/// The first candidate that is pure and legal now (rule 1).
pub(crate) fn forced_candidate(
    register: &Register,
    timeline: &Timeline,
    candidates: &[u32],
    state: u32,
) -> Option<u32> {
    candidates.iter().copied().find(|&call_node| {
        let effect =
            register.completed[timeline.node_operation[call_node as usize] as usize].effect;
        effect.is_pure() && effect.apply(state).is_some()
    })
}

/// Appends the moves of a configuration with no forced move: first plain
/// `ok` operations, then `info` write and observer pairs (rules 2 to 4).
pub(crate) fn generate_moves(
    register: &Register,
    timeline: &Timeline,
    position: &impl Position,
    candidates: &[u32],
    first_return: u32,
    moves: &mut Vec<Move>,
) {
    let generator = Generator {
        register,
        timeline,
        position,
        time_limit: register.completed[timeline.node_operation[first_return as usize] as usize]
            .return_time,
    };
    let state = position.state();
    let writers: Vec<(u32, u32, u32)> = candidates
        .iter()
        .filter_map(|&call_node| {
            let group = match generator.effect_of(call_node) {
                Effect::Set { state } => position.canonical(state),
                Effect::Remove { found: true } => GROUP_REMOVE,
                _ => return None,
            };
            let operation = timeline.node_operation[call_node as usize];
            Some((group, timeline.return_node[operation as usize], call_node))
        })
        .collect();
    // Rule 5: of the writes with the same effect, only the earliest-returning.
    let is_eligible = |call_node: u32| {
        let Some(&(group, return_node, _)) = writers.iter().find(|writer| writer.2 == call_node)
        else {
            return true;
        };
        writers
            .iter()
            .all(|other| other.0 != group || (other.1, other.2) >= (return_node, call_node))
    };
    for &call_node in candidates {
        if generator.effect_of(call_node).apply(state).is_some() && is_eligible(call_node) {
            moves.push(Move {
                pending_write: NONE,
                call_node,
            });
        }
    }
    for &call_node in candidates {
        let effect = generator.effect_of(call_node);
        if !effect.is_observer() || effect.apply(state).is_some() || !is_eligible(call_node) {
            continue;
        }
        match effect {
            Effect::Get { found: true, state } => {
                generator.push_write_then(state, call_node, moves);
            }
            Effect::Get { found: false, .. }
            | Effect::Contains { found: false }
            | Effect::Remove { found: false } => {
                generator.push_write_then(STATE_ABSENT, call_node, moves);
            }
            Effect::Remove { found: true } => {
                // After the remove the value is gone, so an unread one
                // makes the others redundant.
                if !generator.push_unread_write_then(call_node, moves) {
                    generator.push_live_writes_then(call_node, moves);
                }
            }
            Effect::Contains { found: true } => {
                generator.push_unread_write_then(call_node, moves);
                generator.push_live_writes_then(call_node, moves);
            }
            Effect::Set { .. } => unreachable!("a set is not an observer"),
        }
    }
}

struct Generator<'a, P> {
    register: &'a Register,
    timeline: &'a Timeline,
    position: &'a P,
    time_limit: u64,
}

impl<P: Position> Generator<'_, P> {
    fn effect_of(&self, call_node: u32) -> Effect {
        self.register.completed[self.timeline.node_operation[call_node as usize] as usize].effect
    }

    /// Pushes "earliest available `info` write of `written_state`, then the
    /// operation at `call_node`" if such a write exists, changes the state
    /// and makes the operation legal. Returns whether it pushed.
    fn push_write_then(&self, written_state: u32, call_node: u32, moves: &mut Vec<Move>) -> bool {
        if self.position.canonical(written_state) == self.position.state() {
            return false;
        }
        if self.effect_of(call_node).apply(written_state).is_none() {
            return false;
        }
        let Some(pending_write) = self
            .position
            .available_write(written_state, self.time_limit)
        else {
            return false;
        };
        moves.push(Move {
            pending_write,
            call_node,
        });
        true
    }

    /// Pushes one move "write of an unread value, then the operation" if
    /// some such write is available.
    fn push_unread_write_then(&self, call_node: u32, moves: &mut Vec<Move>) -> bool {
        self.timeline.written_present_states.iter().any(|&state| {
            self.position.canonical(state) == STATE_UNREAD_VALUE
                && self.push_write_then(state, call_node, moves)
        })
    }

    /// Pushes "write of a value an unlinearized `get` still reads, then the
    /// operation" for each such value with a write available.
    fn push_live_writes_then(&self, call_node: u32, moves: &mut Vec<Move>) {
        for &state in &self.timeline.written_present_states {
            if self.position.canonical(state) != STATE_UNREAD_VALUE {
                self.push_write_then(state, call_node, moves);
            }
        }
    }
}
