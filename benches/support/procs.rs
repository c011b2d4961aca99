//! Child processes of the benches: run one to its end with its peak memory
//! (`wait4`'s resource usage), and read other processes' memory and children from
//! `/proc` (Linux only, as the benches are).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::Result;

/// A child process that ran to its end.
#[derive(Debug, Clone)]
pub struct Finished {
    /// From spawn to its end.
    pub wall: Duration,
    /// Whether it exited with code 0.
    pub success: bool,
    /// Its peak resident memory, in KiB (`ru_maxrss`).
    pub max_rss_kib: u64,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

/// Runs `command` to its end, its output into temporary files (a full pipe cannot
/// stall it), and returns how long it took and its peak memory.
pub fn run(command: &mut Command) -> Result<Finished> {
    let stdout = tempfile::tempfile()?;
    let stderr = tempfile::tempfile()?;
    let started = Instant::now();
    let child = command
        .stdin(std::process::Stdio::null())
        .stdout(stdout.try_clone()?)
        .stderr(stderr.try_clone()?)
        .spawn()?;
    let (status, max_rss_kib) = wait_with_usage(child.id())?;
    let wall = started.elapsed();
    Ok(Finished {
        wall,
        success: status == 0,
        max_rss_kib,
        stdout: read_all(stdout)?,
        stderr: read_all(stderr)?,
    })
}

fn read_all(mut file: std::fs::File) -> Result<String> {
    use std::io::{Read, Seek};
    let mut text = String::new();
    file.seek(std::io::SeekFrom::Start(0))?;
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// Waits for child `pid`: (its exit code, or -1 when a signal ended it; its peak RSS in KiB).
#[allow(unsafe_code)]
fn wait_with_usage(pid: u32) -> Result<(i32, u64)> {
    let mut status = 0;
    // SAFETY: `rusage` is plain data that wait4 fills; all-zero is a valid value of it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 writes only to the two pointers, which point at live locals.
        let waited = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if waited == pid as libc::pid_t {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waiting for process {pid}: {e}").into());
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok((code, u64::try_from(usage.ru_maxrss).unwrap_or(0)))
}

/// The pids whose parent is `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| parent_of(child) == Some(pid))
        .collect()
}

/// The parent of `pid`, from `/proc/<pid>/stat` (the field after the `)` that ends
/// the command name, which may hold spaces or parentheses itself).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// The peak resident memory of a running process, in KiB (`VmHWM`).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Watches `pid` until it ends (or `limit` passes): the last peak memory seen, in KiB.
/// Blocking: call it on a thread of its own.
#[allow(clippy::disallowed_methods)]
pub fn watch_peak_rss(pid: u32, limit: Duration) -> Option<u64> {
    let deadline = Instant::now() + limit;
    let mut peak = None;
    while Instant::now() < deadline {
        match peak_rss_kib(pid) {
            Some(kib) => peak = Some(kib),
            None => break,
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    peak
}
