//! Throughput of the consensus core alone: three replicas in one process,
//! no faults, no disk, messages handed over directly. Reports client
//! commands decided (and applied at the leader) per second with batching.

use std::collections::VecDeque;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use synod_paxos::{Config, DurableState, Envelope, NodeId, Replica, Role};

/// Commands proposed per round of the benchmark loop (one batch window).
const COMMANDS_PER_ROUND: usize = 8_192;
/// Size of each command, a typical small `SET`.
const COMMAND_SIZE_BYTES: usize = 32;

struct Cluster {
    replicas: Vec<Replica>,
    queue: VecDeque<Envelope>,
    decided_commands: u64,
}

impl Cluster {
    fn new(batch_commands_max: usize) -> Cluster {
        let members: Vec<NodeId> = (1..=3).map(NodeId).collect();
        let replicas = members
            .iter()
            .map(|id| {
                let mut config = Config::new(*id, members.clone());
                config.batch_commands_max = batch_commands_max;
                Replica::new(config, DurableState::default(), id.0)
            })
            .collect();
        let mut cluster = Cluster {
            replicas,
            queue: VecDeque::new(),
            decided_commands: 0,
        };
        while cluster.replicas[0].role() != Role::Leader {
            cluster.replicas[0].tick();
            cluster.pump();
        }
        cluster
    }

    /// Collects `index`'s output, persisting at once and handing its own
    /// votes back until it has nothing more to say.
    fn collect(&mut self, index: usize) {
        loop {
            let ready = self.replicas[index].ready();
            self.queue.extend(ready.messages);
            let learned = ready.decided;
            let released = ready.persist.persisted();
            self.queue.extend(released.messages);
            if index == 0 {
                for decided in released.decided.iter().chain(&learned) {
                    self.decided_commands += decided.value.commands().len() as u64;
                }
            }
            if released.own_votes.is_empty() {
                return;
            }
            self.replicas[index].own_votes_durable(released.own_votes);
        }
    }

    fn pump(&mut self) {
        for index in 0..self.replicas.len() {
            self.collect(index);
        }
        while let Some(envelope) = self.queue.pop_front() {
            let index = (envelope.to.0 - 1) as usize;
            self.replicas[index].step(envelope.from, envelope.message);
            self.collect(index);
        }
    }
}

fn decide_commands(criterion: &mut Criterion) {
    let command = Bytes::from(vec![b'x'; COMMAND_SIZE_BYTES]);
    let mut group = criterion.benchmark_group("core");
    group.throughput(Throughput::Elements(COMMANDS_PER_ROUND as u64));
    for batch_commands_max in [1, 64, 1_024] {
        group.bench_with_input(
            BenchmarkId::new("three_replicas_decide_batch", batch_commands_max),
            &batch_commands_max,
            |bencher, &batch_commands_max| {
                let mut cluster = Cluster::new(batch_commands_max);
                bencher.iter(|| {
                    let target = cluster.decided_commands + COMMANDS_PER_ROUND as u64;
                    for _ in 0..COMMANDS_PER_ROUND {
                        cluster.replicas[0].propose(command.clone());
                    }
                    while cluster.decided_commands < target {
                        cluster.pump();
                    }
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, decide_commands);
criterion_main!(benches);
