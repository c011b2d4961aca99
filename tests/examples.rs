//! The examples run as a user runs them (`cargo run --example <name>`): each succeeds,
//! prints what it promises and leaves nothing behind. Each runs in a session of its
//! own, which the leak check looks at.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs example `name` in a session of its own; returns its stdout after checking that
/// it succeeded and that nothing of its session is left.
async fn run_example(name: &str) -> String {
    let session = format!("example-{name}-{}", common::unique());
    let out = Command::new(common::examples::example(name))
        .env(testdock::labels::SESSION_ENV, &session)
        .output()
        .unwrap_or_else(|e| panic!("run example {name}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let filter = format!("{}={session}", testdock::labels::SESSION);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = common::labelled(&filter).await;
    while !left.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = common::labelled(&filter).await;
    }
    assert!(
        out.status.success(),
        "example {name} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(left.is_empty(), "example {name} left: {left:#?}");
    stdout
}

#[tokio::test]
async fn in_memory_image_says_hello() {
    let out = run_example("in_memory_image").await;
    assert!(
        out.contains("the container said: hello from an image built in memory"),
        "{out}"
    );
}

#[tokio::test]
async fn snapshot_starts_copies_from_the_seeded_state() {
    let out = run_example("snapshot").await;
    for n in 0..3 {
        assert!(
            out.contains(&format!("copy {n} (")),
            "copy {n} is missing:\n{out}"
        );
    }
    // The snapshot image is removed too.
    let reference = out
        .lines()
        .find_map(|l| l.strip_prefix("committed "))
        .unwrap_or_else(|| panic!("no snapshot reference in:\n{out}"));
    let docker = common::docker().await;
    assert!(
        docker.inspect_image(reference).await.is_err(),
        "{reference} is still there"
    );
}

#[tokio::test]
async fn network_app_reads_redis_by_alias() {
    let out = run_example("network").await;
    assert!(
        out.contains("the app said: app read greeting = hello over the network"),
        "{out}"
    );
}

#[tokio::test]
async fn compose_brings_an_app_redis_and_postgres_up_offline() {
    let out = run_example("compose").await;
    assert!(
        out.contains(
            "the app said: app read greeting = hello from compose, postgres counted 1 visit"
        ),
        "{out}"
    );
    assert!(out.contains("done: the stack is gone"), "{out}");
}

#[tokio::test]
async fn memcached_limits_and_a_prefix_per_test() {
    let out = run_example("memcached").await;
    assert!(out.contains("maxbytes 16777216, maxconns 128"), "{out}");
    assert!(out.contains("get greeting: Some(\"hello\")"), "{out}");
    assert!(
        out.contains(":greeting reads Some(\"from a\")")
            && out.contains(":greeting reads Some(\"from b\")"),
        "{out}"
    );
}
