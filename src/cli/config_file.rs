//! The config file (`--config FILE` or `DCV_HOOK_CONFIG`): a TOML table whose keys are the long option
//! names, turned into command-line flags so there is one list of options (clap's) and a new option
//! is one edit.
//!
//! Precedence stays flag > env > file > default: a key is dropped when the command line gives that
//! option or its environment variable is set, and the rest are appended as `--key=value` flags
//! (booleans as `--key`, arrays as one flag per item). Every command accepts every option, so one
//! file serves them all. A key that is no option is a config error (78) naming it; so is a value clap
//! refuses, naming the file.

use crate::env::Env;
use crate::error::{Error, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `args` (the program name first) with the config file's options appended; unchanged when no
/// file is named or the command line does not parse (clap then reports that error itself).
pub fn with_file_args(args: Vec<OsString>, env: &dyn Env) -> Result<Vec<OsString>> {
    let args = super::options_after_the_command(args);
    let cmd = super::command();
    let Ok(matches) = cmd.clone().try_get_matches_from(&args) else {
        return Ok(args);
    };
    let Some((sub_name, sub_matches)) = matches.subcommand() else {
        return Ok(args);
    };
    let Some(path) = sub_matches.get_one::<PathBuf>("config").cloned() else {
        return Ok(args);
    };
    let sub = cmd
        .find_subcommand(sub_name)
        .expect("the parsed subcommand exists");
    let table = read_table(&path)?;
    let extra = file_flags(sub, sub_matches, &path, &table, env)?;
    if extra.is_empty() {
        return Ok(args);
    }
    // Check the file's flags on their own, so a bad value is blamed on the file, not the command line.
    let alone: Vec<OsString> = [OsString::from("dcv-hook"), OsString::from(sub_name)]
        .into_iter()
        .chain(extra.iter().cloned())
        .collect();
    if let Err(e) = super::command().try_get_matches_from(alone) {
        return Err(Error::config(format!(
            "config file {}: {}",
            path.display(),
            super::error_line(&e)
        )));
    }
    let mut all = args;
    all.extend(extra);
    Ok(all)
}

/// The flags `table` (the file at `path`) adds for subcommand `sub`: every key but those the
/// command line or the environment already gives.
fn file_flags(
    sub: &clap::Command,
    given: &clap::ArgMatches,
    path: &Path,
    table: &toml::Table,
    env: &dyn Env,
) -> Result<Vec<OsString>> {
    let mut extra: Vec<OsString> = Vec::new();
    for (key, value) in table {
        // Providers per zone are read by `config::zones`, accounts by `config::accounts`, not flags.
        // (A plain `account = "NAME"` is the --account option.)
        if key == "zone" || (key == "account" && value.is_array()) {
            continue;
        }
        let arg = sub
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && !is_file_only(a))
            .ok_or_else(|| {
                Error::config(format!(
                    "config file {}: unknown key {key:?}; keys are the long option names, e.g. rfc2136-server = \"192.0.2.1\"",
                    path.display()
                ))
            })?;
        let env_set = arg
            .get_env()
            .and_then(|name| name.to_str())
            .is_some_and(|name| env.var(name).is_some());
        let on_command_line = given.value_source(arg.get_id().as_str())
            == Some(clap::parser::ValueSource::CommandLine);
        if env_set || on_command_line {
            continue;
        }
        extra.extend(flags_for(
            path,
            key,
            value,
            arg.get_action().takes_values(),
        )?);
    }
    Ok(extra)
}

/// Options that make no sense in the file (the file itself).
fn is_file_only(arg: &clap::Arg) -> bool {
    arg.get_long() == Some("config")
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

/// The flags one key stands for.
fn flags_for(
    path: &Path,
    key: &str,
    value: &toml::Value,
    takes_value: bool,
) -> Result<Vec<OsString>> {
    let bad = |why: &str| Error::config(format!("config file {}: {key}: {why}", path.display()));
    let scalar = |v: &toml::Value| -> Result<String> {
        match v {
            toml::Value::String(s) => Ok(s.clone()),
            toml::Value::Integer(i) => Ok(i.to_string()),
            toml::Value::Float(f) => Ok(f.to_string()),
            toml::Value::Boolean(b) => Ok(b.to_string()),
            _ => Err(bad("expected a string, number or boolean")),
        }
    };
    match value {
        toml::Value::Boolean(b) if !takes_value => Ok(if *b {
            vec![OsString::from(format!("--{key}"))]
        } else {
            Vec::new()
        }),
        _ if !takes_value => Err(bad("expected true or false")),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| Ok(OsString::from(format!("--{key}={}", scalar(v)?))))
            .collect(),
        v => Ok(vec![OsString::from(format!("--{key}={}", scalar(v)?))]),
    }
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
mod tests {
    use super::*;
    use crate::env::FakeEnv;

    fn expand(
        file: &str,
        args: &[&str],
        env: &[(&'static str, &'static str)],
    ) -> Result<Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, file).unwrap();
        let mut all: Vec<OsString> = vec!["dcv-hook".into()];
        all.extend(args.iter().map(OsString::from));
        all.push("--config".into());
        all.push(path.clone().into());
        let out = with_file_args(all, &FakeEnv(env.iter().copied().collect()))?;
        Ok(out
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .filter(|a| !a.contains("c.toml"))
            .collect())
    }

    #[test]
    fn keys_become_flags_unless_the_command_line_or_env_gives_them() {
        let file = "ttl = 120\nresolver = [\"192.0.2.53\", \"192.0.2.54\"]\nno-propagation-check = true\nwait = false\napi-url = \"https://file.example\"\nquiet = true\n";
        let got = expand(
            file,
            &["auth", "--ttl", "30", "-q"],
            &[("DIGICERT_API_URL", "https://env.example")],
        )
        .unwrap();
        assert_eq!(
            got,
            [
                "dcv-hook",
                "auth",
                "--ttl",
                "30",
                "-q",
                "--config",
                "--no-propagation-check",
                "--resolver=192.0.2.53",
                "--resolver=192.0.2.54",
            ]
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_config_errors_naming_the_file_or_key() {
        let table = [
            ("ttll = 1\n", "ttll"),
            ("ttl = \"soon\"\n", "c.toml"),
            ("wait = \"yes\"\n", "true or false"),
            ("resolver = [[1]]\n", "expected a string"),
            ("ttl = \n", "c.toml"),
        ];
        for (file, want) in table {
            let err = expand(file, &["verify", "--order-id", "1"], &[]).unwrap_err();
            assert_eq!(err.kind(), crate::error::Kind::Config, "{file}");
            assert!(err.message().contains(want), "{file}: {err}");
        }
    }

    #[test]
    fn a_key_another_command_uses_is_accepted_by_every_command() {
        let got = expand("webroot = \"/srv\"\nwait = true\n", &["cleanup"], &[]).unwrap();
        assert!(got.contains(&"--webroot=/srv".to_string()), "{got:?}");
    }
}
