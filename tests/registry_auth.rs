//! Registry credentials end to end, against a local registry that requires HTTP basic
//! auth: `DOCKER_AUTH_CONFIG`, `config.json` in `DOCKER_CONFIG`, a credential helper on
//! `PATH`, and a missing helper.
//!
//! These tests change process-wide environment variables, so they live in their own
//! test binary and take turns (`ENV`).

mod common;
mod registry_support;

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::Engine;
use bollard::auth::DockerCredentials;
use testdock::{ContainerSpec, Exec, Probe, PullPolicy, RegistryImage};

use common::remove_image;
use registry_support::{local_reference, push, rand_suffix, LocalRegistry};

const USER: &str = "alice";
const PASSWORD: &str = "s3cret-pw";

/// One test at a time may change the environment.
static ENV: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Sets variables for the duration of a test and restores them after.
struct EnvGuard(Vec<(&'static str, Option<OsString>)>);

impl EnvGuard {
    /// `DOCKER_CONFIG` points at `config_dir` (so the user's own config is never read) and
    /// `DOCKER_AUTH_CONFIG` is unset.
    fn new(config_dir: &Path) -> Self {
        let mut guard = EnvGuard(Vec::new());
        guard.set("DOCKER_CONFIG", Some(config_dir.as_os_str().to_owned()));
        guard.set("DOCKER_AUTH_CONFIG", None);
        guard
    }

    fn set(&mut self, name: &'static str, value: Option<OsString>) {
        if !self.0.iter().any(|(n, _)| *n == name) {
            self.0.push((name, std::env::var_os(name)));
        }
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        for (name, value) in self.0.drain(..).rev() {
            match value {
                Some(v) => std::env::set_var(name, v),
                None => std::env::remove_var(name),
            }
        }
    }
}

fn auth_json(host: &str, user: &str, password: &str) -> String {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#)
}

/// A registry with a login and busybox pushed to it; returns it and the reference.
async fn registry_with_busybox() -> (LocalRegistry, String) {
    let registry = LocalRegistry::start_with_login(USER, PASSWORD).await;
    let local = local_reference(common::busybox()).await;
    let repo = format!("{}/testdock/private", registry.host);
    let tag = rand_suffix();
    let creds = DockerCredentials {
        username: Some(USER.into()),
        password: Some(PASSWORD.into()),
        serveraddress: Some(registry.host.clone()),
        ..Default::default()
    };
    push(&local, &repo, &tag, Some(creds)).await;
    (registry, format!("{repo}:{tag}"))
}

/// Starts a container of `reference`, always pulling, and runs `echo ok` in it.
async fn pull_and_run(reference: &str) -> Result<String, String> {
    let image = RegistryImage::new(reference).pull_policy(PullPolicy::Always);
    let c = ContainerSpec::new(image)
        .cmd(["sh", "-c", "echo ready; exec sleep 1000"])
        .wait_for(Probe::log("ready"))
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let out = c.exec(Exec::new(["echo", "ok"])).await;
    c.remove().await.map_err(|e| e.to_string())?;
    Ok(out.map_err(|e| e.to_string())?.stdout_text())
}

#[tokio::test]
async fn credentials_from_docker_auth_config_open_a_registry_that_requires_a_login() {
    let _turn = ENV.lock().await;
    let config_dir = tempfile::tempdir().unwrap();
    let mut env = EnvGuard::new(config_dir.path());
    let (registry, reference) = registry_with_busybox().await;
    let host = registry.host.clone();

    let anonymous = pull_and_run(&reference).await;
    env.set(
        "DOCKER_AUTH_CONFIG",
        Some(auth_json(&host, USER, "wrong").into()),
    );
    let wrong = pull_and_run(&reference).await;
    // Keys may carry a scheme and a path, as `docker login` writes them.
    let key = format!("http://{host}/v2/");
    env.set(
        "DOCKER_AUTH_CONFIG",
        Some(auth_json(&key, USER, PASSWORD).into()),
    );
    let right = pull_and_run(&reference).await;
    env.set("DOCKER_AUTH_CONFIG", Some("{not json".into()));
    let broken = pull_and_run(&reference).await;
    drop(env);
    remove_image(&reference).await;
    common::assert_nothing_left(&common::this_test()).await;

    let text = anonymous.expect_err("pulled without credentials");
    assert!(text.contains(&format!("`{host}` refused access")), "{text}");
    assert!(
        text.contains(&format!("no credentials for `{host}`")),
        "{text}"
    );
    assert!(
        text.contains(&format!("run `docker login {host}`")),
        "{text}"
    );
    let text = wrong.expect_err("pulled with a wrong password");
    assert!(text.contains(&format!("`{host}` refused access")), "{text}");
    assert!(
        text.contains("from DOCKER_AUTH_CONFIG): check them"),
        "{text}"
    );
    assert_eq!(right.as_deref(), Ok("ok\n"));
    let text = broken.expect_err("pulled with a broken DOCKER_AUTH_CONFIG");
    assert!(
        text.contains("DOCKER_AUTH_CONFIG is not valid JSON"),
        "{text}"
    );
}

#[tokio::test]
async fn credentials_from_config_json_and_from_a_credential_helper_on_path() {
    let _turn = ENV.lock().await;
    let config_dir = tempfile::tempdir().unwrap();
    let bin_dir = tempfile::tempdir().unwrap();
    let mut env = EnvGuard::new(config_dir.path());
    let (registry, reference) = registry_with_busybox().await;
    let host = registry.host.clone();
    let config = config_dir.path().join("config.json");

    std::fs::write(&config, auth_json(&host, USER, PASSWORD)).unwrap();
    let from_file = pull_and_run(&reference).await;

    // A helper that records the server it was asked about and answers with the login.
    let asked = bin_dir.path().join("asked");
    let helper = bin_dir.path().join("docker-credential-testdock-test");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r url\nprintf '%s' \"$url\" > '{}'\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$url\"\n",
            asked.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut path = OsString::from(bin_dir.path());
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    env.set("PATH", Some(path));
    let helpers = format!(r#"{{"credHelpers": {{"{host}": "testdock-test"}}}}"#);
    std::fs::write(&config, helpers).unwrap();
    let from_helper = pull_and_run(&reference).await;
    let asked = std::fs::read_to_string(&asked).unwrap_or_default();

    std::fs::write(&config, r#"{"credsStore": "testdock-absent"}"#).unwrap();
    let missing_helper = pull_and_run(&reference).await;
    drop(env);
    remove_image(&reference).await;
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(
        from_file.as_deref(),
        Ok("ok\n"),
        "credentials in config.json"
    );
    assert_eq!(
        from_helper.as_deref(),
        Ok("ok\n"),
        "credentials from the helper"
    );
    assert_eq!(asked, host, "the helper was asked about another server");
    let text = missing_helper.expect_err("pulled with a missing helper");
    assert!(
        text.contains("`docker-credential-testdock-absent` (credsStore in"),
        "{text}"
    );
    assert!(text.contains("is not installed or not on PATH"), "{text}");
}
