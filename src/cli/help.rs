//! What each command presents: the clap command with each subcommand's `--help` limited to the
//! options it uses (all stay accepted), a repeated flag taking its last value, and the generator
//! commands (`completions`, `man`) built from the same definitions, so help, man page and
//! completions never disagree.

use super::{Command, Line, Options};
use clap::CommandFactory;
use std::path::PathBuf;

/// The clap command: each subcommand's help limited to the options it uses, and a flag given twice
/// taking its last value (the config file's keys and the command line can then both say it).
pub fn command() -> clap::Command {
    let mut cmd = Line::command().subcommands(generator_commands());
    for &command in Command::ALL {
        cmd = cmd.mut_subcommand(command.name(), |sub| {
            let hide: Vec<String> = sub
                .get_arguments()
                .filter(|a| !Options::shown_by(a.get_id().as_str()).contains(&command))
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
