//! What a test body may return, and how a finished test ends.

use std::any::Any;
use std::fmt::Debug;

use super::TestMeta;

/// A test body's return value: `()` passes, `Ok(())` passes, `Err(e)` fails with `e`.
pub trait TestOutcome: Send + 'static {
    /// `None` if the test passed, else why it failed.
    fn failure(self) -> Option<String>;
}

impl TestOutcome for () {
    fn failure(self) -> Option<String> {
        None
    }
}

impl<E: Debug + Send + 'static> TestOutcome for Result<(), E> {
    fn failure(self) -> Option<String> {
        self.err()
            .map(|e| format!("the test returned an error: {e:?}"))
    }
}

/// How a test ended, before the runner re-raises it.
pub(crate) enum Verdict {
    Passed,
    /// Failed with a message (startup error, `Err`, timeout).
    Failed(String),
    /// The body panicked: re-raised as is, so `#[should_panic]` works.
    Panicked(Box<dyn Any + Send>),
    /// No daemon: fail, or skip if the environment asks for it.
    NoDaemon(crate::Error),
}

impl Verdict {
    pub(crate) fn failed(&self) -> bool {
        !matches!(self, Verdict::Passed)
    }

    /// Ends the test: returns if it passed (or is skipped), panics otherwise. The panic
    /// is reported where [`run_test`](super::run_test) was called (the test): both are
    /// `#[track_caller]` and `run_test` calls this directly. Keep the `panic!`s in this
    /// fn's own body: one in a closure would point back into this file. A body's own
    /// panic is resumed as it was, with its own location.
    #[track_caller]
    pub(crate) fn conclude(self, meta: &TestMeta) {
        match self {
            Verdict::Passed => {}
            Verdict::Panicked(payload) => std::panic::resume_unwind(payload),
            Verdict::Failed(message) => panic!("{message}"),
            Verdict::NoDaemon(error) => {
                if skip_without_docker() {
                    tracing::warn!(test = %meta.id, %error, "skipped: no Docker daemon");
                    eprintln!(
                        "testdock: SKIPPED {} ({}:{}): no Docker daemon ({} is set)",
                        meta.id,
                        meta.file,
                        meta.line,
                        super::SKIP_WITHOUT_DOCKER_ENV
                    );
                } else {
                    panic!(
                        "{} needs Docker: {error}\n(set {}=1 to skip such tests instead)",
                        meta.id,
                        super::SKIP_WITHOUT_DOCKER_ENV
                    );
                }
            }
        }
    }
}

fn skip_without_docker() -> bool {
    std::env::var(super::SKIP_WITHOUT_DOCKER_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A readable text for a panic payload.
pub(crate) fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a non-string panic payload)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_and_ok_pass_and_err_fails_with_its_debug_text() {
        assert_eq!(().failure(), None);
        assert_eq!(Ok::<(), String>(()).failure(), None);
        assert_eq!(
            Err::<(), _>("boom").failure().unwrap(),
            "the test returned an error: \"boom\""
        );
    }

    #[test]
    fn panic_payloads_become_text() {
        assert_eq!(panic_text(&"a"), "a");
        assert_eq!(panic_text(&String::from("b")), "b");
        assert_eq!(panic_text(&3u8), "(a non-string panic payload)");
    }
}
