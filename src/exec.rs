//! Running commands inside a container: [`Exec`] and its [`ExecOutput`].

use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::Docker;
use futures::StreamExt;

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
    pub fn env(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.env
            .push(format!("{}={}", key.as_ref(), value.as_ref()));
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
        let mut output = ExecOutput::default();
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// Exit code (`-1` if the daemon did not report one).
    pub exit_code: i64,
}

impl ExecOutput {
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
}
