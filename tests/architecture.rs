//! The map of the house, and the test that keeps it true.
//!
//! Imports (`use crate::...` and `crate::x::` paths) run one way: from a layer to the layers below
//! it, never up, and never in a circle. A module may use any module of its own layer or below, as
//! long as no two modules end up importing each other. Within `commands/` each command is its own
//! module, and no command imports another (what they share lives in `pipeline`).
//!
//! A new module goes in the layer that matches what it is; the test fails for a module it does not
//! know, so the map stays complete.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom to top.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "leaf helpers",
        &[
            "error",
            "env",
            "retry",
            "fsutil",
            "filelock",
            "http_client",
            "secret",
            "dates",
            "ui",
            "signals",
            "runtime",
            "stats",
            "process",
            "progress",
            "random",
        ],
    ),
    (
        "vocabulary: records, DCV methods, ACME challenges, zone rules, the report",
        &["record", "dcv", "acme", "zones", "output", "persist"],
    ),
    (
        "I/O, each behind its own type",
        &[
            "certcentral",
            "resolver",
            "dnsquery",
            "state",
            "publish",
            "propagation",
            "metrics",
        ],
    ),
    (
        "command line, env and config file -> plain settings",
        &["cli", "config_file", "config"],
    ),
    ("the resolved run", &["context"]),
    ("token sources", &["source"]),
    (
        "follow CNAMEs, find servers, publish with state, wait, clean up",
        &["pipeline"],
    ),
    (
        "the doctor: checks that predict the CA's failure, changing nothing",
        &["doctor"],
    ),
    ("one thin file per command", &["commands"]),
    ("the program", &["app", "lib", "main"]),
];

/// The layer index of a top-level module.
fn layer(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or(module);
    LAYERS.iter().position(|(_, mods)| mods.contains(&top))
}

/// The module a file under `src/` belongs to: its top-level module, or `commands::NAME` for a
/// command.
fn module_of(relative: &Path) -> String {
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    match parts.as_slice() {
        [top, sub, ..] if top == "commands" && sub != "mod" => format!("commands::{sub}"),
        [top, ..] => top.clone(),
        [] => String::new(),
    }
}

/// A file that is one command by itself (`commands/NAME.rs`, not `commands/mod.rs` nor a file inside
/// a command's folder, where `super::` is the command itself).
fn is_a_command_file(relative: &Path) -> bool {
    let parts: Vec<_> = relative.iter().collect();
    parts.len() == 2 && parts[0] == "commands" && parts[1] != "mod.rs"
}

/// The module a `crate::` path names (its first segments), from the text right after `crate::`.
fn target_of(path: &str) -> Option<String> {
    let mut segments = path
        .split("::")
        .map(|s| s.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_')));
    let top = segments.next().filter(|s| !s.is_empty())?.to_string();
    if top == "commands"
        && let Some(sub) = segments
            .next()
            .filter(|s| !s.is_empty() && s.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
        && [format!("{sub}.rs"), format!("{sub}/mod.rs")]
            .iter()
            .any(|file| {
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("src/commands")
                    .join(file)
                    .exists()
            })
    {
        return Some(format!("commands::{sub}"));
    }
    Some(top)
}

/// Every module `text` reaches with a `crate::` path, comments left out.
fn imports(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::b, c};`: the first segment of each item.
            let end = group.find('}').unwrap_or(group.len());
            found.extend(group[..end].split(',').filter_map(target_of));
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            found.extend(target_of(&rest[..end]));
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ reads") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Module -> the modules it imports, with one file that does it.
fn import_graph() -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src").to_path_buf();
        let from = module_of(&relative);
        let mut text = std::fs::read_to_string(&file).expect("source reads");
        if is_a_command_file(&relative) {
            // In a command's own file `super::` is `commands`: `super::auth::f` imports a command.
            text = text.replace("super::", "crate::commands::");
        }
        let edges = graph.entry(from.clone()).or_default();
        for to in imports(&text) {
            if to != from && to.split("::").next() != Some(from.as_str()) {
                edges.entry(to).or_insert_with(|| relative.clone());
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one.
fn cycle_from(
    graph: &BTreeMap<String, BTreeMap<String, PathBuf>>,
    start: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    let here = path.last().expect("path starts with start").clone();
    for next in graph.get(&here).into_iter().flat_map(|e| e.keys()) {
        if next == start {
            let mut cycle = path.clone();
            cycle.push(start.to_string());
            return Some(cycle);
        }
        if !path.contains(next) {
            path.push(next.clone());
            if let Some(cycle) = cycle_from(graph, start, path) {
                return Some(cycle);
            }
            path.pop();
        }
    }
    None
}

#[test]
fn imports_run_down_the_layers_and_never_in_a_circle() {
    let graph = import_graph();
    let mut wrong = Vec::new();
    for (from, edges) in &graph {
        let Some(from_layer) = layer(from) else {
            wrong.push(format!(
                "module {from} is on no layer of the map in tests/architecture.rs: add it where it belongs"
            ));
            continue;
        };
        for (to, file) in edges {
            match layer(to) {
                None => wrong.push(format!(
                    "{} uses crate::{to}, which is on no layer of the map",
                    file.display()
                )),
                Some(to_layer) if to_layer > from_layer => wrong.push(format!(
                    "{} ({}) imports {to} ({}), a higher layer: move what it needs down",
                    file.display(),
                    LAYERS[from_layer].0,
                    LAYERS[to_layer].0
                )),
                Some(_) if from.starts_with("commands::") && to.starts_with("commands::") => wrong
                    .push(format!(
                        "{} imports {to}: commands never import each other; share through pipeline",
                        file.display()
                    )),
                Some(_) => {}
            }
        }
        if let Some(cycle) = cycle_from(&graph, from, &mut vec![from.clone()]) {
            wrong.push(format!("import cycle: {}", cycle.join(" -> ")));
        }
    }
    wrong.dedup();
    assert!(
        wrong.is_empty(),
        "the house map is broken:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_upward_imports_groups_and_commands() {
    let found = imports(
        "use crate::error::Result; // crate::app in a comment\nuse crate::{dcv::Method, record};\nlet x = crate::commands::auth::f();\n",
    );
    let found: Vec<&str> = found.iter().map(String::as_str).collect();
    assert_eq!(found, ["commands::auth", "dcv", "error", "record"]);
    assert_eq!(
        module_of(Path::new("commands/cleanup.rs")),
        "commands::cleanup"
    );
    assert_eq!(module_of(Path::new("publish/rfc2136/mod.rs")), "publish");
    // A command that is a folder is one module, and importing it from another command is seen.
    assert_eq!(
        module_of(Path::new("commands/revalidate/select.rs")),
        "commands::revalidate"
    );
    assert_eq!(
        target_of("commands::revalidate::status").as_deref(),
        Some("commands::revalidate")
    );
    assert!(is_a_command_file(Path::new("commands/status.rs")));
    assert!(!is_a_command_file(Path::new("commands/mod.rs")));
    assert!(!is_a_command_file(Path::new(
        "commands/revalidate/select.rs"
    )));
    assert!(layer("config") > layer("publish"));
    let mut graph = BTreeMap::new();
    for (a, b) in [("x", "y"), ("y", "z"), ("z", "x")] {
        graph
            .entry(a.to_string())
            .or_insert_with(BTreeMap::new)
            .insert(b.to_string(), PathBuf::new());
    }
    let cycle = cycle_from(&graph, "x", &mut vec!["x".to_string()]).expect("a cycle");
    assert_eq!(cycle, ["x", "y", "z", "x"]);
}

/// Unpredictable numbers (DNS message ids, probe names) come from the OS CSPRNG (`random.rs`); the
/// fast generator is for backoff jitter only.
#[test]
fn only_backoff_jitter_uses_the_fast_generator() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let users: Vec<String> = files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .contains("fastrand::")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        users.iter().all(|f| f.ends_with("src/retry.rs")),
        "fastrand outside retry.rs: {users:?}; use crate::random"
    );
}
