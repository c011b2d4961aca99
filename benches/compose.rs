//! Compose benchmark: the time to a ready 3-service stack, three ways, same run.
//!
//! The stack (written to a temporary file, all three services on busybox from the host):
//! `db` becomes healthy (a healthcheck every 100 ms), `migrate` waits for it and runs to
//! completion (exit 0), `web` waits for both and starts. Ready means: `db` healthy,
//! `migrate` completed, `web` started.
//!
//! - `testdock-compose`: `Compose::from_str(file).up()` (parse included);
//! - `hand-started`: the same three containers with testdock's fixture API, a network
//!   and the same healthcheck, started in dependency order by hand;
//! - `docker-compose`: Debian's `docker-compose` 1.29 CLI, `up -d` on the same file
//!   (it waits for the same conditions before starting each dependent).
//!
//! Each round runs the three (order reversed every other round); teardown is not timed.
//! Targets: testdock's compose within 5 % of hand-started, and faster than the CLI.
//!
//! Run with `cargo bench --bench compose` (5 rounds, `TESTDOCK_BENCH_ITERATIONS` to
//! change). Without `docker-compose` on `PATH` its column is skipped. The exit code is
//! non-zero only when the bench could not run or a stack failed.

mod support;

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use testdock::compose::Compose;
use testdock::{ContainerSpec, Healthcheck, NetworkSpec, Probe};

use support::images::busybox_all;
use support::run::alternate;
use support::stats::{median, ms, ratio};
use support::table::{Table, Targets};
use support::{run, Result};

const BENCH: &str = "compose";

fn stack_file(image: &str) -> String {
    format!(
        r#"services:
  db:
    image: {image}
    command: ["sh", "-c", "touch /tmp/ok; exec sleep 1000"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 100ms
      retries: 100
  migrate:
    image: {image}
    depends_on:
      db: {{ condition: service_healthy }}
    command: ["true"]
  web:
    image: {image}
    depends_on:
      db: {{ condition: service_healthy }}
      migrate: {{ condition: service_completed_successfully }}
    command: ["sleep", "1000"]
"#
    )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Way {
    Compose,
    Hand,
    Cli,
}

async fn testdock_compose(yaml: &str) -> Result<Duration> {
    let started = Instant::now();
    let stack = Compose::from_str(yaml)?.up().await?;
    let took = started.elapsed();
    stack.down().await?;
    Ok(took)
}

async fn hand_started(image: &str) -> Result<Duration> {
    let started = Instant::now();
    let net = NetworkSpec::new().create().await?;
    let db = ContainerSpec::new(image)
        .network(&net)
        .alias("db")
        .cmd(["sh", "-c", "touch /tmp/ok; exec sleep 1000"])
        .healthcheck(
            Healthcheck::cmd(["test", "-f", "/tmp/ok"])
                .interval(Duration::from_millis(100))
                .retries(100),
        )
        .wait_for(Probe::healthy())
        .start()
        .await?;
    let migrate = ContainerSpec::new(image)
        .network(&net)
        .alias("migrate")
        .cmd(["true"])
        .wait_for(Probe::exit(0))
        .start()
        .await?;
    let web = ContainerSpec::new(image)
        .network(&net)
        .alias("web")
        .cmd(["sleep", "1000"])
        .start()
        .await?;
    let took = started.elapsed();
    let _ = futures::join!(db.remove(), migrate.remove(), web.remove());
    net.remove().await?;
    Ok(took)
}

fn cli(file: &std::path::Path, project: &str) -> Result<Duration> {
    let compose = |args: &[&str]| {
        Command::new("docker-compose")
            .arg("-p")
            .arg(project)
            .arg("-f")
            .arg(file)
            .args(args)
            .output()
    };
    let started = Instant::now();
    let up = compose(&["up", "-d"])?;
    let took = started.elapsed();
    let down = compose(&["down", "-v", "-t", "0"])?;
    if !up.status.success() || !down.status.success() {
        return Err(format!(
            "docker-compose failed: {}{}",
            String::from_utf8_lossy(&up.stderr),
            String::from_utf8_lossy(&down.stderr)
        )
        .into());
    }
    Ok(took)
}

async fn bench() -> Result<()> {
    let rounds = run::iterations(5)?;
    let image = busybox_all().prepare().await?.reference;
    let yaml = stack_file(&image);
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(&file, &yaml)?;
    let has_cli = Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok();
    // Warm-up, not counted: the image, the daemon's caches.
    testdock_compose(&yaml).await?;
    hand_started(&image).await?;
    let (mut compose, mut hand, mut by_cli) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        for way in alternate([Way::Compose, Way::Hand, Way::Cli], round) {
            match way {
                Way::Compose => compose.push(testdock_compose(&yaml).await?),
                Way::Hand => hand.push(hand_started(&image).await?),
                Way::Cli if has_cli => {
                    let project = format!("tdbench{}r{round}", std::process::id());
                    let file = file.clone();
                    by_cli.push(tokio::task::spawn_blocking(move || cli(&file, &project)).await??);
                }
                Way::Cli => {}
            }
        }
    }
    println!("time to a ready 3-service stack (db healthy, migrate completed, web started), {rounds} rounds{}", run::smoke_note(rounds, 5));
    let table =
        Table::print_header(&[("way", 18), ("median ms", 10), ("min ms", 8), ("max ms", 8)]);
    let row = |name: &str, v: &[Duration]| {
        let (mut lo, mut hi) = (v[0], v[0]);
        for d in v {
            lo = lo.min(*d);
            hi = hi.max(*d);
        }
        table.row([
            name.to_owned(),
            format!("{:.0}", ms(median(v))),
            format!("{:.0}", ms(lo)),
            format!("{:.0}", ms(hi)),
        ]);
    };
    row("testdock-compose", &compose);
    row("hand-started", &hand);
    if has_cli {
        row("docker-compose", &by_cli);
    }
    let mut targets = Targets::begin();
    let vs_hand = ratio(median(&compose), median(&hand));
    targets.check(
        vs_hand <= 1.05,
        format!("testdock's compose at {vs_hand:.2}x hand-started (target <= 1.05x)"),
    );
    if has_cli {
        let vs_cli = ratio(median(&compose), median(&by_cli));
        targets.check(
            vs_cli < 1.0,
            format!("testdock's compose at {vs_cli:.2}x docker-compose (target < 1x)"),
        );
    }
    targets.end();
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    if run::connect(BENCH).await.is_none() {
        return ExitCode::FAILURE;
    }
    let ok = run::completed(BENCH, run::guarded(bench()).await);
    run::exit_code(ok)
}
