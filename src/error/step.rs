//! The steps an [`Error`](super::Error) names: what testdock was doing.

use std::fmt;

/// What testdock was doing when an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Making sure the image is present (inspect, import or pull).
    Image,
    /// `POST /containers/create`.
    Create,
    /// Copying injected files into the container before start.
    Inject,
    /// `POST /containers/{id}/start`.
    Start,
    /// Waiting for the readiness probe.
    Ready,
    /// Running a command with `exec`.
    Exec,
    /// Reading logs.
    Logs,
    /// Reading files out of the container.
    ReadFile,
    /// Writing files into a running container.
    WriteFile,
    /// Stopping the container gracefully.
    Stop,
    /// Sending a signal.
    Kill,
    /// Restarting.
    Restart,
    /// Pausing.
    Pause,
    /// Unpausing.
    Unpause,
    /// Inspecting.
    Inspect,
    /// Listing processes.
    Top,
    /// Committing the container to an image.
    Commit,
    /// Killing and removing the container.
    Remove,
    /// Waiting for the container to exit.
    Wait,
    /// Reading resource usage statistics.
    Stats,
    /// Running, watched while the test used it (it stopped with a failure).
    Watch,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Image => "prepare image",
            Step::Create => "create",
            Step::Inject => "inject files",
            Step::Start => "start",
            Step::Ready => "wait for readiness",
            Step::Exec => "exec",
            Step::Logs => "read logs",
            Step::ReadFile => "read files",
            Step::WriteFile => "write files",
            Step::Stop => "stop",
            Step::Kill => "kill",
            Step::Restart => "restart",
            Step::Pause => "pause",
            Step::Unpause => "unpause",
            Step::Inspect => "inspect",
            Step::Top => "top",
            Step::Commit => "commit",
            Step::Remove => "remove",
            Step::Wait => "wait for exit",
            Step::Stats => "read stats",
            Step::Watch => "the test",
        })
    }
}
