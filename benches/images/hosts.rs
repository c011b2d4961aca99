//! Part 2 of the images bench: host-binary images (the host's `sh` and `cat`, and the
//! static busybox with all its applets) made new, then again in this process and in a
//! new one (this executable re-run as a child that times its own `prepare()`).

use std::collections::HashMap;
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use testdock::{labels, HostImage, InjectFile};

use crate::env::Env;
use crate::support::images::{applets, busybox_all};
use crate::support::run::alternate;
use crate::support::stats::{median, ms, p90};
use crate::support::table::Table;
use crate::support::Result;
use crate::{timed, CHILD_ENV, WARMUP};

/// The recipes of part 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostKind {
    ShCat,
    Busybox,
}

pub(crate) const HOST_KINDS: [HostKind; 2] = [HostKind::ShCat, HostKind::Busybox];

impl HostKind {
    pub(crate) fn name(self) -> &'static str {
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

#[derive(Debug, Default)]
pub(crate) struct HostSamples {
    pub(crate) first: HashMap<&'static str, Vec<Duration>>,
    pub(crate) cached: HashMap<&'static str, Vec<Duration>>,
    pub(crate) fresh: HashMap<&'static str, Vec<Duration>>,
    pub(crate) size: HashMap<&'static str, i64>,
}

impl HostSamples {
    pub(crate) fn get<'a>(
        map: &'a HashMap<&'static str, Vec<Duration>>,
        kind: HostKind,
    ) -> &'a [Duration] {
        map.get(kind.name()).map_or(&[], Vec::as_slice)
    }
}

/// Part 2: each iteration, every recipe new (imported), cached in this process, and
/// cached in a new process.
pub(crate) async fn measure(env: &Env, iterations: usize) -> Result<HostSamples> {
    let mut s = HostSamples::default();
    let run = labels::owner_id();
    for i in 0..WARMUP + iterations {
        let counted = i >= WARMUP;
        let order = alternate(HOST_KINDS, i);
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
    let mut command = tokio::process::Command::new(std::env::current_exe()?);
    command
        .env(CHILD_ENV, format!("{}:{nonce}", kind.name()))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    crate::fresh::run_timed_child(command).await
}

/// The child's side of [`fresh_process_reference`].
pub(crate) async fn child(job: &str) -> ExitCode {
    let Some((kind, nonce)) = job
        .split_once(':')
        .and_then(|(k, n)| Some((HostKind::parse(k)?, n)))
    else {
        eprintln!("bench images child: bad {CHILD_ENV}={job:?}");
        return ExitCode::FAILURE;
    };
    let recipe = kind.recipe(nonce);
    crate::fresh::time_prepare_in_child(async { recipe.prepare().await.map(|p| p.reference) }).await
}

/// Prints part 2.
pub(crate) fn report(s: &HostSamples, iterations: usize) {
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
    let table = Table::print_header(&[
        ("ms", 34),
        ("MB", 7),
        ("first median", 12),
        ("first p90", 9),
        ("cached median", 13),
        ("cached p90", 10),
        ("new-proc med.", 14),
        ("new-proc p90", 11),
    ]);
    for kind in HOST_KINDS {
        let label = match kind {
            HostKind::ShCat => "binary(/bin/sh) + binary(/bin/cat)".to_owned(),
            HostKind::Busybox => format!("busybox + {} applet links", applets().len()),
        };
        let first = HostSamples::get(&s.first, kind);
        let cached = HostSamples::get(&s.cached, kind);
        let fresh = HostSamples::get(&s.fresh, kind);
        table.row([
            label,
            format!(
                "{:.2}",
                s.size.get(kind.name()).copied().unwrap_or(0) as f64 / 1e6
            ),
            format!("{:.1}", ms(median(first))),
            format!("{:.1}", ms(p90(first))),
            format!("{:.2}", ms(median(cached))),
            format!("{:.2}", ms(p90(cached))),
            format!("{:.1}", ms(median(fresh))),
            format!("{:.1}", ms(p90(fresh))),
        ]);
    }
}
