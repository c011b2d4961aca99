//! The config of an imported image (`ENTRYPOINT`, `CMD`, `ENV`, `USER`, `WORKDIR`),
//! shared by the image sources that import a filesystem rather than build one.

/// An image's config, turned into the import's `changes` (Dockerfile instructions).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub(crate) struct ImageConfig {
    pub(crate) entrypoint: Option<Vec<String>>,
    pub(crate) cmd: Option<Vec<String>>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) user: Option<String>,
    pub(crate) workdir: Option<String>,
}

/// Collects an argument list.
pub(crate) fn strings<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    items.into_iter().map(Into::into).collect()
}

impl ImageConfig {
    /// The config as `changes`, starting with testdock's label.
    pub(crate) fn changes(&self) -> Vec<String> {
        let json = |v: &Vec<String>| serde_json::to_string(v).expect("strings serialise");
        let mut changes = vec![format!(
            "LABEL {}={}",
            crate::labels::MANAGED_BY,
            crate::labels::MANAGED_BY_VALUE
        )];
        if let Some(e) = &self.entrypoint {
            changes.push(format!("ENTRYPOINT {}", json(e)));
        }
        if let Some(c) = &self.cmd {
            changes.push(format!("CMD {}", json(c)));
        }
        for (k, v) in &self.env {
            changes.push(format!("ENV {k}={}", serde_json::Value::from(v.as_str())));
        }
        if let Some(u) = &self.user {
            changes.push(format!("USER {u}"));
        }
        if let Some(w) = &self.workdir {
            changes.push(format!("WORKDIR {w}"));
        }
        changes
    }
}

/// The builder methods of an image type holding an `ImageConfig` in field `config`.
/// They are named `default_*`: they set what the *image* says (what `docker run`
/// would use), which a [`ContainerSpec`](crate::ContainerSpec)'s `cmd`, `entrypoint`,
/// `env`, `user` and `workdir` override per container.
macro_rules! image_config_methods {
    () => {
        /// The image's `ENTRYPOINT` (a spec's `entrypoint` overrides it).
        pub fn default_entrypoint<I, S>(mut self, entrypoint: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.config.entrypoint = Some(super::config::strings(entrypoint));
            self
        }

        /// The image's `CMD` (a spec's `cmd` overrides it).
        pub fn default_cmd<I, S>(mut self, cmd: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.config.cmd = Some(super::config::strings(cmd));
            self
        }

        /// An environment variable of the image (a spec's `env` adds to and overrides it).
        pub fn default_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
            self.config.env.push((key.into(), value.into()));
            self
        }

        /// The image's `USER` (a spec's `user` overrides it).
        pub fn default_user(mut self, user: impl Into<String>) -> Self {
            self.config.user = Some(user.into());
            self
        }

        /// The image's `WORKDIR` (a spec's `workdir` overrides it).
        pub fn default_workdir(mut self, dir: impl Into<String>) -> Self {
            self.config.workdir = Some(dir.into());
            self
        }
    };
}
pub(crate) use image_config_methods;
