//! Lowe's memoization of visited search configurations, with a memory budget.
//!
//! A configuration is an exact key (a slice of `u32` built by the search: the
//! register state and the set of linearized `ok` operations) plus the set of
//! consumed `info` writes as a bitset. Consuming fewer `info` writes never
//! hurts, so a configuration is *dominated* by a visited one with the same key
//! whose consumed set is a subset of its own: everything reachable from the
//! first is reachable from the second.
//!
//! Entries live in flat arrays (no allocation per entry) indexed from an open
//! addressing table. When the budget is exceeded the whole memo is dropped:
//! memoization only prunes, so forgetting costs time, never correctness.

/// Marks an empty slot of the table.
const SLOT_EMPTY: u32 = u32::MAX;
/// Table size when the memo is first used or cleared.
const SLOTS_INITIAL: usize = 1 << 10;

#[derive(Debug)]
pub(crate) struct Memo {
    /// Open addressing table of entry indices; its length is a power of two.
    slots: Vec<u32>,
    /// Per entry: the hash of its key.
    hashes: Vec<u64>,
    /// Per entry plus one: where its key starts in `keys`.
    key_starts: Vec<u32>,
    keys: Vec<u32>,
    /// Per entry: `words_per_bitset` words of consumed `info` writes.
    bitsets: Vec<u64>,
    words_per_bitset: usize,
    bytes_max: usize,
    /// How many times the budget forced a clear.
    clears: u64,
}

impl Memo {
    pub(crate) fn new(words_per_bitset: usize, bytes_max: usize) -> Memo {
        Memo {
            slots: vec![SLOT_EMPTY; SLOTS_INITIAL],
            hashes: Vec::new(),
            key_starts: vec![0],
            keys: Vec::new(),
            bitsets: Vec::new(),
            words_per_bitset,
            bytes_max,
            clears: 0,
        }
    }

    #[cfg(test)]
    fn clears(&self) -> u64 {
        self.clears
    }

    fn entry_count(&self) -> usize {
        self.hashes.len()
    }

    /// Bytes held by live data (allocations may be up to twice as large).
    fn bytes(&self) -> usize {
        self.slots.len() * 4
            + self.hashes.len() * 8
            + self.key_starts.len() * 4
            + self.keys.len() * 4
            + self.bitsets.len() * 8
    }

    /// Returns true if a visited configuration dominates (`key`, `bitset`);
    /// otherwise records it as visited and returns false.
    pub(crate) fn visit(&mut self, key: &[u32], bitset: &[u64]) -> bool {
        assert_eq!(bitset.len(), self.words_per_bitset);
        let hash = hash_key(key);
        let mask = self.slots.len() - 1;
        let mut slot = (hash as usize) & mask;
        loop {
            let entry = self.slots[slot];
            if entry == SLOT_EMPTY {
                break;
            }
            if self.dominates(entry as usize, hash, key, bitset) {
                return true;
            }
            slot = (slot + 1) & mask;
        }
        let entry_bytes = 8 + 4 + key.len() * 4 + bitset.len() * 8;
        let growth_bytes = if self.needs_growth() {
            self.slots.len() * 4
        } else {
            0
        };
        if self.bytes() + entry_bytes + growth_bytes > self.bytes_max {
            self.clear();
        }
        self.insert(hash, key, bitset);
        false
    }

    fn dominates(&self, entry: usize, hash: u64, key: &[u32], bitset: &[u64]) -> bool {
        if self.hashes[entry] != hash {
            return false;
        }
        let stored_key =
            &self.keys[self.key_starts[entry] as usize..self.key_starts[entry + 1] as usize];
        if stored_key != key {
            return false;
        }
        let start = entry * self.words_per_bitset;
        let stored_bitset = &self.bitsets[start..start + self.words_per_bitset];
        stored_bitset
            .iter()
            .zip(bitset)
            .all(|(stored, current)| stored & !current == 0)
    }

    /// Whether one more entry would push the table past half full.
    fn needs_growth(&self) -> bool {
        (self.entry_count() + 1) * 2 > self.slots.len()
    }

    fn insert(&mut self, hash: u64, key: &[u32], bitset: &[u64]) {
        if self.needs_growth() {
            self.grow();
        }
        let entry = self.entry_count();
        assert!(entry < SLOT_EMPTY as usize);
        self.hashes.push(hash);
        self.keys.extend_from_slice(key);
        assert!(self.keys.len() < u32::MAX as usize);
        self.key_starts.push(self.keys.len() as u32);
        self.bitsets.extend_from_slice(bitset);
        self.place(entry as u32, hash);
    }

    fn place(&mut self, entry: u32, hash: u64) {
        let mask = self.slots.len() - 1;
        let mut slot = (hash as usize) & mask;
        while self.slots[slot] != SLOT_EMPTY {
            slot = (slot + 1) & mask;
        }
        self.slots[slot] = entry;
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        self.slots = vec![SLOT_EMPTY; size];
        for entry in 0..self.entry_count() {
            self.place(entry as u32, self.hashes[entry]);
        }
    }

    fn clear(&mut self) {
        self.slots = vec![SLOT_EMPTY; SLOTS_INITIAL];
        self.hashes = Vec::new();
        self.key_starts = vec![0];
        self.keys = Vec::new();
        self.bitsets = Vec::new();
        self.clears += 1;
    }
}

/// A 64-bit hash of a key: FxHash-style mixing per word and a SplitMix64
/// finaliser so that the low bits used as table index are well spread.
pub(crate) fn hash_key(key: &[u32]) -> u64 {
    let mut hash: u64 = key.len() as u64;
    for &word in key {
        hash = (hash.rotate_left(5) ^ u64::from(word)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_is_dominated_by_itself_and_by_fewer_consumed_writes() {
        let mut memo = Memo::new(1, 1 << 20);
        assert!(!memo.visit(&[1, 2, 3], &[0b0101]));
        assert!(memo.visit(&[1, 2, 3], &[0b0101]));
        assert!(memo.visit(&[1, 2, 3], &[0b0111]));
        assert!(!memo.visit(&[1, 2, 3], &[0b0001]));
        assert!(!memo.visit(&[1, 2, 4], &[0b1111]));
        assert!(!memo.visit(&[1, 2], &[0b1111]));
    }

    #[test]
    fn exceeding_the_budget_forgets_everything_and_keeps_working() {
        let mut memo = Memo::new(0, 64 * 1024);
        for value in 0..10_000u32 {
            assert!(!memo.visit(&[value], &[]));
        }
        assert!(memo.clears() > 0);
        assert!(memo.bytes() <= 64 * 1024);
        assert!(memo.visit(&[9_999], &[]));
    }
}
