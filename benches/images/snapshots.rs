//! Part 3 of the images bench: containers that each need an expensive setup, started
//! each running it, against the setup once, `Container::commit`, and containers from
//! the snapshot.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use testdock::{labels, Container, ContainerSpec, Exec, Probe};

use crate::env::Env;
use crate::support::run::alternate;
use crate::support::stats::{median, ms, p90, ratio};
use crate::support::table::Table;
use crate::support::Result;
use crate::support::BENCH_LABEL;
use crate::{timed, CONTAINERS, READY, ROUNDS, ROWS, SNAPSHOT_REPOSITORY, TEST_ID};

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
pub(crate) struct SnapshotSamples {
    /// Per strategy: the total wall time of each round.
    pub(crate) total: HashMap<&'static str, Vec<Duration>>,
    /// Per strategy: each container's start (create .. `ready`).
    pub(crate) starts: HashMap<&'static str, Vec<Duration>>,
    /// Snapshot only, per round: the one setup, the commit, removing the setup container.
    pub(crate) setup: Vec<Duration>,
    pub(crate) commit: Vec<Duration>,
    pub(crate) remove_setup: Vec<Duration>,
}

fn strategy_name(s: Strategy) -> &'static str {
    match s {
        Strategy::SetupEach => "setup-each",
        Strategy::Snapshot => "snapshot",
    }
}

/// Part 3: the rounds of both strategies, interleaved.
pub(crate) async fn measure(env: &Env, base: &str, base_id: &str) -> Result<SnapshotSamples> {
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
        for strategy in alternate([Strategy::SetupEach, Strategy::Snapshot], round) {
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

/// Prints part 3.
pub(crate) fn report(s: &SnapshotSamples) {
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
    let table = Table::print_header(&[
        ("ms (median over rounds)", 30),
        ("setup-each", 12),
        ("snapshot", 12),
    ]);
    let ms0 = |d: Duration| format!("{:.0}", ms(d));
    let dash = || "-".to_owned();
    table.row([
        "total wall time".to_owned(),
        ms0(median(&total_each)),
        ms0(median(&total_snap)),
    ]);
    table.row([
        "  one setup container".to_owned(),
        dash(),
        ms0(median(&s.setup)),
    ]);
    table.row([
        "  commit (paused)".to_owned(),
        dash(),
        ms0(median(&s.commit)),
    ]);
    table.row([
        "  remove the setup container".to_owned(),
        dash(),
        ms0(median(&s.remove_setup)),
    ]);
    table.row([
        "per-container start, median".to_owned(),
        ms0(median(&starts_each)),
        ms0(median(&starts_snap)),
    ]);
    table.row([
        "per-container start, p90".to_owned(),
        ms0(p90(&starts_each)),
        ms0(p90(&starts_snap)),
    ]);
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
