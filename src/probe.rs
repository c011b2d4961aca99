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
//! | [`Probe::healthy`] | Docker's healthcheck says `healthy` | polls inspect; `unhealthy` fails at once |
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

use std::fmt;
use std::time::Duration;

pub(crate) use backoff::Backoff;
pub use custom::{CustomCheck, ProbeTarget};
pub use log::{LogProbe, LogSource};
pub use net::{HttpProbe, TcpProbe};

/// How to know a container is ready.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Probe {
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

impl Probe {
    /// Ready as soon as the container started.
    pub fn none() -> Self {
        Probe::Started
    }

    /// Ready once the container printed `pattern` (a substring, on stdout or stderr,
    /// once; see [`LogProbe`] for regexes, streams and the Nth occurrence).
    ///
    /// ```
    /// use testdock::Probe;
    /// let probe = Probe::log("database system is ready").times(2).stderr();
    /// # let _: Probe = probe.into();
    /// ```
    pub fn log(pattern: impl Into<String>) -> LogProbe {
        LogProbe::substring(pattern.into())
    }

    /// Ready once a line of output matches the regular expression `pattern`.
    /// An invalid regex makes `start` fail with an error naming it.
    pub fn log_regex(pattern: impl Into<String>) -> LogProbe {
        LogProbe::regex(pattern.into())
    }

    /// Ready once the published TCP `port` accepts a connection from the host.
    ///
    /// ```
    /// use testdock::Probe;
    /// // docker-proxy accepts before the service listens: also check inside.
    /// let probe = Probe::tcp(5432).listening_inside();
    /// # let _: Probe = probe.into();
    /// ```
    pub fn tcp(port: u16) -> TcpProbe {
        TcpProbe::new(port)
    }

    /// Ready once `GET path` on the published `port` answers 2xx (see [`HttpProbe`]).
    ///
    /// ```
    /// use testdock::Probe;
    /// let probe = Probe::http(8080, "/health").status(204).body_contains("ok");
    /// # let _: Probe = probe.into();
    /// ```
    pub fn http(port: u16, path: impl Into<String>) -> HttpProbe {
        HttpProbe::new(port, path.into())
    }

    /// Ready once `cmd` run inside the container exits 0 (e.g. `pg_isready`).
    pub fn exec<I, S>(cmd: I) -> Probe
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Probe::Exec(cmd.into_iter().map(Into::into).collect())
    }

    /// Ready once Docker's healthcheck (from the image or
    /// [`ContainerSpec::healthcheck`](crate::ContainerSpec::healthcheck)) reports
    /// `healthy`. `unhealthy` fails at once.
    pub fn healthy() -> Probe {
        Probe::Healthy
    }

    /// Ready once the container exited with `code`. Another code fails at once.
    pub fn exit(code: i64) -> Probe {
        Probe::Exit(code)
    }

    /// Ready after `delay`.
    pub fn delay(delay: Duration) -> Probe {
        Probe::Delay(delay)
    }

    /// Ready once every probe passed.
    pub fn all(probes: impl IntoIterator<Item = Probe>) -> Probe {
        Probe::All(probes.into_iter().collect())
    }

    /// Ready once any probe passed.
    pub fn any(probes: impl IntoIterator<Item = Probe>) -> Probe {
        Probe::Any(probes.into_iter().collect())
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
    pub fn custom<F, Fut>(name: impl Into<String>, check: F) -> Probe
    where
        F: Fn(ProbeTarget) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = bool> + Send + 'static,
    {
        Probe::Custom(CustomCheck::new(name.into(), check))
    }

    /// This probe with its own time limit (scaled by `TESTDOCK_TIMEOUT_SCALE`).
    pub fn within(self, limit: Duration) -> Probe {
        Probe::Within(Box::new(self), limit)
    }

    /// Finds what can never work before anything is created: an invalid regex, a
    /// network probe of a TCP port the spec does not publish.
    pub(crate) fn check(&self, published_tcp: &[u16]) -> Result<(), String> {
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
        match self {
            Probe::Log(log) => log.matcher().map(|_| ()),
            Probe::Tcp(tcp) => port(tcp.port, "tcp"),
            Probe::Http(http) => port(http.port, "http"),
            Probe::All(ps) | Probe::Any(ps) => ps.iter().try_for_each(|p| p.check(published_tcp)),
            Probe::Within(p, _) => p.check(published_tcp),
            _ => Ok(()),
        }
    }

    /// Whether evaluating the probe expects the container to exit.
    pub(crate) fn expects_exit(&self) -> bool {
        match self {
            Probe::Exit(_) => true,
            Probe::All(ps) | Probe::Any(ps) => ps.iter().any(Probe::expects_exit),
            Probe::Within(p, _) => p.expects_exit(),
            _ => false,
        }
    }

    /// Whether the probe follows the logs (which notice an exit by themselves).
    pub(crate) fn is_log_only(&self) -> bool {
        match self {
            Probe::Log(_) | Probe::Started => true,
            Probe::Within(p, _) => p.is_log_only(),
            _ => false,
        }
    }
}

impl From<LogProbe> for Probe {
    fn from(probe: LogProbe) -> Self {
        Probe::Log(probe)
    }
}

impl From<TcpProbe> for Probe {
    fn from(probe: TcpProbe) -> Self {
        Probe::Tcp(probe)
    }
}

impl From<HttpProbe> for Probe {
    fn from(probe: HttpProbe) -> Self {
        Probe::Http(probe)
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
        match self {
            Probe::Started => f.write_str("start"),
            Probe::Log(p) => write!(f, "{p}"),
            Probe::Tcp(p) => write!(f, "{p}"),
            Probe::Http(p) => write!(f, "{p}"),
            Probe::Exec(cmd) => write!(f, "exec `{}` exiting 0", cmd.join(" ")),
            Probe::Healthy => f.write_str("healthcheck `healthy`"),
            Probe::Exit(code) => write!(f, "exit with code {code}"),
            Probe::Delay(d) => write!(f, "delay of {d:?}"),
            Probe::All(ps) => list(f, "all", ps),
            Probe::Any(ps) => list(f, "any", ps),
            Probe::Custom(c) => write!(f, "custom check `{}`", c.name()),
            Probe::Within(p, limit) => write!(f, "{p} within {limit:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_describe_themselves_for_error_messages() {
        let p = Probe::all([
            Probe::log("ok").times(2).stderr().into(),
            Probe::tcp(5432).into(),
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
        assert!(Probe::from(Probe::tcp(80)).check(&[80]).is_ok());
        let err = Probe::all([Probe::log("x").into(), Probe::http(81, "/").into()])
            .check(&[80])
            .unwrap_err();
        assert!(
            err.contains("port 81/tcp") && err.contains(".expose(81)"),
            "{err}"
        );
        let err = Probe::from(Probe::log_regex("("))
            .within(Duration::from_secs(1))
            .check(&[]);
        assert!(err.unwrap_err().contains("regex"));
    }

    #[test]
    fn exit_expectation_is_found_inside_composites() {
        assert!(Probe::exit(0).expects_exit());
        assert!(Probe::any([Probe::delay(Duration::ZERO), Probe::exit(1)]).expects_exit());
        assert!(!Probe::all([Probe::healthy()]).expects_exit());
        assert!(Probe::from(Probe::log("x")).is_log_only());
        assert!(!Probe::from(Probe::tcp(1)).is_log_only());
    }
}
