//! Fingerprints of image recipes made from metadata and cached content hashes, so a
//! recipe seen before (by any process) maps to its image tag without reading, tarring
//! and hashing its content again.
//!
//! A fingerprint covers everything the image's content hash covers: every path, mode,
//! owner and link, and each file's content as its BLAKE3 hash (host files: from
//! [`hashcache`](super::hashcache), remembered by path, size, mtime, inode and ctime;
//! in-memory bytes: once per process). ELF closures (which libraries an executable
//! needs) are remembered by the executable's metadata and checked against the metadata
//! of every file they resolved to. Any error gives no fingerprint: the caller then does
//! the full work, which reports the error properly.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::elf::{resolve_closure, ElfClosure, ElfError};
use super::hashcache::{file_key, key_of, Store};
use crate::host_tree::{everything, host_mode, Filter};
use crate::inject::{InjectFile, Source};

/// A hash of length-prefixed fields.
#[derive(Debug)]
pub(crate) struct Fields(Sha256);

impl Fields {
    pub(crate) fn new(kind: &str) -> Self {
        let mut fields = Fields(Sha256::new());
        fields.add(kind);
        fields
    }

    pub(crate) fn add(&mut self, field: impl AsRef<[u8]>) {
        let field = field.as_ref();
        self.0.update((field.len() as u64).to_le_bytes());
        self.0.update(field);
    }

    pub(crate) fn finish(self) -> String {
        super::hashcache::hex(&self.0.finalize())
    }
}

/// The cache key of the tag of the recipe with fingerprint `fingerprint`.
pub(crate) fn recipe_key(fingerprint: &str) -> String {
    key_of(&["recipe", fingerprint])
}

/// The tag remembered for the recipe with `fingerprint`.
pub(crate) fn cached_tag(fingerprint: &str) -> Option<String> {
    let store = super::hashcache::STORE
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    store.get(&recipe_key(fingerprint)).map(str::to_owned)
}

/// Remembers (on disk) that the recipe with `fingerprint` is tagged `tag`.
pub(crate) fn remember_tag(fingerprint: &str, tag: &str) {
    let mut store = super::hashcache::STORE
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    store.put(recipe_key(fingerprint), tag.to_owned());
    store.flush();
}

/// Adds a host file's content hash (an error if it is not a regular file).
pub(crate) fn host_file(store: &mut Store, f: &mut Fields, path: &Path) -> io::Result<u32> {
    let (meta, hash) = store
        .file_hash(path)?
        .ok_or_else(|| io::Error::other("not a regular file"))?;
    f.add(hash);
    Ok(host_mode(&meta))
}

/// Adds an injected file: its path, mode, owner and content.
pub(crate) fn inject(store: &mut Store, f: &mut Fields, file: &InjectFile) -> io::Result<()> {
    f.add(&file.path);
    f.add(format!("{:?}:{}:{}", file.mode, file.uid, file.gid));
    match &file.source {
        Source::Bytes(data) => {
            f.add("bytes");
            f.add(super::hashcache::bytes_hash(data));
        }
        Source::Dir => f.add("dir"),
        Source::HostFile(path) => {
            f.add("host file");
            let mode = host_file(store, f, path)?;
            f.add(mode.to_le_bytes());
        }
        Source::HostDir(path) => {
            f.add("host dir");
            f.add(host_mode(&std::fs::metadata(path)?).to_le_bytes());
            tree(store, f, path, "", &everything)?;
        }
    }
    Ok(())
}

/// Adds everything below the host directory `dir` that [`crate::host_tree::walk`] with
/// `filter` visits (paths relative to `rel`), in the same order.
pub(crate) fn tree(
    store: &mut Store,
    f: &mut Fields,
    dir: &Path,
    rel: &str,
    filter: &dyn Fn(&str, bool) -> Filter,
) -> io::Result<()> {
    let mut entries = std::fs::read_dir(dir)?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let meta = std::fs::symlink_metadata(&path)?;
        let kind = meta.file_type();
        match filter(&child, kind.is_dir()) {
            Filter::Skip => continue,
            Filter::SkipButDescend => {
                if kind.is_dir() {
                    tree(store, f, &path, &child, filter)?;
                }
                continue;
            }
            Filter::Keep => {}
        }
        if kind.is_symlink() {
            f.add("link");
            f.add(&child);
            f.add(std::fs::read_link(&path)?.as_os_str().as_encoded_bytes());
        } else if kind.is_dir() {
            f.add("dir");
            f.add(&child);
            f.add(host_mode(&meta).to_le_bytes());
            tree(store, f, &path, &child, filter)?;
        } else if kind.is_file() {
            f.add("file");
            f.add(&child);
            f.add(host_mode(&meta).to_le_bytes());
            host_file(store, f, &path)?;
        }
    }
    Ok(())
}

/// The ELF closure of `executable`, from the cache when the executable, the loader
/// configuration and every file it resolved to are unchanged.
pub(crate) fn closure(store: &mut Store, executable: &Path) -> Result<ElfClosure, ElfError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ElfError::Io { path, source }
    };
    let meta = std::fs::metadata(executable).map_err(io(executable))?;
    let key = key_of(&["closure", &file_key(executable, &meta), &loader_config()]);
    if let Some(found) = store.get(&key).and_then(decode_closure) {
        return Ok(found);
    }
    let found = resolve_closure(executable)?;
    if let Some(value) = encode_closure(&found) {
        store.put(key, value);
    }
    Ok(found)
}

/// The metadata of the files that decide where libraries are searched.
fn loader_config() -> String {
    loader_config_at(Path::new("/etc"))
}

/// [`loader_config`] under `etc`: `ld.so.conf`, the `ld.so.conf.d` directory (files added
/// or removed) and each file in it (edited in place, which the directory does not show).
fn loader_config_at(etc: &Path) -> String {
    let key = |path: &Path| {
        std::fs::metadata(path).map_or_else(|_| String::new(), |m| file_key(path, &m))
    };
    let dir = etc.join("ld.so.conf.d");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|list| list.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    let mut keys = vec![key(&etc.join("ld.so.conf")), key(&dir)];
    keys.extend(entries.iter().map(|p| key(p)));
    keys.join("\n")
}

/// The files a closure resolved to (whose metadata must be unchanged for it to hold).
fn resolved_files(closure: &ElfClosure) -> Vec<&Path> {
    let mut files = vec![closure.executable.as_path()];
    files.extend(closure.interpreter.as_deref());
    files.extend(closure.libraries.iter().map(|(_, host)| host.as_path()));
    files
}

fn current_key(path: &Path) -> Option<String> {
    std::fs::metadata(path).ok().map(|m| file_key(path, &m))
}

fn encode_closure(closure: &ElfClosure) -> Option<String> {
    let s = |p: &Path| p.to_str().map(|s| serde_json::Value::from(s.to_owned()));
    let deps = resolved_files(closure)
        .into_iter()
        .map(|p| Some(serde_json::json!([s(p)?, current_key(p)?])))
        .collect::<Option<Vec<_>>>()?;
    let libs = closure
        .libraries
        .iter()
        .map(|(at, host)| Some(serde_json::json!([s(at)?, s(host)?])))
        .collect::<Option<Vec<_>>>()?;
    let interp = match &closure.interpreter {
        Some(p) => s(p)?,
        None => serde_json::Value::Null,
    };
    let value = serde_json::json!({
        "exe": s(&closure.executable)?,
        "interp": interp,
        "libs": libs,
        "deps": deps,
    });
    Some(value.to_string())
}

fn decode_closure(text: &str) -> Option<ElfClosure> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let path = |v: &serde_json::Value| v.as_str().map(PathBuf::from);
    let pair = |v: &serde_json::Value| Some((path(v.get(0)?)?, path(v.get(1)?)?));
    for dep in value.get("deps")?.as_array()? {
        let (file, key) = (dep.get(0)?.as_str()?, dep.get(1)?.as_str()?);
        if current_key(Path::new(file))? != key {
            return None;
        }
    }
    let interpreter = match value.get("interp")? {
        serde_json::Value::Null => None,
        v => Some(path(v)?),
    };
    let libraries = value
        .get("libs")?
        .as_array()?
        .iter()
        .map(pair)
        .collect::<Option<Vec<_>>>()?;
    Some(ElfClosure {
        executable: path(value.get("exe")?)?,
        interpreter,
        libraries,
    })
}

#[cfg(test)]
#[path = "fingerprint/tests.rs"]
mod tests;
