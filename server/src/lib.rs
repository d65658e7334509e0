//! The berth server: configuration, identity, the HTTP faces, start and shutdown.

pub mod admin_api;
pub mod app;
pub mod backup;
pub mod blob_location;
pub mod config;
pub mod config_file;
pub mod connections;
pub mod console;
pub mod credentials_file;
pub mod download_api;
pub mod ecr_api;
pub mod identity;
pub mod metrics;
pub mod oci_api;
pub mod request_id;
pub mod signature;
pub mod signing_api;
pub mod tls;

use anyhow::Context;
use app::AppState;
use berth_handlers::auth::TokenSigner;
use berth_handlers::blob_store::BlobStore;
use berth_handlers::clock::Clock;
use berth_handlers::endpoint::RegistryEndpoint;
use berth_handlers::jobs::{
    GarbageCollection, ImageScanning, ImageSigning, JobRunner, LifecycleEvaluation, Replication,
    UploadExpiry,
};
use berth_handlers::metadata::CachedMetadataStore;
use berth_handlers::pull_through::upstream::UpstreamClient;
use berth_handlers::pull_through::PullThroughCache;
use berth_handlers::scanning::scanner::Scanner;
use berth_handlers::secrets::SecretStore;
use berth_handlers::signing::keys::SigningKeys;
use berth_handlers::{EcrHandlers, Registry, SqlMetadataStore};
use config::ServeOptions;
use identity::Identities;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Runs the server until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn serve(options: ServeOptions) -> anyhow::Result<()> {
    // Held until the end of this function: an ephemeral data dir is removed at exit.
    let ephemeral = if options.ephemeral {
        Some(
            tempfile::Builder::new()
                .prefix("berth-")
                .tempdir()
                .context("cannot create a temporary data dir")?,
        )
    } else {
        None
    };
    let data_dir: PathBuf = match &ephemeral {
        Some(dir) => dir.path().to_path_buf(),
        None => options.data_dir.clone(),
    };
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen on {}", options.listen))?;
    let address = listener.local_addr().context("no local address")?;
    // With TLS, repository URIs name ECR-shaped hosts, which the certificate of
    // `berth certs init` covers; /v2 routes them to their registry.
    let registry_host = options.registry_host.clone().unwrap_or_else(|| {
        if options.tls_cert.is_some() {
            format!("{{account}}.dkr.ecr.{{region}}.localhost:{}", address.port())
        } else {
            format!("localhost:{}", address.port())
        }
    });
    let tls = match (&options.tls_cert, &options.tls_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key).map_err(anyhow::Error::msg)?),
        (None, None) => None,
        _ => anyhow::bail!("--tls-cert and --tls-key go together"),
    };
    let blobs = match &options.blobs {
        Some(location) => Some(blob_location::s3_store(
            location,
            options.s3_endpoint.as_deref(),
            options.s3_region.as_deref(),
        )?),
        None => None,
    };
    if options.blob_redirect && blobs.is_none() {
        anyhow::bail!("--blob-redirect sends clients to S3: it needs --blobs s3://bucket/prefix");
    }
    let state =
        open_state(&options, &data_dir, registry_host.clone(), Clock::system(), blobs).await?;
    tracing::info!(data_dir = %data_dir.display(), ephemeral = options.ephemeral, %registry_host, "berth starting");
    // Tests and scripts read this line to find the port.
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("berth listening on {scheme}://{address}");
    state.jobs.start();
    let limits = connections::ConnectionLimits {
        max_connections: usize::try_from(options.max_connections).unwrap_or(usize::MAX),
        header_read_timeout: Duration::from_secs(options.header_read_timeout),
        tls,
    };
    connections::serve(listener, app::router(state.clone()), limits, shutdown_signal()).await;
    state.jobs.shutdown().await;
    state.registry.close().await;
    tracing::info!("berth stopped");
    drop(ephemeral);
    Ok(())
}

/// Opens the registry in `data_dir` and builds the state both faces share; also used by
/// in-process tests (the conformance suite) that drive [`app::router`] directly and keep
/// their `clock` (and `blobs`) across restarts. Blob bytes go to `blobs` when given, else
/// to files under `data_dir`.
pub async fn open_state(
    options: &ServeOptions, data_dir: &Path, registry_host: String, clock: Clock,
    blobs: Option<Arc<dyn BlobStore>>,
) -> anyhow::Result<Arc<AppState>> {
    // The data dir holds the token key and signing keys whatever holds metadata and blobs.
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data dir {}", data_dir.display()))?;
    let blobs = match blobs {
        Some(blobs) => blobs,
        None => Arc::new(
            berth_handlers::blob_store::FileBlobStore::open(data_dir)
                .with_context(|| format!("cannot open the blobs in {}", data_dir.display()))?,
        ),
    };
    let (metadata, cache_bytes) = match &options.metadata {
        // Another process may write the same database: nothing is cached in this one.
        Some(url) => (
            SqlMetadataStore::connect_postgres(url)
                .await
                .context("cannot open the PostgreSQL metadata database")?,
            0,
        ),
        None => (
            SqlMetadataStore::open(data_dir)
                .await
                .with_context(|| format!("cannot open the metadata in {}", data_dir.display()))?,
            options.cache_bytes,
        ),
    };
    let job_lock = metadata.job_lock();
    let blob_leases = metadata.blob_leases();
    let opened = Registry::with_stores(CachedMetadataStore::new(metadata), blobs, clock)
        .await
        .context("cannot open the registry")?;
    let registry = Arc::new(
        opened
            .with_restore_delay(options.archive_restore_delay)
            .with_cache_budget(cache_bytes)
            .with_blob_leases(blob_leases),
    );
    let tokens = match &options.token_key {
        Some(key) => TokenSigner::from_base64(key).map_err(anyhow::Error::msg)?,
        None => TokenSigner::open(data_dir).context("cannot load the token key")?,
    };
    if options.accept_any_credentials {
        tracing::warn!(
            "--accept-any-credentials: /v2 accepts ANY Basic credentials; never use this outside development"
        );
    }
    if options.admin_api {
        tracing::warn!(
            "--admin-api: /_berth/admin/* lets anyone who reaches the port move the clock and run jobs"
        );
    }
    let lifecycle_interval = Duration::from_secs(options.lifecycle_interval);
    let signing_keys = Arc::new(SigningKeys::new(data_dir));
    let scanner = Scanner::new(registry.clone(), options.vulnerability_db.as_deref())
        .map_err(anyhow::Error::msg)?;
    let jobs = JobRunner::new(vec![
        Arc::new(UploadExpiry::new(registry.clone())),
        Arc::new(LifecycleEvaluation::new(registry.clone(), lifecycle_interval)),
        Arc::new(Replication::new(
            registry.clone(),
            Duration::from_secs(options.replication_interval),
        )),
        Arc::new(GarbageCollection::new(
            registry.clone(),
            Duration::from_secs(options.gc_interval),
            Duration::from_secs(options.gc_grace),
        )),
        Arc::new(ImageScanning::new(Arc::new(scanner), Duration::from_secs(options.scan_interval))),
        Arc::new(ImageSigning::new(
            registry.clone(),
            signing_keys.clone(),
            Duration::from_secs(options.signing_interval),
        )),
    ]);
    let jobs = match job_lock {
        Some(lock) => jobs.with_lock(lock),
        None => jobs,
    };
    let secrets = match &options.secrets_file {
        Some(path) => SecretStore::load(path).map_err(anyhow::Error::msg)?,
        None => SecretStore::default(),
    };
    let cache = Arc::new(
        PullThroughCache::new(
            registry.clone(),
            UpstreamClient::new(options.upstream_endpoints.iter().cloned().collect()),
            secrets,
        )
        .with_tag_refresh(options.pull_through_tag_refresh),
    );
    let (identities, signatures) = Identities::from_options(options).map_err(anyhow::Error::msg)?;
    let endpoint = RegistryEndpoint::new(options.tls_cert.is_some(), registry_host);
    Ok(Arc::new(AppState {
        ecr: EcrHandlers::new(registry.clone(), tokens.clone(), endpoint.clone())
            .with_cache(cache.clone()),
        registry,
        cache,
        signing_keys,
        body_budget: ecr_api::BodyBudget::new(
            options.ecr_bodies_in_flight,
            Duration::from_secs(options.ecr_body_wait),
        ),
        metrics: Default::default(),
        tokens,
        identities,
        signatures,
        body_idle_timeout: Duration::from_secs(options.body_idle_timeout),
        endpoint,
        accept_any_credentials: options.accept_any_credentials,
        admin_api: options.admin_api,
        blob_redirect: options.blob_redirect,
        console_open: options.ui_open,
        jobs,
    }))
}

/// `berth gc`: one garbage collection of the data dir, as the server's job runs it.
pub async fn gc(
    data_dir: &Path, grace: u64,
) -> anyhow::Result<berth_handlers::registry::GarbageReport> {
    let registry = Registry::open(data_dir, Clock::system())
        .await
        .with_context(|| format!("cannot open the registry in {}", data_dir.display()))?;
    let report = registry.collect_garbage(grace as f64).await?;
    registry.close().await;
    Ok(report)
}

/// `berth fsck`: prints what the check found; true when the data dir is clean.
pub async fn fsck(options: &config::FsckOptions) -> anyhow::Result<bool> {
    let dir = &options.data_dir;
    let store = berth_handlers::SqlMetadataStore::open(dir)
        .await
        .with_context(|| format!("cannot open the metadata in {}", dir.display()))?;
    let blobs = berth_handlers::blob_store::FileBlobStore::open(dir)
        .with_context(|| format!("cannot open the blobs in {}", dir.display()))?;
    let report = berth_handlers::fsck::fsck(&store, &blobs, options.repair).await?;
    berth_handlers::MetadataStore::close(&store).await;
    println!("{report}");
    Ok(report.is_clean())
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for SIGINT: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
