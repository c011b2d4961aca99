//! Image benchmark: what preparing images costs, and what a snapshot saves.
//!
//! 1. **Builds.** One build context, `FROM` a busybox image made from the host, two small
//!    files `COPY`d and a `RUN` step, built by `BuildContext::build` (in memory) and by
//!    `docker build -q` (the CLI, `DOCKER_BUILDKIT=0`: the same classic builder, with the
//!    same labels and `--force-rm`) from the same files written to a temporary directory
//!    (steps: `FROM`, one `COPY` of both files, `RUN`, and the `LABEL` the labels add).
//!    "first": every iteration changes one file (the iteration number is in it), so
//!    every first build runs all its steps; the two variants use different contents, so
//!    neither gets the other's cache. "cached": the unchanged context again: for
//!    testdock one `inspect_image` (the tag is a hash of the context), for the CLI the
//!    context is sent again and the daemon's build cache answers every step.
//! 2. **Host images.** `HostImage::new().binary("/bin/sh").binary("/bin/cat")` and the
//!    static busybox with all its applets (as `tests/common` makes it), each with a file
//!    holding the iteration number so that every "first" `reference()` imports. Then
//!    "cached": `reference()` again in the same process (one `inspect_image`), and in a
//!    new process (this executable re-run as a child, which times its own
//!    `reference()` after connecting: what a second test binary pays, i.e. reading and
//!    hashing the files, then one `inspect_image`).
//! 3. **Snapshot vs setup.** 8 containers that each need an expensive setup (append
//!    2000 rows to `/data/db`, then `sleep 1`, as a migration would) started one after
//!    another, each running the setup, against: the setup once, `Container::commit` to
//!    an image, and 8 containers started from the snapshot (their command checks that
//!    the 2000 rows are there, then says `ready`). Both are run twice, interleaved.
//!
//! Variants are interleaved, in reversed order every other iteration, after a warm-up
//! iteration that is not counted. Every image this run makes (tags, their intermediate
//! build images, imports, snapshots, and the base image if this run imported it) is
//! removed at the end and checked gone; no container of this process may remain.
//!
//! Run with `cargo bench --bench images` (about 90 s). `TESTDOCK_BENCH_ITERATIONS=N`
//! sets the counted iterations of parts 1 and 2 (default 8). The exit code is 0 when a
//! target is missed (this is a measurement, not a test): it is non-zero only when the
//! bench could not run (no daemon, no busybox, no docker CLI) or left something behind.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use testdock::bollard::errors::Error as DockerError;
use testdock::bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptions, RemoveImageOptionsBuilder,
};
use testdock::bollard::Docker;
use testdock::{
    docker::Endpoint, labels, BuildContext, Container, ContainerSpec, Exec, HostImage, InjectFile,
    Probe,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

const BUSYBOX: &str = "/bin/busybox";
const WARMUP: usize = 1;
const DEFAULT_ITERATIONS: usize = 8;
const MIN_ITERATIONS: usize = 8;
const ITERATIONS_ENV: &str = "TESTDOCK_BENCH_ITERATIONS";
/// Set in the child process that times a `reference()` in a new process: `<kind>:<nonce>`.
const CHILD_ENV: &str = "TESTDOCK_BENCH_IMAGES_CHILD";
/// Label on every image and container of this bench: `images-<owner id>`.
const BENCH_LABEL: &str = "testdock.bench";
const TEST_ID: &str = "bench::images";
const CLI_REPOSITORY: &str = "testdock-bench/cli";
const SNAPSHOT_REPOSITORY: &str = "testdock-bench/snapshot";
/// One build, import, or container start that takes longer is a failure, not a sample.
const OP_LIMIT: Duration = Duration::from_secs(120);

/// Part 3: containers per variant, rounds, rows the setup writes.
const CONTAINERS: usize = 8;
const ROUNDS: usize = 2;
const ROWS: usize = 2000;
const READY: &str = "ready";

/// Target: a cached `build()` median below this (one inspect call).
const MAX_CACHED_BUILD: Duration = Duration::from_millis(20);
/// Target: a first `build()` median at most this many times the CLI's.
const MAX_FIRST_BUILD_RATIO: f64 = 1.10;
/// Target: a cached `reference()` (same process) median below this.
const MAX_CACHED_HOST: Duration = Duration::from_millis(10);
/// Target: the snapshot variant's total at least this many times faster.
const MIN_SNAPSHOT_SPEEDUP: f64 = 2.0;

#[tokio::main]
async fn main() -> ExitCode {
    if let Ok(job) = std::env::var(CHILD_ENV) {
        return child(&job).await;
    }
    let daemon = match testdock::daemon().await {
        Ok(daemon) => daemon,
        Err(e) => {
            eprintln!(
                "bench images: this benchmark needs a running Docker daemon, and none answered.\n\n{e}\n\n\
                 To get one: `sudo apt-get install -y docker.io && sudo dockerd &` (or start Docker \
                 Desktop), or point DOCKER_HOST at a daemon (e.g. `unix:///var/run/docker.sock`, \
                 `tcp://host:2375`)."
            );
            return ExitCode::FAILURE;
        }
    };
    if !Path::new(BUSYBOX).exists() {
        eprintln!(
            "bench images: the images are made from a static busybox at {BUSYBOX}, which is \
             missing: `sudo apt-get install -y busybox-static`"
        );
        return ExitCode::FAILURE;
    }
    let cli_version = match std::process::Command::new("docker")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => {
            eprintln!(
                "bench images: part 1 compares with the `docker build` CLI, which is not \
                 installed or does not run: `sudo apt-get install -y docker.io` (or docker-ce-cli)"
            );
            return ExitCode::FAILURE;
        }
    };
    let docker = daemon.client().clone();
    // The CLI must talk to the daemon testdock chose.
    let cli_host = match &daemon.endpoint().endpoint {
        Endpoint::Unix { path } => Some(format!("unix://{}", path.display())),
        Endpoint::Tcp { addr, tls: None } => Some(format!("tcp://{addr}")),
        // TLS: the CLI reads DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH itself.
        Endpoint::Tcp { tls: Some(_), .. } => None,
    };
    let env = Env {
        docker: docker.clone(),
        endpoint: daemon.endpoint().endpoint.to_string(),
        cli_host,
        cli_version,
        run_label: format!("images-{}", labels::owner_id()),
        created: Arc::new(Mutex::new(Vec::new())),
    };

    // Everything runs in a task so that a panic or Ctrl-C still reaches the cleanup.
    let mut bench = tokio::spawn(bench(env.clone()));
    let outcome: Result<(), String> = tokio::select! {
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
    };

    let mut code = ExitCode::SUCCESS;
    if let Err(e) = outcome {
        eprintln!("bench images: {e}");
        code = ExitCode::FAILURE;
    }
    // Containers first: they hold their images.
    match sweep_containers(&docker).await {
        Ok(leaks) if leaks.is_empty() => println!(
            "leak check: no container of this process ({}) remains",
            labels::owner_id()
        ),
        Ok(leaks) => {
            eprintln!(
                "LEAK: {} container(s) of this process were still there at the end (now removed): {leaks:#?}",
                leaks.len()
            );
            code = ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("bench images: the leak check could not list containers: {e}");
            code = ExitCode::FAILURE;
        }
    }
    match remove_images(&env).await {
        Ok((removed, checked, leaks)) if leaks.is_empty() => println!(
            "leak check: the {removed} image(s) this run tagged are removed, and none of their \
             {checked} image id(s) (with intermediate build images) remains"
        ),
        Ok((_, _, leaks)) => {
            eprintln!(
                "LEAK: {} image(s) of this run were still there after the cleanup: {leaks:#?}",
                leaks.len()
            );
            code = ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("bench images: the image cleanup failed: {e}");
            code = ExitCode::FAILURE;
        }
    }
    code
}

/// What every part needs.
#[derive(Debug, Clone)]
struct Env {
    docker: Docker,
    endpoint: String,
    /// DOCKER_HOST for the CLI (`None`: the CLI's own environment).
    cli_host: Option<String>,
    cli_version: String,
    /// Value of [`BENCH_LABEL`], unique to this process.
    run_label: String,
    /// Every image this run made, in creation order.
    created: Arc<Mutex<Vec<Tracked>>>,
}

/// An image this run made: its reference and the ids to check gone at the end (itself
/// and its intermediate build images, down to the base image).
#[derive(Debug, Clone)]
struct Tracked {
    reference: String,
    ids: Vec<String>,
}

impl Env {
    fn track(&self, reference: &str) {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        if !created.iter().any(|t| t.reference == reference) {
            created.push(Tracked {
                reference: reference.to_owned(),
                ids: Vec::new(),
            });
        }
    }

    /// Records the image's id and, from its history, the local images below it (the
    /// intermediate images of a build) down to (not including) `stop`.
    async fn track_chain(&self, reference: &str, stop: Option<&str>) -> Result<()> {
        let id = self
            .docker
            .inspect_image(reference)
            .await?
            .id
            .unwrap_or_default();
        let mut ids = vec![id.clone()];
        for item in self.docker.image_history(reference).await? {
            if Some(item.id.as_str()) == stop {
                break;
            }
            // Layers not stored as local images are "<missing>".
            if item.id.starts_with("sha256:") && item.id != id {
                ids.push(item.id);
            }
        }
        self.track(reference);
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = created.iter_mut().find(|t| t.reference == reference) {
            t.ids = ids;
        }
        Ok(())
    }
}

async fn bench(env: Env) -> Result<()> {
    let iterations = match std::env::var(ITERATIONS_ENV) {
        Ok(n) => n
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("{ITERATIONS_ENV}={n:?} is not a positive number"))?,
        Err(_) => DEFAULT_ITERATIONS,
    };
    let version = env.docker.version().await?;

    // The base of every build and container: bench-specific (a file marks it), so it is
    // this run's to remove.
    let known = image_tags(&env.docker).await?;
    let started = Instant::now();
    let base_ref = base_image().prepare().await.map(|p| p.reference)?;
    let base_time = started.elapsed();
    let imported_here = !known.contains(&base_ref);
    if imported_here {
        env.track_chain(&base_ref, None).await?;
    }
    let base_id = env
        .docker
        .inspect_image(&base_ref)
        .await?
        .id
        .unwrap_or_default();

    println!();
    println!("testdock image benchmark");
    println!(
        "daemon: Docker {} (API {}), client API {}, at {}; CLI: {}",
        version.version.as_deref().unwrap_or("?"),
        version.api_version.as_deref().unwrap_or("?"),
        env.docker.client_version(),
        env.endpoint,
        env.cli_version
    );
    println!(
        "base image: {base_ref} (static busybox, {} applets; {} in {:.0} ms)",
        applets().len(),
        if imported_here {
            "imported"
        } else {
            "already present"
        },
        ms(base_time)
    );
    println!(
        "iterations: {iterations} counted per variant (+{WARMUP} warm-up), variants interleaved, \
         order reversed every iteration{}",
        if iterations < MIN_ITERATIONS {
            format!(" (fewer than {MIN_ITERATIONS}: a smoke run, not a measurement)")
        } else {
            String::new()
        }
    );

    let builds = measure_builds(&env, &base_ref, &base_id, iterations).await?;
    report_builds(&builds, iterations);
    let hosts = measure_host_images(&env, iterations).await?;
    report_host_images(&hosts, iterations);
    let snapshots = measure_snapshots(&env, &base_ref, &base_id).await?;
    report_snapshots(&snapshots);
    report_targets(&builds, &hosts, &snapshots);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Images.

/// The static busybox's applets (`busybox --list`, read once).
fn applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = std::process::Command::new(BUSYBOX)
            .arg("--list")
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default();
        String::from_utf8_lossy(&out)
            .lines()
            .filter(|a| !a.is_empty() && *a != "busybox")
            .map(str::to_owned)
            .collect()
    })
}

/// Busybox with all its applets as symlinks in `/bin` (the tests' recipe).
fn busybox_all() -> HostImage {
    let mut image = HostImage::new().binary_at(BUSYBOX, "/bin/busybox");
    for applet in applets() {
        image = image.symlink(format!("/bin/{applet}"), "busybox");
    }
    image
}

fn base_image() -> HostImage {
    busybox_all().file(InjectFile::from_bytes(
        "/etc/testdock-bench",
        "base image of the testdock images bench\n",
    ))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostKind {
    ShCat,
    Busybox,
}

const HOST_KINDS: [HostKind; 2] = [HostKind::ShCat, HostKind::Busybox];

impl HostKind {
    fn name(self) -> &'static str {
        match self {
            HostKind::ShCat => "sh-cat",
            HostKind::Busybox => "busybox",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        HOST_KINDS.into_iter().find(|k| k.name() == name)
    }

    /// The recipe, made distinct by `nonce` (in a file) so that it is imported anew.
    fn recipe(self, nonce: &str) -> HostImage {
        let image = match self {
            HostKind::ShCat => HostImage::new().binary("/bin/sh").binary("/bin/cat"),
            HostKind::Busybox => busybox_all(),
        };
        image.file(InjectFile::from_bytes(
            "/etc/testdock-bench-nonce",
            format!("{nonce}\n"),
        ))
    }
}

/// The tags of the images on the daemon.
async fn image_tags(docker: &Docker) -> Result<HashSet<String>> {
    let images = docker
        .list_images(Some(ListImagesOptionsBuilder::default().build()))
        .await?;
    Ok(images.into_iter().flat_map(|i| i.repo_tags).collect())
}

// ---------------------------------------------------------------------------------------
// Part 1: builds.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builder {
    Testdock,
    Cli,
}

#[derive(Debug, Default)]
struct BuildSamples {
    td_first: Vec<Duration>,
    cli_first: Vec<Duration>,
    td_cached: Vec<Duration>,
    cli_cached: Vec<Duration>,
    /// Build steps per context (for the caption).
    steps: usize,
}

/// The context's files: Dockerfile, a data file holding `nonce`, a script.
fn context_files(base: &str, nonce: &str) -> [(&'static str, Vec<u8>, u32); 3] {
    let dockerfile = format!(
        "FROM {base}\n\
         COPY data.txt setup.sh /opt/bench/\n\
         RUN sh /opt/bench/setup.sh\n"
    );
    let mut data = format!("bench build {nonce}\n");
    while data.len() < 1024 {
        data.push_str("0123456789abcdefghijklmnopqrstuvwxyz\n");
    }
    let script = "wc -c < /opt/bench/data.txt > /opt/bench/size && echo built\n";
    [
        ("Dockerfile", dockerfile.into_bytes(), 0o644),
        ("data.txt", data.into_bytes(), 0o644),
        ("setup.sh", script.as_bytes().to_vec(), 0o755),
    ]
}

fn build_context(env: &Env, base: &str, nonce: &str) -> BuildContext {
    let [(_, dockerfile, _), files @ ..] = context_files(base, nonce);
    let mut context = BuildContext::new(String::from_utf8(dockerfile).expect("ASCII"))
        .label(BENCH_LABEL, &env.run_label);
    for (path, content, mode) in files {
        context = context.file(InjectFile::from_bytes(path, content).mode(mode));
    }
    context
}

fn write_context(dir: &Path, base: &str, nonce: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    for (path, content, mode) in context_files(base, nonce) {
        let file = dir.join(path);
        std::fs::write(&file, content)?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// `docker build -q` with the classic builder, as testdock builds (labels, `--force-rm`).
/// Returns the image id it printed.
async fn cli_build(env: &Env, dir: &Path, tag: &str) -> Result<String> {
    let mut command = tokio::process::Command::new("docker");
    command
        .args(["build", "-q", "--force-rm", "--label"])
        .arg(format!(
            "{}={}",
            labels::MANAGED_BY,
            labels::MANAGED_BY_VALUE
        ))
        .arg("--label")
        .arg(format!("{BENCH_LABEL}={}", env.run_label))
        .args(["-t", tag])
        .arg(dir)
        .env("DOCKER_BUILDKIT", "0")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(host) = &env.cli_host {
        command.env("DOCKER_HOST", host);
    }
    let out = command.output().await?;
    if !out.status.success() {
        return Err(format!(
            "`docker build -t {tag}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

async fn timed<T>(
    what: &str,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<(T, Duration)> {
    let started = Instant::now();
    let value = tokio::time::timeout(OP_LIMIT, f)
        .await
        .map_err(|_| format!("{what} took over {OP_LIMIT:?}"))?
        .map_err(|e| format!("{what}: {e}"))?;
    Ok((value, started.elapsed()))
}

async fn measure_builds(
    env: &Env,
    base: &str,
    base_id: &str,
    iterations: usize,
) -> Result<BuildSamples> {
    let dirs = tempfile::tempdir()?;
    let mut s = BuildSamples {
        steps: 4, // FROM, COPY, RUN, LABEL
        ..Default::default()
    };
    let run = labels::owner_id();
    for i in 0..WARMUP + iterations {
        let counted = i >= WARMUP;
        let context = build_context(env, base, &format!("{run}-testdock-{i}"));
        let dir = dirs.path().join(format!("context-{i}"));
        write_context(&dir, base, &format!("{run}-cli-{i}"))?;
        let tag = format!("{CLI_REPOSITORY}:{run}-{i}");
        let mut order = [Builder::Testdock, Builder::Cli];
        if i % 2 == 1 {
            order.reverse();
        }
        let mut td_ref = String::new();
        let mut cli_id = String::new();
        for b in order {
            match b {
                Builder::Testdock => {
                    let (built, d) =
                        timed("the first build()", async { Ok(context.prepare().await?) }).await?;
                    if built.cached {
                        return Err(format!(
                            "the first build() of a new context found {} already built",
                            built.reference
                        )
                        .into());
                    }
                    env.track_chain(&built.reference, Some(base_id)).await?;
                    td_ref = built.reference;
                    if counted {
                        s.td_first.push(d);
                    }
                }
                Builder::Cli => {
                    env.track(&tag);
                    let (id, d) =
                        timed("the first docker build", cli_build(env, &dir, &tag)).await?;
                    env.track_chain(&tag, Some(base_id)).await?;
                    cli_id = id;
                    if counted {
                        s.cli_first.push(d);
                    }
                }
            }
        }
        for b in order {
            match b {
                Builder::Testdock => {
                    let (built, d) =
                        timed("the cached build()", async { Ok(context.prepare().await?) }).await?;
                    if !built.cached || built.reference != td_ref {
                        return Err(format!(
                            "the second build() of an unchanged context was not cached: {built:?} \
                             (first: {td_ref})"
                        )
                        .into());
                    }
                    if counted {
                        s.td_cached.push(d);
                    }
                }
                Builder::Cli => {
                    let (id, d) =
                        timed("the cached docker build", cli_build(env, &dir, &tag)).await?;
                    if id != cli_id {
                        return Err(format!(
                            "docker build of an unchanged context made a new image {id} (first: {cli_id})"
                        )
                        .into());
                    }
                    if counted {
                        s.cli_cached.push(d);
                    }
                }
            }
        }
    }
    Ok(s)
}

fn report_builds(s: &BuildSamples, iterations: usize) {
    println!();
    println!(
        "1. build: FROM base + COPY of 2 files (1 KiB, 60 B) + RUN + LABEL ({} steps, classic builder), \
         {iterations} iterations (+{WARMUP} warm-up)",
        s.steps
    );
    println!("   testdock = BuildContext::build() (in memory); CLI = DOCKER_BUILDKIT=0 docker build -q (files on disk)");
    println!();
    println!(
        "{:<8} | {:>12} | {:>12} | {:>10} | {:>10} | {:>15}",
        "ms", "testdock med", "testdock p90", "CLI median", "CLI p90", "testdock / CLI"
    );
    println!(
        "{}",
        "-".repeat(8 + 3 + 12 + 3 + 12 + 3 + 10 + 3 + 10 + 3 + 15)
    );
    for (label, td, cli) in [
        ("first", &s.td_first, &s.cli_first),
        ("cached", &s.td_cached, &s.cli_cached),
    ] {
        println!(
            "{:<8} | {:>12.1} | {:>12.1} | {:>10.1} | {:>10.1} | {:>15.3}",
            label,
            ms(median(td)),
            ms(p90(td)),
            ms(median(cli)),
            ms(p90(cli)),
            ratio(median(td), median(cli)),
        );
    }
    println!(
        "   cached: testdock {:.1}x faster than the CLI (one inspect_image vs sending the context \
         and a cache lookup per step, plus the CLI process)",
        ratio(median(&s.cli_cached), median(&s.td_cached))
    );
}

// ---------------------------------------------------------------------------------------
// Part 2: host images.

#[derive(Debug, Default)]
struct HostSamples {
    first: HashMap<&'static str, Vec<Duration>>,
    cached: HashMap<&'static str, Vec<Duration>>,
    fresh: HashMap<&'static str, Vec<Duration>>,
    size: HashMap<&'static str, i64>,
}

impl HostSamples {
    fn get<'a>(map: &'a HashMap<&'static str, Vec<Duration>>, kind: HostKind) -> &'a [Duration] {
        map.get(kind.name()).map_or(&[], Vec::as_slice)
    }
}

async fn measure_host_images(env: &Env, iterations: usize) -> Result<HostSamples> {
    let mut s = HostSamples::default();
    let run = labels::owner_id();
    for i in 0..WARMUP + iterations {
        let counted = i >= WARMUP;
        let mut order = HOST_KINDS;
        if i % 2 == 1 {
            order.reverse();
        }
        let mut references = HashMap::new();
        for kind in order {
            let nonce = format!("{run}-{}-{i}", kind.name());
            let recipe = kind.recipe(&nonce);
            let (reference, d) = timed("the first reference()", async {
                Ok(recipe.prepare().await.map(|p| p.reference)?)
            })
            .await?;
            env.track_chain(&reference, None).await?;
            if counted {
                s.first.entry(kind.name()).or_default().push(d);
            }
            let (again, d) = timed("the cached reference()", async {
                Ok(recipe.prepare().await.map(|p| p.reference)?)
            })
            .await?;
            if again != reference {
                return Err(format!("reference() changed: {reference} then {again}").into());
            }
            if counted {
                s.cached.entry(kind.name()).or_default().push(d);
            }
            if !s.size.contains_key(kind.name()) {
                let size = env
                    .docker
                    .inspect_image(&reference)
                    .await?
                    .size
                    .unwrap_or(0);
                s.size.insert(kind.name(), size);
            }
            references.insert(kind.name(), (nonce, reference));
        }
        for kind in order {
            let (nonce, reference) = &references[kind.name()];
            let (d, theirs) = fresh_process_reference(kind, nonce).await?;
            if &theirs != reference {
                return Err(format!(
                    "a new process made the {} recipe {theirs}, this one {reference}",
                    kind.name()
                )
                .into());
            }
            if counted {
                s.fresh.entry(kind.name()).or_default().push(d);
            }
        }
    }
    Ok(s)
}

/// Runs this executable as a child that times `reference()` of the recipe (after
/// connecting to the daemon) and prints `<microseconds> <reference>`.
async fn fresh_process_reference(kind: HostKind, nonce: &str) -> Result<(Duration, String)> {
    let exe = std::env::current_exe()?;
    let out = tokio::time::timeout(
        OP_LIMIT,
        tokio::process::Command::new(exe)
            .env(CHILD_ENV, format!("{}:{nonce}", kind.name()))
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| format!("the child process took over {OP_LIMIT:?}"))??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let parsed = stdout
        .trim()
        .split_once(' ')
        .and_then(|(micros, reference)| {
            Some((
                Duration::from_micros(micros.parse().ok()?),
                reference.to_owned(),
            ))
        });
    match parsed {
        Some(p) if out.status.success() => Ok(p),
        _ => Err(format!(
            "the child process failed ({}): {} {}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into()),
    }
}

/// The child's side of [`fresh_process_reference`].
async fn child(job: &str) -> ExitCode {
    let Some((kind, nonce)) = job
        .split_once(':')
        .and_then(|(k, n)| Some((HostKind::parse(k)?, n)))
    else {
        eprintln!("bench images child: bad {CHILD_ENV}={job:?}");
        return ExitCode::FAILURE;
    };
    let recipe = kind.recipe(nonce);
    if let Err(e) = testdock::daemon().await {
        eprintln!("bench images child: {e}");
        return ExitCode::FAILURE;
    }
    let started = Instant::now();
    match recipe.prepare().await.map(|p| p.reference) {
        Ok(reference) => {
            println!("{} {reference}", started.elapsed().as_micros());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench images child: {e}");
            ExitCode::FAILURE
        }
    }
}

fn report_host_images(s: &HostSamples, iterations: usize) {
    println!();
    println!(
        "2. host images: HostImage::reference(), {iterations} iterations (+{WARMUP} warm-up); \
         first = a new recipe (one file differs), imported"
    );
    println!(
        "   cached = the same recipe again: in this process (remembered: one inspect_image), \
         in a new process (archive + hash + one inspect_image)"
    );
    println!();
    println!(
        "{:<34} | {:>7} | {:>12} | {:>9} | {:>13} | {:>10} | {:>14} | {:>11}",
        "ms",
        "MB",
        "first median",
        "first p90",
        "cached median",
        "cached p90",
        "new-proc med.",
        "new-proc p90"
    );
    println!(
        "{}",
        "-".repeat(34 + 3 + 7 + 3 + 12 + 3 + 9 + 3 + 13 + 3 + 10 + 3 + 14 + 3 + 11)
    );
    for kind in HOST_KINDS {
        let label = match kind {
            HostKind::ShCat => "binary(/bin/sh) + binary(/bin/cat)".to_owned(),
            HostKind::Busybox => format!("busybox + {} applet links", applets().len()),
        };
        let first = HostSamples::get(&s.first, kind);
        let cached = HostSamples::get(&s.cached, kind);
        let fresh = HostSamples::get(&s.fresh, kind);
        println!(
            "{:<34} | {:>7.2} | {:>12.1} | {:>9.1} | {:>13.2} | {:>10.2} | {:>14.1} | {:>11.1}",
            label,
            s.size.get(kind.name()).copied().unwrap_or(0) as f64 / 1e6,
            ms(median(first)),
            ms(p90(first)),
            ms(median(cached)),
            ms(p90(cached)),
            ms(median(fresh)),
            ms(p90(fresh)),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Part 3: snapshot vs setup.

fn setup_script() -> String {
    format!(
        "mkdir -p /data && for i in $(seq 1 {ROWS}); do echo \"row $i\" >> /data/db; done; \
         sleep 1; echo {READY}; exec sleep 1000"
    )
}

fn snapshot_script() -> String {
    format!("[ \"$(wc -l < /data/db)\" -eq {ROWS} ] && echo {READY} && exec sleep 1000")
}

fn spec(env: &Env, image: &str, script: String, what: &str) -> ContainerSpec {
    ContainerSpec::new(image.to_owned())
        .cmd(["sh".to_owned(), "-c".to_owned(), script])
        .wait_for(Probe::log(READY))
        .startup_timeout(Duration::from_secs(60))
        .label(BENCH_LABEL, &env.run_label)
        .test_id(format!("{TEST_ID}::{what}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    SetupEach,
    Snapshot,
}

#[derive(Debug, Default)]
struct SnapshotSamples {
    /// Per strategy: the total wall time of each round.
    total: HashMap<&'static str, Vec<Duration>>,
    /// Per strategy: each container's start (create .. `ready`).
    starts: HashMap<&'static str, Vec<Duration>>,
    /// Snapshot only, per round: the one setup, the commit, removing the setup container.
    setup: Vec<Duration>,
    commit: Vec<Duration>,
    remove_setup: Vec<Duration>,
}

fn strategy_name(s: Strategy) -> &'static str {
    match s {
        Strategy::SetupEach => "setup-each",
        Strategy::Snapshot => "snapshot",
    }
}

async fn measure_snapshots(env: &Env, base: &str, base_id: &str) -> Result<SnapshotSamples> {
    let mut s = SnapshotSamples::default();
    // Warm-up: one plain start from the base image (not counted).
    let c = spec(
        env,
        base,
        format!("echo {READY}; exec sleep 1000"),
        "warm-up",
    )
    .start()
    .await?;
    c.remove().await?;
    for round in 0..ROUNDS {
        let mut order = [Strategy::SetupEach, Strategy::Snapshot];
        if round % 2 == 1 {
            order.reverse();
        }
        for strategy in order {
            let name = strategy_name(strategy);
            let started = Instant::now();
            let mut containers = Vec::new();
            let image = match strategy {
                Strategy::SetupEach => base.to_owned(),
                Strategy::Snapshot => {
                    let (setup, d) = timed("the setup container's start", async {
                        Ok(spec(env, base, setup_script(), "snapshot-setup")
                            .start()
                            .await?)
                    })
                    .await?;
                    s.setup.push(d);
                    let reference = format!("{SNAPSHOT_REPOSITORY}:{}-{round}", labels::owner_id());
                    env.track(&reference);
                    let (repo, tag) = reference.split_once(':').expect("repo:tag");
                    // The commit adds testdock's session and test labels; ours goes in a change.
                    let label = format!("LABEL {BENCH_LABEL}={}", env.run_label);
                    let (_, d) = timed("commit", async {
                        Ok(setup.commit(repo, tag, &[label.as_str()]).await?)
                    })
                    .await?;
                    s.commit.push(d);
                    let (_, d) = timed("removing the setup container", async {
                        Ok(setup.remove().await?)
                    })
                    .await?;
                    s.remove_setup.push(d);
                    reference
                }
            };
            for _ in 0..CONTAINERS {
                let (script, what) = match strategy {
                    Strategy::SetupEach => (setup_script(), "setup-each"),
                    Strategy::Snapshot => (snapshot_script(), "from-snapshot"),
                };
                let (c, d) = timed("a container start", async {
                    Ok(spec(env, &image, script, what).start().await?)
                })
                .await?;
                s.starts.entry(name).or_default().push(d);
                containers.push(c);
            }
            s.total.entry(name).or_default().push(started.elapsed());

            // Untimed: every container has the rows, then all are removed.
            if strategy == Strategy::Snapshot {
                env.track_chain(&image, Some(base_id)).await?;
                let labelled = env
                    .docker
                    .inspect_image(&image)
                    .await?
                    .config
                    .and_then(|c| c.labels)
                    .unwrap_or_default();
                for key in [BENCH_LABEL, labels::SESSION, labels::TEST] {
                    if !labelled.contains_key(key) {
                        return Err(format!(
                            "the snapshot {image} has no label {key}: {labelled:?}"
                        )
                        .into());
                    }
                }
            }
            check_rows(&containers).await?;
            let removals = containers.into_iter().map(Container::remove);
            for removed in futures::future::join_all(removals).await {
                removed?;
            }
        }
    }
    Ok(s)
}

async fn check_rows(containers: &[Container]) -> Result<()> {
    for c in containers {
        let out = c.exec(Exec::new(["sh", "-c", "wc -l < /data/db"])).await?;
        let rows = out.stdout_text();
        if !out.success() || rows.trim() != ROWS.to_string() {
            return Err(format!(
                "container {} has {:?} rows in /data/db, not {ROWS} ({})",
                c.name(),
                rows.trim(),
                out.stderr_text().trim()
            )
            .into());
        }
    }
    Ok(())
}

fn report_snapshots(s: &SnapshotSamples) {
    let each = strategy_name(Strategy::SetupEach);
    let snap = strategy_name(Strategy::Snapshot);
    let get = |map: &HashMap<&'static str, Vec<Duration>>, k: &str| {
        map.get(k).cloned().unwrap_or_default()
    };
    let (total_each, total_snap) = (get(&s.total, each), get(&s.total, snap));
    let (starts_each, starts_snap) = (get(&s.starts, each), get(&s.starts, snap));
    println!();
    println!(
        "3. snapshot vs setup: {CONTAINERS} containers started one after another, each needing a \
         setup ({ROWS} rows into /data/db + sleep 1); {ROUNDS} rounds, order alternated"
    );
    println!(
        "   setup-each = every container runs the setup; snapshot = the setup once, commit, \
         {CONTAINERS} containers from the snapshot (each checks its {ROWS} rows)"
    );
    println!();
    println!(
        "{:<30} | {:>12} | {:>12}",
        "ms (median over rounds)", "setup-each", "snapshot"
    );
    println!("{}", "-".repeat(30 + 3 + 12 + 3 + 12));
    let dash = format!("{:>12}", "-");
    println!(
        "{:<30} | {:>12.0} | {:>12.0}",
        "total wall time",
        ms(median(&total_each)),
        ms(median(&total_snap))
    );
    println!(
        "{:<30} | {dash} | {:>12.0}",
        "  one setup container",
        ms(median(&s.setup))
    );
    println!(
        "{:<30} | {dash} | {:>12.0}",
        "  commit (paused)",
        ms(median(&s.commit))
    );
    println!(
        "{:<30} | {dash} | {:>12.0}",
        "  remove the setup container",
        ms(median(&s.remove_setup))
    );
    println!(
        "{:<30} | {:>12.0} | {:>12.0}",
        "per-container start, median",
        ms(median(&starts_each)),
        ms(median(&starts_snap))
    );
    println!(
        "{:<30} | {:>12.0} | {:>12.0}",
        "per-container start, p90",
        ms(p90(&starts_each)),
        ms(p90(&starts_snap))
    );
    println!(
        "   speed-up: total {:.1}x, per container {:.1}x ({} starts per strategy); the snapshot \
         pays for itself from the {} container on",
        ratio(median(&total_each), median(&total_snap)),
        ratio(median(&starts_each), median(&starts_snap)),
        starts_each.len(),
        ordinal(break_even(
            median(&starts_each),
            median(&starts_snap),
            median(&s.setup) + median(&s.commit) + median(&s.remove_setup)
        ))
    );
    println!("   rounds (total ms):");
    for (label, v) in [(each, &total_each), (snap, &total_snap)] {
        let list: Vec<String> = v.iter().map(|d| format!("{:.0}", ms(*d))).collect();
        println!("     {label:<10} {}", list.join(", "));
    }
}

/// The smallest n with n * each >= fixed + n * snap (at least 1).
fn break_even(each: Duration, snap: Duration, fixed: Duration) -> usize {
    let gain = ms(each) - ms(snap);
    if gain <= 0.0 {
        return usize::MAX;
    }
    ((ms(fixed) / gain).ceil() as usize).max(1)
}

fn ordinal(n: usize) -> String {
    match n {
        usize::MAX => "(never)".to_owned(),
        1 => "1st".to_owned(),
        2 => "2nd".to_owned(),
        3 => "3rd".to_owned(),
        n => format!("{n}th"),
    }
}

fn report_targets(b: &BuildSamples, h: &HostSamples, s: &SnapshotSamples) {
    println!();
    println!("targets:");
    let mut missed = Vec::new();
    let mut check = |met: bool, text: String| {
        if met {
            println!("  met: {text}");
        } else {
            missed.push(text);
        }
    };
    let cached = median(&b.td_cached);
    check(
        cached < MAX_CACHED_BUILD,
        format!(
            "cached build() median = {:.1} ms (target < {} ms)",
            ms(cached),
            MAX_CACHED_BUILD.as_millis()
        ),
    );
    check(
        cached < median(&b.cli_cached),
        format!(
            "cached build() median {:.1} ms < cached docker build median {:.1} ms",
            ms(cached),
            ms(median(&b.cli_cached))
        ),
    );
    let first_ratio = ratio(median(&b.td_first), median(&b.cli_first));
    check(
        first_ratio <= MAX_FIRST_BUILD_RATIO,
        format!(
            "first build() / first docker build (medians) = {first_ratio:.3} (target <= {MAX_FIRST_BUILD_RATIO:.2})"
        ),
    );
    for kind in HOST_KINDS {
        let m = median(HostSamples::get(&h.cached, kind));
        check(
            m < MAX_CACHED_HOST,
            format!(
                "cached reference() of {} median = {:.2} ms (target < {} ms)",
                kind.name(),
                ms(m),
                MAX_CACHED_HOST.as_millis()
            ),
        );
    }
    let each = s.total.get("setup-each").map_or(&[][..], Vec::as_slice);
    let snap = s.total.get("snapshot").map_or(&[][..], Vec::as_slice);
    let speedup = ratio(median(each), median(snap));
    check(
        speedup >= MIN_SNAPSHOT_SPEEDUP,
        format!("snapshot speed-up (total) = {speedup:.1}x (target >= {MIN_SNAPSHOT_SPEEDUP:.1}x)"),
    );
    for text in &missed {
        println!("  TARGET MISSED: {text}");
    }
    println!();
}

// ---------------------------------------------------------------------------------------
// Cleanup and leak checks.

/// Removes the containers of this process that remain, and returns them.
async fn sweep_containers(docker: &Docker) -> Result<Vec<String>> {
    let filter = HashMap::from([(
        "label",
        vec![format!("{}={}", labels::OWNER, labels::owner_id())],
    )]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filter)
                .build(),
        ))
        .await?;
    let mut ours = Vec::new();
    for c in containers {
        let id = c.id.unwrap_or_default();
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        let removal = match docker.remove_container(&id, Some(options)).await {
            Ok(()) => "removed now".to_owned(),
            Err(e) => format!("could not be removed: {e}"),
        };
        ours.push(format!(
            "{:?} ({}, test {:?}): {removal}",
            c.names.unwrap_or_default(),
            c.state.map(|s| s.to_string()).unwrap_or_default(),
            c.labels.unwrap_or_default().get(labels::TEST)
        ));
    }
    Ok(ours)
}

fn is_404(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// Removes every image this run made (newest first), then checks that none of their
/// ids, nor any image labelled with this run, remains. Returns (tags removed, ids
/// checked, leaks).
async fn remove_images(env: &Env) -> Result<(usize, usize, Vec<String>)> {
    let docker = &env.docker;
    let created = env
        .created
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut leaks = Vec::new();
    for t in created.iter().rev() {
        match docker
            .remove_image(&t.reference, None::<RemoveImageOptions>, None)
            .await
        {
            Ok(_) => {}
            Err(e) if is_404(&e) => {}
            Err(e) => leaks.push(format!("{}: could not be removed: {e}", t.reference)),
        }
    }
    let ids: Vec<&String> = created.iter().flat_map(|t| &t.ids).collect();
    let mut seen = HashSet::new();
    for id in &ids {
        if !seen.insert(id.as_str()) {
            continue;
        }
        match docker.inspect_image(id).await {
            Err(e) if is_404(&e) => {}
            Ok(_) => {
                let force = RemoveImageOptionsBuilder::default().force(true).build();
                let removal = match docker.remove_image(id, Some(force), None).await {
                    Ok(_) => "removed now",
                    Err(_) => "could not be removed",
                };
                leaks.push(format!("image {id} is still there ({removal})"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let filter = HashMap::from([("label", vec![format!("{BENCH_LABEL}={}", env.run_label)])]);
    let labelled = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .all(true)
                .filters(&filter)
                .build(),
        ))
        .await?;
    for image in labelled {
        let force = RemoveImageOptionsBuilder::default().force(true).build();
        let removal = match docker.remove_image(&image.id, Some(force), None).await {
            Ok(_) => "removed now",
            Err(_) => "could not be removed",
        };
        leaks.push(format!(
            "image {} {:?} labelled {BENCH_LABEL}={} ({removal})",
            image.id, image.repo_tags, env.run_label
        ));
    }
    Ok((created.len(), seen.len(), leaks))
}

// ---------------------------------------------------------------------------------------
// Statistics.

fn sorted(v: &[Duration]) -> Vec<Duration> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn median(v: &[Duration]) -> Duration {
    let v = sorted(v);
    let n = v.len();
    if n == 0 {
        Duration::ZERO
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

/// Nearest-rank 90th percentile.
fn p90(v: &[Duration]) -> Duration {
    let v = sorted(v);
    if v.is_empty() {
        return Duration::ZERO;
    }
    let rank = (v.len() * 9).div_ceil(10).max(1);
    v[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(a: Duration, b: Duration) -> f64 {
    ms(a) / ms(b).max(f64::MIN_POSITIVE)
}
