//! A spec's fingerprint: the hash of everything that decides how its container behaves,
//! by which a container reused across runs is found (see `crate::shared`), so that a
//! different spec never adopts it.

use std::fmt::Write as _;
use std::net::IpAddr;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::ContainerSpec;
use crate::archive::{injection_archive_at, InjectArchiveError};

/// Changes whenever what is hashed, or how, changes: containers of an older scheme are
/// then never adopted.
const SCHEME: &str = "testdock-reuse-v1";

impl ContainerSpec {
    /// The fingerprint (64 hex digits) of this spec's container, made from image
    /// `image_id` (the image's id, not a tag that may move) with ports published on
    /// `bind`.
    ///
    /// It covers the whole create request but testdock's own labels (image id, command,
    /// entrypoint, env, user, workdir, hostname, published ports, mounts, limits,
    /// read-only root, networks and aliases, stop signal, healthcheck, the user's
    /// labels), the injected files (paths, contents, modes, owners, read now from the
    /// host for host files) and the readiness probe. Not covered, as they do not change
    /// the container: the name prefix, the test id and the startup timeout.
    pub(crate) fn fingerprint(
        &self,
        image_id: &str,
        bind: IpAddr,
    ) -> Result<String, InjectArchiveError> {
        let body = self.create_body("", image_id, "", bind);
        let mut body = serde_json::to_value(body).expect("a create request is JSON");
        drop_own_labels(&mut body);
        let mut request = String::new();
        canonical_json(&body, &mut request);
        let files = injection_archive_at(&self.files, 0)?;
        // Only when there are some, so fingerprints of earlier runs' specs stay the same.
        let more_networks = match self.more_networks() {
            [] => String::new(),
            more => serde_json::to_string(more).expect("names are JSON"),
        };

        let mut hash = Sha256::new();
        for part in [
            SCHEME.as_bytes(),
            request.as_bytes(),
            &files,
            self.probe.to_string().as_bytes(),
        ] {
            // Length-prefixed, so that bytes cannot move from one part to the next.
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
        if !more_networks.is_empty() {
            hash.update((more_networks.len() as u64).to_le_bytes());
            hash.update(more_networks.as_bytes());
        }
        Ok(hash
            .finalize()
            .iter()
            .fold(String::with_capacity(64), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            }))
    }
}

/// Removes testdock's own labels (`testdock.*`: session, pid, creation time...) from
/// every `Labels` object in `value` (the container's and its volumes'): they differ
/// from run to run without changing what the container does.
fn drop_own_labels(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if key == "Labels" {
                    if let Value::Object(labels) = inner {
                        labels.retain(|k, _| !k.starts_with("testdock."));
                    }
                }
                drop_own_labels(inner);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_own_labels),
        _ => {}
    }
}

/// `value` as JSON with the keys of every object sorted, so that maps (labels, port
/// bindings) give the same text whatever order they were built in. Arrays keep their
/// order: in a command, env or mounts it matters.
fn canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests;
