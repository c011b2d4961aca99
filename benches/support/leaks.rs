//! The leak sweep at the end of a bench: whatever is still labelled as this run's is
//! removed and reported, and makes the exit code non-zero.

use std::collections::HashMap;

use testdock::bollard::errors::Error as DockerError;
use testdock::bollard::query_parameters::ListContainersOptionsBuilder;
use testdock::bollard::Docker;
use testdock::labels;

use super::raw::force_remove;
use super::Result;

/// Whether the daemon answered 404 (no such container or image).
pub fn is_404(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// A label filter (`key=value` or `key`) for the list calls.
pub fn label_filter(label: impl Into<String>) -> HashMap<String, Vec<String>> {
    HashMap::from([("label".to_owned(), vec![label.into()])])
}

/// Every container `filters` selects, running or not.
pub async fn list(
    docker: &Docker,
    filters: &HashMap<String, Vec<String>>,
) -> Result<Vec<testdock::bollard::models::ContainerSummary>> {
    Ok(docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(filters)
                .build(),
        ))
        .await?)
}

/// This process's containers (by its owner label), running or not, with the filter.
pub async fn own_containers(
    docker: &Docker,
) -> Result<(
    HashMap<String, Vec<String>>,
    Vec<testdock::bollard::models::ContainerSummary>,
)> {
    let filter = label_filter(format!("{}={}", labels::OWNER, labels::owner_id()));
    let listed = list(docker, &filter).await?;
    Ok((filter, listed))
}

/// Removes the containers that match `filters` (all, running or not) and returns them,
/// each with its state, test and what the removal did.
pub async fn sweep(docker: &Docker, filters: &HashMap<String, Vec<String>>) -> Result<Vec<String>> {
    let containers = list(docker, filters).await?;
    let mut found = Vec::new();
    for c in containers {
        let id = c.id.unwrap_or_default();
        let removal = match docker.remove_container(&id, Some(force_remove())).await {
            Ok(()) => "removed now".to_owned(),
            Err(e) if is_404(&e) => {
                "listed, then gone before the sweep removed it (a removal was still in flight)"
                    .to_owned()
            }
            Err(e) => format!("could not be removed: {e}"),
        };
        found.push(format!(
            "{:?} ({}, test {:?}): {removal}",
            c.names.unwrap_or_default(),
            c.state.map(|s| s.to_string()).unwrap_or_default(),
            c.labels.unwrap_or_default().get(labels::TEST)
        ));
    }
    Ok(found)
}

/// Sweeps the containers of this session ([`labels::session_filter`]) and reports them;
/// whether none was left.
pub async fn check_session(bench: &str, docker: &Docker) -> bool {
    let whose = format!("session {}", labels::session_id());
    check(bench, docker, &labels::session_filter(), &whose).await
}

/// Sweeps the containers owned by this process and reports them; whether none was left.
pub async fn check_process(bench: &str, docker: &Docker) -> bool {
    let filters = label_filter(format!("{}={}", labels::OWNER, labels::owner_id()));
    let whose = format!("this process ({})", labels::owner_id());
    check(bench, docker, &filters, &whose).await
}

/// Sweeps the containers matching `filters` (`whose` they are, for the report).
async fn check(
    bench: &str,
    docker: &Docker,
    filters: &HashMap<String, Vec<String>>,
    whose: &str,
) -> bool {
    match sweep(docker, filters).await {
        Ok(leaks) if leaks.is_empty() => {
            println!("leak check: no container of {whose} remains");
            true
        }
        Ok(leaks) => {
            eprintln!(
                "LEAK: {} container(s) of {whose} were still there at the end (now removed): \
                 {leaks:#?}",
                leaks.len()
            );
            false
        }
        Err(e) => {
            eprintln!("bench {bench}: the leak check could not list containers: {e}");
            false
        }
    }
}
