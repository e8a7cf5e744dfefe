//! What the state remembers of how a record was published, read back for cleanup: files by
//! absolute path, and one rule for flags against that memory (a flag wins, the memory fills the
//! rest), so no provider merges field by field.

use crate::error::{Error, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A file's absolute path as the state records it (where a secret is read from, so cleanup from
/// another directory finds it); the path as given when it cannot be resolved.
pub fn recorded_path(p: &std::path::Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

/// `flags` with what the state remembered for cleanup (`memory`: undo data, which names a setting
/// as its flag's field does) standing in for every flag not given (unset, or a switch left off):
/// a flag wins. One rule for every provider, instead of a merge per field.
pub fn or_remembered<A>(flags: A, memory: Option<&impl Serialize>) -> Result<A>
where
    A: Serialize + DeserializeOwned,
{
    use serde_json::Value;
    let Some(memory) = memory else {
        return Ok(flags);
    };
    let encoding =
        |e: serde_json::Error| Error::software(format!("cannot merge remembered settings: {e}"));
    let mut merged = serde_json::to_value(flags).map_err(encoding)?;
    if let (Value::Object(fields), Value::Object(old)) =
        (&mut merged, serde_json::to_value(memory).map_err(encoding)?)
    {
        for (key, value) in fields.iter_mut() {
            let unset = value.is_null() || *value == Value::Bool(false);
            match old.get(key) {
                Some(remembered) if unset && !remembered.is_null() => *value = remembered.clone(),
                _ => {}
            }
        }
    }
    serde_json::from_value(merged).map_err(encoding)
}
