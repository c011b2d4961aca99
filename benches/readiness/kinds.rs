//! The variants (one per probe, and the raw-bollard floors), what one measured start
//! records, and the plan of how many runs each variant gets.

use std::collections::HashMap;
use std::time::Duration;

use testdock::{ContainerSpec, Healthcheck, HostImage, Probe};

use crate::{HEALTH_INTERVAL, PORT, STARTUP_TIMEOUT, TESTDOCK_TEST_ID};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Log,
    Raw,
    Tcp,
    TcpInside,
    Http,
    Exec,
    Healthy,
    Exit,
    /// The `exit` container with bollard alone: `wait_container(not-running)`.
    RawExit,
}

pub(crate) const KINDS: [Kind; 9] = [
    Kind::Log,
    Kind::Raw,
    Kind::Tcp,
    Kind::TcpInside,
    Kind::Http,
    Kind::Exec,
    Kind::Healthy,
    Kind::Exit,
    Kind::RawExit,
];

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Log => "log",
            Kind::Raw => "raw (bollard)",
            Kind::Tcp => "tcp",
            Kind::TcpInside => "tcp-inside",
            Kind::Http => "http",
            Kind::Exec => "exec",
            Kind::Healthy => "healthy *",
            Kind::Exit => "exit",
            Kind::RawExit => "exit raw wait",
        }
    }

    /// `log` and `raw` get the full iteration count.
    pub(crate) fn primary(self) -> bool {
        matches!(self, Kind::Log | Kind::Raw)
    }

    /// The line printed at the ready instant.
    pub(crate) fn marker(self) -> &'static str {
        match self {
            Kind::Tcp | Kind::TcpInside | Kind::Http => "listening",
            Kind::Exit | Kind::RawExit => "done",
            Kind::Log | Kind::Raw | Kind::Exec | Kind::Healthy => "ready",
        }
    }

    /// The container's shell script; it becomes ready `ready_after` after it starts.
    pub(crate) fn script(self, ready_after: Duration) -> String {
        let sleep = format!("sleep {:.3}", ready_after.as_secs_f64());
        match self {
            Kind::Log | Kind::Raw => format!("{sleep}; echo ready; exec sleep 1000"),
            Kind::Tcp | Kind::TcpInside => {
                format!("{sleep}; echo listening; exec nc -ll -p 8080 -e cat")
            }
            Kind::Http => format!(
                "mkdir -p /www && echo ok >/www/index.html; {sleep}; echo listening; \
                 exec httpd -f -p 8080 -h /www"
            ),
            Kind::Exec => format!("{sleep}; touch /tmp/ready; echo ready; exec sleep 1000"),
            Kind::Healthy => format!("{sleep}; touch /tmp/ok; echo ready; exec sleep 1000"),
            Kind::Exit | Kind::RawExit => format!("{sleep}; echo done; exit 0"),
        }
    }

    /// The testdock spec (not for `raw`).
    pub(crate) fn spec(self, image: &HostImage, ready_after: Duration) -> ContainerSpec {
        let spec = ContainerSpec::new(image.clone())
            .cmd(["sh".to_owned(), "-c".to_owned(), self.script(ready_after)])
            .startup_timeout(STARTUP_TIMEOUT)
            .test_id(TESTDOCK_TEST_ID);
        match self {
            Kind::Log | Kind::Raw => spec.wait_for(Probe::log("ready")),
            Kind::Tcp => spec.expose(PORT).wait_for(Probe::tcp(PORT)),
            Kind::TcpInside => spec
                .expose(PORT)
                .wait_for(Probe::tcp(PORT).listening_inside()),
            Kind::Http => spec.expose(PORT).wait_for(Probe::http(PORT, "/")),
            Kind::Exec => spec.wait_for(Probe::exec(["test", "-f", "/tmp/ready"])),
            Kind::Healthy => spec
                .healthcheck(Healthcheck::cmd(["test", "-f", "/tmp/ok"]).interval(HEALTH_INTERVAL))
                .wait_for(Probe::healthy()),
            Kind::Exit | Kind::RawExit => spec.wait_for(Probe::exit(0)),
        }
    }
}

/// One measured start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// The daemon's timestamp of the ready line, ns since the epoch.
    pub(crate) t_ready: i128,
    /// T_return (or T_seen) - T_ready, ms. Negative: returned before the line was logged.
    pub(crate) delay_ms: f64,
    /// T_ready - the container's `StartedAt`, ms.
    pub(crate) ready_after_start_ms: Option<f64>,
    /// `healthy`: T_return - the daemon's `health_status: healthy` event; `exit`:
    /// T_return - its `die` event (sent when the daemon releases waiters). ms.
    pub(crate) after_event_ms: Option<f64>,
    /// `healthy`: the end of the first passing check - T_ready; `exit`: `FinishedAt`
    /// (the process's exit) - T_ready. ms.
    pub(crate) docker_ms: Option<f64>,
    /// What one probe attempt costs, measured on the ready container, ms.
    pub(crate) attempt_ms: Option<f64>,
}

#[derive(Debug, Default)]
pub(crate) struct Samples {
    pub(crate) by_kind: HashMap<Kind, Vec<Sample>>,
    pub(crate) failures: HashMap<Kind, Vec<String>>,
    /// Runs whose T_ready came less than 20 ms after the previous removal ended.
    pub(crate) overlaps: usize,
}

impl Samples {
    pub(crate) fn of(&self, k: Kind) -> &[Sample] {
        self.by_kind.get(&k).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn values(&self, k: Kind, f: impl Fn(&Sample) -> Option<f64>) -> Vec<f64> {
        self.of(k).iter().filter_map(f).collect()
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Counted iterations of `log` and `raw`.
    pub(crate) primary: usize,
    /// Counted iterations of the others.
    pub(crate) others: usize,
}

impl Plan {
    /// Whether the non-primary variants run in counted round `k`: spreads `others`
    /// rounds evenly over `primary` rounds.
    pub(crate) fn others_in(&self, k: usize) -> bool {
        (k + 1) * self.others / self.primary > k * self.others / self.primary
    }
}
