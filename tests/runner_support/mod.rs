//! Helpers of `runner_failures.rs`: run one of its ignored tests in a child process of
//! this very binary, bounded in time, with its output captured; and look at what the
//! child left on the daemon and under `target/testdock/`.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::future::Future;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use testdock::bollard::errors::Error as DockerError;
use testdock::bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use wait_timeout::ChildExt;

use crate::common;

/// `module_path!()` of this binary's root module: the prefix of the runner's test ids.
pub const MODULE: &str = "runner_failures";

/// How long a child may run before it is killed and the driver fails.
pub const CHILD_LIMIT: Duration = Duration::from_secs(120);

/// Variables of the runner that a child must not inherit from the driver's environment.
const RUNNER_ENV: [&str; 2] = [
    testdock::runner::KEEP_FAILED_ENV,
    testdock::runner::SKIP_WITHOUT_DOCKER_ENV,
];

/// What one child run of a test did.
#[derive(Debug)]
pub struct ChildRun {
    pub name: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
    /// What was labelled with the child's test the moment it exited (checked before
    /// anything it started, such as a reaper process, could clean up after it).
    pub left_at_exit: Vec<String>,
    /// Held while the run is inspected: two drivers of the same child would otherwise
    /// see each other's containers (same test label) and artifacts.
    _serial: std::sync::MutexGuard<'static, ()>,
}

/// One lock per child test name.
fn serial(name: &str) -> std::sync::MutexGuard<'static, ()> {
    static LOCKS: std::sync::Mutex<Vec<(String, &'static std::sync::Mutex<()>)>> =
        std::sync::Mutex::new(Vec::new());
    let lock = {
        let mut locks = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
        match locks.iter().find(|(n, _)| n == name) {
            Some((_, lock)) => *lock,
            None => {
                let lock: &'static std::sync::Mutex<()> = Box::leak(Box::default());
                locks.push((name.to_owned(), lock));
                lock
            }
        }
    };
    lock.lock().unwrap_or_else(|e| e.into_inner())
}

impl ChildRun {
    /// Stdout and stderr, for assertions that do not care which.
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Panics, showing the child's output, unless `text` is in it.
    pub fn assert_output_has(&self, text: &str) {
        assert!(
            self.output().contains(text),
            "the output of child `{}` lacks {text:?}:\n{self}",
            self.name
        );
    }

    /// Asserts libtest ran exactly the one test and that it failed.
    pub fn assert_failed(&self) {
        assert!(!self.status.success(), "child passed:\n{self}");
        self.assert_output_has("test result: FAILED. 0 passed; 1 failed");
    }

    /// Asserts nothing of the child's test is left within 5 s of its exit. The runner
    /// hands its teardown to a background thread, so a child that exits right after
    /// its test may leave that work to its reaper: `left_at_exit` need not be empty.
    pub fn assert_nothing_left(&self) {
        let left = wait_until_nothing_left(&self.name, Duration::from_secs(5));
        assert!(
            left.is_empty(),
            "child `{}` left (at exit: {:#?}): {left:#?}\n{self}",
            self.name,
            self.left_at_exit
        );
    }

    /// Asserts libtest ran exactly the one test and that it passed.
    pub fn assert_passed(&self) {
        assert!(self.status.success(), "child failed:\n{self}");
        self.assert_output_has("test result: ok. 1 passed; 0 failed");
    }
}

impl std::fmt::Display for ChildRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "child `{}`: {} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.name, self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs the ignored test `name` of this binary alone in a child process with `env` added,
/// and returns once it exits (killing it, and failing, after `limit`).
pub fn run_child(name: &str, env: &[(&str, &str)], limit: Duration) -> ChildRun {
    run_child_inner(name, env, limit, false)
}

/// Like [`run_child`], after removing the child's diagnostics directory of earlier runs
/// (under the same lock, so a concurrent driver of the same child is not disturbed).
pub fn run_child_fresh(name: &str, env: &[(&str, &str)], limit: Duration) -> ChildRun {
    run_child_inner(name, env, limit, true)
}

fn run_child_inner(name: &str, env: &[(&str, &str)], limit: Duration, fresh: bool) -> ChildRun {
    let serial = serial(name);
    if fresh {
        let _ = std::fs::remove_dir_all(artifact_dir(name));
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    command
        .args([
            "--ignored",
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in RUNNER_ENV {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    let started = Instant::now();
    let mut child = command.spawn().expect("spawn the test binary");
    // Drained on threads: a child that fills a pipe would otherwise never exit.
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let status = match child.wait_timeout(limit).expect("wait for the child") {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            let removed = remove_containers_of(name);
            panic!(
                "child `{name}` was still running after {limit:?} and was killed (its \
                 containers {removed:?} were removed)\n--- stdout ---\n{}\n--- stderr ---\n{}",
                stdout.join().unwrap_or_default(),
                stderr.join().unwrap_or_default()
            );
        }
    };
    let elapsed = started.elapsed();
    let left_at_exit = leftovers(name);
    // The pipes close when every process holding them is gone (a reaper the child
    // started inherits its stderr).
    ChildRun {
        name: name.to_owned(),
        status,
        stdout: stdout.join().expect("read stdout"),
        stderr: stderr.join().expect("read stderr"),
        elapsed,
        left_at_exit,
        _serial: serial,
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The runner's id of the test `name` of this binary.
pub fn test_id(name: &str) -> String {
    format!("{MODULE}::{name}")
}

/// One runtime for every driver's daemon calls (testdock caches its client per process).
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("build the drivers' runtime")
});

pub fn block_on<F: Future>(future: F) -> F::Output {
    RUNTIME.block_on(future)
}

/// What the daemon still holds of the child test `name`.
pub fn leftovers(name: &str) -> Vec<String> {
    block_on(common::leftovers(&test_id(name)))
}

/// Force-removes the containers labelled with the child test `name`; returns the names
/// of those it removed.
pub fn remove_containers_of(name: &str) -> Vec<String> {
    block_on(async {
        let docker = crate::common::docker().await;
        let filter = HashMap::from([(
            "label",
            vec![format!("{}={}", testdock::labels::TEST, test_id(name))],
        )]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filter)
            .build();
        let mut removed = Vec::new();
        for c in docker.list_containers(Some(options)).await.expect("list") {
            let id = c.id.unwrap_or_default();
            let options = RemoveContainerOptionsBuilder::default()
                .force(true)
                .v(true)
                .build();
            match docker.remove_container(&id, Some(options)).await {
                Ok(()) => removed.extend(c.names.unwrap_or_default()),
                // Gone meanwhile, or being removed, by someone else (a reaper).
                Err(DockerError::DockerResponseServerError {
                    status_code: 404 | 409,
                    ..
                }) => {}
                Err(e) => panic!("remove container {id}: {e}"),
            }
        }
        removed
    })
}

/// Waits up to `limit` until nothing labelled with the child test `name` is left;
/// returns what is left then.
pub fn wait_until_nothing_left(name: &str, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let left = leftovers(name);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    }
}

/// Where the runner writes the diagnostics of the child test `name`: under
/// `CARGO_TARGET_DIR`, else the `target` ancestor of this executable (as the runner does).
pub fn artifact_dir(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            exe.ancestors()
                .find(|p| p.file_name().is_some_and(|n| n == "target"))
                .map(PathBuf::from)
        })
        .expect("a target directory");
    target
        .join("testdock")
        .join(test_id(name).replace("::", "__"))
}

/// The names of the containers a failure report describes (`  container NAME (image ...`).
pub fn reported_containers(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("container ")?;
            let (name, rest) = rest.split_once(" (image ")?;
            let (image, _) = rest.split_once("): ")?;
            Some((name.to_owned(), image.to_owned()))
        })
        .collect()
}
