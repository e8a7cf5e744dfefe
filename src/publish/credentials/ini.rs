//! The certbot ini reader: [`read_ini`] reads a certbot DNS plugin's credentials file as it is
//! (certbot reads them with configobj): `key = value` lines, values optionally quoted (`"..."`,
//! `'...'`, or a one-line `"""..."""`), `#` comments on their own line or after a value (in an
//! unquoted value a `#` always starts a comment, as in configobj; quote a value that contains one),
//! blank lines, and an optional UTF-8 BOM. Keys before the first `[section]` header are the ones
//! certbot sees; keys inside a section are kept apart and only mentioned when a required key is
//! missing. Keys are looked up by their short name under the plugin's prefix (`api_token` with
//! prefix `dns_cloudflare` is `dns_cloudflare_api_token`), and [`Ini::require`] names every missing
//! or empty key in one message, like certbot's `CredentialsConfiguration.require`. Two differences
//! from configobj, both lenient: keys match case-insensitively and `;` lines are comments too. A
//! line configobj would reject (no `=`, an unbalanced quote, a key given twice) is a `DataErr`
//! naming the file and line. Values never appear in messages or `Debug` output.

use super::warn_if_others_can_read;
use crate::error::{Error, Result};
use crate::secret::Secret;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A parsed certbot-style credentials file.
pub struct Ini {
    path: PathBuf,
    /// The key prefix with its trailing `_`, e.g. `dns_cloudflare_`.
    prefix: String,
    /// Top-level keys (lowercase) and their unquoted values.
    values: BTreeMap<String, String>,
    /// Keys (lowercase) found inside a `[section]`, with the section's name: certbot never sees them.
    in_sections: BTreeMap<String, String>,
}

impl fmt::Debug for Ini {
    // Values may be secrets: show only where the file is and which keys it has.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ini")
            .field("path", &self.path)
            .field("prefix", &self.prefix)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Reads and parses the credentials file at `path` whose keys start with `prefix` (`dns_cloudflare`,
/// `dns-cloudflare` or `dns_cloudflare_`; all mean the same). A file that cannot be read is a
/// `Config` error naming it; a malformed one is a `DataErr` naming the line.
pub fn read_ini(path: &Path, prefix: &str) -> Result<Ini> {
    let text = crate::fsutil::read_small_file(path).map_err(|e| {
        // Text that is no UTF-8 is a broken file (65), not a missing one (78).
        let kind = match e.kind() {
            std::io::ErrorKind::InvalidData => crate::error::Kind::DataErr,
            _ => crate::error::Kind::Config,
        };
        Error::new(
            kind,
            format!(
                "cannot read credentials file {}: {e}; name a regular file of at most 1 MiB, and check its permissions",
                path.display()
            ),
        )
    })?;
    warn_if_others_can_read(path);
    Ini::parse(&text, path, prefix)
}

impl Ini {
    /// Parses `text` as the content of the file at `path` (used only in messages).
    pub fn parse(text: &str, path: &Path, prefix: &str) -> Result<Ini> {
        let mut prefix = prefix.replace('-', "_").to_ascii_lowercase();
        if !prefix.is_empty() && !prefix.ends_with('_') {
            prefix.push('_');
        }
        let mut ini = Ini {
            path: path.to_path_buf(),
            prefix,
            values: BTreeMap::new(),
            in_sections: BTreeMap::new(),
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut section: Option<String> = None;
        let mut seen: BTreeMap<(Option<String>, String), usize> = BTreeMap::new();
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('[') {
                section =
                    Some(section_name(line).ok_or_else(|| {
                        ini.line_error(number, "is not a valid [section] header")
                    })?);
                continue;
            }
            let (key, rest) =
                split_key(line).ok_or_else(|| ini.line_error(number, "is not `key = value`"))?;
            let value = parse_value(rest).ok_or_else(|| {
                ini.line_error(
                    number,
                    &format!("has a badly quoted value for {key}; quote it as \"value\""),
                )
            })?;
            let key = key.to_ascii_lowercase();
            if let Some(first) = seen.insert((section.clone(), key.clone()), number) {
                return Err(ini.line_error(
                    number,
                    &format!("gives {key} again (first on line {first}); keep one"),
                ));
            }
            match &section {
                None => {
                    ini.values.insert(key, value);
                }
                Some(name) => {
                    ini.in_sections.insert(key, name.clone());
                }
            }
        }
        Ok(ini)
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The full key name for a short one: `api_token` -> `dns_cloudflare_api_token`.
    pub fn full_key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key.to_ascii_lowercase())
    }

    /// The value of short key `key`, or `None` when it is missing or empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&self.full_key(key))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The value of short key `key` as a secret (`None` when missing or empty).
    pub fn secret(&self, key: &str) -> Option<Secret> {
        self.get(key).map(Secret::new)
    }

    /// Whether short key `key` has a non-empty value.
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Ok when every short key in `keys` has a non-empty value; otherwise one `DataErr` that names
    /// every missing or empty key by its full name, and the file.
    pub fn require(&self, keys: &[&str]) -> Result<()> {
        let missing: Vec<String> = keys
            .iter()
            .filter(|k| !self.has(k))
            .map(|k| {
                let full = self.full_key(k);
                match (self.values.get(&full), self.in_sections.get(&full)) {
                    (Some(_), _) => format!("{full} (empty)"),
                    (None, Some(section)) => {
                        format!("{full} (found under [{section}], which certbot does not read)")
                    }
                    (None, None) => full,
                }
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let noun = if missing.len() == 1 {
            "property"
        } else {
            "properties"
        };
        Err(Error::data(format!(
            "credentials file {}: missing {noun} {}; add {} as `key = value` before any [section]",
            self.path.display(),
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        )))
    }

    fn line_error(&self, number: usize, what: &str) -> Error {
        Error::data(format!(
            "credentials file {} line {number} {what}; fix the file",
            self.path.display()
        ))
    }
}

/// `[name]` (also `[[name]]`, a configobj subsection), with an optional comment after it.
fn section_name(line: &str) -> Option<String> {
    let depth = line.chars().take_while(|c| *c == '[').count();
    let inner = &line[depth..];
    let close = inner.find(']')?;
    let name = inner[..close].trim();
    let after = &inner[close..];
    let closing = after.chars().take_while(|c| *c == ']').count();
    let rest = after[closing..].trim_start();
    (closing == depth && !name.is_empty() && (rest.is_empty() || rest.starts_with('#')))
        .then(|| strip_quotes(name).unwrap_or(name).to_string())
}

/// Splits `key = rest` at the first `=` (a quoted key may hold one). `None` when there is no `=` or
/// the key is empty.
fn split_key(line: &str) -> Option<(&str, &str)> {
    let (key, rest) = match line.chars().next()? {
        quote @ ('"' | '\'') => {
            let close = line[1..].find(quote)? + 1;
            let key = &line[1..close];
            let rest = line[close + 1..].trim_start().strip_prefix('=')?;
            (key, rest)
        }
        _ => {
            let (key, rest) = line.split_once('=')?;
            (key.trim_end(), rest)
        }
    };
    (!key.is_empty()).then_some((key, rest.trim()))
}

/// The value after `=`, the way configobj reads it: a quoted string (the shortest one that leaves
/// only white space and an optional `#` comment after it), or unquoted text up to the first `#`,
/// trimmed. `None` for an unbalanced quote.
fn parse_value(rest: &str) -> Option<String> {
    let is_tail = |tail: &str| {
        let tail = tail.trim_start();
        tail.is_empty() || tail.starts_with('#')
    };
    for triple in ["\"\"\"", "'''"] {
        if let Some(body) = rest.strip_prefix(triple) {
            let close = body.find(triple)?;
            return is_tail(&body[close + 3..]).then(|| body[..close].to_string());
        }
    }
    match rest.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            let body = &rest[1..];
            body.match_indices(quote)
                .find(|(at, _)| is_tail(&body[at + 1..]))
                .map(|(at, _)| body[..at].to_string())
        }
        _ => {
            let value = rest.split('#').next().unwrap_or_default();
            Some(value.trim().to_string())
        }
    }
}

fn strip_quotes(text: &str) -> Option<&str> {
    ['"', '\'']
        .into_iter()
        .find_map(|q| text.strip_prefix(q).and_then(|t| t.strip_suffix(q)))
}
