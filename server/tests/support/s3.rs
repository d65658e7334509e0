//! A real S3-compatible server for the tests of `--blobs s3://...`: s3s-fs (the `s3s-fs`
//! crate), which keeps each bucket as a folder, on loopback with signed requests.

use std::process::{Child, Command, Stdio};
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
    child: Child,
    /// The folder that holds the buckets.
    pub root: tempfile::TempDir,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
}

impl S3Server {
    /// Starts s3s-fs on a free port with the bucket [`BUCKET`].
    pub fn start() -> S3Server {
        let binary = super::tools::find("s3s-fs")
            .unwrap_or_else(|| panic!("s3s-fs is not installed: run `{INSTALL}`"));
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start s3s-fs");
        let server = S3Server { child, root, endpoint: format!("http://127.0.0.1:{port}") };
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
        count(&self.root.path().join(BUCKET).join(prefix))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
