//! `testdock::compose` against the daemon: a file brought up offline (busybox from the
//! host in place of its registry images), dependency order and health gating seen in
//! the services' logs, aliases, injected files, parallel stacks, every bad input, and
//! nothing left behind on any path (kill -9 included).

mod common;

use std::time::Duration;

use testdock::compose::{Compose, Stack};
use testdock::runner::TestContext;
use testdock::{container_test, Error, InjectFile};

const STACK: &str = "tests/compose/stack.yml";

/// `path` with every service's image replaced by busybox from the host.
fn offline(path: &str) -> Compose {
    all_busybox(Compose::from_file(path).expect("parse the compose file"))
}

/// `compose` with every service's image (profiles included) replaced by busybox.
fn all_busybox(compose: Compose) -> Compose {
    let services = compose.clone().profile("debug").services();
    services
        .iter()
        .fold(compose, |c, s| c.image(s, common::busybox()))
}

async fn logs(stack: &Stack, service: &str) -> String {
    let logs = stack.service(service).logs().await.expect("read logs");
    logs.stdout
}

#[tokio::test]
async fn services_start_in_dependency_order_gated_on_health_and_reach_each_other() {
    let test = common::this_test();
    let stack = offline(STACK)
        .file("web", InjectFile::from_bytes("/etc/web.conf", "tuned\n"))
        .with_spec("web", |s| {
            s.cmd([
                "sh",
                "-c",
                "echo web: conf $(cat /etc/web.conf); exec sleep 1000",
            ])
        })
        .wait_for("web", testdock::Probe::log("web: conf"))
        .up()
        .await
        .expect("bring the stack up");
    // `web` ran only after `db` was healthy and `migrate` had completed.
    assert!(logs(&stack, "migrate").await.contains("migrate: done"));
    let db = logs(&stack, "db").await;
    assert!(db.contains("db: booting\ndb: healthy\n"), "{db}");
    assert!(
        stack.get("debug").is_none(),
        "profile `debug` is not enabled"
    );
    let web = logs(&stack, "web").await;
    assert!(
        web.contains("web: conf tuned"),
        "injected file present at boot: {web}"
    );
    // The db's port is published on 127.0.0.1.
    let addr = stack.service("db").addr(8080).unwrap();
    assert!(addr.ip().is_loopback());
    assert!(common::http_get(addr).contains("pong"));
    stack.down().await.unwrap();
    common::assert_nothing_left(&test).await;
}

#[tokio::test]
async fn env_files_volumes_and_aliases_as_the_file_says() {
    let test = common::this_test();
    let stack = offline(STACK)
        .wait_for("web", testdock::Probe::log("web: ready"))
        .up()
        .await
        .unwrap();
    let web = logs(&stack, "web").await;
    assert!(web.contains("web: saw db-healthy migrated"), "{web}");
    assert!(web.contains("web: greeting hello there role web"), "{web}");
    assert!(
        web.contains("web: db says pong alias says pong"),
        "service name and alias resolve: {web}"
    );
    assert!(stack.volume("shared").is_some());
    drop(stack); // teardown by drop
    common::assert_nothing_left(&test).await;
}

#[tokio::test]
async fn two_stacks_of_one_file_at_once_do_not_collide() {
    let test = common::this_test();
    let compose = offline(STACK);
    let (a, b) = futures::try_join!(compose.clone().up(), compose.up()).unwrap();
    assert_ne!(a.project(), b.project());
    assert!(a.project().starts_with("shop-"), "{}", a.project());
    assert_ne!(a.service("db").name(), b.service("db").name());
    assert_ne!(
        a.service("db").host_port(8080).unwrap(),
        b.service("db").host_port(8080).unwrap()
    );
    drop((a, b));
    common::assert_nothing_left(&test).await;
}

#[tokio::test]
async fn a_service_dying_while_others_wait_fails_the_stack_naming_it() {
    let test = common::this_test();
    let err = offline("tests/compose/dies.yml").up().await.unwrap_err();
    let Error::ComposeService { service, .. } = &err else {
        panic!("expected a service error, got {err:?}");
    };
    assert_eq!(service, "db");
    let text = format!("{err:?}");
    assert!(text.contains("exited with code 3"), "{text}");
    assert!(
        text.contains("db: fatal: no config at /etc/db.conf"),
        "last log lines: {text}"
    );
    common::assert_nothing_left(&test).await;
}

#[tokio::test]
async fn a_one_shot_service_that_fails_stops_its_dependents_from_starting() {
    let test = common::this_test();
    let yaml = r#"
services:
  migrate:
    image: busybox:1.36
    command: ["sh", "-c", "echo migrate: table exists; exit 1"]
  web:
    image: busybox:1.36
    depends_on:
      migrate: { condition: service_completed_successfully }
    command: ["sleep", "1000"]
"#;
    let err = Compose::from_str(yaml)
        .unwrap()
        .image("migrate", common::busybox())
        .image("web", common::busybox())
        .up()
        .await
        .unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("service `migrate`"), "{text}");
    assert!(text.contains("migrate: table exists"), "{text}");
    common::assert_nothing_left(&test).await;
}

#[tokio::test]
async fn bad_files_are_clear_errors_before_anything_is_created() {
    let test = common::this_test();
    let message = |path: &str| match Compose::from_file(path) {
        Err(Error::Compose { file, message }) => {
            assert_eq!(file, path);
            message
        }
        other => panic!("{path}: expected a compose error, got {other:?}"),
    };
    let m = message("tests/compose/bad_syntax.yml");
    assert!(
        m.contains("invalid YAML") && m.contains("line 5 column"),
        "{m}"
    );
    let m = message("tests/compose/cycle.yml");
    assert_eq!(m, "dependency cycle: a -> b -> c -> a");
    let m = message("tests/compose/unknown_dependency.yml");
    assert!(
        m.contains("`web` depends on `db`, which the file does not define"),
        "{m}"
    );
    let m = message("tests/compose/unsupported_key.yml");
    assert!(
        m.contains("unsupported key `services.web.privileged`"),
        "{m}"
    );
    let err = offline(STACK)
        .image("nope", common::busybox())
        .up()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no service `nope`"), "{err}");
    common::assert_nothing_left(&test).await;
}

#[tokio::test]
async fn a_build_with_an_inline_dockerfile_and_a_profile() {
    let test = common::this_test();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(common::BUSYBOX, dir.path().join("busybox")).unwrap();
    let yaml = r#"
services:
  app:
    build:
      context: .
      dockerfile_inline: |
        FROM scratch
        COPY busybox /bin/busybox
        ENTRYPOINT ["/bin/busybox"]
    command: "sh -c 'echo app built, mode=$$MODE; exec sleep 1000'"
    environment: [MODE=test]
    profiles: [app]
"#;
    let path = dir.path().join("compose.yml");
    std::fs::write(&path, yaml).unwrap();
    let compose = Compose::from_file(&path).unwrap();
    assert!(compose.services().is_empty(), "`app` needs its profile");
    let stack = compose
        .profile("app")
        .wait_for("app", testdock::Probe::log("app built"))
        .up()
        .await
        .unwrap();
    assert!(logs(&stack, "app").await.contains("app built, mode=test"));
    drop(stack);
    common::assert_nothing_left(&test).await;
}

/// `command` run inside `service`.
async fn run_in(stack: &Stack, service: &str, command: &[&str]) -> testdock::ExecOutput {
    let exec = testdock::Exec::new(command.iter().copied());
    stack.service(service).exec(exec).await.unwrap()
}

#[tokio::test]
async fn a_service_on_two_networks_reaches_both_and_the_others_stay_apart() {
    let test = common::this_test();
    let yaml = r#"
services:
  db:
    image: busybox:1.36
    command: ["sh", "-c", "mkdir /www; echo db > /www/who; echo serving; exec httpd -f -p 80 -h /www"]
    networks: [back]
  web:
    image: busybox:1.36
    command: ["sh", "-c", "mkdir /www; echo web > /www/who; echo serving; exec httpd -f -p 80 -h /www"]
    networks: [front]
  proxy:
    image: busybox:1.36
    command: ["sleep", "1000"]
    networks:
      front: { aliases: [gateway] }
      back: { aliases: [edge] }
networks:
  front:
  back:
"#;
    let stack = all_busybox(Compose::from_str(yaml).unwrap())
        .wait_for("db", testdock::Probe::log("serving"))
        .wait_for("web", testdock::Probe::log("serving"))
        .up()
        .await
        .unwrap();
    let wget = |url| ["wget", "-qO-", url];
    // The proxy is on both networks: it reaches each side by service name.
    let db = run_in(&stack, "proxy", &wget("http://db/who")).await;
    assert_eq!(db.stdout_text(), "db\n");
    let web = run_in(&stack, "proxy", &wget("http://web/who")).await;
    assert_eq!(web.stdout_text(), "web\n");
    let across = run_in(&stack, "web", &wget("http://db/who")).await;
    assert_ne!(across.exit_code, 0, "front is not back");
    // Each side reaches the proxy by its name and by that network's alias only.
    for (from, alias, found) in [
        ("web", "gateway", true),
        ("db", "edge", true),
        ("db", "proxy", true),
        ("web", "edge", false),
    ] {
        let out = run_in(&stack, from, &["nslookup", alias]).await;
        assert_eq!(
            out.exit_code == 0,
            found,
            "{from} resolves {alias}: {found}"
        );
    }
    assert!(stack.network("front").is_some() && stack.network("back").is_some());
    stack.down().await.unwrap();
    common::assert_nothing_left(&test).await;
}

async fn shop(ctx: &TestContext) -> testdock::Result<Stack> {
    offline(STACK).up_in(ctx).await
}

#[container_test]
async fn a_stack_is_a_fixture_of_the_attribute(#[from(shop)] stack: Stack) {
    let out = stack
        .service("web")
        .exec(testdock::Exec::new([
            "wget",
            "-qO-",
            "http://database:8080/ping",
        ]))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "pong\n");
}

/// `compose = expr`: the stack of a `Compose` expression (here the file with its images
/// replaced for offline use) is the `Stack` argument's.
#[container_test(compose = offline(STACK))]
async fn the_attribute_brings_up_a_compose_expression(stack: Stack) {
    assert!(stack.project().starts_with("shop-"), "{}", stack.project());
    let out = stack
        .service("web")
        .exec(testdock::Exec::new(["wget", "-qO-", "http://db:8080/ping"]))
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "pong\n");
}

/// `compose = "file"`: read from the crate's root when the test starts, so a bad file
/// fails the test with the file's error (and a missing one is a compile error).
#[container_test(compose = "tests/compose/unknown_dependency.yml")]
#[should_panic(expected = "`web` depends on `db`, which the file does not define")]
async fn the_attribute_reads_a_compose_file_from_the_crate_root(stack: Stack) {
    let _ = stack;
}

/// The same without the macro: `TestMeta::compose` and `Stack`'s `Fixture` impl, and
/// the stack goes with the test.
#[test]
fn a_test_meta_with_a_compose_stack_tears_it_down_with_the_test() {
    use testdock::runner::{Fixture, TestMeta};
    let id = format!("compose::by_hand_{}", common::unique());
    let meta = TestMeta::new(id, file!(), line!()).compose(offline(STACK));
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    common::run_then_assert_nothing_left(meta, move |ctx| async move {
        let stack = Stack::setup(&ctx).await?;
        let names = stack.services().map(|(name, _)| name.to_owned());
        record.lock().unwrap().extend(names);
        assert!(
            Stack::setup(&ctx).await.is_err(),
            "a second `Stack` argument has no file left to take"
        );
        Ok(())
    });
    assert_eq!(*seen.lock().unwrap(), ["db", "migrate", "web"]);
}

/// A stack whose `worker` crashes with code 3 after `crash_after` seconds (unless the
/// test stops it first), beside a `db` that runs on and a one-shot `seed`.
fn crashing_stack(crash_after: u32) -> Compose {
    let yaml = format!(
        r#"
services:
  db:
    image: busybox:1.36
    command: ["sleep", "1000"]
  seed:
    image: busybox:1.36
    command: ["sh", "-c", "echo seed: done"]
  worker:
    image: busybox:1.36
    depends_on:
      seed: {{ condition: service_completed_successfully }}
    command: ["sh", "-c", "echo worker: up; sleep {crash_after}; echo worker: out of cheese; exit 3"]
"#
    );
    all_busybox(Compose::from_str(&yaml).unwrap())
}

/// Runs a test with the stack of `compose` whose body is `body`, checks it left
/// nothing, and returns how it ended: `Err` with the failure's text if it failed.
fn run_with_stack<F, Fut>(compose: Compose, body: F) -> Result<(), String>
where
    F: FnOnce(Stack) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use testdock::runner::{run_test, Fixture, TestMeta};
    let id = format!("compose::with_stack_{}", common::unique());
    let meta = TestMeta::new(id.clone(), file!(), line!())
        .compose(compose)
        .timeout(Duration::from_secs(60));
    let run = || {
        run_test(meta, move |ctx| async move {
            body(Stack::setup(&ctx).await?).await;
            Ok(())
        })
    };
    let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    });
    // Failed or not, the test's stack is gone.
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(common::assert_nothing_left(&id));
    ended
}

#[test]
fn a_service_crashing_during_the_test_fails_it_at_once_naming_the_service() {
    let started = std::time::Instant::now();
    let ended = run_with_stack(crashing_stack(2), |_stack| async {
        tokio::time::sleep(Duration::from_secs(50)).await;
    });
    let elapsed = started.elapsed();
    let message = ended.expect_err("the test must fail when `worker` crashes");
    assert!(
        message.contains("service `worker` of compose project"),
        "{message}"
    );
    assert!(message.contains("stopped while in use"), "{message}");
    assert!(
        message.contains("exited with code 3 during the test"),
        "{message}"
    );
    assert!(
        message.contains("worker: out of cheese"),
        "last log lines: {message}"
    );
    assert!(
        elapsed < Duration::from_secs(30),
        "failed after {elapsed:?}: at the crash, not at the 60 s limit"
    );
}

#[test]
fn a_service_the_test_stops_or_a_one_shot_that_completed_does_not_fail_it() {
    let ended = run_with_stack(crashing_stack(600), |stack| async move {
        let worker = stack.service("worker");
        worker.stop().await.unwrap();
        assert_ne!(worker.wait().await.unwrap(), 0, "stopped by a signal");
        // `seed` exited 0 before the body began; give the watcher time to see both.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(logs(&stack, "seed").await.contains("seed: done"));
    });
    assert_eq!(ended, Ok(()));
}

/// The child: brings the stack up, prints `READY <owner>`, then waits to be killed.
#[test]
#[ignore = "run as a child process by the test below"]
fn child_holds_a_stack() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let stack = offline(STACK).up().await.unwrap();
        println!("READY {}", testdock::labels::owner_id());
        tokio::time::sleep(Duration::from_secs(600)).await;
        drop(stack);
    });
}

#[tokio::test]
async fn a_process_killed_while_holding_a_stack_leaves_nothing() {
    let command = common::child::test_command(&[], "child_holds_a_stack");
    let mut child = common::child::ChildTest::spawn(command);
    let owner = child.expect("READY ", Duration::from_secs(120));
    assert!(!common::owned_by(&owner).await.is_empty());
    child.child.kill().unwrap(); // SIGKILL
    child.child.wait().unwrap();
    let docker = common::docker().await;
    common::assert_gone_within(&docker, &owner, Duration::from_secs(10)).await;
}
