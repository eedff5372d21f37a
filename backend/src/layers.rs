//! The layers of `backend/src`, checked by reading the sources: the bottom layer (tables, errors,
//! crypto, keys, clock, field rules, plumbing) imports no feature module, so a feature can use any
//! of it without tying itself to another feature; the cycles that once tied features together
//! stay cut; and rules know nothing of HTTP. docs/ARCHITECTURE.md ("Layers") explains the rules.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Modules that may import one another, and nothing else of the crate.
const BOTTOM: &[&str] = &[
    "clock",
    "config",
    "contact",
    "crypto",
    "db",
    "error",
    "extract",
    "keystore",
    "mail",
    "problem",
    "response",
    "schema",
    "validation",
    "vault",
];

/// Dependencies that once made cycles, and must not come back: (from, to).
const CUT: &[(&str, &str)] = &[
    ("registrations", "rights"),
    ("retention", "exports"),
    ("retention", "rights"),
    ("exports", "retention"),
    ("disclosure", "retention"),
    ("scans", "retention"),
    ("keystore", "badges"),
    ("state", "badges"),
    ("consents", "leads"),
    ("auth", "organisers"),
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

#[test]
fn cut_cycles_stay_cut() {
    let graph = dependencies();
    let back: Vec<String> = CUT
        .iter()
        .filter_map(|(from, to)| {
            let file = graph.get(*from)?.get(*to)?;
            Some(format!("{from} -> {to} ({})", file.display()))
        })
        .collect();
    assert!(back.is_empty(), "a cut dependency is back: {back:#?}");
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
