//! The command line documents itself: help for every subcommand, shell completions and a
//! man page generated from the same definitions.

use std::process::Command;

fn berth(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_berth")).args(args).output().expect("berth runs");
    assert!(output.status.success(), "berth {args:?} failed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn help_completions_and_man_page() {
    let help = berth(&["--help"]);
    for subcommand in ["serve", "fsck", "completions", "man"] {
        assert!(help.contains(subcommand), "{help}");
        assert!(berth(&[subcommand, "--help"]).contains("Usage: berth"), "{subcommand}");
    }
    assert!(berth(&["completions", "bash"]).contains("_berth()"));
    assert!(berth(&["completions", "zsh"]).contains("#compdef berth"));
    let man = berth(&["man"]);
    assert!(man.contains(".TH berth 1") && man.contains("fsck"), "{man}");
}
