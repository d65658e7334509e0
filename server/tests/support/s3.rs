//! A real S3-compatible server for the tests of `--blobs s3://...`: s3s-fs (the `s3s-fs`
//! crate), which keeps each bucket as a folder, on loopback with signed requests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How to get the server.
pub const INSTALL: &str = "cargo install s3s-fs --version 0.14.1 --locked --features binary";

/// The one key pair the server accepts.
pub const ACCESS_KEY: &str = "berth-test";
pub const SECRET_KEY: &str = "berth-test-secret";

/// The bucket every test uses.
pub const BUCKET: &str = "berth";

/// A running s3s-fs; killed when dropped.
pub struct S3Server {
    /// s3s-fs itself, or the shell that watches it for [`shared`].
    child: Child,
    /// The folder that holds the buckets.
    pub root: PathBuf,
    /// Removes `root` when dropped (not for [`shared`]: its watcher does).
    _owned_root: Option<tempfile::TempDir>,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The prefix that stands for each data dir a berth was started on ([`S3Server::prefix_for`]).
    prefixes: Mutex<HashMap<PathBuf, String>>,
}

/// One server for the whole test binary, started on first use; it stops, and its folder
/// goes, when the test binary exits (a shell watches this process: statics are never
/// dropped).
pub fn shared() -> &'static S3Server {
    static SERVER: OnceLock<S3Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("berth-s3-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let port = free_port();
        let script = format!(
            "{command} & s3=$!; while [ -d /proc/{me} ]; do sleep 0.5; done; kill $s3; wait $s3 2>/dev/null; rm -rf {root}",
            command = command_line(&binary(), port, &root),
            me = std::process::id(),
            root = root.display(),
        );
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let child = Command::new("/bin/sh")
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start s3s-fs");
        S3Server::listening(child, root, None, port)
    })
}

fn binary() -> PathBuf {
    super::tools::find("s3s-fs")
        .unwrap_or_else(|| panic!("s3s-fs is not installed: run `{INSTALL}`"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The shell command that serves `root` on `port`.
fn command_line(binary: &Path, port: u16, root: &Path) -> String {
    format!(
        "{} --host 127.0.0.1 --port {port} --access-key {ACCESS_KEY} --secret-key {SECRET_KEY} {}",
        binary.display(),
        root.display()
    )
}

impl S3Server {
    /// Starts s3s-fs on a free port with the bucket [`BUCKET`].
    pub fn start() -> S3Server {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let port = free_port();
        let child = Command::new(binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start s3s-fs");
        S3Server::listening(child, root.path().to_path_buf(), Some(root), port)
    }

    /// Waits until the server on `port` listens.
    fn listening(
        child: Child, root: PathBuf, owned_root: Option<tempfile::TempDir>, port: u16,
    ) -> S3Server {
        let server = S3Server {
            child,
            root,
            _owned_root: owned_root,
            endpoint: format!("http://127.0.0.1:{port}"),
            prefixes: Mutex::default(),
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("s3s-fs did not start listening on port {port}");
    }

    /// The `berth serve` flags that keep blobs in this server under `prefix`.
    pub fn flags(&self, prefix: &str) -> Vec<String> {
        vec![
            "--blobs".to_string(),
            format!("s3://{BUCKET}/{prefix}"),
            "--s3-endpoint".to_string(),
            self.endpoint.clone(),
        ]
    }

    /// The environment berth needs to sign its requests to this server.
    pub fn env(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_REGION", "us-east-1"),
        ]
    }

    /// How many objects the bucket holds under `prefix` (files in its folder).
    pub fn objects_under(&self, prefix: &str) -> usize {
        fn count(dir: &std::path::Path) -> usize {
            std::fs::read_dir(dir).map_or(0, |entries| {
                entries
                    .flatten()
                    .map(|e| if e.path().is_dir() { count(&e.path()) } else { 1 })
                    .sum()
            })
        }
        count(&self.root.join(BUCKET).join(prefix))
    }

    /// The prefix that stands for `data_dir`: new the first time, the same one after (so
    /// that a berth restarted on its data dir finds its blobs).
    pub fn prefix_for(&self, data_dir: &Path) -> String {
        let mut known = self.prefixes.lock().unwrap_or_else(|p| p.into_inner());
        let next = format!("data-{}", known.len());
        known.entry(data_dir.to_path_buf()).or_insert(next).clone()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
