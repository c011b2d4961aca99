//! The one error type of testdock.
//!
//! Every variant names the step that failed and, where a container is involved, the
//! container and the time spent. Errors raised while a container starts carry its last
//! log lines, so a failed test says *why* the service never came up.

use std::fmt;
use std::time::Duration;

use crate::endpoint::Candidate;
use crate::resource_kind::ResourceKind;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub use step::Step;
use wording::{
    for_suffix, in_use_suffix, list_attempts, list_tried, logs_suffix, oom_suffix, output_suffix,
    state_suffix, waiting_for_suffix, NO_DAEMON_HINT,
};

/// The last lines a container printed, attached to startup errors.
///
/// Displays as an indented block, or `(no output)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogTail {
    /// The lines, oldest first, without their line terminators.
    pub lines: Vec<String>,
}

impl fmt::Display for LogTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lines.is_empty() {
            return f.write_str("    (no output)");
        }
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "    | {line}")?;
        }
        Ok(())
    }
}

/// One failed attempt to reach a daemon, listed by [`Error::NoDaemon`].
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The endpoint and why it was tried.
    pub candidate: Candidate,
    /// What went wrong, as text.
    pub failure: String,
}

/// Everything that can go wrong in testdock.
///
/// `Debug` prints the same readable text as `Display` followed by the chain of causes,
/// so `.unwrap()` and `-> Result<(), Box<dyn Error>>` in a test show a useful message.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No Docker daemon answered at any endpoint that was tried.
    #[error("no Docker daemon answered; tried:\n{}\n{}", list_attempts(.attempts), NO_DAEMON_HINT)]
    NoDaemon {
        /// Every endpoint tried, in order, with its failure.
        attempts: Vec<Attempt>,
    },

    /// The Docker configuration (environment or docker context) is invalid.
    #[error("invalid Docker configuration: {message}")]
    Config {
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The caller asked for something that cannot work; nothing was created.
    #[error("invalid input for container `{container}`: {message}")]
    InvalidInput {
        /// The container the input was for: its name, or (before it is created) what it
        /// would have been.
        container: String,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// An image recipe ([`HostImage`](crate::HostImage),
    /// [`BuildContext`](crate::BuildContext), [`RootfsImage`](crate::RootfsImage)) cannot
    /// work; nothing was sent to the daemon.
    #[error("invalid input for the {image}: {message}")]
    InvalidImageInput {
        /// The image recipe, described (`host image of [/bin/sh]`, `in-memory build
        /// context`, ...).
        image: String,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// The image is not present and could not be made available.
    #[error("image `{image}` is not available ({elapsed:?}): {message}")]
    Image {
        /// The image reference.
        image: String,
        /// What went wrong.
        message: String,
        /// Time spent before the failure.
        elapsed: Duration,
        /// The daemon's error, if there was one.
        #[source]
        source: Option<Box<bollard::errors::Error>>,
    },

    /// A daemon call for a container failed.
    #[error("{step} failed for container `{container}` (image `{image}`) after {elapsed:?}{}", logs_suffix(.logs))]
    Docker {
        /// The step that failed.
        step: Step,
        /// The container's name.
        container: String,
        /// The container's image.
        image: String,
        /// Time spent in the step (for startup steps: since startup began).
        elapsed: Duration,
        /// The container's last log lines, when the step was part of startup.
        logs: Option<LogTail>,
        /// The daemon's error.
        #[source]
        source: Box<bollard::errors::Error>,
    },

    /// The daemon could not run a command in a container (`exec` create, start or
    /// inspect failed). A command that ran and exited non-zero is
    /// [`Error::ExecFailed`] instead.
    #[error("exec of `{command}` failed for container `{container}` (image `{image}`) after {elapsed:?}")]
    Exec {
        /// The container's name.
        container: String,
        /// The container's image.
        image: String,
        /// The command, as it was to be run.
        command: String,
        /// Time spent before the failure.
        elapsed: Duration,
        /// The daemon's error.
        #[source]
        source: Box<bollard::errors::Error>,
    },

    /// A daemon call for a network or a volume failed.
    #[error("{step} failed for {kind} `{name}` after {elapsed:?}{}", in_use_suffix(*.step, .source))]
    Resource {
        /// The step that failed ([`Step::Create`] or [`Step::Remove`]).
        step: Step,
        /// [`ResourceKind::Network`] or [`ResourceKind::Volume`].
        kind: ResourceKind,
        /// Its name.
        name: String,
        /// Time spent in the step.
        elapsed: Duration,
        /// The daemon's error.
        #[source]
        source: Box<bollard::errors::Error>,
    },

    /// The container exited while testdock was waiting for it.
    #[error(
        "container `{container}` (image `{image}`) exited with code {exit_code} during {step} after {elapsed:?}{}\n  last log lines:\n{logs}",
        oom_suffix(*.oom_killed)
    )]
    Exited {
        /// The step during which it exited.
        step: Step,
        /// The container's name.
        container: String,
        /// The container's image.
        image: String,
        /// Its exit code.
        exit_code: i64,
        /// Whether the kernel's OOM killer ended it.
        oom_killed: bool,
        /// Time since startup began.
        elapsed: Duration,
        /// Its last log lines.
        logs: LogTail,
    },

    /// A step did not finish within its time limit.
    #[error(
        "{step} of container `{container}` (image `{image}`) timed out after {elapsed:?} (limit {limit:?}){}{}\n  last log lines:\n{logs}",
        waiting_for_suffix(.waiting_for),
        state_suffix(.state)
    )]
    Timeout {
        /// The step that timed out.
        step: Step,
        /// The container's name.
        container: String,
        /// The container's image.
        image: String,
        /// The limit that was exceeded.
        limit: Duration,
        /// Time actually spent.
        elapsed: Duration,
        /// What was being waited for (a probe description), if anything.
        waiting_for: Option<String>,
        /// The container's state when the limit passed (`running`, `restarting`, ...).
        state: Option<String>,
        /// The container's last log lines.
        logs: LogTail,
    },

    /// A readiness probe can never pass: the healthcheck reported `unhealthy`, the
    /// container exited with another code than expected, or the probe is unusable
    /// (an invalid regex, an unpublished port, no healthcheck).
    #[error(
        "container `{container}` (image `{image}`) cannot become ready after {elapsed:?}: {reason}\n  probe: {probe}\n  last log lines:\n{logs}"
    )]
    ProbeFailed {
        /// The container's name.
        container: String,
        /// The container's image.
        image: String,
        /// The probe that failed.
        probe: String,
        /// Why it can never pass.
        reason: String,
        /// Time since startup began.
        elapsed: Duration,
        /// The container's last log lines.
        logs: LogTail,
    },

    /// A command run in a container exited with a non-zero code
    /// ([`ExecOutput::check`](crate::ExecOutput::check)).
    #[error(
        "`{command}` in container `{container}` failed with exit code {exit_code}{}",
        output_suffix(.stderr, .stdout)
    )]
    ExecFailed {
        /// The container's name.
        container: String,
        /// The command, as run.
        command: String,
        /// Its exit code (126: not executable, 127: not found, `-1`: unknown).
        exit_code: i64,
        /// What it printed on standard error.
        stderr: String,
        /// What it printed on standard output.
        stdout: String,
    },

    /// Reading or writing a host file failed.
    ///
    /// The I/O error is part of the message (`cannot read `/nope` (for ...): No such file
    /// or directory (os error 2)`) and is deliberately **not** the error's
    /// [`source`](std::error::Error::source): it is the whole answer to "why", and a test
    /// that fails shows only `Display`, so the message must carry it; were it also the
    /// source, every printer that walks the chain (this type's `Debug`, `anyhow`,
    /// `eyre`) would print it twice. An OS I/O error has no cause of its own, so nothing
    /// of the chain is lost; the error itself is kept in the `error` field for code
    /// that needs its kind.
    #[error("cannot {action} `{}`{}: {error}", .path.display(), for_suffix(.target))]
    HostIo {
        /// What was being done ("read", "walk", ...).
        action: &'static str,
        /// The host path.
        path: std::path::PathBuf,
        /// What the host file was for (e.g. the container path it is injected at).
        target: Option<String>,
        /// The I/O error, shown in the message (not a `source`: see above).
        error: std::io::Error,
    },

    /// No image could be had for a service ([`crate::services`]): each image source that
    /// was tried, why it did not work and how to make it work. Nothing was created.
    #[error("no image for {service} (source `{choice}`); tried:\n{}", list_tried(.tried))]
    ServiceUnavailable {
        /// The service and version (`PostgreSQL 16`).
        service: String,
        /// The source in effect (`auto`, `host` or `registry`: the builder's, else
        /// `TESTDOCK_SERVICES`).
        choice: String,
        /// Each source tried, in order: what, why it failed, and the fix.
        tried: Vec<String>,
    },

    /// A service's own step failed once its container ran: a query to create a
    /// per-test database, a migration, a client that could not connect.
    #[error("{action} failed for {service} in container `{container}`: {message}{}", logs_suffix(.logs))]
    Service {
        /// The service (`PostgreSQL`, `Redis`).
        service: String,
        /// The container's name.
        container: String,
        /// What was being done (`creating database test_1f2e`, `running migration 2`).
        action: String,
        /// Why it failed: the server's or client's error, as text (with the failing
        /// statement where there is one).
        message: String,
        /// The container's last log lines, where they say more.
        logs: Option<LogTail>,
    },

    /// A compose file cannot be brought up as written (invalid YAML, an unsupported key,
    /// a dependency cycle, an unknown service); nothing was created.
    #[error("compose file {file}: {message}")]
    Compose {
        /// The file's path, or `(inline)` for [`Compose::from_str`](crate::compose::Compose::from_str).
        file: String,
        /// What is wrong (with line and column for YAML errors) and how to fix it.
        message: String,
    },

    /// A service of a compose stack failed to start (the cause names its container and
    /// holds its last log lines); everything of the stack was torn down.
    #[error("service `{service}` of compose project `{project}` failed to start")]
    ComposeService {
        /// The compose project (the stack's per-test name).
        project: String,
        /// The service, as named in the file.
        service: String,
        /// Why it did not start.
        #[source]
        source: Box<Error>,
    },

    /// A service of a compose stack stopped with a failure while the stack was in use
    /// (see [`Stack::watch`](crate::compose::Stack::watch)); the cause holds its exit
    /// code and last log lines.
    #[error("service `{service}` of compose project `{project}` stopped while in use")]
    ComposeServiceStopped {
        /// The compose project (the stack's per-test name).
        project: String,
        /// The service, as named in the file.
        service: String,
        /// How it stopped ([`Error::Exited`]).
        #[source]
        source: Box<Error>,
    },

    /// Listing or removing testdock's labelled resources failed: a test's teardown by
    /// label, a reaper, the stale sweep, `ps` or `prune`.
    #[error("cannot {action} {resource}")]
    Cleanup {
        /// What was being done: `list` or `remove`.
        action: &'static str,
        /// What it was done to: the kind and label filters when listing (`containers
        /// labelled testdock.managed-by=testdock`), the kind and name when removing.
        resource: String,
        /// The daemon's error.
        #[source]
        source: Box<bollard::errors::Error>,
    },
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl Error {
    /// The step that failed, if the error is about a container, network or volume.
    pub fn step(&self) -> Option<Step> {
        match self {
            Error::Docker { step, .. }
            | Error::Resource { step, .. }
            | Error::Exited { step, .. }
            | Error::Timeout { step, .. } => Some(*step),
            Error::ProbeFailed { .. } => Some(Step::Ready),
            Error::Image { .. } => Some(Step::Image),
            Error::Exec { .. } | Error::ExecFailed { .. } => Some(Step::Exec),
            Error::ComposeService { source, .. } | Error::ComposeServiceStopped { source, .. } => {
                source.step()
            }
            _ => None,
        }
    }

    /// Time spent before the error, where it was measured.
    pub fn elapsed(&self) -> Option<Duration> {
        match self {
            Error::Image { elapsed, .. }
            | Error::Docker { elapsed, .. }
            | Error::Exec { elapsed, .. }
            | Error::Resource { elapsed, .. }
            | Error::Exited { elapsed, .. }
            | Error::Timeout { elapsed, .. }
            | Error::ProbeFailed { elapsed, .. } => Some(*elapsed),
            _ => None,
        }
    }

    /// The container this error is about, if any.
    pub fn container(&self) -> Option<&str> {
        match self {
            Error::InvalidInput { container, .. }
            | Error::Docker { container, .. }
            | Error::Exec { container, .. }
            | Error::Exited { container, .. }
            | Error::Timeout { container, .. }
            | Error::ProbeFailed { container, .. }
            | Error::ExecFailed { container, .. }
            | Error::Service { container, .. } => Some(container),
            _ => None,
        }
    }

    /// The container's last log lines, if this error carries them.
    pub fn logs(&self) -> Option<&LogTail> {
        match self {
            Error::Docker { logs, .. } | Error::Service { logs, .. } => logs.as_ref(),
            Error::Exited { logs, .. }
            | Error::Timeout { logs, .. }
            | Error::ProbeFailed { logs, .. } => Some(logs),
            _ => None,
        }
    }

    /// The HTTP status of the daemon's answer, if the daemon refused the request.
    pub fn status_code(&self) -> Option<u16> {
        let source = match self {
            Error::Docker { source, .. }
            | Error::Exec { source, .. }
            | Error::Resource { source, .. } => Some(source.as_ref()),
            Error::Image { source, .. } => source.as_deref(),
            Error::Cleanup { source, .. } => Some(source.as_ref()),
            _ => None,
        }?;
        status_of(source)
    }
}

/// The HTTP status of a daemon error, if it is a server response. Podman answers 500
/// where Docker has a status of its own: for a container removed while the request ran
/// (`... no such container`, Docker's 404) and for a network or volume still in use
/// (`...: network is being used`, Docker's 403 or 409: 409 here).
pub(crate) fn status_of(error: &bollard::errors::Error) -> Option<u16> {
    match error {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 500,
            message,
        } if message.ends_with("no such container") => Some(404),
        bollard::errors::Error::DockerResponseServerError {
            status_code: 500,
            message,
        } if message.ends_with("is being used") => Some(409),
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

mod step;
#[cfg(test)]
mod tests;
mod wording;
