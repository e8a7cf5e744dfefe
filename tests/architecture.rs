//! The map of the house, and the test that keeps it true.
//!
//! Imports (`use crate::...` and `crate::x::` paths) run one way: from a layer to the layers below
//! it, never up, and never in a circle. A module may use any module of its own layer or below, as
//! long as no two modules end up importing each other. Within `commands/` each command is its own
//! module, and no command imports another (what they share lives in `pipeline`).
//!
//! A new module goes in the layer that matches what it is; the test fails for a module it does not
//! know, so the map stays complete. Below the layers, files never import each other in a circle
//! either, at any depth ([`no_two_files_import_each_other_at_any_depth`]).

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
        "vocabulary: records, DCV methods, ACME challenges, the report, setting rules",
        &["record", "dcv", "acme", "output", "persist", "setting"],
    ),
    (
        "I/O, each behind its own type",
        &[
            "certcentral",
            "resolver",
            "dnsquery",
            "http_fetch",
            "state",
            "publish",
            "propagation",
            "metrics",
        ],
    ),
    (
        "command line, env and config file -> plain settings",
        &["cli", "config"],
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
    ("the program", &["app", "each_account", "lib", "main"]),
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

/// Every `.rs` file under `src/`: its path relative to `src/`, and its text.
fn sources() -> Vec<(PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).expect("source reads");
            (
                file.strip_prefix(&src).expect("under src").to_path_buf(),
                text,
            )
        })
        .collect()
}

/// Module -> the modules it imports, with one file that does it.
fn import_graph() -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let mut graph: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for (relative, mut text) in sources() {
        let from = module_of(&relative);
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

/// The file of module `segments` under `src/` (`a/b.rs` or `a/b/mod.rs`; `lib.rs` for none).
fn module_file(src: &Path, segments: &[String]) -> Option<PathBuf> {
    if segments.is_empty() {
        return Some(PathBuf::from("lib.rs"));
    }
    let joined: PathBuf = segments.iter().collect();
    [joined.with_extension("rs"), joined.join("mod.rs")]
        .into_iter()
        .find(|f| src.join(f).is_file())
}

/// The module path of a file under `src/` (`publish/rrset.rs` -> [publish, rrset]).
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The deepest module file a path (`crate::a::b::C`, `super::x::y`, from the module `here`) names.
fn file_of_path(src: &Path, here: &[String], path: &str) -> Option<PathBuf> {
    let mut segments: Vec<String> = Vec::new();
    let mut words = path.split("::").map(|w| {
        w.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .to_string()
    });
    match words.next()?.as_str() {
        "crate" => {}
        "super" => {
            segments.extend(here.iter().cloned());
            segments.pop()?;
            while let Some(w) = words.clone().next().filter(|w| w == "super") {
                let _ = w;
                words.next();
                segments.pop()?;
            }
        }
        _ => return None,
    }
    let mut best = None;
    for word in words.filter(|w| !w.is_empty()) {
        segments.push(word);
        match module_file(src, &segments) {
            Some(file) => best = Some(file),
            None => break,
        }
    }
    best.or_else(|| module_file(src, &segments[..segments.len().saturating_sub(1)]))
}

/// Every `crate::`/`super::` path in `text` (comments left out), a `{...}` group split into one path
/// per item.
fn paths_in(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    for start in ["crate::", "super::"] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(start) {
            let before = &rest[..at];
            rest = &rest[at..];
            // `super::super::x` is one path, found once from its first `super::`.
            if start == "super::" && before.ends_with("super::") {
                rest = &rest[start.len()..];
                continue;
            }
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let head = rest[..end].trim_end_matches(':').to_string();
            if rest[end..].starts_with('{') {
                let group = &rest[end + 1..];
                let close = group.find('}').unwrap_or(group.len());
                for item in group[..close].split(',') {
                    found.push(format!("{head}::{}", item.trim()));
                }
            } else {
                found.push(head);
            }
            rest = &rest[end..];
        }
    }
    found
}

/// File -> the files it imports, leaving out a module's own files below it (a parent declaring and
/// re-exporting its children is ownership, not a dependency).
fn file_graph() -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for (relative, text) in sources() {
        let here = module_path(&relative);
        let from = relative.display().to_string();
        let edges = graph.entry(from.clone()).or_default();
        for path in paths_in(&text) {
            let Some(to) = file_of_path(&src, &here, &path) else {
                continue;
            };
            let below = module_path(&to).starts_with(&here) && module_path(&to) != here;
            if !below && to != relative {
                edges
                    .entry(to.display().to_string())
                    .or_insert_with(|| relative.clone());
            }
        }
    }
    graph
}

#[test]
fn no_two_files_import_each_other_at_any_depth() {
    let graph = file_graph();
    let mut cycles: Vec<String> = graph
        .keys()
        .filter_map(|file| cycle_from(&graph, file, &mut vec![file.clone()]))
        .map(|cycle| cycle.join(" -> "))
        .collect();
    cycles.sort();
    assert!(
        cycles.is_empty(),
        "import cycles between files (move what both need into one of them or a third file):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_file_graph_resolves_crate_and_super_paths_and_sees_a_planted_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let here = module_path(Path::new("publish/powerdns/client.rs"));
    assert_eq!(here, ["publish", "powerdns", "client"]);
    let file = |p: &str| file_of_path(&src, &here, p).map(|f| f.display().to_string());
    assert_eq!(
        file("super::PowerDns").as_deref(),
        Some("publish/powerdns/mod.rs")
    );
    assert_eq!(
        file("super::super::rrset::SetApi").as_deref(),
        Some("publish/rrset.rs")
    );
    assert_eq!(file("crate::error::Result").as_deref(), Some("error.rs"));
    assert_eq!(
        paths_in("use super::{a::B, c};\nlet x = crate::d::e(); // crate::f\n"),
        ["crate::d::e", "super::a::B", "super::c"]
    );
    let mut graph = BTreeMap::new();
    for (a, b) in [("x.rs", "y.rs"), ("y.rs", "x.rs")] {
        graph
            .entry(a.to_string())
            .or_insert_with(BTreeMap::new)
            .insert(b.to_string(), PathBuf::new());
    }
    assert!(cycle_from(&graph, "x.rs", &mut vec!["x.rs".to_string()]).is_some());
}

/// The longest function allowed in `src/`: past it a function does more than one thing.
const MAX_FUNCTION_LINES: usize = 60;

/// The functions of `text` longer than `max` lines, as (name, first line, lines). A function is
/// counted from its `fn` line to the line its body's braces close on; braces in strings, chars and
/// comments are ignored (enough for rustfmt-formatted code).
fn long_functions(text: &str, max: usize) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let Some(name) = fn_name(line) else { continue };
        let mut depth = 0i64;
        let mut opened = false;
        for (end, body) in lines.iter().enumerate().skip(start) {
            let code = code_of(body);
            if !opened && code.contains(';') && !code.contains('{') {
                break; // a declaration without a body
            }
            depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
            opened |= code.contains('{');
            if opened && depth <= 0 {
                if end - start + 1 > max {
                    found.push((name.to_string(), start + 1, end - start + 1));
                }
                break;
            }
        }
    }
    found
}

/// The name of the function `line` starts, if it starts one.
fn fn_name(line: &str) -> Option<&str> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "fn")?;
    let before_ok = words[..at].iter().all(|w| {
        w.starts_with("pub") || matches!(*w, "const" | "async" | "unsafe" | "extern" | "\"C\"")
    });
    let name = words.get(at + 1)?;
    let end = name.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
    (before_ok && end > 0).then(|| &name[..end])
}

/// `line` without its comment, string and char contents.
fn code_of(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => break,
            '"' => {
                while let Some(s) = chars.next() {
                    match s {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' if matches!(chars.clone().nth(1), Some('\'')) => {
                chars.nth(1);
            }
            '\'' if chars.peek() == Some(&'\\') => {
                chars.by_ref().take_while(|s| *s != '\'').for_each(drop);
            }
            _ => out.push(c),
        }
    }
    out
}

#[test]
fn no_function_in_src_is_longer_than_60_lines() {
    let mut long = Vec::new();
    for (relative, text) in sources() {
        for (name, line, lines) in long_functions(&text, MAX_FUNCTION_LINES) {
            long.push(format!(
                "{}:{line} {name} ({lines} lines)",
                relative.display()
            ));
        }
    }
    assert!(
        long.is_empty(),
        "split these functions (at most {MAX_FUNCTION_LINES} lines each):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_function_measure_sees_a_long_body_and_ignores_braces_in_strings() {
    let body = "    let x = 1;\n".repeat(60);
    let long = format!("pub(crate) fn long() {{\n{body}}}\nfn short() {{ \"}}\"; '{{'; }}\n");
    assert_eq!(long_functions(&long, 60), [("long".to_string(), 1, 62)]);
    assert!(long_functions("fn f() {\n    let s = \"{{{\";\n}\n", 1).len() == 1);
    assert!(long_functions("fn f() {\n    let s = \"{{{\";\n}\n", 3).is_empty());
    assert!(long_functions("    fn declared(&self);\n", 0).is_empty());
}
