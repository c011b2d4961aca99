//! Services benchmark: what a test that needs PostgreSQL waits for, and what a suite of
//! such tests takes, per-test servers against a shared server with a database per test.
//!
//! **Time to a ready PostgreSQL** (the default config, from the host's binaries unless
//! `TESTDOCK_SERVICES` says otherwise), each variant `TESTDOCK_BENCH_ITERATIONS` times
//! (default 5), interleaved:
//!
//! - `raw bollard`: the floor: create + start of the same image with the same
//!   environment and data tmpfs (settings as `-c` arguments instead of injected files), then
//!   `SELECT 1` polled every 5 ms over the published port;
//! - `per-test server`: `Postgres::default().start()` (ready = `SELECT 1` answers);
//! - `snapshot`: a server started from a `Container::commit` of a stopped, initialised
//!   and migrated one (`Postgres::image`, data in the container's layer, as a snapshot
//!   needs): no `initdb`, no init scripts;
//! - `shared + fresh db`: `DatabaseTemplate::database()` on a running shared server
//!   (`CREATE DATABASE ... TEMPLATE ...`) and a connection to it;
//! - `reused across runs`: a fresh process (this bench, run again as a child with
//!   `TESTDOCK_REUSE=1` and `CI` unset) adopting the server an earlier run left: from
//!   its first call (`SharedService::get`, which also connects to the daemon) to the
//!   server that passed its probe again. A first child run, not counted, starts it; the
//!   child's whole process time is printed under the table. Target: <= 50 ms.
//!
//! **A suite of 16 tests**, 2 at a time (as `cargo test` runs them on 2 cores), each
//! creating a table, writing and reading a row: with a server per test, or with one
//! shared server (started in the suite, as a real run pays for it) and a fresh database
//! per test. 2 rounds each, interleaved. Target: the shared suite at least 5× faster.
//!
//! At the end nothing of this process may remain but the shared servers (removed
//! here); the snapshot image and the reused server (found by its session) are removed. Run with `cargo bench --bench services`
//! (about 3 minutes). The exit code is non-zero only when the bench could not run or
//! left something behind, not when a target is missed.

mod support;

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use futures::StreamExt;
use testdock::bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, PortBinding};
use testdock::bollard::query_parameters::CreateContainerOptionsBuilder;
use testdock::bollard::Docker;
use testdock::services::postgres::{DatabaseTemplate, Postgres};
use testdock::services::{Service, SharedService};
use testdock::{labels, LocalImage};

use support::leaks::{label_filter, sweep};
use support::run::{alternate, iterations, smoke_note};
use support::stats::{median, ms, p90, ratio};
use support::table::{Table, Targets};
use support::{raw, run, Result};

const TESTS: usize = 16;
const PARALLEL: usize = 2;
const ROUNDS: usize = 2;
const MIN_SPEEDUP: f64 = 5.0;
const MAX_REUSED_MS: f64 = 50.0;
/// Set (to the reused server's token) in the child runs of `reused across runs`.
const REUSE_CHILD_ENV: &str = "TESTDOCK_BENCH_REUSE_CHILD";
const SNAPSHOT: &str = "testdock-bench/pg-snapshot";
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE accounts (id serial PRIMARY KEY, owner text NOT NULL, balance int NOT NULL)",
    "CREATE INDEX ON accounts (owner)",
    "INSERT INTO accounts (owner, balance) SELECT 'seed' || g, g FROM generate_series(1, 100) g",
];

static READY_SERVER: SharedService<Postgres> =
    SharedService::new("bench-pg-ready", Postgres::default);
static READY_DB: DatabaseTemplate = DatabaseTemplate::new(&READY_SERVER, "bench", MIGRATIONS);
static SUITE_1: SharedService<Postgres> = SharedService::new("bench-pg-suite-1", Postgres::default);
static SUITE_2: SharedService<Postgres> = SharedService::new("bench-pg-suite-2", Postgres::default);
/// The reused server of the children: its `cluster_name` is this bench run's token, so
/// that no other run's reused server is adopted (nor this one's by another run).
static REUSED: SharedService<Postgres> = SharedService::new("bench-pg-reused", || {
    let token = std::env::var(REUSE_CHILD_ENV).unwrap_or_default();
    Postgres::default().setting("cluster_name", token)
});
static SUITE_DB: [DatabaseTemplate; ROUNDS] = [
    DatabaseTemplate::new(&SUITE_1, "bench", MIGRATIONS),
    DatabaseTemplate::new(&SUITE_2, "bench", MIGRATIONS),
];

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::var_os(REUSE_CHILD_ENV).is_some() {
        return reuse_child().await;
    }
    let Some(daemon) = run::connect("services").await else {
        return ExitCode::FAILURE;
    };
    let docker = daemon.client().clone();
    let outcome = run::guarded(bench(docker.clone())).await;
    let completed = run::completed("services", outcome);
    let _ = testdock::remove_image(&format!("{SNAPSHOT}:{}", labels::owner_id())).await;
    let reused = label_filter(format!("{}={}", labels::SESSION, reuse_session()));
    match sweep(&docker, &reused).await {
        Ok(removed) => println!("the reused server: {removed:?}"),
        Err(e) => eprintln!("bench services: could not remove the reused server: {e}"),
    }
    let clean = leak_check(&docker).await.unwrap_or_else(|e| {
        eprintln!("bench services: the leak check failed: {e}");
        false
    });
    run::exit_code(completed && clean)
}

async fn bench(docker: Docker) -> Result<()> {
    let n = iterations(5)?;
    // Warm-up, not counted: the image, one server, the snapshot.
    let started = Instant::now();
    let spec = Postgres::default().spec().await?;
    let image = spec.image().prepare().await?.reference;
    println!("image {image} ready in {:?}", started.elapsed());
    Postgres::default().start().await?.remove().await?;
    let seeded = Postgres::default()
        .keep_data_in_layer()
        .init_sql(MIGRATIONS.join(";\n"))
        .start()
        .await?;
    seeded.container().stop().await?;
    let tag = labels::owner_id();
    seeded.container().commit(SNAPSHOT, tag, &[]).await?;
    seeded.remove().await?;
    let snapshot = format!("{SNAPSHOT}:{tag}");
    READY_DB.database().await?;
    let first = reuse_run()?;
    println!("reused server started by a first run in {:?}", first.ready);

    let names = [
        "raw bollard",
        "per-test server",
        "snapshot",
        "shared + fresh db",
        "reused across runs",
    ];
    let mut ready: [Vec<Duration>; 5] = Default::default();
    let mut processes = Vec::new();
    for round in 0..n {
        for v in alternate([0, 1, 2, 3, 4], round) {
            let started = Instant::now();
            match v {
                4 => {
                    let run = reuse_run()?;
                    if run.id != first.id {
                        return Err(format!("a run started another server: {run:?}").into());
                    }
                    ready[v].push(run.ready);
                    processes.push(run.process);
                    continue;
                }
                0 => raw_ready(&docker, &image).await?,
                1 => {
                    let pg = Postgres::default().start().await?;
                    ready[v].push(started.elapsed());
                    pg.remove().await?;
                    continue;
                }
                2 => {
                    let pg = Postgres::default()
                        .keep_data_in_layer()
                        .image(LocalImage::new(&snapshot))
                        .start()
                        .await?;
                    ready[v].push(started.elapsed());
                    let rows = pg
                        .connect()
                        .await?
                        .query("SELECT 1 FROM accounts", &[])
                        .await?;
                    assert_eq!(rows.len(), 100, "the snapshot holds the migrated data");
                    pg.remove().await?;
                    continue;
                }
                _ => {
                    let db = READY_DB.database().await?;
                    db.connect().await?;
                }
            }
            ready[v].push(started.elapsed());
        }
    }
    let table = Table::print_header(&[
        ("time to a ready PostgreSQL", 26),
        ("median ms", 10),
        ("p90 ms", 9),
    ]);
    for (name, samples) in names.iter().zip(&ready) {
        table.row([
            name.to_string(),
            format!("{:.0}", ms(median(samples))),
            format!("{:.0}", ms(p90(samples))),
        ]);
    }
    println!("({n} each{})", smoke_note(n, 5));
    println!(
        "(reused across runs: the child's whole process, spawn to exit, median {:.0} ms)\n",
        ms(median(&processes))
    );
    let reused_ms = ms(median(&ready[4]));

    let mut suites: [Vec<Duration>; 2] = Default::default();
    for (round, template) in SUITE_DB.iter().enumerate() {
        for shared in alternate([false, true], round) {
            let started = Instant::now();
            suite(shared.then_some(template)).await?;
            suites[usize::from(shared)].push(started.elapsed());
        }
    }
    let table = Table::print_header(&[
        ("suite of 16 tests, 2 at a time", 30),
        ("median s", 9),
        ("per test ms", 12),
    ]);
    for (name, samples) in ["server per test", "shared server + fresh db"]
        .iter()
        .zip(&suites)
    {
        let per_test = median(samples) / TESTS as u32;
        table.row([
            name.to_string(),
            format!("{:.1}", median(samples).as_secs_f64()),
            format!("{:.0}", ms(per_test)),
        ]);
    }
    let speedup = ratio(median(&suites[0]), median(&suites[1]));
    let mut targets = Targets::begin();
    targets.check(
        reused_ms <= MAX_REUSED_MS,
        format!("a reused server ready in {reused_ms:.0} ms (target <= {MAX_REUSED_MS:.0} ms)"),
    );
    targets.check(
        speedup >= MIN_SPEEDUP,
        format!("shared server + fresh db suite {speedup:.1}x faster than a server per test (target >= {MIN_SPEEDUP}x)"),
    );
    targets.end();
    Ok(())
}

/// The session of the reused server's child runs (one per bench run), by which it is
/// removed at the end.
fn reuse_session() -> String {
    format!("bench-services-reuse-{}", labels::owner_id())
}

/// What a child run of `reused across runs` measured.
#[derive(Debug)]
struct ReuseRun {
    /// From its `get()` to the server, ready.
    ready: Duration,
    /// The whole child process, spawn to exit.
    process: Duration,
    /// The server's container id.
    id: String,
}

/// Runs this bench again as a child that gets [`REUSED`] with `TESTDOCK_REUSE=1`.
fn reuse_run() -> Result<ReuseRun> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .env(REUSE_CHILD_ENV, labels::owner_id())
        .env(labels::SESSION_ENV, reuse_session())
        .env(testdock::shared::REUSE_ENV, "1")
        .env_remove("CI")
        .env_remove("NEXTEST")
        .env_remove("NEXTEST_RUN_ID");
    let done = support::procs::run(&mut command)?;
    let field = |marker: &str| {
        done.stdout
            .lines()
            .find_map(|l| l.strip_prefix(marker))
            .map(str::to_owned)
    };
    match (done.success, field("READY_IN_NS "), field("ID ")) {
        (true, Some(nanos), Some(id)) => Ok(ReuseRun {
            ready: Duration::from_nanos(nanos.parse()?),
            process: done.wall,
            id,
        }),
        _ => Err(format!("the reuse run failed:\n{}{}", done.stdout, done.stderr).into()),
    }
}

/// The child of [`reuse_run`]: gets the reused server and says how long that took.
async fn reuse_child() -> ExitCode {
    // `TESTDOCK_BENCH_TRACE=1`: testdock's steps on stderr, to see where the time goes.
    if std::env::var_os("TESTDOCK_BENCH_TRACE").is_some() {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(std::io::stderr)
            .init();
    }
    let asked = Instant::now();
    match REUSED.get().await {
        Ok(pg) => {
            println!("READY_IN_NS {}", asked.elapsed().as_nanos());
            println!("ID {}", pg.container().id());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The floor: the same image, created and started with bollard, until `SELECT 1`
/// answers; then removed.
async fn raw_ready(docker: &Docker, image: &str) -> Result<()> {
    let name = format!("testdock-bench-raw-{}", labels::owner_id());
    let mut cmd = vec!["postgres".to_owned()];
    for setting in [
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
        "jit=off",
        "listen_addresses=*",
    ] {
        cmd.extend(["-c".to_owned(), setting.to_owned()]);
    }
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: Some(cmd),
        env: Some(
            [
                "POSTGRES_PASSWORD=postgres",
                "POSTGRES_INITDB_ARGS=--encoding=UTF8 --locale=C --no-sync",
                "PGDATA=/var/lib/postgresql/tmpfs/data",
            ]
            .map(String::from)
            .to_vec(),
        ),
        labels: Some(raw::labels("bench::services::raw")),
        exposed_ports: Some(vec!["5432/tcp".to_owned()]),
        host_config: Some(HostConfig {
            mounts: Some(vec![Mount {
                typ: Some(MountType::TMPFS),
                target: Some("/var/lib/postgresql/tmpfs".to_owned()),
                ..Default::default()
            }]),
            port_bindings: Some(
                [(
                    "5432/tcp".to_owned(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: None,
                    }]),
                )]
                .into(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    let id = docker.create_container(Some(options), body).await?.id;
    let ready = async {
        docker.start_container(&id, None).await?;
        let inspect = docker.inspect_container(&id, None).await?;
        let port = inspect
            .network_settings
            .and_then(|n| n.ports)
            .and_then(|p| p.get("5432/tcp").cloned().flatten())
            .and_then(|b| b.first()?.host_port.clone())
            .ok_or("no published port")?;
        let conn =
            format!("host=127.0.0.1 port={port} user=postgres password=postgres dbname=postgres");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((client, connection)) =
                tokio_postgres::connect(&conn, tokio_postgres::NoTls).await
            {
                tokio::spawn(connection);
                if client.simple_query("SELECT 1").await.is_ok() {
                    return Ok::<_, support::BoxError>(());
                }
            }
            if Instant::now() > deadline {
                return Err("the raw server never answered".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    .await;
    docker
        .remove_container(&id, Some(raw::force_remove()))
        .await?;
    ready
}

/// 16 tests, 2 at a time: each gets PostgreSQL (a server of its own, or a fresh
/// database from `template`), creates a table, writes and reads a row.
async fn suite(template: Option<&'static DatabaseTemplate>) -> Result<()> {
    let started = Instant::now();
    let results: Vec<Result<()>> = futures::stream::iter(0..TESTS)
        .map(|i| async move {
            if i == PARALLEL {
                // The first tests are done: the server and template are there.
                println!(
                    "  ({} first {PARALLEL} tests done after {:?})",
                    if template.is_some() {
                        "shared:"
                    } else {
                        "per-test:"
                    },
                    started.elapsed()
                );
            }
            let body = |client: tokio_postgres::Client| async move {
                client.batch_execute("CREATE TABLE t (x int)").await?;
                client
                    .execute("INSERT INTO t VALUES ($1)", &[&(i as i32)])
                    .await?;
                let x: i32 = client.query_one("SELECT x FROM t", &[]).await?.get(0);
                assert_eq!(x, i as i32);
                Ok::<_, support::BoxError>(())
            };
            match template {
                Some(template) => {
                    let db = template.database().await?;
                    body(db.connect().await?).await
                }
                None => {
                    let pg = Postgres::default().start().await?;
                    body(pg.connect().await?).await?;
                    Ok(pg.remove().await?)
                }
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Removes what this process still has; only the shared servers may be there.
async fn leak_check(docker: &Docker) -> Result<bool> {
    let (filter, listed) = support::leaks::own_containers(docker).await?;
    let leaks: Vec<String> = listed
        .iter()
        .filter(|c| {
            !c.labels
                .as_ref()
                .and_then(|l| l.get(labels::TEST))
                .is_some_and(|t| t.starts_with("shared::"))
        })
        .map(|c| format!("{:?}", c.names))
        .collect();
    sweep(docker, &filter).await?;
    if leaks.is_empty() {
        println!("leak check: only the shared servers remained (removed)");
    } else {
        eprintln!("bench services: left behind: {leaks:?}");
    }
    Ok(leaks.is_empty())
}
