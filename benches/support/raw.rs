//! The floor of the comparisons, raw bollard, in the pieces its variants repeat: the
//! labels a raw container carries (the ones testdock sets, so sweeps find it), removal,
//! and following the logs until a line.

use std::collections::HashMap;

use futures::StreamExt;
use testdock::bollard::query_parameters::RemoveContainerOptionsBuilder;
use testdock::bollard::query_parameters::{LogsOptionsBuilder, RemoveContainerOptions};
use testdock::bollard::Docker;
use testdock::labels;

use super::Result;

/// The labels of a raw container of test `test_id`: managed by testdock, this session,
/// this process.
pub fn labels(test_id: &str) -> HashMap<String, String> {
    HashMap::from([
        (
            labels::MANAGED_BY.to_owned(),
            labels::MANAGED_BY_VALUE.to_owned(),
        ),
        (labels::SESSION.to_owned(), labels::session_id().to_owned()),
        (labels::TEST.to_owned(), test_id.to_owned()),
        (labels::PID.to_owned(), std::process::id().to_string()),
    ])
}

/// Removal as testdock does it: forced, with the anonymous volumes.
pub fn force_remove() -> RemoveContainerOptions {
    RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build()
}

/// Follows the logs (stdout and stderr) of container `id` (called `name`) until
/// `marker` was printed; returns what `at_match` returns, called the moment the chunk
/// holding it arrived (before the stream is closed). Fails if the container stops first.
pub async fn follow_until<T>(
    docker: &Docker,
    id: &str,
    name: &str,
    marker: &str,
    at_match: impl FnOnce() -> T,
) -> Result<T> {
    let options = LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .build();
    let mut logs = std::pin::pin!(docker.logs(id, Some(options)));
    let mut seen = Vec::new();
    loop {
        match logs.next().await {
            Some(chunk) => {
                seen.extend_from_slice(chunk?.as_ref());
                if seen.windows(marker.len()).any(|w| w == marker.as_bytes()) {
                    return Ok(at_match());
                }
            }
            None => {
                return Err(format!(
                    "container {name} stopped before printing `{marker}`; it printed {:?}",
                    String::from_utf8_lossy(&seen)
                )
                .into())
            }
        }
    }
}
