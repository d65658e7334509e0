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

/// skopeo logged in to a plain-HTTP registry as `AWS`, with its own auth file.
pub struct Skopeo {
    program: PathBuf,
    authfile: PathBuf,
}

impl Skopeo {
    /// Logs in to `host` (`host:port`) with `password`, keeping the login in `work`.
    pub fn login(work: &Path, host: &str, password: &str) -> Skopeo {
        let skopeo = Skopeo { program: tool("skopeo"), authfile: work.join("auth.json") };
        run(Command::new(&skopeo.program)
            .args(["login", "--tls-verify=false", "--authfile"])
            .arg(&skopeo.authfile)
            .args(["-u", "AWS", "-p", password, host]));
        skopeo
    }

    /// `skopeo copy --preserve-digests` from `from` to `to` (transport-prefixed names).
    pub fn copy(&self, from: &str, to: &str) {
        run(Command::new(&self.program)
            .args(["copy", "--preserve-digests", "--src-tls-verify=false"])
            .args(["--dest-tls-verify=false", "--authfile"])
            .arg(&self.authfile)
            .args([from, to]));
    }

    /// The manifest at `reference` (`docker://...`) as the registry serves it.
    pub fn inspect_raw(&self, reference: &str) -> String {
        stdout(
            Command::new(&self.program)
                .args(["inspect", "--raw", "--tls-verify=false", "--authfile"])
                .arg(&self.authfile)
                .arg(reference),
        )
    }
}
