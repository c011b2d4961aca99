//! The create request: the container made (detached, so a dropped start cannot leak
//! it), joined to the network this process meets containers on and to the spec's
//! further networks, before anything is copied in or started.

use bollard::query_parameters::CreateContainerOptionsBuilder;

use super::{volumes, Ctx};
use crate::error::{Error, Result, Step};
use crate::spec::ContainerSpec;

/// The create request, then joining the network this process meets containers on.
pub(super) async fn create(
    ctx: &Ctx<'_>,
    spec: &ContainerSpec,
    test_id: &str,
    created_tx: tokio::sync::watch::Sender<bool>,
) -> Result<bollard::models::ContainerCreateResponse> {
    let mut body = spec.create_body(ctx.name, ctx.image, test_id, ctx.daemon.bind_address());
    if let Some(pause) = &ctx.pod {
        ContainerSpec::join_pod(&mut body, &pause.name);
    }
    let options = CreateContainerOptionsBuilder::default()
        .name(ctx.name)
        .build();
    // The create runs detached on the teardown runtime: if this future is dropped while
    // the request is in flight, the daemon still creates the container, and the guard
    // waits for the answer before removing it.
    // An image this process found before and someone removed since: prepared again
    // (per its pull policy or recipe), and the create retried once.
    let volumes = spec.named_volumes();
    let volume_labels = spec.volume_labels(ctx.name, test_id);
    let create = {
        let docker = ctx.docker.clone();
        let source = spec.image.clone();
        let image = ctx.image.to_owned();
        async move {
            // Named volumes first, labelled: Podman ignores a mount's volume labels.
            if let Err(e) = volumes::create_named(&docker, &volumes, volume_labels).await {
                let _ = created_tx.send(true);
                return Ok(Err(e));
            }
            let mut result = docker
                .create_container(Some(options.clone()), body.clone())
                .await;
            if matches!(&result, Err(e) if crate::image::no_such_image(e)) {
                crate::image::forget(&image);
                if let Err(e) = crate::image::ensure(&docker, &source).await {
                    let _ = created_tx.send(true);
                    return Err(e);
                }
                result = docker.create_container(Some(options), body).await;
            }
            let _ = created_tx.send(true);
            Ok(result)
        }
    };
    let created = crate::cleanup::spawn_detached(create)
        .map_err(|source| Error::HostIo {
            action: "start the teardown thread for",
            path: ctx.name.into(),
            target: None,
            error: source,
        })?
        .await
        .expect("the create request does not panic")?
        .map_err(|e| ctx.docker_error(Step::Create, e, None))?;
    let mode = ctx
        .pod
        .as_ref()
        .map(|_| "container:")
        .or(spec.network_mode());
    crate::reach::join_meeting_network(ctx.docker, ctx.daemon, &created.id, mode)
        .await
        .map_err(|e| ctx.docker_error(Step::Create, e, None))?;
    for (network, aliases) in spec.more_networks() {
        let request = bollard::models::NetworkConnectRequest {
            container: created.id.clone(),
            endpoint_config: Some(bollard::models::EndpointSettings {
                aliases: Some(aliases.clone()),
                ..Default::default()
            }),
        };
        ctx.docker
            .connect_network(network, request)
            .await
            .map_err(|e| ctx.docker_error(Step::Create, e, None))?;
    }
    Ok(created)
}
