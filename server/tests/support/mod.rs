//! Runs the real `berth` binary on a random port for end-to-end tests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running berth process; killed when dropped.
pub struct Berth {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    pub data_dir: PathBuf,
}

impl Berth {
    /// Starts berth on `data_dir` with extra flags, and waits until it listens.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Berth {
        Self::start_with_env(data_dir, extra, &[])
    }

    /// As [`Berth::start`], with extra environment variables.
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &Path)]) -> Berth {
        let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .envs(env.iter().copied())
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env("BERTH_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start the berth binary");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("cannot read berth's first line");
        let endpoint = line
            .trim()
            .strip_prefix("berth listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from berth: {line:?}"))
            .to_string();
        Berth {
            child,
            endpoint,
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// Kills the process with SIGKILL, as a crash would, and waits for it.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
    }

    /// Sends SIGTERM and waits for a graceful exit; returns whether it exited with success.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success());
        self.child.wait().expect("wait").success()
    }
}

impl Drop for Berth {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An aws-sdk-ecr client for `endpoint`, with these credentials and region, no retries.
pub fn ecr_client(endpoint: &str, access_key: &str, region: &str) -> aws_sdk_ecr::Client {
    use aws_sdk_ecr::config::{retry::RetryConfig, BehaviorVersion, Credentials, Region};
    let config = aws_sdk_ecr::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(
            access_key,
            "secret",
            None,
            None,
            "berth-tests",
        ))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_ecr::Client::from_conf(config)
}

/// A client for the default identity (account 000000000000, us-east-1).
pub fn default_client(berth: &Berth) -> aws_sdk_ecr::Client {
    ecr_client(&berth.endpoint, "AKIDDEFAULT", "us-east-1")
}
