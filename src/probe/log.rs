//! The log probe, its refinements, and the matchers that count a pattern in a chunked
//! stream.

use std::fmt;

use super::Probe;

/// Which output stream a log probe reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum LogSource {
    /// Standard output only.
    Stdout,
    /// Standard error only.
    Stderr,
    /// Either stream.
    #[default]
    Either,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    Substring(String),
    Regex(String),
}

/// Waits until the container has printed a pattern a number of times.
///
/// A substring is matched on the raw byte stream, so it matches even when split across
/// two log frames; a regex is matched against each complete line. The logs are followed
/// as they are written, never re-read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogProbe {
    pub(crate) pattern: Pattern,
    pub(crate) source: LogSource,
    pub(crate) occurrences: usize,
}

/// Refinements of log probes ([`Probe::log`], [`Probe::log_regex`]). On a probe of another
/// kind, `start` fails with [`Error::InvalidInput`](crate::Error::InvalidInput).
impl Probe {
    /// Reads standard output only.
    #[must_use]
    pub fn stdout(self) -> Probe {
        self.refine(
            || ".stdout()".to_owned(),
            |log: &mut LogProbe| {
                log.source = LogSource::Stdout;
            },
        )
    }

    /// Reads standard error only.
    #[must_use]
    pub fn stderr(self) -> Probe {
        self.refine(
            || ".stderr()".to_owned(),
            |log: &mut LogProbe| {
                log.source = LogSource::Stderr;
            },
        )
    }

    /// Waits for the `n`th occurrence (PostgreSQL, for one, prints its ready line twice:
    /// once for the temporary server of its init scripts). `0` counts as `1`.
    #[must_use]
    pub fn times(self, n: usize) -> Probe {
        self.refine(
            || format!(".times({n})"),
            |log: &mut LogProbe| {
                log.occurrences = n.max(1);
            },
        )
    }
}

impl LogProbe {
    pub(crate) fn substring(pattern: String) -> Self {
        LogProbe {
            pattern: Pattern::Substring(pattern),
            source: LogSource::Either,
            occurrences: 1,
        }
    }

    pub(crate) fn regex(pattern: String) -> Self {
        LogProbe {
            pattern: Pattern::Regex(pattern),
            ..Self::substring(String::new())
        }
    }

    /// A matcher for one stream, or an error naming a bad regex.
    pub(crate) fn matcher(&self) -> Result<Matcher, String> {
        Ok(match &self.pattern {
            Pattern::Substring(s) => Matcher::Stream(StreamMatcher::new(s)),
            Pattern::Regex(r) => Matcher::Lines(LineMatcher::new(r)?),
        })
    }
}

impl fmt::Display for LogProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pattern {
            Pattern::Substring(s) => write!(f, "log line {s:?}")?,
            Pattern::Regex(r) => write!(f, "log line matching /{r}/")?,
        }
        match self.source {
            LogSource::Stdout => f.write_str(" on stdout")?,
            LogSource::Stderr => f.write_str(" on stderr")?,
            LogSource::Either => {}
        }
        if self.occurrences > 1 {
            write!(f, " (occurrence {})", self.occurrences)?;
        }
        Ok(())
    }
}

/// Counts a pattern in one stream.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    Stream(StreamMatcher),
    Lines(LineMatcher),
}

impl Matcher {
    /// Feeds a chunk; returns the number of occurrences seen so far.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> usize {
        match self {
            Matcher::Stream(m) => m.feed(chunk),
            Matcher::Lines(m) => m.feed(chunk),
        }
    }
}

/// Counts occurrences of a substring in a byte stream that arrives in chunks.
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

/// Counts regex matches in the complete lines of a chunked stream.
#[derive(Debug, Clone)]
pub(crate) struct LineMatcher {
    regex: regex::Regex,
    partial: Vec<u8>,
    seen: usize,
}

impl LineMatcher {
    pub(crate) fn new(pattern: &str) -> Result<Self, String> {
        let regex = regex::Regex::new(pattern)
            .map_err(|e| format!("the log probe's regex /{pattern}/ is invalid: {e}"))?;
        Ok(LineMatcher {
            regex,
            partial: Vec::new(),
            seen: 0,
        })
    }

    pub(crate) fn feed(&mut self, chunk: &[u8]) -> usize {
        self.partial.extend_from_slice(chunk);
        while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            self.seen += self.regex.find_iter(text.trim_end_matches('\r')).count();
        }
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
    fn a_regex_matches_lines_split_across_chunks() {
        let mut m = LineMatcher::new(r"listening on port \d+$").unwrap();
        assert_eq!(m.feed(b"boot\nlistening on po"), 0);
        assert_eq!(m.feed(b"rt 80"), 0, "the line is not complete yet");
        assert_eq!(m.feed(b"80\r\nlistening on port x\n"), 1);
        assert_eq!(m.feed(b"listening on port 9\n"), 2);
    }

    #[test]
    fn an_invalid_regex_is_named_in_the_error() {
        let err = LogProbe::regex("(unclosed".into()).matcher().unwrap_err();
        assert!(err.contains("/(unclosed/"), "{err}");
    }

    #[test]
    fn log_probes_describe_themselves() {
        assert_eq!(
            Probe::log("ok").times(2).stderr().to_string(),
            "log line \"ok\" on stderr (occurrence 2)"
        );
        assert_eq!(
            Probe::log_regex("^up$").stdout().to_string(),
            "log line matching /^up$/ on stdout"
        );
    }
}
