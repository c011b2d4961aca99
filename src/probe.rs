//! Readiness probes: how testdock knows a started container is ready for the test.
//!
//! A probe is pure data. [`crate::readiness`] evaluates it while watching the container,
//! so a container that exits, is OOM-killed or turns unhealthy while being probed fails
//! at once instead of at the timeout.
//!
//! | probe | ready when | how it waits |
//! |---|---|---|
//! | [`Probe::log`] | a pattern (substring or regex) was printed N times | follows the log stream |
//! | [`Probe::tcp`] | a published port accepts a connection (optionally also listening inside) | polls with back-off |
//! | [`Probe::http`] | an HTTP(S) request gets the expected status / body | polls with back-off |
//! | [`Probe::exec`] | a command in the container exits 0 | polls with back-off |
//! | [`Probe::healthy`] | Docker's healthcheck says `healthy` | wakes on the daemon's `health_status` events; `unhealthy` fails at once |
//! | [`Probe::exit`] | the container exited with the expected code | waits on the daemon |
//! | [`Probe::delay`] | a fixed time passed | a timer |
//! | [`Probe::all`] / [`Probe::any`] | all / any of several probes passed | concurrently |
//! | [`Probe::custom`] | your async check returns `true` | polls with back-off |
//!
//! Polling probes start at 5 ms and back off to 100 ms between attempts. Any probe can
//! carry its own limit with [`Probe::within`]; the container's startup timeout bounds
//! them all.

mod backoff;
mod custom;
mod log;
mod net;
mod refine;

use std::fmt;
use std::time::Duration;

pub(crate) use backoff::Backoff;
pub(crate) use custom::CustomCheck;
pub use custom::ProbeTarget;
pub(crate) use log::{LogProbe, LogSource};
pub(crate) use net::{HttpProbe, TcpProbe};
use refine::Misapplied;

/// How to know a container is ready.
///
/// Every constructor returns a `Probe`, so probes of different kinds compose directly:
///
/// ```
/// use std::time::Duration;
/// use testdock::Probe;
///
/// let probe = Probe::all([
///     Probe::log("listening").stderr(),
///     Probe::tcp(5432).listening_inside(),
///     Probe::http(8080, "/health").status(204).within(Duration::from_secs(10)),
/// ]);
/// # let _ = probe;
/// ```
///
/// Refinements ([`times`](Probe::times), [`status`](Probe::status), …) apply to one kind
/// of probe (through [`within`](Probe::within)). One applied to another kind, such as
/// `Probe::tcp(80).times(2)`, makes [`ContainerSpec::start`](crate::ContainerSpec::start)
/// fail with [`Error::InvalidInput`](crate::Error::InvalidInput) before anything is
/// created.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    pub(crate) kind: Kind,
    /// Refinements applied to a probe of another kind, refused by [`Probe::check`].
    misapplied: Vec<Misapplied>,
}

/// What a [`Probe`] waits for.
#[derive(Debug, Clone, Default)]
pub(crate) enum Kind {
    /// Ready as soon as it started.
    #[default]
    Started,
    /// Ready once it printed a pattern.
    Log(LogProbe),
    /// Ready once a TCP port accepts connections.
    Tcp(TcpProbe),
    /// Ready once an HTTP endpoint answers as expected.
    Http(HttpProbe),
    /// Ready once a command inside the container exits 0.
    Exec(Vec<String>),
    /// Ready once Docker's healthcheck reports `healthy`.
    Healthy,
    /// Ready once the container exited with this code (one-shot jobs, migrations).
    Exit(i64),
    /// Ready after a fixed delay.
    Delay(Duration),
    /// Ready once every probe passed (they run concurrently).
    All(Vec<Probe>),
    /// Ready once any probe passed (they run concurrently).
    Any(Vec<Probe>),
    /// Ready once a user-defined check passes.
    Custom(CustomCheck),
    /// A probe with its own time limit.
    Within(Box<Probe>, Duration),
}

impl Kind {
    /// A probe of this kind, with nothing misapplied.
    fn probe(self) -> Probe {
        Probe {
            kind: self,
            misapplied: Vec::new(),
        }
    }
}

impl Probe {
    /// Ready as soon as the container started.
    #[must_use]
    pub fn none() -> Probe {
        Kind::Started.probe()
    }

    /// Ready once the container printed `pattern` (a substring, on stdout or stderr,
    /// once; refine with [`times`](Probe::times), [`stdout`](Probe::stdout) and
    /// [`stderr`](Probe::stderr)).
    ///
    /// A substring is matched on the raw byte stream, so it matches even when split
    /// across two log frames. The logs are followed as they are written, never re-read.
    ///
    /// ```
    /// use testdock::Probe;
    /// let probe = Probe::log("database system is ready").times(2).stderr();
    /// # let _ = probe;
    /// ```
    #[must_use]
    pub fn log(pattern: impl Into<String>) -> Probe {
        Kind::Log(LogProbe::substring(pattern.into())).probe()
    }

    /// Ready once a complete line of output matches the regular expression `pattern`
    /// (refined like [`Probe::log`]). An invalid regex makes `start` fail with an error
    /// naming it.
    #[must_use]
    pub fn log_regex(pattern: impl Into<String>) -> Probe {
        Kind::Log(LogProbe::regex(pattern.into())).probe()
    }

    /// Ready once the published TCP `port` accepts a connection from the host (refine
    /// with [`listening_inside`](Probe::listening_inside)).
    ///
    /// ```
    /// use testdock::Probe;
    /// // docker-proxy accepts before the service listens: also check inside.
    /// let probe = Probe::tcp(5432).listening_inside();
    /// # let _ = probe;
    /// ```
    #[must_use]
    pub fn tcp(port: u16) -> Probe {
        Kind::Tcp(TcpProbe::new(port)).probe()
    }

    /// Ready once `GET path` on the published `port` answers 2xx (refine with
    /// [`method`](Probe::method), [`header`](Probe::header), [`status`](Probe::status),
    /// [`status_range`](Probe::status_range), [`body_contains`](Probe::body_contains)
    /// and [`https`](Probe::https)).
    ///
    /// ```
    /// use testdock::Probe;
    /// let probe = Probe::http(8080, "/health").status(204).body_contains("ok");
    /// # let _ = probe;
    /// ```
    #[must_use]
    pub fn http(port: u16, path: impl Into<String>) -> Probe {
        Kind::Http(HttpProbe::new(port, path.into())).probe()
    }

    /// Ready once `cmd` run inside the container exits 0 (e.g. `pg_isready`).
    #[must_use]
    pub fn exec<I, S>(cmd: I) -> Probe
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Kind::Exec(cmd.into_iter().map(Into::into).collect()).probe()
    }

    /// Ready once Docker's healthcheck (from the image or
    /// [`ContainerSpec::healthcheck`](crate::ContainerSpec::healthcheck)) reports
    /// `healthy`. `unhealthy` fails at once.
    #[must_use]
    pub fn healthy() -> Probe {
        Kind::Healthy.probe()
    }

    /// Ready once the container exited with `code`. Another code fails at once.
    #[must_use]
    pub fn exit(code: i64) -> Probe {
        Kind::Exit(code).probe()
    }

    /// Ready after `delay`.
    #[must_use]
    pub fn delay(delay: Duration) -> Probe {
        Kind::Delay(delay).probe()
    }

    /// Ready once every probe passed.
    ///
    /// ```
    /// use testdock::Probe;
    /// let probe = Probe::all([Probe::log("a"), Probe::tcp(80)]);
    /// # let _ = probe;
    /// ```
    #[must_use]
    pub fn all(probes: impl IntoIterator<Item = Probe>) -> Probe {
        Kind::All(probes.into_iter().collect()).probe()
    }

    /// Ready once any probe passed.
    ///
    /// ```
    /// use testdock::Probe;
    /// let probe = Probe::any([Probe::http(80, "/").status(204), Probe::exit(0)]);
    /// # let _ = probe;
    /// ```
    #[must_use]
    pub fn any(probes: impl IntoIterator<Item = Probe>) -> Probe {
        Kind::Any(probes.into_iter().collect()).probe()
    }

    /// Ready once `check` resolves to `true`; it is polled with back-off.
    ///
    /// ```
    /// use testdock::Probe;
    /// let probe = Probe::custom("answers PING", |target| async move {
    ///     let Ok(addr) = target.addr(6379) else { return false };
    ///     tokio::net::TcpStream::connect(addr).await.is_ok()
    /// });
    /// # let _ = probe;
    /// ```
    #[must_use]
    pub fn custom<F, Fut>(name: impl Into<String>, check: F) -> Probe
    where
        F: Fn(ProbeTarget) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = bool> + Send + 'static,
    {
        Kind::Custom(CustomCheck::new(name.into(), check)).probe()
    }

    /// This probe with its own time limit (scaled by `TESTDOCK_TIMEOUT_SCALE`).
    /// Refinements applied afterwards still refine the probe inside.
    #[must_use]
    pub fn within(self, limit: Duration) -> Probe {
        Kind::Within(Box::new(self), limit).probe()
    }

    /// Finds what can never work before anything is created: a refinement applied to a
    /// probe of another kind, an invalid regex, a network probe of a TCP port the spec
    /// does not publish.
    pub(crate) fn check(&self, published_tcp: &[u16]) -> Result<(), String> {
        self.check_refinements()?;
        self.check_usable(published_tcp)
    }

    fn check_usable(&self, published_tcp: &[u16]) -> Result<(), String> {
        let port = |port: u16, what: &str| {
            if published_tcp.contains(&port) {
                Ok(())
            } else {
                Err(format!(
                    "the {what} probe uses port {port}/tcp, which the spec does not publish; \
                     add `.expose({port})`"
                ))
            }
        };
        match &self.kind {
            Kind::Log(log) => log.matcher().map(|_| ()),
            Kind::Tcp(tcp) => port(tcp.port, "tcp"),
            Kind::Http(http) => port(http.port, "http"),
            Kind::All(ps) | Kind::Any(ps) => {
                ps.iter().try_for_each(|p| p.check_usable(published_tcp))
            }
            Kind::Within(p, _) => p.check_usable(published_tcp),
            _ => Ok(()),
        }
    }

    /// Whether evaluating the probe expects the container to exit.
    pub(crate) fn expects_exit(&self) -> bool {
        match &self.kind {
            Kind::Exit(_) => true,
            Kind::All(ps) | Kind::Any(ps) => ps.iter().any(Probe::expects_exit),
            Kind::Within(p, _) => p.expects_exit(),
            _ => false,
        }
    }

    /// Whether the probe follows the logs (which notice an exit by themselves).
    pub(crate) fn is_log_only(&self) -> bool {
        match &self.kind {
            Kind::Log(_) | Kind::Started => true,
            Kind::Within(p, _) => p.is_log_only(),
            _ => false,
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, name: &str, ps: &[Probe]| {
            write!(f, "{name}(")?;
            for (i, p) in ps.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{p}")?;
            }
            f.write_str(")")
        };
        match &self.kind {
            Kind::Started => f.write_str("start"),
            Kind::Log(p) => write!(f, "{p}"),
            Kind::Tcp(p) => write!(f, "{p}"),
            Kind::Http(p) => write!(f, "{p}"),
            Kind::Exec(cmd) => write!(f, "exec `{}` exiting 0", cmd.join(" ")),
            Kind::Healthy => f.write_str("healthcheck `healthy`"),
            Kind::Exit(code) => write!(f, "exit with code {code}"),
            Kind::Delay(d) => write!(f, "delay of {d:?}"),
            Kind::All(ps) => list(f, "all", ps),
            Kind::Any(ps) => list(f, "any", ps),
            Kind::Custom(c) => write!(f, "custom check `{}`", c.name()),
            Kind::Within(p, limit) => write!(f, "{p} within {limit:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_describe_themselves_for_error_messages() {
        let p = Probe::all([
            Probe::log("ok").times(2).stderr(),
            Probe::tcp(5432),
            Probe::exit(0).within(Duration::from_secs(3)),
        ]);
        assert_eq!(
            p.to_string(),
            "all(log line \"ok\" on stderr (occurrence 2), tcp port 5432, exit with code 0 within 3s)"
        );
        assert_eq!(Probe::none().to_string(), "start");
        assert_eq!(
            Probe::exec(["pg_isready"]).to_string(),
            "exec `pg_isready` exiting 0"
        );
    }

    #[test]
    fn unusable_probes_are_found_before_anything_starts() {
        assert!(Probe::tcp(80).check(&[80]).is_ok());
        let err = Probe::all([Probe::log("x"), Probe::http(81, "/")])
            .check(&[80])
            .unwrap_err();
        assert!(
            err.contains("port 81/tcp") && err.contains(".expose(81)"),
            "{err}"
        );
        let err = Probe::log_regex("(")
            .within(Duration::from_secs(1))
            .check(&[]);
        assert!(err.unwrap_err().contains("regex"));
    }

    #[test]
    fn exit_expectation_is_found_inside_composites() {
        assert!(Probe::exit(0).expects_exit());
        assert!(Probe::any([Probe::delay(Duration::ZERO), Probe::exit(1)]).expects_exit());
        assert!(!Probe::all([Probe::healthy()]).expects_exit());
        assert!(Probe::log("x").is_log_only());
        assert!(!Probe::tcp(1).is_log_only());
    }
}
