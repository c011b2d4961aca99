//! Test processes run as children: this test binary running one of its ignored
//! `child_*`/`inner_*` tests, possibly through a wrapper (`unshare`), with its output
//! read line by line.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

/// A command running test `test` of this binary, after `wrapper` (e.g. `unshare ...`).
///
/// The child gets the default SIGINT disposition whatever this process inherited: CI
/// wrappers that start suites as background jobs of a non-interactive shell leave
/// SIGINT ignored, and an ignored disposition survives `exec`.
pub fn test_command(wrapper: &[&str], test: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    command.args([
        "--ignored",
        "--exact",
        test,
        "--nocapture",
        "--test-threads=1",
    ]);
    command.env(
        testdock::labels::SESSION_ENV,
        testdock::labels::session_id(),
    );
    default_sigint(&mut command);
    command
}

#[allow(unsafe_code)]
fn default_sigint(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only async-signal-safe calls are allowed, and
    // signal(2) is one; it touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
}

/// A running child whose stdout lines are collected.
pub struct ChildTest {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ChildTest {
    /// Spawns `command` with piped stdin, stdout and stderr.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the child test process");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let stdin = child.stdin.take();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, lines) = std::sync::mpsc::channel();
        let seen_out = seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                seen_out.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let seen_err = seen.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                seen_err.lock().unwrap().push(line);
            }
        });
        ChildTest {
            child,
            stdin,
            lines,
            seen,
        }
    }

    /// Everything the child printed so far, stdout and stderr interleaved.
    pub fn output(&self) -> String {
        self.seen.lock().unwrap().join("\n")
    }

    /// The rest of the first line holding `marker` (libtest may print `test name ... `
    /// before it on the same line).
    #[allow(clippy::disallowed_methods)] // sync code: a child's output is awaited
    pub fn expect(&self, marker: &str, within: Duration) -> String {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some((_, rest)) = line.split_once(marker) {
                        return rest.trim().to_owned();
                    }
                }
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(100));
                    panic!(
                        "the child printed no `{marker}` line within {within:?}; its output:\n{}",
                        self.output()
                    )
                }
            }
        }
    }

    /// Writes one line to the child's stdin.
    pub fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to the child");
        stdin.flush().unwrap();
    }

    /// Closes the child's stdin.
    pub fn hang_up(&mut self) {
        self.stdin = None;
    }
}
