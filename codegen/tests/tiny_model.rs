//! codegen on a tiny hand-written model: what it emits, and that it is deterministic.

use berth_codegen::{generate, GeneratedFile, ModelSources};

const TINY: &str = r##"{"smithy":"2.0","shapes":{
  "com.amazonaws.ecr#AmazonEC2ContainerRegistry_V20150921":{"type":"service","operations":[{"target":"com.amazonaws.ecr#PutThing"}]},
  "com.amazonaws.ecr#PutThing":{"type":"operation",
     "input":{"target":"com.amazonaws.ecr#PutThingRequest"},"output":{"target":"com.amazonaws.ecr#PutThingResponse"},
     "errors":[{"target":"com.amazonaws.ecr#ThingException"}],
     "traits":{"smithy.api#documentation":"<p>Puts a thing. Really.</p>"}},
  "com.amazonaws.ecr#PutThingRequest":{"type":"structure","members":{
     "thingName":{"target":"com.amazonaws.ecr#Name","traits":{"smithy.api#required":{}}},
     "mode":{"target":"com.amazonaws.ecr#Mode"},
     "count":{"target":"com.amazonaws.ecr#Count"},
     "force":{"target":"com.amazonaws.ecr#Flag","traits":{"smithy.api#default":false}}}},
  "com.amazonaws.ecr#PutThingResponse":{"type":"structure","members":{"thingName":{"target":"com.amazonaws.ecr#Name"}}},
  "com.amazonaws.ecr#ThingException":{"type":"structure","members":{"message":{"target":"smithy.api#String"}},"traits":{"smithy.api#error":"client"}},
  "com.amazonaws.ecr#Name":{"type":"string","traits":{"smithy.api#length":{"min":2,"max":5},"smithy.api#pattern":"^[a-z]+$"}},
  "com.amazonaws.ecr#Count":{"type":"integer","traits":{"smithy.api#range":{"min":1,"max":10}}},
  "com.amazonaws.ecr#Flag":{"type":"boolean","traits":{"smithy.api#default":false}},
  "com.amazonaws.ecr#Mode":{"type":"enum","members":{"FAST_MODE":{"target":"smithy.api#Unit","traits":{"smithy.api#enumValue":"FAST_MODE"}}}}
}}"##;

const OCI: &str = r#"{"endpoints":[
  {"id":"end-1","methods":["GET"],"path":"/v2/"},
  {"id":"end-3","methods":["GET","HEAD"],"path":"/v2/<name>/manifests/<reference>"}],
  "errors":[{"code":"NAME_UNKNOWN","meaning":"repository name not known","http_status_in_distribution_reference_impl":404,"oci":true}],
  "media_types":{"oci":{"image_manifest":"application/vnd.oci.image.manifest.v1+json","note_note":"x"}}}"#;

fn run(ecr: &str) -> Vec<GeneratedFile> {
    generate(&ModelSources { ecr, overlay: None, oci: OCI }).unwrap()
}

fn file<'a>(files: &'a [GeneratedFile], name: &str) -> &'a str {
    &files.iter().find(|f| f.path.ends_with(name)).unwrap().contents
}

#[test]
fn emits_types_checks_trait_and_routes() {
    let files = run(TINY);
    for f in &files {
        assert!(f.contents.starts_with(berth_codegen::PREAMBLE), "{:?} lacks the preamble", f.path);
    }
    let types = file(&files, "ecr/types.rs");
    assert!(types.contains("#[serde(rename = \"thingName\""));
    assert!(types.contains("pub thing_name: Option<String>"));
    assert!(types.contains("pub force: bool"));
    assert!(types.contains("FastMode"));
    let validate = file(&files, "ecr/validate.rs");
    assert!(validate.contains("check::required(\"thingName\""));
    assert!(validate.contains("check::length("));
    assert!(validate.contains("check::range("));
    assert!(validate.contains("check::pattern("));
    assert!(validate.contains("\"[a-z]+\""), "pattern printed without anchors");
    let service = file(&files, "ecr/service.rs");
    assert!(service.contains("fn put_thing("));
    assert!(service.contains("/// Puts a thing. Really."));
    let errors = file(&files, "ecr/errors.rs");
    assert!(errors.contains("pub enum PutThingError"));
    assert!(errors.contains("ThingException(ThingException)"));
    let oci = file(&files, "oci.rs");
    assert!(oci.contains("Manifest {"));
    assert!(oci.contains("pub const OCI_IMAGE_MANIFEST: &str"));
    assert!(!oci.contains("NOTE_NOTE"));
}

#[test]
fn output_is_deterministic_and_follows_documentation() {
    assert_eq!(run(TINY), run(TINY));
    let changed = TINY.replace("Puts a thing.", "Stores a thing.");
    let service = run(&changed);
    assert!(file(&service, "ecr/service.rs").contains("/// Stores a thing. Really."));
    assert_ne!(run(TINY), service);
}

#[test]
fn unknown_shape_reference_is_an_error() {
    let broken =
        TINY.replace("com.amazonaws.ecr#PutThingResponse\"}", "com.amazonaws.ecr#Missing\"}");
    assert!(generate(&ModelSources { ecr: &broken, overlay: None, oci: OCI }).is_err());
}
