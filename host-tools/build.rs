//! Captures the git commit the `lockstep` binary is built from (`LOCKSTEP_GIT_COMMIT`), for the
//! bundle manifest. Without git or outside a checkout it is "unknown"; the build never fails
//! for it.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LOCKSTEP_GIT_COMMIT");
    let commit = std::env::var("LOCKSTEP_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .filter(|c| c.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| "unknown".into());
    // Rebuild when HEAD moves: HEAD itself (a branch switch) and the branch's ref (a commit).
    for path in [git(&["rev-parse", "--git-path", "HEAD"])]
        .into_iter()
        .chain([git(&["symbolic-ref", "-q", "HEAD"])
            .and_then(|r| git(&["rev-parse", "--git-path", &r]))])
        .flatten()
    {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rustc-env=LOCKSTEP_GIT_COMMIT={commit}");
}
