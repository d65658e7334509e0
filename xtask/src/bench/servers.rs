//! The two registries under test: berth (release build) and CNCF distribution
//! (Debian `docker-registry`), each fresh, on loopback.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Distribution,
    Berth,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Distribution => "distribution",
            Kind::Berth => "berth",
        }
    }
}

/// A running registry; stopped when dropped.
pub struct Server {
    pub kind: Kind,
    pub base: String,
    /// `Authorization` header value for /v2 (berth needs a token; distribution none).
    pub authorization: Option<String>,
    /// Basic credentials for skopeo (`AWS:<token>`).
    pub credentials: Option<String>,
    /// Time from spawn to the first answer on /v2/.
    pub cold_start: Duration,
    /// None for a [`Server::detached`] handle.
    child: Option<Child>,
    /// Further replicas of the same registry: requests go to `base` and these in turn.
    replicas: Vec<Server>,
    next: std::sync::atomic::AtomicUsize,
    /// The data dir, when the server owns it (removed on drop).
    _dir: Option<tempfile_dir::Dir>,
}

/// A temporary directory removed on drop (xtask keeps its dependencies few).
pub mod tempfile_dir {
    use std::path::{Path, PathBuf};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new(prefix: &str) -> std::io::Result<Self> {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let path =
                std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&path)?;
            Ok(Dir(path))
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A port nothing listens on now.
pub fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn wait_ready(base: &str, started: Instant) -> Result<Duration, String> {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(2)).build();
    while started.elapsed() < Duration::from_secs(30) {
        match agent.get(&format!("{base}/v2/")).call() {
            Ok(_) | Err(ureq::Error::Status(_, _)) => return Ok(started.elapsed()),
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    Err(format!("{base} did not answer within 30 s"))
}

impl Server {
    /// A fresh server of `kind`: berth from `berth`, distribution from `registry`.
    pub fn start(kind: Kind, berth: &Path, registry: &Path) -> Result<Server, String> {
        match kind {
            Kind::Berth => Server::berth(berth),
            Kind::Distribution => Server::distribution(registry),
        }
    }

    /// Starts berth from `binary` on a fresh data dir and logs in.
    pub fn berth(binary: &Path) -> Result<Server, String> {
        Server::berth_with(binary, &[])
    }

    /// As [`Server::berth`], with extra flags.
    pub fn berth_with(binary: &Path, extra: &[&str]) -> Result<Server, String> {
        let dir = tempfile_dir::Dir::new("berth-bench").map_err(|e| e.to_string())?;
        let mut server = Server::berth_at(binary, &dir.path().join("data"), free_port()?, extra)?;
        server._dir = Some(dir);
        Ok(server)
    }

    /// berth on `data_dir` (kept) and `port`, as a restart after a crash finds them.
    pub fn berth_at(
        binary: &Path, data_dir: &Path, port: u16, extra: &[&str],
    ) -> Result<Server, String> {
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let child = Command::new(binary)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("BERTH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut server = Server {
            kind: Kind::Berth,
            base: base.clone(),
            authorization: None,
            credentials: None,
            cold_start: Duration::ZERO,
            child: Some(child),
            replicas: Vec::new(),
            next: Default::default(),
            _dir: None,
        };
        server.cold_start = wait_ready(&base, started)?;
        let token = crate::bench::api::authorization_token(&base)?;
        server.authorization = Some(format!("Basic {token}"));
        server.credentials = Some(crate::bench::api::decode_token(&token)?);
        Ok(server)
    }

    /// Starts docker-registry with its own config and storage.
    pub fn distribution(binary: &Path) -> Result<Server, String> {
        Server::distribution_with(binary, "")
    }

    /// As [`Server::distribution`], with more of its YAML config (top-level sections).
    pub fn distribution_with(binary: &Path, extra_config: &str) -> Result<Server, String> {
        let dir = tempfile_dir::Dir::new("distribution-bench").map_err(|e| e.to_string())?;
        let port = free_port()?;
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{extra_config}",
                dir.path().join("storage").display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut server = Server {
            kind: Kind::Distribution,
            base: base.clone(),
            authorization: None,
            credentials: None,
            cold_start: Duration::ZERO,
            child: Some(child),
            replicas: Vec::new(),
            next: Default::default(),
            _dir: Some(dir),
        };
        server.cold_start = wait_ready(&base, started)?;
        Ok(server)
    }

    /// SIGKILL, at once: what a crash or the OOM killer does.
    pub fn kill9(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A handle on a server another thread owns: same address and credentials, no
    /// process (dropping it stops nothing).
    pub fn detached(base: &str, authorization: Option<String>) -> Server {
        Server {
            kind: Kind::Berth,
            base: base.to_string(),
            authorization,
            credentials: None,
            cold_start: Duration::ZERO,
            child: None,
            replicas: Vec::new(),
            next: Default::default(),
            _dir: None,
        }
    }

    /// The process id, to sample its memory.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Peak resident memory so far (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        proc_status_bytes(self.pid(), "VmHWM:")
    }

    /// The same registry answering on `replicas` too: each request then goes to the next
    /// replica in turn (as behind a load balancer).
    pub fn with_replicas(mut self, replicas: Vec<Server>) -> Server {
        self.replicas = replicas;
        self
    }

    /// The base URL the next request goes to.
    pub fn next_base(&self) -> &str {
        let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match turn % (self.replicas.len() + 1) {
            0 => &self.base,
            i => &self.replicas[i - 1].base,
        }
    }

    /// A request with the server's credentials.
    pub fn request(&self, agent: &ureq::Agent, method: &str, path: &str) -> ureq::Request {
        let r = agent.request(method, &format!("{}{path}", self.next_base()));
        match &self.authorization {
            Some(a) => r.set("Authorization", a),
            None => r,
        }
    }

    /// `host:port`, as image references name the registry.
    pub fn host(&self) -> String {
        self.base.trim_start_matches("http://").to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A `kB` line of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:`) in bytes; 0 when unreadable.
pub fn proc_status_bytes(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// The path of a tool on PATH (or /usr/sbin), if installed.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}
