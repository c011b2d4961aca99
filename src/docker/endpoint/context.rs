//! Docker CLI contexts: which one is active, and which endpoint it names.
//!
//! Contexts live under `<config dir>/contexts`: `meta/<dir>/meta.json` holds
//! the name and endpoint, `tls/<dir>/docker/` the optional TLS files. `<dir>`
//! is a hash of the name; it is found by scanning rather than hashing.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{parse_docker_host, ConfigError, EnvSnapshot};
use crate::endpoint::{Candidate, Origin, TlsFiles};

/// The name the Docker CLI gives to "no context".
const DEFAULT_CONTEXT: &str = "default";

/// The context named by `DOCKER_CONTEXT` or config.json's `currentContext`;
/// `None` for no context or `default`. An unreadable config.json means none.
pub(crate) fn active_context_name(env: &EnvSnapshot) -> Option<String> {
    let name = match env_context(env) {
        Some(name) => name.to_owned(),
        None => current_context_in_config(env)?,
    };
    (name != DEFAULT_CONTEXT).then_some(name)
}

fn env_context(env: &EnvSnapshot) -> Option<&str> {
    env.docker_context
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
}

fn current_context_in_config(env: &EnvSnapshot) -> Option<String> {
    let text = fs::read_to_string(env.config_dir()?.join("config.json")).ok()?;
    let config: Value = serde_json::from_str(&text).ok()?;
    let name = config.get("currentContext")?.as_str()?.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Looks the context `name` up under `<config dir>/contexts` and returns its
/// endpoint, or a [`ConfigError`] saying where it was looked for and how to fix it.
pub(crate) fn resolve_context(env: &EnvSnapshot, name: &str) -> Result<Candidate, ConfigError> {
    let selected_by = match env_context(env) {
        Some(from_env) if from_env == name => "DOCKER_CONTEXT".to_owned(),
        _ => "`currentContext` in the Docker config.json".to_owned(),
    };
    let fix = "Run `docker context ls` to see the contexts that exist; to use the default \
               endpoint instead, unset DOCKER_CONTEXT (or run `docker context use default`).";
    let Some(config_dir) = env.config_dir() else {
        return Err(ConfigError::new(format!(
            "Docker context `{name}` (selected by {selected_by}) cannot be looked up: neither \
             DOCKER_CONFIG nor HOME is set. {fix}"
        )));
    };
    let meta_root = config_dir.join("contexts").join("meta");
    let Some((dir_name, meta_path, meta)) = find_meta(&meta_root, name) else {
        return Err(ConfigError::new(format!(
            "Docker context `{name}` (selected by {selected_by}) was not found: no meta.json \
             under {} has the name `{name}`. {fix}",
            meta_root.display()
        )));
    };
    let in_context = |why: String| {
        let path = meta_path.display();
        ConfigError::new(format!("Docker context `{name}` ({path}): {why}"))
    };
    let host = meta
        .pointer("/Endpoints/docker/Host")
        .and_then(Value::as_str)
        .ok_or_else(|| in_context("it has no `Endpoints.docker.Host`".to_owned()))?;
    let tls = if host.trim().to_ascii_lowercase().starts_with("unix://") {
        None
    } else {
        context_tls(&config_dir, &dir_name).map_err(in_context)?
    };
    let endpoint = parse_docker_host(host, tls).map_err(|e| in_context(e.message))?;
    let origin = Origin::Context(name.to_owned());
    Ok(Candidate { endpoint, origin })
}

/// The first (by directory name) `meta/<dir>/meta.json` whose `Name` is `name`.
fn find_meta(meta_root: &Path, name: &str) -> Option<(OsString, PathBuf, Value)> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(meta_root)
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path()))
        .collect();
    dirs.sort();
    dirs.into_iter().find_map(|dir| {
        let path = dir.join("meta.json");
        let meta: Value = serde_json::from_str(&fs::read_to_string(&path).ok()?).ok()?;
        if meta.get("Name")?.as_str()? != name {
            return None;
        }
        Some((dir.file_name()?.to_os_string(), path, meta))
    })
}

/// The context's TLS files: all three present, none, or an error for a partial set.
fn context_tls(config_dir: &Path, dir_name: &OsStr) -> Result<Option<TlsFiles>, String> {
    let dir = config_dir
        .join("contexts")
        .join("tls")
        .join(dir_name)
        .join("docker");
    let files = TlsFiles::in_dir(&dir);
    match [&files.ca, &files.cert, &files.key].map(|path| path.is_file()) {
        [true, true, true] => Ok(Some(files)),
        [false, false, false] => Ok(None),
        _ => Err(format!(
            "{} holds only some of ca.pem, cert.pem and key.pem; all three are needed for TLS",
            dir.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::candidates;
    use super::*;
    use crate::endpoint::Endpoint;
    use tempfile::TempDir;

    /// A fake environment whose Docker config dir is a fresh temp dir.
    fn setup() -> (TempDir, EnvSnapshot) {
        let dir = TempDir::new().unwrap();
        let env = EnvSnapshot {
            docker_config: Some(dir.path().to_path_buf()),
            home: Some("/home/u".into()),
            ..EnvSnapshot::default()
        };
        (dir, env)
    }

    fn write_context(config: &TempDir, dir_name: &str, name: &str, host: &str) {
        let dir = config.path().join("contexts/meta").join(dir_name);
        fs::create_dir_all(&dir).unwrap();
        let meta = serde_json::json!({
            "Name": name,
            "Metadata": {},
            "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": false}},
        });
        fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
    }

    fn write_tls(config: &TempDir, dir_name: &str, files: &[&str]) -> PathBuf {
        let dir = config
            .path()
            .join("contexts/tls")
            .join(dir_name)
            .join("docker");
        fs::create_dir_all(&dir).unwrap();
        for file in files {
            fs::write(dir.join(file), "pem").unwrap();
        }
        dir
    }

    fn write_config(config: &TempDir, text: &str) {
        fs::write(config.path().join("config.json"), text).unwrap();
    }

    fn error_text(env: &EnvSnapshot) -> String {
        candidates(env)
            .expect_err("should be a config error")
            .message
    }

    #[test]
    fn docker_context_env_selects_the_named_context_as_only_candidate() {
        let (config, mut env) = setup();
        write_context(&config, "aaa", "other", "tcp://10.0.0.9:2375");
        write_context(&config, "bbb", "remote", "tcp://10.0.0.5:2376");
        env.docker_context = Some("remote".into());
        let addr = "10.0.0.5:2376".to_owned();
        let expected = Candidate {
            endpoint: Endpoint::Tcp { addr, tls: None },
            origin: Origin::Context("remote".into()),
        };
        assert_eq!(candidates(&env).unwrap(), vec![expected]);
    }

    #[test]
    fn current_context_in_config_json_is_used_when_docker_context_is_unset() {
        let (config, env) = setup();
        write_config(&config, r#"{"auths":{},"currentContext":"colima"}"#);
        write_context(
            &config,
            "0123abcd",
            "colima",
            "unix:///home/u/.colima/docker.sock",
        );
        assert_eq!(active_context_name(&env).as_deref(), Some("colima"));
        let list = candidates(&env).unwrap();
        let path = PathBuf::from("/home/u/.colima/docker.sock");
        assert_eq!(list[0].endpoint, Endpoint::Unix { path });
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn docker_context_env_overrides_config_json() {
        let (config, mut env) = setup();
        write_config(&config, r#"{"currentContext":"colima"}"#);
        env.docker_context = Some("remote".into());
        assert_eq!(active_context_name(&env).as_deref(), Some("remote"));
        env.docker_context = Some("default".into());
        assert_eq!(active_context_name(&env), None);
    }

    #[test]
    fn default_context_means_local_sockets() {
        let (config, env) = setup();
        write_config(&config, r#"{"currentContext":"default"}"#);
        assert_eq!(active_context_name(&env), None);
        assert_eq!(candidates(&env).unwrap()[0].origin, Origin::DefaultSocket);
    }

    #[test]
    fn missing_or_unparsable_config_json_means_no_context() {
        let (config, env) = setup();
        assert_eq!(active_context_name(&env), None);
        write_config(&config, "{ this is not json");
        assert_eq!(active_context_name(&env), None);
        assert_eq!(candidates(&env).unwrap()[0].origin, Origin::DefaultSocket);
        write_config(&config, r#"{"currentContext": 7}"#);
        assert_eq!(active_context_name(&env), None);
    }

    #[test]
    fn missing_context_error_names_the_context_where_and_how_to_fix() {
        let (config, mut env) = setup();
        write_context(&config, "aaa", "other", "tcp://10.0.0.9:2375");
        env.docker_context = Some("ghost".into());
        let text = error_text(&env);
        let meta_root = config.path().join("contexts").join("meta");
        assert!(text.contains("`ghost`"), "{text}");
        assert!(text.contains("selected by DOCKER_CONTEXT"), "{text}");
        assert!(text.contains(&meta_root.display().to_string()), "{text}");
        assert!(text.contains("docker context ls"), "{text}");
        assert!(text.contains("unset DOCKER_CONTEXT"), "{text}");
    }

    #[test]
    fn missing_context_from_config_json_says_so() {
        let (config, env) = setup();
        write_config(&config, r#"{"currentContext":"gone"}"#);
        let text = error_text(&env);
        assert!(
            text.contains("`gone`") && text.contains("currentContext"),
            "{text}"
        );
    }

    #[test]
    fn context_without_any_config_dir_is_a_config_error() {
        let env = EnvSnapshot {
            docker_context: Some("remote".into()),
            ..EnvSnapshot::default()
        };
        let text = error_text(&env);
        assert!(text.contains("`remote`") && text.contains("HOME"), "{text}");
    }

    #[test]
    fn context_with_tls_files_uses_tls() {
        let (config, mut env) = setup();
        write_context(&config, "h1", "secure", "tcp://10.0.0.5");
        let dir = write_tls(&config, "h1", &["ca.pem", "cert.pem", "key.pem"]);
        env.docker_context = Some("secure".into());
        let addr = "10.0.0.5:2376".to_owned();
        let tls = Some(TlsFiles::in_dir(&dir));
        assert_eq!(
            resolve_context(&env, "secure").unwrap().endpoint,
            Endpoint::Tcp { addr, tls }
        );
    }

    #[test]
    fn context_tls_files_are_ignored_for_unix_hosts() {
        let (config, env) = setup();
        write_context(&config, "h1", "local", "unix:///s.sock");
        write_tls(&config, "h1", &["ca.pem", "cert.pem", "key.pem"]);
        let path = PathBuf::from("/s.sock");
        assert_eq!(
            resolve_context(&env, "local").unwrap().endpoint,
            Endpoint::Unix { path }
        );
    }

    #[test]
    fn context_with_partial_tls_files_is_a_config_error() {
        let (config, env) = setup();
        write_context(&config, "h1", "half", "tcp://box:2376");
        write_tls(&config, "h1", &["ca.pem"]);
        let text = resolve_context(&env, "half").unwrap_err().message;
        assert!(
            text.contains("`half`") && text.contains("only some"),
            "{text}"
        );
    }

    #[test]
    fn context_with_unusable_host_error_names_the_context_and_value() {
        let (config, env) = setup();
        write_context(&config, "h1", "viassh", "ssh://me@box");
        let text = resolve_context(&env, "viassh").unwrap_err().message;
        assert!(
            text.contains("`viassh`") && text.contains("`ssh://me@box`"),
            "{text}"
        );
        assert!(text.contains("meta.json"), "{text}");
    }

    #[test]
    fn context_without_docker_endpoint_and_broken_meta_files_are_handled() {
        let (config, env) = setup();
        let broken = config.path().join("contexts/meta/000");
        fs::create_dir_all(&broken).unwrap();
        fs::write(broken.join("meta.json"), "not json").unwrap();
        let dir = config.path().join("contexts/meta/111");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("meta.json"), r#"{"Name":"k8s","Endpoints":{}}"#).unwrap();
        let text = resolve_context(&env, "k8s").unwrap_err().message;
        assert!(text.contains("Endpoints.docker.Host"), "{text}");
    }
}
