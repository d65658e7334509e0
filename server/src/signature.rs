//! SigV4 verification of ECR API requests (`--verify-signatures`): the request is signed
//! again with the secret berth knows for its access key, by aws-sigv4's own canonical
//! request code (the one the AWS SDK for Rust signs with), and the two signatures are
//! compared in constant time. Refusals carry AWS's exact error names and texts.
//!
//! Header form (`Authorization: AWS4-HMAC-SHA256 ...`) and query form (`X-Amz-Signature`
//! in the URL) are both taken. The request time must be within 5 minutes of berth's clock
//! (query form: not past `X-Amz-Expires`).

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_types::date_time::{DateTime, Format};
use axum::http::request::Parts;
use berth_generated::runtime::WireError;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;

/// How far a request's time may be from berth's (AWS: 5 minutes).
const ALLOWED_SKEW: Duration = Duration::from_secs(5 * 60);

/// The one service name ECR signatures are scoped to.
const SERVICE: &str = "ecr";

/// Query parameters of the query form that the signer adds itself.
const QUERY_SIGNING_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

/// What berth knows of one access key.
#[derive(Debug, Clone)]
pub struct Secret {
    pub secret_access_key: String,
    /// Temporary credentials: the session token requests must carry.
    pub session_token: Option<String>,
}

/// The secrets of the keys berth accepts.
#[derive(Debug, Clone, Default)]
pub struct SignatureVerifier {
    pub secrets: BTreeMap<String, Secret>,
}

/// The signature parts of a request, from its header or its query.
struct Presented {
    access_key_id: String,
    scope_region: String,
    scope_service: String,
    signed_headers: Vec<String>,
    signature: String,
    date: String,
    session_token: Option<String>,
    /// Query form: seconds the signature is valid for.
    expires: Option<u64>,
}

fn incomplete(message: impl Into<String>) -> WireError {
    WireError::new(400, "IncompleteSignatureException", message.into())
}

fn invalid(message: impl Into<String>) -> WireError {
    WireError::new(400, "InvalidSignatureException", message.into())
}

fn unrecognized() -> WireError {
    WireError::new(
        400,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.".into(),
    )
}

/// `20260101T000000Z` (SigV4's basic ISO 8601).
fn basic_date(time: SystemTime) -> String {
    let seconds = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    DateTime::from_secs(seconds).fmt(Format::DateTime).unwrap_or_default().replace(['-', ':'], "")
}

fn parse_basic_date(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let extended = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[9..11],
        &text[11..13],
        &text[13..15]
    );
    SystemTime::try_from(DateTime::from_str(&extended, Format::DateTime).ok()?).ok()
}

impl SignatureVerifier {
    /// Ok when the request is signed by a known key, with its secret, at a time berth
    /// accepts; else the AWS error a real endpoint gives.
    pub fn verify(&self, parts: &Parts, body: &[u8], now: SystemTime) -> Result<(), WireError> {
        let presented = presented(parts)?;
        let secret = self.secrets.get(&presented.access_key_id).ok_or_else(unrecognized)?;
        if presented.session_token != secret.session_token {
            return Err(unrecognized());
        }
        if presented.scope_service != SERVICE {
            return Err(invalid(format!(
                "Credential should be scoped to correct service: '{SERVICE}'. "
            )));
        }
        let signed_at = parse_basic_date(&presented.date).ok_or_else(|| {
            incomplete(format!(
                "Date must be in ISO-8601 'basic format'. Got '{}'. See http://en.wikipedia.org/wiki/ISO_8601",
                presented.date
            ))
        })?;
        check_time(signed_at, presented.expires, now)?;
        let expected = self.signature(parts, body, &presented, secret, signed_at)?;
        if bool::from(expected.as_bytes().ct_eq(presented.signature.as_bytes())) {
            Ok(())
        } else {
            Err(invalid(
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details.",
            ))
        }
    }

    /// The signature aws-sigv4 computes for the request as presented: its signed headers
    /// only, at its time, in its credential scope.
    fn signature(
        &self, parts: &Parts, body: &[u8], presented: &Presented, secret: &Secret,
        signed_at: SystemTime,
    ) -> Result<String, WireError> {
        let host = parts.headers.get("host").and_then(|v| v.to_str().ok()).ok_or_else(|| {
            incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.")
        })?;
        let query_form = presented.expires.is_some();
        let query: Vec<(String, String)> =
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .filter(|(k, _)| !(query_form && QUERY_SIGNING_PARAMS.contains(&k.as_ref())))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
        let mut uri = format!("http://{host}{}", parts.uri.path());
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(
                &form_urlencoded::Serializer::new(String::new()).extend_pairs(&query).finish(),
            );
        }
        // The signer adds x-amz-date, the session token and the payload hash header itself.
        let mut checksum = PayloadChecksumKind::NoHeader;
        let mut headers: Vec<(&str, &str)> = Vec::new();
        for name in &presented.signed_headers {
            match name.as_str() {
                "x-amz-date" | "x-amz-security-token" => {}
                "x-amz-content-sha256" => checksum = PayloadChecksumKind::XAmzSha256,
                _ => {
                    for value in parts.headers.get_all(name.as_str()) {
                        let value = value.to_str().map_err(|_| {
                            invalid(format!("The value of header {name} is not text"))
                        })?;
                        headers.push((name.as_str(), value));
                    }
                }
            }
        }
        let mut settings = SigningSettings::default();
        settings.excluded_headers = Some(Vec::new());
        settings.payload_checksum_kind = checksum;
        if let Some(expires) = presented.expires {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(expires));
        }
        let identity: Identity = Credentials::new(
            &presented.access_key_id,
            &secret.secret_access_key,
            secret.session_token.clone(),
            None,
            "berth",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&presented.scope_region)
            .name(&presented.scope_service)
            .time(signed_at)
            .settings(settings)
            .build()
            .map_err(|e| invalid(e.to_string()))?
            .into();
        let request = SignableRequest::new(
            parts.method.as_str(),
            &uri,
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| invalid(e.to_string()))?;
        let output = sign(request, &params).map_err(|e| invalid(e.to_string()))?;
        Ok(output.signature().to_string())
    }
}

/// AWS's skew texts: `Signature expired: <t> is now earlier than <now-5m> (<now> - 5 min.)`.
fn check_time(
    signed_at: SystemTime, expires: Option<u64>, now: SystemTime,
) -> Result<(), WireError> {
    if let Some(expires) = expires {
        if signed_at + Duration::from_secs(expires) < now {
            return Err(WireError::new(403, "AccessDeniedException", "Request has expired".into()));
        }
    }
    let earliest = now - ALLOWED_SKEW;
    if signed_at < earliest {
        return Err(invalid(format!(
            "Signature expired: {} is now earlier than {} ({} - 5 min.)",
            basic_date(signed_at),
            basic_date(earliest),
            basic_date(now)
        )));
    }
    let latest = now + ALLOWED_SKEW;
    if signed_at > latest {
        return Err(invalid(format!(
            "Signature not yet current: {} is still later than {} ({} + 5 min.)",
            basic_date(signed_at),
            basic_date(latest),
            basic_date(now)
        )));
    }
    Ok(())
}

/// The signature parts, or MissingAuthenticationToken when the request has none.
fn presented(parts: &Parts) -> Result<Presented, WireError> {
    let header =
        |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(authorization) = header("authorization") {
        let Some(fields) = authorization.strip_prefix("AWS4-HMAC-SHA256 ") else {
            return Err(incomplete(format!(
                "Authorization header requires 'Credential' parameter. Authorization header \
                 requires 'Signature' parameter. Authorization header requires 'SignedHeaders' \
                 parameter. Authorization={authorization}"
            )));
        };
        let field = |name: &str| {
            fields
                .split(',')
                .find_map(|part| part.trim().strip_prefix(name)?.strip_prefix('='))
                .map(str::to_string)
        };
        let missing: Vec<String> = ["Credential", "Signature", "SignedHeaders"]
            .iter()
            .filter(|name| field(name).is_none())
            .map(|name| format!("Authorization header requires '{name}' parameter."))
            .collect();
        if !missing.is_empty() {
            return Err(incomplete(format!("{} Authorization={authorization}", missing.join(" "))));
        }
        let date = header("x-amz-date").ok_or_else(|| {
            incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
            )
        })?;
        return from_parts(
            &field("Credential").unwrap_or_default(),
            &field("SignedHeaders").unwrap_or_default(),
            field("Signature").unwrap_or_default(),
            date,
            header("x-amz-security-token"),
            None,
        );
    }
    let query: BTreeMap<String, String> =
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    if query.get("X-Amz-Algorithm").map(String::as_str) != Some("AWS4-HMAC-SHA256") {
        return Err(WireError::new(
            400,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token".into(),
        ));
    }
    let param = |name: &str| {
        query.get(name).cloned().ok_or_else(|| {
            incomplete(format!(
                "AWS query-string parameters must include '{name}'. Re-examine the query-string parameters."
            ))
        })
    };
    let expires = param("X-Amz-Expires")?
        .parse::<u64>()
        .map_err(|_| incomplete("X-Amz-Expires must be a whole number of seconds"))?;
    from_parts(
        &param("X-Amz-Credential")?,
        &param("X-Amz-SignedHeaders")?,
        param("X-Amz-Signature")?,
        param("X-Amz-Date")?,
        query.get("X-Amz-Security-Token").cloned(),
        Some(expires),
    )
}

/// `Credential=<key>/<date>/<region>/<service>/aws4_request` and the rest.
fn from_parts(
    credential: &str, signed_headers: &str, signature: String, date: String,
    session_token: Option<String>, expires: Option<u64>,
) -> Result<Presented, WireError> {
    let fields: Vec<&str> = credential.split('/').collect();
    let [key, _day, region, service, "aws4_request"] = fields[..] else {
        return Err(incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        )));
    };
    Ok(Presented {
        access_key_id: key.to_string(),
        scope_region: region.to_string(),
        scope_service: service.to_string(),
        signed_headers: signed_headers
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect(),
        signature,
        date,
        session_token,
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request presigned by aws-sigv4 (query form), as berth receives it.
    fn presigned(secret: &str, at: SystemTime, expires: u64) -> Parts {
        let identity: Identity = Credentials::new("AKIDQ", secret, None, None, "test").into();
        let mut settings = SigningSettings::default();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(expires));
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("ecr")
            .time(at)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let url = "http://localhost:4566/?Action=x";
        let request = SignableRequest::new(
            "POST",
            url,
            [("host", "localhost:4566")].into_iter(),
            SignableBody::Bytes(b"{}"),
        )
        .unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        let mut request = axum::http::Request::builder()
            .method("POST")
            .uri(url)
            .header("host", "localhost:4566")
            .body(())
            .unwrap();
        instructions.apply_to_request_http1x(&mut request);
        let (mut parts, ()) = request.into_parts();
        parts.uri = parts.uri.path_and_query().unwrap().as_str().parse().unwrap();
        parts
    }

    #[test]
    fn the_query_form_is_verified_and_expires() {
        let verifier = SignatureVerifier {
            secrets: [(
                "AKIDQ".to_string(),
                Secret { secret_access_key: "qsecret".into(), session_token: None },
            )]
            .into(),
        };
        let at = parse_basic_date("20260101T000000Z").unwrap();
        let now = at + Duration::from_secs(60);
        assert!(verifier.verify(&presigned("qsecret", at, 300), b"{}", now).is_ok());
        let wrong = verifier.verify(&presigned("other", at, 300), b"{}", now);
        assert_eq!(wrong.unwrap_err().type_name, "InvalidSignatureException");
        let changed_body = verifier.verify(&presigned("qsecret", at, 300), b"{ }", now);
        assert_eq!(changed_body.unwrap_err().type_name, "InvalidSignatureException");
        let expired = verifier.verify(&presigned("qsecret", at, 30), b"{}", now);
        assert_eq!(expired.unwrap_err().message(), "Request has expired");
    }

    #[test]
    fn basic_dates_round_trip() {
        let t = parse_basic_date("20260101T020304Z").unwrap();
        assert_eq!(basic_date(t), "20260101T020304Z");
        for bad in ["2026-01-01T02:03:04Z", "20260101T0203Z", "2026010XT020304Z", ""] {
            assert!(parse_basic_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn skew_texts_are_aws_texts() {
        let now = parse_basic_date("20260101T001000Z").unwrap();
        let old = parse_basic_date("20260101T000000Z").unwrap();
        assert_eq!(
            check_time(old, None, now).unwrap_err().message(),
            "Signature expired: 20260101T000000Z is now earlier than 20260101T000500Z (20260101T001000Z - 5 min.)"
        );
        let early = parse_basic_date("20260101T002000Z").unwrap();
        assert_eq!(
            check_time(early, None, now).unwrap_err().message(),
            "Signature not yet current: 20260101T002000Z is still later than 20260101T001500Z (20260101T001000Z + 5 min.)"
        );
        assert!(check_time(now - Duration::from_secs(299), None, now).is_ok());
    }
}
