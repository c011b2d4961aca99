//! Tests of the on-disk hash cache: persistence, corruption, invalidation by metadata.

use super::*;
use std::time::{Duration, SystemTime};

/// Writes `content` to `path` with an mtime a minute ago (not "racily" fresh).
fn write_old(path: &Path, content: &[u8]) {
    std::fs::write(path, content).unwrap();
    let old = SystemTime::now() - Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

fn sha(content: &[u8]) -> String {
    content_hash(content)
}

#[test]
fn entries_survive_a_reopen_and_writers_merge() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/cache.json");
    let mut a = Store::open(Some(path.clone()));
    let mut b = Store::open(Some(path.clone()));
    a.put("k1".into(), "v1".into());
    a.flush();
    b.put("k2".into(), "v2".into());
    b.flush();
    let c = Store::open(Some(path));
    assert_eq!((c.get("k1"), c.get("k2")), (Some("v1"), Some("v2")));
    // No temporary files are left behind.
    assert_eq!(
        std::fs::read_dir(dir.path().join("sub")).unwrap().count(),
        1
    );
}

#[test]
fn a_corrupt_cache_is_ignored_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cache.json");
    std::fs::write(&path, b"{\"k\": \"trunc").unwrap();
    let mut store = Store::open(Some(path.clone()));
    assert_eq!(store.get("k"), None);
    store.put("k".into(), "v".into());
    store.flush();
    assert_eq!(Store::open(Some(path)).get("k"), Some("v"));
}

#[test]
fn a_file_hash_is_remembered_by_its_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    write_old(&file, b"one");
    let cache = dir.path().join("cache.json");
    let mut store = Store::open(Some(cache.clone()));
    assert_eq!(store.file_hash(&file).unwrap().unwrap().1, sha(b"one"));
    store.flush();
    // Another process finds it without reading: prove it by planting a different value.
    let key = key_of(&["file", &file_key(&file, &std::fs::metadata(&file).unwrap())]);
    let mut other = Store::open(Some(cache));
    assert_eq!(other.get(&key), Some(sha(b"one").as_str()));
    other.put(key, "planted".into());
    assert_eq!(other.file_hash(&file).unwrap().unwrap().1, "planted");
}

// A synchronous test: the sleep lets the (coarse) file timestamp clock tick.
#[allow(clippy::disallowed_methods)]
#[test]
fn rewriting_touching_or_replacing_a_file_invalidates_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    let mut store = Store::open(None);
    let planted = |store: &mut Store| {
        let key = key_of(&["file", &file_key(&file, &std::fs::metadata(&file).unwrap())]);
        store.put(key, "planted".into());
    };
    write_old(&file, b"one");
    planted(&mut store);
    // Same size, same (old) mtime set back: the ctime still changes.
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&file, b"two").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(store.file_hash(&file).unwrap().unwrap().1, sha(b"two"));
    // Touched only.
    planted(&mut store);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(30))
        .unwrap();
    assert_eq!(store.file_hash(&file).unwrap().unwrap().1, sha(b"two"));
    // Replaced by another file (new inode), mtime made equal.
    planted(&mut store);
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    let other = dir.path().join("g");
    std::fs::write(&other, b"333").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&other)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::rename(&other, &file).unwrap();
    assert_eq!(store.file_hash(&file).unwrap().unwrap().1, sha(b"333"));
}

#[test]
fn a_freshly_modified_file_is_hashed_but_not_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    std::fs::write(&file, b"fresh").unwrap();
    let mut store = Store::open(None);
    assert_eq!(store.file_hash(&file).unwrap().unwrap().1, sha(b"fresh"));
    assert!(store.entries.is_empty());
    assert!(store.file_hash(dir.path()).unwrap().is_none());
}

#[test]
fn in_memory_bytes_are_hashed_by_buffer() {
    let a = Bytes::from(vec![1u8; 1000]);
    assert_eq!(bytes_hash(&a), sha(&[1u8; 1000]));
    assert_eq!(bytes_hash(&a.clone()), sha(&[1u8; 1000]));
    assert_eq!(bytes_hash(&a.slice(..10)), sha(&[1u8; 10]));
    assert_eq!(bytes_hash(&Bytes::from(vec![2u8; 1000])), sha(&[2u8; 1000]));
}

#[test]
fn the_cache_lives_under_the_target_dir_or_where_told() {
    let path = default_path().unwrap();
    assert!(path.ends_with("testdock/hash-cache-v2.json"), "{path:?}");
}
