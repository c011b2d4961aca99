//! Part 1 of the images bench: one build context built by `BuildContext` (in memory)
//! and by `docker build` (the classic builder, from the same files on disk), first and
//! cached.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use testdock::{labels, BuildContext, InjectFile};

use crate::env::Env;
use crate::support::run::alternate;
use crate::support::stats::{median, ms, p90, ratio};
use crate::support::table::Table;
use crate::support::Result;
use crate::support::BENCH_LABEL;
use crate::{timed, CLI_REPOSITORY, WARMUP};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builder {
    Testdock,
    Cli,
}

#[derive(Debug, Default)]
pub(crate) struct BuildSamples {
    pub(crate) td_first: Vec<Duration>,
    pub(crate) cli_first: Vec<Duration>,
    pub(crate) td_cached: Vec<Duration>,
    pub(crate) cli_cached: Vec<Duration>,
    /// Build steps per context (for the caption).
    pub(crate) steps: usize,
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

/// Part 1: each iteration, a first and a cached build of new contexts, by both builders.
pub(crate) async fn measure(
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
        let order = alternate([Builder::Testdock, Builder::Cli], i);
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

/// Prints part 1.
pub(crate) fn report(s: &BuildSamples, iterations: usize) {
    println!();
    println!(
        "1. build: FROM base + COPY of 2 files (1 KiB, 60 B) + RUN + LABEL ({} steps, classic builder), \
         {iterations} iterations (+{WARMUP} warm-up)",
        s.steps
    );
    println!("   testdock = BuildContext::build() (in memory); CLI = DOCKER_BUILDKIT=0 docker build -q (files on disk)");
    println!();
    let table = Table::print_header(&[
        ("ms", 8),
        ("testdock med", 12),
        ("testdock p90", 12),
        ("CLI median", 10),
        ("CLI p90", 10),
        ("testdock / CLI", 15),
    ]);
    for (label, td, cli) in [
        ("first", &s.td_first, &s.cli_first),
        ("cached", &s.td_cached, &s.cli_cached),
    ] {
        table.row([
            label.to_owned(),
            format!("{:.1}", ms(median(td))),
            format!("{:.1}", ms(p90(td))),
            format!("{:.1}", ms(median(cli))),
            format!("{:.1}", ms(p90(cli))),
            format!("{:.3}", ratio(median(td), median(cli))),
        ]);
    }
    println!(
        "   cached: testdock {:.1}x faster than the CLI (one inspect_image vs sending the context \
         and a cache lookup per step, plus the CLI process)",
        ratio(median(&s.cli_cached), median(&s.td_cached))
    );
}
