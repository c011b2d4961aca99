//! The `tracing` spans and events of a container's life, seen by a capturing
//! subscriber, and the step timings the `Container` keeps.

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testdock::{ContainerSpec, HostImage, InjectFile, Probe};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// One span, with the fields it was made with and those recorded later.
#[derive(Debug, Clone)]
struct SpanSeen {
    name: &'static str,
    id: u64,
    parent: Option<&'static str>,
    fields: BTreeMap<String, String>,
}

/// One event, with the span it happened in.
#[derive(Debug, Clone)]
struct EventSeen {
    span: Option<&'static str>,
    fields: BTreeMap<String, String>,
}

/// A layer that keeps every span and event, in the order they happened.
#[derive(Debug, Clone, Default)]
struct Capture {
    spans: Arc<Mutex<Vec<SpanSeen>>>,
    events: Arc<Mutex<Vec<EventSeen>>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let parent = ctx.span(id).and_then(|s| s.parent()).map(|p| p.name());
        self.spans.lock().unwrap().push(SpanSeen {
            name: attrs.metadata().name(),
            id: id.into_u64(),
            parent,
            fields,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut spans = self.spans.lock().unwrap();
        // Ids are reused once a span closes: the latest span with the id is the one.
        if let Some(span) = spans.iter_mut().rev().find(|s| s.id == id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let span = ctx.event_span(event).map(|s| s.name());
        self.events.lock().unwrap().push(EventSeen { span, fields });
    }
}

fn field<'a>(fields: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    fields.get(name).map(String::as_str).unwrap_or("")
}

fn elapsed_ms(span: &SpanSeen) -> f64 {
    field(&span.fields, "elapsed_ms")
        .parse()
        .unwrap_or_else(|_| panic!("no elapsed_ms recorded on {span:?}"))
}

const STEPS: [&str; 5] = [
    "testdock.create",
    "testdock.inject",
    "testdock.start",
    "testdock.ready",
    "testdock.remove",
];

// The default (current-thread) runtime: the thread-local subscriber sees every step.
#[tokio::test]
async fn each_step_is_a_span_with_the_container_and_its_duration() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _default = tracing::subscriber::set_default(subscriber);

    let image = HostImage::new().binary("/bin/sh").binary("/bin/sleep");
    let begun = Instant::now();
    let c = ContainerSpec::new(image)
        .file(InjectFile::from_bytes("/etc/app.conf", "greeting=hello\n"))
        .cmd(["/bin/sh", "-c", "echo ready; exec sleep 1000"])
        .wait_for(Probe::all([
            Probe::log("ready"),
            Probe::exec(["/bin/sh", "-c", "test -f /etc/app.conf"]),
        ]))
        .start()
        .await
        .unwrap();
    let wall = begun.elapsed();
    let name = c.name().to_owned();
    let timings = *c.timings();
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    let spans = capture.spans.lock().unwrap().clone();
    let events = capture.events.lock().unwrap().clone();
    let of_container: Vec<&SpanSeen> = spans
        .iter()
        .filter(|s| STEPS.contains(&s.name) && field(&s.fields, "container") == name)
        .collect();
    let order: Vec<&str> = of_container.iter().map(|s| s.name).collect();
    assert_eq!(order, STEPS, "{spans:#?}");
    for span in &of_container {
        assert!(elapsed_ms(span) >= 0.0);
    }
    let inject = of_container[1];
    assert_eq!(field(&inject.fields, "files"), "1");
    assert!(field(&inject.fields, "bytes").parse::<u64>().unwrap() > 0);
    for step in &of_container[..4] {
        assert_eq!(step.parent, Some("testdock.container"), "{step:?}");
    }

    let outer = spans
        .iter()
        .find(|s| s.name == "testdock.container" && field(&s.fields, "container") == name)
        .expect("the container's span");
    assert_eq!(field(&outer.fields, "test"), common::this_test());
    assert!(field(&outer.fields, "image").starts_with("testdock/host:"));
    let image = spans
        .iter()
        .find(|s| s.name == "testdock.image" && s.parent == Some("testdock.container"))
        .expect("the image's span");
    assert_eq!(field(&image.fields, "source"), "host");
    assert_eq!(field(&image.fields, "image"), field(&outer.fields, "image"));
    assert!(["true", "false"].contains(&field(&image.fields, "cached")));

    // The exec probe is polled: each attempt is an event in the readiness span.
    let attempts: Vec<&EventSeen> = events
        .iter()
        .filter(|e| field(&e.fields, "message") == "probe attempt")
        .collect();
    assert!(
        attempts.iter().all(|e| e.span == Some("testdock.ready")),
        "{attempts:#?}"
    );
    assert_eq!(
        attempts.last().map(|e| field(&e.fields, "outcome")),
        Some("ready"),
        "{events:#?}"
    );
    assert!(events.iter().any(|e| e.span == Some("testdock.container")
        && field(&e.fields, "message") == "container ready"));

    // The timings the handle keeps.
    assert!(timings.create > Duration::ZERO, "{timings:?}");
    assert!(timings.start > Duration::ZERO, "{timings:?}");
    assert!(timings.inject > Duration::ZERO, "{timings:?}");
    assert!(timings.total() <= wall, "{timings:?} in {wall:?}");
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    assert!((elapsed_ms(of_container[0]) - ms(timings.create)).abs() < 0.01);
    assert!((elapsed_ms(of_container[2]) - ms(timings.start)).abs() < 0.01);
}

#[tokio::test]
async fn a_failed_start_still_traces_the_removal() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _default = tracing::subscriber::set_default(subscriber);

    let image = HostImage::new().binary("/bin/sh");
    let error = ContainerSpec::new(image)
        .file(InjectFile::from_bytes("/etc/app.conf", "x"))
        .cmd(["/bin/sh", "-c", "echo bye; exit 3"])
        .wait_for(Probe::log("never printed"))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(error, testdock::Error::Exited { .. }), "{error}");
    common::assert_nothing_left(&common::this_test()).await;

    let spans = capture.spans.lock().unwrap().clone();
    let names: Vec<&str> = spans
        .iter()
        .map(|s| s.name)
        .filter(|n| STEPS.contains(n))
        .collect();
    assert_eq!(names, STEPS, "{spans:#?}");
    let events = capture.events.lock().unwrap().clone();
    assert!(
        events
            .iter()
            .any(|e| field(&e.fields, "message") == "container start failed"
                && field(&e.fields, "error").contains("exited with code 3")),
        "{events:#?}"
    );
}
