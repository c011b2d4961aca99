//! What `/proc` says about processes: start times, liveness, the boot id, the pid
//! namespace. Linux only; where `/proc` is missing (Docker Desktop's host side on macOS
//! or Windows) or belongs to another pid namespace than this process's, every answer is
//! "unknown" and callers fall back to safe behaviour.
//!
//! Everything reads below a root directory ([`Procfs::root`]) so that the decisions made
//! on these facts can be tested on fake trees.

use std::fs;
use std::path::PathBuf;

use once_cell::sync::Lazy;

/// The inode of the kernel's initial pid namespace (`PROC_PID_INIT_INO`): a process in
/// it is on the host, not in a container or an `unshare --pid` namespace.
pub(crate) const INITIAL_PID_NAMESPACE: u64 = 0xEFFF_FFFC;

/// A `/proc` tree.
#[derive(Debug, Clone)]
pub(crate) struct Procfs {
    root: PathBuf,
}

impl Procfs {
    /// The real `/proc`.
    pub(crate) fn system() -> Self {
        Self::at("/proc")
    }

    /// A `/proc`-shaped tree at `root` (tests).
    pub(crate) fn at(root: impl Into<PathBuf>) -> Self {
        Procfs { root: root.into() }
    }

    fn read(&self, rel: &str) -> Option<String> {
        fs::read_to_string(self.root.join(rel)).ok()
    }

    /// Whether this tree describes the pid namespace of the process with (namespace
    /// local) id `pid`: `/proc/self` names that pid. A `/proc` mounted from another
    /// namespace (e.g. `unshare --pid --fork` without `--mount-proc`) names another one,
    /// and its pids mean other processes: nothing read from it can prove a death.
    pub(crate) fn is_own(&self, pid: u32) -> bool {
        fs::read_link(self.root.join("self"))
            .ok()
            .and_then(|target| target.to_str()?.parse::<u32>().ok())
            == Some(pid)
    }

    /// A process's start time in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
    pub(crate) fn start_time(&self, pid: u32) -> Option<u64> {
        parse_start_time(&self.read(&format!("{pid}/stat"))?)
    }

    /// The parent id of process `pid` (field 4 of its stat line).
    pub(crate) fn parent_pid(&self, pid: u32) -> Option<u32> {
        let stat = self.read(&format!("{pid}/stat"))?;
        let after_comm = &stat[stat.rfind(')')? + 1..];
        after_comm.split_whitespace().nth(1)?.parse().ok()
    }

    /// Whether process `pid` still runs and is the one that started at `start`. A reused
    /// pid has another start time, so it does not count as alive.
    pub(crate) fn is_alive(&self, pid: u32, start: u64) -> bool {
        self.start_time(pid) == Some(start)
    }

    /// The kernel's boot id: tells this host (and boot) apart from others sharing a
    /// daemon. Containers see their host's boot id.
    pub(crate) fn boot_id(&self) -> Option<String> {
        let id = self.read("sys/kernel/random/boot_id")?;
        Some(id.trim().to_owned()).filter(|id| !id.is_empty())
    }

    /// The inode of this process's pid namespace (`/proc/self/ns/pid` -> `pid:[N]`).
    pub(crate) fn pid_namespace(&self) -> Option<u64> {
        let link = fs::read_link(self.root.join("self/ns/pid")).ok()?;
        parse_namespace_link(link.to_str()?)
    }
}

/// Field 22 of a `/proc/<pid>/stat` line. The command name (field 2) may hold spaces
/// and parentheses, so fields are counted after its closing parenthesis.
pub(crate) fn parse_start_time(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // After the name: state is field 3, so start time (22) is the 20th field here.
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

/// `pid:[4026531836]` -> `4026531836`.
pub(crate) fn parse_namespace_link(link: &str) -> Option<u64> {
    link.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

/// An owner label value, `<pid>-<start time>[-<pid namespace>]`, parsed back to the
/// pid and start time.
pub(crate) fn parse_owner(owner: &str) -> Option<(u32, u64)> {
    let mut parts = owner.split('-');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    Some((pid, start))
}

/// What this process can see of processes: the facts an owner's labels are checked against.
#[derive(Debug, Clone)]
pub(crate) struct LocalFacts {
    /// This host's boot id.
    pub(crate) boot_id: Option<String>,
    /// This process's pid namespace (inode).
    pub(crate) pid_namespace: Option<u64>,
    /// The `/proc` of that namespace, when it is mounted and really is that namespace's.
    pub(crate) proc: Option<Procfs>,
}

impl LocalFacts {
    /// Reads the facts from `proc` for the process whose own pid is `pid`.
    pub(crate) fn read(proc: Procfs, pid: u32) -> Self {
        let own = proc.is_own(pid);
        LocalFacts {
            boot_id: proc.boot_id(),
            pid_namespace: if own { proc.pid_namespace() } else { None },
            proc: own.then_some(proc),
        }
    }

    /// This process's facts, read once.
    pub(crate) fn system() -> &'static LocalFacts {
        static FACTS: Lazy<LocalFacts> =
            Lazy::new(|| LocalFacts::read(Procfs::system(), std::process::id()));
        &FACTS
    }

    /// Whether this process is in the host's initial pid namespace, so a watchdog it
    /// starts dies only with the host (not with a container or a namespace's pid 1).
    pub(crate) fn in_initial_pid_namespace(&self) -> bool {
        self.pid_namespace == Some(INITIAL_PID_NAMESPACE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_is_read_after_the_command_name() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 123 45";
        assert_eq!(parse_start_time(stat), Some(987654));
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_wrong_start_time_is_not() {
        let proc = Procfs::system();
        let pid = std::process::id();
        let start = proc.start_time(pid).expect("linux /proc");
        assert!(proc.is_alive(pid, start));
        assert!(!proc.is_alive(pid, start + 1));
        assert!(proc.parent_pid(pid).is_some());
        assert!(proc.boot_id().is_some_and(|b| b.len() > 10));
        assert!(proc.is_own(pid));
        assert!(!proc.is_own(pid + 1));
        assert!(proc.pid_namespace().is_some());
    }

    #[test]
    fn namespace_links_and_owner_values_parse() {
        assert_eq!(parse_namespace_link("pid:[4026531836]"), Some(4026531836));
        assert_eq!(parse_namespace_link("net:[4026531836]"), None);
        assert_eq!(parse_owner("42-1000"), Some((42, 1000)));
        assert_eq!(parse_owner("42-1000-4026531836"), Some((42, 1000)));
        assert_eq!(parse_owner("42"), None);
        assert_eq!(parse_owner("x-1"), None);
    }

    #[test]
    fn a_missing_tree_knows_nothing() {
        let proc = Procfs::at("/nonexistent-proc-root");
        assert_eq!(proc.start_time(1), None);
        assert_eq!(proc.boot_id(), None);
        assert_eq!(proc.pid_namespace(), None);
        assert!(!proc.is_own(std::process::id()));
    }
}
