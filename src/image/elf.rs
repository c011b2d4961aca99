//! Finding the files a dynamically linked Linux executable needs at run time.
//!
//! The ELF files are read, never run: PT_INTERP names the interpreter, DT_NEEDED the
//! libraries, and DT_RPATH / DT_RUNPATH plus the host's library directories say where
//! glibc's loader would look for them.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::path::{Component, Path, PathBuf};

use goblin::container::{Container, Ctx};
use goblin::elf::dynamic::{Dynamic, DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME};
use goblin::elf::header::{self, Header, EM_386, EM_AARCH64, EM_ARM, EM_LOONGARCH};
use goblin::elf::header::{EM_PPC64, EM_RISCV, EM_S390, EM_X86_64};
use goblin::elf::program_header::{ProgramHeader, PT_INTERP};
use goblin::elf::Elf;
use goblin::strtab::Strtab;

/// A host executable and everything the dynamic loader needs to run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ElfClosure {
    /// The executable itself (as given, canonicalised).
    pub(crate) executable: PathBuf,
    /// The ELF interpreter path as written in PT_INTERP (e.g. /lib64/ld-linux-x86-64.so.2),
    /// None for static binaries.
    pub(crate) interpreter: Option<PathBuf>,
    /// Shared libraries, each as (path the loader will look it up at inside the image, host
    /// file to read its bytes from after following symlinks). Deduplicated, deterministic
    /// order (BFS order of discovery).
    pub(crate) libraries: Vec<(PathBuf, PathBuf)>,
}

/// Why the files an executable needs could not be determined.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ElfError {
    /// A file could not be read.
    #[error("cannot read `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A file is not a loadable ELF file.
    #[error(
        "`{path}` is not an ELF executable ({reason}); host-binary images need a Linux ELF file"
    )]
    NotElf {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The executable is built for another architecture than the host's.
    #[error("`{path}` is built for {found}, but this host runs {expected}; build it for the host's architecture")]
    ForeignArch {
        /// The executable.
        path: PathBuf,
        /// Its architecture.
        found: String,
        /// The host's architecture.
        expected: String,
    },
    /// A needed library is in none of the directories the loader would search.
    #[error("`{path}` needs `{library}`, which was not found in {searched:?}")]
    MissingLibrary {
        /// The object that needs the library.
        path: PathBuf,
        /// The DT_NEEDED entry.
        library: String,
        /// The directories (or, for a name with a `/`, the path) searched.
        searched: Vec<PathBuf>,
    },
}

/// One meaningful line of an `ld.so.conf` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConfLine {
    /// A library directory.
    Dir(PathBuf),
    /// An `include` pattern, relative to the including file's directory unless absolute.
    Include(String),
}

/// Known architectures: Rust's name, ELF machine, 64-bit, little-endian, multiarch triple.
const ARCHES: [(&str, u16, bool, bool, &str); 9] = [
    ("x86_64", EM_X86_64, true, true, "x86_64-linux-gnu"),
    ("x86", EM_386, false, true, "i386-linux-gnu"),
    ("aarch64", EM_AARCH64, true, true, "aarch64-linux-gnu"),
    ("arm", EM_ARM, false, true, "arm-linux-gnueabihf"),
    ("riscv64", EM_RISCV, true, true, "riscv64-linux-gnu"),
    ("powerpc64", EM_PPC64, true, true, "powerpc64le-linux-gnu"),
    ("powerpc64", EM_PPC64, true, false, "powerpc64-linux-gnu"),
    ("s390x", EM_S390, true, false, "s390x-linux-gnu"),
    (
        "loongarch64",
        EM_LOONGARCH,
        true,
        true,
        "loongarch64-linux-gnu",
    ),
];

/// Class, byte order and machine: what must match for the loader to accept a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Arch {
    is_64: bool,
    little_endian: bool,
    machine: u16,
}

impl Arch {
    /// The architecture of the running host, None if this module does not know it.
    fn host() -> Option<Arch> {
        let little_endian = cfg!(target_endian = "little");
        let known = ARCHES
            .iter()
            .find(|a| a.0 == std::env::consts::ARCH && a.3 == little_endian);
        known.map(|&(_, machine, is_64, little_endian, _)| Arch {
            is_64,
            little_endian,
            machine,
        })
    }

    /// The Debian multiarch triple, e.g. `x86_64-linux-gnu`.
    fn multiarch(self) -> Option<&'static str> {
        let key = (self.machine, self.is_64, self.little_endian);
        ARCHES.iter().find(|a| (a.1, a.2, a.3) == key).map(|a| a.4)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known = ARCHES.iter().find(|a| a.1 == self.machine);
        let name = known.map_or_else(|| header::machine_to_str(self.machine), |a| a.0);
        let bits = if self.is_64 { 64 } else { 32 };
        let endian = if self.little_endian { "little" } else { "big" };
        write!(f, "{name} ({bits}-bit {endian}-endian)")
    }
}

/// What the resolver needs from one ELF file.
#[derive(Debug, Default)]
struct ElfInfo {
    arch: Arch,
    soname: Option<String>,
    interpreter: Option<String>,
    needed: Vec<String>,
    rpath: Vec<String>,
    runpath: Vec<String>,
}

/// A file read by [`load`]: either usable, or built for another architecture.
#[derive(Debug)]
enum Loaded {
    Elf(ElfInfo),
    Foreign(Arch),
}

/// Maps an I/O error about `path` to [`ElfError::Io`].
fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ElfError {
    let path = path.to_path_buf();
    move |source| ElfError::Io { path, source }
}

/// Reads `path`; a file whose architecture differs from `want` (when given) is not parsed further.
fn load(path: &Path, want: Option<Arch>) -> Result<Loaded, ElfError> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    let path = path.to_path_buf();
    let not_elf = |reason: String| ElfError::NotElf { path, reason };
    let hdr = match Elf::parse_header(&bytes) {
        Ok(hdr) => hdr,
        Err(e) => return Err(not_elf(e.to_string())),
    };
    let arch = Arch {
        is_64: hdr.e_ident[header::EI_CLASS] == header::ELFCLASS64,
        little_endian: hdr.e_ident[header::EI_DATA] == header::ELFDATA2LSB,
        machine: hdr.e_machine,
    };
    if want.is_some_and(|want| want != arch) {
        return Ok(Loaded::Foreign(arch));
    }
    parse_info(&bytes, &hdr, arch)
        .map(Loaded::Elf)
        .map_err(not_elf)
}

/// Reads the interpreter and the dynamic section's strings of a file whose header is parsed.
fn parse_info(bytes: &[u8], hdr: &Header, arch: Arch) -> Result<ElfInfo, String> {
    if !matches!(hdr.e_type, header::ET_EXEC | header::ET_DYN) {
        let kind = header::et_to_str(hdr.e_type);
        return Err(format!("its type is {kind}, not a program or library"));
    }
    let container = [Container::Little, Container::Big][usize::from(arch.is_64)];
    let ctx = Ctx::new(container, hdr.endianness().map_err(|e| e.to_string())?);
    let (phoff, phnum) = (hdr.e_phoff as usize, hdr.e_phnum as usize);
    let phdrs = ProgramHeader::parse(bytes, phoff, phnum, ctx).map_err(|e| e.to_string())?;
    let mut info = ElfInfo {
        arch,
        ..ElfInfo::default()
    };
    if let Some(ph) = phdrs.iter().find(|ph| ph.p_type == PT_INTERP) {
        let (start, len) = (ph.p_offset as usize, ph.p_filesz as usize);
        let raw = start.checked_add(len).and_then(|end| bytes.get(start..end));
        let raw = raw.ok_or("its PT_INTERP lies outside the file")?;
        let raw = raw.split(|&b| b == 0).next().unwrap_or_default();
        info.interpreter = Some(String::from_utf8_lossy(raw).into_owned());
    }
    let Some(dynamic) = Dynamic::parse(bytes, &phdrs, ctx).map_err(|e| e.to_string())? else {
        return Ok(info);
    };
    let (offset, len) = (dynamic.info.strtab, dynamic.info.strsz);
    let strtab = Strtab::parse(bytes, offset, len, 0).map_err(|e| e.to_string())?;
    for d in &dynamic.dyns {
        let list = match d.d_tag {
            DT_NEEDED => &mut info.needed,
            DT_RPATH => &mut info.rpath,
            DT_RUNPATH => &mut info.runpath,
            DT_SONAME => {
                info.soname = strtab.get_at(d.d_val as usize).map(str::to_owned);
                continue;
            }
            _ => continue,
        };
        let value = strtab
            .get_at(d.d_val as usize)
            .ok_or("bad dynamic string")?;
        list.push(value.to_owned());
    }
    Ok(info)
}

/// Finds the interpreter and all shared libraries of `executable`, searching the host's
/// default library directories ([`system_library_dirs`]).
pub(crate) fn resolve_closure(executable: &Path) -> Result<ElfClosure, ElfError> {
    resolve_closure_with(executable, &system_library_dirs())
}

/// Like resolve_closure but with explicit system library directories (for tests and
/// cross-checking).
pub(crate) fn resolve_closure_with(
    executable: &Path,
    system_dirs: &[PathBuf],
) -> Result<ElfClosure, ElfError> {
    let exe = fs::canonicalize(executable).map_err(io_err(executable))?;
    let host = Arch::host();
    let info = match load(&exe, host)? {
        Loaded::Elf(info) => info,
        Loaded::Foreign(found) => {
            let expected = host.map_or_else(|| std::env::consts::ARCH.into(), |h| h.to_string());
            let found = found.to_string();
            return Err(ElfError::ForeignArch {
                path: exe,
                found,
                expected,
            });
        }
    };
    let arch = info.arch;
    let interpreter = info.interpreter.as_ref().map(PathBuf::from);
    let interp_file = match &interpreter {
        Some(interp) => Some(fs::canonicalize(interp).map_err(io_err(interp))?),
        None => None,
    };
    // Names the loader already has an object for: it matches DT_NEEDED against these first.
    let mut names: HashSet<String> = HashSet::new();
    if let Some(interp) = &interpreter {
        names.insert(interp.to_string_lossy().into_owned());
        names.extend(interp.file_name().map(|n| n.to_string_lossy().into_owned()));
    }
    let mut files: HashSet<PathBuf> = HashSet::from_iter(interp_file.clone());
    files.insert(exe.clone());
    let exe_origin = exe.parent().unwrap_or(Path::new("/")).to_path_buf();
    // The executable's RPATH is inherited, unless it has a RUNPATH.
    let exe_rpath = info.runpath.is_empty().then(|| info.rpath.clone());
    let exe_rpath = exe_rpath.unwrap_or_default();
    let mut libraries: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut queue = VecDeque::from([(exe.clone(), info)]);
    while let Some((path, object)) = queue.pop_front() {
        let origin = path.parent().unwrap_or(Path::new("/"));
        let (rpath, runpath, is_64) = (&object.rpath, &object.runpath, arch.is_64);
        let dirs = search_dirs(
            origin,
            rpath,
            runpath,
            &exe_origin,
            &exe_rpath,
            system_dirs,
            is_64,
        );
        for name in &object.needed {
            if !names.insert(name.clone()) {
                continue;
            }
            let (image, host_file, lib) = match find(name, &dirs, arch, interp_file.as_ref())? {
                Found::Library(image, host_file, lib) => (image, host_file, lib),
                Found::Interpreter => continue,
                Found::Missing(searched) => {
                    let (path, library) = (path.clone(), name.clone());
                    return Err(ElfError::MissingLibrary {
                        path,
                        library,
                        searched,
                    });
                }
            };
            let image = normalize(&std::path::absolute(&image).unwrap_or(image));
            names.extend(lib.soname.clone());
            if !libraries.iter().any(|(known, _)| *known == image) {
                libraries.push((image.clone(), host_file.clone()));
            }
            if files.insert(host_file) {
                queue.push_back((image, lib));
            }
        }
    }
    Ok(ElfClosure {
        executable: exe,
        interpreter,
        libraries,
    })
}

/// Where a DT_NEEDED entry was found.
#[derive(Debug)]
enum Found {
    /// At this path (in the image), backed by this host file.
    Library(PathBuf, PathBuf, ElfInfo),
    /// It is the interpreter, which the image has anyway.
    Interpreter,
    /// Nowhere: these are the paths tried.
    Missing(Vec<PathBuf>),
}

/// Looks `name` up the way the loader does: as a path if it has a `/`, else in `dirs`,
/// skipping files built for another architecture.
fn find(
    name: &str,
    dirs: &[PathBuf],
    arch: Arch,
    interp: Option<&PathBuf>,
) -> Result<Found, ElfError> {
    let slash = name.contains('/');
    let searched = if slash {
        vec![name.into()]
    } else {
        dirs.to_vec()
    };
    let join = |dir: &PathBuf| if slash { dir.clone() } else { dir.join(name) };
    for candidate in searched.iter().map(join).filter(|c| c.is_file()) {
        let host_file = fs::canonicalize(&candidate).map_err(io_err(&candidate))?;
        if interp == Some(&host_file) {
            return Ok(Found::Interpreter);
        }
        if let Loaded::Elf(lib) = load(&host_file, Some(arch))? {
            return Ok(Found::Library(candidate, host_file, lib));
        }
    }
    Ok(Found::Missing(searched))
}

/// The directories searched for a library needed by an object in `origin`, in glibc's order:
/// the object's DT_RPATH and then the executable's (both only if the object has no
/// DT_RUNPATH; pass an empty `exe_rpath` if the executable has one), then the object's
/// DT_RUNPATH, then `system`. Entries may be colon-separated lists.
pub(crate) fn search_dirs(
    origin: &Path,
    rpath: &[String],
    runpath: &[String],
    exe_origin: &Path,
    exe_rpath: &[String],
    system: &[PathBuf],
    is_64: bool,
) -> Vec<PathBuf> {
    let expand_all = |entries: &[String], origin: &Path| -> Vec<PathBuf> {
        let parts = entries.iter().flat_map(|e| e.split(':'));
        parts.filter_map(|e| expand(e, origin, is_64)).collect()
    };
    let mut dirs = Vec::new();
    if runpath.is_empty() {
        dirs.extend(expand_all(rpath, origin));
        dirs.extend(expand_all(exe_rpath, exe_origin));
    }
    dirs.extend(expand_all(runpath, origin));
    dirs.extend(system.iter().cloned());
    dedup(dirs)
}

/// Expands `$ORIGIN`, `$LIB` and `$PLATFORM` (also as `${...}`) in one search path entry;
/// None for an empty entry. Other `$` sequences stay as written, as glibc does.
fn expand(entry: &str, origin: &Path, is_64: bool) -> Option<PathBuf> {
    if entry.is_empty() {
        return None;
    }
    let mut out = OsString::new();
    let mut rest = entry;
    while let Some(at) = rest.find('$') {
        out.push(&rest[..at]);
        rest = &rest[at + 1..];
        let not_ident = |c: char| !(c.is_ascii_alphanumeric() || c == '_');
        let (var, after) = match rest.strip_prefix('{').and_then(|r| r.split_once('}')) {
            Some(braced) => braced,
            None => rest.split_at(rest.find(not_ident).unwrap_or(rest.len())),
        };
        match var {
            "ORIGIN" => out.push(origin),
            "LIB" => out.push(if is_64 { "lib64" } else { "lib" }),
            "PLATFORM" if std::env::consts::ARCH == "x86" => out.push("i686"),
            "PLATFORM" => out.push(std::env::consts::ARCH),
            _ => {
                out.push("$");
                continue;
            }
        }
        rest = after;
    }
    out.push(rest);
    Some(PathBuf::from(out))
}

/// Drops `.` and resolves `..` lexically, as a path inside an image of real directories.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => _ = out.pop(),
            part => out.push(part),
        }
    }
    out
}

/// Keeps the first occurrence of each path.
fn dedup(mut dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut seen = HashSet::new();
    dirs.retain(|dir| seen.insert(dir.clone()));
    dirs
}

/// The host's default library search directories: those of /etc/ld.so.conf (with its
/// `include`s), then /lib/<multiarch>, /usr/lib/<multiarch>, /lib64, /usr/lib64, /lib,
/// /usr/lib. Deduplicated; only existing directories.
pub(crate) fn system_library_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    read_conf(Path::new("/etc/ld.so.conf"), &mut dirs, 0);
    if let Some(triple) = Arch::host().and_then(Arch::multiarch) {
        dirs.push(Path::new("/lib").join(triple));
        dirs.push(Path::new("/usr/lib").join(triple));
    }
    dirs.extend(["/lib64", "/usr/lib64", "/lib", "/usr/lib"].map(PathBuf::from));
    dedup(dirs).into_iter().filter(|dir| dir.is_dir()).collect()
}

/// Appends the directories of one ld.so.conf file (and its includes) to `dirs`.
fn read_conf(file: &Path, dirs: &mut Vec<PathBuf>, depth: u32) {
    let Ok(text) = fs::read_to_string(file) else {
        return;
    };
    for line in parse_ld_so_conf(&text) {
        match line {
            ConfLine::Dir(dir) => dirs.push(dir),
            ConfLine::Include(pattern) if depth < 8 => {
                let base = file.parent().unwrap_or(Path::new("/"));
                for included in expand_include(&pattern, base) {
                    read_conf(&included, dirs, depth + 1);
                }
            }
            ConfLine::Include(_) => {}
        }
    }
}

/// Parses ld.so.conf text: `#` comments, `include PATTERN...`, `hwcap` lines (ignored) and
/// absolute directories, one per line.
pub(crate) fn parse_ld_so_conf(text: &str) -> Vec<ConfLine> {
    let mut lines = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        let mut words = line.split_whitespace();
        match words.next() {
            Some("include") => lines.extend(words.map(|w| ConfLine::Include(w.to_owned()))),
            Some(_) if line.starts_with('/') => lines.push(ConfLine::Dir(PathBuf::from(line))),
            _ => {}
        }
    }
    lines
}

/// The files an include pattern names, sorted: a literal path, or a directory plus a file
/// name with one `*` (such as `*.conf`), which does not match names starting with a dot.
fn expand_include(pattern: &str, base: &Path) -> Vec<PathBuf> {
    let pattern = base.join(pattern);
    let Some((dir, name)) = pattern.parent().zip(pattern.file_name()) else {
        return Vec::new();
    };
    let Some((prefix, suffix)) = name.to_str().and_then(|n| n.split_once('*')) else {
        return vec![pattern.clone()];
    };
    let matches = |name: &str| {
        name.len() >= prefix.len() + suffix.len()
            && name.starts_with(prefix)
            && name.ends_with(suffix)
            && !name.starts_with('.')
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let entries = entries.filter_map(Result::ok);
    let names = entries.filter(|e| e.file_name().to_str().is_some_and(matches));
    let mut files: Vec<PathBuf> = names.map(|e| e.path()).collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests;
