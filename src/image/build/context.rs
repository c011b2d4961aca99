//! Assembling a [`BuildContext`]: its file tree, the archive sent to the daemon and the
//! hash that names the image.
//!
//! The tree is a sorted map from context path to entry, so the archive is the same bytes
//! whatever order files were added or listed in: entries carry mtime 0 and owner 0:0.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::ignore::IgnoreRules;
use super::BuildContext;
use crate::archive::TarWriter;
use crate::error::{Error, Result};
use crate::host_tree::{self, host_mode, Filter, HostNode};
use crate::inject::Source;

/// What is sent to the daemon, and what names it.
#[derive(Debug)]
pub(super) struct Assembled {
    /// The uncompressed context archive.
    pub(super) tar: Vec<u8>,
    /// 16 hex digits of the hash of the whole context and build options.
    pub(super) tag: String,
    /// The Dockerfile's text (for pointing at a line the daemon refused).
    pub(super) dockerfile: String,
}

/// Reads everything the context is made of and builds its archive and hash.
pub(super) fn assemble(ctx: &BuildContext) -> Result<Assembled> {
    let owner = ctx.describe();
    let invalid = |message: String| Error::InvalidImageInput {
        image: owner.clone(),
        message,
    };
    let dockerfile_path = context_path(&ctx.dockerfile_path).map_err(&invalid)?;
    if dockerfile_path.is_empty() {
        return Err(invalid(
            "the Dockerfile path names the context root".to_owned(),
        ));
    }
    let mut tree = BTreeMap::new();
    if let Some(root) = &ctx.root {
        let ignore = read_ignore(root, &owner)?;
        let walk = Walk {
            owner: &owner,
            mode: None,
            ignore: ignore.as_ref(),
        };
        walk.dir(&mut tree, "", root)?;
        // The Dockerfile and `.dockerignore` are sent even when ignored, as the CLI does
        // (the daemon needs them; COPY and ADD still do not see them).
        for kept in [dockerfile_path.as_str(), ".dockerignore"] {
            let host = root.join(kept);
            if !tree.contains_key(kept) && host.is_file() {
                let err = host_err("read", &host, kept, &owner);
                let meta = std::fs::metadata(&host).map_err(err)?;
                let data = std::fs::read(&host).map_err(host_err("read", &host, kept, &owner))?;
                let mode = host_mode(&meta);
                tree.insert(kept.to_owned(), HostNode::File { data, mode });
            }
        }
    }
    for file in &ctx.files {
        let rel = context_path(&file.path).map_err(&invalid)?;
        if rel.is_empty() && !matches!(file.source, Source::HostDir(_)) {
            return Err(invalid(format!(
                "`{}` names the context root; name a file",
                file.path
            )));
        }
        match &file.source {
            Source::Dir => {
                let mode = file.mode.unwrap_or(0o755);
                tree.insert(rel, HostNode::Dir { mode });
            }
            Source::Bytes(data) => {
                let mode = file.mode.unwrap_or(0o644);
                tree.insert(
                    rel,
                    HostNode::File {
                        data: data.to_vec(),
                        mode,
                    },
                );
            }
            Source::HostFile(host) => {
                let meta = std::fs::metadata(host).map_err(host_err("read", host, &rel, &owner))?;
                if !meta.is_file() {
                    return Err(invalid(format!(
                        "host path `{}` for `{rel}` is not a regular file{}",
                        host.display(),
                        if meta.is_dir() {
                            "; use InjectFile::from_host_dir"
                        } else {
                            ""
                        }
                    )));
                }
                let data = std::fs::read(host).map_err(host_err("read", host, &rel, &owner))?;
                let mode = file.mode.unwrap_or_else(|| host_mode(&meta));
                tree.insert(rel, HostNode::File { data, mode });
            }
            Source::HostDir(host) => {
                let walk = Walk {
                    owner: &owner,
                    mode: file.mode,
                    ignore: None,
                };
                if !rel.is_empty() {
                    let meta =
                        std::fs::metadata(host).map_err(host_err("read", host, &rel, &owner))?;
                    tree.insert(
                        rel.clone(),
                        HostNode::Dir {
                            mode: host_mode(&meta),
                        },
                    );
                }
                walk.dir(&mut tree, &rel, host)?;
            }
        }
    }
    if let Some(text) = &ctx.dockerfile {
        let data = text.as_bytes().to_vec();
        tree.insert(
            dockerfile_path.clone(),
            HostNode::File { data, mode: 0o644 },
        );
    }
    let dockerfile = match tree.get(&dockerfile_path) {
        Some(HostNode::File { data, .. }) => String::from_utf8_lossy(data).into_owned(),
        _ => {
            return Err(invalid(format!(
                "the context has no Dockerfile at `{dockerfile_path}`: add one, or point \
                 `.dockerfile_path(..)` at it"
            )))
        }
    };
    let tar = write_tar(&tree).map_err(|source| Error::HostIo {
        action: "archive",
        path: dockerfile_path.clone().into(),
        target: Some(owner.clone()),
        error: source,
    })?;
    let tag = hash(&tar, ctx, &dockerfile_path);
    Ok(Assembled {
        tar,
        tag,
        dockerfile,
    })
}

/// The hash of everything that decides the image: the archive (every path, byte, mode
/// and link) and the build options. Compression is not part of it.
fn hash(tar: &[u8], ctx: &BuildContext, dockerfile_path: &str) -> String {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(b"testdock build context v1");
    field(tar);
    field(dockerfile_path.as_bytes());
    for (key, value) in &ctx.args {
        field(b"arg");
        field(key.as_bytes());
        field(value.as_bytes());
    }
    if let Some(target) = &ctx.target {
        field(b"target");
        field(target.as_bytes());
    }
    for (key, value) in &ctx.labels {
        field(b"label");
        field(key.as_bytes());
        field(value.as_bytes());
    }
    let digest = hasher.finalize();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn write_tar(tree: &BTreeMap<String, HostNode>) -> std::io::Result<Vec<u8>> {
    let mut tar = TarWriter::new(0);
    for (path, node) in tree {
        match node {
            HostNode::File { data, mode } => tar.file(path, data, *mode, 0, 0)?,
            HostNode::Dir { mode } => tar.dir(path, *mode, 0, 0)?,
            HostNode::Symlink { target } => tar.symlink(path, target, 0, 0)?,
        }
    }
    tar.finish()
}

/// Checks a context path and returns it normalised (`""` for the root). Paths are
/// relative to the context root; a leading `/` means the root too, so the same
/// [`InjectFile`](crate::InjectFile) serves a container and a context.
pub(super) fn context_path(path: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("`{path}` contains `..`; give the path without it")),
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

pub(super) fn read_ignore(root: &Path, owner: &str) -> Result<Option<IgnoreRules>> {
    let path = root.join(".dockerignore");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::HostIo {
                action: "read",
                path,
                target: Some(owner.to_owned()),
                error: source,
            })
        }
    };
    IgnoreRules::parse(&text)
        .map(Some)
        .map_err(|e| Error::InvalidImageInput {
            image: owner.to_owned(),
            message: format!("`{}` {e}", path.display()),
        })
}

fn host_err(
    action: &'static str,
    host: &Path,
    rel: &str,
    owner: &str,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = host.to_path_buf();
    let target = Some(format!("`{rel}` in the {owner}"));
    move |source| Error::HostIo {
        action,
        path,
        target,
        error: source,
    }
}

/// What a walk of the context root does with an entry, by the `.dockerignore` rules.
pub(super) fn ignore_filter(rules: Option<&IgnoreRules>) -> impl Fn(&str, bool) -> Filter + '_ {
    move |child: &str, is_dir: bool| match rules {
        Some(rules) if rules.excludes(child) => {
            if is_dir && rules.may_reinclude_below(child) {
                Filter::SkipButDescend
            } else {
                Filter::Skip
            }
        }
        _ => Filter::Keep,
    }
}

/// Copies a host directory tree into the context (see [`crate::host_tree`]).
struct Walk<'a> {
    owner: &'a str,
    /// Mode for regular files, instead of the host's.
    mode: Option<u32>,
    /// `.dockerignore` rules, with paths relative to the context root.
    ignore: Option<&'a IgnoreRules>,
}

impl Walk<'_> {
    fn dir(&self, tree: &mut BTreeMap<String, HostNode>, rel: &str, host: &Path) -> Result<()> {
        let filter = ignore_filter(self.ignore);
        host_tree::walk(host, rel, &filter, &mut |child, node| {
            let node = match node {
                HostNode::File { data, mode } => HostNode::File {
                    data,
                    mode: self.mode.unwrap_or(mode),
                },
                other => other,
            };
            tree.insert(child, node);
        })
        .map_err(|e| host_err("walk", &e.path, &e.rel, self.owner)(e.source))
    }
}

#[cfg(test)]
mod tests;
