//! Daemon answers bollard cannot read as they are, read again.
//!
//! Podman 4 reports a container it is stopping as `stopped` for a moment, a state the
//! Docker API does not have: bollard then fails to deserialize the whole answer to an
//! inspect or a list (`unknown variant `stopped``). The state lasts milliseconds, so
//! the call is repeated until the container has moved on (to `exited`, or gone).

use std::future::Future;
use std::time::{Duration, Instant};

use bollard::models::{ContainerInspectResponse, ContainerSummary};
use bollard::query_parameters::ListContainersOptions;
use bollard::Docker;

/// How long a call is repeated while its answer holds a transient state.
const TRANSIENT_LIMIT: Duration = Duration::from_secs(5);

/// Whether `error` is an answer that could not be read because a container was in a
/// state outside the Docker API (Podman's `stopped`).
pub(crate) fn transient_state(error: &bollard::errors::Error) -> bool {
    match error {
        bollard::errors::Error::JsonDataError { message, .. } => {
            message.contains("unknown variant `stopped`")
        }
        _ => false,
    }
}

/// `call`'s answer, asked again (for up to 5 s) while it holds a transient state.
pub(crate) async fn retry_transient<T, F, Fut>(mut call: F) -> Result<T, bollard::errors::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, bollard::errors::Error>>,
{
    let started = Instant::now();
    loop {
        match call().await {
            Err(e) if transient_state(&e) && started.elapsed() < TRANSIENT_LIMIT => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            answer => return answer,
        }
    }
}

/// `GET /containers/{id}/json`, read through [`retry_transient`].
pub(crate) async fn inspect_container(
    docker: &Docker,
    id: &str,
) -> Result<ContainerInspectResponse, bollard::errors::Error> {
    retry_transient(|| docker.inspect_container(id, None)).await
}

/// `GET /containers/json`, read through [`retry_transient`].
pub(crate) async fn list_containers(
    docker: &Docker,
    options: ListContainersOptions,
) -> Result<Vec<ContainerSummary>, bollard::errors::Error> {
    retry_transient(|| docker.list_containers(Some(options.clone()))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stopped() -> bollard::errors::Error {
        bollard::errors::Error::JsonDataError {
            message: "unknown variant `stopped`, expected one of ``, `created`".to_owned(),
            column: 179,
        }
    }

    #[tokio::test]
    async fn a_transient_state_is_read_again_until_it_passes() {
        let mut calls = 0;
        let answer = retry_transient(|| {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(stopped())
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(answer.unwrap(), 3);
    }

    #[tokio::test]
    async fn other_errors_are_returned_at_once() {
        let mut calls = 0;
        let answer: Result<(), _> = retry_transient(|| {
            calls += 1;
            async {
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 500,
                    message: "boom".to_owned(),
                })
            }
        })
        .await;
        assert!(answer.is_err());
        assert_eq!(calls, 1);
        assert!(transient_state(&stopped()));
    }
}
