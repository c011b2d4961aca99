//! Reaper benchmark: what the first use of testdock in a test process pays for its
//! reaper, by kind, measured in fresh processes (the reaper starts once per process).
//!
//! - `local`: the local watchdog (a copy of the executable, spawned);
//! - `daemon, joining`: a watcher exec'd in the session's running reaper container (what
//!   every process of a nextest run but the first pays in a job container);
//! - `daemon, new container`: the session's first process, the reaper image cached;
//! - `daemon, first ever`: the same with the image imported first (once per daemon and
//!   testdock version; a fresh DinD pays it once per job).
//!
//! Each sample is a child process (this bench binary) that connects to the daemon
//! (untimed), then times `testdock::prune::start_reaper()`. Run with
//! `cargo bench --bench reaper` (about a minute). Exit code 0 unless it could not run or
//! left something behind.

mod support;

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use testdock::bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};

use support::stats::median;

const SAMPLES: usize = 7;
const CHILD_ENV: &str = "TESTDOCK_BENCH_REAPER_CHILD";

fn child() -> ExitCode {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        testdock::daemon().await.expect("a Docker daemon");
        let started = Instant::now();
        let kind = testdock::prune::start_reaper().await;
        let took = started.elapsed();
        println!("KIND {kind:?}");
        println!("MS {:.3}", took.as_secs_f64() * 1e3);
        // Stay a moment with the watcher attached (a test would now run).
        if let Ok(hold) = std::env::var("TESTDOCK_BENCH_HOLD_MS") {
            tokio::time::sleep(Duration::from_millis(hold.parse().unwrap())).await;
        }
    });
    ExitCode::SUCCESS
}

/// Runs one child with `env`; returns (kind, ms).
fn sample(env: &[(&str, String)]) -> (String, f64) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(CHILD_ENV, "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run a child");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = |marker: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(marker))
            .unwrap_or_else(|| panic!("no {marker} in {text:?}"))
            .trim()
            .to_owned()
    };
    (value("KIND "), value("MS ").parse().unwrap())
}

/// Removes every reaper image (the current build's included).
async fn remove_reaper_images() {
    let docker = testdock::daemon()
        .await
        .map(|d| d.client().clone())
        .unwrap();
    let filters = std::collections::HashMap::from([("reference", vec!["testdock/reaper"])]);
    let list = ListImagesOptionsBuilder::default()
        .filters(&filters)
        .build();
    let options = RemoveImageOptionsBuilder::default().force(true).build();
    for image in docker.list_images(Some(list)).await.unwrap() {
        for tag in image.repo_tags {
            let _ = docker.remove_image(&tag, Some(options.clone()), None).await;
        }
    }
}

#[allow(clippy::disallowed_methods)] // the driver is sync: it only waits for children
fn main() -> ExitCode {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child();
    }
    if std::env::args().any(|a| a == "--list") {
        return ExitCode::SUCCESS;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let run = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 0xff_ffff
    );
    let mut rows = Vec::new();

    let local: Vec<f64> = (0..SAMPLES)
        .map(|_| sample(&[("TESTDOCK_REAPER", "local".into())]))
        .inspect(|(kind, _)| assert_eq!(kind, "Some(Local)"))
        .map(|(_, ms)| ms)
        .collect();
    rows.push(("local watchdog", median(&local)));

    // A fresh session each: a new reaper container from the cached image.
    let _ = sample(&[
        ("TESTDOCK_REAPER", "daemon".into()),
        ("TESTDOCK_SESSION", format!("bench-{run}-warm")),
    ]);
    let new_container: Vec<f64> = (0..SAMPLES)
        .map(|i| {
            sample(&[
                ("TESTDOCK_REAPER", "daemon".into()),
                ("TESTDOCK_SESSION", format!("bench-{run}-new-{i}")),
            ])
        })
        .inspect(|(kind, _)| assert_eq!(kind, "Some(DaemonSide)"))
        .map(|(_, ms)| ms)
        .collect();
    rows.push((
        "daemon-side, new container (image cached)",
        median(&new_container),
    ));

    // One session: the container runs (held up by a first child), the others join.
    let session = format!("bench-{run}-join");
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, "1")
        .env("TESTDOCK_REAPER", "daemon")
        .env("TESTDOCK_SESSION", &session)
        .env("TESTDOCK_BENCH_HOLD_MS", "30000")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let joining: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            sample(&[
                ("TESTDOCK_REAPER", "daemon".into()),
                ("TESTDOCK_SESSION", session.clone()),
            ])
        })
        .map(|(_, ms)| ms)
        .collect();
    let _ = holder.kill();
    let _ = holder.wait();
    rows.push((
        "daemon-side, joining the session's container",
        median(&joining),
    ));

    // The first use on a daemon that has no reaper image yet (3 samples: each imports).
    let mut first = Vec::new();
    for i in 0..3 {
        std::thread::sleep(Duration::from_secs(6)); // earlier reaper containers leave
        rt.block_on(remove_reaper_images());
        let (_, ms) = sample(&[
            ("TESTDOCK_REAPER", "daemon".into()),
            ("TESTDOCK_SESSION", format!("bench-{run}-first-{i}")),
        ]);
        first.push(ms);
    }
    rows.push(("daemon-side, first ever (image imported)", median(&first)));

    let exe = std::fs::metadata(std::env::current_exe().unwrap())
        .map(|m| m.len())
        .unwrap_or(0);
    println!("\nreaper first-use cost, median of {SAMPLES} fresh processes (3 for the import):");
    println!(
        "(the reaper image holds this executable: {:.1} MB)",
        exe as f64 / 1e6
    );
    for (name, ms) in &rows {
        println!("  {name:<48} {ms:>9.1} ms");
    }

    // Everything this bench's sessions made must go once the reaper containers idle out.
    std::thread::sleep(Duration::from_secs(7));
    let left = rt.block_on(async {
        let ps = testdock::prune::ps(testdock::prune::Selection::all())
            .await
            .unwrap();
        ps.into_iter()
            .filter(|r| r.session.starts_with(&format!("bench-{run}")))
            .map(|r| r.name)
            .collect::<Vec<_>>()
    });
    if left.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("LEAK: {left:?}");
        ExitCode::FAILURE
    }
}
