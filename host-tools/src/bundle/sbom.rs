//! The software bill of materials of the `lockstep` binary: a CycloneDX 1.5 JSON document
//! listing every crate in the dependency closure of `lockstep-host` with its exact version and
//! purl (`pkg:cargo/NAME@VERSION`), read from the workspace `Cargo.lock` embedded at build
//! time.
//!
//! The closure follows the lock file's dependency lists from `lockstep-host`, leaving out its
//! own dev-dependencies (read from its embedded `Cargo.toml`). The lock file records optional
//! and platform-specific dependencies too, so the list is a superset of what one build links;
//! the document says so in a metadata property. No time, serial number or path: the same
//! binary gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{json, Value};

/// The workspace lock file, as built.
const CARGO_LOCK: &str = include_str!("../../../Cargo.lock");
/// `lockstep-host`'s manifest, for its dev-dependencies.
const HOST_MANIFEST: &str = include_str!("../../Cargo.toml");
/// The root of the closure.
const ROOT: &str = "lockstep-host";

#[derive(Deserialize)]
struct Lock {
    package: Vec<LockPackage>,
}

#[derive(Deserialize)]
struct LockPackage {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

/// Why the embedded lock file could not be read (a build from a broken tree).
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// Not a Cargo.lock this code understands.
    #[error("the embedded Cargo.lock cannot be read: {0}")]
    Lock(String),
}

/// One crate of the closure.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Component {
    /// Crate name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// Where it comes from (`None`: this workspace).
    pub source: Option<String>,
    /// The registry's SHA-256 of the crate file, when the lock has it.
    pub checksum: Option<String>,
    /// purls of its dependencies within the closure.
    pub depends_on: Vec<String>,
}

impl Component {
    /// `pkg:cargo/NAME@VERSION`.
    pub fn purl(&self) -> String {
        purl(&self.name, &self.version)
    }
}

fn purl(name: &str, version: &str) -> String {
    format!("pkg:cargo/{name}@{version}")
}

/// The crates in the closure of `lockstep-host`, sorted by name and version (the root first).
pub fn components() -> Result<Vec<Component>, SbomError> {
    let lock: Lock = toml::from_str(CARGO_LOCK).map_err(|e| SbomError::Lock(e.to_string()))?;
    let manifest: toml::Table =
        toml::from_str(HOST_MANIFEST).map_err(|e| SbomError::Lock(e.to_string()))?;
    let names_in = |table: &str| -> BTreeSet<String> {
        manifest
            .get(table)
            .and_then(|t| t.as_table())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    };
    let dev_only: BTreeSet<String> = names_in("dev-dependencies")
        .difference(&names_in("dependencies"))
        .cloned()
        .collect();
    // A lock dependency entry is "name", "name version" or "name version (source)".
    let resolve = |entry: &str| -> Result<usize, SbomError> {
        let mut words = entry.split_whitespace();
        let name = words.next().unwrap_or_default();
        let version = words.next();
        let found: Vec<usize> = lock
            .package
            .iter()
            .enumerate()
            .filter(|(_, p)| p.name == name && version.is_none_or(|v| p.version == v))
            .map(|(i, _)| i)
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            _ => Err(SbomError::Lock(format!(
                "dependency '{entry}' matches {} packages",
                found.len()
            ))),
        }
    };
    let root = lock
        .package
        .iter()
        .position(|p| p.name == ROOT)
        .ok_or_else(|| SbomError::Lock(format!("no package {ROOT}")))?;
    let mut seen = BTreeSet::from([root]);
    let mut queue = vec![root];
    let mut edges: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    while let Some(at) = queue.pop() {
        let mut deps = Vec::new();
        for entry in &lock.package[at].dependencies {
            let name = entry.split_whitespace().next().unwrap_or_default();
            if at == root && dev_only.contains(name) {
                continue;
            }
            let dep = resolve(entry)?;
            deps.push(dep);
            if seen.insert(dep) {
                queue.push(dep);
            }
        }
        edges.insert(at, deps);
    }
    let mut list: Vec<Component> = seen
        .iter()
        .map(|&i| {
            let p = &lock.package[i];
            let mut depends_on: Vec<String> = edges
                .get(&i)
                .into_iter()
                .flatten()
                .map(|&d| purl(&lock.package[d].name, &lock.package[d].version))
                .collect();
            depends_on.sort();
            depends_on.dedup();
            Component {
                name: p.name.clone(),
                version: p.version.clone(),
                source: p.source.clone(),
                checksum: p.checksum.clone(),
                depends_on,
            }
        })
        .collect();
    list.sort_by(|a, b| {
        (a.name != ROOT, &a.name, &a.version).cmp(&(b.name != ROOT, &b.name, &b.version))
    });
    Ok(list)
}

/// The CycloneDX 1.5 JSON document (pretty, ending in a newline).
pub fn cyclonedx() -> Result<String, SbomError> {
    let list = components()?;
    let (root, rest) = list
        .split_first()
        .ok_or_else(|| SbomError::Lock("empty closure".into()))?;
    let component = |c: &Component, kind: &str| {
        let mut value = json!({
            "type": kind,
            "bom-ref": c.purl(),
            "name": c.name,
            "version": c.version,
            "purl": c.purl(),
        });
        if let Some(sum) = &c.checksum {
            value["hashes"] = json!([{ "alg": "SHA-256", "content": sum }]);
        }
        let source = match &c.source {
            Some(s) => s.clone(),
            None => "this workspace".into(),
        };
        value["properties"] = json!([{ "name": "cargo:source", "value": source }]);
        value
    };
    let document = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "component": component(root, "application"),
            "properties": [{
                "name": "lockstep:closure",
                "value": "every package Cargo.lock reaches from lockstep-host (its dev-dependencies \
                          left out); the lock records optional and platform-specific \
                          dependencies too, so this is a superset of what one build links",
            }],
        },
        "components": rest.iter().map(|c| component(c, "library")).collect::<Vec<Value>>(),
        "dependencies": list
            .iter()
            .map(|c| json!({ "ref": c.purl(), "dependsOn": c.depends_on }))
            .collect::<Vec<Value>>(),
    });
    serde_json::to_string_pretty(&document)
        .map(|text| text + "\n")
        .map_err(|e| SbomError::Lock(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closure_holds_the_direct_dependencies_with_exact_versions_and_no_dev_ones() {
        let list = components().unwrap();
        assert_eq!(list[0].name, ROOT);
        let names: BTreeSet<&str> = list.iter().map(|c| c.name.as_str()).collect();
        for direct in [
            "lockstep-engine",
            "lockstep-seal",
            "ed25519-dalek",
            "serde",
            "toml",
        ] {
            assert!(names.contains(direct), "{direct} missing");
        }
        // tempfile is only a dev-dependency of lockstep-host (nothing else pulls it in).
        assert!(!names.contains("tempfile"));
        for c in &list {
            assert!(!c.version.is_empty() && c.purl().starts_with("pkg:cargo/"));
            assert!(CARGO_LOCK.contains(&format!(
                "name = \"{}\"\nversion = \"{}\"",
                c.name, c.version
            )));
        }
    }

    #[test]
    fn the_document_is_cyclonedx_1_5_and_deterministic() {
        let text = cyclonedx().unwrap();
        assert_eq!(text, cyclonedx().unwrap());
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["bomFormat"], "CycloneDX");
        assert_eq!(value["specVersion"], "1.5");
        let n = value["components"].as_array().unwrap().len();
        assert_eq!(n + 1, components().unwrap().len());
        assert_eq!(value["dependencies"].as_array().unwrap().len(), n + 1);
    }
}
