//! Property-based conformance: generated sequences of push, pull and API calls run against
//! berth and against a deliberately naive reference model; any disagreement fails with a
//! shrunk, minimal sequence.
//!
//! Split as in firezone's tunnel tests: [`reference`] (the model), [`sut`] (berth, in-process
//! or over HTTP), [`transitions`], [`strategies`], [`assertions`]; [`fixtures`] is the fixed
//! world of names and bytes the sequences draw from.

pub mod assertions;
pub mod fixtures;
pub mod reference;
pub mod strategies;
pub mod sut;
pub mod transitions;

use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
use reference::Model;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use strategies::RegistryMachine;
use sut::Sut;
use transitions::Transition;

/// How many sequences ran, and how often each transition was applied.
pub static CASES: AtomicUsize = AtomicUsize::new(0);
static DISTRIBUTION: Mutex<BTreeMap<&'static str, usize>> = Mutex::new(BTreeMap::new());

/// The counts so far, by transition kind.
pub fn distribution() -> BTreeMap<&'static str, usize> {
    DISTRIBUTION.lock().map(|d| d.clone()).unwrap_or_default()
}

/// Ties the reference model to berth.
pub struct BerthTest;

impl StateMachineTest for BerthTest {
    type SystemUnderTest = Sut;
    type Reference = RegistryMachine;

    fn init_test(_: &Model) -> Sut {
        let case = CASES.fetch_add(1, Ordering::SeqCst);
        Sut::start(case)
    }

    fn apply(mut sut: Sut, model: &Model, transition: Transition) -> Sut {
        if let Ok(mut d) = DISTRIBUTION.lock() {
            *d.entry(transition.kind()).or_default() += 1;
        }
        let answer = sut.perform(&transition);
        if let (Some(expected), Some(answer)) = (&model.last, &answer) {
            assertions::check(&transition, expected, answer);
        }
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        // After every step, every repository's tags as /v2 lists them are the model's.
        for repo in 0..fixtures::REPOSITORIES.len() {
            let expected = model.repos.get(&repo).map(|r| {
                let mut tags: Vec<String> = r
                    .tags
                    .keys()
                    .map(|t| fixtures::TAGS[*t].to_string())
                    .collect();
                tags.sort();
                tags
            });
            assert_eq!(
                sut.tags(repo),
                expected,
                "tags of {} after {:?}",
                sut.name(repo),
                model.last
            );
        }
    }
}

/// Applies transitions to a fresh model alone (no berth), for tests of the model itself.
pub fn model_after(transitions: &[Transition]) -> Model {
    transitions.iter().fold(Model::default(), |m, t| {
        <RegistryMachine as ReferenceStateMachine>::apply(m, t)
    })
}
