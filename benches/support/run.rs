//! Running a bench: connecting to the daemon, the counted iterations, the order of the
//! variants in a round, the measurement in a task that a panic or Ctrl-C cannot take
//! past the cleanup, and the exit code (non-zero only when the bench could not run,
//! failed, or left something behind: a missed target is a measurement, not a failure).

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;

use super::images::BUSYBOX;
use super::Result;

/// Sets the number of counted iterations of the benches that have a setting.
pub const ITERATIONS_ENV: &str = "TESTDOCK_BENCH_ITERATIONS";

/// The daemon, and the static busybox the images are made from; `None` (after saying
/// why and how to get them) when either is missing.
pub async fn connect(bench: &str) -> Option<&'static testdock::Daemon> {
    let daemon = match testdock::daemon().await {
        Ok(daemon) => daemon,
        Err(e) => {
            eprintln!(
                "bench {bench}: this benchmark needs a running Docker daemon, and none answered.\n\n{e}\n\n\
                 To get one: `sudo apt-get install -y docker.io && sudo dockerd &` (or start Docker \
                 Desktop), or point DOCKER_HOST at a daemon (e.g. `unix:///var/run/docker.sock`, \
                 `tcp://host:2375`)."
            );
            return None;
        }
    };
    if !Path::new(BUSYBOX).exists() {
        eprintln!(
            "bench {bench}: the images are made from a static busybox at {BUSYBOX}, which is \
             missing: `sudo apt-get install -y busybox-static`"
        );
        return None;
    }
    Some(daemon)
}

/// The counted iterations: [`ITERATIONS_ENV`] if set (a positive number), else `default`.
pub fn iterations(default: usize) -> Result<usize> {
    match std::env::var(ITERATIONS_ENV) {
        Ok(n) => Ok(n
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("{ITERATIONS_ENV}={n:?} is not a positive number"))?),
        Err(_) => Ok(default),
    }
}

/// What the caption adds when fewer than `min` iterations are counted.
pub fn smoke_note(iterations: usize, min: usize) -> String {
    if iterations < min {
        format!(" (fewer than {min}: a smoke run, not a measurement)")
    } else {
        String::new()
    }
}

/// The variants in the order of round `round`: reversed every other round, to cancel
/// drift.
pub fn alternate<T, C: AsMut<[T]>>(mut variants: C, round: usize) -> C {
    if round % 2 == 1 {
        variants.as_mut().reverse();
    }
    variants
}

/// Runs `bench` in a task, so that a panic or Ctrl-C still returns here (and the caller
/// reaches its leak check). The error says what ended it.
pub async fn guarded(
    bench: impl Future<Output = Result<()>> + Send + 'static,
) -> Result<(), String> {
    let mut bench = tokio::spawn(bench);
    tokio::select! {
        joined = &mut bench => match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("the bench failed: {e}")),
            Err(e) => Err(format!("the bench panicked: {e}")),
        },
        _ = tokio::signal::ctrl_c() => {
            bench.abort();
            let _ = bench.await;
            Err("interrupted".to_owned())
        }
    }
}

/// Prints why the bench did not complete, if it did not; whether it did.
pub fn completed<E: std::fmt::Display>(bench: &str, outcome: std::result::Result<(), E>) -> bool {
    match outcome {
        Ok(()) => true,
        Err(e) => {
            eprintln!("bench {bench}: {e}");
            false
        }
    }
}

/// The process's exit code: success unless something is not `ok`.
pub fn exit_code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
