//! Running commands inside a container: [`Exec`] and its [`ExecOutput`].

use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::Docker;
use futures::StreamExt;

use crate::error::Error;
use crate::logs::{LogChunk, LogStream};

/// A command to run in a running container with [`Container::exec`](crate::Container::exec).
///
/// ```
/// use testdock::Exec;
/// let cmd = Exec::new(["sh", "-c", "echo $GREETING"])
///     .env("GREETING", "hi")
///     .user("1000")
///     .workdir("/tmp");
/// # let _ = cmd;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Exec {
    cmd: Vec<String>,
    env: Vec<String>,
    user: Option<String>,
    workdir: Option<String>,
}

impl Exec {
    /// The command and its arguments (no shell is involved).
    pub fn new<I, S>(cmd: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Exec {
            cmd: cmd.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            user: None,
            workdir: None,
        }
    }

    /// Sets an environment variable for the command.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push(format!("{}={}", key.into(), value.into()));
        self
    }

    /// Runs as this user (`name`, `uid` or `uid:gid`).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Runs in this directory.
    pub fn workdir(mut self, dir: impl Into<String>) -> Self {
        self.workdir = Some(dir.into());
        self
    }

    pub(crate) fn describe(&self) -> String {
        self.cmd.join(" ")
    }

    pub(crate) async fn run(
        &self,
        docker: &Docker,
        container: &str,
    ) -> Result<ExecOutput, bollard::errors::Error> {
        let config = ExecConfig {
            cmd: Some(self.cmd.clone()),
            env: (!self.env.is_empty()).then(|| self.env.clone()),
            user: self.user.clone(),
            working_dir: self.workdir.clone(),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let exec = docker.create_exec(container, config).await?;
        let mut output = ExecOutput {
            command: self.describe(),
            container: container.to_owned(),
            ..ExecOutput::default()
        };
        let started = docker
            .start_exec(&exec.id, Some(StartExecOptions::default()))
            .await?;
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = started
        {
            while let Some(item) = stream.next().await {
                if let Some(chunk) = LogChunk::from_output(item?) {
                    match chunk.stream {
                        LogStream::Stdout => output.stdout.extend_from_slice(&chunk.bytes),
                        LogStream::Stderr => output.stderr.extend_from_slice(&chunk.bytes),
                    }
                }
            }
        }
        let inspect = docker.inspect_exec(&exec.id).await?;
        output.exit_code = inspect.exit_code.unwrap_or(-1);
        Ok(output)
    }
}

/// What a command run with [`Exec`] printed, and how it ended.
///
/// A command that ran and failed is still `Ok` from
/// [`Container::exec`](crate::Container::exec) (a missing binary is exit code 126 or 127
/// with the runtime's message in the output): call [`check`](Self::check) to turn a
/// non-zero exit into an error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecOutput {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// Exit code (`-1` if the daemon did not report one).
    pub exit_code: i64,
    /// The command, as run.
    command: String,
    /// The container it ran in (its name, when run through a `Container`).
    container: String,
}

impl ExecOutput {
    /// Names the container the output came from (the API call needs its id; messages
    /// name it as users know it).
    pub(crate) fn in_container(mut self, name: &str) -> Self {
        self.container = name.to_owned();
        self
    }

    /// Standard output as text (lossy UTF-8).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (lossy UTF-8).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Whether the command exited with code 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// `Ok(self)` if the command exited with code 0, else [`Error::ExecFailed`] naming
    /// the command, the container, the exit code and what the command printed.
    ///
    /// ```no_run
    /// # async fn demo(c: testdock::Container) -> testdock::Result<()> {
    /// use testdock::Exec;
    /// let out = c.exec(Exec::new(["redis-cli", "ping"])).await?.check()?;
    /// assert_eq!(out.stdout_text(), "PONG\n");
    /// # Ok(()) }
    /// ```
    pub fn check(self) -> Result<Self, Error> {
        if self.success() {
            return Ok(self);
        }
        Err(Error::ExecFailed {
            container: self.container.clone(),
            command: self.command.clone(),
            exit_code: self.exit_code,
            stderr: self.stderr_text(),
            stdout: self.stdout_text(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(exit_code: i64, stdout: &str, stderr: &str) -> ExecOutput {
        ExecOutput {
            stdout: stdout.into(),
            stderr: stderr.into(),
            exit_code,
            command: "redis-cli ping".into(),
            container: "testdock-0a1b".into(),
        }
    }

    #[test]
    fn a_zero_exit_checks_out() {
        let out = output(0, "PONG\n", "").check().unwrap();
        assert_eq!(out.stdout_text(), "PONG\n");
    }

    #[test]
    fn a_failed_command_is_an_error_naming_it_its_code_and_its_output() {
        let oci = "OCI runtime exec failed: exec: \"redis-cli\": executable file not found";
        let err = output(126, oci, "").check().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`redis-cli ping`"), "{text}");
        assert!(text.contains("testdock-0a1b"), "{text}");
        assert!(text.contains("exit code 126"), "{text}");
        assert!(text.contains("executable file not found"), "{text}");
        assert!(matches!(err, Error::ExecFailed { exit_code: 126, .. }));
    }
}
