//! `--config FILE`: every flag from a TOML file, with flags and environment variables
//! winning over it, and an unknown key refused by name.

mod support;

use std::path::Path;
use support::{admin, default_client, Berth};

async fn registry_id(berth: &Berth) -> String {
    default_client(berth)
        .describe_registry()
        .send()
        .await
        .unwrap()
        .registry_id()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_config_file_sets_flags_below_flags_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("berth.toml");
    std::fs::write(
        &file,
        "default-account = \"123456789012\"\nadmin-api = true\nlisten = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    // The file's listen address loses to the flag (the helper passes --listen).
    let berth = Berth::start(&dir.path().join("a"), &["--config", config]);
    assert_eq!(registry_id(&berth).await, "123456789012");
    let (status, _) = admin(&berth, "clock/advance", r#"{"seconds":1}"#).await;
    assert_eq!(status, 200, "admin-api = true came from the file");
    drop(berth);

    let berth = Berth::start_with_env(
        &dir.path().join("b"),
        &["--config", config],
        &[("BERTH_DEFAULT_ACCOUNT", Path::new("222222222222"))],
    );
    assert_eq!(registry_id(&berth).await, "222222222222", "the environment wins");
    drop(berth);

    std::fs::write(&file, "admin_api = true\n").unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["--config", config, "serve", "--listen", "127.0.0.1:0", "--ephemeral"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("unknown key 'admin_api'"), "{stderr}");
}
