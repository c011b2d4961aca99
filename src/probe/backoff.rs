//! The wait between attempts of a polling probe.

use std::time::Duration;

/// First wait between attempts.
pub(crate) const FIRST: Duration = Duration::from_millis(5);
/// Longest wait between attempts: the worst-case detection delay of a polling probe.
pub(crate) const CAP: Duration = Duration::from_millis(100);

/// Doubling waits from [`FIRST`] up to [`CAP`].
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff { next: FIRST }
    }

    /// The wait before the next attempt.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(CAP);
        delay
    }

    /// Sleeps for the next wait.
    pub(crate) async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_a_few_milliseconds_to_the_cap() {
        let mut b = Backoff::new();
        let waits: Vec<u64> = (0..7).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 100, 100]);
    }
}
