//! The Wing–Gong–Lowe search for a linearization of one register's history.
//!
//! The `ok` operations are kept as call and return entries in a doubly linked
//! list sorted by time (Lowe's "just-in-time linearization"): an operation
//! may be linearized next while its call entry comes before the first return
//! entry left in the list, and linearizing it lifts both of its entries out of
//! the list; undoing puts them back (dancing links, in stack order). At equal
//! times call entries sort before return entries, so intervals are closed: an
//! operation precedes another only if it returned strictly before the other
//! was called.
//!
//! `info` writes (`set`/`remove` of unknown outcome) have no return entry:
//! they never block the search and success only requires every `ok`
//! operation to be linearized. They are not in the list either; they wait in
//! per-state queues and are consumed as described below.
//!
//! The search explores a reduced set of orders. Each reduction keeps at least
//! one linearization whenever one exists:
//! 1. **Pure operations first.** An operation that is legal now and never
//!    changes the state where it is legal (`get`, `contains`,
//!    `remove` with `found=false`) can be moved to the front of any
//!    linearization of the remaining operations, so when one is legal it is
//!    the only move tried (a "forced" move); if it fails, its parent fails.
//! 2. **`info` writes only just before an observer.** An `info` write is a
//!    blind write and need not happen at all, so in some linearization every
//!    `info` write that happens is immediately followed by an `ok` operation
//!    that observes the state and was illegal without it (otherwise drop the
//!    write). Moves are therefore "an `ok` operation" or "one `info` write
//!    then an `ok` observer".
//! 3. **Earliest of equals.** `info` writes of the same state are
//!    interchangeable once called, so the earliest-called unconsumed one is
//!    used; consumed writes of a state are thus a prefix of its queue.
//! 4. **Any unread value will do.** For a `remove` with `found=true` the
//!    written value does not matter, and a write of a never-read value can
//!    stand in for any other, so only that one is tried when available.
//!
//! Memoization (Lowe): a configuration is the register state, the set of
//! linearized `ok` operations and the set of consumed `info` writes. The
//! linearized set is stored exactly but compactly: with `r` the first return
//! entry left in the list, every operation returning before `r` is
//! linearized, every operation called after `r` is not, and those in between
//! are linearized exactly when their call entry is no longer in the list. So
//! (`r`, the call entries before `r`) identifies the set. A configuration
//! whose consumed set contains that of a visited one with the same key is
//! pruned (see the memo module). A visited configuration is never an
//! ancestor of a dominated one (rule 2 means every move linearizes an `ok`
//! operation), so a hit always means "already explored and failed".

use super::memo::Memo;
use super::register::{Effect, Register, STATE_ABSENT, STATE_UNREAD_VALUE};

/// "No such thing" in `u32` index fields.
const NONE: u32 = u32::MAX;
/// The list's head sentinel.
const HEAD: u32 = 0;
/// How many pending operations a deadlock report names at most.
const PENDING_REPORTED_MAX: usize = 8;
/// How many of the last linearized operations a deadlock report names.
const RECENT_REPORTED_MAX: usize = 4;

/// The deepest point where the search found no way forward.
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

/// One step of the search: optionally an `info` write, then an `ok`
/// operation (named by its call entry).
#[derive(Debug, Clone, Copy)]
struct Move {
    pending_write: u32,
    call_node: u32,
}

/// What is needed to undo a move and to go on with its siblings.
#[derive(Debug, Clone, Copy)]
struct Frame {
    applied: Move,
    state_before: u32,
    last_writer_before: u32,
    /// A forced move is the parent's only move: if it fails, so does the
    /// parent.
    forced: bool,
    /// The parent's moves are `moves[parent_moves_start..parent_moves_end]`.
    parent_moves_start: u32,
    parent_moves_end: u32,
    next_move: u32,
}

/// Searches for a linearization of `register`; `Err` describes the deepest
/// dead end when there is none.
pub(crate) fn search(register: &Register, memo_bytes_max: usize) -> Result<(), Deadlock> {
    Search::new(register, memo_bytes_max).run()
}

struct Search<'r> {
    register: &'r Register,
    /// Linked list over nodes: `HEAD`, one call and one return entry per `ok`
    /// operation in time order, then the tail sentinel.
    next: Vec<u32>,
    previous: Vec<u32>,
    /// Per node: the `ok` operation, `NONE` for sentinels.
    node_operation: Vec<u32>,
    /// Per node: whether it is a return entry (the tail counts as one).
    node_is_return: Vec<bool>,
    /// Per `ok` operation: its return entry.
    return_node: Vec<u32>,
    tail: u32,
    /// Per state: the `info` writes of that state, earliest call first.
    writes_by_state: Vec<Vec<u32>>,
    /// Per state: how many of its `info` writes are consumed (a prefix).
    consumed_by_state: Vec<u32>,
    /// States other than absent that some `info` write produces.
    written_present_states: Vec<u32>,
    /// Per state: how many unlinearized `ok` `get`s read it.
    readers_remaining: Vec<u32>,
    /// Consumed `info` writes, one bit each.
    consumed_bitset: Vec<u64>,
    state: u32,
    last_writer: u32,
    completed_remaining: usize,
    stack: Vec<Frame>,
    moves: Vec<Move>,
    /// Scratch: call nodes before the first return entry, in list order.
    candidates: Vec<u32>,
    /// Scratch: the memo key of the current configuration.
    memo_key: Vec<u32>,
    memo: Memo,
    deepest: Option<Deadlock>,
}

impl<'r> Search<'r> {
    fn new(register: &'r Register, memo_bytes_max: usize) -> Search<'r> {
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
        assert!(node_count < NONE as usize);
        let tail = (node_count - 1) as u32;
        let mut node_operation = vec![NONE; node_count];
        let mut node_is_return = vec![false; node_count];
        let mut return_node = vec![NONE; completed.len()];
        for (position, &(_, is_return, operation)) in events.iter().enumerate() {
            let node = position + 1;
            node_operation[node] = operation;
            node_is_return[node] = is_return;
            if is_return {
                return_node[operation as usize] = node as u32;
            }
        }
        node_is_return[tail as usize] = true;
        let next = (1..=node_count as u32).collect();
        let previous = std::iter::once(NONE).chain(0..tail).collect();

        let mut writes_by_state = vec![Vec::new(); register.state_count as usize];
        let mut order: Vec<u32> = (0..register.pending_writes.len() as u32).collect();
        order.sort_unstable_by_key(|&write| (register.pending_writes[write as usize].call, write));
        for write in order {
            let state = register.pending_writes[write as usize].written_state;
            writes_by_state[state as usize].push(write);
        }
        let written_present_states = (0..register.state_count)
            .filter(|&state| state != STATE_ABSENT && !writes_by_state[state as usize].is_empty())
            .collect();
        let words_per_bitset = register.pending_writes.len().div_ceil(64);
        let mut readers_remaining = vec![0; register.state_count as usize];
        for operation in completed {
            if let Effect::Get { found: true, state } = operation.effect {
                readers_remaining[state as usize] += 1;
            }
        }
        Search {
            register,
            next,
            previous,
            node_operation,
            node_is_return,
            return_node,
            tail,
            writes_by_state,
            consumed_by_state: vec![0; register.state_count as usize],
            written_present_states,
            readers_remaining,
            consumed_bitset: vec![0; words_per_bitset],
            state: STATE_ABSENT,
            last_writer: NONE,
            completed_remaining: completed.len(),
            stack: Vec::new(),
            moves: Vec::new(),
            candidates: Vec::new(),
            memo_key: Vec::new(),
            memo: Memo::new(words_per_bitset, memo_bytes_max),
            deepest: None,
        }
    }

    fn run(mut self) -> Result<(), Deadlock> {
        loop {
            if self.completed_remaining == 0 {
                return Ok(());
            }
            let first_return = self.collect_candidates();
            let advanced = if self.visit_memo(first_return) {
                false
            } else if let Some(call_node) = self.forced_candidate() {
                let position = self.moves.len() as u32;
                let applied = Move {
                    pending_write: NONE,
                    call_node,
                };
                self.push_and_apply(applied, true, position, position, position);
                true
            } else {
                let start = self.moves.len();
                self.generate_moves(first_return);
                let end = self.moves.len();
                if start == end {
                    self.record_dead_end(first_return);
                    false
                } else {
                    let applied = self.moves[start];
                    self.push_and_apply(applied, false, start as u32, start as u32 + 1, end as u32);
                    true
                }
            };
            if !advanced && !self.backtrack() {
                return Err(self
                    .deepest
                    .take()
                    .expect("every failed search passes through a dead end"));
            }
        }
    }

    fn effect_of(&self, call_node: u32) -> Effect {
        self.register.completed[self.node_operation[call_node as usize] as usize].effect
    }

    /// Fills `candidates` and returns the first return entry in the list.
    fn collect_candidates(&mut self) -> u32 {
        self.candidates.clear();
        let mut node = self.next[HEAD as usize];
        while !self.node_is_return[node as usize] {
            self.candidates.push(node);
            node = self.next[node as usize];
        }
        assert_ne!(
            node, self.tail,
            "an operation not linearized has a return entry left"
        );
        node
    }

    /// Returns true if the current configuration is dominated by a visited
    /// one, and records it otherwise.
    fn visit_memo(&mut self, first_return: u32) -> bool {
        self.memo_key.clear();
        self.memo_key.push(first_return);
        self.memo_key.push(self.state);
        self.memo_key.extend_from_slice(&self.candidates);
        self.memo.visit(&self.memo_key, &self.consumed_bitset)
    }

    /// The first candidate that is pure and legal now (rule 1).
    fn forced_candidate(&self) -> Option<u32> {
        self.candidates.iter().copied().find(|&call_node| {
            let effect = self.effect_of(call_node);
            effect.is_pure() && effect.apply(self.state).is_some()
        })
    }

    /// Appends the moves of the current configuration: first plain `ok`
    /// operations, then `info` write and observer pairs (rules 2 to 4).
    fn generate_moves(&mut self, first_return: u32) {
        let time_limit = self.register.completed
            [self.node_operation[first_return as usize] as usize]
            .return_time;
        for index in 0..self.candidates.len() {
            let call_node = self.candidates[index];
            if self.effect_of(call_node).apply(self.state).is_some() {
                self.moves.push(Move {
                    pending_write: NONE,
                    call_node,
                });
            }
        }
        for index in 0..self.candidates.len() {
            let call_node = self.candidates[index];
            let effect = self.effect_of(call_node);
            if !effect.is_observer() || effect.apply(self.state).is_some() {
                continue;
            }
            match effect {
                Effect::Get { found: true, state } => {
                    self.push_write_then(state, call_node, time_limit);
                }
                Effect::Get { found: false, .. }
                | Effect::Contains { found: false }
                | Effect::Remove { found: false } => {
                    self.push_write_then(STATE_ABSENT, call_node, time_limit);
                }
                Effect::Remove { found: true } => {
                    // Any unread value will do, and makes the others
                    // redundant (rule 4).
                    if !self.push_unread_write_then(call_node, time_limit) {
                        self.push_live_writes_then(call_node, time_limit);
                    }
                }
                Effect::Contains { found: true } => {
                    self.push_unread_write_then(call_node, time_limit);
                    self.push_live_writes_then(call_node, time_limit);
                }
                Effect::Set { .. } => unreachable!("a set is not an observer"),
            }
        }
    }

    /// Pushes one move "write of an unread value, then the operation at
    /// `call_node`" if some such write is available. Writes of values whose
    /// readers are all linearized count as unread: they are interchangeable.
    fn push_unread_write_then(&mut self, call_node: u32, time_limit: u64) -> bool {
        for index in 0..self.written_present_states.len() {
            let state = self.written_present_states[index];
            if self.canonical(state) == STATE_UNREAD_VALUE
                && self.push_write_then(state, call_node, time_limit)
            {
                return true;
            }
        }
        false
    }

    /// Pushes "write of a value some unlinearized get still reads, then the
    /// operation at `call_node`" for each such value with a write available.
    fn push_live_writes_then(&mut self, call_node: u32, time_limit: u64) {
        for index in 0..self.written_present_states.len() {
            let state = self.written_present_states[index];
            if self.canonical(state) != STATE_UNREAD_VALUE {
                self.push_write_then(state, call_node, time_limit);
            }
        }
    }

    /// `state`, or the unread-value state if no unlinearized `get` reads it:
    /// from then on no operation can tell the two apart.
    fn canonical(&self, state: u32) -> u32 {
        if state > STATE_UNREAD_VALUE && self.readers_remaining[state as usize] == 0 {
            STATE_UNREAD_VALUE
        } else {
            state
        }
    }

    /// Pushes the move "earliest available `info` write of `written_state`,
    /// then the operation at `call_node`" if such a write is available and
    /// makes the operation legal. Returns whether it pushed.
    fn push_write_then(&mut self, written_state: u32, call_node: u32, time_limit: u64) -> bool {
        if self.canonical(written_state) == self.state {
            return false;
        }
        let queue = &self.writes_by_state[written_state as usize];
        let consumed = self.consumed_by_state[written_state as usize] as usize;
        let Some(&pending_write) = queue.get(consumed) else {
            return false;
        };
        if self.register.pending_writes[pending_write as usize].call > time_limit {
            return false;
        }
        if self.effect_of(call_node).apply(written_state).is_none() {
            return false;
        }
        self.moves.push(Move {
            pending_write,
            call_node,
        });
        true
    }

    fn push_and_apply(
        &mut self,
        applied: Move,
        forced: bool,
        parent_moves_start: u32,
        next_move: u32,
        parent_moves_end: u32,
    ) {
        self.stack.push(Frame {
            applied,
            state_before: self.state,
            last_writer_before: self.last_writer,
            forced,
            parent_moves_start,
            parent_moves_end,
            next_move,
        });
        if applied.pending_write != NONE {
            let write = self.register.pending_writes[applied.pending_write as usize];
            let consumed = &mut self.consumed_by_state[write.written_state as usize];
            assert_eq!(
                self.writes_by_state[write.written_state as usize][*consumed as usize],
                applied.pending_write
            );
            *consumed += 1;
            self.consumed_bitset[applied.pending_write as usize / 64] |=
                1 << (applied.pending_write % 64);
            self.state = write.written_state;
            self.last_writer = write.source;
        }
        let operation =
            self.register.completed[self.node_operation[applied.call_node as usize] as usize];
        self.state = operation
            .effect
            .apply(self.state)
            .expect("a move is legal where it is generated");
        if matches!(operation.effect, Effect::Set { .. } | Effect::Remove { .. }) {
            self.last_writer = operation.source;
        }
        if let Effect::Get { found: true, state } = operation.effect {
            self.readers_remaining[state as usize] -= 1;
        }
        self.state = self.canonical(self.state);
        self.lift(applied.call_node);
        self.completed_remaining -= 1;
    }

    fn undo(&mut self, frame: &Frame) {
        self.unlift(frame.applied.call_node);
        let operation =
            self.register.completed[self.node_operation[frame.applied.call_node as usize] as usize];
        if let Effect::Get { found: true, state } = operation.effect {
            self.readers_remaining[state as usize] += 1;
        }
        self.completed_remaining += 1;
        if frame.applied.pending_write != NONE {
            let write = self.register.pending_writes[frame.applied.pending_write as usize];
            let consumed = &mut self.consumed_by_state[write.written_state as usize];
            *consumed -= 1;
            assert_eq!(
                self.writes_by_state[write.written_state as usize][*consumed as usize],
                frame.applied.pending_write
            );
            self.consumed_bitset[frame.applied.pending_write as usize / 64] &=
                !(1 << (frame.applied.pending_write % 64));
        }
        self.state = frame.state_before;
        self.last_writer = frame.last_writer_before;
    }

    /// Undoes moves until one has an untried sibling, and applies that
    /// sibling. Returns false when the root has failed.
    fn backtrack(&mut self) -> bool {
        while let Some(frame) = self.stack.pop() {
            self.undo(&frame);
            self.moves.truncate(frame.parent_moves_end as usize);
            if frame.forced {
                continue;
            }
            if frame.next_move < frame.parent_moves_end {
                let applied = self.moves[frame.next_move as usize];
                self.push_and_apply(
                    applied,
                    false,
                    frame.parent_moves_start,
                    frame.next_move + 1,
                    frame.parent_moves_end,
                );
                return true;
            }
            self.moves.truncate(frame.parent_moves_start as usize);
        }
        false
    }

    /// Lifts an operation's call and return entries out of the list.
    fn lift(&mut self, call_node: u32) {
        let return_node = self.return_node[self.node_operation[call_node as usize] as usize];
        for node in [call_node, return_node] {
            let (previous, next) = (self.previous[node as usize], self.next[node as usize]);
            self.next[previous as usize] = next;
            self.previous[next as usize] = previous;
        }
    }

    /// Puts back what the matching `lift` took out (stack order only).
    fn unlift(&mut self, call_node: u32) {
        let return_node = self.return_node[self.node_operation[call_node as usize] as usize];
        for node in [return_node, call_node] {
            let (previous, next) = (self.previous[node as usize], self.next[node as usize]);
            self.next[previous as usize] = node;
            self.previous[next as usize] = node;
        }
    }

    /// Remembers this dead end if it is the deepest so far.
    fn record_dead_end(&mut self, first_return: u32) {
        let completed_total = self.register.completed.len();
        let completed_linearized = completed_total - self.completed_remaining;
        if self
            .deepest
            .as_ref()
            .is_some_and(|deepest| deepest.completed_linearized >= completed_linearized)
        {
            return;
        }
        let source_of =
            |node: u32| self.register.completed[self.node_operation[node as usize] as usize].source;
        let blocking = self.node_operation[first_return as usize];
        let mut pending = vec![source_of(first_return)];
        pending.extend(
            self.candidates
                .iter()
                .filter(|&&call_node| self.node_operation[call_node as usize] != blocking)
                .map(|&call_node| source_of(call_node))
                .take(PENDING_REPORTED_MAX - 1),
        );
        let mut recent = Vec::new();
        for frame in self.stack.iter().rev() {
            if recent.len() >= RECENT_REPORTED_MAX {
                break;
            }
            recent.push(source_of(frame.applied.call_node));
            if frame.applied.pending_write != NONE {
                recent.push(
                    self.register.pending_writes[frame.applied.pending_write as usize].source,
                );
            }
        }
        recent.truncate(RECENT_REPORTED_MAX);
        recent.reverse();
        self.deepest = Some(Deadlock {
            completed_linearized,
            completed_total,
            pending,
            recent,
            state: self.state,
            last_writer: (self.last_writer != NONE).then_some(self.last_writer),
        });
    }
}
