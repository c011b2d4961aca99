//! A small on-disk cache shared by processes, so a cached image is found with metadata
//! reads instead of reading, tarring and hashing its content again.
//!
//! It maps a key (the SHA-256 of what the entry depends on, e.g. a host file's path,
//! size, mtime, inode and ctime) to a string value (the file's content hash, a resolved
//! ELF closure, the tag of a recipe). It lives in `testdock/hash-cache-v2.json` under
//! the cargo target directory (`$CARGO_TARGET_DIR`, or the directory holding
//! `CACHEDIR.TAG` above the running executable, e.g. `target/` for
//! `target/debug/deps/x`), else under the user cache directory; `TESTDOCK_CACHE_DIR`
//! overrides. Writers merge with what is on disk and replace the file by an atomic
//! rename of a temporary file, so concurrent processes never see a torn file (the
//! worst case is a lost entry, computed again later). A corrupt or unreadable file is
//! ignored and rewritten.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use once_cell::sync::Lazy;
use sha2::{Digest, Sha256};

/// Environment variable: the directory to keep the cache in.
pub(crate) const CACHE_DIR_ENV: &str = "TESTDOCK_CACHE_DIR";
// v2: content hashes are BLAKE3 (v1 held SHA-256 ones).
const FILE_NAME: &str = "hash-cache-v2.json";
/// Past this many entries a writer starts over with only its own entries.
const MAX_ENTRIES: usize = 50_000;
/// A file modified this recently may still change within the same timestamp tick: its
/// hash is used but not remembered (as git treats "racily clean" files).
const RACY: Duration = Duration::from_secs(2);

/// A key-value cache kept in one file.
#[derive(Debug)]
pub(crate) struct Store {
    path: Option<PathBuf>,
    entries: HashMap<String, String>,
    /// Entries added since the last flush.
    dirty: HashMap<String, String>,
}

impl Store {
    /// The store kept at `path` (`None`: in memory only), read now.
    pub(crate) fn open(path: Option<PathBuf>) -> Self {
        let entries = path.as_deref().map(read_entries).unwrap_or_default();
        Store {
            path,
            entries,
            dirty: HashMap::new(),
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    #[cfg(test)]
    pub(crate) fn entries_len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn put(&mut self, key: String, value: String) {
        if self.entries.get(&key) != Some(&value) {
            self.dirty.insert(key.clone(), value.clone());
            self.entries.insert(key, value);
        }
    }

    /// Writes the new entries: merged with the file's current content, into a temporary
    /// file renamed over it. Errors are ignored (the cache is an optimisation).
    pub(crate) fn flush(&mut self) {
        if self.dirty.is_empty() {
            return;
        }
        let dirty = std::mem::take(&mut self.dirty);
        let Some(path) = &self.path else { return };
        let mut merged = read_entries(path);
        if merged.len() + dirty.len() > MAX_ENTRIES {
            merged.clear();
        }
        merged.extend(dirty);
        let _ = write_atomically(path, &merged);
    }

    /// The content hash of the regular file at `path` (following symlinks), remembered by
    /// its metadata; `None` if it is not a regular file.
    pub(crate) fn file_hash(
        &mut self,
        path: &Path,
    ) -> io::Result<Option<(std::fs::Metadata, String)>> {
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Ok(None);
        }
        let key = key_of(&["file", &file_key(path, &meta)]);
        if let Some(hash) = self.get(&key) {
            return Ok(Some((meta, hash.to_owned())));
        }
        let hash = content_hash_of_file(path)?;
        let after = std::fs::metadata(path)?;
        if file_key(path, &after) == file_key(path, &meta) && !racy(&meta) {
            self.put(key, hash.clone());
        }
        Ok(Some((meta, hash)))
    }
}

/// Whether `meta`'s file was modified too recently for its timestamps to show a change.
fn racy(meta: &std::fs::Metadata) -> bool {
    meta.modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_none_or(|age| age < RACY)
}

/// What identifies a file's content without reading it: path, device, inode, size, mode,
/// mtime and ctime (nanoseconds). Rewriting, touching or replacing the file changes it.
pub(crate) fn file_key(path: &Path, meta: &std::fs::Metadata) -> String {
    format!(
        "{}\0{}:{}:{}:{:o}:{}.{}:{}.{}",
        path.display(),
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mode(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

/// A cache key: the hash of length-prefixed parts.
pub(crate) fn key_of(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex(&hasher.finalize())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read_entries(path: &Path) -> HashMap<String, String> {
    let parsed = std::fs::read(path)
        .ok()
        .and_then(|text| serde_json::from_slice::<serde_json::Value>(&text).ok());
    let Some(serde_json::Value::Object(map)) = parsed else {
        return HashMap::new();
    };
    map.into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::String(v) => Some((k, v)),
            _ => None,
        })
        .collect()
}

fn write_atomically(path: &Path, entries: &HashMap<String, String>) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let text = serde_json::to_vec(entries).map_err(io::Error::other)?;
    let temp = dir.join(format!(
        ".{FILE_NAME}.{}.{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let written = std::fs::write(&temp, text).and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Where the process's cache file is (see the module docs).
pub(crate) fn default_path() -> Option<PathBuf> {
    let dir = std::env::var_os(CACHE_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .or_else(target_dir_of_exe)?;
            Some(target.join("testdock"))
        })
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
            Some(cache.join("testdock"))
        })?;
    Some(dir.join(FILE_NAME))
}

/// The cargo target directory the running executable was built in, if any.
fn target_dir_of_exe() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(4)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
}

/// The process's store, read on first use.
pub(crate) static STORE: Lazy<Mutex<Store>> = Lazy::new(|| Mutex::new(Store::open(default_path())));

/// In-memory contents hashed in this process, by address and length. The `Bytes` is
/// kept so its memory is not reused for other content while the entry exists.
static BYTES: Lazy<Mutex<HashMap<BufferId, (Bytes, String)>>> = Lazy::new(Default::default);

/// A buffer's address and length.
type BufferId = (usize, usize);

/// The content hash of a file: BLAKE3, streamed (a large file is not held in memory).
fn content_hash_of_file(path: &Path) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(std::fs::File::open(path)?)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// The content hash of in-memory bytes (BLAKE3: the one hash a new process must
/// compute to find a cached build context, several times faster than SHA-256).
pub(crate) fn content_hash(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// The content hash of `data` ([`content_hash`]), computed once per process per
/// `Bytes` buffer.
pub(crate) fn bytes_hash(data: &Bytes) -> String {
    let id = (data.as_ptr() as usize, data.len());
    let mut memo = BYTES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, hash)) = memo.get(&id) {
        return hash.clone();
    }
    let hash = content_hash(data);
    memo.insert(id, (data.clone(), hash.clone()));
    hash
}

#[cfg(test)]
#[path = "hashcache/tests.rs"]
mod tests;
