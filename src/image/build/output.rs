//! Following the classic builder's output: the current step and its last lines, turned
//! into error messages when the build fails or times out.
//!
//! The daemon turns each of the build's labels (testdock always passes
//! `testdock.managed-by`) into one `LABEL` step after the Dockerfile's last instruction,
//! and counts those steps in its `Step N/M` lines: a 3-instruction Dockerfile with one
//! label prints `Step 2/4`. Errors give the step as the Dockerfile has it (`Step 2/3`).
//!
//! Podman's builder (buildah) prints `STEP 2/3: INSTRUCTION`, applies the labels to the
//! config without steps of their own, marks its bookkeeping with `--> ` and fails a
//! `RUN` with `exit status N`; both dialects are read.

use std::collections::VecDeque;
use std::time::Duration;

use crate::error::{status_of, LogTail};

/// How many output lines of the failing step an error shows.
const TAIL_LINES: usize = 20;

/// What the build printed so far, as far as an error needs it.
#[derive(Debug, Default)]
pub(super) struct BuildLog {
    /// How many steps the daemon appends for the build's labels.
    label_steps: usize,
    /// Text after the last newline (the daemon splits lines across messages).
    pending: String,
    /// The last step, numbered as in the Dockerfile.
    step: Option<StepLine>,
    /// The last lines the current step printed, without the builder's own chatter.
    tail: VecDeque<String>,
}

/// A `Step N/M : INSTRUCTION` line of the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StepLine {
    /// A step of the Dockerfile, renumbered without the appended label steps.
    Dockerfile(String),
    /// One of the `LABEL` steps the daemon appends for the build's labels.
    Label(String),
}

impl BuildLog {
    /// A log for a build given `labels` labels (each becomes a step of its own).
    pub(super) fn new(labels: usize) -> Self {
        BuildLog {
            label_steps: labels,
            ..BuildLog::default()
        }
    }

    /// Takes one `stream` chunk of the build output.
    pub(super) fn feed(&mut self, text: &str) {
        self.pending.push_str(text);
        while let Some(end) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=end).collect();
            self.line(&strip_ansi(line.trim_end_matches(['\n', '\r'])));
        }
    }

    /// Takes the last, unterminated line.
    pub(super) fn finish(&mut self) {
        let rest = strip_ansi(&std::mem::take(&mut self.pending));
        if !rest.is_empty() {
            self.line(&rest);
        }
    }

    fn line(&mut self, line: &str) {
        if line.starts_with("Step ") && line.contains(" : ") {
            self.step = Some(self.renumber(line));
            self.tail.clear();
        } else if let Some(step) = podman_step(line) {
            self.step = Some(StepLine::Dockerfile(step));
            self.tail.clear();
        } else if line.starts_with(" ---> ")
            || line.starts_with("--> ")
            || line.starts_with("COMMIT ")
            || line.starts_with("Removing intermediate container ")
            || (line.is_empty() && self.tail.is_empty())
        {
            // The builder's bookkeeping, not the step's output.
        } else {
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            self.tail.push_back(line.to_owned());
        }
    }

    /// `line` (`Step N/M : INSTRUCTION`) with `M` counting only the Dockerfile's steps.
    fn renumber(&self, line: &str) -> StepLine {
        let parsed = line.split_once(" : ").and_then(|(head, instruction)| {
            let (n, m) = head.strip_prefix("Step ")?.split_once('/')?;
            Some((
                n.parse::<usize>().ok()?,
                m.parse::<usize>().ok()?,
                instruction,
            ))
        });
        match parsed {
            Some((n, m, instruction)) => {
                let written = m.saturating_sub(self.label_steps);
                if n > written {
                    StepLine::Label(instruction.to_owned())
                } else {
                    StepLine::Dockerfile(format!("Step {n}/{written} : {instruction}"))
                }
            }
            None => StepLine::Dockerfile(line.to_owned()),
        }
    }

    fn at_step(&self) -> String {
        match &self.step {
            Some(StepLine::Dockerfile(step)) => format!(" at `{step}`"),
            Some(StepLine::Label(instruction)) => format!(
                " at `{instruction}`, which the daemon adds after the Dockerfile's last step \
                 for the image's labels"
            ),
            None => String::new(),
        }
    }

    fn output(&self) -> String {
        if self.step.is_none() && self.tail.is_empty() {
            return String::new();
        }
        let tail = LogTail {
            lines: self.tail.iter().cloned().collect(),
        };
        format!("\n  last output lines:\n{tail}")
    }

    /// The message for a build that ended with `error`.
    pub(super) fn failure(
        &self,
        dockerfile_path: &str,
        dockerfile: &str,
        error: &bollard::errors::Error,
    ) -> String {
        let refused = match error {
            bollard::errors::Error::DockerResponseServerError { message, .. } => {
                parse_error_line(message).map(|n| {
                    let text = dockerfile.lines().nth(n - 1).unwrap_or("").trim();
                    format!(" (`{dockerfile_path}` line {n}: `{text}`)")
                })
            }
            _ => None,
        };
        let exit = match exit_code(error) {
            Some(code) => format!(" (exit code {code})"),
            None => String::new(),
        };
        match (refused, status_of(error)) {
            (Some(line), _) => format!("the daemon refused the Dockerfile{line}"),
            (None, Some(status)) => format!(
                "the daemon refused the build (HTTP {status}){}{exit}{}",
                self.at_step(),
                self.output()
            ),
            (None, None) => format!("the build failed{}{exit}{}", self.at_step(), self.output()),
        }
    }

    /// The message for a build that ran past `limit`.
    pub(super) fn timeout(&self, limit: Duration, elapsed: Duration) -> String {
        format!(
            "the build timed out after {elapsed:?} (limit {limit:?}, raise it with \
             `.build_timeout(..)` or TESTDOCK_TIMEOUT_SCALE){}{}",
            self.at_step(),
            self.output()
        )
    }
}

/// Podman's `STEP N/M: INSTRUCTION` as Docker's `Step N/M : INSTRUCTION` (Podman counts
/// no label steps, so `M` is the Dockerfile's already).
fn podman_step(line: &str) -> Option<String> {
    let (head, instruction) = line.strip_prefix("STEP ")?.split_once(": ")?;
    let (n, m) = head.split_once('/')?;
    let numbers = [n, m].iter().all(|s| s.parse::<usize>().is_ok());
    numbers.then(|| format!("Step {n}/{m} : {instruction}"))
}

/// `line` without terminal escape sequences (the builder colours a step's stderr red).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte in `@`..=`~`.
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The exit code of a failed `RUN` in a daemon message like `The command '/bin/sh -c
/// make' returned a non-zero code: 2` (Docker) or `...: exit status 2` (Podman).
fn exit_code(error: &bollard::errors::Error) -> Option<i64> {
    use bollard::errors::Error as E;
    let text = match error {
        E::DockerStreamError { error } => error.as_str(),
        E::DockerResponseServerError { message, .. } => message.as_str(),
        _ => return None,
    };
    let rest = ["returned a non-zero code: ", "exit status "]
        .iter()
        .find_map(|mark| Some(&text[text.find(mark)? + mark.len()..]))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The line number in a daemon message like `dockerfile parse error line 2: ...`.
fn parse_error_line(message: &str) -> Option<usize> {
    let rest = &message[message.find("line ")? + 5..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_error(text: &str) -> bollard::errors::Error {
        bollard::errors::Error::DockerStreamError {
            error: text.to_owned(),
        }
    }

    /// The failure message of a one-label build that printed `chunks` and failed with
    /// the stream error `error`.
    fn failure_after(chunks: &[&str], error: &str) -> String {
        let mut log = BuildLog::new(1);
        for chunk in chunks {
            log.feed(chunk);
        }
        log.finish();
        log.failure("Dockerfile", "", &stream_error(error))
    }

    #[test]
    fn a_failed_run_names_the_step_and_its_output_without_builder_chatter() {
        // Three instructions, and the daemon's step for the one label.
        let text = failure_after(
            &[
                "Step 1/4 : FROM base",
                "\n",
                " ---> 0123\n",
                "Step 2/4 : RUN echo boom && exit 3",
                "\n",
                " ---> Running in abcd\n",
                "bo",
                "om\n\u{1b}[91msecond line\n",
                "\u{1b}[0mRemoving intermediate container abcd\n",
            ],
            "The command '/bin/sh -c echo boom && exit 3' returned a non-zero code: 3",
        );
        assert_eq!(
            text,
            "the build failed at `Step 2/3 : RUN echo boom && exit 3` (exit code 3)\n  last \
             output lines:\n    | boom\n    | second line"
        );
    }

    #[test]
    fn podman_steps_and_exit_status_are_read_too() {
        // Podman's builder adds no step for the label, and marks its own lines `--> `.
        let text = failure_after(
            &[
                "STEP 1/2: FROM base\n",
                "--> 0123\n",
                "STEP 2/2: RUN echo boom && exit 3\n",
                "boom\n",
            ],
            "building at STEP \"RUN echo boom && exit 3\": while running runtime: exit status 3",
        );
        assert_eq!(
            text,
            "the build failed at `Step 2/2 : RUN echo boom && exit 3` (exit code 3)\n  last \
             output lines:\n    | boom"
        );
        assert_eq!(podman_step("STEP x/2: RUN"), None);
    }

    #[test]
    fn steps_are_numbered_as_in_the_dockerfile_and_a_label_step_says_what_it_is() {
        let mut log = BuildLog::new(2);
        log.feed("Step 3/5 : COPY a /a\n");
        assert_eq!(
            log.step,
            Some(StepLine::Dockerfile("Step 3/3 : COPY a /a".to_owned()))
        );
        log.feed("Step 4/5 : LABEL a=1\n");
        let text = log.failure("Dockerfile", "", &stream_error("no space left on device"));
        assert!(
            text.starts_with("the build failed at `LABEL a=1`, which the daemon adds"),
            "{text}"
        );
        assert!(!text.contains("exit code"), "{text}");
        let mut plain = BuildLog::new(0);
        plain.feed("Step 2/2 : RUN x\n");
        assert_eq!(
            plain.step,
            Some(StepLine::Dockerfile("Step 2/2 : RUN x".to_owned()))
        );
        assert_eq!(
            exit_code(&stream_error("returned a non-zero code: 127")),
            Some(127)
        );
    }

    #[test]
    fn escape_sequences_are_removed() {
        assert_eq!(strip_ansi("\u{1b}[91merr\u{1b}[0m"), "err");
        assert_eq!(strip_ansi("\u{1b}[1;31mx"), "x");
        assert_eq!(strip_ansi("plain [text]"), "plain [text]");
    }

    #[test]
    fn a_parse_error_points_at_the_dockerfile_line() {
        let error = bollard::errors::Error::DockerResponseServerError {
            status_code: 400,
            message: "dockerfile parse error line 2: unknown instruction: BOGUS".to_owned(),
        };
        let text = BuildLog::default().failure("sub/Dockerfile", "FROM x\nBOGUS y\n", &error);
        assert_eq!(
            text,
            "the daemon refused the Dockerfile (`sub/Dockerfile` line 2: `BOGUS y`)"
        );
        assert_eq!(parse_error_line("no number here"), None);
    }

    #[test]
    fn only_the_last_lines_of_a_long_step_are_kept() {
        let mut log = BuildLog::new(0);
        log.feed("Step 1/1 : RUN seq 100\n");
        for i in 1..=100 {
            log.feed(&format!("{i}\n"));
        }
        assert_eq!(log.tail.len(), TAIL_LINES);
        assert_eq!(log.tail.back().map(String::as_str), Some("100"));
        let text = log.timeout(Duration::from_secs(1), Duration::from_millis(1001));
        assert!(
            text.starts_with("the build timed out after 1.001s (limit 1s"),
            "{text}"
        );
        assert!(text.contains("at `Step 1/1 : RUN seq 100`"), "{text}");
    }
}
