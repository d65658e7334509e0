//! Property-based conformance: generated sequences of push, pull and API calls run against
//! berth and against a deliberately naive reference model; any disagreement fails with a
//! shrunk, minimal sequence.
//!
//! Split as in firezone's tunnel tests: [`reference`] (the model), [`sut`] (berth, in-process
//! or over HTTP, reached through [`target`]), [`transitions`], [`strategies`], [`assertions`]; [`fixtures`] is the fixed
//! world of names and bytes the sequences draw from.

pub mod assertions;
pub mod fixtures;
pub mod hostile;
pub mod reference;
pub mod strategies;
pub mod sut;
pub mod target;
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
        let answers = sut.perform_step(&transition);
        if let Some(expected) = &model.last {
            let expected = expected.per_request();
            assert_eq!(answers.len(), expected.len(), "{transition:?}: answers");
            for ((request, expected), answer) in
                transition.requests().into_iter().zip(expected).zip(&answers)
            {
                assertions::check(request, expected, answer);
            }
        }
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        // After every step, every repository's tags as /v2 lists them are the model's.
        for repo in 0..fixtures::REPOSITORIES.len() {
            let expected = model.repos.get(&repo).map(|r| {
                let mut tags: Vec<String> =
                    r.tags.keys().map(|t| fixtures::TAGS[*t].to_string()).collect();
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
            // And each tag reads as the model says (404 for an archived image): a stale cache
            // shows here.
            if let Some(r) = model.repos.get(&repo) {
                for tag in 0..fixtures::TAGS.len() {
                    assert_eq!(
                        sut.tag_digest(repo, tag),
                        r.pulled_tag(tag),
                        "{}:{} after {:?}",
                        sut.name(repo),
                        fixtures::TAGS[tag],
                        model.last
                    );
                }
            }
        }
    }
}

/// Applies transitions to a fresh model alone (no berth), for tests of the model itself.
pub fn model_after(transitions: &[Transition]) -> Model {
    transitions.iter().fold(Model::default(), <RegistryMachine as ReferenceStateMachine>::apply)
}
