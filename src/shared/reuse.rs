//! Reuse across runs (`TESTDOCK_REUSE=1`): a shared fixture's container outlives the run
//! and the next run adopts it instead of starting another, when its spec is the same.
//!
//! The container is named after the fixture's key and its spec's fingerprint (see
//! `ContainerSpec::fingerprint`: image id, command, env, ports, mounts, files, probe...),
//! so a run looks it up by name, and two processes starting it at once create one (the
//! second create is refused with 409 and waits for the first). It is labelled
//! `testdock.reuse=<fingerprint>` and has no owner: no reaper, teardown or stale sweep
//! removes it ([`Ownership::Reused`](crate::prune::Ownership::Reused)); `testdock prune
//! --reused` or `--all` does.
//!
//! Adopting it is not trusting it: it must pass its readiness probe again. One that
//! exited or died is removed and started afresh; one that runs but fails its probe is
//! replaced once.

use bollard::Docker;
use once_cell::sync::Lazy;

use crate::cleanup::{remove_container, Target};
use crate::container::Container;
use crate::error::{Error, Result, Step};
use crate::labels;
use crate::spec::{ContainerSpec, Holder, Sharing};

/// Environment variable that turns reuse across runs on: `1` (or `true`, `yes`, `on`).
/// Ignored, with a note on stderr, when `CI` is set.
pub const REUSE_ENV: &str = "TESTDOCK_REUSE";

/// Whether this process reuses shared containers across runs (read once).
pub(super) fn enabled() -> bool {
    static ENABLED: Lazy<bool> = Lazy::new(|| {
        let var = |name: &str| std::env::var(name).ok();
        match decide(var(REUSE_ENV).as_deref(), var("CI").as_deref()) {
            Ok(reuse) => reuse,
            Err(note) => {
                // Kept on stderr: a setting is being ignored, and only the user can fix it.
                tracing::warn!(%note, "not reusing containers across runs");
                eprintln!("testdock: {note}");
                false
            }
        }
    });
    *ENABLED
}

/// Whether `TESTDOCK_REUSE` (`reuse`) asks for reuse and may have it, given `CI`: `Err`
/// is the note saying why a request is ignored.
fn decide(reuse: Option<&str>, ci: Option<&str>) -> std::result::Result<bool, String> {
    let asked = match reuse.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "0" | "false" | "no" | "off") => return Ok(false),
        Some("1" | "true" | "yes" | "on") => true,
        Some(other) => {
            return Err(format!(
                "{REUSE_ENV}=`{other}` is ignored: expected `1` to reuse shared containers \
                 across runs, or `0`"
            ))
        }
    };
    match ci {
        Some(ci) if !ci.is_empty() => Err(format!(
            "{REUSE_ENV} is ignored because CI is set: shared containers are started \
             afresh and removed when the run ends"
        )),
        _ => Ok(asked),
    }
}

/// Starts shared fixture `key`'s container from `spec`, or adopts the one an earlier
/// run left with the same fingerprint.
pub(super) async fn start(key: &str, mut spec: ContainerSpec) -> Result<Container> {
    let daemon = crate::docker::daemon().await?;
    let docker = daemon.client();
    let started = std::time::Instant::now();
    let reference = crate::image::ensure(docker, &spec.image).await?;
    let image_id = docker
        .inspect_image(&reference)
        .await
        .map_err(|e| Error::Image {
            image: reference.clone(),
            message: "cannot read its id, which a reused container is matched by".to_owned(),
            elapsed: started.elapsed(),
            source: Some(Box::new(e)),
        })?
        .id
        .unwrap_or_else(|| reference.clone());
    let hash = spec
        .fingerprint(&image_id, daemon.bind_address())
        .map_err(|e| e.into_error(&format!("(not created) the shared container `{key}`")))?;
    // The image is there now: the start below looks it up by reference (one inspect)
    // instead of preparing it again (a host image would hash its files a second time).
    // The fingerprint is of the image id, so it is the same either way.
    spec.image = crate::image::ImageSource::Local(crate::image::LocalImage::new(&reference));
    let name = super::fixed_name("testdock-reuse", key, &hash[..12]);
    let earlier = running(docker, &name, &reference, &hash).await?;
    spec.sharing = Some(Sharing {
        name: name.clone(),
        key: key.to_owned(),
        holder: Holder::Reuse(hash),
    });
    if earlier == Some(false) {
        tracing::info!(container = %name, "a reused container has stopped: starting it afresh");
        remove(docker, &name).await?;
    }
    // Creates it; or, as the name is taken, waits until the one there runs and passes
    // its probe (an earlier run's, or another process's starting it now).
    match spec.clone().start().await {
        Err(error) if earlier == Some(true) => {
            // Kept on stderr: a container of an earlier run is being thrown away.
            tracing::warn!(container = %name, %error, "a reused container is not ready: replacing it");
            eprintln!("testdock: the reused container {name} is not ready ({error}); replacing it");
            remove(docker, &name).await?;
            spec.start().await
        }
        result => result,
    }
}

/// Whether container `name`, reused with spec hash `hash`, runs (`None`: there is
/// none). A container of that name with another hash (made by hand, or a collision of
/// the name's 12 digits) is refused, never adopted.
async fn running(docker: &Docker, name: &str, image: &str, hash: &str) -> Result<Option<bool>> {
    match crate::docker::compat::inspect_container(docker, name).await {
        Ok(info) => {
            let labels = info.config.and_then(|c| c.labels).unwrap_or_default();
            let found = labels.get(labels::REUSE).map_or("", String::as_str);
            if found != hash {
                return Err(Error::InvalidInput {
                    container: name.to_owned(),
                    message: format!(
                        "this name is taken by a container that is not the reused one of \
                         this spec (label {}=`{found}`, expected `{hash}`): remove it \
                         (`docker rm -f {name}`)",
                        labels::REUSE
                    ),
                });
            }
            Ok(Some(info.state.and_then(|s| s.running) == Some(true)))
        }
        Err(e) if crate::error::status_of(&e) == Some(404) => Ok(None),
        Err(e) => Err(Error::Docker {
            step: Step::Inspect,
            container: name.to_owned(),
            image: image.to_owned(),
            elapsed: std::time::Duration::ZERO,
            logs: None,
            source: Box::new(e),
        }),
    }
}

/// Removes container `name` (with its anonymous volumes), if it is there.
async fn remove(docker: &Docker, name: &str) -> Result<()> {
    let target = Target {
        name: name.to_owned(),
        volumes: Vec::new(),
        created: None,
    };
    remove_container(docker, &target)
        .await
        .map_err(|e| Error::Cleanup {
            action: "remove",
            resource: format!("container `{name}`"),
            source: Box::new(e),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuse_is_opt_in() {
        assert_eq!(decide(None, None), Ok(false));
        assert_eq!(decide(Some(""), None), Ok(false));
        assert_eq!(decide(Some("0"), None), Ok(false));
        assert_eq!(decide(Some("off"), None), Ok(false));
        assert_eq!(decide(Some("1"), None), Ok(true));
        assert_eq!(decide(Some(" True "), None), Ok(true));
    }

    #[test]
    fn ci_turns_it_off_with_a_note() {
        let note = decide(Some("1"), Some("true")).unwrap_err();
        assert!(note.contains("because CI is set"), "{note}");
        assert_eq!(decide(Some("1"), Some("")), Ok(true), "CI set but empty");
        // Not asked for: nothing to say.
        assert_eq!(decide(None, Some("true")), Ok(false));
    }

    #[test]
    fn a_value_that_means_nothing_is_refused_with_a_note() {
        let note = decide(Some("please"), None).unwrap_err();
        assert!(
            note.contains("TESTDOCK_REUSE=`please` is ignored"),
            "{note}"
        );
    }
}
