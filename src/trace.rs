//! Helpers for testdock's [`tracing`] spans and events (the names are listed in the
//! crate docs, "Tracing").
//!
//! Every span is made with the `tracing` macros, which evaluate and format nothing
//! unless a subscriber is interested: without one, a span costs an atomic load.
//! Durations are recorded as `elapsed_ms` (an `f64` of milliseconds) on the step's span
//! and on the event that ends it.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

use tracing::{Instrument, Span};

/// `d` in milliseconds to the microsecond, for the `elapsed_ms` fields.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

/// Runs `step` inside `span` and measures it: records `elapsed_ms` on the span and
/// emits a DEBUG event in it saying how the step ended. Returns the step's output and
/// how long it took.
pub(crate) async fn timed<T, E: Display>(
    span: Span,
    step: impl Future<Output = Result<T, E>>,
) -> (Result<T, E>, Duration) {
    let started = Instant::now();
    let result = step.instrument(span.clone()).await;
    let elapsed = started.elapsed();
    finished(&span, elapsed, &result);
    (result, elapsed)
}

/// Records `elapsed` on `span` and emits the DEBUG event that ends a step (`step` is
/// the span's name).
pub(crate) fn finished<T, E: Display>(span: &Span, elapsed: Duration, result: &Result<T, E>) {
    let elapsed_ms = ms(elapsed);
    span.record("elapsed_ms", elapsed_ms);
    let step = || span.metadata().map_or("", |m| m.name());
    match result {
        Ok(_) => {
            tracing::debug!(parent: span, step = step(), elapsed_ms, outcome = "done", "step done")
        }
        Err(error) => tracing::debug!(
            parent: span,
            step = step(),
            elapsed_ms,
            outcome = "failed",
            %error,
            "step failed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_keep_their_fraction() {
        assert_eq!(ms(Duration::from_micros(1500)), 1.5);
        assert_eq!(ms(Duration::from_nanos(111_290_174)), 111.29);
        assert_eq!(ms(Duration::ZERO), 0.0);
    }

    #[tokio::test]
    async fn a_timed_step_returns_its_output_and_duration_without_a_subscriber() {
        let span = tracing::info_span!("testdock.unit", elapsed_ms = tracing::field::Empty);
        let (result, took) = timed(span, async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, String>(7)
        })
        .await;
        assert_eq!(result, Ok(7));
        assert!(took >= Duration::from_millis(20), "{took:?}");
        let span = tracing::info_span!("testdock.unit", elapsed_ms = tracing::field::Empty);
        let (result, _) = timed(span, async { Err::<(), _>("no") }).await;
        assert_eq!(result, Err("no"));
    }

    /// A writer into a shared buffer, for the fmt subscriber.
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_timed_step_says_how_it_ended_and_how_long_it_took() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let span = tracing::info_span!("testdock.unit", elapsed_ms = tracing::field::Empty);
        let _ = timed(span, async { Ok::<_, String>(()) }).await;
        let span = tracing::info_span!("testdock.unit", elapsed_ms = tracing::field::Empty);
        let _ = timed(span, async { Err::<(), _>("refused") }).await;
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains("testdock.unit{elapsed_ms="), "{text}");
        assert!(
            lines[0].contains("step done step=\"testdock.unit\""),
            "{text}"
        );
        assert!(
            lines[1].contains(r#"outcome="failed" error=refused"#),
            "{text}"
        );
    }
}
