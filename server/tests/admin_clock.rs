//! `--admin-api` moves berth's clock and runs background jobs now, against the real binary:
//! tokens expire and stale upload sessions go without anyone sleeping.

mod support;

use reqwest::Method;
use support::*;

const EIGHT_DAYS: f64 = 8.0 * 24.0 * 3600.0;

#[tokio::test]
async fn a_moved_clock_expires_tokens_and_the_upload_job_removes_stale_sessions() {
    let (_dir, berth, ecr) = berth_with_app(&["--admin-api"]).await;
    let before = RawRegistry::new(&berth, &registry_password(&ecr).await);
    let started = before.request(Method::POST, "/v2/app/blobs/uploads/").send().await.unwrap();
    assert_eq!(started.status(), 202);
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let path = location.strip_prefix(&berth.endpoint).unwrap_or(&location).to_string();

    let (status, moved) =
        admin(&berth, "clock/advance", &format!(r#"{{"seconds":{EIGHT_DAYS}}}"#)).await;
    assert_eq!(status, 200, "{moved}");
    assert!(moved["now"].as_f64().is_some(), "{moved}");

    // The token of eight days ago is past its 12 hours.
    let (status, code, _) =
        oci_error_code(before.request(Method::GET, "/v2/").send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (401, "DENIED"));

    // The session is still there until the job runs, then it is gone.
    let now = RawRegistry::new(&berth, &registry_password(&ecr).await);
    assert_eq!(now.request(Method::GET, &path).send().await.unwrap().status(), 204);
    let (status, ran) = admin(&berth, "jobs/upload-expiry/run", "").await;
    assert_eq!(status, 200, "{ran}");
    assert_eq!(ran["report"], "1 upload sessions expired");
    let (status, code, _) =
        oci_error_code(now.request(Method::GET, &path).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (404, "BLOB_UPLOAD_UNKNOWN"));
}

#[tokio::test]
async fn the_admin_api_is_off_by_default_and_refuses_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let off = Berth::start(dir.path(), &[]);
    let (status, _) = admin(&off, "clock/advance", r#"{"seconds":60}"#).await;
    assert_eq!(status, 404, "no admin API without --admin-api");
    drop(off);

    let on = Berth::start(dir.path(), &["--admin-api"]);
    for body in [
        "",
        "[]",
        r#"{"seconds":-5}"#,
        r#"{"seconds":"60"}"#,
        r#"{"seconds":60,"x":1}"#,
        r#"{"seconds":1e300}"#,
    ] {
        let (status, answer) = admin(&on, "clock/advance", body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["message"].is_string(), "{body}: {answer}");
    }
    let (status, answer) = admin(&on, "jobs/no-such-job/run", "").await;
    assert_eq!(status, 404, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("upload-expiry"),
        "the refusal lists the jobs: {answer}"
    );
}
