//! Fail fast: follow the daemon's events for a container while a probe waits.

use std::collections::HashMap;

use bollard::models::HealthcheckResult;
use bollard::query_parameters::EventsOptions;
use bollard::Docker;
use futures::StreamExt;

use super::Failure;

/// The `event` filter values: Docker's names; Podman 4 filters on `died` (and sends
/// `die`), Docker matches nothing by that name.
const EVENTS: [&str; 4] = ["die", "died", "oom", "health_status"];

/// Resolves when the container dies (unless `exit_expected`; an OOM kill of the main
/// process is a death) or turns unhealthy; never resolves otherwise (also not if the event stream breaks: the
/// probe's own timeout still bounds the wait).
pub(super) async fn fail_fast(
    docker: &Docker,
    id: &str,
    since: f64,
    exit_expected: bool,
) -> Failure {
    let filters = HashMap::from([
        ("container".to_owned(), vec![id.to_owned()]),
        ("type".to_owned(), vec!["container".to_owned()]),
        (
            "event".to_owned(),
            EVENTS.iter().map(|e| (*e).to_owned()).collect(),
        ),
    ]);
    let options = EventsOptions {
        since: Some(format!("{since:.3}")),
        until: None,
        filters: Some(filters),
    };
    let mut events = std::pin::pin!(docker.events(Some(options)));
    while let Some(Ok(event)) = events.next().await {
        let action = event.action.unwrap_or_default();
        match action.as_str() {
            // An `oom` event alone is not an exit (the killed process may be a child);
            // the `die` that follows when the main process goes carries the verdict.
            "die" | "died" if !exit_expected => return Failure::Exited,
            a if a.starts_with("health_status") && a.ends_with("unhealthy") => {
                let log = crate::docker::compat::inspect_container(docker, id)
                    .await
                    .ok()
                    .and_then(|i| i.state?.health?.log);
                return unhealthy_failure(log);
            }
            _ => {}
        }
    }
    std::future::pending().await
}

/// The container's health-status changes from now on, as a stream of unit events that
/// ends (or never yields) if the event stream breaks.
pub(super) fn health_changes<'a>(
    docker: &'a Docker,
    id: &str,
) -> impl futures::Stream<Item = ()> + 'a {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64() - 1.0)
        .unwrap_or(0.0);
    let filters = HashMap::from([
        ("container".to_owned(), vec![id.to_owned()]),
        ("type".to_owned(), vec!["container".to_owned()]),
        ("event".to_owned(), vec!["health_status".to_owned()]),
    ]);
    let options = EventsOptions {
        since: Some(format!("{since:.3}")),
        until: None,
        filters: Some(filters),
    };
    docker
        .events(Some(options))
        .take_while(|e| futures::future::ready(e.is_ok()))
        .map(|_| ())
}

/// The failure for an unhealthy container, quoting its last healthcheck output.
pub(super) fn unhealthy_failure(log: Option<Vec<HealthcheckResult>>) -> Failure {
    let last = log
        .and_then(|mut l| l.pop())
        .map(|r| {
            let output = r.output.unwrap_or_default();
            let output = output.trim();
            let code = r.exit_code.unwrap_or(-1);
            if output.is_empty() {
                format!(" (last check exited {code})")
            } else {
                format!(" (last check exited {code}: {output})")
            }
        })
        .unwrap_or_default();
    Failure::Definitive(format!("the healthcheck reported unhealthy{last}"))
}
