//! Command line and environment: everything `berth serve` can be told.

use berth_handlers::scope::{AccountId, PrincipalArn, Region};
use clap::{Args, Parser, Subcommand};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// berth: Amazon ECR on your own machine (ECR API and OCI registry on one port).
#[derive(Debug, Parser)]
#[command(name = "berth", version, about)]
pub struct Cli {
    /// A TOML file of `serve` flags by long name; flags and environment variables win over it.
    #[arg(long, env = "BERTH_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log lines as text (default) or as JSON objects, one per line.
    #[arg(long, env = "BERTH_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options of `serve`, also accepted without the subcommand.
    #[command(flatten)]
    pub serve: ServeOptions,
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(Box<ServeOptions>),
    /// Check that metadata and blobs agree (read-only unless --repair); exits 1 when
    /// something is wrong.
    Fsck(FsckOptions),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print berth's man page (roff), e.g. `berth man > berth.1`.
    Man,
    /// Delete blobs no image has referenced for `--grace` seconds, as the server's GC job
    /// does; for a stopped server (a running one collects on its own).
    Gc {
        #[arg(long, env = "BERTH_DATA_DIR", default_value = "./berth-data")]
        data_dir: PathBuf,
        /// Seconds a blob stays after nothing references it.
        #[arg(long, default_value_t = 3600)]
        grace: u64,
    },
    /// Write a data dir (metadata, blobs, keys) to one tar file; safe while a server runs
    /// on it.
    Export {
        #[arg(long, env = "BERTH_DATA_DIR", default_value = "./berth-data")]
        data_dir: PathBuf,
        /// The tar file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Make a new data dir from an export, verifying every blob's digest.
    Import {
        /// The data dir to create (it must not exist, or be empty).
        #[arg(long, env = "BERTH_DATA_DIR", default_value = "./berth-data")]
        data_dir: PathBuf,
        /// The tar file `berth export` wrote.
        #[arg(long = "in")]
        archive: PathBuf,
    },
    /// TLS certificates for `--tls-cert`/`--tls-key`.
    #[command(subcommand)]
    Certs(CertsCommand),
}

/// `berth certs ...`.
#[derive(Debug, Subcommand)]
pub enum CertsCommand {
    /// Make a local CA (kept if there is one) and a certificate for localhost, 127.0.0.1,
    /// ::1 and `*.dkr.ecr.<region>.localhost`, and print how to trust them.
    Init {
        /// Where the files go (ca.pem, ca.key, server.pem, server.key).
        #[arg(long, default_value = "./berth-certs")]
        dir: PathBuf,
        /// Regions whose ECR-shaped names the certificate covers (repeat); default AWS's
        /// commercial regions.
        #[arg(long = "region", value_parser = parse_region)]
        regions: Vec<String>,
    },
}

/// Options of `berth fsck`.
#[derive(Debug, Clone, Args)]
pub struct FsckOptions {
    /// The data dir to check (a server may be running on it).
    #[arg(long, env = "BERTH_DATA_DIR", default_value = "./berth-data")]
    pub data_dir: PathBuf,
    /// Remove what nothing can reach (upload bytes without a session). For a stopped
    /// server: a running one may be between the two writes of a new upload.
    #[arg(long)]
    pub repair: bool,
}

/// Options of `berth serve`; each has an environment variable.
#[derive(Debug, Clone, Args)]
pub struct ServeOptions {
    /// Address to listen on; port 0 picks a free port (the address is printed).
    #[arg(long, env = "BERTH_LISTEN", default_value = "127.0.0.1:4566")]
    pub listen: SocketAddr,
    /// Where metadata and blobs are kept.
    #[arg(long, env = "BERTH_DATA_DIR", default_value = "./berth-data")]
    pub data_dir: PathBuf,
    /// Keep everything in a temporary directory, removed at exit.
    #[arg(long, env = "BERTH_EPHEMERAL")]
    pub ephemeral: bool,
    /// Host (and port) in repository URIs and the proxy endpoint; default `localhost:<port>`.
    #[arg(long, env = "BERTH_REGISTRY_HOST")]
    pub registry_host: Option<String>,
    /// Access key to identity mapping: `AKID=123456789012` (the account's root) or
    /// `AKID=arn:aws:iam::123456789012:role/ci` (that principal, in its account), each
    /// optionally followed by `:SECRET` (the secret access key `--verify-signatures` checks
    /// with); repeat or separate with commas.
    #[arg(long = "access-key", env = "BERTH_ACCESS_KEYS", value_delimiter = ',', value_parser = parse_access_key)]
    pub access_keys: Vec<AccessKey>,
    /// Access keys and their secrets (and session tokens) in the AWS shared-credentials
    /// format (`~/.aws/credentials`); a profile's `berth_principal` (account or ARN) says
    /// whom its key speaks for, else `--access-key`, else the default account.
    #[arg(long, env = "BERTH_CREDENTIALS_FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Every ECR API request must carry a valid SigV4 signature made with a known secret
    /// (from `--access-key ...:SECRET` or `--credentials-file`), within 5 minutes of berth's
    /// clock. Off by default: any access key is then taken at its word.
    #[arg(long, env = "BERTH_VERIFY_SIGNATURES")]
    pub verify_signatures: bool,
    /// Account of requests whose access key is not mapped (or that carry none).
    #[arg(long, env = "BERTH_DEFAULT_ACCOUNT", default_value = "000000000000", value_parser = parse_account)]
    pub default_account: String,
    /// Development only: /v2 accepts any Basic credentials (as `docker login -u test -p test`
    /// against other emulators). Off by default; logged loudly when on.
    #[arg(long, env = "BERTH_ACCEPT_ANY_CREDENTIALS")]
    pub accept_any_credentials: bool,
    /// Tests and development only: serves `/_berth/admin/*` (move the clock, run background
    /// jobs now) to anyone who reaches the port. Off by default.
    #[arg(long, env = "BERTH_ADMIN_API")]
    pub admin_api: bool,
    /// The web console at /ui/ shows the default account's registry to clients on loopback
    /// addresses without signing in (others still sign in with a registry password).
    #[arg(long, env = "BERTH_UI_OPEN")]
    pub ui_open: bool,
    /// Region of requests that carry no SigV4 credential scope.
    #[arg(long, env = "BERTH_DEFAULT_REGION", default_value = "us-east-1", value_parser = parse_region)]
    pub default_region: String,
    /// Seconds between two evaluations of every lifecycle policy (ECR acts within a day).
    #[arg(long, env = "BERTH_LIFECYCLE_INTERVAL", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub lifecycle_interval: u64,
    /// Seconds an image restored from the archive stays ACTIVATING before it can be pulled
    /// (ECR takes up to 20 minutes; the admin clock moves past it in tests).
    #[arg(long, env = "BERTH_ARCHIVE_RESTORE_DELAY", default_value_t = berth_handlers::registry::DEFAULT_RESTORE_DELAY_SECS)]
    pub archive_restore_delay: u64,
    /// Seconds between two garbage collections of unreferenced blobs.
    #[arg(long, env = "BERTH_GC_INTERVAL", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub gc_interval: u64,
    /// Seconds a blob stays after no manifest references it (and after its last upload or
    /// mount), so that a push whose manifest has not arrived yet keeps its layers.
    #[arg(long, env = "BERTH_GC_GRACE", default_value_t = 3600)]
    pub gc_grace: u64,
    /// Seconds between two passes of the replication job (ECR replicates within 30 min).
    #[arg(long, env = "BERTH_REPLICATION_INTERVAL", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub replication_interval: u64,
    /// JSON file of the Secrets Manager secrets pull-through cache rules name
    /// (`credentialArn`): secret ARN or name -> `{"username": ..., "accessToken": ...}`.
    #[arg(long, env = "BERTH_SECRETS_FILE")]
    pub secrets_file: Option<PathBuf>,
    /// Sends an upstream registry host's traffic elsewhere, `HOST=URL` (e.g.
    /// `registry-1.docker.io=http://127.0.0.1:5000`, a mirror or a local registry);
    /// repeat or separate with commas.
    #[arg(long = "upstream-endpoint", env = "BERTH_UPSTREAM_ENDPOINTS", value_delimiter = ',', value_parser = parse_upstream_endpoint)]
    pub upstream_endpoints: Vec<(String, String)>,
    /// Seconds a pull-through cached tag is served before upstream is asked whether it
    /// moved (ECR: 24 hours); digests are never re-checked.
    #[arg(long, env = "BERTH_PULL_THROUGH_TAG_REFRESH", default_value_t = berth_handlers::pull_through::DEFAULT_TAG_REFRESH_SECS)]
    pub pull_through_tag_refresh: u64,
    /// Directory of OSV advisories (JSON, one per file, e.g. the public OSV exports) that
    /// image scans match installed packages against; without it scans find nothing.
    #[arg(long, env = "BERTH_VULNERABILITY_DB")]
    pub vulnerability_db: Option<PathBuf>,
    /// Seconds between two passes of the scan job over the queued scans.
    #[arg(long, env = "BERTH_SCAN_INTERVAL", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub scan_interval: u64,
    /// Seconds between two passes of the signing job over the queued signings.
    #[arg(long, env = "BERTH_SIGNING_INTERVAL", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub signing_interval: u64,
    /// Bytes of large ECR request bodies (UploadLayerPart, PutImage) read at once; more
    /// wait, up to `--ecr-body-wait`, then get 503. Bodies of 64 KiB or less never wait.
    #[arg(long, env = "BERTH_ECR_BODIES_IN_FLIGHT", default_value_t = 256 * 1024 * 1024)]
    pub ecr_bodies_in_flight: usize,
    /// Seconds a large ECR body waits for `--ecr-bodies-in-flight` before a 503.
    #[arg(long, env = "BERTH_ECR_BODY_WAIT", default_value_t = 30)]
    pub ecr_body_wait: u64,
    /// PEM certificate chain to serve HTTPS with (with `--tls-key`); `berth certs init`
    /// makes one. Repository URIs then name `<account>.dkr.ecr.<region>.localhost:<port>`
    /// unless `--registry-host` says otherwise.
    #[arg(long, env = "BERTH_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "BERTH_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Connections served at once; one more gets a clear refusal (ECR ThrottlingException,
    /// OCI TOOMANYREQUESTS) and is closed. berth raises its open-file limit to fit.
    #[arg(long, env = "BERTH_MAX_CONNECTIONS", default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Seconds a client has to send a request's headers; also the longest a kept-alive
    /// connection may sit idle (slow-header clients cannot hold a connection).
    #[arg(long, env = "BERTH_HEADER_READ_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout: u64,
    /// Seconds a request body may send nothing before the request is cut (a stalled
    /// upload is ended; its session stays and can be resumed).
    #[arg(long, env = "BERTH_BODY_IDLE_TIMEOUT", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_idle_timeout: u64,
    /// PostgreSQL database for the metadata instead of SQLite in the data dir
    /// (`postgres://user:password@host:port/database`), shared by every replica; berth
    /// applies its migrations at start. In-memory caches are then off.
    #[arg(long, env = "BERTH_METADATA", value_parser = parse_metadata)]
    pub metadata: Option<String>,
    /// Key that signs registry passwords (base64 of 32 bytes, e.g. `openssl rand -base64
    /// 32`) instead of the data dir's `auth.key`: give every replica the same one, so that a
    /// password from one is accepted by all.
    #[arg(long, env = "BERTH_TOKEN_KEY", hide_env_values = true)]
    pub token_key: Option<String>,
    /// Where blob bytes go instead of the data dir: `s3://bucket/prefix` in an
    /// S3-compatible store (credentials and region from the usual AWS environment
    /// variables), shared by every replica. Metadata stays where `--data-dir` says.
    #[arg(long, env = "BERTH_BLOBS", value_parser = crate::blob_location::parse_blobs)]
    pub blobs: Option<crate::blob_location::S3Location>,
    /// URL of the S3-compatible server for `--blobs` (else `AWS_ENDPOINT_URL_S3` or
    /// `AWS_ENDPOINT_URL`, else AWS itself).
    #[arg(long, env = "BERTH_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Region of the bucket of `--blobs` (else `AWS_REGION` or `AWS_DEFAULT_REGION`).
    #[arg(long, env = "BERTH_S3_REGION")]
    pub s3_region: Option<String>,
    /// Answer a blob GET with a redirect (307) to a presigned URL of the object in S3, as
    /// ECR sends clients to S3, so that layer bytes do not pass through berth. Needs
    /// `--blobs s3://...`, and the S3 endpoint must be reachable by clients.
    #[arg(long, env = "BERTH_BLOB_REDIRECT")]
    pub blob_redirect: bool,
    /// Bytes each in-memory cache (repositories, manifests) may hold; 0 turns them off.
    #[arg(long, env = "BERTH_CACHE_BYTES", default_value_t = berth_handlers::metadata::MAX_CACHED_BYTES)]
    pub cache_bytes: usize,
}

impl ServeOptions {
    /// The options of a plain `berth serve` (environment variables included).
    pub fn defaults() -> Self {
        Cli::parse_from(["berth"]).serve
    }

    /// The access-key map.
    pub fn principal_map(&self) -> BTreeMap<String, PrincipalArn> {
        self.access_keys.iter().map(|k| (k.id.clone(), k.principal.clone())).collect()
    }
}

fn parse_account(value: &str) -> Result<String, String> {
    AccountId::parse(value)
        .map(AccountId::into_string)
        .ok_or_else(|| format!("'{value}' is not a 12-digit AWS account id"))
}

fn parse_region(value: &str) -> Result<String, String> {
    Region::parse(value)
        .map(Region::into_string)
        .ok_or_else(|| format!("'{value}' is not an AWS region name such as us-east-1"))
}

fn parse_metadata(value: &str) -> Result<String, String> {
    if value.starts_with("postgres://") || value.starts_with("postgresql://") {
        Ok(value.to_string())
    } else {
        Err(format!("'{value}' is not a postgres://user:password@host:port/database URL"))
    }
}

fn parse_upstream_endpoint(value: &str) -> Result<(String, String), String> {
    let (host, url) =
        value.split_once('=').ok_or_else(|| format!("'{value}' is not of the form HOST=URL"))?;
    if host.is_empty() || !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "'{value}' is not of the form HOST=URL with an http:// or https:// URL"
        ));
    }
    Ok((host.to_string(), url.to_string()))
}

/// One `--access-key`: whom the key speaks for, and its secret when signatures are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub principal: PrincipalArn,
    pub secret: Option<String>,
}

fn parse_access_key(value: &str) -> Result<AccessKey, String> {
    let (key, identity) = value.split_once('=').ok_or_else(|| {
        format!("'{value}' is not of the form ACCESS_KEY_ID=ACCOUNT or ACCESS_KEY_ID=PRINCIPAL_ARN")
    })?;
    if key.is_empty() {
        return Err(format!("'{value}' has an empty access key id"));
    }
    // An ARN holds colons itself, a secret access key never: the secret is what follows
    // the last colon, unless the whole is a principal.
    let (principal, secret) = match parse_principal(identity) {
        Ok(principal) => (principal, None),
        Err(whole) => match identity.rsplit_once(':') {
            Some((principal, secret)) if !secret.is_empty() => {
                (parse_principal(principal)?, Some(secret.to_string()))
            }
            _ => return Err(whole),
        },
    };
    Ok(AccessKey { id: key.to_string(), principal, secret })
}

/// An account id (its root) or an IAM ARN.
pub fn parse_principal(identity: &str) -> Result<PrincipalArn, String> {
    if identity.starts_with("arn:") {
        PrincipalArn::parse(identity).ok_or_else(|| {
            format!("'{identity}' is not an IAM ARN such as arn:aws:iam::123456789012:role/ci")
        })
    } else {
        Ok(PrincipalArn::root(&parse_account(identity)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_flags() {
        let cli = Cli::try_parse_from(["berth"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.listen.to_string(), "127.0.0.1:4566");
        assert_eq!(cli.serve.default_account, "000000000000");
        let cli = Cli::try_parse_from([
            "berth",
            "serve",
            "--listen",
            "0.0.0.0:5000",
            "--access-key",
            "AKIDA=111111111111,AKIDB=arn:aws:iam::222222222222:role/ci",
        ])
        .unwrap();
        let Some(Command::Serve(opts)) = cli.command else { panic!("serve expected") };
        let principals = opts.principal_map();
        assert_eq!(principals["AKIDA"].as_str(), "arn:aws:iam::111111111111:root");
        assert_eq!(principals["AKIDB"].as_str(), "arn:aws:iam::222222222222:role/ci");
        assert_eq!(principals["AKIDB"].account(), "222222222222");
        assert!(opts.access_keys.iter().all(|k| k.secret.is_none()));
        for (value, principal, secret) in [
            (
                "K=arn:aws:iam::333333333333:role/ci:wJalr/K7+MDENG",
                "arn:aws:iam::333333333333:role/ci",
                "wJalr/K7+MDENG",
            ),
            ("K=444444444444:s3cret", "arn:aws:iam::444444444444:root", "s3cret"),
        ] {
            let key = parse_access_key(value).unwrap();
            assert_eq!((key.principal.as_str(), key.secret.as_deref()), (principal, Some(secret)));
        }
        for bad in [
            "AKID=12",
            "AKID=arn:aws:iam::222222222222:group/x",
            "AKID=12:secret",
            "AKID=111111111111:",
        ] {
            assert!(Cli::try_parse_from(["berth", "--access-key", bad]).is_err(), "{bad}");
        }
    }
}
