//! [`StepTimings`]: how long each step of starting a container took.

use std::time::Duration;

/// How long each step of [`ContainerSpec::start`](crate::ContainerSpec::start) took for
/// one container: see [`Container::timings`](crate::Container::timings).
///
/// The steps run one after the other, so their sum is at most the time `start()` took
/// (the rest is pure checks, starting the reaper and bookkeeping). A step that did not
/// run (no files to inject; create and start of a [shared](crate::shared) container
/// another process created) is [`Duration::ZERO`].
///
/// ```no_run
/// # async fn demo(c: testdock::Container) {
/// let t = c.timings();
/// println!("image {:?}, create {:?}, ready after {:?}", t.image, t.create, t.ready);
/// assert!(t.total() <= std::time::Duration::from_secs(60));
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StepTimings {
    /// Making the image present: pulling, building, importing or loading it, or finding
    /// that the daemon has it.
    pub image: Duration,
    /// The create request, and connecting the container to the network this process
    /// reaches containers on (only when the process runs in a job container).
    pub create: Duration,
    /// Copying the injected files in (one `put_archive`).
    pub inject: Duration,
    /// The start request.
    pub start: Duration,
    /// From the start's answer until the readiness probe passed (for a shared container
    /// another process created: until it ran and its probe passed).
    pub ready: Duration,
}

impl StepTimings {
    /// The sum of all steps.
    pub fn total(&self) -> Duration {
        self.image + self.create + self.inject + self.start + self.ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_the_sum_of_the_steps() {
        let ms = Duration::from_millis;
        let t = StepTimings {
            image: ms(1),
            create: ms(2),
            inject: ms(3),
            start: ms(4),
            ready: ms(5),
        };
        assert_eq!(t.total(), ms(15));
        assert_eq!(StepTimings::default().total(), Duration::ZERO);
    }
}
