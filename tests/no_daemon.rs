//! Without a reachable daemon, testdock fails at once, saying what it tried and how to
//! fix it. Its own test binary: the daemon connection is cached per process once it
//! succeeds, so `DOCKER_HOST` is pointed elsewhere before the first testdock call.

mod common;

use std::time::{Duration, Instant};

use testdock::docker::Origin;
use testdock::{ContainerSpec, Error};

/// Asserts `err` is `NoDaemon` after trying exactly `endpoint` from `DOCKER_HOST`.
fn assert_no_daemon(err: &Error, endpoint: &str) {
    let Error::NoDaemon { attempts } = err else {
        panic!("expected Error::NoDaemon, got: {err:?}");
    };
    assert_eq!(
        attempts.len(),
        1,
        "DOCKER_HOST is the only candidate: {err}"
    );
    assert_eq!(attempts[0].candidate.endpoint.to_string(), endpoint);
    assert_eq!(attempts[0].candidate.origin, Origin::DockerHost);
    assert!(!attempts[0].failure.is_empty(), "{err}");
    let text = err.to_string();
    assert!(text.contains(endpoint), "{text}");
    assert!(text.contains("DOCKER_HOST"), "{text}");
    assert!(text.contains("start a Docker daemon"), "{text}");
    assert_eq!(err.container(), None);
}

/// Both entry points fail with `NoDaemon` for `docker_host`; returns the time taken.
async fn both_fail_without_a_daemon(docker_host: &str) -> Duration {
    std::env::set_var("DOCKER_HOST", docker_host);
    let began = Instant::now();
    let err = testdock::daemon().await.expect_err("nothing answers there");
    assert_no_daemon(&err, docker_host);
    let err = ContainerSpec::new("x")
        .start()
        .await
        .expect_err("nothing answers there");
    assert_no_daemon(&err, docker_host);
    began.elapsed()
}

#[tokio::test]
async fn without_a_daemon_every_entry_point_says_what_was_tried_and_how_to_fix_it() {
    let original = std::env::var_os("DOCKER_HOST");

    both_fail_without_a_daemon("unix:///nonexistent/docker.sock").await;
    let took = both_fail_without_a_daemon("tcp://127.0.0.1:1").await;
    assert!(
        took < Duration::from_secs(10),
        "a refused port took {took:?}"
    );

    std::env::set_var("DOCKER_HOST", "ssh://host");
    for err in [
        testdock::daemon().await.expect_err("ssh is not supported"),
        ContainerSpec::new("x")
            .start()
            .await
            .expect_err("ssh is not supported"),
    ] {
        let Error::Config { ref message } = err else {
            panic!("expected Error::Config, got: {err:?}");
        };
        for part in ["DOCKER_HOST", "ssh://host", "unix://", "tcp://", "https://"] {
            assert!(message.contains(part), "missing {part}: {message}");
        }
        assert!(err.to_string().contains("ssh -L"), "{err}");
    }

    // Failures are not cached: with the real endpoint back, the daemon is found, and
    // nothing was created by the failed attempts.
    match original {
        Some(value) => std::env::set_var("DOCKER_HOST", value),
        None => std::env::remove_var("DOCKER_HOST"),
    }
    testdock::daemon().await.expect("the real daemon answers");
    common::assert_nothing_left(&common::this_test()).await;
}
