//! Counting a majority: the one rule behind every quorum decision of the
//! core (promises, acceptances, check-quorum, read confirmation).
//!
//! Paxos is safe because any two majorities of the same members intersect:
//! a value chosen by one majority is seen by every later phase 1, and a
//! leader confirmed by one majority cannot have been superseded without one
//! of its members having promised a higher ballot. So every decision that
//! depends on "enough replicas" asks a [`Majority`], and nothing else in the
//! core counts members.

use crate::config::Mutation;

/// A majority of a fixed number of voters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Majority {
    voters: usize,
    threshold: usize,
}

impl Majority {
    /// The majority of `voters` (more than half of them).
    pub(crate) fn of(voters: usize) -> Majority {
        assert!(voters > 0, "a cluster has at least one voter");
        Majority {
            voters,
            threshold: voters / 2 + 1,
        }
    }

    /// The quorum phase 2 counts acceptances against. Always the majority,
    /// except under the [`Mutation::AcceptQuorumTooSmall`] mutation, which
    /// the simulator must catch.
    pub(crate) fn for_phase_two(voters: usize, mutation: Mutation) -> Majority {
        let majority = Majority::of(voters);
        if mutation == Mutation::AcceptQuorumTooSmall {
            return Majority {
                threshold: (voters / 2).max(1),
                ..majority
            };
        }
        majority
    }

    /// How many voters make a quorum.
    #[cfg(test)]
    pub(crate) fn threshold(self) -> usize {
        self.threshold
    }

    /// True when `count` voters (the counting replica included, where it
    /// counts itself) make a quorum.
    pub(crate) fn is_reached(self, count: usize) -> bool {
        assert!(
            count <= self.voters,
            "{count} votes counted among {} voters",
            self.voters
        );
        count >= self.threshold
    }

    /// The highest value that a quorum of voters has reached, given the value
    /// each voter has reached (a missing voter counts as having reached
    /// nothing). For read confirmation: the newest round that a quorum has
    /// acknowledged.
    pub(crate) fn highest_reached<T: Ord + Copy + Default>(
        self,
        values: impl IntoIterator<Item = T>,
    ) -> T {
        let mut values: Vec<T> = values.into_iter().collect();
        assert!(
            values.len() <= self.voters,
            "more values than voters: {} > {}",
            values.len(),
            self.voters
        );
        values.resize(self.voters, T::default());
        values.sort_unstable_by(|left, right| right.cmp(left));
        values[self.threshold - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_majority_is_more_than_half() {
        let thresholds: Vec<usize> = (1..=7)
            .map(|voters| Majority::of(voters).threshold())
            .collect();
        assert_eq!(thresholds, [1, 2, 2, 3, 3, 4, 4]);
        assert!(Majority::of(3).is_reached(2));
        assert!(!Majority::of(4).is_reached(2));
    }

    #[test]
    fn the_highest_value_a_quorum_reached_ignores_the_fastest_minority() {
        let majority = Majority::of(5);
        assert_eq!(majority.highest_reached([9_u64, 8, 3, 2, 1]), 3);
        // Two missing voters count as zero: only three reached anything.
        assert_eq!(majority.highest_reached([9_u64, 8, 7]), 7);
        assert_eq!(majority.highest_reached([9_u64, 8]), 0);
    }

    #[test]
    fn only_the_mutation_shrinks_the_phase_two_quorum() {
        assert_eq!(Majority::for_phase_two(3, Mutation::None).threshold(), 2);
        assert_eq!(
            Majority::for_phase_two(3, Mutation::AcceptQuorumTooSmall).threshold(),
            1
        );
    }
}
