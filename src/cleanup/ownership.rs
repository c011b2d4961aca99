//! Who may remove what: the proof that a resource's owner is dead.
//!
//! A resource is [`Ownership::Dead`] only when all of these hold, read from its labels
//! and this process's `/proc`:
//!
//! 1. it is not a kept container (`TESTDOCK_KEEP_FAILED`) nor one reused across runs
//!    (`TESTDOCK_REUSE`): those belong to no one;
//! 2. it names its owner (`<pid>-<start time>`), host (boot id) and pid namespace;
//! 3. the host is this one (same boot id) and the pid namespace is this process's, as
//!    seen through a `/proc` that belongs to that namespace;
//! 4. the owner pid is gone, or runs with another start time (a reused pid);
//! 5. it is older than [`GRACE_SECS`].
//!
//! Anything else is [`Ownership::Unknown`], with the reason: another host, another pid
//! namespace (a job container, `unshare --pid`), no `/proc` (Docker Desktop's host
//! side), labels missing or too young. Unknown is never removed automatically; `prune
//! --all` removes it on request.

use std::collections::HashMap;
use std::fmt;

use crate::labels;
use crate::procfs::{parse_owner, LocalFacts};

/// How old a resource must be before a dead owner makes it stale, in seconds: covers a
/// clock step and a resource labelled just before its owner's `/proc` entry is read.
pub(crate) const GRACE_SECS: i64 = 10;

/// Whether a resource's owner is known to be alive, known to be dead, or neither.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ownership {
    /// The owner process still runs here.
    Alive,
    /// The owner provably died: the resource is stale and a sweep removes it.
    Dead,
    /// A container kept for debugging (`TESTDOCK_KEEP_FAILED`): never removed
    /// automatically; `testdock prune --kept` or `--all` removes it.
    Kept,
    /// A shared fixture's container reused across runs (`TESTDOCK_REUSE`, label
    /// `testdock.reuse`), or a volume it made: it has no owner, so it is never stale;
    /// `testdock prune --reused` or `--all` removes it.
    Reused,
    /// Nothing proves the owner dead: left alone unless `prune --all` is asked for.
    Unknown(Unproven),
}

/// Why an owner's death cannot be proven from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unproven {
    /// The resource lacks owner, host or pid-namespace labels (made by an older
    /// testdock, or by hand).
    NoLabels,
    /// The owner ran on another host (or boot) sharing the daemon.
    OtherHost,
    /// The owner runs in another pid namespace (a job container, `unshare --pid`).
    OtherPidNamespace,
    /// This process cannot read a `/proc` of its own (e.g. Docker Desktop's host side).
    NoProc,
    /// Younger than the grace period (or of unknown age).
    Recent,
}

impl Unproven {
    /// A stable identifier for scripts (`testdock ps --json`): `no-labels`,
    /// `other-host`, `other-pid-namespace`, `no-proc` or `recent`.
    pub fn code(&self) -> &'static str {
        match self {
            Unproven::NoLabels => "no-labels",
            Unproven::OtherHost => "other-host",
            Unproven::OtherPidNamespace => "other-pid-namespace",
            Unproven::NoProc => "no-proc",
            Unproven::Recent => "recent",
        }
    }
}

impl Ownership {
    /// A stable identifier for scripts (`testdock ps --json`): `alive`, `stale`
    /// ([`Dead`](Self::Dead)), `kept`, `reused` or `unknown` (the reason in
    /// [`Unproven::code`]).
    pub fn code(&self) -> &'static str {
        match self {
            Ownership::Alive => "alive",
            Ownership::Dead => "stale",
            Ownership::Kept => "kept",
            Ownership::Reused => "reused",
            Ownership::Unknown(_) => "unknown",
        }
    }
}

impl fmt::Display for Unproven {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unproven::NoLabels => "no owner labels",
            Unproven::OtherHost => "another host",
            Unproven::OtherPidNamespace => "another pid namespace",
            Unproven::NoProc => "no /proc here",
            Unproven::Recent => "too recent to judge",
        })
    }
}

impl fmt::Display for Ownership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ownership::Unknown(why) => write!(f, "unknown ({why})"),
            known => f.write_str(known.code()),
        }
    }
}

/// The verdict on resource `name` with `labels`, created at `created` (seconds since the
/// epoch, 0 if unknown), judged at `now` by a process that sees `local`.
pub(crate) fn judge(
    name: &str,
    resource_labels: &HashMap<String, String>,
    created: i64,
    now: i64,
    local: &LocalFacts,
) -> Ownership {
    use Ownership::Unknown;
    if labels::is_kept_name(name) {
        return Ownership::Kept;
    }
    let get = |key: &str| resource_labels.get(key).map(String::as_str);
    if get(labels::REUSE).is_some() {
        return Ownership::Reused;
    }
    let (Some(owner), Some(host), Some(namespace)) = (
        get(labels::OWNER).and_then(parse_owner),
        get(labels::HOST),
        get(labels::PID_NAMESPACE).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        return Unknown(Unproven::NoLabels);
    };
    let (Some(boot_id), Some(own_namespace), Some(proc)) =
        (&local.boot_id, local.pid_namespace, &local.proc)
    else {
        return Unknown(Unproven::NoProc);
    };
    if host != boot_id {
        return Unknown(Unproven::OtherHost);
    }
    if namespace != own_namespace {
        return Unknown(Unproven::OtherPidNamespace);
    }
    let (pid, start) = owner;
    if proc.is_alive(pid, start) {
        return Ownership::Alive;
    }
    let created = get(labels::CREATED)
        .and_then(|c| c.parse::<i64>().ok())
        .unwrap_or(created);
    if created <= 0 || now - created < GRACE_SECS {
        return Unknown(Unproven::Recent);
    }
    Ownership::Dead
}

#[cfg(test)]
mod tests;
