//! Claims under a MAC: what registry tokens and layer-download URLs carry.
//!
//! A signed text is `[<prefix>.]<claims>.<mac>`: the claims are base64url of the fields
//! joined by a separator, the MAC is the data dir key's HMAC-SHA256 (base64url) of
//! everything before the last dot. The two forms in use differ only in prefix, separator
//! and field count, and must keep reading what earlier berths issued.

use crate::auth::TokenSigner;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// How one kind of signed text is written.
#[derive(Debug, Clone, Copy)]
pub struct ClaimsForm {
    /// Written before the claims (and signed with them), e.g. `berth1`.
    pub prefix: Option<&'static str>,
    /// Joins the fields inside the claims.
    pub separator: char,
    /// How many fields the claims hold; the last one keeps any further separators.
    pub fields: usize,
}

impl ClaimsForm {
    /// The signed text of `fields`.
    pub fn seal(&self, signer: &TokenSigner, fields: &[&str]) -> String {
        let claims = URL_SAFE_NO_PAD.encode(fields.join(&self.separator.to_string()));
        let signed = match self.prefix {
            Some(prefix) => format!("{prefix}.{claims}"),
            None => claims,
        };
        let mac = signer.sign(&signed);
        format!("{signed}.{mac}")
    }

    /// The fields of a text this key signed in this form; `None` when forged or malformed.
    pub fn open(&self, signer: &TokenSigner, text: &str) -> Option<Vec<String>> {
        let (signed, mac) = text.rsplit_once('.')?;
        if !signer.check(signed, mac) {
            return None;
        }
        let claims = match self.prefix {
            Some(prefix) => signed.strip_prefix(prefix)?.strip_prefix('.')?,
            None => signed,
        };
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(claims).ok()?).ok()?;
        let fields: Vec<String> =
            text.splitn(self.fields, self.separator).map(str::to_string).collect();
        (fields.len() == self.fields).then_some(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: ClaimsForm = ClaimsForm { prefix: Some("test1"), separator: ':', fields: 3 };

    #[test]
    fn sealed_fields_open_with_the_same_key_and_form_only() {
        let dir = tempfile::tempdir().unwrap();
        let signer = TokenSigner::open(dir.path()).unwrap();
        let text = FORM.seal(&signer, &["a", "b", "c:d"]);
        assert!(text.starts_with("test1."));
        assert_eq!(FORM.open(&signer, &text), Some(vec!["a".into(), "b".into(), "c:d".into()]));

        let other = tempfile::tempdir().unwrap();
        let other = TokenSigner::open(other.path()).unwrap();
        assert_eq!(FORM.open(&other, &text), None, "another key");
        let bare = ClaimsForm { prefix: None, ..FORM };
        assert_eq!(bare.open(&signer, &text), None, "another form");
        let fewer = FORM.seal(&signer, &["a", "b"]);
        assert_eq!(FORM.open(&signer, &fewer), None, "too few fields");
        let (signed, mac) = text.rsplit_once('.').unwrap();
        let tampered = format!("{signed}x.{mac}");
        assert_eq!(FORM.open(&signer, &tampered), None, "tampered claims");
    }
}
