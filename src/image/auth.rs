//! Registry credentials, found the way the Docker CLI finds them.
//!
//! Sources, first match wins:
//!
//! 1. `DOCKER_AUTH_CONFIG`: the text of a Docker `config.json` (as GitLab CI passes it).
//! 2. `<docker config dir>/config.json` (`DOCKER_CONFIG`, else `$HOME/.docker`).
//!
//! Within one config: `credHelpers[host]`, then `credsStore` (both run
//! `docker-credential-<name> get`), then `auths[host]` (base64 `auth` of `user:pass`,
//! `username`/`password`, `identitytoken`, `registrytoken`). `auths` keys match by host,
//! so `https://host:5000/v1/` and `host:5000` are the same; Docker Hub's key is
//! `https://index.docker.io/v1/`. When a helper has nothing for the host, the `auths`
//! entry of the same config is used.
//!
//! Everything but [`resolve`] and [`run_helper`] is pure: it works on an [`AuthSnapshot`]
//! so it is tested without Docker, files or helper programs.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use bollard::auth::DockerCredentials;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::reference::{normalize_registry, DOCKER_HUB};

/// The key Docker Hub's credentials are stored under, and its helper server URL.
pub(crate) const HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// The environment variable holding a whole Docker config.
pub(crate) const AUTH_CONFIG_ENV: &str = "DOCKER_AUTH_CONFIG";

/// How long a credential helper may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// What credential lookup reads from the environment and the file system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AuthSnapshot {
    /// `DOCKER_AUTH_CONFIG`, if set and not empty.
    pub(crate) auth_config_env: Option<String>,
    /// The path of `config.json` and its text, if the file exists.
    pub(crate) config_file: Option<(PathBuf, String)>,
    /// Where `config.json` was looked for (even if it does not exist).
    pub(crate) config_path: Option<PathBuf>,
}

/// Username and secret for one registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) identity_token: Option<String>,
    pub(crate) registry_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<hidden>");
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &hidden(&self.password))
            .field("identity_token", &hidden(&self.identity_token))
            .field("registry_token", &hidden(&self.registry_token))
            .finish()
    }
}

impl Credentials {
    fn is_empty(&self) -> bool {
        self.username.is_none()
            && self.password.is_none()
            && self.identity_token.is_none()
            && self.registry_token.is_none()
    }

    /// The daemon's form, for `X-Registry-Auth`.
    pub(crate) fn to_docker(&self, registry: &str) -> DockerCredentials {
        DockerCredentials {
            username: self.username.clone(),
            password: self.password.clone(),
            identitytoken: self.identity_token.clone(),
            registrytoken: self.registry_token.clone(),
            serveraddress: Some(server_url(registry)),
            ..Default::default()
        }
    }
}

/// One parsed Docker config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DockerConfig {
    /// Where it came from (`DOCKER_AUTH_CONFIG` or a path), for messages.
    pub(crate) origin: String,
    auths: Vec<(String, Credentials)>,
    cred_helpers: Vec<(String, String)>,
    creds_store: Option<String>,
}

/// What to do for a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// No source has credentials: pull anonymously. Names what was searched.
    Anonymous { searched: String },
    /// Credentials written in a config.
    Found {
        credentials: Credentials,
        origin: String,
    },
    /// Ask `docker-credential-<helper> get`; `fallback` is the same config's `auths` entry.
    Helper {
        helper: String,
        server_url: String,
        origin: String,
        fallback: Option<Credentials>,
    },
}

/// The credentials to pull with, and a description of where they came from. (No
/// `Debug`: bollard's credentials would print the password.)
pub(crate) struct Resolved {
    /// `None` to pull anonymously.
    pub(crate) credentials: Option<DockerCredentials>,
    /// "credentials for `host` from …" or "no credentials for `host` in …".
    pub(crate) origin: String,
}

/// The server URL a helper is asked about (and `serveraddress`): Docker Hub's key, or
/// the host.
pub(crate) fn server_url(registry: &str) -> String {
    if normalize_registry(registry) == DOCKER_HUB {
        HUB_AUTH_KEY.to_owned()
    } else {
        registry.to_owned()
    }
}

/// The registry host an `auths` or `credHelpers` key stands for: scheme and path
/// stripped, Docker Hub's aliases normalised.
fn key_host(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    normalize_registry(rest.split('/').next().unwrap_or(rest))
}

impl AuthSnapshot {
    /// The configs to search, in order.
    pub(crate) fn configs(&self) -> Result<Vec<DockerConfig>, String> {
        let mut configs = Vec::new();
        if let Some(text) = &self.auth_config_env {
            configs.push(parse_config(AUTH_CONFIG_ENV, text)?);
        }
        if let Some((path, text)) = &self.config_file {
            configs.push(parse_config(&path.display().to_string(), text)?);
        }
        Ok(configs)
    }

    fn searched(&self) -> String {
        let env = match &self.auth_config_env {
            Some(_) => AUTH_CONFIG_ENV.to_owned(),
            None => format!("{AUTH_CONFIG_ENV} (unset)"),
        };
        let file = match (&self.config_file, &self.config_path) {
            (Some((path, _)), _) => path.display().to_string(),
            (None, Some(path)) => format!("{} (absent)", path.display()),
            (None, None) => "config.json (neither DOCKER_CONFIG nor HOME is set)".to_owned(),
        };
        format!("{env} or {file}")
    }
}

/// Parses the text of a Docker config; `origin` names it in errors.
pub(crate) fn parse_config(origin: &str, text: &str) -> Result<DockerConfig, String> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| format!("{origin} is not valid JSON ({e}); expected a Docker config such as {{\"auths\": {{\"host:port\": {{\"auth\": \"<base64 of user:password>\"}}}}}}"))?;
    let object = value
        .as_object()
        .ok_or_else(|| format!("{origin} is not a JSON object"))?;
    let string_map = |field: &str| -> Result<Vec<(String, String)>, String> {
        match object.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v.as_str() {
                    Some(s) => Ok((k.clone(), s.to_owned())),
                    None => Err(format!("{origin}: `{field}.{k}` must be a string")),
                })
                .collect(),
            Some(_) => Err(format!("{origin}: `{field}` must be an object")),
        }
    };
    let mut auths = Vec::new();
    match object.get("auths") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (key, entry) in map {
                auths.push((key.clone(), parse_entry(origin, key, entry)?));
            }
        }
        Some(_) => return Err(format!("{origin}: `auths` must be an object")),
    }
    let creds_store = match object.get("credsStore") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(format!("{origin}: `credsStore` must be a string")),
    };
    Ok(DockerConfig {
        origin: origin.to_owned(),
        auths,
        cred_helpers: string_map("credHelpers")?,
        creds_store,
    })
}

fn parse_entry(origin: &str, key: &str, entry: &Value) -> Result<Credentials, String> {
    let field = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut credentials = Credentials {
        username: field("username"),
        password: field("password"),
        identity_token: field("identitytoken"),
        registry_token: field("registrytoken"),
    };
    if let Some(auth) = field("auth") {
        let bad = |why: &str| {
            format!("{origin}: `auths.{key}.auth` {why}; it must be the base64 of `user:password`")
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad("is not valid base64"))?;
        let text = String::from_utf8(decoded).map_err(|_| bad("is not UTF-8 once decoded"))?;
        let (user, password) = text.split_once(':').ok_or_else(|| bad("has no `:`"))?;
        credentials.username = Some(user.to_owned());
        credentials.password = Some(password.to_owned());
    }
    Ok(credentials)
}

/// Decides where the credentials for `registry` (normalised: `docker.io` for Docker Hub)
/// come from.
pub(crate) fn lookup(registry: &str, snapshot: &AuthSnapshot) -> Result<Lookup, String> {
    let registry = normalize_registry(registry);
    for config in snapshot.configs()? {
        let entry = find_auth(&config, registry);
        let helper = config
            .cred_helpers
            .iter()
            .find(|(key, _)| key_host(key) == registry)
            .map(|(_, h)| (h.clone(), format!("credHelpers in {}", config.origin)))
            .or_else(|| {
                let store = config.creds_store.clone()?;
                Some((store, format!("credsStore in {}", config.origin)))
            });
        if let Some((helper, origin)) = helper {
            return Ok(Lookup::Helper {
                helper,
                server_url: server_url(registry),
                origin,
                fallback: entry.cloned(),
            });
        }
        if let Some(credentials) = entry {
            return Ok(Lookup::Found {
                credentials: credentials.clone(),
                origin: config.origin.clone(),
            });
        }
    }
    Ok(Lookup::Anonymous {
        searched: snapshot.searched(),
    })
}

/// The `auths` entry for `registry` with actual credentials: an exact key first, then
/// any key naming the same host.
fn find_auth<'a>(config: &'a DockerConfig, registry: &str) -> Option<&'a Credentials> {
    let usable = |(_, c): &&(String, Credentials)| !c.is_empty();
    let exact = server_url(registry);
    config
        .auths
        .iter()
        .filter(usable)
        .find(|(key, _)| *key == exact)
        .or_else(|| {
            config
                .auths
                .iter()
                .filter(usable)
                .find(|(key, _)| key_host(key) == registry)
        })
        .map(|(_, c)| c)
}

/// Reads a helper's answer to `get`: `Ok(None)` when it has no credentials for the
/// server. A `Username` of `<token>` means the secret is an identity token.
pub(crate) fn parse_helper_output(
    helper: &str,
    success: bool,
    stdout: &str,
    stderr: &str,
) -> Result<Option<Credentials>, String> {
    let program = format!("docker-credential-{helper}");
    if !success {
        let said = if stdout.trim().is_empty() {
            stderr.trim()
        } else {
            stdout.trim()
        };
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!("`{program} get` failed: {said}"));
    }
    let value: Value = serde_json::from_str(stdout.trim()).map_err(|e| {
        format!("`{program} get` printed something that is not JSON ({e}); expected {{\"Username\": …, \"Secret\": …}}")
    })?;
    let text = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (username, secret) = (text("Username"), text("Secret"));
    if secret.is_none() {
        return Ok(None);
    }
    Ok(Some(if username.as_deref() == Some("<token>") {
        Credentials {
            identity_token: secret,
            ..Default::default()
        }
    } else {
        Credentials {
            username,
            password: secret,
            ..Default::default()
        }
    }))
}

/// Reads `DOCKER_AUTH_CONFIG`, `DOCKER_CONFIG`, `HOME` and the config file.
pub(crate) async fn snapshot_from_process() -> Result<AuthSnapshot, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let config_dir = var("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".docker")));
    let config_path = config_dir.map(|dir| dir.join("config.json"));
    let config_file = match &config_path {
        None => None,
        Some(path) => match tokio::fs::read_to_string(path).await {
            Ok(text) => Some((path.clone(), text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        },
    };
    Ok(AuthSnapshot {
        auth_config_env: var(AUTH_CONFIG_ENV),
        config_file,
        config_path,
    })
}

/// The credentials to pull from `registry` with, from the process environment.
pub(crate) async fn resolve(registry: &str) -> Result<Resolved, String> {
    let snapshot = snapshot_from_process().await?;
    let found = |credentials: &Credentials, origin: &str| Resolved {
        credentials: Some(credentials.to_docker(registry)),
        origin: format!("credentials for `{registry}` from {origin}"),
    };
    match lookup(registry, &snapshot)? {
        Lookup::Anonymous { searched } => Ok(Resolved {
            credentials: None,
            origin: format!("no credentials for `{registry}` were found in {searched}"),
        }),
        Lookup::Found {
            credentials,
            origin,
        } => Ok(found(&credentials, &origin)),
        Lookup::Helper {
            helper,
            server_url,
            origin,
            fallback,
        } => match (run_helper(&helper, &server_url, &origin).await?, fallback) {
            (Some(c), _) => Ok(found(&c, &format!("docker-credential-{helper} ({origin})"))),
            (None, Some(c)) => Ok(found(&c, &origin)),
            (None, None) => Ok(Resolved {
                credentials: None,
                origin: format!(
                    "docker-credential-{helper} ({origin}) has no credentials for `{registry}`"
                ),
            }),
        },
    }
}

/// Runs `docker-credential-<helper> get` with `server_url` on stdin, within a time limit.
pub(crate) async fn run_helper(
    helper: &str,
    server_url: &str,
    origin: &str,
) -> Result<Option<Credentials>, String> {
    let program = format!("docker-credential-{helper}");
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "the credential helper `{program}` ({origin}) is not installed or not on PATH: \
                 install it, or remove it from that config"
            ),
            _ => format!("cannot run the credential helper `{program}` ({origin}): {e}"),
        })?;
    let limit = crate::timeouts::scaled(HELPER_TIMEOUT);
    let talk = async {
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading its input is judged by its output.
            let _ = stdin.write_all(server_url.as_bytes()).await;
        }
        child.wait_with_output().await
    };
    let output = tokio::time::timeout(limit, talk)
        .await
        .map_err(|_| {
            format!("the credential helper `{program}` ({origin}) did not answer within {limit:?}")
        })?
        .map_err(|e| format!("the credential helper `{program}` ({origin}) failed: {e}"))?;
    parse_helper_output(
        helper,
        output.status.success(),
        &String::from_utf8_lossy(&output.stdout),
        &String::from_utf8_lossy(&output.stderr),
    )
}

#[cfg(test)]
mod tests;
