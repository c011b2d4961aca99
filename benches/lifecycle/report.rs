//! The lifecycle benchmark's report: the tables, the breakdown, the targets.

use std::time::Duration;

use crate::support::images::Imported;
use crate::support::run::smoke_note;
use crate::support::stats::{median, ms, p90, ratio};
use crate::support::table::{Table, Targets};
use crate::{Samples, Variant, MAX_POOL_RATIO, MAX_RATIO, MAX_TEARDOWN, MIN_ITERATIONS, WARMUP};

#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) iterations: usize,
    pub(crate) daemon_version: String,
    pub(crate) daemon_api: String,
    pub(crate) client_api: String,
    pub(crate) endpoint: String,
    pub(crate) image: Imported,
}

/// One duration of a run.
type Field = fn(&crate::Run) -> Duration;

pub(crate) fn report(ctx: &Context, s: &Samples) {
    let raw = s.series(Variant::Raw);
    let td = s.series(Variant::Testdock);
    let td_drop = s.series(Variant::TestdockDrop);
    let td_ref = s.series(Variant::TestdockRef);
    let pool = s.series(Variant::TestdockPool);

    println!();
    println!(
        "testdock lifecycle benchmark: create -> inject 4 KiB -> start -> log `ready` -> remove"
    );
    println!(
        "iterations: {} counted per variant (+{WARMUP} warm-up), variants interleaved, order reversed every iteration{}",
        ctx.iterations,
        smoke_note(ctx.iterations, MIN_ITERATIONS)
    );
    println!(
        "daemon: Docker {} (API {}), client API {}, at {}",
        ctx.daemon_version, ctx.daemon_api, ctx.client_api, ctx.endpoint
    );
    println!(
        "image: {} (static busybox; {} before timing in {:.0} ms)",
        ctx.image.reference,
        ctx.image.how(),
        ms(ctx.image.took)
    );
    println!();

    let rows: [(&str, Vec<Duration>, Vec<Duration>); 4] = [
        ("lifecycle total", raw.get(|r| r.total), td.get(|r| r.total)),
        (
            "startup (to ready)",
            raw.get(|r| r.startup),
            td.get(|r| r.startup),
        ),
        (
            "teardown (remove)",
            raw.get(|r| r.teardown),
            td.get(|r| r.teardown),
        ),
        (
            "teardown (drop) *",
            raw.get(|r| r.teardown),
            td_drop.get(|r| r.teardown),
        ),
    ];
    let table = Table::print_header(&[
        ("ms", 20),
        ("raw median", 10),
        ("testdock med.", 13),
        ("ratio", 6),
        ("raw p90", 10),
        ("testdock p90", 13),
    ]);
    for (label, r, t) in &rows {
        table.row([
            label.to_string(),
            format!("{:.1}", ms(median(r))),
            format!("{:.1}", ms(median(t))),
            format!("{:.3}", ratio(median(t), median(r))),
            format!("{:.1}", ms(p90(r))),
            format!("{:.1}", ms(p90(t))),
        ]);
    }
    println!("* raw has no drop: its column is raw remove_container; testdock's is `drop(c)` (returns at once: the removal runs in the background)");

    println!();
    println!("raw lifecycle by step (median / p90 ms):");
    let steps: [(&str, Vec<Duration>); 5] = [
        ("create_container", raw.get(|r| r.phases.create)),
        ("upload_to_container", raw.get(|r| r.phases.inject)),
        ("start_container", raw.get(|r| r.phases.start)),
        ("logs until `ready`", raw.get(|r| r.phases.ready)),
        ("remove_container", raw.get(|r| r.teardown)),
    ];
    for (label, v) in &steps {
        println!("  {label:<22} {:>8.1} / {:>8.1}", ms(median(v)), ms(p90(v)));
    }

    println!();
    println!("where testdock's startup time goes (medians, ms):");
    let raw_startup = median(&raw.get(|r| r.startup));
    let td_startup = median(&td.get(|r| r.startup));
    let ref_startup = median(&td_ref.get(|r| r.startup));
    let drop_startup = median(&td_drop.get(|r| r.startup));
    let inspect = median(&s.inspect_image);
    println!(
        "  testdock, HostImage            {:>8.1}  (runs with drop teardown: {:.1})",
        ms(td_startup),
        ms(drop_startup)
    );
    println!(
        "  testdock, image reference      {:>8.1}  (lifecycle total {:.1}, p90 {:.1})",
        ms(ref_startup),
        ms(median(&td_ref.get(|r| r.total))),
        ms(p90(&td_ref.get(|r| r.total)))
    );
    println!("  raw                            {:>8.1}", ms(raw_startup));
    println!(
        "  => HostImage preparation per start (HostImage - reference): {:+.1}",
        ms(td_startup) - ms(ref_startup)
    );
    println!(
        "  => the rest of testdock's start (reference - raw):          {:+.1}  (one inspect_image round trip alone: {:.1})",
        ms(ref_startup) - ms(raw_startup),
        ms(inspect)
    );

    println!();
    println!(
        "pool mode (a pooled pause's namespace; nothing published) against the raw bridge floor:"
    );
    let table = Table::print_header(&[
        ("ms", 20),
        ("raw median", 10),
        ("pool median", 13),
        ("ratio", 6),
        ("raw p90", 10),
        ("pool p90", 13),
    ]);
    let pool_rows: [(&str, Field); 3] = [
        ("lifecycle total", |r| r.total),
        ("startup (to ready)", |r| r.startup),
        ("teardown (remove)", |r| r.teardown),
    ];
    for (label, f) in pool_rows {
        let (r, p) = (raw.get(f), pool.get(f));
        table.row([
            label.to_string(),
            format!("{:.1}", ms(median(&r))),
            format!("{:.1}", ms(median(&p))),
            format!("{:.3}", ratio(median(&p), median(&r))),
            format!("{:.1}", ms(p90(&r))),
            format!("{:.1}", ms(p90(&p))),
        ]);
    }
    if let Some(first) = s.pool_first {
        println!(
            "pool warm-up: the first pool-mode lifecycle (creates the pause) took {:.1} ms (startup {:.1}); \
             a pooled one {:.1} ms: warm-up costs {:+.1} ms once per pause",
            ms(first.total),
            ms(first.startup),
            ms(median(&pool.get(|r| r.total))),
            ms(first.total) - ms(median(&pool.get(|r| r.total)))
        );
    }

    let mut targets = Targets::begin();
    let pool_ratio = ratio(
        median(&pool.get(|r| r.total)),
        median(&raw.get(|r| r.total)),
    );
    targets.check(
        pool_ratio <= MAX_POOL_RATIO,
        format!(
            "pool-mode lifecycle median ratio pool/raw bridge = {pool_ratio:.3} (target <= {MAX_POOL_RATIO:.2})"
        ),
    );
    let lifecycle_ratio = ratio(median(&td.get(|r| r.total)), median(&raw.get(|r| r.total)));
    targets.check(
        lifecycle_ratio <= MAX_RATIO,
        format!(
            "lifecycle median ratio testdock/raw = {lifecycle_ratio:.3} (target <= {MAX_RATIO:.2})"
        ),
    );
    for (label, v) in [
        ("remove", td.get(|r| r.teardown)),
        ("drop", td_drop.get(|r| r.teardown)),
    ] {
        let m = median(&v);
        targets.check(
            m < MAX_TEARDOWN,
            format!(
                "testdock teardown ({label}) median = {:.1} ms (target < {} ms)",
                ms(m),
                MAX_TEARDOWN.as_millis()
            ),
        );
    }
    targets.end();
}
