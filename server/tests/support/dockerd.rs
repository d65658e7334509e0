//! A dockerd of the tests' own (docker has no shared daemon here), and `docker login`.

use super::tools::tool;
use std::path::Path;
use std::process::{Command, Stdio};

/// A dockerd of our own, stopped on drop.
pub struct Dockerd {
    child: std::process::Child,
    /// `unix://...`, for `docker -H`.
    pub socket: String,
    _dir: tempfile::TempDir,
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts dockerd with its own data, exec root and socket under a temp dir, without
/// networking of its own (as this machine allows), and waits until it answers.
pub fn start_dockerd() -> Dockerd {
    let dockerd = tool("dockerd");
    let dir = tempfile::Builder::new().prefix("bd").tempdir_in("/tmp").unwrap();
    let socket = format!("unix://{}", dir.path().join("d.sock").display());
    let log = std::fs::File::create(dir.path().join("dockerd.log")).unwrap();
    let child = Command::new(dockerd)
        .args(["--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs"])
        .arg("--data-root")
        .arg(dir.path().join("data"))
        .arg("--exec-root")
        .arg(dir.path().join("exec"))
        .arg("--pidfile")
        .arg(dir.path().join("d.pid"))
        .args(["--host", &socket])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("cannot start dockerd");
    let daemon = Dockerd { child, socket, _dir: dir };
    let docker = tool("docker");
    for _ in 0..300 {
        let ok = Command::new(&docker)
            .args(["-H", &daemon.socket, "version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if ok.is_ok_and(|s| s.success()) {
            return daemon;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(daemon._dir.path().join("dockerd.log")).unwrap_or_default();
    panic!("dockerd did not come up; its log:\n{log}");
}

impl Dockerd {
    /// A docker command against this daemon, with its client config in `config`.
    pub fn command(&self, config: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(tool("docker"));
        c.env("DOCKER_CONFIG", config).args(["-H", &self.socket]).args(args);
        c
    }

    /// `docker login` to `host` as `AWS` with `password` (given on stdin, as the ECR guide).
    pub fn log_in(&self, config: &Path, host: &str, password: &str) {
        let mut login = self.command(config, &["login", "-u", "AWS", "--password-stdin", host]);
        login.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = login.spawn().unwrap();
        {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(password.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "docker login failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
