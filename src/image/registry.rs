//! [`RegistryImage`]: an image from a registry, pulled according to a [`PullPolicy`],
//! with credentials found as the Docker CLI finds them, bounded by a pull timeout and a
//! stall timeout, and with progress on stderr for slow pulls.

use std::fmt;
use std::time::{Duration, Instant};

use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures::StreamExt;

use super::auth::{self, Resolved};
use super::progress::PullProgress;
use super::reference::Reference;
use super::PreparedImage;
use crate::error::{Error, Result};
use crate::timeouts::scaled;

/// Default limit for a whole pull.
const DEFAULT_PULL_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Default limit for a pull to go without any progress.
const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Pulls shorter than this print nothing.
const QUIET: Duration = Duration::from_secs(1);
/// How often a slow pull's progress is looked at when the daemon is silent.
const TICK: Duration = Duration::from_millis(250);

/// When to pull a [`RegistryImage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PullPolicy {
    /// Use the daemon's copy if it has one, pull otherwise (the default).
    #[default]
    IfMissing,
    /// Pull before every start, so a moved tag (`latest`) is followed.
    Always,
    /// Never pull: the image must already be on the daemon (for offline runs).
    Never,
}

impl fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PullPolicy::IfMissing => "if-missing",
            PullPolicy::Always => "always",
            PullPolicy::Never => "never",
        })
    }
}

/// An image from a registry: `redis:7`, `user/repo`, `ghcr.io/org/app:1.2`,
/// `localhost:5000/x@sha256:…`.
///
/// A plain string given to [`ContainerSpec::new`](crate::ContainerSpec::new) is a
/// `RegistryImage` with the defaults; build one to change them.
///
/// - **Credentials** for the reference's registry come from `DOCKER_AUTH_CONFIG` (a
///   whole Docker `config.json` as text, as GitLab CI sets it), else from
///   `config.json` in `DOCKER_CONFIG` or `~/.docker`: `credHelpers`, `credsStore`
///   (`docker-credential-<name>` must be on `PATH`) and `auths` entries (`auth`,
///   `username`/`password`, `identitytoken`). Images without a host are on Docker Hub,
///   whose key is `https://index.docker.io/v1/`.
/// - **Progress**: a pull that takes more than a second reports each layer's progress
///   on stderr, one line per change, then a summary; fast pulls print nothing.
/// - **Concurrency**: concurrent starts of the same missing reference in one process
///   share one pull (with [`PullPolicy::Always`] their pulls take turns).
///
/// ```no_run
/// use std::time::Duration;
/// use testdock::{ContainerSpec, PullPolicy, RegistryImage};
///
/// # async fn demo() -> testdock::Result<()> {
/// let image = RegistryImage::new("redis:7")
///     .pull_policy(PullPolicy::Always)
///     .pull_timeout(Duration::from_secs(600))
///     .stall_timeout(Duration::from_secs(120));
/// let redis = ContainerSpec::new(image).expose(6379).start().await?;
/// # let _ = redis; Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[must_use]
pub struct RegistryImage {
    reference: String,
    policy: PullPolicy,
    pull_timeout: Duration,
    stall_timeout: Duration,
}

impl RegistryImage {
    /// The image `reference` (`[host[:port]/]path[:tag][@digest]`), pulled if missing,
    /// within 5 minutes, failing after 60 seconds without progress.
    pub fn new(reference: impl Into<String>) -> Self {
        RegistryImage {
            reference: reference.into(),
            policy: PullPolicy::default(),
            pull_timeout: DEFAULT_PULL_TIMEOUT,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
        }
    }

    /// When to pull (default [`PullPolicy::IfMissing`]).
    pub fn pull_policy(mut self, policy: PullPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The limit for a whole pull (default 5 minutes), multiplied by
    /// [`TESTDOCK_TIMEOUT_SCALE`](crate::timeouts).
    pub fn pull_timeout(mut self, limit: Duration) -> Self {
        self.pull_timeout = limit;
        self
    }

    /// How long a pull may go without any progress from the daemon before it fails
    /// (default 60 seconds), multiplied by [`TESTDOCK_TIMEOUT_SCALE`](crate::timeouts).
    pub fn stall_timeout(mut self, limit: Duration) -> Self {
        self.stall_timeout = limit;
        self
    }

    /// The image's name (`[host[:port]/]path[:tag][@digest]`), as given.
    pub fn name(&self) -> &str {
        &self.reference
    }

    /// Pulls the image as its policy says (see [`PreparedImage`]).
    pub async fn prepare(&self) -> Result<PreparedImage> {
        let docker = crate::docker::daemon().await?.client();
        super::traced("registry", prepare(docker, self)).await
    }
}

/// Makes sure the image is on the daemon according to its policy.
pub(crate) async fn prepare(docker: &Docker, image: &RegistryImage) -> Result<PreparedImage> {
    let started = Instant::now();
    let reference = image.reference.as_str();
    let parsed = Reference::parse(reference).map_err(|m| fail(image, started, m, None))?;
    let pulled = match image.policy {
        PullPolicy::Never => {
            if !super::present(docker, reference).await? {
                let message = format!(
                    "it is not on the daemon and the pull policy is `never`: pull it first \
                     (`docker pull {reference}`), or use PullPolicy::IfMissing"
                );
                return Err(fail(image, started, message, None));
            }
            false
        }
        PullPolicy::IfMissing => {
            super::once_per_key(
                reference,
                || super::present(docker, reference),
                || pull(docker, image, &parsed, started),
            )
            .await?
        }
        PullPolicy::Always => {
            super::once_per_key(
                reference,
                || async { Ok(false) },
                || pull(docker, image, &parsed, started),
            )
            .await?
        }
    };
    Ok(PreparedImage::new(reference, !pulled))
}

fn fail(
    image: &RegistryImage,
    started: Instant,
    message: String,
    source: Option<bollard::errors::Error>,
) -> Error {
    Error::Image {
        image: image.reference.clone(),
        message,
        elapsed: started.elapsed(),
        source: source.map(Box::new),
    }
}

/// Pulls `image`, reporting progress for slow pulls, within the pull and stall limits.
async fn pull(
    docker: &Docker,
    image: &RegistryImage,
    parsed: &Reference,
    started: Instant,
) -> Result<()> {
    let registry = parsed.registry();
    let credentials = auth::resolve(registry).await.map_err(|m| {
        let message = format!("finding credentials for the registry `{registry}` failed: {m}");
        fail(image, started, message, None)
    })?;
    let options = CreateImageOptionsBuilder::default()
        .from_image(&parsed.name())
        .tag(parsed.pull_tag())
        .build();
    let mut stream = docker.create_image(Some(options), None, credentials.credentials.clone());

    let (pull_limit, stall_limit) = (scaled(image.pull_timeout), scaled(image.stall_timeout));
    let pull_started = tokio::time::Instant::now();
    let deadline = pull_started + pull_limit;
    let mut last_activity = pull_started;
    let mut progress = PullProgress::new(&image.reference, QUIET);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Progress stays on stderr (a slow pull should not look like a hang), and is an
    // event too.
    let print = |lines: Vec<String>| {
        for line in lines {
            tracing::info!(image = %image.reference, "{line}");
            eprintln!("{line}");
        }
    };
    loop {
        let wake = deadline.min(last_activity + stall_limit);
        tokio::select! {
            item = stream.next() => match item {
                None => break,
                Some(Ok(info)) => {
                    last_activity = tokio::time::Instant::now();
                    let detail = info.progress_detail.as_ref();
                    progress.observe(
                        info.id.as_deref(),
                        info.status.as_deref(),
                        detail.and_then(|d| d.current),
                        detail.and_then(|d| d.total),
                    );
                    print(progress.lines(pull_started.elapsed()));
                }
                Some(Err(e)) => {
                    let mut message = explain(&e, parsed, &credentials);
                    // An image the daemon does not have either: say so, and how else to
                    // get it (offline, no registry will ever answer).
                    if let Ok(false) = super::exists(docker, &image.reference).await {
                        message = not_on_daemon(&image.reference, &message);
                    }
                    return Err(fail(image, started, message, Some(e)));
                }
            },
            () = tokio::time::sleep_until(wake) => {
                let message = if tokio::time::Instant::now() >= deadline {
                    format!(
                        "pulling from `{registry}` did not finish within the pull timeout of \
                         {pull_limit:?} (RegistryImage::pull_timeout, times \
                         TESTDOCK_TIMEOUT_SCALE); it was at: {}",
                        progress.activity()
                    )
                } else {
                    format!(
                        "pulling from `{registry}` made no progress for {stall_limit:?} (the \
                         stall timeout, RegistryImage::stall_timeout, times \
                         TESTDOCK_TIMEOUT_SCALE); it was at: {}",
                        progress.activity()
                    )
                };
                return Err(fail(image, started, message, None));
            }
            _ = tick.tick() => print(progress.lines(pull_started.elapsed())),
        }
    }
    if let Some(line) = progress.summary(pull_started.elapsed()) {
        tracing::info!(image = %image.reference, "{line}");
        eprintln!("{line}");
    }
    Ok(())
}

/// The message for an image that is not on the daemon and could not be pulled
/// (`why`): what else makes it available.
fn not_on_daemon(reference: &str, why: &str) -> String {
    format!(
        "it is not on the daemon, and pulling it failed: {why}. Make it in the test (a \
         `BuildContext` or a `HostImage`), or put it on the daemon first (`docker pull \
         {reference}` where the registry is reachable, `docker load -i <archive>`, or \
         `docker build -t {reference} .`) and start from `LocalImage::new(\"{reference}\")`"
    )
}

/// Phrases of the daemon meaning the registry could not be reached at all.
const UNREACHABLE: &[&str] = &[
    "connection refused",
    "no such host",
    "i/o timeout",
    "network is unreachable",
    "no route to host",
    "connection reset",
    "tls handshake timeout",
    "server misbehaving",
    "dial tcp",
];

/// Phrases of the daemon meaning the registry refused the credentials (or their absence).
const REFUSED: &[&str] = &[
    "unauthorized",
    "authentication required",
    "no basic auth credentials",
    "denied",
    "forbidden",
    "incorrect username or password",
];

/// Turns the daemon's pull error into what happened and what to do; the daemon's own
/// text stays the error's source.
fn explain(error: &bollard::errors::Error, parsed: &Reference, credentials: &Resolved) -> String {
    use bollard::errors::Error as E;
    let registry = parsed.registry();
    let (status, text) = match error {
        E::DockerResponseServerError {
            status_code,
            message,
        } => (Some(*status_code), message.as_str()),
        E::DockerStreamError { error } => (None, error.as_str()),
        _ => return format!("the pull request to the daemon failed (registry `{registry}`)"),
    };
    let origin = &credentials.origin;
    let lower = text.to_ascii_lowercase();
    let has = |phrases: &[&str]| phrases.iter().any(|p| lower.contains(p));
    if lower.contains("http response to https client") {
        format!(
            "the registry `{registry}` speaks plain HTTP but the daemon expects HTTPS: list it \
             in `insecure-registries` in the daemon's daemon.json (127.0.0.0/8 is by default)"
        )
    } else if has(UNREACHABLE) {
        format!(
            "the registry `{registry}` could not be reached from the daemon (no network, no \
             registry at that host and port, or a name the daemon cannot resolve)"
        )
    } else if lower.contains("toomanyrequests") {
        format!(
            "the registry `{registry}` refused because of its rate limit: log in (see \
             DOCKER_AUTH_CONFIG), wait, or use a mirror ({origin})"
        )
    } else if status == Some(404) || lower.contains("manifest unknown") {
        format!(
            "the registry `{registry}` has no `{}`: check the name and the tag ({origin})",
            parsed.in_registry()
        )
    } else if has(REFUSED) {
        let fix = if credentials.credentials.is_some() {
            "check them (user, password or token, and their access to the repository)".to_owned()
        } else {
            format!("set DOCKER_AUTH_CONFIG or run `docker login {registry}`")
        };
        let hub = if registry == super::reference::DOCKER_HUB {
            "; Docker Hub also answers this for an image that does not exist"
        } else {
            ""
        };
        format!(
            "the registry `{registry}` refused access to `{}` ({}): {fix}{hub}",
            parsed.in_registry(),
            credentials.origin
        )
    } else {
        format!("pulling from the registry `{registry}` failed ({origin})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explained(status: Option<u16>, text: &str, reference: &str) -> String {
        let error = match status {
            Some(status_code) => bollard::errors::Error::DockerResponseServerError {
                status_code,
                message: text.to_owned(),
            },
            None => bollard::errors::Error::DockerStreamError {
                error: text.to_owned(),
            },
        };
        let credentials = Resolved {
            credentials: None,
            origin: "no credentials".to_owned(),
        };
        explain(&error, &Reference::parse(reference).unwrap(), &credentials)
    }

    #[test]
    fn daemon_errors_are_explained_with_the_registry_host() {
        let text = explained(
            Some(500),
            "Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused",
            "127.0.0.1:1/x:1",
        );
        assert!(
            text.contains("`127.0.0.1:1` could not be reached"),
            "{text}"
        );
        let text = explained(
            Some(404),
            "manifest for 127.0.0.1:5000/exp/nope:1 not found: manifest unknown",
            "127.0.0.1:5000/exp/nope:1",
        );
        assert!(
            text.contains("`127.0.0.1:5000` has no `exp/nope:1`"),
            "{text}"
        );
        let text = explained(Some(500), "no basic auth credentials", "r.io/a/b:2");
        assert!(
            text.contains("`r.io` refused access to `a/b:2` (no credentials)"),
            "{text}"
        );
        assert!(
            text.contains("docker login r.io") && !text.contains("Docker Hub"),
            "{text}"
        );
        let text = explained(None, "unauthorized: authentication required", "r.io/a");
        assert!(text.contains("refused access to `a:latest`"), "{text}");
        let text = explained(Some(500), "pull access denied for nope", "nope");
        assert!(
            text.contains("`docker.io` refused access to `library/nope:latest`"),
            "{text}"
        );
        assert!(text.contains("Docker Hub also answers this"), "{text}");
        let text = explained(
            Some(500),
            "Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host",
            "redis:7",
        );
        assert!(text.contains("`docker.io` could not be reached"), "{text}");
        let text = explained(
            Some(500),
            "http: server gave HTTP response to HTTPS client",
            "h.io/x",
        );
        assert!(text.contains("insecure-registries"), "{text}");
        let text = explained(Some(500), "toomanyrequests: slow down", "redis");
        assert!(text.contains("rate limit"), "{text}");
    }

    #[test]
    fn the_builder_keeps_defaults_until_changed() {
        let image = RegistryImage::new("redis:7");
        assert_eq!(image.policy, PullPolicy::IfMissing);
        assert_eq!(image.pull_timeout, DEFAULT_PULL_TIMEOUT);
        assert_eq!(image.stall_timeout, DEFAULT_STALL_TIMEOUT);
        let image = image
            .pull_policy(PullPolicy::Never)
            .pull_timeout(Duration::from_secs(1))
            .stall_timeout(Duration::from_secs(2));
        assert_eq!(
            (image.policy, image.pull_timeout, image.stall_timeout),
            (
                PullPolicy::Never,
                Duration::from_secs(1),
                Duration::from_secs(2)
            )
        );
        assert_eq!(image.name(), "redis:7");
        assert_eq!(PullPolicy::Never.to_string(), "never");
    }
}
