//! The images of the benches, made from the host's static busybox (no registry is
//! needed): with a few applets or all of them, imported once before timing through
//! testdock, and removed at the end when the run imported them.

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use testdock::bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptions};
use testdock::bollard::Docker;
use testdock::{labels, ContainerSpec, HostImage, ImageSource, Probe};

use super::leaks::label_filter;
use super::Result;

/// Where the benches expect a static busybox (Debian's `busybox-static`).
pub const BUSYBOX: &str = "/bin/busybox";

/// The static busybox's applets (`busybox --list`, read once).
pub fn applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = std::process::Command::new(BUSYBOX)
            .arg("--list")
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default();
        String::from_utf8_lossy(&out)
            .lines()
            .filter(|a| !a.is_empty() && *a != "busybox")
            .map(str::to_owned)
            .collect()
    })
}

/// The static busybox with `applets` as symlinks in `/bin`.
pub fn busybox_with(applets: &[&str]) -> HostImage {
    let mut image = HostImage::new().binary_at(BUSYBOX, "/bin/busybox");
    for applet in applets {
        image = image.symlink(format!("/bin/{applet}"), "busybox");
    }
    image
}

/// Busybox with all its applets as symlinks in `/bin` (the recipe of `tests/common`),
/// made once per process.
pub fn busybox_all() -> HostImage {
    static IMAGE: OnceLock<HostImage> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let mut image = HostImage::new().binary_at(BUSYBOX, "/bin/busybox");
            for applet in applets() {
                image = image.symlink(format!("/bin/{applet}"), "busybox");
            }
            image
        })
        .clone()
}

/// An image imported before timing.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The reference testdock creates containers from (the raw variants use it too, so
    /// that every variant runs the identical image).
    pub reference: String,
    /// How long the import (or the check that it was there) took.
    pub took: Duration,
    /// Whether this run imported it (and so removes it at the end).
    pub imported_here: bool,
}

/// Imports `image` through testdock, as the timed runs will: one container of test
/// `test_id` is started (`echo ready; exec sleep 1000`) and removed.
pub async fn import(
    docker: &Docker,
    image: impl Into<ImageSource>,
    test_id: &str,
) -> Result<Imported> {
    let known = managed_image_tags(docker)
        .await
        .map_err(|e| format!("listing images: {e}"))?;
    let started = Instant::now();
    let reference = async {
        let c = ContainerSpec::new(image)
            .cmd(["sh", "-c", "echo ready; exec sleep 1000"])
            .wait_for(Probe::log("ready"))
            .test_id(test_id)
            .start()
            .await?;
        let reference = c.image().to_owned();
        c.remove().await?;
        Ok::<_, testdock::Error>(reference)
    }
    .await
    .map_err(|e| format!("importing the image (first start): {e}"))?;
    Ok(Imported {
        took: started.elapsed(),
        imported_here: !known.contains(&reference),
        reference,
    })
}

impl Imported {
    /// What the caption says of the image's import.
    pub fn how(&self) -> &'static str {
        if self.imported_here {
            "imported"
        } else {
            "already present, checked"
        }
    }

    /// Removes the image if this run imported it, saying so.
    pub async fn remove_if_imported(&self, docker: &Docker) {
        if !self.imported_here {
            return;
        }
        let reference = &self.reference;
        match docker
            .remove_image(reference, None::<RemoveImageOptions>, None)
            .await
        {
            Ok(_) => println!("image {reference}: imported by this run, removed"),
            Err(e) => {
                eprintln!("image {reference}: imported by this run, could not be removed: {e}")
            }
        }
    }
}

/// The tags of the testdock-labelled images on the daemon.
pub async fn managed_image_tags(docker: &Docker) -> Result<HashSet<String>> {
    let filter = label_filter(format!(
        "{}={}",
        labels::MANAGED_BY,
        labels::MANAGED_BY_VALUE
    ));
    let images = docker
        .list_images(Some(
            ListImagesOptionsBuilder::default().filters(&filter).build(),
        ))
        .await?;
    Ok(images.into_iter().flat_map(|i| i.repo_tags).collect())
}
