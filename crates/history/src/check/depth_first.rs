//! Depth-first Wing–Gong–Lowe search with Lowe's memoization: fast when a
//! linearization exists, since it usually walks straight to it.
//!
//! The `ok` operations are kept as call and return entries in a doubly linked
//! list sorted by time (Lowe's "just-in-time linearization"): linearizing an
//! operation lifts both of its entries out of the list, and undoing puts
//! them back (dancing links, in stack order). The candidates are the call
//! entries before the first return entry; moves follow the rules of the
//! `moves` module.
//!
//! Memoization: a configuration is the register state, the set of
//! linearized `ok` operations and the set of consumed `info` writes. The
//! linearized set is stored exactly but compactly: with `r` the first return
//! entry left in the list, every operation returning before `r` is
//! linearized, every operation called after `r` is not, and those in between
//! are linearized exactly when their call entry is no longer in the list. So
//! (`r`, the call entries before `r`) identifies the set. A configuration
//! whose consumed set contains that of a visited one with the same key is
//! pruned (see the memo module). Every move linearizes one `ok` operation,
//! so a visited configuration is never an ancestor of a dominated one: a hit
//! always means "already explored and failed".

use super::memo::Memo;
use super::moves::{
    forced_candidate, generate_moves, Deadlock, Move, Position, Timeline, Verdict, HEAD, NONE,
};
use super::register::{CompletedOperation, Effect, Register, STATE_ABSENT, STATE_UNREAD_VALUE};

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

/// Searches for a linearization of `register`, giving up (`Undecided`) after
/// `arrivals_max` configurations when a limit is given.
pub(crate) fn search_depth_first(
    register: &Register,
    timeline: &Timeline,
    memo_bytes_max: usize,
    arrivals_max: Option<u64>,
) -> Verdict {
    DepthFirst::new(register, timeline, memo_bytes_max).run(arrivals_max.unwrap_or(u64::MAX))
}

struct DepthFirst<'r> {
    register: &'r Register,
    timeline: &'r Timeline,
    /// The linked list over the timeline's nodes.
    next: Vec<u32>,
    previous: Vec<u32>,
    /// Per state: how many of its `info` writes are consumed (a prefix).
    consumed_by_state: Vec<u32>,
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

impl Position for DepthFirst<'_> {
    fn state(&self) -> u32 {
        self.state
    }

    fn canonical(&self, state: u32) -> u32 {
        if state > STATE_UNREAD_VALUE && self.readers_remaining[state as usize] == 0 {
            STATE_UNREAD_VALUE
        } else {
            state
        }
    }

    fn available_write(&self, written_state: u32, time_limit: u64) -> Option<u32> {
        let queue = &self.timeline.writes_by_state[written_state as usize];
        let write = *queue.get(self.consumed_by_state[written_state as usize] as usize)?;
        (self.register.pending_writes[write as usize].call <= time_limit).then_some(write)
    }
}

impl<'r> DepthFirst<'r> {
    fn new(
        register: &'r Register,
        timeline: &'r Timeline,
        memo_bytes_max: usize,
    ) -> DepthFirst<'r> {
        let node_count = timeline.node_operation.len() as u32;
        let state_count = register.state_count as usize;
        DepthFirst {
            register,
            timeline,
            next: (1..=node_count).collect(),
            previous: std::iter::once(NONE).chain(0..node_count - 1).collect(),
            consumed_by_state: vec![0; state_count],
            readers_remaining: timeline
                .readers_by_state
                .iter()
                .map(|readers| readers.len() as u32)
                .collect(),
            consumed_bitset: vec![0; timeline.words_per_bitset],
            state: STATE_ABSENT,
            last_writer: NONE,
            completed_remaining: register.completed.len(),
            stack: Vec::new(),
            moves: Vec::new(),
            candidates: Vec::new(),
            memo_key: Vec::new(),
            memo: Memo::new(timeline.words_per_bitset, memo_bytes_max),
            deepest: None,
        }
    }

    fn run(mut self, arrivals_max: u64) -> Verdict {
        let mut arrivals = 0;
        loop {
            if self.completed_remaining == 0 {
                return Verdict::Linearizable;
            }
            arrivals += 1;
            if arrivals > arrivals_max {
                return Verdict::Undecided;
            }
            let first_return = self.collect_candidates();
            let advanced = if self.visit_memo(first_return) {
                false
            } else if let Some(call_node) =
                forced_candidate(self.register, self.timeline, &self.candidates, self.state)
            {
                let position = self.moves.len() as u32;
                let applied = Move {
                    pending_write: NONE,
                    call_node,
                };
                self.push_and_apply(applied, true, position, position, position);
                true
            } else {
                let start = self.moves.len();
                let mut moves = std::mem::take(&mut self.moves);
                generate_moves(
                    self.register,
                    self.timeline,
                    &self,
                    &self.candidates,
                    first_return,
                    &mut moves,
                );
                self.moves = moves;
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
                return Verdict::NotLinearizable(
                    self.deepest
                        .take()
                        .expect("every failed search passes through a dead end"),
                );
            }
        }
    }

    fn operation_at(&self, node: u32) -> &'r CompletedOperation {
        &self.register.completed[self.timeline.node_operation[node as usize] as usize]
    }

    /// Fills `candidates` and returns the first return entry in the list.
    fn collect_candidates(&mut self) -> u32 {
        self.candidates.clear();
        let mut node = self.next[HEAD as usize];
        while !self.timeline.node_is_return[node as usize] {
            self.candidates.push(node);
            node = self.next[node as usize];
        }
        assert_ne!(
            node, self.timeline.tail,
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
                self.timeline.writes_by_state[write.written_state as usize][*consumed as usize],
                applied.pending_write
            );
            *consumed += 1;
            self.consumed_bitset[applied.pending_write as usize / 64] |=
                1 << (applied.pending_write % 64);
            self.state = write.written_state;
            self.last_writer = write.source;
        }
        let operation = *self.operation_at(applied.call_node);
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
        let operation = *self.operation_at(frame.applied.call_node);
        if let Effect::Get { found: true, state } = operation.effect {
            self.readers_remaining[state as usize] += 1;
        }
        self.completed_remaining += 1;
        if frame.applied.pending_write != NONE {
            let write = self.register.pending_writes[frame.applied.pending_write as usize];
            let consumed = &mut self.consumed_by_state[write.written_state as usize];
            *consumed -= 1;
            assert_eq!(
                self.timeline.writes_by_state[write.written_state as usize][*consumed as usize],
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
        let return_node =
            self.timeline.return_node[self.timeline.node_operation[call_node as usize] as usize];
        for node in [call_node, return_node] {
            let (previous, next) = (self.previous[node as usize], self.next[node as usize]);
            self.next[previous as usize] = next;
            self.previous[next as usize] = previous;
        }
    }

    /// Puts back what the matching `lift` took out (stack order only).
    fn unlift(&mut self, call_node: u32) {
        let return_node =
            self.timeline.return_node[self.timeline.node_operation[call_node as usize] as usize];
        for node in [return_node, call_node] {
            let (previous, next) = (self.previous[node as usize], self.next[node as usize]);
            self.next[previous as usize] = node;
            self.previous[next as usize] = node;
        }
    }

    /// Remembers this dead end if it is the deepest so far.
    fn record_dead_end(&mut self, first_return: u32) {
        let completed_linearized = self.register.completed.len() - self.completed_remaining;
        if self
            .deepest
            .as_ref()
            .is_some_and(|deepest| deepest.completed_linearized >= completed_linearized)
        {
            return;
        }
        self.deepest = Some(Deadlock::new(
            self.register,
            self.timeline,
            completed_linearized,
            first_return,
            &self.candidates,
            self.state,
            self.last_writer,
            self.stack.iter().map(|frame| frame.applied),
        ));
    }
}
