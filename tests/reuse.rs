//! Reuse across runs (`TESTDOCK_REUSE=1`): each "run" is a child process of this test
//! binary getting one `Shared` fixture. A second run adopts the first's container (same
//! id) and the runs' reapers (local and daemon-side) leave it; two first runs at once
//! make one; a different spec never adopts it; `CI` turns reuse off;
//! a stopped or unready reused container is replaced; `ps` marks it and `prune --all`
//! or `--reused` removes it.
//!
//! Every parent test gives its children a session and a spec (an env value) of their
//! own, so tests running at once never adopt each other's containers, and removes what
//! its session made with `testdock prune --all --session <it>`, also when it fails.

mod common;

use std::collections::HashMap;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use testdock::shared::{Shared, REUSE_ENV};
use testdock::{labels, ContainerSpec, Probe};

/// The child's spec is made unique to its parent test by this env value...
const TOKEN: &str = "REUSE_TEST_TOKEN";
/// ...and varied by this one (`probe-file`: ready while `/tmp/ok` exists, else a log line).
const VARIANT: &str = "REUSE_TEST_VARIANT";

static SERVICE: Shared = Shared::new("reuse-test", || {
    let variant = std::env::var(VARIANT).unwrap_or_default();
    let spec = ContainerSpec::new(common::busybox())
        .env("TOKEN", std::env::var(TOKEN).unwrap_or_default())
        .env("VARIANT", &variant)
        .cmd(["sh", "-c", "touch /tmp/ok; echo ready; exec sleep 3600"]);
    if variant == "probe-file" {
        spec.wait_for(Probe::exec(["test", "-f", "/tmp/ok"]).within(Duration::from_secs(3)))
    } else {
        spec.wait_for(Probe::log("ready"))
    }
});

/// One run: gets the shared container and says which it is, then starts a container of
/// its own and leaves it to its reaper (it never removes it), so the parent sees when
/// the reaper has acted.
#[tokio::test]
#[ignore = "run by the other tests, as a child process"]
async fn child_run() {
    let asked = Instant::now();
    let c = SERVICE.get().await.expect("the shared container is ready");
    println!("READY_IN {:?}", asked.elapsed());
    let info = c.inspect().await.unwrap();
    let container_labels = info.config.and_then(|c| c.labels).unwrap_or_default();
    let own = ContainerSpec::new(common::busybox())
        .cmd(["sleep", "1000"])
        .start()
        .await
        .expect("start a container of this process");
    println!("OWN {}", own.name());
    std::mem::forget(own); // left to the reaper
    println!(
        "REUSE {}",
        container_labels
            .get(labels::REUSE)
            .map_or("none", String::as_str)
    );
    println!("NAME {}", c.name());
    println!("ID {}", c.id());
}

/// A parent test's runs: their session and spec token; removes the session's resources
/// when dropped (a failed assertion included).
struct Runs {
    session: String,
    token: String,
}

/// What a run printed.
#[derive(Debug)]
struct RunOutput {
    id: String,
    name: String,
    own: String,
    reuse: String,
    output: String,
}

impl Runs {
    fn new() -> Self {
        let unique = common::unique();
        Runs {
            session: format!("reuse-test-{unique}"),
            token: unique,
        }
    }

    /// Runs [`child_run`] with `TESTDOCK_REUSE=1`, `CI` unset and `env` on top.
    fn run(&self, env: &[(&str, &str)]) -> RunOutput {
        let (success, output) = self.try_run(env);
        assert!(success, "the run failed:\n{output}");
        let field = |marker: &str| {
            output
                .lines()
                .find_map(|l| l.split_once(marker).map(|(_, v)| v.trim().to_owned()))
                .unwrap_or_else(|| panic!("no `{marker}` in:\n{output}"))
        };
        RunOutput {
            id: field("ID "),
            name: field("NAME "),
            own: field("OWN "),
            reuse: field("REUSE "),
            output: output.clone(),
        }
    }

    /// Runs [`child_run`] as [`run`](Self::run) does; whether it passed, and its output.
    fn try_run(&self, env: &[(&str, &str)]) -> (bool, String) {
        let mut command = common::child::test_command(&[], "child_run");
        command
            .env(labels::SESSION_ENV, &self.session)
            .env(TOKEN, &self.token)
            .env(REUSE_ENV, "1")
            .env_remove("CI")
            // One process per run, whatever runs this test: no nextest session owner.
            .env_remove("NEXTEST")
            .env_remove("NEXTEST_RUN_ID");
        for (key, value) in env {
            command.env(key, value);
        }
        let out = command.output().expect("run the child test");
        let output = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), output)
    }

    /// `testdock <args> --session <this session>`.
    fn testdock(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_testdock"))
            .args(args)
            .args(["--session", &self.session])
            .output()
            .expect("run testdock");
        assert!(
            out.status.success(),
            "testdock {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Fails unless nothing of this session is left within 10 s (the runs' own
    /// containers are removed by their reapers, just after each run ends).
    async fn assert_nothing_left(&self) {
        let filter = format!("{}={}", labels::SESSION, self.session);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut left = common::labelled(&filter).await;
        while !left.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            left = common::labelled(&filter).await;
        }
        assert!(left.is_empty(), "left behind: {left:#?}");
    }
}

impl Drop for Runs {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_testdock"))
            .args(["prune", "--all", "--session", &self.session])
            .output();
    }
}

/// The container `name`'s state (`None`: there is none) and labels.
async fn state(name: &str) -> Option<(bool, HashMap<String, String>)> {
    let info = common::docker()
        .await
        .inspect_container(name, None)
        .await
        .ok()?;
    let running = info.state.and_then(|s| s.running) == Some(true);
    Some((running, info.config?.labels.unwrap_or_default()))
}

/// Waits up to 10 s for container `name` to be gone; whether it is.
async fn gone(name: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while state(name).await.is_some() {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

#[tokio::test]
async fn a_second_run_adopts_the_container_of_the_first_which_no_reaper_removes() {
    let runs = Runs::new();
    let first = runs.run(&[]);
    assert!(
        first.name.starts_with("testdock-reuse-reuse-test-"),
        "{first:?}"
    );
    assert_eq!(
        first.reuse.len(),
        64,
        "labelled with the spec hash: {first:?}"
    );
    // The first run's reaper removed what that process owned...
    assert!(gone(&first.own).await, "the first run's reaper did not act");
    // ... and left the reused container running, owned by no one.
    let (running, found) = state(&first.name).await.expect("the reused container");
    assert!(running);
    assert!(!found.contains_key(labels::OWNER), "{found:?}");
    assert_eq!(found[labels::REUSE], first.reuse);

    let second = runs.run(&[]);
    assert_eq!(
        second.id, first.id,
        "the second run started another container"
    );
    assert_eq!(second.name, first.name);
    assert!(gone(&second.own).await);
    assert!(state(&first.name).await.is_some_and(|(running, _)| running));
    // For people: how long starting and adopting took.
    let ready_in = |run: &RunOutput| {
        let line = run.output.lines().find(|l| l.contains("READY_IN"));
        line.unwrap_or_default().to_owned()
    };
    eprintln!(
        "first run: {}; second: {}",
        ready_in(&first),
        ready_in(&second)
    );

    // A run watched by the daemon-side reaper leaves it too.
    let third = runs.run(&[("TESTDOCK_REAPER", "daemon")]);
    assert_eq!(third.id, first.id);
    assert!(gone(&third.own).await, "the daemon-side reaper did not act");
    assert!(state(&first.name).await.is_some_and(|(running, _)| running));

    // `ps` marks it; `prune --all` removes it.
    let ps = runs.testdock(&["ps"]);
    let ps = String::from_utf8_lossy(&ps.stdout).into_owned();
    let line = ps
        .lines()
        .find(|l| l.contains(&first.name))
        .unwrap_or_default();
    assert!(line.contains("reused"), "{ps}");
    let pruned = runs.testdock(&["prune", "--all"]);
    let pruned = String::from_utf8_lossy(&pruned.stdout).into_owned();
    assert!(pruned.contains(&first.name), "{pruned}");
    assert!(state(&first.name).await.is_none(), "prune --all left it");
    runs.assert_nothing_left().await;
}

#[tokio::test]
async fn a_different_spec_never_adopts_it() {
    let runs = Runs::new();
    let a = runs.run(&[(VARIANT, "a")]);
    let b = runs.run(&[(VARIANT, "b")]);
    assert_ne!(b.id, a.id, "spec b adopted spec a's container");
    assert_ne!(b.name, a.name);
    assert_ne!(b.reuse, a.reuse);
    // Both stay, side by side; a's is still the one spec a adopts.
    assert!(state(&a.name).await.is_some_and(|(running, _)| running));
    let a_again = runs.run(&[(VARIANT, "a")]);
    assert_eq!(a_again.id, a.id);

    let pruned = runs.testdock(&["prune", "--reused"]);
    let pruned = String::from_utf8_lossy(&pruned.stdout).into_owned();
    assert!(
        pruned.contains(&a.name) && pruned.contains(&b.name),
        "{pruned}"
    );
    runs.assert_nothing_left().await;
}

#[tokio::test]
async fn under_ci_nothing_is_reused_and_a_note_says_so() {
    let runs = Runs::new();
    let first = runs.run(&[("CI", "true")]);
    assert!(
        first
            .output
            .contains("TESTDOCK_REUSE is ignored because CI is set"),
        "{}",
        first.output
    );
    assert_eq!(first.reuse, "none", "{first:?}");
    assert!(!first.name.starts_with("testdock-reuse-"), "{first:?}");
    // An ordinary shared container: its run's reaper removes it.
    assert!(gone(&first.name).await, "the run's reaper left it");
    let second = runs.run(&[("CI", "true")]);
    assert_ne!(second.id, first.id);
    assert!(gone(&second.name).await);
    assert!(gone(&second.own).await);
    runs.assert_nothing_left().await;
}

#[tokio::test]
async fn a_stopped_or_unready_reused_container_is_replaced() {
    let runs = Runs::new();
    let docker = common::docker().await;
    let first = runs.run(&[(VARIANT, "probe-file")]);
    docker.kill_container(&first.id, None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while state(&first.name).await.is_some_and(|(running, _)| running) {
        assert!(Instant::now() < deadline, "the container did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = runs.run(&[(VARIANT, "probe-file")]);
    assert_ne!(second.id, first.id, "a stopped container was adopted");
    assert_eq!(second.name, first.name);
    assert!(state(&second.name)
        .await
        .is_some_and(|(running, _)| running));

    // Running, but its probe no longer passes: replaced too, and said so.
    remove_ok_file(&docker, &second.id).await;
    let third = runs.run(&[(VARIANT, "probe-file")]);
    assert_ne!(third.id, second.id, "an unready container was adopted");
    assert!(third.output.contains("is not ready"), "{}", third.output);
    assert!(state(&third.name).await.is_some_and(|(running, _)| running));

    let pruned = runs.testdock(&["prune", "--reused"]);
    assert!(String::from_utf8_lossy(&pruned.stdout).contains(&third.name));
    runs.assert_nothing_left().await;
}

/// Removes `/tmp/ok` (what the `probe-file` variant's probe looks for) in container `id`.
async fn remove_ok_file(docker: &testdock::bollard::Docker, id: &str) {
    use testdock::bollard::exec::StartExecOptions;
    use testdock::bollard::models::ExecConfig;
    let config = ExecConfig {
        cmd: Some(vec!["rm".to_owned(), "/tmp/ok".to_owned()]),
        ..Default::default()
    };
    let exec = docker.create_exec(id, config).await.unwrap();
    let detached = StartExecOptions {
        detach: true,
        ..Default::default()
    };
    docker.start_exec(&exec.id, Some(detached)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let done = docker.inspect_exec(&exec.id).await.unwrap();
        if done.running != Some(true) {
            assert_eq!(done.exit_code, Some(0), "rm /tmp/ok failed");
            return;
        }
        assert!(Instant::now() < deadline, "rm /tmp/ok did not end");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn two_first_runs_at_once_make_one_container() {
    let runs = Runs::new();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| runs.run(&[]));
        let b = s.spawn(|| runs.run(&[]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a.id, b.id, "two processes created two containers");
    runs.testdock(&["prune", "--reused"]);
    runs.assert_nothing_left().await;
}

#[tokio::test]
async fn a_container_of_another_hash_under_the_name_is_never_adopted() {
    let runs = Runs::new();
    let first = runs.run(&[]);
    runs.testdock(&["prune", "--reused"]);
    // Someone else's container takes the name (made by hand, say).
    let docker = common::docker().await;
    let image = common::busybox_ref().await;
    let impostor = testdock::bollard::models::ContainerCreateBody {
        image: Some(image),
        cmd: Some(vec!["sleep".into(), "1000".into()]),
        labels: Some(HashMap::from([
            (labels::REUSE.to_owned(), "another".to_owned()),
            (labels::SESSION.to_owned(), runs.session.clone()),
            (
                labels::MANAGED_BY.to_owned(),
                labels::MANAGED_BY_VALUE.to_owned(),
            ),
        ])),
        ..Default::default()
    };
    let options = testdock::bollard::query_parameters::CreateContainerOptionsBuilder::default()
        .name(&first.name)
        .build();
    let made = docker
        .create_container(Some(options), impostor)
        .await
        .unwrap();
    let (success, output) = runs.try_run(&[]);
    let still = state(&first.name).await;
    runs.testdock(&["prune", "--reused"]);
    assert!(!success, "a foreign container was adopted:\n{output}");
    assert!(
        output.contains("is taken by a container that is not the reused one"),
        "{output}"
    );
    assert!(still.is_some(), "the foreign container was removed");
    assert!(state(&made.id).await.is_none(), "prune --reused left it");
    runs.assert_nothing_left().await;
}
