//! The config file (`--config FILE` or `DCV_HOOK_CONFIG`): a TOML table whose keys are the long option
//! names, read into the same typed [`Options`] the command line fills, so there is one list of
//! options and a new option is one edit.
//!
//! Precedence stays flag > env > file > default: a key is skipped when the command line gives that
//! option or its environment variable is set (clap's `value_source`, kept in [`Cli::given`]); the
//! rest are typed by serde, each value checked by the option's own rule (`setting.rs`: the rule
//! clap applies to the flag). Every command accepts every option, so one file serves them all. A
//! key that is no option is a config error (78) naming it; so is a value its rule refuses, naming
//! the file and the key. `[[zone]]` and `[[account]]` tables are read by `config::zones` and
//! `config::accounts`.

use super::{Cli, Options};
use crate::env::Env;
use crate::error::{Error, Result};
use serde_json::Value;
use std::path::Path;

/// `cli`'s options with the config file's keys filled in, where the command line and the
/// environment left them; unchanged when no file is named, or when the file is refused.
pub fn apply(cli: &mut Cli, env: &dyn Env) -> Result<()> {
    let Some(path) = cli.options.config.clone() else {
        return Ok(());
    };
    let table = read_table(&path)?;
    let command = super::command();
    let sub = command
        .find_subcommand(cli.command.name())
        .expect("every command is a subcommand");
    // Only a path that is not UTF-8 fails here: JSON, like TOML, holds text.
    let Ok(Value::Object(mut fields)) = serde_json::to_value(&cli.options) else {
        return Err(Error::usage(format!(
            "a path on the command line is not UTF-8, which the config file {} cannot be combined with (it holds text only): rename the path, or leave the config file out",
            path.display()
        )));
    };
    fields.retain(|_, v| !v.is_null());
    for (key, value) in &table {
        // A plain `account = "NAME"` is the --account option; `[[account]]` tables are accounts.
        if key == "zone" || (key == "account" && value.is_array()) {
            continue;
        }
        let arg = sub
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && a.get_id() != "config")
            .ok_or_else(|| {
                Error::config(format!(
                    "config file {}: unknown key {key:?}; keys are the long option names, e.g. rfc2136-server = \"192.0.2.1\"",
                    path.display()
                ))
            })?;
        let id = arg.get_id().as_str();
        if cli.given.iter().any(|g| g == id) || env_gives(arg, env) {
            continue;
        }
        let typed = typed_value(arg, value).map_err(|why| {
            Error::config(format!("config file {}: {key}: {why}", path.display()))
        })?;
        fields.insert(id.to_string(), typed);
    }
    cli.options = serde_json::from_value(Value::Object(fields))
        .map_err(|e| Error::config(format!("config file {}: {e}", path.display())))?;
    Ok(())
}

/// `--provider` in a file: one of the providers' names (clap checks the flag against the same table).
pub(super) fn provider<'de, D: serde::Deserializer<'de>>(
    de: D,
) -> std::result::Result<Option<String>, D::Error> {
    crate::setting::checked(de, |name| {
        crate::publish::spec(name)
            .map(|spec| spec.name.to_string())
            .map_err(|e| e.message().to_string())
    })
}

/// Whether the environment variable that stands for `arg` is set.
fn env_gives(arg: &clap::Arg, env: &dyn Env) -> bool {
    arg.get_env()
        .and_then(|name| name.to_str())
        .is_some_and(|name| env.var(name).is_some())
}

/// `value` as the JSON option `arg` reads, checked by the option's rule on its own (so an error
/// is this key's). A number may stand where a name is read (`tsig-key = 7`), as on the command
/// line, where every value is text.
fn typed_value(arg: &clap::Arg, value: &toml::Value) -> std::result::Result<Value, String> {
    if !arg.get_action().takes_values() && !value.is_bool() {
        return Err("expected true or false".into());
    }
    let json = serde_json::to_value(value).map_err(|e| e.to_string())?;
    let alone = |v: &Value| {
        let mut one = serde_json::Map::new();
        one.insert(arg.get_id().to_string(), v.clone());
        serde_json::from_value::<Options>(Value::Object(one)).map(drop)
    };
    let Err(e) = alone(&json) else {
        return Ok(json);
    };
    let as_text = match value {
        toml::Value::Integer(i) => Some(Value::String(i.to_string())),
        toml::Value::Float(f) => Some(Value::String(f.to_string())),
        _ => None,
    };
    as_text
        .filter(|text| alone(text).is_ok())
        .ok_or_else(|| e.to_string())
}

pub(crate) fn read_table(path: &Path) -> Result<toml::Table> {
    let text = crate::fsutil::read_small_file(path).map_err(|e| {
        Error::config(format!(
            "cannot read config file {}: {e}; name a readable TOML file of at most 1 MiB with --config or DCV_HOOK_CONFIG",
            path.display()
        ))
    })?;
    text.parse::<toml::Table>().map_err(|e| {
        Error::config(format!(
            "config file {}: {}; keys are the long option names, e.g. rfc2136-server = \"192.0.2.1\"",
            path.display(),
            e.message().trim()
        ))
    })
}

/// The `[[kind]]` tables `list` of the config file at `path`, each made an item by `parse` (whose
/// error is the reason alone) and named by `name_of`; a table that is not one, that `parse`
/// refuses, or whose name comes twice is a config error (78) naming the file and the table.
pub(crate) fn named_tables<T>(
    path: &Path,
    kind: &str,
    list: &[toml::Value],
    parse: impl Fn(&toml::Table) -> std::result::Result<T, String>,
    name_of: fn(&T) -> &str,
) -> Result<Vec<T>> {
    let bad =
        |why: String| Error::config(format!("config file {}: [[{kind}]] {why}", path.display()));
    let mut items: Vec<T> = Vec::new();
    for (i, value) in list.iter().enumerate() {
        let t = value
            .as_table()
            .ok_or_else(|| bad(format!("number {} is not a table", i + 1)))?;
        let item = parse(t).map_err(|e| bad(format!("number {}: {e}", i + 1)))?;
        if items.iter().any(|other| name_of(other) == name_of(&item)) {
            return Err(bad(format!(
                "{} is given twice; give each {kind} one table",
                name_of(&item)
            )));
        }
        items.push(item);
    }
    Ok(items)
}

#[cfg(test)]
mod tests;
