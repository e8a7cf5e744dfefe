//! Credential files shared by the providers: certbot-style ini files (read in [`ini`]) and
//! one-secret files.
//!
//! [`read_ini`] reads a certbot DNS plugin's credentials file the way certbot does (see [`ini`]).
//! [`read_secret_file`] reads a file holding one secret (a TSIG secret, an API token), trimmed.
//!
//! Both warn (through `ui::warn`, never failing) when the group or other users can read the file,
//! as certbot does for world-readable credentials. Values are never put in an error message or in
//! `Debug` output: only key names and paths are.

pub mod ini;

pub use ini::{Ini, read_ini};

use crate::error::{Error, Result};
use crate::secret::Secret;
use std::path::Path;

/// Reads a file holding one secret, trimmed of surrounding white space. `what` names the file's
/// role in messages (`--tsig-secret-file`). An unreadable or empty file is a `Config` error naming
/// it; the content never appears in a message.
pub fn read_secret_file(path: &Path, what: &str) -> Result<Secret> {
    let text = crate::fsutil::read_small_file(path).map_err(|e| {
        Error::config(format!(
            "cannot read {what} {}: {e}; name a regular file of at most 1 MiB, and check its permissions",
            path.display()
        ))
    })?;
    warn_if_others_can_read(path);
    let secret = Secret::new(text);
    if secret.is_empty() {
        return Err(Error::config(format!(
            "{what} {} is empty; put the secret in it",
            path.display()
        )));
    }
    Ok(secret)
}

/// certbot's habit, stricter by the group bit: a credentials file that users other than its owner
/// can read is worth a warning, not a refusal.
pub fn warn_if_others_can_read(path: &Path) {
    if let Some(text) = others_can_read(path) {
        crate::ui::warn(&text);
    }
}

/// The warning for `path` when its group or other users can read it.
fn others_can_read(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    let who = match (mode & 0o040 != 0, mode & 0o004 != 0) {
        (_, true) => "every user",
        (true, false) => "its group",
        (false, false) => return None,
    };
    Some(format!(
        "credentials file {} (mode {mode:04o}) is readable by {who}; chmod 600 it",
        path.display()
    ))
}

#[cfg(test)]
mod tests;
