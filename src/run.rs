//! Running a container to completion: [`ContainerSpec::run`] and its [`RunOutput`].

use crate::error::{Error, Result, Step};
use crate::logs::Logs;
use crate::probe::Probe;
use crate::spec::ContainerSpec;

/// How a container run to completion with [`ContainerSpec::run`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunOutput {
    /// Its exit code.
    pub exit_code: i64,
    /// Everything it printed.
    pub logs: Logs,
}

impl RunOutput {
    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

impl ContainerSpec {
    /// Runs the container to completion (a migration, a one-shot tool, a test job) and
    /// returns its exit code and output; the container is removed either way. The
    /// spec's startup timeout bounds the whole run, from create to exit; its readiness
    /// probe is not used.
    ///
    /// ```no_run
    /// # async fn demo() -> testdock::Result<()> {
    /// use testdock::{ContainerSpec, HostImage};
    /// let out = ContainerSpec::new(HostImage::new().binary("/bin/sh"))
    ///     .cmd(["/bin/sh", "-c", "echo migrated; exit 3"])
    ///     .run()
    ///     .await?;
    /// assert_eq!((out.exit_code, out.logs.stdout.as_str()), (3, "migrated\n"));
    /// # Ok(()) }
    /// ```
    pub async fn run(self) -> Result<RunOutput> {
        let limit = crate::timeouts::scaled(self.startup_timeout);
        let started = std::time::Instant::now();
        let c = self.wait_for(Probe::none()).start().await?;
        let ended = tokio::time::timeout(limit.saturating_sub(started.elapsed()), c.wait()).await;
        let outcome = match ended {
            Ok(Ok(exit_code)) => match c.logs().await {
                Ok(logs) => Ok(RunOutput { exit_code, logs }),
                Err(e) => Err(e),
            },
            Ok(Err(e)) => Err(e),
            Err(_) => {
                let docker = crate::docker::daemon().await?.client();
                Err(Error::Timeout {
                    step: Step::Wait,
                    container: c.name().to_owned(),
                    image: c.image().to_owned(),
                    limit,
                    elapsed: started.elapsed(),
                    waiting_for: Some("the container to exit".to_owned()),
                    state: Some("running".to_owned()),
                    logs: crate::logs::tail(docker, c.id()).await,
                })
            }
        };
        c.remove().await?;
        outcome
    }
}
