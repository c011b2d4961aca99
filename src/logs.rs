//! Container logs: snapshots, followed streams, and the last lines kept for errors.

use std::collections::VecDeque;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use bollard::Docker;
use futures::{Stream, StreamExt, TryStreamExt};

use crate::error::LogTail;

/// How many lines errors carry.
pub(crate) const TAIL_LINES: usize = 50;

/// Which stream a log chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A chunk of output, as the daemon framed it (usually one line, but a long line may be
/// split and several short ones joined).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogChunk {
    /// Where it came from.
    pub stream: LogStream,
    /// The bytes.
    pub bytes: bytes::Bytes,
}

impl LogChunk {
    pub(crate) fn from_output(output: LogOutput) -> Option<Self> {
        match output {
            LogOutput::StdOut { message } | LogOutput::Console { message } => Some(LogChunk {
                stream: LogStream::Stdout,
                bytes: message,
            }),
            LogOutput::StdErr { message } => Some(LogChunk {
                stream: LogStream::Stderr,
                bytes: message,
            }),
            LogOutput::StdIn { .. } => None,
        }
    }
}

/// A snapshot of everything a container printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Logs {
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

/// The streamed logs of `name`, from its first line, following while it runs.
pub(crate) fn stream(
    docker: &Docker,
    name: &str,
    follow: bool,
    tail: Option<usize>,
) -> impl Stream<Item = Result<LogChunk, bollard::errors::Error>> + Send + 'static {
    let mut options = LogsOptionsBuilder::default()
        .follow(follow)
        .stdout(true)
        .stderr(true);
    if let Some(n) = tail {
        options = options.tail(&n.to_string());
    }
    docker
        .logs(name, Some(options.build()))
        .try_filter_map(|out| futures::future::ready(Ok(LogChunk::from_output(out))))
}

/// Everything `name` printed so far.
pub(crate) async fn snapshot(docker: &Docker, name: &str) -> Result<Logs, bollard::errors::Error> {
    let mut logs = Logs::default();
    let mut chunks = std::pin::pin!(stream(docker, name, false, None));
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        let text = String::from_utf8_lossy(&chunk.bytes);
        match chunk.stream {
            LogStream::Stdout => logs.stdout.push_str(&text),
            LogStream::Stderr => logs.stderr.push_str(&text),
        }
    }
    Ok(logs)
}

/// The last [`TAIL_LINES`] lines of `name`, or a note saying why they are missing.
/// Never fails: it is used while reporting another error.
pub(crate) async fn tail(docker: &Docker, name: &str) -> LogTail {
    let mut lines = LineTail::new(TAIL_LINES);
    let fetch = async {
        let mut chunks = std::pin::pin!(stream(docker, name, false, Some(TAIL_LINES)));
        while let Some(chunk) = chunks.next().await {
            lines.push(&chunk?);
        }
        Ok::<_, bollard::errors::Error>(())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(5), fetch).await {
        Ok(Ok(())) => lines.finish(),
        Ok(Err(e)) => LogTail {
            lines: vec![format!("(logs unavailable: {e})")],
        },
        Err(_) => LogTail {
            lines: vec!["(logs unavailable: no answer within 5s)".to_owned()],
        },
    }
}

/// Keeps the last `capacity` complete lines of a chunked stream (stdout and stderr
/// interleaved as they arrived; each stream's partial line is kept apart).
#[derive(Debug, Clone)]
pub(crate) struct LineTail {
    capacity: usize,
    lines: VecDeque<String>,
    partial: [Vec<u8>; 2],
}

impl LineTail {
    pub(crate) fn new(capacity: usize) -> Self {
        LineTail {
            capacity,
            lines: VecDeque::with_capacity(capacity),
            partial: [Vec::new(), Vec::new()],
        }
    }

    pub(crate) fn push(&mut self, chunk: &LogChunk) {
        let idx = match chunk.stream {
            LogStream::Stdout => 0,
            LogStream::Stderr => 1,
        };
        let mut rest = &chunk.bytes[..];
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let mut line = std::mem::take(&mut self.partial[idx]);
            line.extend_from_slice(&rest[..pos]);
            self.push_line(&line);
            rest = &rest[pos + 1..];
        }
        self.partial[idx].extend_from_slice(rest);
        // A line that never ends must not grow without bound.
        if self.partial[idx].len() > 64 * 1024 {
            let line = std::mem::take(&mut self.partial[idx]);
            self.push_line(&line);
        }
    }

    fn push_line(&mut self, line: &[u8]) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        let text = String::from_utf8_lossy(line);
        self.lines.push_back(text.trim_end_matches('\r').to_owned());
    }

    /// The kept lines, with any unterminated last line of each stream appended.
    pub(crate) fn finish(mut self) -> LogTail {
        for idx in 0..2 {
            let rest = std::mem::take(&mut self.partial[idx]);
            if !rest.is_empty() {
                self.push_line(&rest);
            }
        }
        LogTail {
            lines: self.lines.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(stream: LogStream, s: &'static str) -> LogChunk {
        LogChunk {
            stream,
            bytes: bytes::Bytes::from_static(s.as_bytes()),
        }
    }

    #[test]
    fn lines_split_across_chunks_are_joined_per_stream() {
        let mut tail = LineTail::new(10);
        tail.push(&chunk(LogStream::Stdout, "hel"));
        tail.push(&chunk(LogStream::Stderr, "err one\n"));
        tail.push(&chunk(LogStream::Stdout, "lo\nwor"));
        let lines = tail.finish().lines;
        assert_eq!(lines, ["err one", "hello", "wor"]);
    }

    #[test]
    fn only_the_last_lines_are_kept() {
        let mut tail = LineTail::new(2);
        tail.push(&chunk(LogStream::Stdout, "1\n2\n3\r\n"));
        assert_eq!(tail.finish().lines, ["2", "3"]);
    }
}
