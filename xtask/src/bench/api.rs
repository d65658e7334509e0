//! Calls to berth's ECR API (AWS JSON 1.1) for the benchmark.

use base64::Engine;

const TARGET: &str = "AmazonEC2ContainerRegistry_V20150921";

/// One ECR API call; the JSON answer or the error body.
pub fn call(
    agent: &ureq::Agent, base: &str, operation: &str, input: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let response = agent
        .post(&format!("{base}/"))
        .set("X-Amz-Target", &format!("{TARGET}.{operation}"))
        .set("Content-Type", "application/x-amz-json-1.1")
        .send_string(&input.to_string());
    match response {
        Ok(r) => serde_json::from_reader(r.into_reader())
            .map_err(|e| format!("{operation}: bad JSON: {e}")),
        Err(ureq::Error::Status(code, r)) => {
            Err(format!("{operation} failed with {code}: {}", r.into_string().unwrap_or_default()))
        }
        Err(e) => Err(format!("{operation} failed: {e}")),
    }
}

/// GetAuthorizationToken's token (base64 of `AWS:<password>`).
pub fn authorization_token(base: &str) -> Result<String, String> {
    let agent = ureq::Agent::new();
    let answer = call(&agent, base, "GetAuthorizationToken", &serde_json::json!({}))?;
    answer["authorizationData"][0]["authorizationToken"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "GetAuthorizationToken gave no token".to_string())
}

/// `AWS:<password>` out of a token.
pub fn decode_token(token: &str) -> Result<String, String> {
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(token).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}
