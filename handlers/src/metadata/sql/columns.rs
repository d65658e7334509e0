//! Typed values out of a row. A stored digest that does not parse is berth's own fault
//! (an Internal error naming the column), never the client's.

use crate::digest::Digest;
use crate::error::RegistryError;
use crate::scope::RegistryScope;
use sqlx::any::AnyRow;
use sqlx::Row;

fn parse_digest(text: &str, column: &str) -> Result<Digest, RegistryError> {
    Digest::parse(text)
        .map_err(|_| RegistryError::Internal(format!("stored {column} digest {text} is invalid")))
}

/// The digest in `column`.
pub(super) fn digest(row: &AnyRow, column: &str) -> Result<Digest, RegistryError> {
    parse_digest(&row.try_get::<String, _>(column)?, column)
}

/// The digest in a nullable `column`.
pub(super) fn optional_digest(row: &AnyRow, column: &str) -> Result<Option<Digest>, RegistryError> {
    row.try_get::<Option<String>, _>(column)?.map(|text| parse_digest(&text, column)).transpose()
}

/// The registry named by the `<prefix>registry_id` and `<prefix>region` columns.
pub(super) fn scope(row: &AnyRow, prefix: &str) -> Result<RegistryScope, RegistryError> {
    Ok(RegistryScope {
        registry_id: row.try_get(format!("{prefix}registry_id").as_str())?,
        region: row.try_get(format!("{prefix}region").as_str())?,
    })
}
