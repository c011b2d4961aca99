//! Reading a host directory tree, for what testdock copies from the host: injected
//! directories (into containers and host images) and build contexts. One walker, so both
//! see the same entries: sorted by name (archives are the same bytes on every host),
//! parents before children, symlinks kept as links, sockets, fifos and devices skipped
//! (they cannot be copied as content). It does blocking file IO: async callers run it on
//! `spawn_blocking` (see [`crate::archive::injection_archive_async`] and the build).

use std::io;
use std::path::{Path, PathBuf};

/// One entry of a host tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostNode {
    /// A regular file: its content and permission bits.
    File { data: Vec<u8>, mode: u32 },
    /// A directory and its permission bits.
    Dir { mode: u32 },
    /// A symbolic link and its target, as written.
    Symlink { target: String },
}

/// What to do with an entry the walk meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    /// Visit it (and, for a directory, what is below it).
    Keep,
    /// Skip it; for a directory, still look below it (a later rule may re-include).
    SkipButDescend,
    /// Skip it and everything below it.
    Skip,
}

/// A walk that failed: which host path, at which relative path, why.
#[derive(Debug)]
pub(crate) struct WalkError {
    pub(crate) path: PathBuf,
    pub(crate) rel: String,
    pub(crate) source: io::Error,
}

/// The permission bits of `meta` (no file-type bits).
pub(crate) fn host_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

/// Walks everything below the directory `host` (not `host` itself), calling `visit` with
/// each entry's path relative to the walk (`rel/name`, or `name` when `rel` is empty).
/// `filter` sees the relative path and whether the entry is a directory.
pub(crate) fn walk(
    host: &Path,
    rel: &str,
    filter: &dyn Fn(&str, bool) -> Filter,
    visit: &mut dyn FnMut(String, HostNode),
) -> Result<(), WalkError> {
    let err = |path: &Path, rel: &str| {
        let (path, rel) = (path.to_path_buf(), rel.to_owned());
        move |source| WalkError { path, rel, source }
    };
    let mut entries = std::fs::read_dir(host)
        .and_then(|d| d.collect::<io::Result<Vec<_>>>())
        .map_err(err(host, rel))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(err(&path, &child))?;
        let kind = meta.file_type();
        match filter(&child, kind.is_dir()) {
            Filter::Skip => continue,
            Filter::SkipButDescend => {
                if kind.is_dir() {
                    walk(&path, &child, filter, visit)?;
                }
                continue;
            }
            Filter::Keep => {}
        }
        if kind.is_symlink() {
            let target = std::fs::read_link(&path).map_err(err(&path, &child))?;
            let target = target.to_string_lossy().into_owned();
            visit(child, HostNode::Symlink { target });
        } else if kind.is_dir() {
            let mode = host_mode(&meta);
            visit(child.clone(), HostNode::Dir { mode });
            walk(&path, &child, filter, visit)?;
        } else if kind.is_file() {
            let data = std::fs::read(&path).map_err(err(&path, &child))?;
            let mode = host_mode(&meta);
            visit(child, HostNode::File { data, mode });
        }
    }
    Ok(())
}

/// Keeps every entry.
pub(crate) fn everything(_: &str, _: bool) -> Filter {
    Filter::Keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn collect(dir: &Path, filter: &dyn Fn(&str, bool) -> Filter) -> Vec<(String, HostNode)> {
        let mut out = Vec::new();
        walk(dir, "", filter, &mut |rel, node| out.push((rel, node))).unwrap();
        out
    }

    #[test]
    fn entries_come_sorted_parents_first_with_modes_and_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("b/run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            dir.path().join("b/run.sh"),
            std::fs::Permissions::from_mode(0o751),
        )
        .unwrap();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        symlink("a.txt", dir.path().join("c")).unwrap();
        let got = collect(dir.path(), &everything);
        let names: Vec<&str> = got.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(names, ["a.txt", "b", "b/run.sh", "c"]);
        assert!(
            matches!(&got[2].1, HostNode::File { mode: 0o751, data } if data == b"#!/bin/sh\n")
        );
        assert_eq!(
            got[3].1,
            HostNode::Symlink {
                target: "a.txt".into()
            }
        );
    }

    #[test]
    fn filters_skip_entries_and_may_still_descend() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("x/y")).unwrap();
        std::fs::write(dir.path().join("x/y/keep"), "k").unwrap();
        std::fs::write(dir.path().join("x/drop"), "d").unwrap();
        let filter = |rel: &str, _: bool| match rel {
            "x" => Filter::SkipButDescend,
            "x/drop" => Filter::Skip,
            _ => Filter::Keep,
        };
        let names: Vec<String> = collect(dir.path(), &filter)
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(names, ["x/y", "x/y/keep"]);
    }

    #[test]
    fn a_missing_directory_names_the_path() {
        let err = walk(
            Path::new("/no/such/dir"),
            "here",
            &everything,
            &mut |_, _| {},
        )
        .unwrap_err();
        assert_eq!(err.path, Path::new("/no/such/dir"));
        assert_eq!(err.rel, "here");
        assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
    }
}
