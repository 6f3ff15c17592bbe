//! The layout rules the compiler cannot check by itself:
//! * no import cycle between two source files anywhere in the workspace
//!   (crate cycles cargo already refuses; this is the same rule one level
//!   down, so each file can be read knowing only what is below it);
//! * `unsafe` only in the DPDK layer (crates/dpdk), and every crate but that
//!   one says `#![forbid(unsafe_code)]`;
//! * each crate's dependencies point down: core depends on no other newipd
//!   crate, dpdk only on core, tools not on the daemon.
//!
//! A file depends on another when it names it: `crate::a::b`, `super::x`,
//! `self::x`, or a child module by its bare name. A `mod.rs` may declare its
//! children and re-export them; a child may not then reach back up into its
//! parent's own items (shared helpers live in a leaf file). Test modules
//! (`#[cfg(test)] mod x { .. }`) are left out: a differential test sits
//! beside the fast path it checks and may call the general path above it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const TOP: &str = env!("CARGO_MANIFEST_DIR");

/// The crates of the workspace: (source root, name).
const CRATES: [(&str, &str); 4] =
    [("crates/core/src", "newipd_core"), ("crates/dpdk/src", "newipd_dpdk"), ("crates/tools/src", "newipd_tools"), ("src", "newipd")];

/// One crate's files by module path (`["wire", "newip"]` for wire/newip/mod.rs).
struct Crate {
    files: BTreeMap<Vec<String>, PathBuf>,
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn module_path(root: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(root).expect("under root");
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

fn load(root: &str) -> Crate {
    let root = Path::new(TOP).join(root);
    let mut v = Vec::new();
    rs_files(&root, &mut v);
    let mut files = BTreeMap::new();
    for f in v {
        // main.rs is its own crate (the binary): it may use anything of the library.
        if f.file_name().is_some_and(|n| n == "main.rs") {
            continue;
        }
        files.insert(module_path(&root, &f), f);
    }
    Crate { files }
}

/// The text: comments, literals and test modules
/// blanked out.
fn code_only(s: &str) -> String {
    without_tests(&code_with_tests(s))
}

/// The code with every `#[cfg(test)] mod name { ... }` block removed.
fn without_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let t = after.trim_start();
        let is_block = t.starts_with("mod ") && t.find('{').is_some_and(|b| t.find(';').is_none_or(|s| b < s));
        if !is_block {
            out.push_str("#[cfg(test)]");
            rest = after;
            continue;
        }
        let open = after.len() - t.len() + t.find('{').expect("checked");
        let close = group_end(after.as_bytes(), open);
        rest = &after[(close + 1).min(after.len())..];
    }
    out.push_str(rest);
    out
}

/// The text with comments, string and char literals blanked out.
fn code_with_tests(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if b[i] == b'r' && (b[i..].starts_with(b"r\"") || b[i..].starts_with(b"r#")) && (i == 0 || !is_ident(b[i - 1])) {
            let mut j = i + 1;
            let mut hashes = 0;
            while j < b.len() && b[j] == b'#' {
                hashes += 1;
                j += 1;
            }
            if j < b.len() && b[j] == b'"' {
                let end: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
                j += 1;
                while j < b.len() && !b[j..].starts_with(&end) {
                    j += 1;
                }
                i = j + end.len();
                out.push_str("\"\"");
            } else {
                out.push(b[i] as char);
                i += 1;
            }
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || (b[i + 1] == b'\\' && b[i + 3..].contains(&b'\''))) {
            // A char literal ('a', '\n', '\u{..}'); a lifetime has no closing quote.
            let mut j = i + 1;
            if b[j] == b'\\' {
                j += 1;
            }
            j += 1;
            while j < b.len() && b[j] != b'\'' {
                j += 1;
            }
            i = j + 1;
            out.push_str("' '");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Every path `a::b::c...` in `code` with the inline module nesting at its
/// place (`mod x { ... }` blocks inside the file).
fn paths(code: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    // Stack of (brace depth at which an inline module opened, its name).
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut pending_mod: Option<String> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'{' {
            depth += 1;
            if let Some(m) = pending_mod.take() {
                inline.push((depth, m));
            }
            i += 1;
            continue;
        }
        if c == b'}' {
            if inline.last().is_some_and(|(d, _)| *d == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
            continue;
        }
        if c == b';' {
            pending_mod = None;
        }
        if is_ident(c) && (i == 0 || (!is_ident(b[i - 1]) && b[i - 1] != b':')) {
            // Read a path: ident (:: ident)*
            let mut segs = Vec::new();
            let mut j = i;
            loop {
                let s = j;
                while j < b.len() && is_ident(b[j]) {
                    j += 1;
                }
                segs.push(code[s..j].to_string());
                if b[j..].starts_with(b"::") && j + 2 < b.len() && is_ident(b[j + 2]) {
                    j += 2;
                } else if b[j..].starts_with(b"::{") {
                    // A use group: each member continues the path.
                    let close = group_end(b, j + 2);
                    for member in split_group(&code[j + 3..close]) {
                        let mut full = segs.clone();
                        full.extend(member.split("::").map(|x| x.trim().to_string()).filter(|x| !x.is_empty()));
                        out.push((inline.iter().map(|(_, n)| n.clone()).collect(), full));
                    }
                    j = close + 1;
                    segs.clear();
                    break;
                } else {
                    break;
                }
            }
            if segs.len() == 1 && segs[0] == "mod" {
                // `mod name {` opens an inline module; `mod name;` declares a file.
                let mut k = j;
                while k < b.len() && b[k].is_ascii_whitespace() {
                    k += 1;
                }
                let s = k;
                while k < b.len() && is_ident(b[k]) {
                    k += 1;
                }
                pending_mod = Some(code[s..k].to_string());
                i = k;
                continue;
            }
            if segs.len() > 1 {
                out.push((inline.iter().map(|(_, n)| n.clone()).collect(), segs));
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out
}

fn group_end(b: &[u8], open: usize) -> usize {
    let mut d = 0;
    for (k, &c) in b.iter().enumerate().skip(open) {
        if c == b'{' {
            d += 1;
        } else if c == b'}' {
            d -= 1;
            if d == 0 {
                return k;
            }
        }
    }
    b.len() - 1
}

/// Members of a use group, nested groups flattened (`a::{b, c}, d`).
fn split_group(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = 0;
    let mut start = 0;
    let bytes = s.as_bytes();
    for (k, &c) in bytes.iter().enumerate() {
        match c {
            b'{' => d += 1,
            b'}' => d -= 1,
            b',' if d == 0 => {
                out.push(s[start..k].to_string());
                start = k + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].to_string());
    let mut flat = Vec::new();
    for m in out {
        let m = m.trim();
        if let Some(p) = m.find("::{") {
            let (head, rest) = m.split_at(p);
            for inner in split_group(&rest[3..rest.len() - 1]) {
                flat.push(format!("{head}::{inner}"));
            }
        } else if !m.is_empty() {
            flat.push(m.split(" as ").next().unwrap_or(m).to_string());
        }
    }
    flat
}

/// The file module a path names, from a file at module `at` (with `inline`
/// modules open): the longest prefix that is a file.
fn target(krate: &Crate, at: &[String], inline: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut here: Vec<String> = at.iter().chain(inline).cloned().collect();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            here.clear();
            rest = &rest[1..];
        }
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                here.pop()?;
                rest = &rest[1..];
            }
        }
        Some("self") => rest = &rest[1..],
        Some(first) => {
            // A bare name: a child module of the module it is written in.
            let mut child = here.clone();
            child.push(first.to_string());
            if !krate.files.contains_key(&child) {
                return None;
            }
        }
        None => return None,
    }
    let mut best = None;
    let mut m = here.clone();
    if krate.files.contains_key(&m) {
        best = Some(m.clone());
    }
    for s in rest {
        m.push(s.clone());
        if krate.files.contains_key(&m) {
            best = Some(m.clone());
        } else {
            break;
        }
    }
    best
}

/// Every file-to-file dependency of one crate.
fn edges(krate: &Crate) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mut g: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (m, f) in &krate.files {
        let code = code_only(&std::fs::read_to_string(f).expect("read source"));
        let deps = g.entry(m.clone()).or_default();
        for (inline, p) in paths(&code) {
            match target(krate, m, &inline, &p) {
                Some(t) if &t != m => {
                    deps.insert(t);
                }
                _ => {}
            }
        }
    }
    g
}

/// The groups of files that import each other in a circle (strongly
/// connected components of more than one file, Tarjan's algorithm).
fn cycles(g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct T<'a> {
        g: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        on: BTreeSet<&'a Vec<String>>,
        stack: Vec<&'a Vec<String>>,
        out: Vec<Vec<Vec<String>>>,
    }
    fn visit<'a>(t: &mut T<'a>, n: &'a Vec<String>) {
        let i = t.index.len();
        t.index.insert(n, i);
        t.low.insert(n, i);
        t.stack.push(n);
        t.on.insert(n);
        for d in t.g.get(n).into_iter().flatten() {
            let Some((d, _)) = t.g.get_key_value(d) else { continue };
            if !t.index.contains_key(d) {
                visit(t, d);
                let l = t.low[n].min(t.low[d]);
                t.low.insert(n, l);
            } else if t.on.contains(d) {
                let l = t.low[n].min(t.index[d]);
                t.low.insert(n, l);
            }
        }
        if t.low[n] == t.index[n] {
            let mut comp = Vec::new();
            while let Some(x) = t.stack.pop() {
                t.on.remove(x);
                comp.push(x.clone());
                if x == n {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T { g, index: BTreeMap::new(), low: BTreeMap::new(), on: BTreeSet::new(), stack: Vec::new(), out: Vec::new() };
    for k in g.keys() {
        if !t.index.contains_key(k) {
            visit(&mut t, k);
        }
    }
    t.out
}

fn show(c: &[Vec<String>]) -> String {
    c.iter().map(|m| if m.is_empty() { "(root)".to_string() } else { m.join("::") }).collect::<Vec<_>>().join(", ")
}

#[test]
fn no_import_cycle_between_files() {
    let mut found = Vec::new();
    for (root, name) in CRATES {
        let k = load(root);
        assert!(k.files.len() > 3, "{root}: found too few files ({})", k.files.len());
        for c in cycles(&edges(&k)) {
            found.push(format!("{name}: {{{}}}", show(&c)));
        }
    }
    assert!(found.is_empty(), "files that import each other in a circle:\n{}", found.join("\n"));
}

#[test]
fn the_checker_sees_a_cycle() {
    // A parent re-exporting a child that reaches back into the parent.
    let k = Crate {
        files: [(vec![], PathBuf::from("lib.rs")), (vec!["a".into()], PathBuf::from("a.rs"))].into_iter().collect(),
    };
    let mut g = BTreeMap::new();
    for (m, code) in [(vec![], "pub mod a; pub use a::{X, Y}; fn h() {}"), (vec!["a".to_string()], "use super::h; mod tests { use super::*; }")] {
        let deps: BTreeSet<Vec<String>> =
            paths(&code_only(code)).into_iter().filter_map(|(i, p)| target(&k, &m, &i, &p)).filter(|t| t != &m).collect();
        g.insert(m, deps);
    }
    assert!(g[&vec![]].contains(&vec!["a".to_string()]), "lib.rs names a through its re-export");
    assert!(g[&vec!["a".to_string()]].contains(&vec![]), "a.rs names its parent through super");
    assert_eq!(cycles(&g), vec![vec![vec![], vec!["a".to_string()]]]);
    // Test modules are left out altogether.
    let t = paths(&code_only("fn f() {} #[cfg(test)] mod tests { use crate::a::X; } fn g() {}"));
    assert!(t.is_empty(), "{t:?}");
    // A test module's `use super::*` is the file itself: no edge.
    let solo = paths(&code_with_tests("mod tests { use super::*; }"));
    let m = vec!["a".to_string()];
    assert!(solo.into_iter().filter_map(|(i, p)| target(&k, &m, &i, &p)).all(|t| t == m));
}

#[test]
fn unsafe_only_in_the_dpdk_layer() {
    for (root, name) in CRATES {
        let k = load(root);
        for f in k.files.values() {
            let code = code_only(&std::fs::read_to_string(f).expect("read source"));
            let has_unsafe = code.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').any(|w| w == "unsafe");
            if name == "newipd_dpdk" {
                continue;
            }
            let forbids = code.contains("forbid(unsafe_code)");
            assert!(!has_unsafe || forbids, "{}: unsafe outside the DPDK layer", f.display());
        }
        let lib = Path::new(TOP).join(root).join("lib.rs");
        let text = std::fs::read_to_string(&lib).expect("lib.rs");
        if name != "newipd_dpdk" {
            assert!(text.contains("#![forbid(unsafe_code)]"), "{}: no #![forbid(unsafe_code)]", lib.display());
        }
    }
}

#[test]
fn crate_dependencies_point_down() {
    let deps = |manifest: &str| -> Vec<String> {
        let text = std::fs::read_to_string(Path::new(TOP).join(manifest)).expect("manifest");
        let v: toml::Value = toml::from_str(&text).expect("manifest is TOML");
        let mut names = Vec::new();
        for table in ["dependencies", "build-dependencies", "dev-dependencies"] {
            if let Some(t) = v.get(table).and_then(|t| t.as_table()) {
                names.extend(t.keys().filter(|k| k.starts_with("newipd")).cloned());
            }
        }
        names
    };
    assert_eq!(deps("crates/core/Cargo.toml"), Vec::<String>::new(), "the pure crate depends on no other newipd crate");
    assert_eq!(deps("crates/dpdk/Cargo.toml"), vec!["newipd-core".to_string()]);
    let tools = deps("crates/tools/Cargo.toml");
    assert!(!tools.iter().any(|d| d == "newipd"), "the tools do not depend on the daemon");
    let dpdk_sys = std::fs::read_to_string(Path::new(TOP).join("crates/core/Cargo.toml")).expect("manifest");
    assert!(!dpdk_sys.contains("bindgen") && !dpdk_sys.contains("pkg-config"), "the pure crate builds no C");
}
