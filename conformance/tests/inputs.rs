//! ECR input conformance, from strategies generated out of the model: for all 62
//! operations, a valid input never gets InvalidParameterException from validation, and an
//! input that breaks exactly one constraint gets InvalidParameterException naming that
//! member and that constraint, and never reaches the operation (so it changes nothing).

use berth_generated::ecr::strategies::{
    invalid_inputs, valid_inputs, UnimplementedService, Violation,
};
use berth_generated::ecr::{dispatch, Operation};
use berth_generated::runtime::{ErrorShape, NotImplemented};
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Cases per operation and property.
const CASES: u32 = 64;

thread_local! {
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
}

/// The only error the service without operations has.
fn not_implemented(_: NotImplemented) -> ErrorShape {
    ErrorShape::NotImplemented
}

fn answer(operation: Operation, body: &serde_json::Value) -> (String, String) {
    let bytes = body.to_string().into_bytes();
    match RUNTIME.with(|r| {
        r.block_on(dispatch(&UnimplementedService, &(), operation, &bytes, not_implemented))
    }) {
        Ok(_) => ("<success>".to_string(), String::new()),
        Err(e) => (e.type_name.clone(), e.message().to_string()),
    }
}

fn constraint_words(v: &Violation) -> &'static str {
    match v.constraint {
        "required" => "must not be null",
        "length" => "must have length",
        "range" => "must have value",
        _ => "must satisfy regular expression",
    }
}

#[test]
fn valid_inputs_pass_validation_for_every_operation() {
    let all = valid_inputs();
    assert_eq!(all.len(), 62);
    for (operation, strategy) in all {
        let mut runner = TestRunner::new(Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&strategy, |body| {
                let (type_name, message) = answer(operation, &body);
                // Only the operation itself may answer: it is not implemented here.
                if type_name != "NotImplementedException" {
                    return Err(TestCaseError::fail(format!(
                        "{}: {type_name}: {message} for {body}",
                        operation.name()
                    )));
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", operation.name()));
    }
}

#[test]
fn inputs_breaking_one_constraint_are_refused_naming_it() {
    let mut broken = 0;
    for (operation, strategies) in invalid_inputs() {
        for strategy in strategies {
            broken += 1;
            let mut runner = TestRunner::new(Config {
                cases: 16,
                failure_persistence: None,
                ..Config::default()
            });
            runner
                .run(&strategy, |(body, violation)| {
                    let (type_name, message) = answer(operation, &body);
                    let expected = format!(
                        "Invalid parameter at '{}' failed to satisfy constraint: '",
                        violation.member
                    );
                    let ok = type_name == "InvalidParameterException"
                        && message.starts_with(&expected)
                        && message.contains(constraint_words(&violation));
                    if !ok {
                        return Err(TestCaseError::fail(format!(
                            "{}: breaking {violation:?} gave {type_name}: {message} for {body}",
                            operation.name()
                        )));
                    }
                    Ok(())
                })
                .unwrap_or_else(|e| panic!("{}: {e}", operation.name()));
        }
    }
    println!("{broken} single-constraint violations checked across the 62 operations");
    assert!(broken > 100, "only {broken} violations were generated");
}
