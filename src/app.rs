//! The program around the commands: parse, resolve the configuration, dispatch one command, render
//! the report, and pick the exit code. The only place that prints the final outcome or error.

use crate::cli::config_file;
use crate::cli::{self, Cli, Command, OutputFormat};
use crate::commands;
use crate::config::{self, ProcessEnv};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::Report;
use crate::ui;
use std::ffi::OsString;
use std::time::Instant;

/// Runs dcv-hook with `args` (the program name first); prints the report and returns the exit code.
pub fn main_with_args<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // completions and man describe the command line itself: no config file, no report.
    if let Some(code) = commands::generate(&args) {
        return code;
    }
    let mut cli = match cli::parse(args) {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return 0;
        }
        Err(e) => {
            eprintln!(
                "dcv-hook: error: {}; see dcv-hook --help",
                cli::error_line(&e)
            );
            return Error::usage("").exit_code();
        }
    };
    // A broken config file is reported like any other error (JSON included), for the command line
    // as given.
    let file_error = config_file::apply(&mut cli, &ProcessEnv).err();
    // A panic is a bug: report it as the internal error (70) it is, not as Rust's 101, in one line
    // (where it happened goes to -v, not in front of the error).
    std::panic::set_hook(Box::new(|info| {
        ui::verbose(&format!("panic: {info}"));
    }));
    let outcome = match file_error {
        Some(e) => Ok(failed(&cli, e)),
        None => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_cli(cli))),
    };
    let _ = std::panic::take_hook();
    let (report, format) = match outcome {
        Ok(done) => done,
        Err(_) => {
            eprintln!(
                "dcv-hook: error: internal error (a bug); run cleanup, and please report it with -v output"
            );
            return Error::software("").exit_code();
        }
    };
    match format {
        OutputFormat::Json => println!("{}", report.to_json()),
        OutputFormat::Text if !ui::is_quiet() => print!("{}", report.to_text()),
        OutputFormat::Text => {}
    }
    if let Some(e) = &report.error {
        eprintln!("dcv-hook: error: {}", e.message);
    }
    report.exit_code
}

/// The report of `cli`'s command failing with `e` before it started.
fn failed(cli: &Cli, e: Error) -> (Report, OutputFormat) {
    let o = &cli.options;
    ui::set_level(o.quiet, o.verbose);
    let mut report = Report::new(cli.command.name(), o.dry_run);
    report.finish(&Err(e), 0.0);
    (report, o.output.unwrap_or(OutputFormat::Text))
}

/// Runs a parsed command line and returns its report (not printed) and the output format.
pub fn run_cli(cli: Cli) -> (Report, OutputFormat) {
    let started = Instant::now();
    let name = cli.command.name();
    let o = &cli.options;
    let mut report = Report::new(name, o.dry_run);
    // Set the level before resolving, so errors there honour -q too.
    ui::set_level(o.quiet, o.verbose);
    let mut format = o.output.unwrap_or(OutputFormat::Text);
    let outcome = match config::resolve(cli, &ProcessEnv) {
        Ok(cfg) => {
            ui::set_level(cfg.quiet, cfg.verbose);
            // certbot's hooks: quiet on stderr when all is well (see ui::progress_only_with_verbose).
            if let crate::config::Target::Acme(t) = &cfg.target
                && t.batch.is_some()
            {
                ui::progress_only_with_verbose();
            }
            format = cfg.output;
            crate::each_account::run(cfg, &mut report, dispatch)
        }
        Err(e) => Err(e),
    };
    report.finish(&outcome, started.elapsed().as_secs_f64());
    (report, format)
}

fn dispatch(ctx: &Context, report: &mut Report) -> Result<()> {
    match ctx.cfg.command {
        Command::Auth => commands::auth(ctx, report),
        Command::Verify => commands::verify(ctx, report),
        Command::Cleanup => commands::cleanup(ctx, report),
        Command::Run => commands::run(ctx, report),
        Command::Status => commands::status(ctx, report),
        Command::Revalidate => commands::revalidate(ctx, report),
        Command::Doctor => commands::doctor(ctx, report),
        Command::Persist => commands::persist(ctx, report),
    }
}
