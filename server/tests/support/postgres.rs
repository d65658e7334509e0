//! A real PostgreSQL for the tests of `--metadata postgres://...`: Debian's server binaries
//! running a throwaway cluster (its own folder, a free port, trust logins on loopback),
//! started once per test binary; each berth gets a fresh database in it.

use super::tools::run;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How to get the server.
pub const INSTALL: &str = "apt-get install -y postgresql";

/// The superuser the cluster is made with.
const USER: &str = "berth";

/// The running cluster of this test binary.
pub struct Cluster {
    /// The shell that runs the server and stops it when this test binary exits.
    _watcher: std::process::Child,
    port: u16,
    databases: AtomicUsize,
    /// The database of each data dir a berth was started on.
    by_data_dir: Mutex<HashMap<PathBuf, String>>,
}

/// The cluster, started on first use. It stops, and its folder goes, when the test binary
/// exits: a shell watching this process stops it (statics are never dropped).
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(Cluster::start)
}

/// The newest installed server's binaries.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| entries.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|bin| bin.join("postgres").is_file() && bin.join("initdb").is_file());
    versions.sort();
    versions
        .pop()
        .unwrap_or_else(|| panic!("PostgreSQL is not installed: run `{INSTALL}` (as root)"))
}

/// Runs `program` as the `postgres` user when we are root (initdb refuses root).
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl Cluster {
    fn start() -> Cluster {
        let bin = bin_dir();
        let dir = std::env::temp_dir().join(format!("berth-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir));
        }
        let data = dir.join("data");
        run(as_server_user(&bin.join("initdb")).args(["-D"]).arg(&data).args([
            "-U",
            USER,
            "--auth=trust",
            "--no-locale",
            "-E",
            "UTF8",
            "--no-sync",
        ]));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let postgres = format!(
            "{} -D {} -p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=500",
            bin.join("postgres").display(),
            data.display(),
            dir.display()
        );
        // The watcher: start the server, wait for this test binary to end, stop it, clean up.
        let script = format!(
            "{postgres} & pg=$!; while [ -d /proc/{me} ]; do sleep 0.5; done; \
             kill -INT $pg; wait $pg; rm -rf {dir}",
            me = std::process::id(),
            dir = dir.display()
        );
        let watcher = as_server_user(Path::new("/bin/sh"))
            .args(["-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start postgres");
        for _ in 0..200 {
            let ready = Command::new(bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .status();
            if ready.is_ok_and(|s| s.success()) {
                return Cluster {
                    _watcher: watcher,
                    port,
                    databases: AtomicUsize::new(0),
                    by_data_dir: Mutex::new(HashMap::new()),
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut watcher = watcher;
        let _ = watcher.kill();
        let _ = watcher.wait();
        panic!("postgres did not start on port {port}");
    }

    /// The database that stands for `data_dir`: new the first time, the same one after.
    pub fn database_for(&self, data_dir: &Path) -> String {
        let mut known = self.by_data_dir.lock().unwrap_or_else(|p| p.into_inner());
        known.entry(data_dir.to_path_buf()).or_insert_with(|| self.database()).clone()
    }

    /// A new empty database; its `postgres://` URL.
    pub fn database(&self) -> String {
        let name = format!("berth_{}", self.databases.fetch_add(1, Ordering::SeqCst));
        run(Command::new(bin_dir().join("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER, "-d", "postgres"])
            .args(["-q", "-c", &format!("CREATE DATABASE {name}")]));
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }
}
