//! Generated sequences against berth and the reference model.
//!
//! `BERTH_CONFORMANCE_CASES` sets the number of sequences (default [`DEFAULT_CASES`], each
//! of up to 30 steps; about half a minute on 2 cores in a debug build); `BERTH_CONFORMANCE_URL` runs them against a running berth instead of in-process.
//! Failures are shrunk and their seeds persisted in `tests/sequences.proptest-regressions`.

use berth_conformance::strategies::RegistryMachine;
use berth_conformance::{distribution, BerthTest, CASES};
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use std::sync::atomic::Ordering;

/// Sequences per `cargo test` run; `cargo xtask conformance --cases N` runs longer campaigns.
const DEFAULT_CASES: u32 = 1024;

#[test]
fn sequences_agree_with_the_reference_model() {
    let cases = std::env::var("BERTH_CONFORMANCE_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let config = Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/sequences.proptest-regressions",
        ))),
        source_file: Some(file!()),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config.clone());
    let strategy = RegistryMachine::sequential_strategy(1..=30);
    let result = runner.run(&strategy, |(initial, transitions, seen)| {
        BerthTest::test_sequential(config.clone(), initial, transitions, seen);
        Ok(())
    });
    let ran = CASES.load(Ordering::SeqCst);
    println!("conformance: {ran} sequences run ({cases} required to pass), transitions applied:");
    for (kind, count) in distribution() {
        println!("  {kind:<28} {count}");
    }
    if let Err(e) = result {
        panic!("berth disagrees with the reference model: {e}");
    }
    assert!(ran >= cases as usize, "only {ran} sequences ran");
}
