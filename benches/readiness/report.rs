//! The report: the delays per variant, where the time goes (the polling schedule, the
//! daemon-side splits), and the targets.

use std::time::Duration;

use crate::clock::ClockOffset;
use crate::kinds::{Kind, Plan, Samples, KINDS};
use crate::support::images::Imported;
use crate::support::run::smoke_note;
use crate::support::stats::{max, median, min, p90};
use crate::support::table::{Table, Targets};
use crate::{
    BACKOFF_CAP, BACKOFF_FIRST, HEALTH_INTERVAL, LOG_TARGET_MS, MAX_FAILURES, MIN_ITERATIONS,
    POLL_TARGET_MS, PROXY_CLOSE_WINDOW, READY_BASE, READY_JITTER, WARMUP,
};

/// When a polling probe's attempts start (ms after the first), each taking `attempt_ms`,
/// up to `until_ms`.
fn attempt_starts(attempt_ms: f64, until_ms: f64) -> Vec<f64> {
    let mut at = vec![0.0];
    let mut wait = BACKOFF_FIRST;
    let mut t = 0.0;
    while t < until_ms {
        t += attempt_ms + wait.as_secs_f64() * 1e3;
        at.push(t);
        wait = (wait * 2).min(BACKOFF_CAP);
    }
    at
}

/// The smallest and largest gap between attempt starts that overlaps `from..=to` (ms
/// after the first attempt, which comes just after the container started).
fn gaps_around(attempt_ms: f64, from: f64, to: f64) -> (f64, f64) {
    let starts = attempt_starts(attempt_ms, to + 1000.0);
    let gaps: Vec<f64> = starts
        .windows(2)
        .filter(|w| w[1] >= from && w[0] <= to)
        .map(|w| w[1] - w[0])
        .collect();
    (min(&gaps), max(&gaps))
}

/// What the caption says of the run.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) plan: Plan,
    pub(crate) daemon_version: String,
    pub(crate) daemon_api: String,
    pub(crate) client_api: String,
    pub(crate) endpoint: String,
    pub(crate) image: Imported,
    /// The daemon's clock offset, or why it is unknown.
    pub(crate) clock: Result<ClockOffset, String>,
    pub(crate) wall: Duration,
}

/// Prints the report.
pub(crate) fn report(ctx: &Context, s: &Samples) {
    println!();
    println!(
        "testdock readiness benchmark: delay from the service being ready (its log line, daemon timestamp) to start() returning"
    );
    println!(
        "iterations: {} counted for log/raw, {} for the others (+{WARMUP} warm-up rounds), interleaved, order reversed every round{}",
        ctx.plan.primary,
        ctx.plan.others,
        smoke_note(ctx.plan.primary, MIN_ITERATIONS)
    );
    println!(
        "ready instant: {} ms + U(0, {}) ms after the container starts (random phase against the polling schedule)",
        READY_BASE.as_millis(),
        READY_JITTER.as_millis()
    );
    println!(
        "daemon: Docker {} (API {}), client API {}, at {}",
        ctx.daemon_version, ctx.daemon_api, ctx.client_api, ctx.endpoint
    );
    match &ctx.clock {
        Ok(clock) => println!(
            "daemon clock - host clock: {:+.2} ms (+/- {:.2} ms, from `info`; the delays include this offset){}",
            clock.offset_ms,
            clock.uncertainty_ms,
            if clock.offset_ms.abs() > clock.uncertainty_ms + 5.0 {
                "  WARNING: the clocks differ, the delays below are off by the offset"
            } else {
                ""
            }
        ),
        Err(why) => println!(
            "daemon clock - host clock: not checked ({why}); see the bound from the raw delays below"
        ),
    }
    println!(
        "image: {} (static busybox; {} before timing in {:.0} ms); measuring took {:.1} s",
        ctx.image.reference,
        ctx.image.how(),
        ctx.image.took.as_secs_f64() * 1e3,
        ctx.wall.as_secs_f64()
    );
    println!();

    let table = Table::print_header(&[
        ("delay (ms)", 14),
        ("n", 3),
        ("median", 8),
        ("p90", 8),
        ("max", 8),
        ("min", 8),
        ("ready@start", 11),
        ("1 attempt", 9),
    ]);
    let attempt = |k: Kind| median(&s.values(k, |x| x.attempt_ms));
    for k in KINDS {
        let d = s.values(k, |x| Some(x.delay_ms));
        if d.is_empty() {
            table.row([k.name(), "0", "(no sample)"]);
            continue;
        }
        let a = attempt(k);
        table.row([
            k.name().to_owned(),
            d.len().to_string(),
            format!("{:.1}", median(&d)),
            format!("{:.1}", p90(&d)),
            format!("{:.1}", max(&d)),
            format!("{:.1}", min(&d)),
            format!("{:.0}", median(&s.values(k, |x| x.ready_after_start_ms))),
            if a.is_nan() {
                "-".to_owned()
            } else {
                format!("{a:.1}")
            },
        ]);
    }
    println!("delay = T_return - T_ready (raw: T_seen - T_ready), negative = start() returned before the line was logged;");
    println!("ready@start = T_ready - the container's StartedAt (median); 1 attempt = one attempt of the probe done by hand");
    println!("on the ready container (median ms).");
    println!(
        "* healthy: dominated by the healthcheck interval ({} ms), which is Docker's, not testdock's (split below)",
        HEALTH_INTERVAL.as_millis()
    );
    let mut kinds_failed: Vec<_> = s.failures.iter().collect();
    kinds_failed.sort_by_key(|(k, _)| KINDS.iter().position(|x| x == *k));
    for (k, errors) in kinds_failed {
        println!(
            "FAILED runs of {}: {} (variant dropped after {MAX_FAILURES}); first: {}",
            k.name(),
            errors.len(),
            errors[0]
        );
    }
    if s.overlaps > 0 {
        println!(
            "note: in {} run(s) the previous container's removal ended less than 20 ms before T_ready",
            s.overlaps
        );
    }

    println!();
    println!("where the time goes:");
    let log = median(&s.values(Kind::Log, |x| Some(x.delay_ms)));
    let raw = median(&s.values(Kind::Raw, |x| Some(x.delay_ms)));
    let raw_min = min(&s.values(Kind::Raw, |x| Some(x.delay_ms)));
    println!(
        "  clocks: a followed line cannot arrive before the daemon logged it, so the smallest raw delay ({raw_min:.2} ms) bounds how far the"
    );
    println!(
        "          daemon's clock could lead the host's{}",
        if raw_min < 0.0 {
            ": NEGATIVE, the daemon's clock leads, all delays are too small by at least that much"
        } else {
            ""
        }
    );
    println!(
        "  log: {log:.2} ms vs raw bollard {raw:.2} ms ({:+.2} ms): the same followed log stream; the daemon's follow latency is the floor",
        log - raw
    );
    println!(
        "  polling back-off (src/probe/backoff.rs): waits of {} ms doubling to a {} ms cap; attempts taking no time would start at {} ms.",
        BACKOFF_FIRST.as_millis(),
        BACKOFF_CAP.as_millis(),
        attempt_starts(0.0, 500.0)
            .iter()
            .map(|t| format!("{t:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  Each attempt's cost pushes every later one back: around the ready instant attempts start G ms apart, so for a");
    println!("  random phase the delay is ~U(0, G) + what the passing attempt still does after the check that sees the service.");
    println!("  tcp/http: before ready the docker-proxy closes at once (~1 ms attempts, G ~ cap); the passing attempt costs its");
    println!("  whole A after ready (tcp: the {} ms proxy-close window, tcp-inside: that plus an exec of `cat`), so median ~ G/2 + A.",
        PROXY_CLOSE_WINDOW.as_millis());
    println!("  exec: every attempt costs A (G = wait + A); the check runs inside the attempt, so median ~ G/2 + 0..A.");
    for k in [Kind::Tcp, Kind::TcpInside, Kind::Http, Kind::Exec] {
        let d = s.values(k, |x| Some(x.delay_ms));
        let a = attempt(k);
        let ready_at = s.values(k, |x| x.ready_after_start_ms);
        if d.is_empty() || a.is_nan() || ready_at.is_empty() {
            continue;
        }
        let (pre, lo_tail) = if k == Kind::Exec { (a, 0.0) } else { (1.0, a) };
        let (g_lo, g_hi) = gaps_around(pre, min(&ready_at), max(&ready_at));
        let half = (g_lo + g_hi) / 4.0;
        println!(
            "    {:<11} A = {a:>5.1}: G = {g_lo:>3.0}-{g_hi:>3.0} -> expected median ~{:>3.0}-{:>3.0}, worst ~{:>3.0}; measured median {:>6.1}, p90 {:>6.1}, max {:>6.1}",
            k.name(),
            half + lo_tail,
            half + a,
            g_hi + a,
            median(&d),
            p90(&d),
            max(&d)
        );
    }
    let tcp = s.values(Kind::Tcp, |x| Some(x.delay_ms));
    let early = tcp.iter().filter(|&&d| d < 0.0).count();
    if early > 0 {
        println!(
            "  tcp: start() returned BEFORE the service printed `listening` in {early} of {} runs (by up to {:.0} ms): the docker-proxy",
            tcp.len(),
            -min(&tcp)
        );
        println!("       on the host accepts the connection before anything listens in the container; `.listening_inside()` waits for it");
    }
    println!("  daemon-side splits (daemon timestamps; `returned` = start() returned, for the raw wait: wait_container returned):");
    for (k, what, event) in [
        (Kind::Healthy, "check passed", "healthy event"),
        (Kind::Exit, "FinishedAt", "die event"),
        (Kind::RawExit, "FinishedAt", "die event"),
    ] {
        let docker = s.values(k, |x| x.docker_ms);
        let after = s.values(k, |x| x.after_event_ms);
        if after.is_empty() {
            continue;
        }
        let event_from_ready: Vec<f64> = s
            .of(k)
            .iter()
            .filter_map(|x| Some(x.delay_ms - x.after_event_ms?))
            .collect();
        println!(
            "    {:<13} ready -> {what} {:>5.1} | ready -> {event} {:>5.1} (p90 {:>5.1}) | {event} -> returned: median {:>5.1}, p90 {:>5.1}, max {:>5.1}, min {:>5.1}",
            k.name().trim_end_matches(" *"),
            median(&docker),
            median(&event_from_ready),
            p90(&event_from_ready),
            median(&after),
            p90(&after),
            max(&after),
            min(&after)
        );
    }
    let inspect = attempt(Kind::Healthy);
    let healthy_after = median(&s.values(Kind::Healthy, |x| x.after_event_ms));
    if !inspect.is_nan() && !healthy_after.is_nan() {
        println!(
            "  healthy: after Docker's event testdock needs {healthy_after:.1} ms (median): it polls inspect ({inspect:.1} ms each) on the back-off,"
        );
        println!(
            "           i.e. every {} ms by then, instead of acting on the `health_status: healthy` event its watcher already receives",
            BACKOFF_CAP.as_millis()
        );
    }
    let exit_after = median(&s.values(Kind::Exit, |x| x.after_event_ms));
    let raw_exit_after = median(&s.values(Kind::RawExit, |x| x.after_event_ms));
    if !exit_after.is_nan() && !raw_exit_after.is_nan() {
        println!(
            "  exit: die event -> returned: testdock {exit_after:.1} ms vs raw wait_container {raw_exit_after:.1} ms ({:+.1} ms is testdock's own)",
            exit_after - raw_exit_after
        );
    }

    let mut targets = Targets::begin();
    targets.check(
        log <= LOG_TARGET_MS,
        format!(
            "log probe median delay = {log:.2} ms (target <= {LOG_TARGET_MS} ms; raw bollard {raw:.2} ms, difference {:+.2} ms)",
            log - raw
        ),
    );
    for k in [Kind::Tcp, Kind::TcpInside, Kind::Http, Kind::Exec] {
        let d = s.values(k, |x| Some(x.delay_ms));
        if d.is_empty() {
            targets.check(false, format!("{} probe: no sample", k.name()));
            continue;
        }
        let m = median(&d);
        let early = d.iter().filter(|&&x| x < 0.0).count();
        targets.check(
            m <= POLL_TARGET_MS,
            format!(
                "{} probe median delay = {m:.1} ms (target <= {POLL_TARGET_MS} ms, the back-off cap){}",
                k.name(),
                if early > 0 {
                    format!(
                        "; but {early} of {} returned before the service was ready",
                        d.len()
                    )
                } else {
                    String::new()
                }
            ),
        );
    }
    targets.end();
}
