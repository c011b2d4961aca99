//! TEMPORARY STUB (replaced by the ELF resolver).
#![allow(dead_code, missing_docs)]
use std::path::{Path, PathBuf};
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ElfClosure {
    pub(crate) executable: PathBuf,
    pub(crate) interpreter: Option<PathBuf>,
    pub(crate) libraries: Vec<(PathBuf, PathBuf)>,
}
#[derive(Debug, thiserror::Error)]
pub(crate) enum ElfError {
    #[error("`{path}` is not an ELF executable ({reason})")]
    NotElf { path: PathBuf, reason: String },
}
pub(crate) fn resolve_closure(executable: &Path) -> Result<ElfClosure, ElfError> {
    Err(ElfError::NotElf {
        path: executable.into(),
        reason: "stub".into(),
    })
}
