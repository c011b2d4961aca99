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
mod tests {
    use super::*;

    fn host() -> Arch {
        Arch::host().expect("tests need a known host architecture")
    }

    /// A 64-bit little-endian ELF header and nothing else: no program headers, so no
    /// PT_INTERP and no dynamic section.
    fn bare_elf(machine: u16) -> Vec<u8> {
        let mut b = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend(header::ET_EXEC.to_le_bytes());
        b.extend(machine.to_le_bytes());
        b.extend(1u32.to_le_bytes()); // e_version
        b.extend([0; 28]); // e_entry, e_phoff, e_shoff, e_flags
        for half in [64u16, 56, 0, 64, 0, 0] {
            b.extend(half.to_le_bytes()); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
        }
        b
    }

    fn foreign_machine() -> u16 {
        match host().machine {
            header::EM_AARCH64 => header::EM_X86_64,
            _ => header::EM_AARCH64,
        }
    }

    fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        fs::write(file.path(), bytes).unwrap();
        file
    }

    fn lib_names(closure: &ElfClosure) -> Vec<String> {
        let names = closure
            .libraries
            .iter()
            .map(|(image, _)| image.file_name().unwrap());
        names.map(|n| n.to_string_lossy().into_owned()).collect()
    }

    fn existing_tools() -> impl Iterator<Item = &'static Path> {
        ["/usr/bin/ls", "/bin/sh"]
            .into_iter()
            .map(Path::new)
            .filter(|p| p.exists())
    }

    /// search_dirs for an object in /o of an executable in /e, with system dirs /sys.
    fn dirs(rpath: &[&str], runpath: &[&str], exe_rpath: &[&str], is_64: bool) -> Vec<PathBuf> {
        let own = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (o, e, sys) = (Path::new("/o"), Path::new("/e"), [PathBuf::from("/sys")]);
        let (rpath, runpath, exe_rpath) = (own(rpath), own(runpath), own(exe_rpath));
        search_dirs(o, &rpath, &runpath, e, &exe_rpath, &sys, is_64)
    }

    #[test]
    fn dash_needs_libc_and_the_interpreter() {
        let closure = resolve_closure(Path::new("/bin/sh")).unwrap();
        assert_eq!(closure.executable, fs::canonicalize("/bin/sh").unwrap());
        assert!(closure.interpreter.is_some());
        assert!(lib_names(&closure).contains(&"libc.so.6".to_string()));
    }

    #[test]
    fn ls_needs_libc_and_more_than_one_library() {
        if let Some(ls) = existing_tools().find(|p| p.ends_with("ls")) {
            let closure = resolve_closure(ls).unwrap();
            assert!(lib_names(&closure).contains(&"libc.so.6".to_string()));
            assert!(closure.libraries.len() > 1, "{closure:?}");
        }
    }

    #[test]
    fn the_interpreter_is_not_listed_among_the_libraries() {
        for exe in existing_tools() {
            let closure = resolve_closure(exe).unwrap();
            let interp = fs::canonicalize(closure.interpreter.as_ref().unwrap()).unwrap();
            assert!(closure.libraries.iter().all(|(_, host)| *host != interp));
            let interp_name = interp.file_name().unwrap().to_string_lossy().into_owned();
            assert!(!lib_names(&closure).contains(&interp_name));
        }
    }

    #[test]
    fn every_library_is_an_existing_host_elf_at_its_requested_name() {
        let closure = resolve_closure(existing_tools().next().unwrap()).unwrap();
        let mut needed = HashSet::new();
        let objects = closure.libraries.iter().map(|(_, host)| host);
        for file in std::iter::once(&closure.executable).chain(objects) {
            match load(file, Some(host())).unwrap() {
                Loaded::Elf(info) => needed.extend(info.needed),
                Loaded::Foreign(arch) => panic!("{file:?} is built for {arch}"),
            }
        }
        for (image, host_file) in &closure.libraries {
            assert!(image.is_absolute() && host_file.is_file(), "{image:?}");
            assert_eq!(fs::canonicalize(image).unwrap(), *host_file);
            let name = image.file_name().unwrap().to_string_lossy();
            assert!(needed.contains(name.as_ref()), "{name} was never requested");
        }
    }

    #[test]
    fn an_elf_without_pt_interp_or_needed_is_static() {
        let file = temp_file(&bare_elf(host().machine));
        let closure = resolve_closure(file.path()).unwrap();
        assert_eq!(closure.interpreter, None);
        assert!(closure.libraries.is_empty());
    }

    #[test]
    fn a_text_file_is_not_elf() {
        let file = temp_file(b"#!/bin/sh\necho hello\n");
        let err = resolve_closure(file.path()).unwrap_err();
        assert!(matches!(err, ElfError::NotElf { .. }), "{err:?}");
    }

    #[test]
    fn an_executable_for_another_architecture_is_rejected() {
        let file = temp_file(&bare_elf(foreign_machine()));
        match resolve_closure(file.path()).unwrap_err() {
            ElfError::ForeignArch {
                found, expected, ..
            } => assert_ne!(found, expected),
            err => panic!("{err:?}"),
        }
    }

    #[test]
    fn a_library_for_another_architecture_is_skipped_while_searching() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("libc.so.6"), bare_elf(foreign_machine())).unwrap();
        let mut dirs = vec![dir.path().to_path_buf()];
        dirs.extend(system_library_dirs());
        let closure = resolve_closure_with(Path::new("/bin/sh"), &dirs).unwrap();
        let (libc, _) = &closure.libraries[0];
        assert!(libc.ends_with("libc.so.6") && !libc.starts_with(dir.path()));
    }

    #[test]
    fn a_library_missing_from_every_dir_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = vec![dir.path().to_path_buf()];
        match resolve_closure_with(Path::new("/bin/sh"), &dirs).unwrap_err() {
            ElfError::MissingLibrary {
                library, searched, ..
            } => {
                assert_eq!((library.as_str(), searched), ("libc.so.6", dirs));
            }
            err => panic!("{err:?}"),
        }
    }

    #[test]
    fn a_needed_name_with_a_slash_is_used_as_is() {
        let closure = resolve_closure(Path::new("/bin/sh")).unwrap();
        let (libc, _) = &closure.libraries[0];
        let libc_name = libc.to_str().unwrap();
        let system = system_library_dirs();
        match find(libc_name, &system, host(), None).unwrap() {
            Found::Library(image, host_file, _) => {
                assert_eq!((image, host_file), closure.libraries[0])
            }
            other => panic!("{other:?}"),
        }
        match find("/nowhere/libc.so.6", &system, host(), None).unwrap() {
            Found::Missing(searched) => assert_eq!(searched, [Path::new("/nowhere/libc.so.6")]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rpath_of_the_object_then_of_the_executable_come_before_the_system_dirs() {
        let rpath = ["$ORIGIN/a:${ORIGIN}/../b", "", "/c/$LIB"];
        let found = dirs(&rpath, &[], &["$ORIGIN/x::/sys"], true);
        let expected = ["/o/a", "/o/../b", "/c/lib64", "/e/x", "/sys"];
        assert_eq!(found, expected.map(PathBuf::from));
    }

    #[test]
    fn runpath_disables_every_rpath() {
        let runpath = ["$ORIGIN/run:/$LIB/$PLATFORM", "/$UNKNOWN/${ORIGINAL}"];
        let found = dirs(&["/rpath"], &runpath, &["/exe-rpath"], false);
        let platform = expand("/lib/$PLATFORM", Path::new("/"), false).unwrap();
        let expected = [
            Path::new("/o/run"),
            &platform,
            "/$UNKNOWN/${ORIGINAL}".as_ref(),
        ];
        assert_eq!(found, [&expected[..], &[Path::new("/sys")]].concat());
        assert!(!platform.to_string_lossy().contains('$'));
    }

    #[test]
    fn in_image_paths_are_normalised_lexically() {
        let path = normalize(Path::new("/opt/app/bin/./../lib/../../../../libx.so"));
        assert_eq!(path, Path::new("/libx.so"));
    }

    #[test]
    fn ld_so_conf_has_dirs_and_includes_but_no_comments() {
        let text = "include /etc/ld.so.conf.d/*.conf\n\n# comment\n/usr/local/lib  # trailing\n\
                    hwcap 0 nosegneg\ninclude a.conf b/*.conf\nrelative/dir\n";
        let expected = vec![
            ConfLine::Include("/etc/ld.so.conf.d/*.conf".into()),
            ConfLine::Dir("/usr/local/lib".into()),
            ConfLine::Include("a.conf".into()),
            ConfLine::Include("b/*.conf".into()),
        ];
        assert_eq!(parse_ld_so_conf(text), expected);
    }

    #[test]
    fn an_include_glob_matches_conf_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.conf", "a.conf", "c.txt", ".hidden.conf"] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        let dir_name = dir.path().file_name().unwrap().to_str().unwrap();
        let found = expand_include(&format!("{dir_name}/*.conf"), dir.path().parent().unwrap());
        assert_eq!(
            found,
            [dir.path().join("a.conf"), dir.path().join("b.conf")]
        );
    }

    #[test]
    fn system_library_dirs_exist_and_include_the_multiarch_dir() {
        let dirs = system_library_dirs();
        assert!(dirs.iter().all(|d| d.is_dir()));
        assert_eq!(dedup(dirs.clone()), dirs);
        let multiarch = Path::new("/usr/lib").join(host().multiarch().unwrap());
        assert!(!multiarch.is_dir() || dirs.contains(&multiarch), "{dirs:?}");
    }
}
