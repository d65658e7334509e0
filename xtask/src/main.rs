//! Project automation, run as `cargo xtask <task>`.
//!
//! - `codegen`: regenerate generated/ from model/.
//! - `codegen --check`: exit non-zero when generated/ is not what codegen would write.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let root = workspace_root();
    match args.as_slice() {
        ["codegen"] => match berth_codegen::write(&root) {
            Ok(changed) if changed.is_empty() => {
                println!("generated/ is up to date");
                ExitCode::SUCCESS
            }
            Ok(changed) => {
                for p in changed {
                    println!("wrote {}", p.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        ["codegen", "--check"] => match berth_codegen::check(&root) {
            Ok(stale) if stale.is_empty() => {
                println!("generated/ is up to date");
                ExitCode::SUCCESS
            }
            Ok(stale) => {
                for p in stale {
                    eprintln!("stale: {}", p.display());
                }
                fail("generated/ differs from model/: run `cargo xtask codegen` and commit the result")
            }
            Err(e) => fail(&e.to_string()),
        },
        _ => fail("usage: cargo xtask codegen [--check]"),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("xtask: {message}");
    ExitCode::FAILURE
}

/// xtask lives one level below the workspace root.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}
