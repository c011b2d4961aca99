use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::archive::{read_entries, EntryKind};
use crate::InjectFile;

fn base() -> BuildContext {
    BuildContext::new("FROM scratch\nCOPY . /\n")
        .file(InjectFile::from_bytes("app/run.sh", "#!/bin/sh\n").mode(0o755))
        .file(InjectFile::from_bytes("app/app.conf", "port=1\n"))
}

fn tag(ctx: &BuildContext) -> String {
    assemble(ctx).unwrap().tag
}

fn paths(ctx: &BuildContext) -> Vec<String> {
    let tar = assemble(ctx).unwrap().tar;
    read_entries(&tar)
        .unwrap()
        .into_iter()
        .map(|e| e.path)
        .collect()
}

#[test]
fn the_archive_is_sorted_and_stable_across_runs_and_insertion_order() {
    let a = assemble(&base()).unwrap();
    let b = assemble(&base()).unwrap();
    assert_eq!(a.tar, b.tar);
    assert_eq!(a.tag, b.tag);
    assert_eq!(a.tag.len(), 16);
    assert!(a.tag.bytes().all(|c| c.is_ascii_hexdigit()));
    let reordered = BuildContext::new("FROM scratch\nCOPY . /\n")
        .file(InjectFile::from_bytes("app/app.conf", "port=1\n"))
        .file(InjectFile::from_bytes("app/run.sh", "#!/bin/sh\n").mode(0o755));
    assert_eq!(assemble(&reordered).unwrap().tar, a.tar);
    assert_eq!(paths(&base()), ["Dockerfile", "app/app.conf", "app/run.sh"]);
    let entries = read_entries(&a.tar).unwrap();
    assert_eq!(entries[2].mode, 0o755);
    assert_eq!(entries[1].mode, 0o644);
    assert_eq!(a.dockerfile, "FROM scratch\nCOPY . /\n");
}

#[test]
fn the_tag_changes_with_any_byte_mode_path_or_build_option() {
    let reference = tag(&base());
    let variants = [
        base().file(InjectFile::from_bytes("app/app.conf", "port=2\n")),
        base().file(InjectFile::from_bytes("app/run.sh", "#!/bin/sh\n").mode(0o700)),
        base().file(InjectFile::from_bytes("app/extra", "")),
        BuildContext::new("FROM scratch\nCOPY . /\n")
            .file(InjectFile::from_bytes("app/run.sh", "#!/bin/sh\n").mode(0o755))
            .file(InjectFile::from_bytes("app/app.cfg", "port=1\n")),
        BuildContext::new("FROM scratch\nCOPY . / \n")
            .file(InjectFile::from_bytes("app/run.sh", "#!/bin/sh\n").mode(0o755))
            .file(InjectFile::from_bytes("app/app.conf", "port=1\n")),
        base().arg("VERSION", "1"),
        base().target("stage"),
        base().label("team", "db"),
        base().dockerfile_path("docker/Dockerfile"),
    ];
    let mut seen = std::collections::HashSet::from([reference.clone()]);
    for (i, variant) in variants.iter().enumerate() {
        let t = tag(variant);
        assert!(
            seen.insert(t),
            "variant {i} has the same tag as another context"
        );
    }
    assert_ne!(
        tag(&base().arg("VERSION", "1")),
        tag(&base().arg("VERSION", "2"))
    );
    assert_ne!(tag(&base().target("a")), tag(&base().target("b")));
}

#[test]
fn the_dockerfile_text_goes_to_the_dockerfile_path() {
    let ctx = base().dockerfile_path("./docker//Dockerfile.test");
    assert_eq!(
        paths(&ctx),
        ["app/app.conf", "app/run.sh", "docker/Dockerfile.test"]
    );
}

#[test]
fn host_files_and_directories_keep_modes_and_links() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/tool"), "t").unwrap();
    std::fs::set_permissions(
        root.join("sub/tool"),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    std::os::unix::fs::symlink("sub/tool", root.join("link")).unwrap();
    let ctx = BuildContext::new("FROM scratch\n")
        .file(InjectFile::from_host_dir("tree", root))
        .file(InjectFile::from_host_file("single", root.join("sub/tool")).mode(0o600));
    let entries = read_entries(&assemble(&ctx).unwrap().tar).unwrap();
    let listing: Vec<(&str, EntryKind, u32)> = entries
        .iter()
        .map(|e| (e.path.as_str(), e.kind, e.mode))
        .collect();
    let tree_mode = std::fs::metadata(root).unwrap().permissions().mode() & 0o7777;
    assert_eq!(
        listing,
        [
            ("Dockerfile", EntryKind::File, 0o644),
            ("single", EntryKind::File, 0o600),
            ("tree/", EntryKind::Dir, tree_mode),
            ("tree/link", EntryKind::Symlink, 0o777),
            ("tree/sub/", EntryKind::Dir, 0o755),
            ("tree/sub/tool", EntryKind::File, 0o750),
        ]
    );
    // Changing a host file's mode changes the tag.
    let before = tag(&ctx);
    std::fs::set_permissions(
        root.join("sub/tool"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    assert_ne!(tag(&ctx), before);
}

#[test]
fn from_dir_honours_dockerignore_but_always_sends_the_dockerfile() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (path, content) in [
        ("Dockerfile", "FROM scratch\nCOPY . /\n"),
        (
            ".dockerignore",
            "*.log\nsecrets\ntarget\n!target/keep.txt\nDockerfile\n",
        ),
        ("app.log", "noise"),
        ("src/app.log", "kept: *.log is rooted"),
        ("src/main.rs", "fn main() {}"),
        ("secrets/key", "k"),
        ("target/big.bin", "b"),
        ("target/keep.txt", "kept"),
    ] {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let ctx = BuildContext::from_dir(root);
    assert_eq!(
        paths(&ctx),
        [
            ".dockerignore",
            "Dockerfile",
            "src/",
            "src/app.log",
            "src/main.rs",
            "target/keep.txt",
        ]
    );
    assert_eq!(
        assemble(&ctx).unwrap().dockerfile,
        "FROM scratch\nCOPY . /\n"
    );
}

#[test]
fn bad_paths_and_a_missing_dockerfile_are_invalid_input() {
    // A leading `/` is the context root: the same file value works for containers.
    let with_root = paths(&base().file(InjectFile::from_bytes("/abs", "x")));
    assert!(with_root.contains(&"abs".to_owned()), "{with_root:?}");
    let with_dir = paths(&base().file(InjectFile::dir("/data")));
    assert!(with_dir.contains(&"data/".to_owned()), "{with_dir:?}");
    let err = assemble(&base().file(InjectFile::from_bytes("a/../../x", "x"))).unwrap_err();
    assert!(err.to_string().contains("`..`"), "{err}");
    let err = assemble(&base().file(InjectFile::from_bytes(".", "x"))).unwrap_err();
    assert!(err.to_string().contains("context root"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = assemble(&BuildContext::from_dir(dir.path())).unwrap_err();
    assert!(matches!(err, Error::InvalidImageInput { .. }), "{err:?}");
    assert!(
        err.to_string().contains("no Dockerfile at `Dockerfile`"),
        "{err}"
    );
    let err = assemble(&base().file(InjectFile::from_host_file("x", "/no/such/file"))).unwrap_err();
    assert!(
        matches!(err, Error::HostIo { action: "read", .. }),
        "{err:?}"
    );
}

#[test]
fn a_bad_dockerignore_line_is_reported_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(dir.path().join(".dockerignore"), "ok\n[oops\n").unwrap();
    let err = assemble(&BuildContext::from_dir(dir.path())).unwrap_err();
    let text = err.to_string();
    assert!(text.contains(".dockerignore` line 2"), "{text}");
}

#[test]
fn a_host_directory_at_dot_fills_the_context_root() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    let ctx = BuildContext::new("FROM scratch\n").file(InjectFile::from_host_dir(".", dir.path()));
    assert_eq!(paths(&ctx), ["Dockerfile", "a.txt"]);
}
