//! Repository checks that the compiler cannot make: `cargo xtask tidy` verifies the dependency
//! directions of STYLE.md, a `//!` purpose line on every Rust file, and that ARCHITECTURE.md
//! names every crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1).unwrap_or_default();
    match task.as_str() {
        "tidy" => tidy(),
        _ => bail!("usage: cargo xtask tidy"),
    }
}

/// The repository root (this crate lives in `<root>/xtask`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn tidy() -> anyhow::Result<()> {
    let root = root();
    let crates = workspace_crates(&root)?;
    let mut problems = Vec::new();
    problems.extend(check_edges(&crates));
    problems.extend(check_docs(&root)?);
    problems.extend(check_architecture(&root, &crates)?);
    if problems.is_empty() {
        println!("tidy: {} crates, all checks pass", crates.len());
        return Ok(());
    }
    for p in &problems {
        eprintln!("tidy: {p}");
    }
    bail!("{} problem(s)", problems.len())
}

/// Package name → the names of the packages it depends on (normal dependencies only).
fn workspace_crates(root: &Path) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    let mut manifests = Vec::new();
    for dir in ["crates"] {
        for entry in std::fs::read_dir(root.join(dir)).with_context(|| format!("read {dir}"))? {
            manifests.push(entry?.path().join("Cargo.toml"));
        }
    }
    manifests.push(root.join("bench/Cargo.toml"));
    for manifest in manifests.into_iter().filter(|m| m.exists()) {
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("read {}", manifest.display()))?;
        let (name, deps) = parse_manifest(&text);
        if let Some(name) = name {
            out.insert(name, deps);
        }
    }
    Ok(out)
}

/// A minimal reading of a manifest: the package name and the `[dependencies]` keys.
fn parse_manifest(text: &str) -> (Option<String>, Vec<String>) {
    let mut section = String::new();
    let mut name = None;
    let mut deps = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.trim_matches(|c| c == '[' || c == ']').to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_end_matches(".workspace").to_string();
        match section.as_str() {
            "package" if key == "name" => name = Some(value.trim().trim_matches('"').to_string()),
            "dependencies" => deps.push(key),
            _ => {}
        }
    }
    (name, deps)
}

/// STYLE.md's dependency directions.
fn check_edges(crates: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut problems = Vec::new();
    let may_use_store = ["ferry-apiserver", "ferry", "ferry-bench"];
    let may_use_apiserver = ["ferry", "ferry-bench"];
    let kernel_crates = [
        "ferry-sys",
        "ferry-hostnet",
        "ferry-sandbox",
        "ferry-nft",
        "ferry-proxy-nft",
    ];
    let dataplanes = ["ferry-proxy-nft"];
    for (name, deps) in crates {
        let uses = |d: &str| deps.iter().any(|x| x == d);
        if uses("ferry-store") && !may_use_store.contains(&name.as_str()) {
            problems.push(format!(
                "{name} depends on ferry-store; only ferry-apiserver may"
            ));
        }
        if uses("ferry-apiserver") && !may_use_apiserver.contains(&name.as_str()) {
            problems.push(format!(
                "{name} depends on ferry-apiserver; clients go through ferry-runtime"
            ));
        }
        if name == "ferry-api" && (uses("tokio") || uses("hyper")) {
            problems.push("ferry-api does IO (tokio/hyper); it must stay pure".to_string());
        }
        if name == "ferry-ipam"
            && deps
                .iter()
                .any(|d| d.starts_with("ferry-") || d == "k8s-openapi")
        {
            problems.push("ferry-ipam must not know Kubernetes or other ferry crates".to_string());
        }
        if kernel_crates.contains(&name.as_str()) && (uses("ferry-api") || uses("k8s-openapi")) {
            problems.push(format!(
                "{name} sees Kubernetes types; kernel crates must not"
            ));
        }
        if name == "ferry-proxy" && (uses("ferry-nft") || uses("netlink-sys")) {
            problems.push("ferry-proxy knows nftables; only dataplanes may".to_string());
        }
        if dataplanes.contains(&name.as_str())
            && deps
                .iter()
                .any(|d| dataplanes.contains(&d.as_str()) && d != name)
        {
            problems.push(format!(
                "{name} uses another dataplane; share ferry-proxy's model"
            ));
        }
        if name == "ferry-store"
            && deps
                .iter()
                .any(|d| d.starts_with("ferry-") || d == "k8s-openapi")
        {
            problems.push("ferry-store must not know Kubernetes".to_string());
        }
    }
    problems
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n == "target" || n == "fixtures")
            {
                continue;
            }
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Every Rust file opens with a `//!` line saying what it is for.
fn check_docs(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    for dir in ["crates", "bench", "xtask"] {
        rust_files(&root.join(dir), &mut files)?;
    }
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("#!["));
        if !first.is_some_and(|l| l.starts_with("//!")) {
            let shown = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            problems.push(format!("{shown} does not open with a //! line"));
        }
    }
    Ok(problems)
}

/// ARCHITECTURE.md names every crate.
fn check_architecture(
    root: &Path,
    crates: &BTreeMap<String, Vec<String>>,
) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(root.join("ARCHITECTURE.md")).context("read ARCHITECTURE.md")?;
    Ok(crates
        .keys()
        .filter(|name| !text.contains(&format!("`{name}`")))
        .map(|name| format!("ARCHITECTURE.md does not name the crate `{name}`"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_read_for_name_and_dependencies() {
        let (name, deps) = parse_manifest(
            "[package]\nname = \"ferry-x\"\n\n[dependencies]\nferry-api.workspace = true\ntokio = { version = \"1\" }\n\n[dev-dependencies]\nproptest.workspace = true\n",
        );
        assert_eq!(name.as_deref(), Some("ferry-x"));
        assert_eq!(deps, ["ferry-api", "tokio"]);
    }

    #[test]
    fn forbidden_edges_are_reported() {
        let crates = BTreeMap::from([
            (
                "ferry-controllers".to_string(),
                vec!["ferry-store".to_string()],
            ),
            ("ferry-sandbox".to_string(), vec!["k8s-openapi".to_string()]),
            (
                "ferry-apiserver".to_string(),
                vec!["ferry-store".to_string()],
            ),
        ]);
        let problems = check_edges(&crates);
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
