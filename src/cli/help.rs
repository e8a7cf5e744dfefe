//! What each command presents: the clap command with each subcommand's `--help` limited to the
//! options it uses (all stay accepted), a repeated flag taking its last value, and the generator
//! commands (`completions`, `man`) built from the same definitions, so help, man page and
//! completions never disagree.

use super::Line;
use super::options::{ACME, API, COMMON, PERSIST, PROPAGATION, PROVIDER_HEADING, PUBLISHING};
use clap::CommandFactory;
use std::path::PathBuf;

/// Whether `command`'s `--help` shows an option; the rest are accepted but hidden there.
fn shown(command: &str, id: &str, heading: Option<&str>) -> bool {
    let heading = heading.unwrap_or("");
    if heading == COMMON {
        return true;
    }
    let provider_flag = heading.starts_with(PROVIDER_HEADING);
    // The record's parts are persist's; the doctor looks for a record of that issuer and account.
    if heading == PERSIST {
        return command == "persist"
            || (command == "doctor" && matches!(id, "issuer" | "account_uri"));
    }
    let selects = matches!(id, "order_id" | "domain_id" | "domains" | "account");
    if matches!(id, "check_concurrency" | "metrics_file") && command != "revalidate" {
        return false;
    }
    // Only revalidate and status --expiring-within read it.
    if id == "expiring_within" && !matches!(command, "revalidate" | "status") {
        return false;
    }
    match command {
        "auth" => !matches!(id, "wait" | "timeout" | "expiring_within"),
        "run" => !matches!(id, "wait" | "expiring_within"),
        "verify" => {
            selects
                || heading == ACME
                || heading == API
                || matches!(id, "wait" | "timeout" | "poll_interval")
        }
        "cleanup" => selects || heading == ACME || provider_flag || id == "resolver",
        "status" => {
            selects
                || matches!(id, "expiring_within" | "validation_type")
                || (heading == API && !matches!(id, "wait" | "timeout"))
        }
        "revalidate" => {
            !matches!(id, "wait" | "timeout" | "order_id" | "domain_id") && heading != ACME
        }
        "persist" => {
            id == "domains"
                || heading == PUBLISHING
                || provider_flag
                || (heading == PROPAGATION && id != "http_port")
        }
        // The doctor waits for nothing and publishes nothing but its probe file.
        "doctor" => !matches!(
            id,
            "wait"
                | "timeout"
                | "preflight"
                | "ttl"
                | "propagation_timeout"
                | "poll_interval"
                | "no_propagation_check"
                | "dry_run"
        ),
        _ => true,
    }
}

/// The clap command: each subcommand's help limited to the options it uses, and a flag given twice
/// taking its last value (the config file's keys and the command line can then both say it).
pub fn command() -> clap::Command {
    let mut cmd = Line::command();
    cmd = cmd.subcommands(generator_commands());
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |sub| {
            let hide: Vec<String> = sub
                .get_arguments()
                .filter(|a| !shown(&name, a.get_id().as_str(), a.get_help_heading()))
                .map(|a| a.get_id().to_string())
                .collect();
            let mut sub = sub.args_override_self(true);
            for id in hide {
                sub = sub.mut_arg(id, |a| a.hide(true));
            }
            sub
        });
    }
    cmd
}

/// The commands about the command line itself, `completions SHELL` and `man [--dir DIR]`: answered
/// from these same definitions before any configuration is read (`commands::generate`), so `--help`,
/// the completions and the man page never disagree.
pub fn generator_commands() -> [clap::Command; 2] {
    use clap::{Arg, value_parser};
    [
        clap::Command::new("completions")
            .about("Print shell completions for dcv-hook (bash, zsh, fish, elvish, powershell)")
            .arg(
                Arg::new("shell")
                    .value_name("SHELL")
                    .required(true)
                    .value_parser(value_parser!(clap_complete::Shell)),
            ),
        clap::Command::new("man")
            .about("Print the man page dcv-hook(1) (--dir DIR: write it and one page per command there)")
            .arg(
                Arg::new("dir")
                    .long("dir")
                    .value_name("DIR")
                    .help("Write dcv-hook.1 and dcv-hook-COMMAND.1 for every command into DIR.")
                    .value_parser(value_parser!(PathBuf)),
            ),
    ]
}

/// What a generator command asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Generate {
    Completions(clap_complete::Shell),
    /// One page on stdout (`None`), or every page into a directory.
    Man(Option<PathBuf>),
}

/// The generator command `args` (the program name first) asks for: `None` when the command is
/// none of them, else what it asks or clap's error (`--help` included).
pub fn generator(args: &[std::ffi::OsString]) -> Option<Result<Generate, clap::Error>> {
    let name = args.get(1)?.to_str()?;
    if !generator_commands().iter().any(|c| c.get_name() == name) {
        return None;
    }
    let matches = match command().try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(e) => return Some(Err(e)),
    };
    let sub = matches.subcommand_matches(name)?;
    Some(Ok(match sub.try_get_one::<clap_complete::Shell>("shell") {
        Ok(Some(shell)) => Generate::Completions(*shell),
        _ => Generate::Man(sub.try_get_one::<PathBuf>("dir").ok().flatten().cloned()),
    }))
}
