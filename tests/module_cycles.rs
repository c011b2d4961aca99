//! The crate's modules form layers: no two sibling modules use each other, directly or
//! through others (a cycle means a type two modules need should live in a third, lower
//! one). Children may use their parent and parents their children; what is checked is
//! the graph between siblings, at every level. Pure: reads `src/`, needs no Docker.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// `a::b` for `src/a/b.rs`, `` for `src/lib.rs`.
type Module = Vec<String>;

fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "lib" || p == "mod") {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "bin") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every path a file names that starts with `crate` (or `testdock`), `super` or `self`,
/// made absolute.
struct Paths<'a> {
    here: &'a Module,
    found: BTreeSet<Module>,
}

impl Paths<'_> {
    fn absolute(&self, segments: &[String]) -> Option<Module> {
        let (first, rest) = segments.split_first()?;
        let mut base = match first.as_str() {
            // `testdock::` is `crate::` too (`extern crate self as testdock`).
            "crate" | "testdock" => Vec::new(),
            "self" => self.here.clone(),
            "super" => {
                let mut m = self.here.clone();
                m.pop();
                m
            }
            _ => return None,
        };
        let mut rest = rest.iter().peekable();
        while rest.peek().is_some_and(|s| *s == "super") {
            base.pop();
            rest.next();
        }
        base.extend(rest.cloned());
        Some(base)
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.record(prefix, Some(n.ident.to_string())),
            syn::UseTree::Rename(r) => self.record(prefix, Some(r.ident.to_string())),
            syn::UseTree::Glob(_) => self.record(prefix, None),
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    self.use_tree(prefix, item);
                }
            }
        }
    }

    fn record(&mut self, prefix: &[String], last: Option<String>) {
        let mut segments = prefix.to_vec();
        segments.extend(last);
        if let Some(abs) = self.absolute(&segments) {
            self.found.insert(abs);
        }
    }
}

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments, None);
        syn::visit::visit_path(self, path);
    }
}

/// The longest known module that `path` starts with.
fn owner(modules: &BTreeSet<Module>, path: &Module) -> Module {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| modules.contains(m))
        .unwrap_or_default()
}

/// Edges between siblings: `from` and `to` lifted to the children of their common
/// ancestor; a module and its own ancestors are not siblings.
fn sibling_edge(from: &Module, to: &Module) -> Option<(Module, Module)> {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    if common == from.len() || common == to.len() {
        return None;
    }
    Some((from[..=common].to_vec(), to[..=common].to_vec()))
}

fn cycles(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    // Depth-first search for back edges; each cycle reported once by its path.
    fn walk(
        node: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        stack: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
        found: &mut Vec<Vec<Module>>,
    ) {
        if let Some(at) = stack.iter().position(|m| m == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.clone());
            found.push(cycle);
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            walk(next, edges, stack, done, found);
        }
        stack.pop();
        done.insert(node.clone());
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for node in edges.keys() {
        walk(node, edges, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

#[test]
fn sibling_modules_never_use_each_other_in_a_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(&src, f)).collect();
    assert!(modules.len() > 20, "found only {modules:?}");

    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    let mut why: BTreeMap<(Module, Module), String> = BTreeMap::new();
    for file in &files {
        let here = module_of(&src, file);
        let text = std::fs::read_to_string(file).expect("read a source file");
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut paths = Paths {
            here: &here,
            found: BTreeSet::new(),
        };
        paths.visit_file(&ast);
        for path in paths.found {
            let target = owner(&modules, &path);
            if let Some((a, b)) = sibling_edge(&here, &target) {
                why.entry((a.clone(), b.clone()))
                    .or_insert_with(|| format!("{} uses {}", file.display(), path.join("::")));
                edges.entry(a).or_default().insert(b);
            }
        }
    }
    let found = cycles(&edges);
    let report: Vec<String> = found
        .iter()
        .map(|cycle| {
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|w| why[&(w[0].clone(), w[1].clone())].clone())
                .collect();
            let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            format!("{}\n    {}", names.join(" -> "), steps.join("\n    "))
        })
        .collect();
    assert!(
        found.is_empty(),
        "import cycles between sibling modules (move what both need into a lower \
         module):\n{}",
        report.join("\n")
    );
}

#[test]
fn the_check_sees_a_cycle_when_there_is_one() {
    let a = vec!["a".to_owned()];
    let b = vec!["b".to_owned()];
    let edges = BTreeMap::from([
        (a.clone(), BTreeSet::from([b.clone()])),
        (b.clone(), BTreeSet::from([a.clone()])),
    ]);
    assert_eq!(cycles(&edges).len(), 1);
    // A child using its parent is not a cycle between siblings.
    assert_eq!(sibling_edge(&vec!["a".into(), "b".into()], &a), None);
    assert_eq!(
        sibling_edge(
            &vec!["a".into(), "b".into()],
            &vec!["a".into(), "c".into(), "d".into()]
        ),
        Some((vec!["a".into(), "b".into()], vec!["a".into(), "c".into()]))
    );
}
