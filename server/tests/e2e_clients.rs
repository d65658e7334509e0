//! End to end with the container tools themselves: skopeo, podman and docker (a real
//! dockerd started here) against the real berth binary. Run by `cargo xtask e2e` (the
//! `e2e` feature); a missing tool fails with the install step, it is never skipped.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::layout::{add_blob, add_blob_file, sha256_file, write_index};
use support::tools::{run, stdout, tool};
use support::*;

/// A runnable single-file image for `arch`: (manifest digest, manifest size).
fn add_image(layout: &Path, work: &Path, arch: &str, extra_layer: Option<&Path>) -> (String, u64) {
    let root = work.join(format!("rootfs-{arch}"));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("hello.txt"), format!("hello from berth on {arch}\n")).unwrap();
    let tar = work.join(format!("layer-{arch}.tar"));
    run(Command::new("tar").arg("-cf").arg(&tar).arg("-C").arg(&root).arg("."));
    let (layer, layer_size) = add_blob_file(layout, &tar);
    let mut layers = vec![(layer.clone(), layer_size)];
    let mut diff_ids = vec![layer];
    if let Some(extra) = extra_layer {
        let (d, s) = add_blob_file(layout, extra);
        layers.push((d.clone(), s));
        diff_ids.push(d);
    }
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "config": { "Cmd": ["/hello.txt"] },
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    let (config_digest, config_size) = add_blob(layout, config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size },
        "layers": layers.iter().map(|(d, s)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s
        })).collect::<Vec<_>>(),
    });
    add_blob(layout, manifest.to_string().as_bytes())
}

/// A file of `size` pseudo-random bytes (incompressible, deterministic).
fn big_file(path: &Path, size: usize) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for b in chunk.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        let n = left.min(chunk.len());
        out.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

struct Setup {
    _dir: tempfile::TempDir,
    work: PathBuf,
    berth: Berth,
    host: String,
    password: String,
}

async fn setup(repositories: &[&str]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let berth = Berth::start(&dir.path().join("data"), &[]);
    let ecr = default_client(&berth);
    for r in repositories {
        ecr.create_repository().repository_name(*r).send().await.unwrap();
    }
    let password = registry_password(&ecr).await;
    let host = registry_host(&berth);
    Setup { _dir: dir, work, berth, host, password }
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_copies_in_and_out_with_identical_digests() {
    let skopeo = tool("skopeo");
    let s = setup(&["skopeo/app", "skopeo/multi"]).await;
    let auth = s.work.join("auth.json");
    run(Command::new(&skopeo)
        .args(["login", "--tls-verify=false", "--authfile"])
        .arg(&auth)
        .args(["-u", "AWS", "-p", &s.password, &s.host]));

    // One image with a 200 MiB layer, and a two-platform index.
    let layout = s.work.join("layout");
    let big = s.work.join("big.bin");
    big_file(&big, 200 * 1024 * 1024);
    let (single, single_size) = add_image(&layout, &s.work, "amd64", Some(&big));
    let (arm, arm_size) = add_image(&layout, &s.work, "arm64", None);
    let (amd, amd_size) = add_image(&layout, &s.work, "amd64v2", None);
    let multi = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd, "size": amd_size, "platform": { "architecture": "amd64", "os": "linux" } },
            { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm, "size": arm_size, "platform": { "architecture": "arm64", "os": "linux" } },
        ],
    });
    let (multi_digest, multi_size) = add_blob(&layout, multi.to_string().as_bytes());
    write_index(
        &layout,
        vec![
            serde_json::json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": single, "size": single_size, "annotations": { "org.opencontainers.image.ref.name": "v1" } }),
            serde_json::json!({ "mediaType": "application/vnd.oci.image.index.v1+json", "digest": multi_digest, "size": multi_size, "annotations": { "org.opencontainers.image.ref.name": "multi" } }),
        ],
    );

    let remote = |reference: &str| format!("docker://{}/{reference}", s.host);
    let copy = |from: String, to: String, all: bool| {
        let mut c = Command::new(&skopeo);
        c.args([
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--authfile",
        ])
        .arg(&auth);
        if all {
            c.arg("--all");
        }
        run(c.arg(from).arg(to));
    };
    copy(format!("oci:{}:v1", layout.display()), remote("skopeo/app:v1"), false);
    copy(format!("oci:{}:multi", layout.display()), remote("skopeo/multi:latest"), true);

    let inspect_digest = |reference: String| {
        let raw = stdout(
            Command::new(&skopeo)
                .args(["inspect", "--raw", "--tls-verify=false", "--authfile"])
                .arg(&auth)
                .arg(reference),
        );
        digest_of(raw.as_bytes())
    };
    assert_eq!(inspect_digest(remote("skopeo/app:v1")), single, "the manifest keeps its digest");
    assert_eq!(
        inspect_digest(remote("skopeo/multi:latest")),
        multi_digest,
        "the index keeps its digest"
    );

    let out = s.work.join("out");
    copy(remote("skopeo/app:v1"), format!("oci:{}:v1", out.display()), false);
    copy(remote("skopeo/multi:latest"), format!("oci:{}:multi", out.display()), true);
    for digest in [&single, &multi_digest, &arm, &amd] {
        let path = out.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
        assert_eq!(sha256_file(&path).0, *digest, "{digest} came back byte for byte");
    }
    let copied: Vec<_> = std::fs::read_dir(out.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    for entry in &copied {
        let path = out.join("blobs/sha256").join(entry);
        assert_eq!(sha256_file(&path).0, format!("sha256:{}", entry.to_string_lossy()));
    }

    let tags = stdout(
        Command::new(&skopeo)
            .args(["list-tags", "--tls-verify=false", "--authfile"])
            .arg(&auth)
            .arg(remote("skopeo/app")),
    );
    let tags: serde_json::Value = serde_json::from_str(&tags).unwrap();
    assert_eq!(tags["Tags"], serde_json::json!(["v1"]));
    run(Command::new(&skopeo)
        .args(["delete", "--tls-verify=false", "--authfile"])
        .arg(&auth)
        .arg(remote("skopeo/app:v1")));
    let tags = stdout(
        Command::new(&skopeo)
            .args(["list-tags", "--tls-verify=false", "--authfile"])
            .arg(&auth)
            .arg(remote("skopeo/app")),
    );
    let tags: serde_json::Value = serde_json::from_str(&tags).unwrap();
    assert_eq!(tags["Tags"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn podman_pushes_and_pulls() {
    let s = setup(&["podman/app"]).await;
    let podman = Podman::new();
    // podman names the local image after the layout path, which must then be lowercase.
    let layout = PathBuf::from(format!("/tmp/berth-e2e-{}/layout", std::process::id()));
    let (digest, size) = add_image(&layout, &s.work, "amd64", None);
    write_index(
        &layout,
        vec![
            serde_json::json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size, "annotations": { "org.opencontainers.image.ref.name": "v1" } }),
        ],
    );
    let _cleanup = RemoveOnDrop(layout.parent().unwrap().to_path_buf());

    let podman_cmd = |args: &[&str]| podman.command(args);
    run(&mut podman_cmd(&["login", "--tls-verify=false", "-u", "AWS", "-p", &s.password, &s.host]));
    let image = format!("{}/podman/app:v1", s.host);
    run(&mut podman_cmd(&["pull", &format!("oci:{}:v1", layout.display())]));
    let local = stdout(&mut podman_cmd(&["images", "-q"]));
    let local = local.lines().next().expect("podman has the image").to_string();
    run(&mut podman_cmd(&["tag", &local, &image]));
    run(&mut podman_cmd(&["push", "--tls-verify=false", &image]));
    run(&mut podman_cmd(&["rmi", "-a", "-f"]));
    run(&mut podman_cmd(&["pull", "--tls-verify=false", &image]));
    let pulled = stdout(&mut podman_cmd(&["images", "--format", "{{.Repository}}:{{.Tag}}"]));
    assert!(pulled.contains(&format!("{}/podman/app:v1", s.host)), "{pulled}");
}

/// podman with storage of its own (short paths: its runroot must stay under 50
/// characters), reset when dropped.
struct Podman {
    base: tempfile::TempDir,
}

impl Podman {
    fn new() -> Self {
        tool("podman");
        let base = tempfile::Builder::new().prefix("bp").tempdir_in("/tmp").unwrap();
        Podman { base }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(tool("podman"));
        c.arg("--root")
            .arg(self.base.path().join("r"))
            .arg("--runroot")
            .arg(self.base.path().join("rr"))
            // Its own libpod state too: two podmans sharing /run/libpod race on its
            // `alive` file ("creating runtime status file").
            .arg("--tmpdir")
            .arg(self.base.path().join("t"))
            .args([
                "--storage-driver",
                "vfs",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "none",
            ])
            .env("REGISTRY_AUTH_FILE", self.base.path().join("auth.json"))
            .args(args);
        c
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self
            .command(&["system", "reset", "-f"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Removes a directory when dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_pushes_and_pulls() {
    let skopeo = tool("skopeo");
    let s = setup(&["docker/app"]).await;
    let daemon = support::dockerd::start_dockerd();
    let config = s.work.join("docker-config");
    let docker_cmd = |args: &[&str]| daemon.command(&config, args);
    // docker has no network here: the image comes from a docker-archive skopeo writes.
    let layout = s.work.join("layout");
    let (digest, size) = add_image(&layout, &s.work, "amd64", None);
    write_index(
        &layout,
        vec![
            serde_json::json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size, "annotations": { "org.opencontainers.image.ref.name": "v1" } }),
        ],
    );
    let archive = s.work.join("image.tar");
    run(Command::new(&skopeo)
        .arg("copy")
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("docker-archive:{}:local/app:v1", archive.display())));
    run(&mut docker_cmd(&["load", "-i", &archive.display().to_string()]));

    daemon.log_in(&config, &s.host, &s.password);

    let image = format!("{}/docker/app:v1", s.host);
    run(&mut docker_cmd(&["tag", "local/app:v1", &image]));
    let pushed = stdout(&mut docker_cmd(&["push", &image]));
    assert!(pushed.contains("digest: sha256:"), "{pushed}");
    run(&mut docker_cmd(&["rmi", &image, "local/app:v1"]));
    let pulled = stdout(&mut docker_cmd(&["pull", &image]));
    assert!(pulled.contains("Downloaded newer image") || pulled.contains("Status:"), "{pulled}");
    let listed = stdout(&mut docker_cmd(&["images", "--format", "{{.Repository}}:{{.Tag}}"]));
    assert!(listed.contains(&format!("{}/docker/app:v1", s.host)), "{listed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_1_gib_push_keeps_rss_small() {
    let s = setup(&["big"]).await;
    let size: u64 = 1 << 30;
    // Stream 1 GiB of generated bytes without holding them: hash while generating.
    use sha2::{Digest, Sha256};
    let chunk: Vec<u8> =
        (0..(1u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let mut hasher = Sha256::new();
    for _ in 0..(size >> 20) {
        hasher.update(&chunk);
    }
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    let chunk = bytes::Bytes::from(chunk);
    let stream = futures_util::stream::iter(
        (0..(size >> 20)).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    let raw = RawRegistry::new(&s.berth, &s.password);
    let response = raw
        .request(reqwest::Method::POST, &format!("/v2/big/blobs/uploads/?digest={digest}"))
        .header("Content-Length", size)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let peak = peak_rss_kib(s.berth.pid());
    println!("berth peak RSS after a 1 GiB push: {} MiB", peak / 1024);
    assert!(peak < 64 * 1024, "berth's peak RSS {} KiB is over 64 MiB", peak);
}

/// The AWS CLI against `--verify-signatures`: its signature with the right secret is
/// accepted, a wrong secret gets InvalidSignatureException, and `aws ecr
/// get-login-password | docker login` still logs in.
#[tokio::test]
async fn the_aws_cli_signs_and_docker_logs_in_with_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let berth = Berth::start(
        dir.path(),
        &["--verify-signatures", "--access-key", "AKIDCLI=123456789012:cli/secret"],
    );
    let aws = |secret: &str, args: &[&str]| {
        let mut c = Command::new(tool("aws"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("AWS_ACCESS_KEY_ID", "AKIDCLI")
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_DEFAULT_REGION", "eu-west-1")
            .args(["--endpoint-url", &berth.endpoint, "--output", "json", "ecr"])
            .args(args);
        c
    };
    let created: serde_json::Value = serde_json::from_str(&stdout(&mut aws(
        "cli/secret",
        &["create-repository", "--repository-name", "from-cli"],
    )))
    .unwrap();
    assert_eq!(
        created["repository"]["repositoryArn"],
        "arn:aws:ecr:eu-west-1:123456789012:repository/from-cli"
    );
    let refused = aws("wrong", &["describe-repositories"]).output().unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("(InvalidSignatureException)")
            && stderr.contains("The request signature we calculated does not match"),
        "{stderr}"
    );
    let password = stdout(&mut aws("cli/secret", &["get-login-password"]));
    let dockerd = support::dockerd::start_dockerd();
    let config = dir.path().join("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    dockerd.log_in(&config, &registry_host(&berth), &password);
}

/// `127.0.0.1 <name>` in /etc/hosts while held, as a developer adds it (Go-based tools do
/// not resolve `*.localhost` on their own); the line goes when dropped.
struct HostsEntry(String);

impl HostsEntry {
    fn add(name: &str) -> Self {
        let line = format!("127.0.0.1 {name} # berth e2e {}", std::process::id());
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        std::fs::write("/etc/hosts", format!("{hosts}{line}\n"))
            .expect("the HTTPS test edits /etc/hosts: run the e2e tests as root");
        HostsEntry(line)
    }
}

impl Drop for HostsEntry {
    fn drop(&mut self) {
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        let kept: String =
            hosts.lines().filter(|l| *l != self.0).map(|l| format!("{l}\n")).collect();
        let _ = std::fs::write("/etc/hosts", kept);
    }
}

/// HTTPS to an ECR-shaped host name with the CA of `berth certs init` and no insecure
/// setting anywhere: the AWS CLI (AWS_CA_BUNDLE), skopeo, podman and docker push and pull.
#[tokio::test(flavor = "multi_thread")]
async fn every_client_over_https_to_an_ecr_shaped_name() {
    let skopeo = tool("skopeo");
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let certs = dir.path().join("certs");
    run(Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["certs", "init", "--region", "us-east-1", "--dir"])
        .arg(&certs));
    let ca = certs.join("ca.pem");
    let berth = Berth::start(
        &dir.path().join("data"),
        &[
            "--tls-cert",
            certs.join("server.pem").to_str().unwrap(),
            "--tls-key",
            certs.join("server.key").to_str().unwrap(),
        ],
    );
    let port = berth.endpoint.rsplit(':').next().unwrap().to_string();
    let shaped = "000000000000.dkr.ecr.us-east-1.localhost";
    let host = format!("{shaped}:{port}");
    let _hosts = HostsEntry::add(shaped);
    // A directory of the CA for the containers tools (`--cert-dir`), and docker's.
    let cert_dir = dir.path().join("cert-dir");
    std::fs::create_dir_all(&cert_dir).unwrap();
    std::fs::copy(&ca, cert_dir.join("ca.crt")).unwrap();

    let aws = |args: &[&str]| {
        let mut c = Command::new(tool("aws"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("AWS_ACCESS_KEY_ID", "AKIDTLS")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CA_BUNDLE", &ca)
            .args(["--endpoint-url", &format!("https://localhost:{port}")])
            .args(["--output", "json", "ecr"])
            .args(args);
        c
    };
    let created: serde_json::Value = serde_json::from_str(&stdout(&mut aws(&[
        "create-repository",
        "--repository-name",
        "tls/app",
    ])))
    .unwrap();
    assert_eq!(created["repository"]["repositoryUri"], format!("{host}/tls/app"));
    let password = stdout(&mut aws(&["get-login-password"]));

    // skopeo pushes an image from a layout.
    let layout = PathBuf::from(format!("/tmp/berth-e2e-tls-{}/layout", std::process::id()));
    let _cleanup = RemoveOnDrop(layout.parent().unwrap().to_path_buf());
    std::fs::create_dir_all(&work).unwrap();
    let (digest, size) = add_image(&layout, &work, "amd64", None);
    write_index(
        &layout,
        vec![
            serde_json::json!({ "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size, "annotations": { "org.opencontainers.image.ref.name": "v1" } }),
        ],
    );
    let image = format!("{host}/tls/app:v1");
    run(Command::new(&skopeo)
        .args(["copy", "--preserve-digests", "--dest-cert-dir"])
        .arg(&cert_dir)
        .args(["--dest-creds", &format!("AWS:{password}")])
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("docker://{image}")));
    let inspected = run(Command::new(&skopeo)
        .args(["inspect", "--raw", "--cert-dir"])
        .arg(&cert_dir)
        .args(["--creds", &format!("AWS:{password}")])
        .arg(format!("docker://{image}")))
    .stdout;
    assert_eq!(digest_of(&inspected), digest);

    // podman pulls it and pushes it back under another tag.
    let podman = Podman::new();
    let cert_dir_arg = format!("--cert-dir={}", cert_dir.display());
    run(&mut podman.command(&["login", &cert_dir_arg, "-u", "AWS", "-p", &password, &host]));
    run(&mut podman.command(&["pull", &cert_dir_arg, &image]));
    let again = format!("{host}/tls/app:podman");
    run(&mut podman.command(&["tag", &image, &again]));
    run(&mut podman.command(&["push", &cert_dir_arg, &again]));

    // docker, trusting the CA the documented way, pulls what podman pushed.
    let docker_certs = PathBuf::from("/etc/docker/certs.d").join(&host);
    std::fs::create_dir_all(&docker_certs).unwrap();
    std::fs::copy(&ca, docker_certs.join("ca.crt")).unwrap();
    let _docker_certs = RemoveOnDrop(docker_certs);
    let daemon = support::dockerd::start_dockerd();
    let config = work.join("docker-config");
    daemon.log_in(&config, &host, &password);
    let pulled = stdout(&mut daemon.command(&config, &["pull", &again]));
    assert!(pulled.contains("Status:"), "{pulled}");
}
