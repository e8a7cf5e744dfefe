//! The config file's `[[account]]` tables: several CertCentral accounts (divisions, subsidiaries,
//! an EU account), each with its own key and platform, and which of them a command uses.
//!
//! An account names its key indirectly (`api-key-file`, or `api-key-env`: the NAME of a variable),
//! never the key itself. Its API base is its own `api-url`, else --api-url / DIGICERT_API_URL, else
//! its `region`, else --region, else us. A key that cannot be read is kept as its error (78) until
//! the account is used, so one account's broken key stops that account only; a table that does
//! not parse (unknown key, name given twice) stops the command, naming file, account and key.

use crate::cli::{Command, Options, Region};
use crate::env::Env;
use crate::error::{Error, Kind, Result};
use crate::secret::Secret;
use clap::ValueEnum;
use std::path::Path;

/// CertCentral's API base, US platform.
pub const US_API_URL: &str = "https://www.digicert.com/services/v2";
/// CertCentral Europe's API base (shared/certcentral-api.md; DigiCert's "CertCentral Europe" pages).
pub const EU_API_URL: &str = "https://certcentral.digicert.eu/services/v2";

/// The keys an `[[account]]` takes.
const KEYS: &[&str] = &["name", "api-key-file", "api-key-env", "region", "api-url"];

/// An environment variable name longer than this is taken for a pasted key, and never echoed.
const LONGEST_VAR_NAME: usize = 31;

/// One `[[account]]`, resolved.
#[derive(Clone, Debug)]
pub struct Account {
    pub name: String,
    pub api_url: String,
    api_key: std::result::Result<Secret, Error>,
}

impl Account {
    /// The account's API key, or the configuration error (78) naming what to fix.
    pub fn api_key(&self) -> Result<Secret> {
        self.api_key.clone()
    }
}

/// How a command uses the configured accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// It talks to one account (an order belongs to one).
    One,
    /// It runs once per account unless --account names one.
    Each,
    /// It never talks to CertCentral.
    Neither,
}

/// How `command` with `target` uses accounts.
pub fn usage(command: Command, target: &super::Target) -> Use {
    use super::Target;
    match (command, target) {
        // Cleanup works from the state; an ACME client's challenge is none of DigiCert's.
        (Command::Persist | Command::Cleanup, _) | (_, Target::Acme(_)) => Use::Neither,
        // An order or a domain (by id or name) is asked about in one account.
        (_, Target::Order { .. } | Target::Domain { .. }) => Use::One,
        // The doctor's checks of names alone ask DigiCert nothing.
        (Command::Doctor, _) => Use::Neither,
        (Command::Status | Command::Revalidate, _) => Use::Each,
        _ => Use::One,
    }
}

/// The API base of `region`.
pub fn region_url(region: Region) -> &'static str {
    match region {
        Region::Us => US_API_URL,
        Region::Eu => EU_API_URL,
    }
}

/// The `[[account]]` tables of `o`'s config file, in file order (none without a file or tables).
/// `explicit_url` is --api-url's (or DIGICERT_API_URL's) checked value.
pub fn accounts(o: &Options, explicit_url: Option<&str>, env: &dyn Env) -> Result<Vec<Account>> {
    let Some(path) = &o.config else {
        return Ok(Vec::new());
    };
    let table = crate::cli::config_file::read_table(path)?;
    let Some(list) = table.get("account").and_then(|v| v.as_array()) else {
        return Ok(Vec::new());
    };
    let fallback = explicit_url.unwrap_or(region_url(o.region.unwrap_or(Region::Us)));
    crate::cli::config_file::named_tables(
        path,
        "account",
        list,
        |t| account(path, t, explicit_url, fallback, env),
        |a| &a.name,
    )
}

/// The account `command` runs as: `Some` one, `None` every account (or no account: none is
/// configured, or the command never talks to CertCentral). Errors are usage errors (64).
pub fn choose<'a>(
    accounts: &'a [Account],
    chosen: Option<&str>,
    command: Command,
    target: &super::Target,
) -> Result<Option<&'a Account>> {
    let names = || {
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        names.join(", ")
    };
    match (chosen, accounts) {
        (Some(name), []) => Err(Error::usage(format!(
            "--account {name:?}: the config file names no [[account]]; add one or leave out --account"
        ))),
        (Some(name), _) => match accounts.iter().find(|a| a.name == name) {
            Some(a) => Ok(Some(a)),
            None => Err(Error::usage(format!(
                "--account {name:?}: no such [[account]] in the config file; its accounts are {}",
                names()
            ))),
        },
        (None, [one]) if usage(command, target) != Use::Neither => Ok(Some(one)),
        (None, [_, _, ..]) if usage(command, target) == Use::One => Err(Error::usage(format!(
            "{} works with one CertCentral account and the config file names {} ({}); pick one with --account NAME",
            command.name(),
            accounts.len(),
            names()
        ))),
        (None, _) => Ok(None),
    }
}

/// One `[[account]]` table; the error is the reason alone (the caller names file and table).
fn account(
    path: &Path,
    t: &toml::Table,
    explicit_url: Option<&str>,
    fallback_url: &str,
    env: &dyn Env,
) -> std::result::Result<Account, String> {
    let name = text(t, "name")?.ok_or("has no name = \"NAME\"")?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "name {name:?}: use letters, digits, '-', '_' and '.' only"
        ));
    }
    if let Some(key) = t.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!(
            "{name}: unknown key {key:?}; an account takes {}",
            KEYS.join(", ")
        ));
    }
    let in_account = |e: String| format!("{name}: {e}");
    let own_url = text(t, "api-url")
        .map_err(in_account)?
        .map(|url| crate::publish::api_url::check_as("api-url", url, Kind::Config))
        .transpose()
        .map_err(|e| in_account(e.message().to_string()))?;
    let region = text(t, "region")
        .map_err(in_account)?
        .map(|r| {
            Region::from_str(r, true).map_err(|_| format!("region {r:?} is neither us nor eu"))
        })
        .transpose()
        .map_err(in_account)?;
    let api_url = own_url
        .or(explicit_url.map(str::to_string))
        .unwrap_or_else(|| region.map_or(fallback_url, |r| region_url(r)).to_string());
    Ok(Account {
        name: name.to_string(),
        api_url,
        api_key: key_of(path, name, t, env).map_err(in_account)?,
    })
}

/// Where `t` (account `name`) says its key is, read: `Err` when the table says it wrongly, `Ok`
/// holding the key or why it could not be read.
fn key_of(
    path: &Path,
    name: &str,
    t: &toml::Table,
    env: &dyn Env,
) -> std::result::Result<std::result::Result<Secret, Error>, String> {
    match (text(t, "api-key-file")?, text(t, "api-key-env")?) {
        (Some(file), None) => Ok(key_from_file(path, name, Path::new(file))),
        (None, Some(var)) => Ok(key_from_env(path, name, var, env)),
        (Some(_), Some(_)) => Err("give api-key-file or api-key-env, not both".into()),
        (None, None) => {
            Err("has neither api-key-file = \"FILE\" nor api-key-env = \"VARIABLE\"".into())
        }
    }
}

/// The string at `key` (`None` when absent); any other type is an error naming the key.
fn text<'t>(t: &'t toml::Table, key: &str) -> std::result::Result<Option<&'t str>, String> {
    match t.get(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

/// The key in `file`: a file others can read or anyone else can write is refused, not warned about
/// (it names a whole account's key); group-readable still only warns, as every key file does.
fn key_from_file(config: &Path, name: &str, file: &Path) -> std::result::Result<Secret, Error> {
    use std::os::unix::fs::PermissionsExt;
    let what = format!(
        "account {name}'s api-key-file (config file {})",
        config.display()
    );
    if let Ok(meta) = std::fs::metadata(file) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o026 != 0 {
            return Err(Error::config(format!(
                "{what} {} is too open (mode {mode:04o}); chmod 600 it",
                file.display()
            )));
        }
    }
    let key = crate::publish::credentials::read_secret_file(file, &what)?;
    super::checked_key(key, &format!("{what} {}", file.display()))
}

/// The key in environment variable `var` (its name, never its value, is in the file).
fn key_from_env(
    config: &Path,
    name: &str,
    var: &str,
    env: &dyn Env,
) -> std::result::Result<Secret, Error> {
    let what = format!(
        "account {name}'s api-key-env (config file {})",
        config.display()
    );
    let looks_like_a_name = var.len() <= LONGEST_VAR_NAME
        && !var.is_empty()
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !looks_like_a_name {
        // It may be the key itself: never echo it.
        return Err(Error::config(format!(
            "{what} is not an environment variable's name; put the key in a variable and give its name (e.g. DIGICERT_API_KEY_EU)"
        )));
    }
    let key = env.var(var).ok_or_else(|| {
        Error::config(format!(
            "{what}: environment variable {var} is not set; export it with the account's API key"
        ))
    })?;
    super::checked_key(Secret::new(key), &format!("{what}: {var}"))
}
