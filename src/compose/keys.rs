//! Which keys of a compose file testdock brings up: every other key is an error naming
//! it, so nothing in a file is silently ignored. Extension keys (`x-*`) are allowed
//! everywhere, as compose itself ignores them.

use serde_norway::{Mapping, Value};

const TOP: &[&str] = &["name", "version", "services", "volumes", "networks"];
const SERVICE: &[&str] = &[
    "image",
    "build",
    "pull_policy",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "tmpfs",
    "networks",
    "healthcheck",
    "depends_on",
    "profiles",
    "user",
    "working_dir",
    "hostname",
    "labels",
    "read_only",
    "stop_signal",
];
const BUILD: &[&str] = &[
    "context",
    "dockerfile",
    "dockerfile_inline",
    "args",
    "target",
    "labels",
];
const HEALTHCHECK: &[&str] = &["test", "interval", "timeout", "retries", "start_period"];
const DEPENDENCY: &[&str] = &["condition", "required"];
const SERVICE_NETWORK: &[&str] = &["aliases"];
const PORT: &[&str] = &["target", "published", "host_ip", "protocol"];
const MOUNT: &[&str] = &["type", "source", "target", "read_only", "tmpfs"];
const MOUNT_TMPFS: &[&str] = &["size"];
const TOP_VOLUME: &[&str] = &["driver", "driver_opts"];
const TOP_NETWORK: &[&str] = &["driver", "driver_opts", "internal"];

/// Checks every key of the parsed file against what testdock supports.
pub(crate) fn check(doc: &Value) -> Result<(), String> {
    let Some(top) = doc.as_mapping() else {
        return Err("the file is not a mapping of keys (`services:`, ...)".to_owned());
    };
    allow(top, TOP, "")?;
    for (name, service) in entries(top, "services") {
        let path = format!("services.{name}");
        let Some(service) = service.as_mapping() else {
            continue; // `svc:` alone: the typed parse says what is wrong
        };
        allow(service, SERVICE, &path)?;
        if let Some(build) = map_at(service, "build") {
            allow(build, BUILD, &format!("{path}.build"))?;
        }
        if let Some(check) = map_at(service, "healthcheck") {
            allow(check, HEALTHCHECK, &format!("{path}.healthcheck"))?;
        }
        for (dep, value) in entries(service, "depends_on") {
            if let Some(value) = value.as_mapping() {
                allow(value, DEPENDENCY, &format!("{path}.depends_on.{dep}"))?;
            }
        }
        for (net, value) in entries(service, "networks") {
            if let Some(value) = value.as_mapping() {
                allow(value, SERVICE_NETWORK, &format!("{path}.networks.{net}"))?;
            }
        }
        for (i, port) in items(service, "ports") {
            if let Some(port) = port.as_mapping() {
                allow(port, PORT, &format!("{path}.ports[{i}]"))?;
            }
        }
        for (i, mount) in items(service, "volumes") {
            if let Some(mount) = mount.as_mapping() {
                let at = format!("{path}.volumes[{i}]");
                allow(mount, MOUNT, &at)?;
                if let Some(tmpfs) = map_at(mount, "tmpfs") {
                    allow(tmpfs, MOUNT_TMPFS, &format!("{at}.tmpfs"))?;
                }
            }
        }
    }
    for (name, volume) in entries(top, "volumes") {
        if let Some(volume) = volume.as_mapping() {
            allow(volume, TOP_VOLUME, &format!("volumes.{name}"))?;
        }
    }
    for (name, network) in entries(top, "networks") {
        if let Some(network) = network.as_mapping() {
            allow(network, TOP_NETWORK, &format!("networks.{name}"))?;
        }
    }
    Ok(())
}

fn allow(map: &Mapping, allowed: &[&str], path: &str) -> Result<(), String> {
    for key in map.keys() {
        let key = key.as_str().unwrap_or("(not a string)");
        if key.starts_with("x-") || allowed.contains(&key) {
            continue;
        }
        let at = if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        };
        return Err(format!(
            "unsupported key `{at}`: testdock's compose does not bring it up (supported here: {})",
            allowed.join(", ")
        ));
    }
    Ok(())
}

fn map_at<'a>(map: &'a Mapping, key: &str) -> Option<&'a Mapping> {
    map.get(key).and_then(Value::as_mapping)
}

/// The entries of the mapping under `key`, with their names.
fn entries<'a>(map: &'a Mapping, key: &str) -> impl Iterator<Item = (String, &'a Value)> {
    map_at(map, key)
        .into_iter()
        .flat_map(|m| m.iter())
        .map(|(k, v)| (k.as_str().unwrap_or("?").to_owned(), v))
}

/// The items of the sequence under `key`, with their indices.
fn items<'a>(map: &'a Mapping, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    map.get(key)
        .and_then(Value::as_sequence)
        .into_iter()
        .flat_map(|s| s.iter().enumerate())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_str(yaml: &str) -> Result<(), String> {
        check(&serde_norway::from_str(yaml).unwrap())
    }

    #[test]
    fn an_unsupported_service_key_is_named_with_its_path() {
        let err =
            check_str("services:\n  web:\n    image: x\n    cap_add: [NET_ADMIN]\n").unwrap_err();
        assert!(err.contains("`services.web.cap_add`"), "{err}");
    }

    #[test]
    fn nested_and_top_level_keys_are_checked_and_extensions_pass() {
        let err = check_str("services:\n  a:\n    depends_on:\n      b: {condition: service_started, restart: true}\n")
            .unwrap_err();
        assert!(err.contains("`services.a.depends_on.b.restart`"), "{err}");
        let err = check_str("secrets: {}\n").unwrap_err();
        assert!(err.contains("`secrets`"), "{err}");
        check_str("x-common: &c {}\nservices:\n  a:\n    image: x\n    x-note: hi\n").unwrap();
    }
}
