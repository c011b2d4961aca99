//! Network probes: a TCP port that accepts, an HTTP endpoint that answers.

use std::fmt;

/// Waits until a published TCP port accepts a connection from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct TcpProbe {
    pub(crate) port: u16,
    pub(crate) inside: bool,
}

impl TcpProbe {
    /// This probe with its own time limit: see [`Probe::within`](crate::Probe::within).
    pub fn within(self, limit: std::time::Duration) -> crate::Probe {
        crate::Probe::from(self).within(limit)
    }

    pub(crate) fn new(port: u16) -> Self {
        TcpProbe {
            port,
            inside: false,
        }
    }

    /// Also requires a socket listening on the port inside the container (read from
    /// `/proc/net/tcp` and `/proc/net/tcp6` with `cat`, which the image must have): the
    /// docker-proxy on the host accepts connections before the service listens.
    pub fn listening_inside(mut self) -> Self {
        self.inside = true;
        self
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

/// Which statuses an [`HttpProbe`] accepts.
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
#[must_use]
pub struct HttpProbe {
    pub(crate) port: u16,
    pub(crate) path: String,
    pub(crate) method: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) status: StatusRule,
    pub(crate) body_contains: Option<String>,
    pub(crate) tls: bool,
}

impl HttpProbe {
    /// This probe with its own time limit: see [`Probe::within`](crate::Probe::within).
    pub fn within(self, limit: std::time::Duration) -> crate::Probe {
        crate::Probe::from(self).within(limit)
    }

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

    /// The request method (default `GET`).
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = method.into().to_ascii_uppercase();
        self
    }

    /// Adds a request header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Accepts exactly this status (default: any 2xx).
    pub fn status(mut self, status: u16) -> Self {
        self.status = StatusRule::Exactly(status);
        self
    }

    /// Accepts any status in `lo..=hi`.
    pub fn status_range(mut self, lo: u16, hi: u16) -> Self {
        self.status = StatusRule::Range(lo, hi);
        self
    }

    /// Also requires the body to contain `text`.
    pub fn body_contains(mut self, text: impl Into<String>) -> Self {
        self.body_contains = Some(text.into());
        self
    }

    /// Speaks HTTPS. The server's certificate is not verified: test servers use
    /// throwaway certificates, and readiness is all this probe decides.
    pub fn https(mut self) -> Self {
        self.tls = true;
        self
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
    use crate::Probe;

    #[test]
    fn http_probe_accepts_by_status_rule_and_body() {
        let p = Probe::http(80, "health");
        assert_eq!(p.path, "/health");
        assert!(p.accepts(204, b""));
        assert!(!p.accepts(503, b""));
        let p = Probe::http(80, "/").status(401);
        assert!(p.accepts(401, b"") && !p.accepts(200, b""));
        let p = Probe::http(80, "/")
            .status_range(200, 499)
            .body_contains("up");
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
