//! Benchmark: the real ACME clients side by side, issuing one certificate from pebble through a
//! lagging secondary.
//!
//! Starts the test suite's BIND pair (primary + a secondary that receives every change L seconds
//! late, default 3 s) and pebble validating through that secondary, so a client that asks the CA
//! before the secondary serves its records really fails. Then, for certificates of N = 1, 2 and 6
//! names spread over example.test and other.test, it times the whole client run (account
//! registration, challenges, validation, issuance, cleanup) of
//!
//! - `dcv`: certbot with dcv-hook as its manual hooks (`--manual-auth-hook 'dcv-hook auth'
//!   --manual-cleanup-hook 'dcv-hook cleanup'`, settings from a TOML file in `DCV_HOOK_CONFIG`);
//! - `certbot-rfc2136`: certbot with its certbot-dns-rfc2136 plugin at its defaults (it sleeps 60 s);
//! - `lego`: lego with its own rfc2136 provider at its defaults (propagation timeout, polling and
//!   sequence interval: it solves names one at a time, 60 s apart), in a private mount namespace
//!   whose /etc/resolv.conf names the primary, since its propagation check reaches the nameservers
//!   through the system resolver.
//!
//! Every run uses fresh names and a fresh account and config directory, starts once the secondary
//! has caught up with the previous run's cleanup, and counts only when the certificate really came
//! out with exactly the requested names (DNS SANs); otherwise it is reported as failed, not timed.
//! The table shows the median wall time of the good runs per N and client, and each client's
//! difference to its smallest N.
//!
//! Needs root, bind9, iproute2, pebble, lego, openssl, util-linux (unshare), and certbot with
//! certbot-dns-rfc2136 (`DCV_TEST_CERTBOT`, else /opt/dcv-hook-test/certbot-venv/bin/certbot:
//! `scripts/test` installs all of them). The dcv-hook it runs is the release binary next to this
//! example (target/release/dcv-hook), so build that first:
//!
//!     cargo build --release && cargo run --release --example bench_acme
//!     cargo run --release --example bench_acme -- --tools dcv --runs 5     # (a) alone, quick
//!
//! Knobs: `--lag 3`, `--names 1,2,6`, `--tools dcv,certbot-rfc2136,lego`, `--runs N` (default: 3
//! runs of `dcv` and 1 of each slow peer, whose runs take minutes), `--keep` (keep every run's
//! directory, with the client's output and logs, and print where).

#[allow(dead_code)]
#[path = "../tests/support/acme.rs"]
mod acme;
#[allow(dead_code)]
#[path = "../tests/support/bind.rs"]
mod bind;

#[path = "support/stats.rs"]
mod stats;
use stats::median;

#[path = "support/bin.rs"]
mod bin;
use bin::find_dcv_hook;
#[allow(dead_code)]
#[path = "../tests/support/pebble.rs"]
mod pebble;

use bind::{BindFixture, BindOptions};
use clap::Parser;
use pebble::Pebble;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Options of the benchmark itself.
#[derive(Parser)]
struct Bench {
    /// Seconds the secondary (what pebble asks) lags behind the primary.
    #[arg(long, default_value_t = 3.0)]
    lag: f64,
    /// Runs per N and client [default: 3 for dcv, 1 for certbot-rfc2136 and lego].
    #[arg(long)]
    runs: Option<usize>,
    /// Comma-separated numbers of names per certificate.
    #[arg(long, default_value = "1,2,6")]
    names: String,
    /// Comma-separated clients: dcv, certbot-rfc2136, lego.
    #[arg(long, default_value = "dcv,certbot-rfc2136,lego")]
    tools: String,
    /// Keep every run's directory (client output, logs, certificates) and print where it is.
    #[arg(long)]
    keep: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tool {
    /// certbot with dcv-hook as its manual hooks.
    Dcv,
    /// certbot with certbot-dns-rfc2136 at its defaults.
    CertbotRfc2136,
    /// lego with its rfc2136 provider at its defaults.
    Lego,
}

impl Tool {
    fn parse(s: &str) -> Tool {
        match s.trim() {
            "dcv" => Tool::Dcv,
            "certbot-rfc2136" => Tool::CertbotRfc2136,
            "lego" => Tool::Lego,
            other => panic!("--tools: unknown {other:?} (dcv, certbot-rfc2136, lego)"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tool::Dcv => "(a) certbot + dcv-hook",
            Tool::CertbotRfc2136 => "(b) certbot-dns-rfc2136, defaults",
            Tool::Lego => "(c) lego rfc2136, defaults",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Tool::Dcv => "dcv",
            Tool::CertbotRfc2136 => "crt",
            Tool::Lego => "lego",
        }
    }
}

/// What the benchmark runs against, and the programs it runs.
struct Lab {
    bind: BindFixture,
    pebble: Pebble,
    certbot: PathBuf,
    dcv_hook: PathBuf,
    /// Every run's directory goes under here.
    root: PathBuf,
}

/// One timed client run.
struct Run {
    /// Wall time, when the certificate came out with the requested names.
    took: Result<Duration, String>,
}

fn main() {
    let bench = Bench::parse();
    let tools: Vec<Tool> = bench.tools.split(',').map(Tool::parse).collect();
    let sizes: Vec<usize> = bench
        .names
        .split(',')
        .map(|s| s.trim().parse().expect("--names: numbers"))
        .collect();
    assert!(sizes.iter().all(|&n| n > 0), "--names: at least 1 name");
    let runs_of = |tool: Tool| bench.runs.unwrap_or(if tool == Tool::Dcv { 3 } else { 1 });
    let lag = Duration::from_secs_f64(bench.lag);

    let certbot = find_certbot();
    let dcv_hook = find_dcv_hook();
    if tools.contains(&Tool::Lego) {
        let found = Command::new("lego").arg("--version").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "lego does not run; install it (scripts/test does)"
        );
    }
    let root_dir = tempfile::Builder::new()
        .prefix("dcv-bench-acme-")
        .tempdir()
        .expect("temp dir");
    let bind = BindFixture::start(BindOptions { lag: Some(lag) });
    let pebble = Pebble::start(SocketAddr::new(bind.secondary(), 53));
    let lab = Lab {
        bind,
        pebble,
        certbot,
        dcv_hook,
        root: root_dir.path().to_path_buf(),
    };
    let secret_file = lab.root.join("tsig.secret");
    std::fs::write(&secret_file, lab.bind.secret()).unwrap();
    // dcv-hook warns about secret files others can read.
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();

    println!(
        "secondary lag L = {:.1} s; pebble validates through the secondary; runs per N: {}",
        bench.lag,
        tools
            .iter()
            .map(|&t| format!("{} {}", t.short(), runs_of(t)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let started = Instant::now();
    // results[tool][size] = the runs
    let mut results: Vec<Vec<Vec<Run>>> = tools
        .iter()
        .map(|_| sizes.iter().map(|_| Vec::new()).collect())
        .collect();
    let most_runs = tools.iter().map(|&t| runs_of(t)).max().unwrap_or(0);
    // Interleaved (run, N, client), so a slow phase of the machine hits every client alike.
    for run in 0..most_runs {
        for (si, &n) in sizes.iter().enumerate() {
            for (ti, &tool) in tools.iter().enumerate() {
                if run >= runs_of(tool) {
                    continue;
                }
                let names = names_for(tool, n, run);
                let dir = lab.root.join(format!("{}-{n}-{run}", tool.short()));
                std::fs::create_dir_all(&dir).unwrap();
                lab.bind.wait_in_sync();
                let took = match tool {
                    Tool::Dcv => run_dcv(&lab, &dir, &secret_file, &names),
                    Tool::CertbotRfc2136 => run_certbot_rfc2136(&lab, &dir, &names),
                    Tool::Lego => run_lego(&lab, &dir, &names),
                };
                match &took {
                    Ok(t) => eprintln!(
                        "bench_acme: {} names={n} run {}: {:.2} s",
                        tool.short(),
                        run + 1,
                        t.as_secs_f64()
                    ),
                    Err(e) => eprintln!(
                        "bench_acme: {} names={n} run {}: FAILED: {e}",
                        tool.short(),
                        run + 1
                    ),
                }
                results[ti][si].push(Run { took });
            }
        }
    }

    println!();
    println!(
        "| names | client | wall time (median) | min – max | good runs | − {} name{} |",
        sizes[0],
        if sizes[0] == 1 { "" } else { "s" }
    );
    println!("|---|---|---|---|---|---|");
    let mut medians: Vec<Vec<Option<f64>>> = Vec::new();
    for (si, &n) in sizes.iter().enumerate() {
        for (ti, &tool) in tools.iter().enumerate() {
            let runs = &results[ti][si];
            let mut good: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.took.as_ref().ok().map(Duration::as_secs_f64))
                .collect();
            let median = (!good.is_empty()).then(|| median(&mut good));
            if medians.len() <= ti {
                medians.push(Vec::new());
            }
            medians[ti].push(median);
            let mut row = format!("| {n} | {} | ", tool.label());
            match median {
                Some(m) => {
                    let _ = write!(
                        row,
                        "{m:.1} s | {:.1} – {:.1} s | ",
                        good[0],
                        good[good.len() - 1]
                    );
                }
                None => row += "failed | – | ",
            }
            let _ = write!(row, "{}/{} | ", good.len(), runs.len());
            match (medians[ti][0], median) {
                (Some(first), Some(m)) if si > 0 => {
                    let _ = write!(row, "{:+.1} s |", m - first);
                }
                _ => row += "– |",
            }
            println!("{row}");
        }
    }
    println!();
    if let Some(ti) = tools.iter().position(|&t| t == Tool::Dcv)
        && sizes.len() > 1
    {
        let (first, last) = (sizes[0], sizes[sizes.len() - 1]);
        match (medians[ti][0], medians[ti][sizes.len() - 1]) {
            (Some(a), Some(b)) => println!(
                "(a) certbot + dcv-hook: {last} names − {first} name{}: {:+.2} s (medians)",
                if first == 1 { "" } else { "s" },
                b - a
            ),
            _ => println!("(a) certbot + dcv-hook: failed runs, no difference"),
        }
    }
    println!(
        "whole client runs (account, challenges, validation, issuance, cleanup); a run counts only when the"
    );
    println!(
        "certificate has exactly the requested names. Total {:.0} s.",
        started.elapsed().as_secs_f64()
    );
    if bench.keep {
        let kept = root_dir.keep();
        println!("run directories kept in {}", kept.display());
    }
}

/// `n` fresh names for this client and run, alternating example.test and other.test.
fn names_for(tool: Tool, n: usize, run: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let zone = if i % 2 == 0 {
                "example.test"
            } else {
                "other.test"
            };
            format!("{}-n{n}-r{run}-{i}.{zone}", tool.short())
        })
        .collect()
}

/// (a): certbot's manual authenticator with `dcv-hook auth` / `dcv-hook cleanup` as hooks, found
/// through PATH (the release binary's directory first) and configured through `DCV_HOOK_CONFIG`.
fn run_dcv(
    lab: &Lab,
    dir: &Path,
    secret_file: &Path,
    names: &[String],
) -> Result<Duration, String> {
    let primary = lab.bind.primary_addr();
    let config = dir.join("dcv-hook.toml");
    std::fs::write(
        &config,
        format!(
            "provider = \"rfc2136\"\n\
             rfc2136-server = \"{primary}\"\n\
             tsig-key = \"{}\"\n\
             tsig-secret-file = \"{}\"\n\
             resolver = [\"{primary}\"]\n\
             state-dir = \"{}\"\n",
            lab.bind.key_name(),
            secret_file.display(),
            dir.join("state").display()
        ),
    )
    .unwrap();
    let bin_dir = lab.dcv_hook.parent().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_path_buf()).chain(std::env::split_paths(&path)),
    )
    .unwrap();
    let mut cmd = certbot_base(lab, dir, names);
    cmd.args(["--manual", "--preferred-challenges", "dns"])
        .args(["--manual-auth-hook", "dcv-hook auth"])
        .args(["--manual-cleanup-hook", "dcv-hook cleanup"])
        .env("PATH", path)
        .env("DCV_HOOK_CONFIG", &config)
        // Settings come from the file only: the environment would beat it.
        .env_remove("DCV_HOOK_STATE_DIR")
        .env_remove("DCV_TSIG_SECRET");
    timed(cmd, dir, &dir.join("config/live/bench/cert.pem"), names)
}

/// (b): certbot's certbot-dns-rfc2136 plugin, nothing but the credentials given (it sleeps its
/// default 60 s propagation time).
fn run_certbot_rfc2136(lab: &Lab, dir: &Path, names: &[String]) -> Result<Duration, String> {
    let ini = dir.join("rfc2136.ini");
    std::fs::write(
        &ini,
        format!(
            "dns_rfc2136_server = {}\ndns_rfc2136_port = 53\ndns_rfc2136_name = {}\n\
             dns_rfc2136_secret = {}\ndns_rfc2136_algorithm = HMAC-SHA256\n",
            lab.bind.primary(),
            lab.bind.key_name(),
            lab.bind.secret()
        ),
    )
    .unwrap();
    // certbot warns about credentials files others can read.
    std::fs::set_permissions(&ini, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cmd = certbot_base(lab, dir, names);
    cmd.args([
        "--authenticator",
        "dns-rfc2136",
        "--dns-rfc2136-credentials",
    ])
    .arg(&ini);
    timed(cmd, dir, &dir.join("config/live/bench/cert.pem"), names)
}

/// certbot certonly against pebble with its config, work and log directories under `dir`.
fn certbot_base(lab: &Lab, dir: &Path, names: &[String]) -> Command {
    let mut cmd = Command::new(&lab.certbot);
    cmd.args(["certonly", "--non-interactive", "--agree-tos"])
        .arg("--register-unsafely-without-email")
        .args(["--server", &lab.pebble.directory_url()])
        .args(["--cert-name", "bench"])
        .env("REQUESTS_CA_BUNDLE", lab.pebble.ca_bundle());
    for d in ["config", "work", "logs"] {
        cmd.arg(format!("--{d}-dir")).arg(dir.join(d));
    }
    for name in names {
        cmd.args(["-d", name]);
    }
    cmd
}

/// (c): lego's rfc2136 provider with only the server and key given (its propagation timeout,
/// polling and sequence intervals at their defaults), in a private mount namespace whose
/// /etc/resolv.conf names the primary: its propagation check resolves the nameservers' names
/// through the system resolver.
fn run_lego(lab: &Lab, dir: &Path, names: &[String]) -> Result<Duration, String> {
    let mut cmd = Command::new("lego");
    cmd.args(["--server", &lab.pebble.directory_url()])
        .args(["--accept-tos", "--email", "bench@example.test", "--path"])
        .arg(dir.join("lego"))
        .args(["--dns", "rfc2136"])
        .env("LEGO_CA_CERTIFICATES", lab.pebble.ca_bundle())
        .env("RFC2136_NAMESERVER", lab.bind.primary_addr().to_string())
        .env("RFC2136_TSIG_KEY", lab.bind.key_name())
        .env("RFC2136_TSIG_SECRET", lab.bind.secret())
        .env("RFC2136_TSIG_ALGORITHM", "hmac-sha256.");
    for key in [
        "RFC2136_PROPAGATION_TIMEOUT",
        "RFC2136_POLLING_INTERVAL",
        "RFC2136_SEQUENCE_INTERVAL",
        "RFC2136_TTL",
        "RFC2136_DNS_TIMEOUT",
    ] {
        cmd.env_remove(key);
    }
    for name in names {
        cmd.args(["-d", name]);
    }
    cmd.arg("run");
    let resolv = acme::resolv_conf(&dir.join("resolv.conf"), lab.bind.primary());
    let cmd = acme::with_mounts(&cmd, &[(&resolv, Path::new("/etc/resolv.conf"))]);
    let cert = dir.join(format!("lego/certificates/{}.crt", names[0]));
    timed(cmd, dir, &cert, names)
}

/// Runs `cmd` to the end, keeping its output in `dir/output.txt`; the wall time when it succeeded
/// and `cert` covers exactly `names`, else why not.
fn timed(mut cmd: Command, dir: &Path, cert: &Path, names: &[String]) -> Result<Duration, String> {
    let started = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    let took = started.elapsed();
    std::fs::write(dir.join("output.txt"), transcript(&out)).unwrap();
    if !out.status.success() {
        return Err(format!(
            "exit {} after {:.1} s; output in {}/output.txt:\n{}",
            out.status,
            took.as_secs_f64(),
            dir.display(),
            tail(&transcript(&out), 15)
        ));
    }
    if !cert.is_file() {
        return Err(format!("no certificate at {}", cert.display()));
    }
    let mut wanted: Vec<String> = names.to_vec();
    wanted.sort();
    let sans = acme::cert_sans(cert);
    if sans != wanted {
        return Err(format!("certificate names {sans:?}, wanted {wanted:?}"));
    }
    Ok(took)
}

fn transcript(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// certbot with certbot-dns-rfc2136: `DCV_TEST_CERTBOT`, else scripts/test's virtualenv.
fn find_certbot() -> PathBuf {
    let path = std::env::var_os("DCV_TEST_CERTBOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/dcv-hook-test/certbot-venv/bin/certbot"));
    assert!(
        path.is_file(),
        "no certbot at {}: run scripts/test once (it makes the virtualenv with certbot and \
         certbot-dns-rfc2136) or set DCV_TEST_CERTBOT",
        path.display()
    );
    path
}
