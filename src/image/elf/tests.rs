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
