//! What `/proc` says about processes: start times, liveness, the boot id. Linux only;
//! elsewhere every answer is "unknown" and callers fall back to safe behaviour.

use std::fs;

/// A process's start time in clock ticks since boot (field 22 of `/proc/<pid>/stat`).
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    parse_start_time(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Field 22 of a `/proc/<pid>/stat` line. The command name (field 2) may hold spaces
/// and parentheses, so fields are counted after its closing parenthesis.
pub(crate) fn parse_start_time(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // After the name: state is field 3, so start time (22) is the 20th field here.
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

/// This process's parent id (field 4).
pub(crate) fn parent_pid() -> Option<u32> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(1)?.parse().ok()
}

/// Whether process `pid` still runs and is the one that started at `start`. A reused
/// pid has another start time, so it does not count as alive.
pub(crate) fn is_alive(pid: u32, start: u64) -> bool {
    start_time(pid) == Some(start)
}

/// The kernel's boot id: tells this host (and boot) apart from others sharing a daemon.
pub(crate) fn boot_id() -> Option<String> {
    let id = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_owned())
}

/// An owner label value, `<pid>-<start time>`, parsed back.
pub(crate) fn parse_owner(owner: &str) -> Option<(u32, u64)> {
    let (pid, start) = owner.split_once('-')?;
    Some((pid.parse().ok()?, start.parse().ok()?))
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
        let pid = std::process::id();
        let start = start_time(pid).expect("linux /proc");
        assert!(is_alive(pid, start));
        assert!(!is_alive(pid, start + 1));
        assert!(parent_pid().is_some());
        assert!(boot_id().is_some_and(|b| b.len() > 10));
    }

    #[test]
    fn owner_values_round_trip() {
        assert_eq!(parse_owner("42-1000"), Some((42, 1000)));
        assert_eq!(parse_owner("42"), None);
        assert_eq!(parse_owner("x-1"), None);
    }
}
