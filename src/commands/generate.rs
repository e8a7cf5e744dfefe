//! `completions SHELL` and `man [--dir DIR]`: shell completions and man pages generated from the
//! clap definitions `--help` shows (`cli::command`), so the three never disagree. They describe the
//! command line itself, so they run before any config file or environment is read, print no report
//! and change nothing but the `--dir` they are given.

use crate::cli;
use crate::error::Error;
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

/// Runs `completions` or `man` when `args` (the program name first) ask for one and returns the
/// exit code; `None` for every other command line.
pub fn generate(args: &[OsString]) -> Option<u8> {
    let outcome = match cli::generator(args)? {
        Ok(cli::Generate::Completions(shell)) => write_stdout(&completions(shell)),
        Ok(cli::Generate::Man(Some(dir))) => man_pages(&dir),
        Ok(cli::Generate::Man(None)) => write_stdout(&man_page()),
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return Some(0);
        }
        Err(e) => {
            let name = args[1].to_string_lossy();
            eprintln!(
                "dcv-hook: error: {}; see dcv-hook {name} --help",
                cli::error_line(&e)
            );
            return Some(Error::usage("").exit_code());
        }
    };
    Some(match outcome {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("dcv-hook: error: {}", e.message());
            e.exit_code()
        }
    })
}

/// The name the completions are for.
const BIN: &str = "dcv-hook";

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cli::command(), BIN, &mut out);
    match shell {
        clap_complete::Shell::Bash => bash_case_labels(&out, BIN),
        _ => out,
    }
}

/// clap_complete's bash script (4.6.12, the newest release; clap issue #6421) names the state of
/// `dcv-hook auth` `dcv__hook__subcmd__auth` where it walks the words, but labels that state's case
/// `dcv__subcmd__hook__subcmd__auth` (the bin name's hyphen escaped as a command separator), so no
/// option of any command ever completed. The labels are spelled the way the walk spells them; a
/// script generated right already (a fixed release) is left as it is.
fn bash_case_labels(script: &[u8], bin: &str) -> Vec<u8> {
    let sep = "__subcmd__";
    let wrong = format!("{}{sep}", bin.replace('-', sep));
    let right = format!("{}{sep}", bin.replace('-', "__"));
    String::from_utf8_lossy(script)
        .replace(&wrong, &right)
        .into_bytes()
}

/// dcv-hook(1): the overview, every command named with its own page.
pub fn man_page() -> Vec<u8> {
    let mut out = Vec::new();
    // Rendering into memory cannot fail.
    let _ = clap_mangen::Man::new(cli::command().disable_help_subcommand(true)).render(&mut out);
    out
}

/// Writes dcv-hook.1 and dcv-hook-COMMAND.1 for every command into `dir` (created if missing).
/// Each page is a new file renamed into place (`fsutil::write_atomically`), so a name already in
/// `dir` is replaced, never written through: a symbolic link planted there (`dcv-hook.1 ->
/// /etc/passwd`) is itself replaced and its target left alone, as clap_mangen's own `generate_to`
/// (which opens the name and follows it) would not.
pub fn man_pages(dir: &Path) -> crate::error::Result<()> {
    let cannot = |e: std::io::Error| {
        Error::cant_create(format!(
            "cannot write man pages to {}: {e}; give a writable --dir",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(cannot)?;
    let mut root = cli::command().disable_help_subcommand(true);
    root.build();
    for page in pages(root) {
        let mut roff = Vec::new();
        page.render(&mut roff).map_err(cannot)?;
        crate::fsutil::write_atomically(&dir.join(page.get_filename()), &roff, 0o644)
            .map_err(cannot)?;
    }
    Ok(())
}

/// The page of `cmd` and of every visible command below it, as clap_mangen's `generate_to` makes.
fn pages(cmd: clap::Command) -> Vec<clap_mangen::Man> {
    let mut all: Vec<clap_mangen::Man> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .flat_map(|s| pages(s.clone()))
        .collect();
    all.push(clap_mangen::Man::new(cmd));
    all
}

/// Writes `bytes` to stdout; a reader that went away early (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> crate::error::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::cant_create(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}
