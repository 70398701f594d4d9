//! Bakes the release into the binary, so `/version` and every log line say which build runs.
//!
//! CI and the Dockerfile pass `APP_VERSION` and `APP_GIT_SHA` (the image's build context has
//! no `.git`); a build inside a checkout asks git; anything else says `unknown` rather than
//! failing the build.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=APP_VERSION");
    println!("cargo:rerun-if-env-changed=APP_GIT_SHA");
    watch_git_state();

    let git_sha = from_env("APP_GIT_SHA")
        .or_else(|| git(&["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    // `describe` gives the tag on a tagged commit, `v1.4.2-3-gabc1234` after it, the short sha
    // without tags, and `-dirty` when the build has uncommitted changes.
    let version = from_env("APP_VERSION")
        .or_else(|| git(&["describe", "--tags", "--always", "--dirty"]))
        .unwrap_or_else(|| "unknown".to_owned());

    println!("cargo:rustc-env=APP_GIT_SHA={git_sha}");
    println!("cargo:rustc-env=APP_VERSION={version}");
}

fn from_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    Some(String::from_utf8(output.stdout).ok()?.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Rebuilds when a commit, a checkout, a tag or staged changes would change the answer.
fn watch_git_state() {
    let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]).map(PathBuf::from) else {
        return;
    };
    let mut watched = vec![
        git_dir.join("HEAD"),
        git_dir.join("index"),
        git_dir.join("packed-refs"),
        git_dir.join("refs/tags"),
    ];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git_dir.join(branch));
    }
    for path in watched.into_iter().filter(|path| path.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
