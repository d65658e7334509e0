//! The AWS shared-credentials file (`~/.aws/credentials`) as `--credentials-file`: `[profile]`
//! sections of `key = value` lines, each with an access key, its secret and optionally a
//! session token. berth adds one key of its own, `berth_principal`, for whom the key speaks.

use crate::config::parse_principal;
use berth_handlers::scope::PrincipalArn;
use std::path::Path;

/// One profile's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub secret: String,
    /// Temporary credentials: requests must carry exactly this `X-Amz-Security-Token`.
    pub session_token: Option<String>,
    pub principal: Option<PrincipalArn>,
}

/// The file's credentials, or what is wrong with it (naming the line or profile).
pub fn read(path: &Path) -> Result<Vec<Credential>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the credentials file {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Profiles without an access key (SSO, role profiles) are passed over; a key without its
/// secret, or the other way round, is an error.
pub fn parse(text: &str) -> Result<Vec<Credential>, String> {
    let mut profiles: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            profiles.push((name.trim().to_string(), Vec::new()));
            continue;
        }
        let (Some((key, value)), Some((_, entries))) = (line.split_once('='), profiles.last_mut())
        else {
            return Err(format!(
                "line {} is neither [profile] nor key = value in a profile",
                number + 1
            ));
        };
        entries.push((key.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut credentials = Vec::new();
    for (name, entries) in profiles {
        let get = |key: &str| entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let (access_key_id, secret) = match (get("aws_access_key_id"), get("aws_secret_access_key"))
        {
            (Some(id), Some(secret)) => (id, secret),
            (None, None) => continue,
            _ => {
                return Err(format!(
                    "profile '{name}' needs both aws_access_key_id and aws_secret_access_key"
                ))
            }
        };
        let principal = get("berth_principal")
            .map(|p| parse_principal(&p).map_err(|e| format!("profile '{name}': {e}")))
            .transpose()?;
        credentials.push(Credential {
            access_key_id,
            secret,
            session_token: get("aws_session_token"),
            principal,
        });
    }
    Ok(credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_with_keys_comments_and_tokens() {
        let text = "# a comment\n[default]\naws_access_key_id = AKIDONE\naws_secret_access_key=one/+secret\n\n\
                    [ci]\n; another\nAWS_ACCESS_KEY_ID = ASIATEMP\naws_secret_access_key = two\naws_session_token = tok==\n\
                    berth_principal = arn:aws:iam::123456789012:role/ci\n[sso]\nsso_start_url = https://x\n";
        let found = parse(text).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].access_key_id.as_str(), found[0].secret.as_str()),
            ("AKIDONE", "one/+secret")
        );
        assert_eq!(found[0].session_token, None);
        assert_eq!(found[1].session_token.as_deref(), Some("tok=="));
        assert_eq!(
            found[1].principal.as_ref().map(PrincipalArn::as_str),
            Some("arn:aws:iam::123456789012:role/ci")
        );
    }

    #[test]
    fn half_profiles_and_stray_lines_are_errors() {
        for (text, said) in [
            ("[p]\naws_access_key_id = A\n", "profile 'p' needs both"),
            ("aws_access_key_id = A\n", "line 1"),
            ("[p]\njust words\n", "line 2"),
            (
                "[p]\naws_access_key_id = A\naws_secret_access_key = s\nberth_principal = 12\n",
                "profile 'p': '12'",
            ),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(said), "{text:?}: {error}");
        }
    }
}
