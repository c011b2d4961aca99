//! How errors word their details: the suffixes and lists the messages of
//! [`Error`](super::Error) are made of.

use super::{status_of, Attempt, LogTail, Step};

pub(super) const NO_DAEMON_HINT: &str = "\
To fix: start a Docker daemon (e.g. `sudo apt-get install -y docker.io && sudo systemctl start docker`,
or run `dockerd` in the background), make sure this user may open its socket (`sudo usermod -aG docker $USER`),
or point DOCKER_HOST (unix:///path or tcp://host:port, with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH for TLS)
or DOCKER_CONTEXT at a daemon that runs. Podman works too: start its API service
(`sudo podman system service --time=0 unix:///run/podman/podman.sock &`).";

pub(super) fn list_attempts(attempts: &[Attempt]) -> String {
    if attempts.is_empty() {
        return "  (no endpoint)".to_owned();
    }
    attempts
        .iter()
        .map(|a| {
            format!(
                "  - {} ({}): {}",
                a.candidate.endpoint, a.candidate.origin, a.failure
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn list_tried(tried: &[String]) -> String {
    tried
        .iter()
        .map(|t| format!("  - {t}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn for_suffix(target: &Option<String>) -> String {
    match target {
        Some(target) => format!(" (for {target})"),
        None => String::new(),
    }
}

/// The last lines a failed command printed: stderr, else stdout (the runtime puts its
/// "executable file not found" there).
pub(super) fn output_suffix(stderr: &str, stdout: &str) -> String {
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = LogTail {
        lines: lines[lines.len().saturating_sub(20)..]
            .iter()
            .map(|l| (*l).to_owned())
            .collect(),
    };
    format!("; it printed:\n{tail}")
}

/// What to do about a network or volume containers still use.
pub(super) fn in_use_suffix(step: Step, source: &bollard::errors::Error) -> &'static str {
    if step == Step::Remove && matches!(status_of(source), Some(403 | 409)) {
        ": containers still use it (remove them first); it is removed in the background \
         as soon as they are gone"
    } else {
        ""
    }
}

pub(super) fn state_suffix(state: &Option<String>) -> String {
    match state {
        Some(state) => format!("; container state: {state}"),
        None => String::new(),
    }
}

pub(super) fn logs_suffix(logs: &Option<LogTail>) -> String {
    match logs {
        Some(logs) => format!("\n  last log lines:\n{logs}"),
        None => String::new(),
    }
}

pub(super) fn oom_suffix(oom_killed: bool) -> &'static str {
    if oom_killed {
        " (killed by the OOM killer: raise the memory limit)"
    } else {
        ""
    }
}

pub(super) fn waiting_for_suffix(waiting_for: &Option<String>) -> String {
    match waiting_for {
        Some(what) => format!(", waiting for {what}"),
        None => String::new(),
    }
}
