//! What synod's nodes say about a measurement: fsyncs and the batch size,
//! read from each node's `/metrics` before and after it, to show that the
//! durability is real and how much each fsync carried.

use serde::{Deserialize, Serialize};

/// The counters read from every node, summed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counters {
    /// `synod_fsyncs_total`.
    pub fsyncs: f64,
    /// `synod_batch_size_commands_sum`: commands in decided slots.
    pub batched_commands: f64,
    /// `synod_batch_size_commands_count`: decided slots.
    pub batches: f64,
}

/// What the nodes did during one measurement.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerActivity {
    /// fsyncs per second, all nodes together.
    pub fsyncs_per_second: f64,
    /// Mean commands per decided slot.
    pub mean_batch_commands: f64,
}

impl Counters {
    /// What happened between `self` (before) and `after`, over `seconds`.
    pub fn activity_until(&self, after: &Counters, seconds: f64) -> ServerActivity {
        let batches = after.batches - self.batches;
        ServerActivity {
            fsyncs_per_second: (after.fsyncs - self.fsyncs) / seconds.max(f64::MIN_POSITIVE),
            mean_batch_commands: if batches > 0.0 {
                (after.batched_commands - self.batched_commands) / batches
            } else {
                0.0
            },
        }
    }

    fn add_page(&mut self, page: &str) {
        for line in page.lines().filter(|line| !line.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            match name {
                "synod_fsyncs_total" => self.fsyncs += value,
                "synod_batch_size_commands_sum" => self.batched_commands += value,
                "synod_batch_size_commands_count" => self.batches += value,
                _ => {}
            }
        }
    }
}

/// Reads and sums the counters of every admin address; `None` if any node
/// cannot be read (a partial sum would mislead). The GET is the CLI's
/// blocking one (`synod_client::admin`, with its own time limits), run off
/// the runtime's threads.
pub async fn scrape(admin_addresses: &[String]) -> Option<Counters> {
    let addresses = admin_addresses.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut counters = Counters::default();
        for address in &addresses {
            match synod_client::admin::get(address, "/metrics") {
                Ok((200, page)) => counters.add_page(&page),
                _ => return None,
            }
        }
        Some(counters)
    })
    .await
    .ok()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_pages_and_give_rates_and_batch_means() {
        let page = "# HELP synod_fsyncs_total x\nsynod_fsyncs_total 10\n\
                    synod_batch_size_commands_bucket{le=\"2\"} 1\n\
                    synod_batch_size_commands_sum 40\nsynod_batch_size_commands_count 4\n";
        let mut before = Counters::default();
        before.add_page(page);
        let mut after = before;
        after.add_page(page);
        after.add_page(page);
        assert_eq!(before.fsyncs, 10.0);
        let activity = before.activity_until(&after, 2.0);
        assert_eq!(activity.fsyncs_per_second, 10.0);
        assert_eq!(activity.mean_batch_commands, 10.0);
    }
}
