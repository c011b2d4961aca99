//! Which container engine serves the Docker API at the endpoint: Docker, or Podman's
//! compatible service (`podman system service`).
//!
//! Podman answers most of the API as Docker does; where it differs, testdock either
//! sends what both understand (one `changes` parameter per instruction, `repo=name:tag`
//! on import, labelled volumes created before the container that mounts them) or asks
//! [`Daemon::engine`](super::Daemon::engine) and adapts. The README's "Podman" section
//! lists what differs.

use bollard::models::SystemVersion;

/// The engine behind the daemon's API, from its `/version` answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Engine {
    /// Docker Engine (or anything that does not say it is Podman).
    Docker,
    /// Podman's Docker-compatible API service.
    Podman,
}

impl Engine {
    /// The engine that answered `/version` with `version`: Podman when a component's
    /// or the platform's name says `Podman`, else Docker.
    pub(crate) fn of(version: &SystemVersion) -> Engine {
        let podman = |name: Option<&str>| name.is_some_and(|n| n.contains("Podman"));
        let platform = version.platform.as_ref().map(|p| p.name.as_str());
        let component = version
            .components
            .iter()
            .flatten()
            .any(|c| podman(Some(c.name.as_str())));
        if component || podman(platform) {
            Engine::Podman
        } else {
            Engine::Docker
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Engine::Docker => "Docker",
            Engine::Podman => "Podman",
        })
    }
}

#[cfg(test)]
mod tests {
    use bollard::models::{SystemVersion, SystemVersionComponents, SystemVersionPlatform};

    use super::Engine;

    fn version(platform: &str, components: &[&str]) -> SystemVersion {
        SystemVersion {
            platform: Some(SystemVersionPlatform {
                name: platform.to_owned(),
            }),
            components: Some(
                components
                    .iter()
                    .map(|name| SystemVersionComponents {
                        name: (*name).to_owned(),
                        ..SystemVersionComponents::default()
                    })
                    .collect(),
            ),
            ..SystemVersion::default()
        }
    }

    #[test]
    fn podman_is_found_by_a_component_or_the_platform() {
        // Podman 4.3.1's answer: the platform names the distribution.
        let podman4 = version("linux/amd64/debian-12", &["Podman Engine", "Conmon"]);
        assert_eq!(Engine::of(&podman4), Engine::Podman);
        let platform_only = version("Podman Engine", &[]);
        assert_eq!(Engine::of(&platform_only), Engine::Podman);
    }

    #[test]
    fn anything_else_is_docker() {
        let docker = version(
            "Docker Engine - Community",
            &["Engine", "containerd", "runc"],
        );
        assert_eq!(Engine::of(&docker), Engine::Docker);
        assert_eq!(Engine::of(&SystemVersion::default()), Engine::Docker);
        assert_eq!(Engine::Podman.to_string(), "Podman");
    }
}
