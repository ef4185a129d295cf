//! Breadth-first search over levels with Pareto pruning: steady when no
//! linearization exists and every order must be ruled out.
//!
//! Every move linearizes exactly one `ok` operation, so the configurations
//! with `d` operations linearized (level `d`) come only from level `d - 1`.
//! A level is kept whole, and within it a configuration is dropped when
//! another with the same key (first return entry, state, candidates; see the
//! depth-first module for why that identifies the linearized set) has
//! consumed a subset of its `info` writes; the depth-first search can only
//! prune against what it happened to visit first, which on histories with
//! many `info` writes makes it revisit the same key again and again.
//!
//! No linearization exists exactly when some level comes out empty; every
//! configuration of the level before is then a dead end, and one of them is
//! reported.

use std::collections::HashMap;

use super::memo::hash_key;
use super::moves::{
    forced_candidate, generate_moves, Deadlock, Move, Position, Timeline, Verdict, NONE,
    RECENT_REPORTED_MAX,
};
use super::register::{Effect, Register, STATE_ABSENT, STATE_UNREAD_VALUE};

/// Searches level by level; `Undecided` if a level would need more than
/// `frontier_bytes_max` bytes.
pub(crate) fn search_breadth_first(
    register: &Register,
    timeline: &Timeline,
    frontier_bytes_max: usize,
) -> Verdict {
    let total = register.completed.len();
    if total == 0 {
        return Verdict::Linearizable;
    }
    let words = timeline.words_per_bitset;
    let mut current = Level::new(words);
    let mut next = Level::new(words);
    let mut root_key = vec![NONE, STATE_ABSENT];
    let mut node = 1;
    while !timeline.node_is_return[node as usize] {
        root_key.push(node);
        node += 1;
    }
    root_key[0] = node;
    current.insert(&root_key, &vec![0; words], Trail::EMPTY);

    let mut expander = Expander {
        register,
        timeline,
        marks: vec![0; timeline.node_operation.len()],
        mark: 0,
        moves: Vec::new(),
        successor_key: Vec::new(),
        successor_bitset: Vec::new(),
    };
    for linearized in 0..total {
        next.clear();
        for configuration in 0..current.len() {
            if !current.alive[configuration] {
                continue;
            }
            if expander.expand(&current, configuration, &mut next) == Expansion::Complete {
                return Verdict::Linearizable;
            }
            if next.bytes() > frontier_bytes_max {
                return Verdict::Undecided;
            }
        }
        if next.alive_count == 0 {
            let stuck = (0..current.len())
                .find(|&configuration| current.alive[configuration])
                .expect("a level that was expanded has a live configuration");
            return Verdict::NotLinearizable(expander.deadlock(&current, stuck, linearized));
        }
        std::mem::swap(&mut current, &mut next);
    }
    unreachable!("a move of the last level linearizes the last operation")
}

/// How a configuration was reached, for the report: who wrote the state and
/// the last few moves.
#[derive(Debug, Clone, Copy)]
struct Trail {
    last_writer: u32,
    recent: [Move; RECENT_REPORTED_MAX],
    recent_count: usize,
}

impl Trail {
    const EMPTY: Trail = Trail {
        last_writer: NONE,
        recent: [Move {
            pending_write: NONE,
            call_node: NONE,
        }; RECENT_REPORTED_MAX],
        recent_count: 0,
    };

    fn followed_by(mut self, applied: Move, last_writer: u32) -> Trail {
        if self.recent_count == RECENT_REPORTED_MAX {
            self.recent.rotate_left(1);
            self.recent[RECENT_REPORTED_MAX - 1] = applied;
        } else {
            self.recent[self.recent_count] = applied;
            self.recent_count += 1;
        }
        self.last_writer = last_writer;
        self
    }
}

/// The configurations of one level, in flat arrays.
struct Level {
    /// Concatenated keys: first return node, state, candidate call nodes.
    keys: Vec<u32>,
    /// Per configuration plus one: where its key starts.
    key_starts: Vec<u32>,
    /// Per configuration: consumed `info` writes.
    bitsets: Vec<u64>,
    words_per_bitset: usize,
    trails: Vec<Trail>,
    /// Per configuration: false once another one dominates it.
    alive: Vec<bool>,
    alive_count: usize,
    /// Per configuration: the previous one with the same key hash.
    chain: Vec<u32>,
    /// Key hash to the last configuration with that hash.
    index: HashMap<u64, u32>,
}

impl Level {
    fn new(words_per_bitset: usize) -> Level {
        Level {
            keys: Vec::new(),
            key_starts: vec![0],
            bitsets: Vec::new(),
            words_per_bitset,
            trails: Vec::new(),
            alive: Vec::new(),
            alive_count: 0,
            chain: Vec::new(),
            index: HashMap::new(),
        }
    }

    fn clear(&mut self) {
        self.keys.clear();
        self.key_starts.truncate(1);
        self.bitsets.clear();
        self.trails.clear();
        self.alive.clear();
        self.alive_count = 0;
        self.chain.clear();
        self.index.clear();
    }

    fn len(&self) -> usize {
        self.alive.len()
    }

    fn bytes(&self) -> usize {
        self.keys.len() * 4
            + self.key_starts.len() * 4
            + self.bitsets.len() * 8
            + self.len() * (std::mem::size_of::<Trail>() + 1 + 4)
            + self.index.len() * 16
    }

    fn key(&self, configuration: usize) -> &[u32] {
        &self.keys
            [self.key_starts[configuration] as usize..self.key_starts[configuration + 1] as usize]
    }

    fn bitset(&self, configuration: usize) -> &[u64] {
        let start = configuration * self.words_per_bitset;
        &self.bitsets[start..start + self.words_per_bitset]
    }

    /// Adds a configuration unless one with the same key consumed a subset
    /// of its `info` writes; drops those it dominates in turn.
    fn insert(&mut self, key: &[u32], bitset: &[u64], trail: Trail) {
        assert_eq!(bitset.len(), self.words_per_bitset);
        let hash = hash_key(key);
        let head = self.index.get(&hash).copied().unwrap_or(NONE);
        let mut cursor = head;
        while cursor != NONE {
            let configuration = cursor as usize;
            cursor = self.chain[configuration];
            if !self.alive[configuration] || self.key(configuration) != key {
                continue;
            }
            if is_subset(self.bitset(configuration), bitset) {
                return;
            }
            if is_subset(bitset, self.bitset(configuration)) {
                self.alive[configuration] = false;
                self.alive_count -= 1;
            }
        }
        let configuration = self.len();
        assert!(configuration < NONE as usize);
        self.keys.extend_from_slice(key);
        assert!(self.keys.len() < u32::MAX as usize);
        self.key_starts.push(self.keys.len() as u32);
        self.bitsets.extend_from_slice(bitset);
        self.trails.push(trail);
        self.alive.push(true);
        self.alive_count += 1;
        self.chain.push(head);
        self.index.insert(hash, configuration as u32);
    }
}

fn is_subset(small: &[u64], large: &[u64]) -> bool {
    small
        .iter()
        .zip(large)
        .all(|(small, large)| small & !large == 0)
}

#[derive(Debug, PartialEq, Eq)]
enum Expansion {
    /// A successor linearizes every operation.
    Complete,
    Continue,
}

/// Expands configurations, with scratch space reused across them.
struct Expander<'r> {
    register: &'r Register,
    timeline: &'r Timeline,
    /// `marks[node] == mark`: the node is a candidate of the configuration
    /// being expanded.
    marks: Vec<u32>,
    mark: u32,
    moves: Vec<Move>,
    successor_key: Vec<u32>,
    successor_bitset: Vec<u64>,
}

/// A configuration of a level, seen by the move rules.
struct View<'a> {
    register: &'a Register,
    timeline: &'a Timeline,
    first_return: u32,
    state: u32,
    bitset: &'a [u64],
    marks: &'a [u32],
    mark: u32,
}

impl View<'_> {
    /// Whether every `ok` `get` reading `state` is linearized, counting
    /// `also_linearized` (an operation or `NONE`) as linearized too.
    fn readers_linearized(&self, state: u32, also_linearized: u32) -> bool {
        let timeline = self.timeline;
        for &reader in timeline.readers_by_state[state as usize].iter().rev() {
            if reader == also_linearized {
                continue;
            }
            let return_node = timeline.return_node[reader as usize];
            if return_node < self.first_return {
                // Readers are sorted by return: all the rest returned even
                // earlier, so they are linearized.
                return true;
            }
            let call_node = timeline.call_node[reader as usize];
            if return_node == self.first_return
                || call_node > self.first_return
                || self.marks[call_node as usize] == self.mark
            {
                return false;
            }
        }
        true
    }

    fn canonical_after(&self, state: u32, also_linearized: u32) -> u32 {
        if state > STATE_UNREAD_VALUE && self.readers_linearized(state, also_linearized) {
            STATE_UNREAD_VALUE
        } else {
            state
        }
    }
}

impl Position for View<'_> {
    fn state(&self) -> u32 {
        self.state
    }

    fn canonical(&self, state: u32) -> u32 {
        self.canonical_after(state, NONE)
    }

    fn available_write(&self, written_state: u32, time_limit: u64) -> Option<u32> {
        // Consumed writes of a state are a prefix of its queue (rule 3).
        let write = self.timeline.writes_by_state[written_state as usize]
            .iter()
            .copied()
            .find(|&write| self.bitset[write as usize / 64] & (1 << (write % 64)) == 0)?;
        (self.register.pending_writes[write as usize].call <= time_limit).then_some(write)
    }
}

impl Expander<'_> {
    fn expand(&mut self, level: &Level, configuration: usize, next: &mut Level) -> Expansion {
        let key = level.key(configuration);
        let (first_return, state, candidates) = (key[0], key[1], &key[2..]);
        self.mark += 1;
        if self.mark == 0 {
            self.marks.fill(0);
            self.mark = 1;
        }
        for &call_node in candidates {
            self.marks[call_node as usize] = self.mark;
        }
        let view = View {
            register: self.register,
            timeline: self.timeline,
            first_return,
            state,
            bitset: level.bitset(configuration),
            marks: &self.marks,
            mark: self.mark,
        };
        self.moves.clear();
        match forced_candidate(self.register, self.timeline, candidates, state) {
            Some(call_node) => self.moves.push(Move {
                pending_write: NONE,
                call_node,
            }),
            None => generate_moves(
                self.register,
                self.timeline,
                &view,
                candidates,
                first_return,
                &mut self.moves,
            ),
        }
        let trail = level.trails[configuration];
        for &applied in &self.moves {
            let timeline = self.timeline;
            let operation_index = timeline.node_operation[applied.call_node as usize];
            let operation = self.register.completed[operation_index as usize];
            let mut successor_state = state;
            let mut last_writer = trail.last_writer;
            self.successor_bitset.clear();
            self.successor_bitset.extend_from_slice(view.bitset);
            if applied.pending_write != NONE {
                let write = self.register.pending_writes[applied.pending_write as usize];
                successor_state = write.written_state;
                last_writer = write.source;
                self.successor_bitset[applied.pending_write as usize / 64] |=
                    1 << (applied.pending_write % 64);
            }
            successor_state = operation
                .effect
                .apply(successor_state)
                .expect("a move is legal where it is generated");
            if matches!(operation.effect, Effect::Set { .. } | Effect::Remove { .. }) {
                last_writer = operation.source;
            }
            successor_state = view.canonical_after(successor_state, operation_index);

            // The successor's key: its first return entry and candidates.
            self.successor_key.clear();
            self.successor_key
                .extend_from_slice(&[first_return, successor_state]);
            self.successor_key.extend(
                candidates
                    .iter()
                    .copied()
                    .filter(|&call_node| call_node != applied.call_node),
            );
            if timeline.return_node[operation_index as usize] == first_return {
                let mut node = first_return + 1;
                loop {
                    if node == timeline.tail {
                        return Expansion::Complete;
                    }
                    if !timeline.node_is_return[node as usize] {
                        self.successor_key.push(node);
                    } else {
                        let returning = timeline.node_operation[node as usize];
                        let call_node = timeline.call_node[returning as usize];
                        let unlinearized = call_node > first_return
                            || (self.marks[call_node as usize] == self.mark
                                && returning != operation_index);
                        if unlinearized {
                            self.successor_key[0] = node;
                            break;
                        }
                    }
                    node += 1;
                }
            }
            next.insert(
                &self.successor_key,
                &self.successor_bitset,
                trail.followed_by(applied, last_writer),
            );
        }
        Expansion::Continue
    }

    fn deadlock(&self, level: &Level, configuration: usize, linearized: usize) -> Deadlock {
        let key = level.key(configuration);
        let trail = level.trails[configuration];
        Deadlock::new(
            self.register,
            self.timeline,
            linearized,
            key[0],
            &key[2..],
            key[1],
            trail.last_writer,
            trail.recent[..trail.recent_count].iter().copied(),
        )
    }
}
