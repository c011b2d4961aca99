//! Tests of recipe fingerprints and cached ELF closures (no daemon needed).

use super::*;
use std::time::{Duration, SystemTime};

fn age(path: &Path) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(60))
        .unwrap();
}

fn tree_print(store: &mut Store, dir: &Path) -> String {
    let mut f = Fields::new("test");
    tree(store, &mut f, dir, "", &crate::host_tree::everything).unwrap();
    f.finish()
}

#[test]
fn a_tree_fingerprint_follows_content_names_modes_and_links() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("d")).unwrap();
    std::fs::write(dir.path().join("d/a"), "a").unwrap();
    age(&dir.path().join("d/a"));
    let mut store = Store::open(None);
    let first = tree_print(&mut store, dir.path());
    assert_eq!(first, tree_print(&mut store, dir.path()));
    std::fs::write(dir.path().join("d/a"), "b").unwrap();
    let rewritten = tree_print(&mut store, dir.path());
    assert_ne!(first, rewritten);
    let perms = std::fs::Permissions::from_mode(0o600);
    std::fs::set_permissions(dir.path().join("d/a"), perms).unwrap();
    let chmodded = tree_print(&mut store, dir.path());
    assert_ne!(rewritten, chmodded);
    std::os::unix::fs::symlink("d/a", dir.path().join("l")).unwrap();
    assert_ne!(chmodded, tree_print(&mut store, dir.path()));
}

#[test]
fn injected_bytes_and_host_files_count_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let host = dir.path().join("h");
    std::fs::write(&host, "x").unwrap();
    let print = |file: &InjectFile| {
        let mut f = Fields::new("test");
        inject(&mut Store::open(None), &mut f, file).unwrap();
        f.finish()
    };
    let bytes = print(&InjectFile::from_bytes("/a", "x"));
    assert_eq!(bytes, print(&InjectFile::from_bytes("/a", "x")));
    assert_ne!(bytes, print(&InjectFile::from_bytes("/a", "y")));
    assert_ne!(bytes, print(&InjectFile::from_bytes("/a", "x").mode(0o600)));
    let from_host = print(&InjectFile::from_host_file("/a", &host));
    std::fs::write(&host, "y").unwrap();
    assert_ne!(from_host, print(&InjectFile::from_host_file("/a", &host)));
    let mut f = Fields::new("test");
    let dir_as_file = InjectFile::from_host_file("/a", dir.path());
    assert!(inject(&mut Store::open(None), &mut f, &dir_as_file).is_err());
}

#[test]
fn a_closure_is_cached_until_the_binary_changes() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("sh");
    std::fs::copy("/bin/sh", &exe).unwrap();
    let mut store = Store::open(None);
    let resolved = closure(&mut store, &exe).unwrap();
    assert_eq!(resolved, resolve_closure(&exe).unwrap());
    assert_eq!(store.entries_len(), 1);
    assert_eq!(closure(&mut store, &exe).unwrap(), resolved);
    // A different binary at the same path: the cached closure is not used.
    std::fs::remove_file(&exe).unwrap();
    std::fs::write(&exe, "#!/bin/sh\n").unwrap();
    assert!(closure(&mut store, &exe).is_err());
}

#[test]
fn a_closure_entry_is_rejected_when_a_library_changed() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("libx.so");
    std::fs::write(&lib, "lib").unwrap();
    let found = ElfClosure {
        executable: lib.clone(),
        interpreter: None,
        libraries: vec![("/lib/libx.so".into(), lib.clone())],
    };
    let text = encode_closure(&found).unwrap();
    assert_eq!(decode_closure(&text), Some(found));
    // Another size: changed whatever the timestamp granularity.
    std::fs::write(&lib, "lib2").unwrap();
    assert_eq!(decode_closure(&text), None);
}

#[test]
fn the_loader_configuration_key_sees_files_edited_inside_ld_so_conf_d() {
    let etc = tempfile::tempdir().unwrap();
    let conf_d = etc.path().join("ld.so.conf.d");
    std::fs::create_dir(&conf_d).unwrap();
    std::fs::write(
        etc.path().join("ld.so.conf"),
        "include /etc/ld.so.conf.d/*.conf\n",
    )
    .unwrap();
    let lib_conf = conf_d.join("libc.conf");
    std::fs::write(&lib_conf, "/usr/local/lib\n").unwrap();
    age(&lib_conf);
    let before = loader_config_at(etc.path());
    assert_eq!(loader_config_at(etc.path()), before);
    // Edited in place: the directory's own metadata does not change, the key must.
    std::fs::write(&lib_conf, "/opt/lib\n/usr/local/lib\n").unwrap();
    assert_ne!(loader_config_at(etc.path()), before);
    // A file added beside it changes it again.
    let edited = loader_config_at(etc.path());
    std::fs::write(conf_d.join("x86_64.conf"), "/lib/x86_64\n").unwrap();
    assert_ne!(loader_config_at(etc.path()), edited);
}
