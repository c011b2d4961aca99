//! What is learnt of a started container: why it stopped, and where it is reached.

use std::time::{Duration, Instant};

use super::Ctx;
use crate::error::{Error, Result, Step};
use crate::ports::PortMap;
use crate::spec::ContainerSpec;

/// The error for a container that stopped while it was being waited for.
pub(super) async fn exited(ctx: &Ctx<'_>, id: &str, step: Step) -> Error {
    let logs = crate::logs::tail(ctx.docker, id).await;
    // The log stream ends as the process goes, a moment before the daemon records the
    // exit; and an OOM kill may be recorded a moment after the exit. Wait for both.
    let mut backoff = crate::probe::Backoff::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let state = match crate::docker::compat::inspect_container(ctx.docker, id).await {
            Ok(info) => info.state.unwrap_or_default(),
            Err(e) => return ctx.docker_error(Step::Inspect, e, Some(logs)),
        };
        let settled = state.running != Some(true)
            && (state.exit_code != Some(137) || state.oom_killed == Some(true));
        if settled || Instant::now() >= deadline {
            return Error::Exited {
                step,
                container: ctx.name.to_owned(),
                image: ctx.image.to_owned(),
                exit_code: state.exit_code.unwrap_or(-1),
                oom_killed: state.oom_killed.unwrap_or(false),
                elapsed: ctx.started.elapsed(),
                logs,
            };
        }
        backoff.wait().await;
    }
}

/// Where this process reaches the started container `id`, and its ports there.
pub(super) async fn address(
    ctx: &Ctx<'_>,
    spec: &ContainerSpec,
    id: &str,
) -> Result<(String, PortMap)> {
    if let Some(pause) = &ctx.pod {
        // In a pooled namespace: the pause's IP, and every port is itself.
        let ports = spec
            .ports
            .iter()
            .map(|p| ((p.number, p.protocol), p.number));
        return Ok((pause.ip.clone(), ports.collect()));
    }
    let needs_inspect = !spec.ports.is_empty() || ctx.daemon.meeting_network().is_some();
    if !needs_inspect {
        return Ok((ctx.daemon.host().to_owned(), PortMap::new()));
    }
    let info = crate::docker::compat::inspect_container(ctx.docker, id)
        .await
        .map_err(|e| ctx.docker_error(Step::Inspect, e, None))?;
    Ok(crate::reach::address(ctx.daemon, &info))
}
