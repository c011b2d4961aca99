//! A shared fixture used by 8 tests starts once: once for this binary under `cargo test`
//! (one process), once per session under `cargo nextest run` (a process per test). Each
//! test isolates its own data inside the shared container.

mod common;

use std::collections::HashMap;

use testdock::shared::{unique_name, Shared};
use testdock::{labels, ContainerSpec, Exec, Probe};

// Never reused across runs (even under `TESTDOCK_REUSE=1`): these tests check who owns it.
static SERVER: Shared = Shared::new("busybox-server", || {
    ContainerSpec::new(common::busybox())
        .cmd(["sh", "-c", "sleep 0.3; echo serving; exec sleep 3600"])
        .wait_for(Probe::log("serving"))
})
.reusable(false);

/// Asserts exactly one container of the fixture exists in the scope it should be
/// shared in, and that this test's data stays its own.
async fn use_the_shared_server() {
    let c = SERVER.get().await.expect("the shared server starts");
    let nextest = std::env::var_os("NEXTEST").is_some();
    let scope = if nextest {
        format!("{}={}", labels::SESSION, labels::session_id())
    } else {
        format!("{}={}", labels::OWNER, labels::owner_id())
    };
    let filters = HashMap::from([(
        "label",
        vec![format!("{}=busybox-server", labels::SHARED), scope],
    )]);
    let docker = common::docker().await;
    let found = docker
        .list_containers(Some(
            testdock::bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    assert_eq!(
        found.len(),
        1,
        "one shared container per {}: {found:#?}",
        if nextest { "session" } else { "process" }
    );
    assert_eq!(found[0].id.as_deref(), Some(c.id()));

    // Per-test isolation: a directory of our own in the shared container.
    let dir = format!("/tmp/{}", unique_name("test"));
    let out = c
        .exec(Exec::new([
            "sh",
            "-c",
            &format!("mkdir {dir} && echo mine > {dir}/data && cat {dir}/data && ls /tmp | wc -l"),
        ]))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0, "{}", out.stderr_text());
    assert!(out.stdout_text().starts_with("mine\n"));

    // Dropping or removing a shared handle never removes the container.
    assert!(c.inspect().await.unwrap().state.unwrap().running.unwrap());
}

#[tokio::test]
async fn shared_1() {
    use_the_shared_server().await;
}
#[tokio::test]
async fn shared_2() {
    use_the_shared_server().await;
}
#[tokio::test]
async fn shared_3() {
    use_the_shared_server().await;
}
#[tokio::test]
async fn shared_4() {
    use_the_shared_server().await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_5() {
    use_the_shared_server().await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_6() {
    use_the_shared_server().await;
}
#[tokio::test]
async fn shared_7() {
    use_the_shared_server().await;
}
#[tokio::test]
async fn shared_8() {
    use_the_shared_server().await;
}
