//! The attempt budget of one call, and the pauses between attempts.

use std::time::Duration;

use crate::options::ClientOptions;

/// Counts the attempts of one call and pauses after failures, doubling the
/// pause each time. A successful round trip that is not the end of the call
/// (a session registration before a write) is followed by no pause.
pub(crate) struct Attempts {
    attempts_max: u32,
    attempts_made: u32,
    backoff_next: Duration,
    backoff_max: Duration,
    pause_before_next: bool,
}

impl Attempts {
    pub(crate) fn new(options: &ClientOptions) -> Attempts {
        Attempts {
            attempts_max: options.attempts_max,
            attempts_made: 0,
            backoff_next: options.backoff_initial,
            backoff_max: options.backoff_max,
            pause_before_next: false,
        }
    }

    /// Starts the next attempt, after the pause a failure asked for; `false`
    /// when the budget is spent.
    pub(crate) async fn start_next(&mut self) -> bool {
        if self.attempts_made == self.attempts_max {
            return false;
        }
        if self.pause_before_next {
            tokio::time::sleep(self.backoff_next).await;
            self.backoff_next = (self.backoff_next * 2).min(self.backoff_max);
            self.pause_before_next = false;
        }
        self.attempts_made += 1;
        true
    }

    /// Records that the attempt failed, so the next one waits first.
    pub(crate) fn failed(&mut self) {
        self.pause_before_next = true;
    }

    /// The attempts started so far.
    pub(crate) fn made(&self) -> u32 {
        self.attempts_made
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pauses_double_after_failures_up_to_the_maximum_and_the_budget_ends() {
        let options = ClientOptions {
            attempt_timeout: Duration::from_secs(1),
            attempts_max: 5,
            backoff_initial: Duration::from_millis(10),
            backoff_max: Duration::from_millis(25),
            credentials: None,
        };
        let mut attempts = Attempts::new(&options);
        let start = tokio::time::Instant::now();
        let mut pauses = Vec::new();
        let mut before = start;
        while attempts.start_next().await {
            pauses.push(before.elapsed());
            before = tokio::time::Instant::now();
            // The second attempt succeeds (a registration): no pause after it.
            if attempts.made() != 2 {
                attempts.failed();
            }
        }
        let milliseconds: Vec<u128> = pauses.iter().map(Duration::as_millis).collect();
        assert_eq!(milliseconds, [0, 10, 0, 20, 25]);
        assert_eq!(attempts.made(), 5);
    }
}
