//! Injected files against the real daemon: content, modes, owners, parents, host files
//! and directories, writes into a running container, and bad input.

mod common;

use std::os::unix::fs::PermissionsExt;

use testdock::{Container, EntryKind, Exec, InjectFile};

use common::{idle, sh_ready};

/// Why archive ownership is not compared on Podman.
const COPY_OUT_OWNERS: &str =
    "Podman's copy-out reports uid/gid 0:0 for every entry (ownership inside is checked with stat)";

/// `stat -c '%a %u %g' path` inside the container: octal mode, uid, gid.
async fn stat(c: &Container, path: &str) -> String {
    let out = c
        .exec(Exec::new(["stat", "-c", "%a %u %g", path]))
        .await
        .unwrap();
    assert!(out.success(), "stat {path}: {}", out.stderr_text());
    out.stdout_text().trim().to_owned()
}

/// Sets the permission bits of a host path.
fn chmod(path: &std::path::Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn injected_config_is_in_place_before_the_main_command_starts() {
    let path = "/etc/app/conf.d/app.toml";
    let c = sh_ready("cat /etc/app/conf.d/app.toml; echo ready; exec sleep 1000")
        .file(InjectFile::from_bytes(path, "port = 8080\n"))
        .start()
        .await
        .unwrap();
    let logs = c.logs().await.unwrap();
    let read_back = c.read_file(path).await.unwrap();
    let file_stat = stat(&c, path).await;
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    // The main command printed the file before its ready line: it was there at boot.
    assert_eq!(logs.stdout, "port = 8080\nready\n");
    assert_eq!(logs.stderr, "", "cat complained at boot");
    assert_eq!(read_back, b"port = 8080\n");
    assert_eq!(
        file_stat, "644 0 0",
        "default mode and owner of injected bytes"
    );
}

#[tokio::test]
async fn host_file_keeps_its_host_mode_unless_a_mode_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("tool");
    std::fs::write(&tool, "#!/bin/sh\necho tool ran\n").unwrap();
    chmod(&tool, 0o750);

    let c = idle(common::busybox())
        .file(InjectFile::from_host_file("/usr/local/bin/tool", &tool))
        .file(InjectFile::from_host_file("/usr/local/bin/tool.txt", &tool).mode(0o640))
        .start()
        .await
        .unwrap();
    let kept = stat(&c, "/usr/local/bin/tool").await;
    let overridden = stat(&c, "/usr/local/bin/tool.txt").await;
    let ran = c.exec(Exec::new(["/usr/local/bin/tool"])).await.unwrap();
    let content = c.read_file("/usr/local/bin/tool.txt").await.unwrap();
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(kept, "750 0 0");
    assert_eq!(overridden, "640 0 0");
    assert_eq!((ran.exit_code, ran.stdout_text()), (0, "tool ran\n".into()));
    assert_eq!(content, b"#!/bin/sh\necho tool ran\n");
}

#[tokio::test]
async fn host_directory_is_copied_recursively_with_symlinks_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("sub/nested")).unwrap();
    std::fs::write(root.join("app.conf"), "top\n").unwrap();
    std::fs::write(root.join("sub/run.sh"), "#!/bin/sh\necho run\n").unwrap();
    std::fs::write(root.join("sub/nested/deep.txt"), "deep\n").unwrap();
    std::os::unix::fs::symlink("sub/nested/deep.txt", root.join("current")).unwrap();
    chmod(root, 0o755);
    chmod(&root.join("sub"), 0o750);
    chmod(&root.join("sub/nested"), 0o700);
    chmod(&root.join("app.conf"), 0o644);
    chmod(&root.join("sub/run.sh"), 0o751);
    chmod(&root.join("sub/nested/deep.txt"), 0o600);

    let c = idle(common::busybox())
        .file(InjectFile::from_host_dir("/opt/app", root).owner(1000, 1001))
        .start()
        .await
        .unwrap();
    let entries = c.read_archive("/opt/app").await.unwrap();
    let via_link = c
        .exec(Exec::new(["cat", "/opt/app/current"]))
        .await
        .unwrap();
    let kind = c
        .exec(Exec::new(["stat", "-c", "%F %N", "/opt/app/current"]))
        .await
        .unwrap();
    let run_sh = stat(&c, "/opt/app/sub/run.sh").await;
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    // Podman's copy-out reports every entry as 0:0 (the files inside are owned right:
    // `run_sh` below is from `stat` in the container).
    let ids_copied_out = !common::skip_on_podman(COPY_OUT_OWNERS).await;
    let listing: Vec<(&str, EntryKind, u64, u64)> = entries
        .iter()
        .map(|e| (e.path.as_str(), e.kind, e.uid, e.gid))
        .map(|(p, k, u, g)| {
            if ids_copied_out {
                (p, k, u, g)
            } else {
                (p, k, 1000, 1001)
            }
        })
        .collect();
    assert_eq!(
        listing,
        [
            ("app/", EntryKind::Dir, 1000, 1001),
            ("app/app.conf", EntryKind::File, 1000, 1001),
            ("app/current", EntryKind::Symlink, 1000, 1001),
            ("app/sub/", EntryKind::Dir, 1000, 1001),
            ("app/sub/nested/", EntryKind::Dir, 1000, 1001),
            ("app/sub/nested/deep.txt", EntryKind::File, 1000, 1001),
            ("app/sub/run.sh", EntryKind::File, 1000, 1001),
        ],
        "entries of /opt/app"
    );
    let link = entries.iter().find(|e| e.path == "app/current").unwrap();
    assert_eq!(link.link_target.as_deref(), Some("sub/nested/deep.txt"));
    let deep = entries
        .iter()
        .find(|e| e.path.ends_with("deep.txt"))
        .unwrap();
    assert_eq!(deep.data, b"deep\n");
    assert_eq!(via_link.stdout_text(), "deep\n");
    assert_eq!(
        kind.stdout_text().trim(),
        "symbolic link '/opt/app/current' -> 'sub/nested/deep.txt'"
    );
    assert_eq!(run_sh, "751 1000 1001");
    // ArchiveEntry::mode is documented as the permission bits (no file-type bits).
    let modes: Vec<String> = entries.iter().map(|e| format!("{:o}", e.mode)).collect();
    assert_eq!(modes, ["755", "644", "777", "750", "700", "600", "751"]);
}

#[tokio::test]
async fn injected_secret_keeps_mode_0600_and_its_owner() {
    let c = idle(common::busybox())
        .file(
            InjectFile::from_bytes("/run/secrets/token", "s3cr3t")
                .mode(0o600)
                .owner(1000, 1000),
        )
        .file(InjectFile::from_bytes("/usr/local/bin/suid", "x").mode(0o4755))
        .file(InjectFile::from_bytes("/usr/local/bin/sgid", "x").mode(0o2750))
        .start()
        .await
        .unwrap();
    let mut by_stat = Vec::new();
    let mut by_archive = Vec::new();
    for path in [
        "/run/secrets/token",
        "/usr/local/bin/suid",
        "/usr/local/bin/sgid",
    ] {
        by_stat.push(stat(&c, path).await);
        let entries = c.read_archive(path).await.unwrap();
        by_archive.extend(
            entries
                .into_iter()
                .map(|e| (e.path, format!("{:o}", e.mode), e.uid, e.gid)),
        );
    }
    // Another user cannot read the secret; its owner can.
    let as_other = c
        .exec(Exec::new(["cat", "/run/secrets/token"]).user("1001"))
        .await
        .unwrap();
    let as_owner = c
        .exec(Exec::new(["cat", "/run/secrets/token"]).user("1000"))
        .await
        .unwrap();
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(by_stat, ["600 1000 1000", "4755 0 0", "2750 0 0"]);
    assert_ne!(as_other.exit_code, 0, "uid 1001 read a 0600 secret");
    assert_eq!(
        (as_owner.exit_code, as_owner.stdout_text()),
        (0, "s3cr3t".into())
    );
    // ArchiveEntry::mode is documented as the permission bits (no file-type bits).
    if common::skip_on_podman(COPY_OUT_OWNERS).await {
        by_archive[0].2 = 1000;
        by_archive[0].3 = 1000;
    }
    assert_eq!(
        by_archive,
        [
            ("token".to_owned(), "600".to_owned(), 1000, 1000),
            ("suid".to_owned(), "4755".to_owned(), 0, 0),
            ("sgid".to_owned(), "2750".to_owned(), 0, 0),
        ]
    );
}

#[tokio::test]
async fn injecting_below_an_existing_directory_keeps_its_mode_and_owner() {
    let c = idle(common::busybox())
        .file(InjectFile::from_bytes("/tmp/x/y", "y\n"))
        .file(InjectFile::from_bytes("/etc/extra.conf", "e\n").owner(1000, 1000))
        .start()
        .await
        .unwrap();
    let tmp = stat(&c, "/tmp").await;
    let etc = stat(&c, "/etc").await;
    let created = stat(&c, "/tmp/x").await;
    let file = stat(&c, "/tmp/x/y").await;
    // /tmp is still sticky and world-writable in practice, not only on paper.
    let as_user = c
        .exec(Exec::new(["sh", "-c", "echo u > /tmp/by-user && cat /tmp/by-user"]).user("1000"))
        .await
        .unwrap();
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(tmp, "1777 0 0", "the image's /tmp changed");
    assert_eq!(etc, "755 0 0", "the image's /etc changed");
    assert_eq!(created, "755 0 0", "implicit parent");
    assert_eq!(file, "644 0 0");
    assert_eq!(
        (as_user.exit_code, as_user.stdout_text()),
        (0, "u\n".into())
    );
}

#[tokio::test]
async fn injected_empty_directory_gets_its_mode_and_owner() {
    let c = idle(common::busybox())
        .file(
            InjectFile::dir("/var/lib/app")
                .mode(0o700)
                .owner(1000, 1000),
        )
        .start()
        .await
        .unwrap();
    let dir = stat(&c, "/var/lib/app").await;
    let parent = stat(&c, "/var/lib").await;
    let entries = c.read_archive("/var/lib/app").await.unwrap();
    let write = c
        .exec(
            Exec::new(["sh", "-c", "echo hi > /var/lib/app/f && cat /var/lib/app/f"]).user("1000"),
        )
        .await
        .unwrap();
    let denied = c
        .exec(Exec::new(["ls", "/var/lib/app"]).user("1001"))
        .await
        .unwrap();
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(dir, "700 1000 1000");
    assert_eq!(parent, "755 0 0");
    let listing: Vec<(&str, EntryKind)> =
        entries.iter().map(|e| (e.path.as_str(), e.kind)).collect();
    assert_eq!(
        listing,
        [("app/", EntryKind::Dir)],
        "the directory was not empty"
    );
    assert_eq!((write.exit_code, write.stdout_text()), (0, "hi\n".into()));
    assert_ne!(
        denied.exit_code, 0,
        "uid 1001 listed a 0700 directory of uid 1000"
    );
}

#[tokio::test]
async fn write_files_puts_files_into_a_running_container() {
    let c = idle(common::busybox()).start().await.unwrap();
    c.write_files([
        InjectFile::from_bytes("/srv/data/one.txt", "v1\n")
            .mode(0o640)
            .owner(1000, 1000),
        InjectFile::from_bytes("/srv/two.txt", "two\n"),
        InjectFile::dir("/srv/empty").mode(0o711),
    ])
    .await
    .unwrap();
    let one = c.read_file("/srv/data/one.txt").await.unwrap();
    let two = c.exec(Exec::new(["cat", "/srv/two.txt"])).await.unwrap();
    let modes = [
        stat(&c, "/srv/data/one.txt").await,
        stat(&c, "/srv/two.txt").await,
        stat(&c, "/srv/empty").await,
    ];
    // A second write replaces the content.
    c.write_files([InjectFile::from_bytes("/srv/data/one.txt", "v2\n")])
        .await
        .unwrap();
    let replaced = c.read_file("/srv/data/one.txt").await.unwrap();
    c.remove().await.unwrap();
    common::assert_nothing_left(&common::this_test()).await;

    assert_eq!(one, b"v1\n");
    assert_eq!(two.stdout_text(), "two\n");
    assert_eq!(modes, ["640 1000 1000", "644 0 0", "711 0 0"]);
    assert_eq!(replaced, b"v2\n");
}

#[tokio::test]
async fn a_relative_path_or_a_missing_host_file_fails_start_and_leaves_nothing() {
    let relative = idle(common::busybox())
        .file(InjectFile::from_bytes("/etc/fine.conf", "ok"))
        .file(InjectFile::from_bytes("etc/x", "x"))
        .start()
        .await
        .map(|c| c.name().to_owned());
    let missing_host = "/definitely/not/here/testdock-missing.conf";
    let missing = idle(common::busybox())
        .file(InjectFile::from_host_file("/etc/app.conf", missing_host))
        .start()
        .await
        .map(|c| c.name().to_owned());
    let escaping = idle(common::busybox())
        .file(InjectFile::from_bytes("/etc/../../x", "x"))
        .start()
        .await
        .map(|c| c.name().to_owned());
    common::assert_nothing_left(&common::this_test()).await;

    let reserved = idle(common::busybox())
        .label("testdock.owner", "me")
        .start()
        .await
        .map(|c| c.name().to_owned());
    common::assert_nothing_left(&common::this_test()).await;

    let err = relative.expect_err("a relative container path was accepted");
    let text = err.to_string();
    assert!(text.contains("`etc/x`"), "{text}");
    assert!(text.contains("absolute"), "{text}");
    // A container that was never created is not named as if it had been.
    let about = err.container().unwrap_or_default();
    assert!(
        about.starts_with("(not created) a container of host image"),
        "{about}"
    );
    let err = reserved.expect_err("a testdock.* label was accepted");
    let text = err.to_string();
    assert!(text.contains("`testdock.owner` is reserved"), "{text}");
    let err = missing.expect_err("a missing host file was accepted");
    let text = err.to_string();
    assert!(text.contains(missing_host), "{text}");
    // Why, in the text a test prints, and once only in the chain `Debug` prints.
    assert!(text.contains("No such file or directory"), "{text}");
    let debug = format!("{err:?}");
    assert_eq!(
        debug.matches("No such file or directory").count(),
        1,
        "{debug}"
    );
    let err = escaping.expect_err("a path with `..` was accepted");
    let text = err.to_string();
    assert!(text.contains("/etc/../../x"), "{text}");
}
