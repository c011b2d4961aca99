//! Readiness probes: how testdock knows a started container is ready for the test.
//!
//! A probe is pure data; [`crate::lifecycle`] evaluates it while watching the container,
//! so a container that exits while being probed fails at once instead of at the timeout.

use std::fmt;

/// Which output stream a log probe reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogSource {
    /// Standard output only.
    Stdout,
    /// Standard error only.
    Stderr,
    /// Either stream.
    #[default]
    Either,
}

/// Waits until the container has printed `pattern` a number of times.
///
/// Matching is on the raw byte stream, so a line split across two log frames still
/// matches; the logs are followed as they are written, never re-read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct LogProbe {
    pub(crate) pattern: String,
    pub(crate) source: LogSource,
    pub(crate) occurrences: usize,
}

impl LogProbe {
    /// Reads standard output only.
    pub fn stdout(mut self) -> Self {
        self.source = LogSource::Stdout;
        self
    }

    /// Reads standard error only.
    pub fn stderr(mut self) -> Self {
        self.source = LogSource::Stderr;
        self
    }

    /// Waits for the `n`th occurrence (PostgreSQL, for one, prints its ready line twice).
    /// `0` counts as `1`.
    pub fn times(mut self, n: usize) -> Self {
        self.occurrences = n.max(1);
        self
    }
}

/// How to know a container is ready.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Probe {
    /// Ready as soon as it started.
    #[default]
    Started,
    /// Ready once it printed a pattern.
    Log(LogProbe),
}

impl Probe {
    /// Ready as soon as the container started.
    pub fn none() -> Self {
        Probe::Started
    }

    /// Ready once the container printed `pattern` (on stdout or stderr, once; see
    /// [`LogProbe`] for more).
    ///
    /// ```
    /// use testdock::Probe;
    /// let probe = Probe::log("database system is ready").times(2).stderr();
    /// # let _: Probe = probe.into();
    /// ```
    pub fn log(pattern: impl Into<String>) -> LogProbe {
        LogProbe {
            pattern: pattern.into(),
            source: LogSource::Either,
            occurrences: 1,
        }
    }
}

impl From<LogProbe> for Probe {
    fn from(probe: LogProbe) -> Self {
        Probe::Log(probe)
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Started => f.write_str("start"),
            Probe::Log(p) => {
                write!(f, "log line {:?}", p.pattern)?;
                match p.source {
                    LogSource::Stdout => f.write_str(" on stdout")?,
                    LogSource::Stderr => f.write_str(" on stderr")?,
                    LogSource::Either => {}
                }
                if p.occurrences > 1 {
                    write!(f, " (occurrence {})", p.occurrences)?;
                }
                Ok(())
            }
        }
    }
}

/// Counts occurrences of a pattern in a byte stream that arrives in chunks.
#[derive(Debug, Clone)]
pub(crate) struct StreamMatcher {
    pattern: Vec<u8>,
    /// The tail of the previous chunks that may begin an occurrence.
    carry: Vec<u8>,
    seen: usize,
}

impl StreamMatcher {
    pub(crate) fn new(pattern: &str) -> Self {
        StreamMatcher {
            pattern: pattern.as_bytes().to_vec(),
            carry: Vec::new(),
            seen: 0,
        }
    }

    /// Feeds a chunk; returns the total number of occurrences seen so far.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> usize {
        let n = self.pattern.len();
        if n == 0 {
            self.seen += 1;
            return self.seen;
        }
        let mut window = std::mem::take(&mut self.carry);
        window.extend_from_slice(chunk);
        let mut i = 0;
        while i + n <= window.len() {
            if window[i..i + n] == self.pattern[..] {
                self.seen += 1;
                i += n;
            } else {
                i += 1;
            }
        }
        // Keep what could still begin an occurrence: at most n - 1 bytes, and nothing
        // already consumed by a match.
        let keep_from = window.len().saturating_sub(n - 1).max(i.min(window.len()));
        self.carry = window[keep_from..].to_vec();
        self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_split_across_chunks_still_matches() {
        let mut m = StreamMatcher::new("ready to accept");
        assert_eq!(m.feed(b"server is rea"), 0);
        assert_eq!(m.feed(b"dy to acc"), 0);
        assert_eq!(m.feed(b"ept connections\n"), 1);
    }

    #[test]
    fn occurrences_are_counted_once_each() {
        let mut m = StreamMatcher::new("aa");
        assert_eq!(m.feed(b"aaa"), 1);
        assert_eq!(m.feed(b"a"), 2);
        let mut m = StreamMatcher::new("ready");
        assert_eq!(m.feed(b"ready\nready\n"), 2);
        assert_eq!(m.feed(b"rea"), 2);
        assert_eq!(m.feed(b"dy"), 3);
    }

    #[test]
    fn byte_by_byte_feeding_matches_like_one_chunk() {
        let text = b"xx PostgreSQL init ... ready ... restart ... ready\n";
        let mut m = StreamMatcher::new("ready");
        let mut last = 0;
        for b in text {
            last = m.feed(std::slice::from_ref(b));
        }
        assert_eq!(last, 2);
    }

    #[test]
    fn probe_describes_itself_for_error_messages() {
        let p: Probe = Probe::log("ok").times(2).stderr().into();
        assert_eq!(p.to_string(), "log line \"ok\" on stderr (occurrence 2)");
        assert_eq!(Probe::none().to_string(), "start");
    }
}
