//! The crate's dependencies point one way: plain data and rules at the bottom, the web
//! surface and the AWS wiring on top (`src/lib.rs` is the map). This test reads every
//! production source file, collects the modules each one names (`crate::…`, `super::…`),
//! and refuses an import that points up a layer, or any cycle between modules — between
//! the top-level modules, and between sibling files such as `aws/ecs.rs` and
//! `aws/taskdef.rs`. A new top-level module must be given its layer here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom to top. Within one layer a module may use another, as long as there is no cycle.
const LAYERS: &[&[&str]] = &[
    // Plain data and pure rules: a deployment and its state machine, the target's records,
    // the plan, ECS's events and the rollout rules, the image reference.
    &["model"],
    // Inputs: the config, EventBridge events, uploads and manifests, dead letters.
    &["input"],
    // What people are told, and the signed approval links.
    &["notify", "approval"],
    // The traits for AWS over plain types.
    &["ports"],
    // The store: the ledger over the object-store port.
    &["ledger"],
    // The pipelines.
    &["reconcile", "deployer", "probe"],
    // The web surface, and what operators are shown.
    &["web", "console"],
    // The AWS wiring, and the same ports in memory for tests.
    &["aws", "memory", "telemetry"],
    // The operator's command line, on top of the AWS wiring.
    &["cli"],
];

struct Source {
    module: String,
    code: String,
}

fn sources() -> Vec<Source> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let read: Vec<(String, String)> = files
        .into_iter()
        .filter_map(|path| {
            Some((
                module_of(&root, &path)?,
                std::fs::read_to_string(&path).unwrap(),
            ))
        })
        .collect();
    // A file of its own declared `#[cfg(test)] mod name;` holds tests, not production code.
    let tests: BTreeSet<String> = read
        .iter()
        .flat_map(|(module, text)| {
            text.split("#[cfg(test)]\nmod ")
                .skip(1)
                .filter_map(|rest| rest.split_once(";\n").map(|(name, _)| name.to_string()))
                .filter(|name| !name.contains(char::is_whitespace))
                .map(move |name| format!("{module}::{name}"))
        })
        .collect();
    read.into_iter()
        .filter(|(module, _)| !tests.contains(module))
        .map(|(module, text)| Source {
            module,
            code: production_code(&text),
        })
        .collect()
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `src/lib.rs` is the map and `src/main.rs`
/// the command line's wiring, not modules.
fn module_of(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().map(String::as_str) == Some("mod") {
        parts.pop();
    }
    (parts != ["lib"] && parts != ["main"]).then(|| parts.join("::"))
}

/// The code without comments and without the test module (always last in a file: clippy
/// refuses items after it).
fn production_code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules a file names, resolved to the longest module path that exists.
fn dependencies(source: &Source, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let resolve = |path: Vec<&str>| -> Option<String> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].join("::"))
            .find(|candidate| modules.contains(candidate))
    };
    for (at, _) in source.code.match_indices("crate::") {
        let path = path_at(&source.code[at + "crate::".len()..]);
        found.extend(resolve(path));
    }
    let parent: Vec<&str> = source.module.split("::").collect();
    let parent = &parent[..parent.len() - 1];
    for (at, _) in source.code.match_indices("super::") {
        let mut path = parent.to_vec();
        path.extend(path_at(&source.code[at + "super::".len()..]));
        found.extend(resolve(path));
    }
    found.remove(&source.module);
    found
}

/// The lower-case path segments at the start of `text` (`a::b::Type` → `[a, b]`).
fn path_at(text: &str) -> Vec<&str> {
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        segments.push(&rest[..end]);
        match rest[end..].strip_prefix("::") {
            Some(more) => rest = more,
            None => break,
        }
    }
    segments
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let sources = sources();
    let modules: BTreeSet<String> = sources.iter().map(|s| s.module.clone()).collect();
    sources
        .iter()
        .map(|s| (s.module.clone(), dependencies(s, &modules)))
        .collect()
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap()
}

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&top(module)))
        .unwrap_or_else(|| {
            panic!(
                "the module `{}` has no layer: add it to LAYERS in tests/layering.rs and to the map in src/lib.rs",
                top(module)
            )
        })
}

/// A cycle in `edges`, if there is one (depth-first search, as a path).
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

fn is_ancestor(ancestor: &str, module: &str) -> bool {
    module.starts_with(&format!("{ancestor}::"))
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let graph = graph();
    let mut upward = Vec::new();
    for (from, to) in graph
        .iter()
        .flat_map(|(f, ts)| ts.iter().map(move |t| (f, t)))
    {
        if layer(from) < layer(to) {
            upward.push(format!("{from} -> {to}"));
        }
    }
    assert!(
        upward.is_empty(),
        "imports that point up a layer (see LAYERS): {upward:#?}"
    );
    // The check sees the imports it is about: the web surface decides through the pipelines.
    assert!(graph["web"].iter().any(|m| top(m) == "deployer"));
    assert!(graph["deployer"].iter().any(|m| top(m) == "ledger"));
}

#[test]
fn the_top_level_modules_have_no_import_cycle() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in graph()
        .iter()
        .flat_map(|(f, ts)| ts.iter().map(move |t| (f, t)))
    {
        if top(from) != top(to) {
            edges
                .entry(top(from).to_string())
                .or_default()
                .insert(top(to).to_string());
        }
    }
    assert!(edges.len() >= 8, "too few modules seen: {edges:?}");
    assert_eq!(cycle(&edges), None);
}

#[test]
fn no_two_files_import_each_other() {
    // Within a module, a file and its parent may name each other (`super::` and `mod`);
    // siblings may not form a cycle.
    let edges: BTreeMap<String, BTreeSet<String>> = graph()
        .into_iter()
        .map(|(from, to)| {
            let siblings = to
                .into_iter()
                .filter(|t| !is_ancestor(t, &from) && !is_ancestor(&from, t))
                .collect();
            (from, siblings)
        })
        .collect();
    assert_eq!(cycle(&edges), None);
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("aws::ecs", "aws::taskdef"),
        ("aws::taskdef", "aws::ecs"),
        ("model", "input"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), BTreeSet::from([b.to_string()])))
    .collect();
    let found = cycle(&edges).expect("a cycle");
    assert!(found.contains(&"aws::ecs".to_string()), "{found:?}");
}
