//! Where a service's image comes from: the official registry image or host binaries,
//! chosen by [`ServiceSource`] (builder, else `TESTDOCK_SERVICES`, else `auto`), with one
//! error listing everything tried when nothing works.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::image::{HostImage, ImageSource, LocalImage, RegistryImage};

/// Environment variable: the image source of every service whose builder does not
/// choose one: `auto` (the default), `host` or `registry`.
pub const SOURCE_ENV: &str = "TESTDOCK_SERVICES";

/// Where a service's image comes from.
///
/// | source | image |
/// |---|---|
/// | [`Auto`](Self::Auto) | the official image if the daemon has it, else host binaries if the host has them, else the official image pulled |
/// | [`Host`](Self::Host) | host binaries (a Debian package's files) packed into an image: no registry |
/// | [`Registry`](Self::Registry) | the official image (`postgres:16-alpine`, `redis:7-alpine`), pulled if missing |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ServiceSource {
    /// Local official image, then host binaries, then a pull.
    #[default]
    Auto,
    /// Host binaries only.
    Host,
    /// The official registry image only.
    Registry,
}

impl ServiceSource {
    /// The source `TESTDOCK_SERVICES` asks for: `None` when unset or empty, an
    /// [`Error::Config`] for any other value than `auto`, `host` or `registry`.
    pub fn from_env() -> Result<Option<ServiceSource>> {
        let Ok(value) = std::env::var(SOURCE_ENV) else {
            return Ok(None);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "auto" => Ok(Some(ServiceSource::Auto)),
            "host" => Ok(Some(ServiceSource::Host)),
            "registry" => Ok(Some(ServiceSource::Registry)),
            other => Err(Error::Config {
                message: format!(
                    "{SOURCE_ENV}={other:?} is not a service source; use `auto`, `host` or `registry`"
                ),
            }),
        }
    }

    /// The source in effect: `chosen` (a builder's), else `TESTDOCK_SERVICES`, else
    /// [`Auto`](Self::Auto).
    pub fn resolve(chosen: Option<ServiceSource>) -> Result<ServiceSource> {
        match chosen {
            Some(source) => Ok(source),
            None => Ok(ServiceSource::from_env()?.unwrap_or_default()),
        }
    }
}

impl fmt::Display for ServiceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServiceSource::Auto => "auto",
            ServiceSource::Host => "host",
            ServiceSource::Registry => "registry",
        })
    }
}

/// The images a service can run from, and how to get each: what a service gives
/// [`choose`](Self::choose) to find its image under a [`ServiceSource`].
///
/// ```no_run
/// use testdock::services::{ImageChoice, ServiceSource};
/// use testdock::HostImage;
///
/// # async fn demo() -> testdock::Result<()> {
/// let choice = ImageChoice::new("memcached", "memcached:1.6-alpine").host(
///     HostImage::new().binary_at("/usr/bin/memcached", "/usr/local/bin/memcached"),
///     ["/usr/bin/memcached"],
///     "apt-get install memcached",
/// );
/// let image = choice.choose(None).await?; // builder's choice, else TESTDOCK_SERVICES
/// # let _ = image; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ImageChoice {
    service: String,
    registry: String,
    host: Option<HostChoice>,
}

#[derive(Debug, Clone)]
struct HostChoice {
    image: HostImage,
    needs: Vec<PathBuf>,
    install: String,
}

impl ImageChoice {
    /// `service` (named in errors, e.g. `PostgreSQL 16`) whose official image is
    /// `registry` (e.g. `postgres:16-alpine`).
    pub fn new(service: impl Into<String>, registry: impl Into<String>) -> Self {
        ImageChoice {
            service: service.into(),
            registry: registry.into(),
            host: None,
        }
    }

    /// The image made from host binaries, usable when every path in `needs` exists on
    /// the host; `install` is the command that provides them (`apt-get install ...`).
    /// The image must behave as the official one does for the service's spec (same
    /// entrypoint contract: environment variables, paths, arguments).
    pub fn host<P: Into<PathBuf>>(
        mut self,
        image: HostImage,
        needs: impl IntoIterator<Item = P>,
        install: impl Into<String>,
    ) -> Self {
        self.host = Some(HostChoice {
            image,
            needs: needs.into_iter().map(Into::into).collect(),
            install: install.into(),
        });
        self
    }

    /// The official image's reference.
    pub fn registry_reference(&self) -> &str {
        &self.registry
    }

    /// The image to start from under `source` (see [`ServiceSource::resolve`]). With
    /// `auto`, looks at the daemon (one inspect) and the host (file checks) and pulls as
    /// the last resort, so the registry image is present when it is chosen. When nothing
    /// works: [`Error::ServiceUnavailable`] listing each source tried, why it failed and
    /// the command that fixes it.
    pub async fn choose(&self, source: Option<ServiceSource>) -> Result<ImageSource> {
        let source = ServiceSource::resolve(source)?;
        let mut tried = Vec::new();
        match source {
            ServiceSource::Registry => return Ok(RegistryImage::new(&self.registry).into()),
            ServiceSource::Host => match self.host_image() {
                Ok(image) => return Ok(image),
                Err(why) => tried.push(format!(
                    "{why}; or run the official image `{}` instead: `TESTDOCK_SERVICES=registry` \
                     (or `auto`), or `.source(ServiceSource::Registry)` on the builder",
                    self.registry
                )),
            },
            ServiceSource::Auto => {
                let docker = crate::docker::daemon().await?.client();
                if crate::image::exists(docker, &self.registry).await? {
                    return Ok(ImageSource::Local(LocalImage::new(&self.registry)));
                }
                tried.push(format!(
                    "the official image `{}` on the daemon: not there (fix: `docker pull {}`, \
                     or `docker load` it where no registry is reachable)",
                    self.registry, self.registry
                ));
                match self.host_image() {
                    Ok(image) => return Ok(image),
                    Err(why) => tried.push(why),
                }
                let pull = RegistryImage::new(&self.registry);
                match pull.prepare().await {
                    Ok(_) => return Ok(pull.into()),
                    Err(e) => tried.push(format!(
                        "pulling `{}`: {e} (fix: make its registry reachable, log in with \
                         `docker login`, or pick another version)",
                        self.registry
                    )),
                }
            }
        }
        Err(Error::ServiceUnavailable {
            service: self.service.clone(),
            choice: source.to_string(),
            tried,
        })
    }

    /// The host image, or why there is none and how to get it.
    fn host_image(&self) -> std::result::Result<ImageSource, String> {
        let Some(host) = &self.host else {
            return Err(format!(
                "host binaries: testdock cannot make {} from host files (fix: \
                 `TESTDOCK_SERVICES=registry`)",
                self.service
            ));
        };
        let missing: Vec<String> = host
            .needs
            .iter()
            .filter(|p| !p.exists())
            .map(|p| format!("`{}`", p.display()))
            .collect();
        if missing.is_empty() {
            return Ok(host.image.clone().into());
        }
        Err(format!(
            "host binaries: {} not found (fix: `{}`)",
            missing.join(", "),
            host.install
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_host_binary_names_the_file_and_the_package() {
        let choice = ImageChoice::new("PostgreSQL 99", "postgres:99-alpine").host(
            HostImage::new(),
            ["/bin/sh", "/nonexistent/postgres"],
            "apt-get install postgresql-99",
        );
        let why = choice.host_image().unwrap_err();
        assert!(why.contains("`/nonexistent/postgres` not found"), "{why}");
        assert!(why.contains("apt-get install postgresql-99"), "{why}");
        assert!(!why.contains("/bin/sh"), "{why}");
    }

    #[test]
    fn sources_print_as_the_env_var_spells_them() {
        assert_eq!(ServiceSource::Auto.to_string(), "auto");
        assert_eq!(ServiceSource::Registry.to_string(), "registry");
        assert_eq!(
            ServiceSource::resolve(Some(ServiceSource::Host)).unwrap(),
            ServiceSource::Host
        );
    }
}
