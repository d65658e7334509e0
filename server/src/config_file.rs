//! `--config FILE` (or `BERTH_CONFIG`): every `serve` flag in a TOML file, keyed by the
//! flag's long name (`listen = "0.0.0.0:4566"`, `admin-api = true`, `access-key = [...]`).
//! Precedence is flags > environment > file > defaults: each key of the file becomes the
//! flag's environment variable unless that is already set, and clap does the rest. An
//! unknown key is an error that names it.

use clap::CommandFactory;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The config file named by `--config FILE`, `--config=FILE` or `BERTH_CONFIG`.
pub fn named(args: &[OsString]) -> Option<PathBuf> {
    let mut args = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        if arg == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("BERTH_CONFIG").map(PathBuf::from)
}

/// A TOML value as the text of an environment variable (lists joined by commas, as the
/// repeatable flags' variables take them).
fn as_env(value: &toml::Value) -> Option<String> {
    Some(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => {
            items.iter().map(as_env).collect::<Option<Vec<_>>>()?.join(",")
        }
        _ => return None,
    })
}

/// The (environment variable, value) pairs the file sets, or why it cannot be used.
pub fn read(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
    let table: toml::Table =
        text.parse().map_err(|e| format!("the config file {} is not TOML: {e}", path.display()))?;
    let command = crate::config::Cli::command();
    let mut pairs = Vec::new();
    for (key, value) in &table {
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && key != "config")
            .ok_or_else(|| {
                format!(
                    "unknown key '{key}' in the config file {} (keys are the long names of berth serve's flags)",
                    path.display()
                )
            })?;
        let env =
            arg.get_env().ok_or_else(|| format!("the key '{key}' cannot be set from a file"))?;
        let text = as_env(value)
            .ok_or_else(|| format!("the key '{key}' needs a string, number, boolean or list"))?;
        pairs.push((env.to_string_lossy().into_owned(), text));
    }
    Ok(pairs)
}

/// Applies the file: each of its keys becomes its flag's environment variable unless that
/// is set already. Call before parsing the command line and before any thread starts.
pub fn apply(path: &Path) -> Result<(), String> {
    for (env, value) in read(path)? {
        if std::env::var_os(&env).is_none() {
            std::env::set_var(env, value);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_variables_and_unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("berth.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:5000\"\nadmin-api = true\naccess-key = [\"A=111111111111\", \"B=222222222222\"]\ngc-interval = 60\n",
        )
        .unwrap();
        let mut pairs = read(&file).unwrap();
        pairs.sort();
        assert_eq!(
            pairs,
            [
                ("BERTH_ACCESS_KEYS".to_string(), "A=111111111111,B=222222222222".to_string()),
                ("BERTH_ADMIN_API".to_string(), "true".to_string()),
                ("BERTH_GC_INTERVAL".to_string(), "60".to_string()),
                ("BERTH_LISTEN".to_string(), "127.0.0.1:5000".to_string()),
            ]
        );
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let err = read(&file).unwrap_err();
        assert!(err.contains("unknown key 'lisen'"), "{err}");
        let args: Vec<OsString> =
            ["berth", "--config", "/etc/berth.toml"].iter().map(OsString::from).collect();
        assert_eq!(named(&args), Some(PathBuf::from("/etc/berth.toml")));
    }
}
