//! Every error an ECR operation answers is one the model declares for it.
//!
//! Handlers return berth's domain error; the dispatcher turns it into the operation's
//! declared errors, and one the operation does not declare can only become
//! ServerException. This test sends inputs generated from the model for all 62 operations
//! (half of them aimed at a repository that exists and at its tagged image, so that the
//! handlers get past their first lookups) and checks that each answer is a success or an
//! error the operation declares: never ServerException, and never NotImplemented (every
//! operation is built). AccessDeniedException, one of AWS's common errors that no
//! operation lists, is the answer to a request naming another account's registry that
//! its policies do not open.

use berth_conformance::sut::Sut;
use berth_generated::ecr::strategies::valid_inputs;
use berth_generated::ecr::Operation;
use berth_handlers::digest::Digest;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

/// Cases per operation.
const CASES: u32 = 48;

/// The repository that exists, with one tagged image.
const PRESENT: &str = "declared/present";

/// The image in it: an empty index (it needs no blobs), tagged `TAG`.
const IMAGE: &str =
    r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
const TAG: &str = "latest";

fn image_digest() -> String {
    Digest::of(IMAGE.as_bytes()).to_string()
}

/// Points about half of the inputs at the existing repository and its image.
fn aim(mut body: Value, flip: bool) -> Value {
    if !flip {
        return body;
    }
    if let Some(map) = body.as_object_mut() {
        map.remove("registryId");
        let by_tag = json!({ "imageTag": TAG });
        let by_digest = json!({ "imageDigest": image_digest() });
        // Media types and filters drawn at random would hide the image.
        map.remove("acceptedMediaTypes");
        map.remove("filter");
        if map.contains_key("imageIds") {
            map.insert("imageIds".into(), json!([by_tag, by_digest]));
        }
        if map.contains_key("imageId") {
            map.insert("imageId".into(), by_tag);
        }
        if map.contains_key("subjectId") {
            map.insert("subjectId".into(), by_digest);
        }
        if map.contains_key("repositoryName") {
            map.insert("repositoryName".into(), PRESENT.into());
        }
        if map.contains_key("resourceArn") {
            map.insert(
                "resourceArn".into(),
                format!("arn:aws:ecr:us-east-1:000000000000:repository/{PRESENT}").into(),
            );
        }
    }
    body
}

#[test]
fn every_answered_error_is_declared_by_its_operation() {
    let sut = Sut::start(0);
    let answered = std::cell::Cell::new(0usize);
    for (operation, strategy) in valid_inputs() {
        let declared = operation.declared_errors();
        let mut runner = TestRunner::new(Config {
            cases: CASES,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&(strategy, proptest::bool::ANY), |(body, flip)| {
                let body = aim(body, flip);
                // Present before every case: DeleteRepository and BatchDeleteImage cases
                // delete them.
                let created = sut.ecr("CreateRepository", json!({ "repositoryName": PRESENT }));
                let json = created.json();
                let fine =
                    created.status == 200 || json["__type"] == "RepositoryAlreadyExistsException";
                if !fine {
                    return Err(TestCaseError::fail(format!("cannot create {PRESENT}: {json}")));
                }
                let image =
                    json!({ "repositoryName": PRESENT, "imageTag": TAG, "imageManifest": IMAGE });
                let put = sut.ecr("PutImage", image);
                let json = put.json();
                if put.status != 200 && json["__type"] != "ImageAlreadyExistsException" {
                    return Err(TestCaseError::fail(format!("cannot put {TAG}: {json}")));
                }
                let answer = sut.ecr(operation.name(), body.clone());
                let json = answer.json();
                let type_name = json["__type"].as_str().unwrap_or("");
                let fine = match answer.status {
                    200 => true,
                    400..=499 => {
                        declared.contains(&type_name)
                            || type_name == "AccessDeniedException"
                                && body["registryId"].as_str().is_some_and(|r| r != "000000000000")
                    }
                    _ => false,
                };
                if !fine || type_name == "ServerException" {
                    return Err(TestCaseError::fail(format!(
                        "{}: {} {json} for {body}; declared: {declared:?}",
                        operation.name(),
                        answer.status
                    )));
                }
                answered.set(answered.get() + 1);
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{}: {e}", operation.name()));
    }
    assert_eq!(Operation::ALL.len(), 62);
    let answered = answered.get();
    assert!(answered >= 62 * CASES as usize, "only {answered} answers");
}
