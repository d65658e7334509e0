//! The container tools end-to-end tests drive (skopeo, podman, docker): found on PATH or
//! failing with the install step, never skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// How to get every tool the end-to-end tests use.
pub const INSTALL: &str =
    "apt-get install -y skopeo podman docker.io awscli chromium chromium-driver";

/// The tool's path; panics with the install step when it is missing.
pub fn tool(name: &str) -> PathBuf {
    find(name).unwrap_or_else(|| {
        panic!("{name} is not installed: run `{INSTALL}` (as root) and try again")
    })
}

/// The program's path on PATH (or in the sbin folders), if it is there.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.is_file());
    found
}

/// Runs the command; panics with its output when it fails.
pub fn run(command: &mut Command) -> Output {
    let shown = format!("{command:?}");
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(
        output.status.success(),
        "{shown} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The command's trimmed stdout; panics when it fails.
pub fn stdout(command: &mut Command) -> String {
    String::from_utf8_lossy(&run(command).stdout).trim().to_string()
}
