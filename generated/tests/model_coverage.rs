//! Checks generated/ against model/: fresh, all 62 operations, one check per constraint trait.

use berth_codegen::smithy::{Member, SmithyModel};
use berth_generated::ecr::Operation;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn model() -> SmithyModel {
    let (ecr, overlay, oci) = (
        read(berth_codegen::ECR_MODEL),
        read(berth_codegen::ECR_OVERLAY),
        read(berth_codegen::OCI_TABLES),
    );
    berth_codegen::load_ecr(&berth_codegen::ModelSources {
        ecr: &ecr,
        overlay: Some(&overlay),
        oci: &oci,
    })
    .unwrap()
}

#[test]
fn generated_code_is_fresh() {
    let stale = berth_codegen::check(&root()).unwrap();
    assert!(stale.is_empty(), "generated/ is stale, run `cargo xtask codegen`: {stale:?}");
}

#[test]
fn every_operation_of_model_and_overlay_is_generated() {
    let model = model();
    let service = &model.shapes[berth_codegen::SERVICE_ID];
    let from_model: BTreeSet<&str> =
        service.operations.iter().map(|o| o.target.rsplit('#').next().unwrap()).collect();
    let generated: BTreeSet<&str> = Operation::ALL.iter().map(|o| o.name()).collect();
    assert_eq!(from_model.len(), 62);
    assert_eq!(generated, from_model);
    for op in Operation::ALL {
        let target = format!("AmazonEC2ContainerRegistry_V20150921.{}", op.name());
        assert_eq!(Operation::from_target(&target), Some(op));
    }
    assert_eq!(Operation::from_target("AmazonEC2ContainerRegistry_V20150921.Nope"), None);
}

#[test]
fn every_operation_has_one_trait_with_one_method_and_the_service_needs_each() {
    let source = read("generated/src/ecr/service.rs");
    for op in Operation::ALL {
        let header = format!("pub trait {}: EcrContext {{", op.name());
        let start = source.find(&header).unwrap_or_else(|| panic!("no trait for {}", op.name()));
        let end = start + source[start..].find("\n}\n").expect("trait ends");
        assert_eq!(source[start..end].matches("    fn ").count(), 1, "{}", op.name());
    }
    let start = source.find("pub trait EcrService").expect("trait present");
    let end = start + source[start..].find('{').expect("bounds end");
    let bounds: BTreeSet<&str> = source[start..end].split(['+', ':']).map(str::trim).collect();
    for op in Operation::ALL {
        assert!(bounds.contains(op.name()), "EcrService lacks {}", op.name());
    }
}

/// Counts constraint traits the independent way: walk every structure an input reaches.
#[derive(Default, Debug, PartialEq)]
struct Counts(BTreeMap<&'static str, usize>);

impl Counts {
    fn add(&mut self, kind: &'static str) {
        *self.0.entry(kind).or_default() += 1;
    }
}

fn count_shape_traits(
    model: &SmithyModel, member: &Member, counts: &mut Counts, queue: &mut Vec<String>,
) {
    for (trait_name, kind) in [
        ("smithy.api#length", "length"),
        ("smithy.api#range", "range"),
        ("smithy.api#pattern", "pattern"),
    ] {
        if member.traits.contains_key(trait_name) {
            counts.add(kind);
        }
        if let Some(target) = model.shapes.get(&member.target) {
            if target.traits.contains_key(trait_name) {
                counts.add(kind);
            }
        }
    }
    let Some(target) = model.shapes.get(&member.target) else {
        return;
    };
    match target.kind.as_str() {
        "structure" => queue.push(member.target.clone()),
        "list" => count_shape_traits(model, target.member.as_ref().unwrap(), counts, queue),
        "map" => {
            count_shape_traits(model, target.key.as_ref().unwrap(), counts, queue);
            count_shape_traits(model, target.value.as_ref().unwrap(), counts, queue);
        }
        _ => {}
    }
}

#[test]
fn every_constraint_trait_of_every_input_has_one_generated_check() {
    let model = model();
    let service = &model.shapes[berth_codegen::SERVICE_ID];
    let mut queue: Vec<String> = service
        .operations
        .iter()
        .map(|o| model.shapes[&o.target].input.as_ref().unwrap().target.clone())
        .collect();
    let mut seen = BTreeSet::new();
    let mut expected = Counts::default();
    while let Some(id) = queue.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        for member in model.shapes[&id].members.values() {
            if member.traits.contains_key("smithy.api#required") {
                expected.add("required");
            }
            count_shape_traits(&model, member, &mut expected, &mut queue);
        }
    }
    let source = read("generated/src/ecr/validate.rs");
    let mut generated = Counts::default();
    for kind in ["required", "length", "range", "pattern"] {
        for _ in source.matches(&format!("check::{kind}(")) {
            generated.add(kind);
        }
    }
    assert_eq!(generated, expected);
    assert!(expected.0["required"] > 90 && expected.0["pattern"] > 30, "{expected:?}");
    for id in &seen {
        let name = id.rsplit('#').next().unwrap();
        assert!(source.contains(&format!("impl Validate for {name} ")), "no validate() for {name}");
    }
}

#[test]
fn oci_routes_parse_from_the_right() {
    use berth_generated::oci::{OciErrorCode, OciRoute};
    let digest = format!("sha256:{}", "a".repeat(64));
    let cases = [
        ("/v2/", Some(OciRoute::Base)),
        ("/v2", Some(OciRoute::Base)),
        ("/v2/_catalog", Some(OciRoute::Catalog)),
        (
            "/v2/team/app/manifests/latest",
            Some(OciRoute::Manifest { name: "team/app".into(), reference: "latest".into() }),
        ),
        (
            &format!("/v2/a/blobs/{digest}"),
            Some(OciRoute::Blob { name: "a".into(), digest: digest.clone() }),
        ),
        ("/v2/a/b/blobs/uploads/", Some(OciRoute::Uploads { name: "a/b".into() })),
        ("/v2/a/blobs/uploads", Some(OciRoute::Uploads { name: "a".into() })),
        (
            "/v2/a/blobs/uploads/123",
            Some(OciRoute::Upload { name: "a".into(), reference: "123".into() }),
        ),
        (
            "/v2/blobs/uploads/blobs/x",
            Some(OciRoute::Blob { name: "blobs/uploads".into(), digest: "x".into() }),
        ),
        ("/v2/a/manifests/tags/list", Some(OciRoute::TagsList { name: "a/manifests".into() })),
        ("/v2/a/referrers/x", Some(OciRoute::Referrers { name: "a".into(), digest: "x".into() })),
        ("/v2/manifests/x", None),
        ("/v2/a//manifests/x", None),
        ("/v3/a/manifests/x", None),
        ("/v2/a/unknown/x", None),
    ];
    for (path, expected) in cases {
        assert_eq!(OciRoute::parse(path), expected, "{path}");
    }
    assert_eq!(
        OciRoute::Manifest { name: "a".into(), reference: "b".into() }.methods(),
        ["DELETE", "GET", "HEAD", "PUT"]
    );
    assert_eq!(OciErrorCode::BlobUploadUnknown.as_str(), "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(OciErrorCode::ManifestBlobUnknown.status(), 400);
    assert_eq!(OciErrorCode::Unauthorized.status(), 401);
}
