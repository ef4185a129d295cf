//! The observer: polls every node's `/status` and notes each change of
//! leader on the history's clock, for the report and the progress line.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::clients::{Shared, NO_LEADER};
use crate::cluster::{admin_get, leader_of, Cluster};
use crate::timeline::LeaderChange;

/// Time between two polls of every node.
const POLL_INTERVAL_MILLISECONDS: u64 = 100;

/// A running observer; [`Observer::stop`] returns what it saw.
pub struct Observer {
    stop: Arc<AtomicBool>,
    changes: Arc<Mutex<Vec<LeaderChange>>>,
    thread: Option<JoinHandle<()>>,
}

impl Observer {
    /// Starts polling the nodes of `cluster`.
    pub fn start(cluster: &Cluster, shared: Arc<Shared>) -> Observer {
        let admins: Vec<SocketAddr> = cluster.nodes.iter().map(|node| node.admin).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let changes = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, changes) = (Arc::clone(&stop), Arc::clone(&changes));
            std::thread::Builder::new()
                .name("synod-chaos-observer".into())
                .spawn(move || observe(&admins, &shared, &stop, &changes))
                .expect("the observer thread starts")
        };
        Observer {
            stop,
            changes,
            thread: Some(thread),
        }
    }

    /// Stops polling; every leader change seen, in order.
    pub fn stop(mut self) -> Vec<LeaderChange> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        std::mem::take(&mut *self.changes.lock().expect("not poisoned"))
    }
}

fn observe(
    admins: &[SocketAddr],
    shared: &Shared,
    stop: &AtomicBool,
    changes: &Mutex<Vec<LeaderChange>>,
) {
    let mut last: Option<Option<u64>> = None;
    while !stop.load(Ordering::Relaxed) {
        let polled = Instant::now();
        // Poll in parallel, so a paused node costs one timeout, not one per
        // node.
        let statuses: Vec<Option<serde_json::Value>> = std::thread::scope(|scope| {
            let polls: Vec<_> = admins
                .iter()
                .map(|admin| {
                    scope.spawn(move || {
                        admin_get(*admin, "/status")
                            .ok()
                            .and_then(|body| serde_json::from_str(&body).ok())
                    })
                })
                .collect();
            polls
                .into_iter()
                .map(|poll| poll.join().ok().flatten())
                .collect()
        });
        let leader = leader_of(&statuses);
        if last != Some(leader) {
            last = Some(leader);
            shared
                .leader
                .store(leader.unwrap_or(NO_LEADER), Ordering::Relaxed);
            changes.lock().expect("not poisoned").push(LeaderChange {
                at_nanoseconds: shared.nanoseconds(polled),
                leader,
            });
        }
        let interval = Duration::from_millis(POLL_INTERVAL_MILLISECONDS);
        std::thread::sleep(interval.saturating_sub(polled.elapsed()));
    }
}
