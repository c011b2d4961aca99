//! The `testdock` command, run as CI runs it (the built binary): its help and errors,
//! `ps --json` on what a test made, and `prune` narrowed to one test. Every test uses
//! test ids of its own, so it never touches what other runs on the daemon made.

mod common;

use std::process::{Command, Output};

use serde_json::Value;
use testdock::shared::unique_name;
use testdock::{labels, Container, ContainerSpec};

fn testdock(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_testdock"))
        .args(args)
        .output()
        .expect("run testdock")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A sleeping container of test `test` with a named volume the daemon makes for it.
async fn start(test: &str, volume: &str) -> Container {
    ContainerSpec::new(common::busybox())
        .test_id(test)
        .volume(volume, "/data")
        .cmd(["sleep", "1000"])
        .start()
        .await
        .expect("start a container")
}

/// `ps --json` with `args`, parsed.
fn ps_json(args: &[&str]) -> Vec<Value> {
    let out = testdock(&[&["ps", "--json"], args].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

#[tokio::test]
async fn help_and_version_exit_0_and_bad_command_lines_exit_2() {
    for args in [&["--help"][..], &["help"], &["-h"]] {
        let out = testdock(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = stdout(&out);
        for word in [
            "testdock ps",
            "testdock prune",
            "testdock help",
            "--version",
        ] {
            assert!(
                text.contains(word),
                "{args:?} does not mention {word}:\n{text}"
            );
        }
        for option in [
            "--stale",
            "--kept",
            "--all",
            "--test",
            "--session",
            "--json",
        ] {
            assert!(
                text.contains(option),
                "{args:?} does not explain {option}:\n{text}"
            );
        }
    }
    for args in [&["help", "ps"][..], &["ps", "--help"]] {
        let out = testdock(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            stdout(&out).contains("Usage: testdock ps"),
            "{}",
            stdout(&out)
        );
        assert!(stdout(&out).contains("ownership"), "the JSON fields");
    }
    for args in [&["help", "prune"][..], &["prune", "-h"]] {
        let out = testdock(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            stdout(&out).contains("Usage: testdock prune"),
            "{}",
            stdout(&out)
        );
    }
    let version = testdock(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        stdout(&version).trim(),
        format!("testdock {}", env!("CARGO_PKG_VERSION"))
    );

    for args in [
        &["ps", "--bogus"][..],
        &["prune", "--json"],
        &["prune", "--kept", "--all"],
        &["frobnicate"],
        &[],
    ] {
        let out = testdock(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: one line, not {err}");
        assert!(err.contains("see testdock --help"), "{args:?}: {err}");
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
    common::assert_nothing_left(&common::this_test()).await;
}

#[tokio::test]
async fn ps_json_describes_what_a_test_made() {
    let test = unique_name(&common::this_test());
    let volume = unique_name("testdock-cli-json");
    let c = start(&test, &volume).await;

    let listed = ps_json(&["--test", &test]);
    let of_kind = |kind: &str| {
        listed
            .iter()
            .find(|r| r["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {listed:#?}"))
            .clone()
    };
    let container = of_kind("container");
    let vol = of_kind("volume");
    // The filters combine: another session's, or stale ones, are none of these.
    let other_session = ps_json(&["--test", &test, "--session", "no-such-session"]);
    let this_session = ps_json(&["--test", &test, "--session", labels::session_id()]);
    let stale = ps_json(&["--stale", "--test", &test]);
    let (id, name) = (c.id().to_owned(), c.name().to_owned());
    c.remove().await.unwrap();

    assert_eq!(listed.len(), 2, "{listed:#?}");
    assert_eq!(container["id"], id.as_str(), "{container:#}");
    assert_eq!(container["name"], name.as_str());
    assert_eq!(container["test"], test.as_str());
    assert_eq!(container["session"], labels::session_id());
    assert_eq!(container["owner"], labels::owner_id());
    assert_eq!(container["ownership"], "alive", "{container:#}");
    assert_eq!(container["reason"], Value::Null);
    assert!(container["created"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(container["kept"], false);
    assert_eq!(container["state"], "running");
    assert_eq!(container["ports"], Value::Array(Vec::new()));
    assert_eq!(container["role"], Value::Null);
    assert_eq!(vol["id"], volume.as_str());
    assert_eq!(vol["name"], volume.as_str());
    assert_eq!(vol["ownership"], "alive", "{vol:#}");
    assert_eq!(vol["state"], Value::Null);
    assert!(other_session.is_empty(), "{other_session:#?}");
    assert_eq!(this_session.len(), 2, "{this_session:#?}");
    assert!(
        stale.is_empty(),
        "a live test's resources are not stale: {stale:#?}"
    );
    common::assert_nothing_left(&test).await;
}

#[tokio::test]
async fn prune_with_a_test_and_all_removes_that_tests_resources_only() {
    let doomed = unique_name(&format!("{}::doomed", common::this_test()));
    let spared = unique_name(&format!("{}::spared", common::this_test()));
    let doomed_volume = unique_name("testdock-cli-doomed");
    let a = start(&doomed, &doomed_volume).await;
    let b = start(&spared, &unique_name("testdock-cli-spared")).await;

    // Without --all only stale resources go: a live test's stay.
    let stale_only = testdock(&["prune", "--test", &doomed]);
    let after_stale = common::leftovers(&doomed).await;
    let removed = testdock(&["prune", "--test", &doomed, "--all"]);
    let doomed_left = common::leftovers(&doomed).await;
    let spared_left = common::leftovers(&spared).await;
    let a_name = a.name().to_owned();
    // Removing what is gone already is no error.
    a.remove().await.unwrap();
    b.remove().await.unwrap();

    assert!(stale_only.status.success(), "{}", stderr(&stale_only));
    assert!(
        stdout(&stale_only).contains("0 resource(s) removed"),
        "{}",
        stdout(&stale_only)
    );
    assert_eq!(
        after_stale.len(),
        2,
        "prune without --all removed: {after_stale:?}"
    );
    assert!(removed.status.success(), "{}", stderr(&removed));
    let said = stdout(&removed);
    assert!(
        said.contains(&format!("removed container {a_name}")),
        "{said}"
    );
    assert!(
        said.contains(&format!("removed volume {doomed_volume}")),
        "{said}"
    );
    assert!(said.contains("2 resource(s) removed"), "{said}");
    assert!(
        doomed_left.is_empty(),
        "prune --all --test left: {doomed_left:?}"
    );
    assert_eq!(
        spared_left.len(),
        2,
        "another test's went too: {spared_left:?}"
    );
    common::assert_nothing_left(&doomed).await;
    common::assert_nothing_left(&spared).await;
}
