//! The layers of `backend/src`, checked by reading the sources: the bottom layer (tables, errors,
//! crypto, keys, clock, field rules, plumbing) imports no feature module, so a feature can use any
//! of it without tying itself to another feature; no module imports itself back through others;
//! and rules know nothing of HTTP. docs/ARCHITECTURE.md ("Layers") explains the rules.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Modules that may import one another, and nothing else of the crate.
const BOTTOM: &[&str] = &[
    "clock",
    "config",
    "connections",
    "contact",
    "crypto",
    "db",
    "error",
    "extract",
    "keystore",
    "mail",
    "metrics",
    "problem",
    "receipts",
    "rate_limit",
    "response",
    "schema",
    "validation",
    "vault",
];

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules of the crate and the `.rs` files of each.
fn modules() -> BTreeMap<String, Vec<PathBuf>> {
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let root = source_root();
    for entry in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display())) {
        let path = entry.map(|e| e.path()).unwrap_or_default();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            continue;
        };
        if stem == "lib" || stem == "main" {
            continue;
        }
        let files = modules.entry(stem).or_default();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    modules
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The crate's top-level modules a source file names: `crate::x` anywhere, and the first segment
/// of each item of a `use crate::{…}` group. Comments and the file's unit tests do not count.
fn named_modules(source: &str) -> BTreeSet<String> {
    let code: String = source
        .split("\n#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default()
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut named = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        named.insert(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            named.insert(first_segment(&item));
        } else {
            named.insert(first_segment(rest));
        }
    }
    named.remove("");
    named
}

fn first_segment(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Which top-level modules each module imports, with a file that does it.
fn dependencies() -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let modules = modules();
    let mut graph: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for (module, files) in &modules {
        let edges = graph.entry(module.clone()).or_default();
        for file in files {
            let source = std::fs::read_to_string(file).unwrap_or_default();
            for named in named_modules(&source) {
                if named != *module && modules.contains_key(&named) {
                    edges.entry(named).or_insert_with(|| file.clone());
                }
            }
        }
    }
    graph
}

#[test]
fn the_bottom_layer_imports_no_feature() {
    let graph = dependencies();
    let mut offences = Vec::new();
    for module in BOTTOM {
        let edges = graph
            .get(*module)
            .unwrap_or_else(|| panic!("no module {module}"));
        for (to, file) in edges {
            if !BOTTOM.contains(&to.as_str()) {
                offences.push(format!("{module} -> {to} ({})", file.display()));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the bottom layer imports from above: {offences:#?}"
    );
}

/// A path of imports from `start` back to itself, if there is one.
fn cycle_through(
    graph: &BTreeMap<String, BTreeMap<String, PathBuf>>,
    start: &str,
) -> Option<Vec<String>> {
    // Depth-first from `start`, remembering how each module was reached.
    let mut reached_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut stack = vec![start];
    while let Some(module) = stack.pop() {
        for next in graph.get(module).into_iter().flat_map(BTreeMap::keys) {
            if next == start {
                let mut path = vec![start.to_owned(), module.to_owned()];
                let mut at = module;
                while at != start {
                    at = reached_from[at];
                    path.push(at.to_owned());
                }
                path.reverse();
                return Some(path);
            }
            if !reached_from.contains_key(next.as_str()) {
                reached_from.insert(next, module);
                stack.push(next);
            }
        }
    }
    None
}

/// Modules depend one way: no module reaches itself through the modules it imports, so every
/// feature can be read (and changed) knowing only what lies below it.
#[test]
fn no_module_imports_itself_back() {
    let graph = dependencies();
    let cycles: BTreeSet<String> = graph
        .keys()
        .filter_map(|module| cycle_through(&graph, module))
        .map(|path| path.join(" -> "))
        .collect();
    assert!(
        cycles.is_empty(),
        "modules import one another in a circle: {cycles:#?}"
    );
    // With `--nocapture`, the order: each line imports only lines above it.
    for (level, modules) in levels(&graph).iter().enumerate() {
        println!("{level:>2}: {}", modules.join(", "));
    }
}

/// The modules by level: a module's level is one more than the highest of those it imports.
/// Only meaningful without cycles.
fn levels(graph: &BTreeMap<String, BTreeMap<String, PathBuf>>) -> Vec<Vec<String>> {
    fn level_of(
        graph: &BTreeMap<String, BTreeMap<String, PathBuf>>,
        module: &str,
        known: &mut BTreeMap<String, usize>,
    ) -> usize {
        if let Some(level) = known.get(module) {
            return *level;
        }
        known.insert(module.to_owned(), 0);
        let level = graph
            .get(module)
            .into_iter()
            .flat_map(BTreeMap::keys)
            .map(|next| level_of(graph, next, known) + 1)
            .max()
            .unwrap_or(0);
        known.insert(module.to_owned(), level);
        level
    }
    let mut known = BTreeMap::new();
    let mut levels: Vec<Vec<String>> = Vec::new();
    for module in graph.keys() {
        let level = level_of(graph, module, &mut known);
        if levels.len() <= level {
            levels.resize(level + 1, Vec::new());
        }
        levels[level].push(module.clone());
    }
    levels
}

/// The check above sees a cycle when one is made.
#[test]
fn a_cycle_is_seen() {
    let mut graph: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for (from, to) in [
        ("events", "audit"),
        ("audit", "auth"),
        ("auth", "events"),
        ("stats", "events"),
    ] {
        graph
            .entry(from.to_owned())
            .or_default()
            .insert(to.to_owned(), PathBuf::new());
    }
    assert_eq!(
        cycle_through(&graph, "events"),
        Some(vec![
            "events".into(),
            "audit".into(),
            "auth".into(),
            "events".into()
        ])
    );
    assert_eq!(cycle_through(&graph, "stats"), None);
}

/// Rules speak the domain's language: a `FieldError` or a `RuleError`, never an HTTP status (the one
/// mapping to HTTP is in `error.rs`).
#[test]
fn rules_know_nothing_of_http() {
    let mut offences = Vec::new();
    for files in modules().values() {
        for file in files {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name != "rules.rs" && name != "lifecycle.rs" {
                continue;
            }
            let source = std::fs::read_to_string(file).unwrap_or_default();
            let code = source
                .split("\n#[cfg(test)]\nmod tests")
                .next()
                .unwrap_or_default();
            for word in ["ApiError", "ApiResult", "axum", "StatusCode"] {
                if code.contains(word) {
                    offences.push(format!("{} names {word}", file.display()));
                }
            }
        }
    }
    assert!(offences.is_empty(), "{offences:#?}");
}

#[test]
fn the_reader_sees_imports() {
    let named = named_modules(
        "use crate::{\n    error::{ApiError, ApiResult},\n    schema::events as event,\n    kiosks,\n};\nfn f() { crate::retention::run(); }\n// crate::mentioned_in_a_comment\n",
    );
    let expected: BTreeSet<String> = ["error", "schema", "kiosks", "retention"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(named, expected);
}
