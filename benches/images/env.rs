//! What every part of the images bench shares: the daemon, the CLI's settings, and the
//! images this run made, tracked so that the cleanup removes them all and checks that
//! none (nor any of their intermediate build images) remains.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use testdock::bollard::query_parameters::{
    ListImagesOptionsBuilder, RemoveImageOptions, RemoveImageOptionsBuilder,
};
use testdock::bollard::Docker;

use crate::support::leaks::is_404;
use crate::support::Result;
use crate::support::BENCH_LABEL;

/// What every part needs.
#[derive(Debug, Clone)]
pub(crate) struct Env {
    pub(crate) docker: Docker,
    pub(crate) endpoint: String,
    /// DOCKER_HOST for the CLI (`None`: the CLI's own environment).
    pub(crate) cli_host: Option<String>,
    pub(crate) cli_version: String,
    /// Value of [`BENCH_LABEL`], unique to this process.
    pub(crate) run_label: String,
    /// Every image this run made, in creation order.
    pub(crate) created: Arc<Mutex<Vec<Tracked>>>,
}

/// An image this run made: its reference and the ids to check gone at the end (itself
/// and its intermediate build images, down to the base image).
#[derive(Debug, Clone)]
pub(crate) struct Tracked {
    pub(crate) reference: String,
    pub(crate) ids: Vec<String>,
}

impl Env {
    /// Records `reference` as made by this run.
    pub(crate) fn track(&self, reference: &str) {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        if !created.iter().any(|t| t.reference == reference) {
            created.push(Tracked {
                reference: reference.to_owned(),
                ids: Vec::new(),
            });
        }
    }

    /// Records the image's id and, from its history, the local images below it (the
    /// intermediate images of a build) down to (not including) `stop`.
    pub(crate) async fn track_chain(&self, reference: &str, stop: Option<&str>) -> Result<()> {
        let id = self
            .docker
            .inspect_image(reference)
            .await?
            .id
            .unwrap_or_default();
        let mut ids = vec![id.clone()];
        for item in self.docker.image_history(reference).await? {
            if Some(item.id.as_str()) == stop {
                break;
            }
            // Layers not stored as local images are "<missing>".
            if item.id.starts_with("sha256:") && item.id != id {
                ids.push(item.id);
            }
        }
        self.track(reference);
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = created.iter_mut().find(|t| t.reference == reference) {
            t.ids = ids;
        }
        Ok(())
    }
}

/// The tags of the images on the daemon.
pub(crate) async fn image_tags(docker: &Docker) -> Result<HashSet<String>> {
    let images = docker
        .list_images(Some(ListImagesOptionsBuilder::default().build()))
        .await?;
    Ok(images.into_iter().flat_map(|i| i.repo_tags).collect())
}

/// Removes every image this run made (newest first), then checks that none of their
/// ids, nor any image labelled with this run, remains. Returns (tags removed, ids
/// checked, leaks).
pub(crate) async fn remove_images(env: &Env) -> Result<(usize, usize, Vec<String>)> {
    let docker = &env.docker;
    let created = env
        .created
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut leaks = Vec::new();
    for t in created.iter().rev() {
        match docker
            .remove_image(&t.reference, None::<RemoveImageOptions>, None)
            .await
        {
            Ok(_) => {}
            Err(e) if is_404(&e) => {}
            Err(e) => leaks.push(format!("{}: could not be removed: {e}", t.reference)),
        }
    }
    let ids: Vec<&String> = created.iter().flat_map(|t| &t.ids).collect();
    let mut seen = HashSet::new();
    for id in &ids {
        if !seen.insert(id.as_str()) {
            continue;
        }
        match docker.inspect_image(id).await {
            Err(e) if is_404(&e) => {}
            Ok(_) => {
                let force = RemoveImageOptionsBuilder::default().force(true).build();
                let removal = match docker.remove_image(id, Some(force), None).await {
                    Ok(_) => "removed now",
                    Err(_) => "could not be removed",
                };
                leaks.push(format!("image {id} is still there ({removal})"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let filter = HashMap::from([("label", vec![format!("{BENCH_LABEL}={}", env.run_label)])]);
    let labelled = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default()
                .all(true)
                .filters(&filter)
                .build(),
        ))
        .await?;
    for image in labelled {
        let force = RemoveImageOptionsBuilder::default().force(true).build();
        let removal = match docker.remove_image(&image.id, Some(force), None).await {
            Ok(_) => "removed now",
            Err(_) => "could not be removed",
        };
        leaks.push(format!(
            "image {} {:?} labelled {BENCH_LABEL}={} ({removal})",
            image.id, image.repo_tags, env.run_label
        ));
    }
    Ok((created.len(), seen.len(), leaks))
}
