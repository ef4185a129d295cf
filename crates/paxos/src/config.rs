//! Tunables of the core. Every limit is a named constant with its unit last;
//! the defaults are what the server and the simulator use.

use crate::types::NodeId;

/// Ticks between two heartbeats of a leader (and retransmissions of
/// unacknowledged accepts).
pub const HEARTBEAT_INTERVAL_TICKS_DEFAULT: u64 = 2;
/// A follower that hears nothing from a leader for a random time in
/// `[timeout, 2 × timeout)` ticks starts an election (with a pre-vote). The
/// same length bounds the two leases of check-quorum and stickiness: a
/// leader that heard from no quorum within it steps down, and a follower
/// that heard from its leader within it refuses pre-votes.
pub const ELECTION_TIMEOUT_TICKS_DEFAULT: u64 = 10;
/// Undecided slots a leader may have in flight at once (the pipeline window).
pub const PIPELINE_SLOTS_MAX_DEFAULT: u64 = 256;
/// Commands batched into one slot at most.
pub const BATCH_COMMANDS_MAX_DEFAULT: usize = 1_024;
/// Payload bytes batched into one slot at most (a single larger command
/// still gets a slot of its own).
pub const BATCH_SIZE_MAX_BYTES_DEFAULT: usize = 1024 * 1024;
/// Slots carried by one Accept message at most.
pub const ACCEPT_SLOTS_PER_MESSAGE_MAX_DEFAULT: usize = 64;
/// Decided slots sent in one catch-up reply at most.
pub const CATCH_UP_SLOTS_PER_MESSAGE_MAX_DEFAULT: usize = 128;
/// Commands a leader queues (or a leaderless follower holds) before it
/// rejects new ones: backpressure instead of unbounded memory.
pub const PROPOSALS_QUEUED_MAX_DEFAULT: usize = 100_000;
/// Reads pending at once before new ones are rejected.
pub const READS_PENDING_MAX_DEFAULT: usize = 100_000;
/// How long a proposal or read may wait for a leader to be known, or a read
/// for its confirmation, before it is reported as failed.
pub const REQUEST_TIMEOUT_TICKS_DEFAULT: u64 = 40;
/// A lagging replica re-sends an unanswered catch-up request after this long.
pub const CATCH_UP_RETRY_TICKS_DEFAULT: u64 = 4;
/// A snapshot is due once this many applied slots are held in the log.
pub const SNAPSHOT_INTERVAL_SLOTS_DEFAULT: u64 = 10_000;
/// A snapshot is due once the applied part of the log holds this many
/// payload bytes, whatever the number of slots.
pub const SNAPSHOT_LOG_SIZE_MAX_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;
/// State bytes carried by one snapshot chunk at most: a transfer holds one
/// chunk in flight, so this bounds what it adds to either side's memory
/// (beyond the snapshot itself, which every replica keeps to serve it).
pub const SNAPSHOT_CHUNK_SIZE_MAX_BYTES_DEFAULT: u64 = 1024 * 1024;
/// A snapshot a peer announces larger than this is refused before anything
/// is allocated for it.
pub const SNAPSHOT_SIZE_MAX_BYTES_DEFAULT: u64 = 4 * 1024 * 1024 * 1024;

/// The largest difference in clock rate between two replicas that the
/// leader lease tolerates, in percent: one replica's tick may be this much
/// longer than another's, plus this much shorter. Real clocks differ by far
/// less (NTP slews a monotonic clock by at most 0.05 %). A clock that
/// jumps or stops is not a rate drift: a machine whose monotonic clock
/// can stand still while time passes for the others (a suspended virtual
/// machine, where CLOCK_MONOTONIC does not count the suspension) breaks
/// the assumption. A lease is safe only while it holds, which is why it is
/// off by default (see [`Config::lease_ticks`]).
pub const LEASE_CLOCK_DRIFT_MAX_PERCENT: u64 = 10;

/// The longest leader lease that is safe for `election_timeout_ticks`.
///
/// A follower that acknowledged a heartbeat refuses pre-votes and promises
/// to anyone but that leader for `election_timeout_ticks` of its own ticks
/// after receiving it, which is at least `election_timeout_ticks - 1` of
/// its tick lengths after the leader sent it (its first tick may come at
/// once). The leader sent the heartbeat after its tick `start` and serves
/// reads while its count is below `start + lease`, that is, less than
/// `lease` of its tick lengths after sending. Tick lengths differ by at
/// most [`LEASE_CLOCK_DRIFT_MAX_PERCENT`] each way, so `lease × (100 +
/// drift) ≤ (timeout - 1) × (100 - drift)` suffices; one tick less is kept
/// as a margin for a tick the drive loop delivers late. Hence `(timeout -
/// 1) × (100 - drift) / (100 + drift) - 1`, rounded down.
pub const fn lease_ticks_max(election_timeout_ticks: u64) -> u64 {
    let drift = LEASE_CLOCK_DRIFT_MAX_PERCENT;
    (election_timeout_ticks.saturating_sub(1) * (100 - drift) / (100 + drift)).saturating_sub(1)
}

/// Deliberately broken protocol variants for mutation testing: the simulator
/// must catch every one of them. Only exists with the `mutations` feature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mutation {
    /// The correct protocol.
    #[default]
    None,
    /// Phase 2 counts `f` acceptances as a quorum instead of `f + 1`.
    AcceptQuorumTooSmall,
    /// A new leader ignores the values reported in promises and fills every
    /// open slot with a no-op.
    LeaderIgnoresPromisedValues,
    /// An acceptor accepts a value even below the ballot it promised.
    AcceptBelowPromise,
    /// Decided slots are handed out for apply as soon as they are decided,
    /// without waiting for the slots before them.
    ApplyOutOfOrder,
    /// The leader serves reads at once, without a quorum confirming that no
    /// higher ballot exists.
    ReadWithoutConfirmation,
    /// A leader counts its own acceptance of a value as it records it,
    /// before the write is durable (see [`crate::OwnVotes`]): it may then
    /// announce, apply and answer a decision that a crash takes back.
    CountOwnVoteBeforeWrite,
    /// A follower counts its own acceptance as it records it, before the
    /// write is durable: with the leader's acceptance it decides, applies
    /// and answers a write that a crash of both can take back. The node
    /// scenario
    /// `a_follower_counts_its_own_acceptance_only_once_it_is_durable`
    /// catches it.
    CountFollowerVoteBeforeWrite,
    /// The leader lease lasts the election timeout less one tick, as if
    /// clocks ran at exactly the same rate: a leader whose clock runs slow
    /// (within the drift bound) keeps serving reads after a new leader was
    /// elected and took writes. Check-quorum deposes a leader about when a
    /// new one may first be elected, so only drift opens the window, and
    /// random seeds rarely reach it: the node scenario
    /// `a_lease_that_ignores_clock_drift_serves_a_stale_read_when_clocks_drift`
    /// drives the clocks to the bound and catches it.
    LeaseIgnoresClockDrift,
    /// Phase 2 counts the acceptances of learners as well as voters: a
    /// slot may be decided without a majority of the voters that govern it.
    LearnersVote,
    /// A configuration change governs the slot right after its own, not
    /// `CONFIGURATION_DELAY_SLOTS` later, while the leader keeps its
    /// window: slots already proposed under the old configuration are
    /// then decided by the new one's majority.
    ConfigurationWithoutDelay,
    /// A replica whose election timeout expires raises its ballot at once,
    /// without asking for pre-votes first. Safe, but a node that can send
    /// and not receive deposes every new leader: the simulator's
    /// availability check must catch it.
    PreVoteDisabled,
    /// The node around the core serves a read of a key whose deadline its
    /// own wall clock has passed as if the key were gone, as Redis-Raft
    /// does, instead of going by the agreed time: a leader whose clock
    /// runs ahead hides a key that a later leader, whose clock is behind,
    /// returns again. The expiry scenarios of the simulator catch it.
    ReadsExpireByLocalClock,
    /// The node drops the watches of every transaction it proposes, so
    /// `EXEC` runs even when a watched key changed: two concurrent
    /// check-and-set transfers then lose one's update. The simulator's bank
    /// check catches it.
    WatchesIgnored,
}

impl Mutation {
    /// Variants that break availability only; the availability check of
    /// the simulator catches them, not the safety checks.
    pub const UNAVAILABLE: [Mutation; 1] = [Mutation::PreVoteDisabled];

    /// Variants that break membership changes only: the simulator catches
    /// them in runs with changes, by its governing-quorum check.
    pub const MEMBERSHIP: [Mutation; 2] =
        [Mutation::LearnersVote, Mutation::ConfigurationWithoutDelay];

    /// Every variant that breaks safety, for the mutation test matrix.
    pub const BROKEN: [Mutation; 6] = [
        Mutation::AcceptQuorumTooSmall,
        Mutation::LeaderIgnoresPromisedValues,
        Mutation::AcceptBelowPromise,
        Mutation::ApplyOutOfOrder,
        Mutation::ReadWithoutConfirmation,
        Mutation::CountOwnVoteBeforeWrite,
    ];
}

/// Configuration of one replica.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// This replica's id. A node outside `members` is joining: it votes
    /// in nothing until a configuration change makes it a voter.
    pub id: NodeId,
    /// The voters of the cluster's initial configuration (epoch 0), which
    /// governs every slot until a change decided in the log replaces it.
    pub members: Vec<NodeId>,
    /// See [`HEARTBEAT_INTERVAL_TICKS_DEFAULT`].
    pub heartbeat_interval_ticks: u64,
    /// See [`ELECTION_TIMEOUT_TICKS_DEFAULT`].
    pub election_timeout_ticks: u64,
    /// See [`PIPELINE_SLOTS_MAX_DEFAULT`].
    pub pipeline_slots_max: u64,
    /// See [`BATCH_COMMANDS_MAX_DEFAULT`].
    pub batch_commands_max: usize,
    /// See [`BATCH_SIZE_MAX_BYTES_DEFAULT`].
    pub batch_size_max_bytes: usize,
    /// See [`ACCEPT_SLOTS_PER_MESSAGE_MAX_DEFAULT`].
    pub accept_slots_per_message_max: usize,
    /// See [`CATCH_UP_SLOTS_PER_MESSAGE_MAX_DEFAULT`].
    pub catch_up_slots_per_message_max: usize,
    /// See [`PROPOSALS_QUEUED_MAX_DEFAULT`].
    pub proposals_queued_max: usize,
    /// See [`READS_PENDING_MAX_DEFAULT`].
    pub reads_pending_max: usize,
    /// See [`REQUEST_TIMEOUT_TICKS_DEFAULT`].
    pub request_timeout_ticks: u64,
    /// See [`CATCH_UP_RETRY_TICKS_DEFAULT`].
    pub catch_up_retry_ticks: u64,
    /// See [`SNAPSHOT_INTERVAL_SLOTS_DEFAULT`].
    pub snapshot_interval_slots: u64,
    /// See [`SNAPSHOT_LOG_SIZE_MAX_BYTES_DEFAULT`].
    pub snapshot_log_size_max_bytes: u64,
    /// See [`SNAPSHOT_CHUNK_SIZE_MAX_BYTES_DEFAULT`].
    pub snapshot_chunk_size_max_bytes: u64,
    /// See [`SNAPSHOT_SIZE_MAX_BYTES_DEFAULT`].
    pub snapshot_size_max_bytes: u64,
    /// Ask for pre-votes before raising the ballot (on by default). Off is
    /// safe but lets a node that can send and not receive depose every
    /// leader. Only the model check turns it off, to keep its state space
    /// small: a pre-vote changes no promise and no accepted value, so every
    /// behaviour of the acceptors with pre-votes is also one without them,
    /// where a timeout may fire at any moment.
    pub pre_vote: bool,
    /// A leader tells each follower that makes a majority with it when its
    /// own acceptance of new slots is durable (on by default), so that the
    /// follower decides them as soon as its own acceptance is durable too,
    /// without waiting for the commit index. Only the model check turns it
    /// off in its checks bounded by messages in flight: each announcement
    /// is one more message in flight, and those bounds were chosen as the
    /// smallest that reach given interleavings. Its checks without such a
    /// bound run with announcements.
    pub announce_acceptance: bool,
    /// The leader lease, in ticks; 0 (the default) turns it off. While a
    /// heartbeat round that started less than this long ago was
    /// acknowledged by a majority, the leader serves linearizable reads
    /// without a confirmation round of their own, and every replica
    /// refuses promises (not only pre-votes) to anyone but the leader it
    /// hears, and all promises for an election timeout after it starts.
    /// Safe only under the clock-drift bound [`LEASE_CLOCK_DRIFT_MAX_PERCENT`]
    /// and with ticks that follow a monotonic clock, a paused process
    /// included (the driver delivers the ticks it missed before any input);
    /// at most [`lease_ticks_max`].
    pub lease_ticks: u64,
    /// Broken variant to run, for mutation tests only.
    #[cfg(feature = "mutations")]
    pub mutation: Mutation,
}

impl Config {
    /// A configuration with every default, for `id` in a cluster of `members`.
    pub fn new(id: NodeId, members: Vec<NodeId>) -> Config {
        Config {
            id,
            members,
            heartbeat_interval_ticks: HEARTBEAT_INTERVAL_TICKS_DEFAULT,
            election_timeout_ticks: ELECTION_TIMEOUT_TICKS_DEFAULT,
            pipeline_slots_max: PIPELINE_SLOTS_MAX_DEFAULT,
            batch_commands_max: BATCH_COMMANDS_MAX_DEFAULT,
            batch_size_max_bytes: BATCH_SIZE_MAX_BYTES_DEFAULT,
            accept_slots_per_message_max: ACCEPT_SLOTS_PER_MESSAGE_MAX_DEFAULT,
            catch_up_slots_per_message_max: CATCH_UP_SLOTS_PER_MESSAGE_MAX_DEFAULT,
            proposals_queued_max: PROPOSALS_QUEUED_MAX_DEFAULT,
            reads_pending_max: READS_PENDING_MAX_DEFAULT,
            request_timeout_ticks: REQUEST_TIMEOUT_TICKS_DEFAULT,
            catch_up_retry_ticks: CATCH_UP_RETRY_TICKS_DEFAULT,
            snapshot_interval_slots: SNAPSHOT_INTERVAL_SLOTS_DEFAULT,
            snapshot_log_size_max_bytes: SNAPSHOT_LOG_SIZE_MAX_BYTES_DEFAULT,
            snapshot_chunk_size_max_bytes: SNAPSHOT_CHUNK_SIZE_MAX_BYTES_DEFAULT,
            snapshot_size_max_bytes: SNAPSHOT_SIZE_MAX_BYTES_DEFAULT,
            pre_vote: true,
            announce_acceptance: true,
            lease_ticks: 0,
            #[cfg(feature = "mutations")]
            mutation: Mutation::None,
        }
    }

    /// Checks the configuration; the core asserts this at construction.
    pub fn validate(&self) -> Result<(), String> {
        if self.members.is_empty() {
            return Err("a cluster needs at least one member".into());
        }
        let mut sorted = self.members.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != self.members.len() {
            return Err("member ids must be unique".into());
        }
        if self.heartbeat_interval_ticks == 0 || self.election_timeout_ticks == 0 {
            return Err("heartbeat interval and election timeout must be at least one tick".into());
        }
        if self.heartbeat_interval_ticks >= self.election_timeout_ticks {
            return Err("the heartbeat interval must be shorter than the election timeout".into());
        }
        if self.pipeline_slots_max == 0
            || self.batch_commands_max == 0
            || self.accept_slots_per_message_max == 0
            || self.catch_up_slots_per_message_max == 0
        {
            return Err("pipeline and batch limits must be at least one".into());
        }
        let lease_max = lease_ticks_max(self.election_timeout_ticks);
        if self.lease_ticks > lease_max {
            return Err(format!(
                "a lease of {} ticks outlives the election timeout of {} ticks at {}% clock drift \
                 (at most {lease_max})",
                self.lease_ticks, self.election_timeout_ticks, LEASE_CLOCK_DRIFT_MAX_PERCENT
            ));
        }
        if self.lease_ticks > 0 && !self.pre_vote {
            return Err(
                "a lease needs pre-votes: a replica that hears its leader refuses them".into(),
            );
        }
        Ok(())
    }

    /// The active mutation (always `None` without the `mutations` feature).
    pub fn mutation(&self) -> Mutation {
        #[cfg(feature = "mutations")]
        {
            self.mutation
        }
        #[cfg(not(feature = "mutations"))]
        {
            Mutation::None
        }
    }
}
