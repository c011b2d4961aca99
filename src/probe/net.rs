//! Network probes: a TCP port that accepts, an HTTP endpoint that answers; and their
//! refinements.

use std::fmt;

use super::Probe;

/// Waits until a published TCP port accepts a connection from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TcpProbe {
    pub(crate) port: u16,
    pub(crate) inside: bool,
}

impl TcpProbe {
    pub(crate) fn new(port: u16) -> Self {
        TcpProbe {
            port,
            inside: false,
        }
    }
}

/// Refinement of TCP probes ([`Probe::tcp`]). On a probe of another kind, `start` fails
/// with [`Error::InvalidInput`](crate::Error::InvalidInput).
impl Probe {
    /// Also requires a socket listening on the port inside the container (read from
    /// `/proc/net/tcp` and `/proc/net/tcp6` with `cat`, which the image must have): the
    /// docker-proxy on the host accepts connections before the service listens.
    #[must_use]
    pub fn listening_inside(self) -> Probe {
        self.refine(
            || ".listening_inside()".to_owned(),
            |tcp: &mut TcpProbe| {
                tcp.inside = true;
            },
        )
    }
}

impl fmt::Display for TcpProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tcp port {}", self.port)?;
        if self.inside {
            f.write_str(" (listening inside)")?;
        }
        Ok(())
    }
}

/// Which statuses an HTTP probe accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusRule {
    /// Any 2xx.
    Success,
    /// Exactly this one.
    Exactly(u16),
    /// Within this inclusive range.
    Range(u16, u16),
}

impl StatusRule {
    pub(crate) fn accepts(self, status: u16) -> bool {
        match self {
            StatusRule::Success => (200..300).contains(&status),
            StatusRule::Exactly(s) => status == s,
            StatusRule::Range(lo, hi) => (lo..=hi).contains(&status),
        }
    }
}

/// Waits until an HTTP(S) request to a published port gets the expected answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpProbe {
    pub(crate) port: u16,
    pub(crate) path: String,
    pub(crate) method: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) status: StatusRule,
    pub(crate) body_contains: Option<String>,
    pub(crate) tls: bool,
}

/// Refinements of HTTP probes ([`Probe::http`]). On a probe of another kind, `start`
/// fails with [`Error::InvalidInput`](crate::Error::InvalidInput).
impl Probe {
    /// The request method (default `GET`).
    #[must_use]
    pub fn method(self, method: impl Into<String>) -> Probe {
        let method = method.into();
        let call = || format!(".method({method:?})");
        let upper = method.to_ascii_uppercase();
        self.refine(call, |http: &mut HttpProbe| http.method = upper)
    }

    /// Adds a request header.
    #[must_use]
    pub fn header(self, name: impl Into<String>, value: impl Into<String>) -> Probe {
        let (name, value) = (name.into(), value.into());
        let call = format!(".header({name:?}, {value:?})");
        self.refine(
            || call,
            |http: &mut HttpProbe| http.headers.push((name, value)),
        )
    }

    /// Accepts exactly this status (default: any 2xx).
    #[must_use]
    pub fn status(self, status: u16) -> Probe {
        self.refine(
            || format!(".status({status})"),
            |http: &mut HttpProbe| {
                http.status = StatusRule::Exactly(status);
            },
        )
    }

    /// Accepts any status in `lo..=hi`.
    #[must_use]
    pub fn status_range(self, lo: u16, hi: u16) -> Probe {
        self.refine(
            || format!(".status_range({lo}, {hi})"),
            |http: &mut HttpProbe| {
                http.status = StatusRule::Range(lo, hi);
            },
        )
    }

    /// Also requires the body to contain `text`.
    #[must_use]
    pub fn body_contains(self, text: impl Into<String>) -> Probe {
        let text = text.into();
        let call = format!(".body_contains({text:?})");
        self.refine(
            || call,
            |http: &mut HttpProbe| http.body_contains = Some(text),
        )
    }

    /// Speaks HTTPS. The server's certificate is not verified: test servers use
    /// throwaway certificates, and readiness is all this probe decides.
    #[must_use]
    pub fn https(self) -> Probe {
        self.refine(
            || ".https()".to_owned(),
            |http: &mut HttpProbe| http.tls = true,
        )
    }
}

impl HttpProbe {
    pub(crate) fn new(port: u16, path: String) -> Self {
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        HttpProbe {
            port,
            path,
            method: "GET".to_owned(),
            headers: Vec::new(),
            status: StatusRule::Success,
            body_contains: None,
            tls: false,
        }
    }

    /// Whether a response passes.
    pub(crate) fn accepts(&self, status: u16, body: &[u8]) -> bool {
        self.status.accepts(status)
            && self.body_contains.as_ref().is_none_or(|needle| {
                let body = String::from_utf8_lossy(body);
                body.contains(needle.as_str())
            })
    }
}

impl fmt::Display for HttpProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{} {scheme}://…:{}{}", self.method, self.port, self.path)?;
        match self.status {
            StatusRule::Success => f.write_str(" answering 2xx")?,
            StatusRule::Exactly(s) => write!(f, " answering {s}")?,
            StatusRule::Range(lo, hi) => write!(f, " answering {lo}..={hi}")?,
        }
        if let Some(text) = &self.body_contains {
            write!(f, " with {text:?} in the body")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Kind;
    use super::*;

    /// The HTTP probe `probe` is.
    fn http(probe: Probe) -> HttpProbe {
        match probe.kind {
            Kind::Http(http) => http,
            other => panic!("not an http probe: {other:?}"),
        }
    }

    #[test]
    fn http_probe_accepts_by_status_rule_and_body() {
        let p = http(Probe::http(80, "health"));
        assert_eq!(p.path, "/health");
        assert!(p.accepts(204, b""));
        assert!(!p.accepts(503, b""));
        let p = http(Probe::http(80, "/").status(401));
        assert!(p.accepts(401, b"") && !p.accepts(200, b""));
        let p = http(
            Probe::http(80, "/")
                .status_range(200, 499)
                .body_contains("up"),
        );
        assert!(p.accepts(404, b"is up") && !p.accepts(404, b"down") && !p.accepts(500, b"up"));
    }

    #[test]
    fn network_probes_describe_themselves() {
        assert_eq!(
            Probe::tcp(5432).listening_inside().to_string(),
            "tcp port 5432 (listening inside)"
        );
        assert_eq!(
            Probe::http(8080, "/h")
                .method("head")
                .status(204)
                .https()
                .to_string(),
            "HEAD https://…:8080/h answering 204"
        );
    }
}
