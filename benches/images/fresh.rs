//! Part 4 of the images bench: finding a cached image in a new process, where the
//! in-process memo cannot help: a 2 MB in-memory build context and a host image of
//! about 78 MB (the host's `sh` plus a 76 MB host file).
//!
//! The image is made once per iteration (a nonce makes it new); then this executable is
//! re-run as a child that times its own `prepare()` after connecting to the daemon,
//! twice: with the testdock hash cache (what a second test binary pays: metadata reads,
//! one hash of the in-memory bytes, one inspect) and with an empty cache directory
//! (`TESTDOCK_CACHE_DIR` pointed at a new directory: read, tar and hash everything, as
//! every process did before the cache).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime};

use testdock::{BuildContext, HostImage, InjectFile};

use crate::env::Env;
use crate::support::stats::{median, ms, p90};
use crate::support::table::Table;
use crate::support::Result;
use crate::{timed, OP_LIMIT, WARMUP};

/// Set in the child process: `<kind>:<nonce>:<big file>`.
pub(crate) const FRESH_CHILD_ENV: &str = "TESTDOCK_BENCH_IMAGES_FRESH_CHILD";
/// Size of the in-memory build context's file.
const CONTEXT_BYTES: usize = 2 << 20;
/// Size of the host file in the big host image.
const BIG_FILE_BYTES: usize = 76 << 20;
/// Target: a new process finds the cached 2 MB context within this.
pub(crate) const MAX_FRESH_CONTEXT: Duration = Duration::from_millis(2);
/// Target: a new process finds the cached ~78 MB host image within this.
pub(crate) const MAX_FRESH_HOST: Duration = Duration::from_millis(50);

pub(crate) const KINDS: [&str; 2] = ["context-2mb", "host-78mb"];

#[derive(Debug, Default)]
pub(crate) struct FreshSamples {
    /// New process, hash cache kept.
    pub(crate) cached: HashMap<&'static str, Vec<Duration>>,
    /// New process, empty hash cache.
    pub(crate) cold: HashMap<&'static str, Vec<Duration>>,
}

/// Deterministic, incompressible-looking bytes from `seed`.
fn noise(seed: &str, len: usize) -> Vec<u8> {
    let mut state = seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

enum Recipe {
    Context(BuildContext),
    Host(HostImage),
}

impl Recipe {
    fn new(kind: &str, nonce: &str, big: &Path) -> Option<Recipe> {
        Some(match kind {
            "context-2mb" => Recipe::Context(
                BuildContext::new("FROM scratch\nCOPY blob /blob\n")
                    .file(InjectFile::from_bytes("blob", noise(nonce, CONTEXT_BYTES))),
            ),
            "host-78mb" => Recipe::Host(
                HostImage::new()
                    .binary("/bin/sh")
                    .file(InjectFile::from_host_file("/big", big))
                    .file(InjectFile::from_bytes("/etc/nonce", nonce.to_owned())),
            ),
            _ => return None,
        })
    }

    async fn prepare(&self) -> testdock::Result<String> {
        match self {
            Recipe::Context(c) => c.prepare().await.map(|p| p.reference),
            Recipe::Host(h) => h.prepare().await.map(|p| p.reference),
        }
    }
}

/// Part 4: per iteration and kind, a new image, then a new process with and without
/// the hash cache.
pub(crate) async fn measure(env: &Env, iterations: usize) -> Result<FreshSamples> {
    let dir = tempfile::tempdir()?;
    let big = dir.path().join("big");
    std::fs::write(&big, noise("big", BIG_FILE_BYTES))?;
    // Not "racily" fresh, so its hash is remembered at once.
    std::fs::File::options()
        .write(true)
        .open(&big)?
        .set_modified(SystemTime::now() - Duration::from_secs(60))?;
    let mut s = FreshSamples::default();
    let run = testdock::labels::owner_id();
    for i in 0..WARMUP + iterations {
        for kind in KINDS {
            let nonce = format!("{run}-{kind}-{i}");
            let recipe = Recipe::new(kind, &nonce, &big).expect("a known kind");
            let (reference, _) =
                timed("the first prepare()", async { Ok(recipe.prepare().await?) }).await?;
            env.track_chain(&reference, None).await?;
            let cold_dir = dir.path().join(format!("cache-{i}-{kind}"));
            for cold in [false, true] {
                let (d, theirs) =
                    child_prepare(kind, &nonce, &big, cold.then_some(&cold_dir)).await?;
                if theirs != reference {
                    return Err(format!("a new process made {theirs}, this one {reference}").into());
                }
                if i >= WARMUP {
                    let map = if cold { &mut s.cold } else { &mut s.cached };
                    map.entry(kind).or_default().push(d);
                }
            }
        }
    }
    Ok(s)
}

/// Runs this executable as a child that times `prepare()` and prints
/// `<microseconds> <reference>`; `cache_dir`: the hash cache to use instead.
async fn child_prepare(
    kind: &str,
    nonce: &str,
    big: &Path,
    cache_dir: Option<&PathBuf>,
) -> Result<(Duration, String)> {
    let mut command = tokio::process::Command::new(std::env::current_exe()?);
    command
        .env(FRESH_CHILD_ENV, format!("{kind}:{nonce}:{}", big.display()))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(dir) = cache_dir {
        command.env("TESTDOCK_CACHE_DIR", dir);
    }
    run_timed_child(command).await
}

/// The child's side of [`child_prepare`].
pub(crate) async fn child(job: &str) -> ExitCode {
    let mut parts = job.splitn(3, ':');
    let (Some(kind), Some(nonce), Some(big)) = (parts.next(), parts.next(), parts.next()) else {
        eprintln!("bench images child: bad {FRESH_CHILD_ENV}={job:?}");
        return ExitCode::FAILURE;
    };
    let Some(recipe) = Recipe::new(kind, nonce, Path::new(big)) else {
        eprintln!("bench images child: unknown kind {kind:?}");
        return ExitCode::FAILURE;
    };
    time_prepare_in_child(recipe.prepare()).await
}

/// The child's side of [`run_timed_child`]: connects to the daemon (untimed), then
/// times `prepare` and prints `<µs> <reference>`.
pub(crate) async fn time_prepare_in_child(
    prepare: impl std::future::Future<Output = testdock::Result<String>>,
) -> ExitCode {
    if let Err(e) = testdock::daemon().await {
        eprintln!("bench images child: {e}");
        return ExitCode::FAILURE;
    }
    let started = Instant::now();
    match prepare.await {
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

/// Prints part 4.
pub(crate) fn report(s: &FreshSamples, iterations: usize) {
    println!();
    println!(
        "4. cached image in a new process: prepare() of an image already on the daemon, \
         {iterations} iterations (+{WARMUP} warm-up)"
    );
    println!(
        "   hash cache = metadata reads + cached hashes + one inspect; no cache = an empty \
         TESTDOCK_CACHE_DIR (read, tar and hash everything, as before the cache)"
    );
    println!();
    let table = Table::print_header(&[
        ("ms", 40),
        ("cache median", 12),
        ("cache p90", 9),
        ("no-cache median", 15),
        ("no-cache p90", 12),
    ]);
    for kind in KINDS {
        let label = match kind {
            "context-2mb" => "BuildContext, 2 MB in memory",
            _ => "HostImage sh + 76 MB host file (~78 MB)",
        };
        let cached = s.cached.get(kind).map_or(&[][..], Vec::as_slice);
        let cold = s.cold.get(kind).map_or(&[][..], Vec::as_slice);
        table.row([
            label.to_owned(),
            format!("{:.2}", ms(median(cached))),
            format!("{:.2}", ms(p90(cached))),
            format!("{:.1}", ms(median(cold))),
            format!("{:.1}", ms(p90(cold))),
        ]);
    }
}

/// Runs a child of this bench that prints `<microseconds> <reference>` (what it timed
/// and the image it got), within [`OP_LIMIT`].
pub(crate) async fn run_timed_child(
    mut command: tokio::process::Command,
) -> Result<(Duration, String)> {
    let out = tokio::time::timeout(OP_LIMIT, command.output())
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
