//! [`Healthcheck`]: a Docker healthcheck defined in the spec.

use std::time::Duration;

use bollard::models::HealthConfig;

/// A healthcheck for [`ContainerSpec::healthcheck`](crate::ContainerSpec::healthcheck),
/// waited for with [`Probe::healthy`](crate::Probe::healthy).
///
/// ```
/// use std::time::Duration;
/// use testdock::Healthcheck;
///
/// let check = Healthcheck::cmd(["pg_isready", "-U", "postgres"])
///     .interval(Duration::from_millis(200))
///     .retries(3);
/// # let _ = check;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Healthcheck {
    test: Vec<String>,
    interval: Duration,
    timeout: Duration,
    retries: u32,
    start_period: Duration,
}

impl Healthcheck {
    fn new(test: Vec<String>) -> Self {
        Healthcheck {
            test,
            interval: Duration::from_millis(500),
            timeout: Duration::from_secs(5),
            retries: 3,
            start_period: Duration::from_secs(30),
        }
    }

    /// Runs `cmd` directly (no shell); exit 0 means healthy.
    pub fn cmd<I, S>(cmd: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut test = vec!["CMD".to_owned()];
        test.extend(cmd.into_iter().map(Into::into));
        Self::new(test)
    }

    /// Runs `script` with the image's `/bin/sh -c`; exit 0 means healthy.
    pub fn shell(script: impl Into<String>) -> Self {
        Self::new(vec!["CMD-SHELL".to_owned(), script.into()])
    }

    /// Time between checks (default 500 ms; Docker's own default of 30 s is far too slow
    /// for tests).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Limit for one check (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Consecutive failures before `unhealthy` (default 3).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Grace period during which failures do not count, while a success already makes
    /// the container `healthy` (default 30 s, so a slow starter is not declared
    /// `unhealthy`, which fails its start at once).
    pub fn start_period(mut self, period: Duration) -> Self {
        self.start_period = period;
        self
    }

    pub(crate) fn to_config(&self) -> HealthConfig {
        let nanos = |d: Duration| Some(d.as_nanos().min(i64::MAX as u128) as i64);
        HealthConfig {
            test: Some(self.test.clone()),
            interval: nanos(self.interval),
            timeout: nanos(self.timeout),
            retries: Some(self.retries.into()),
            start_period: nanos(self.start_period),
            start_interval: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthchecks_become_docker_health_configs() {
        let c = Healthcheck::cmd(["redis-cli", "ping"])
            .interval(Duration::from_millis(100))
            .retries(2)
            .to_config();
        assert_eq!(c.test.unwrap(), ["CMD", "redis-cli", "ping"]);
        assert_eq!(c.interval, Some(100_000_000));
        assert_eq!(c.retries, Some(2));
        let s = Healthcheck::shell("test -f /ready").to_config();
        assert_eq!(s.test.unwrap(), ["CMD-SHELL", "test -f /ready"]);
    }
}
