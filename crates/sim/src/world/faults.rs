//! Faults the world injects into its nodes: crashes and restarts (with
//! what a crash loses of the disk), pauses, clock jumps, and the fail-stop
//! of a node whose storage failed.

use synod_kv::UnixMillis;
use synod_paxos::NodeId;
use synod_storage::{AcceptorStore, CrashFault, StorageError};

use super::{
    new_node, new_storage, World, PAUSE_RELEASE_SPREAD_UNITS, WALL_CLOCK_EPOCH_MILLISECONDS,
};

impl World {
    /// Crashes `id`: its writes still on their way to disk and its messages
    /// in flight are lost; what is durable stays. Its clients hear nothing.
    pub fn crash(&mut self, id: NodeId) {
        let index = self.node_index(id);
        if self.nodes[index].node.is_none() {
            return;
        }
        // With disk faults, the crash may tear the write in progress: a
        // prefix of the unsynced bytes reaches the disk, ending mid-record.
        let fault = if self.options.disk_faults && self.rng.chance(1, 2) {
            CrashFault::TearUnsynced {
                seed: self.rng.next_u64(),
            }
        } else {
            CrashFault::LoseUnsynced
        };
        self.leased_reads_of_crashed += self.nodes[index]
            .node
            .as_ref()
            .map_or(0, |node| node.replica().reads_served_under_lease());
        let report = self.nodes[index].disk.storage_mut().crash(fault);
        let torn = report.torn_bytes_kept;
        let node = &mut self.nodes[index];
        node.node = None;
        node.pending.clear();
        node.encoding = None;
        node.paused_until = None;
        self.network.drop_to(id);
        self.log(|| format!("{id} CRASH (torn write kept {torn} bytes)"));
    }

    /// Pauses `id` for `units`, as SIGSTOP or a long garbage collection
    /// would: it does not tick, and messages, client requests and disk
    /// completions wait until it resumes. Without a lease its clock does
    /// not catch up afterwards, so a paused leader resumes believing it
    /// still leads; whatever it answers then must still be linearizable.
    /// With a lease it catches up first, as the server does.
    pub fn pause(&mut self, id: NodeId, units: u64) {
        let index = self.node_index(id);
        if self.nodes[index].node.is_none() || units == 0 {
            return;
        }
        // A second pause never shortens the first.
        let until = (self.now + units).max(self.nodes[index].paused_until.unwrap_or(0));
        self.nodes[index].paused_until = Some(until);
        self.log(|| format!("{id} PAUSE until {until}"));
    }

    /// Makes `id`'s wall clock jump by `delta_milliseconds` (backward when
    /// negative), as a step of NTP or an operator's `date -s` would. Only
    /// the timing of expiry may change; the checks must still pass.
    pub fn jump_clock(&mut self, id: NodeId, delta_milliseconds: i64) {
        let index = self.node_index(id);
        let offset = &mut self.nodes[index].clock_offset_milliseconds;
        *offset = offset.saturating_add(delta_milliseconds);
        self.log(|| format!("{id} CLOCK JUMP {delta_milliseconds:+} ms"));
    }

    /// What `index`'s wall clock reads now.
    pub(super) fn wall_time(&self, index: usize) -> UnixMillis {
        let reading = (WALL_CLOCK_EPOCH_MILLISECONDS + self.now) as i64
            + self.nodes[index].clock_offset_milliseconds;
        UnixMillis(reading.max(0) as u64)
    }

    /// True while `id` is paused.
    pub fn is_paused(&self, id: NodeId) -> bool {
        self.is_paused_at(self.node_index(id))
    }

    pub(super) fn is_paused_at(&self, index: usize) -> bool {
        self.nodes[index]
            .paused_until
            .is_some_and(|until| until > self.now)
    }

    /// When a paused node's held input arrives: soon after it resumes, in
    /// a random order.
    pub(super) fn after_pause(&mut self, index: usize) -> Option<u64> {
        if !self.is_paused_at(index) {
            return None;
        }
        let until = self.nodes[index].paused_until?;
        Some(until + self.rng.between(1, PAUSE_RELEASE_SPREAD_UNITS))
    }

    /// Restarts `id` from its durable state: the node restores its state
    /// machine from the durable snapshot and replays the decided log.
    pub fn restart(&mut self, id: NodeId) {
        let index = self.node_index(id);
        if self.nodes[index].node.is_some() {
            return;
        }
        let members = self.initial_voters();
        let seed = self.rng.next_u64();
        let mut storage = std::mem::replace(self.nodes[index].disk.storage_mut(), new_storage());
        let recovered = match storage.recover() {
            Ok(recovered) => recovered,
            Err(error) => {
                self.violations
                    .push(format!("{id} cannot recover its disk: {error}"));
                return;
            }
        };
        let disk = match AcceptorStore::recover(storage, &recovered) {
            Ok(disk) => disk,
            Err(error) => {
                self.violations
                    .push(format!("{id} cannot read its acceptor state: {error}"));
                return;
            }
        };
        let durable = disk.state().clone();
        let committed = durable.committed;
        let node = new_node(&self.options, &members, id, durable, seed);
        let now = self.now;
        let sim_node = &mut self.nodes[index];
        sim_node.disk = disk;
        sim_node.node = Some(node);
        // A restarted process starts a fresh clock.
        sim_node.next_tick_at = now + sim_node.tick_period_units;
        sim_node.incarnation += 1;
        self.log(|| format!("{id} RESTART from disk, committed {committed:?}"));
    }

    /// A disk error stops the node for good (until an operator restarts
    /// it): it must not acknowledge or vote on anything not durably written.
    pub(super) fn fail_stop(&mut self, index: usize, error: StorageError) {
        let id = self.nodes[index].id;
        self.disk_failures += 1;
        self.log(|| format!("{id} DISK FAILURE, stopping: {error}"));
        self.crash(id);
    }
}
