//! Benchmark: `revalidate` over a fleet of due domains, against DigiCert's rate limit.
//!
//! Starts the test suite's BIND pair (a secondary that receives every change L seconds late, 3 s by
//! default; `stale.test` never reaches it) and, for every run, a fresh CertCentral simulator with
//! both DigiCert limits enforced (100 requests / 5 s, 1000 / 3 min) and a DCV check latency (1 s by
//! default: DigiCert queries every nameserver from several places). For N = 10, 100, 300 and 1000
//! due domains over two zones (TXT in example.test, CNAME in other.test), and a variant of N = 300
//! where `--stale` of them sit in the stale zone, it runs the release binary once and prints: wall
//! time, time until the last healthy domain was validated, requests, the peak requests in any 5 s
//! and 180 s, the rate-limit floor (the least time the two limits allow for that many requests:
//! a burst of 100, then 20 a second, never more than 1000 in any 3 minutes), the ratio, 429s,
//! premature checks, what was left behind, the peak RSS, and for N <= 100 the same domains done as
//! single `run --domain-id` calls in sequence (what a per-domain cron script does). Needs root,
//! bind9 and iproute2, like the tests.
//!
//!     cargo build --release && cargo run --release --example bench_revalidate \
//!         [-- --sizes 10,100,300,1000 --stale 10 --lag 3 --check-latency 1 --stale-timeout 60]

#[allow(dead_code)]
#[path = "../tests/support/bind.rs"]
mod bind;

#[path = "support/bin.rs"]
mod bin;

use bind::{BindFixture, BindOptions, STALE_ZONE};
use clap::Parser;
use dcv_sim::{DomainSpec, SimConfig, Simulator};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Options of the benchmark itself.
#[derive(Parser)]
struct Bench {
    /// Comma-separated numbers of due domains.
    #[arg(long, default_value = "10,100,300,1000")]
    sizes: String,
    /// Domains in the stale zone in the stale variant (0: no stale variant).
    #[arg(long, default_value_t = 10)]
    stale: usize,
    /// N of the stale variant.
    #[arg(long, default_value_t = 300)]
    stale_size: usize,
    /// --propagation-timeout of the stale variant, seconds.
    #[arg(long, default_value_t = 60)]
    stale_timeout: u64,
    /// Seconds the secondary lags behind the primary.
    #[arg(long, default_value_t = 3.0)]
    lag: f64,
    /// Seconds each DigiCert check takes.
    #[arg(long, default_value_t = 1.0)]
    check_latency: f64,
    /// Largest N also done as sequential `run --domain-id` calls.
    #[arg(long, default_value_t = 100)]
    sequential_up_to: usize,
}

const KEY: &str = "bench-key";

/// DigiCert's limits: (requests, window).
const LIMITS: [(usize, f64); 2] = [(100, 5.0), (1000, 180.0)];

/// One measured revalidate run.
struct Measured {
    wall: f64,
    last_healthy: f64,
    exit: Option<i32>,
    requests: usize,
    peak_short: usize,
    peak_long: usize,
    rate_limited: usize,
    premature: usize,
    left: usize,
    rss_mb: f64,
}

fn main() {
    let bench = Bench::parse();
    let lag = Duration::from_secs_f64(bench.lag);
    let fixture = BindFixture::start(BindOptions { lag: Some(lag) });
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("tsig.secret");
    std::fs::write(&secret_file, fixture.secret()).unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let dcv_hook = bin::find_dcv_hook();

    println!(
        "secondary lag L = {:.1} s, DCV check latency {:.1} s, DigiCert limits 100/5 s and 1000/180 s enforced, --check-concurrency {} (default)",
        bench.lag,
        bench.check_latency,
        dcv_hook::config::DEFAULT_CHECK_CONCURRENCY
    );
    println!();
    println!(
        "| N | stale | exit | wall | last healthy validated | requests | peak /5 s | peak /180 s | floor | wall / floor | 429 | premature | left | peak RSS | sequential `run --domain-id` | speed-up |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut runs: Vec<(usize, usize)> = bench
        .sizes
        .split(',')
        .map(|s| (s.trim().parse::<usize>().expect("--sizes: numbers"), 0))
        .collect();
    if bench.stale > 0 {
        runs.push((bench.stale_size, bench.stale));
    }
    for (n, stale) in runs {
        let lab = Lab {
            fixture: &fixture,
            secret_file: &secret_file,
            dcv_hook: &dcv_hook,
            check_latency: Duration::from_secs_f64(bench.check_latency),
        };
        let timeout = if stale > 0 { bench.stale_timeout } else { 600 };
        let m = lab.revalidate(n, stale, timeout, dir.path());
        let floor = floor(m.requests);
        let sequential =
            (stale == 0 && n <= bench.sequential_up_to).then(|| lab.sequential(n, dir.path()));
        println!(
            "| {n} | {stale} | {} | {:.1} s | {:.1} s | {} | {} | {} | {:.1} s | {} | {} | {} | {} | {:.0} MB | {} | {} |",
            m.exit.map_or("-".into(), |c| c.to_string()),
            m.wall,
            m.last_healthy,
            m.requests,
            m.peak_short,
            m.peak_long,
            floor,
            if floor >= 1.0 {
                format!("{:.2}", m.wall / floor)
            } else {
                "-".into()
            },
            m.rate_limited,
            m.premature,
            m.left,
            m.rss_mb,
            sequential.map_or("-".into(), |s| format!("{s:.1} s")),
            sequential.map_or("-".into(), |s| format!("{:.1}×", s / m.wall)),
        );
        fixture.wait_in_sync();
    }
    println!();
    println!(
        "floor: the least time DigiCert's two limits allow for that many requests (100 at once, then 20 a"
    );
    println!(
        "second, never more than 1000 in any 180 s). 'left': records on the primary plus state entries after"
    );
    println!(
        "the run. The stale variant uses --propagation-timeout {} s; its exit is 75 (each stale domain named).",
        bench.stale_timeout
    );
}

/// The fixed parts of every run.
struct Lab<'a> {
    fixture: &'a BindFixture,
    secret_file: &'a Path,
    dcv_hook: &'a Path,
    check_latency: Duration,
}

impl Lab<'_> {
    /// A fresh simulator (its rate-limit windows empty) with `n` due domains, the last `stale` of
    /// them in the stale zone; returns it with (name, id, healthy) of each.
    fn account(&self, n: usize, stale: usize, tag: &str) -> (Simulator, Vec<(String, u64, bool)>) {
        let sim = Simulator::start(
            SimConfig::new(KEY, self.fixture.primary_addr()).check_latency(self.check_latency),
        );
        let domains = (0..n)
            .map(|i| {
                let (zone, method, healthy) = if i >= n - stale {
                    (STALE_ZONE, "dns-txt-token", false)
                } else if i % 2 == 0 {
                    ("example.test", "dns-txt-token", true)
                } else {
                    ("other.test", "dns-cname-token", true)
                };
                let name = format!("{tag}{i:04}.{zone}");
                let id = sim.add_domain(
                    DomainSpec::new(&name)
                        .method(method)
                        .expires_in_days("ov", 3),
                );
                (name, id, healthy)
            })
            .collect();
        (sim, domains)
    }

    fn command(&self, sim: &Simulator, state: &Path) -> Command {
        let mut cmd = Command::new(self.dcv_hook);
        cmd.env_clear()
            .env("DIGICERT_API_KEY", KEY)
            .args(["--api-url", &sim.url()])
            .args(["--resolver", &self.fixture.primary_addr().to_string()])
            .arg("--state-dir")
            .arg(state)
            .args(["--provider", "rfc2136"])
            .args(["--rfc2136-server", &self.fixture.primary().to_string()])
            .args(["--tsig-key", self.fixture.key_name()])
            .arg("--tsig-secret-file")
            .arg(self.secret_file)
            .arg("-q")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }

    /// One `revalidate` over a fresh account.
    fn revalidate(&self, n: usize, stale: usize, timeout: u64, dir: &Path) -> Measured {
        let (sim, domains) = self.account(n, stale, &format!("r{n}s{stale}x"));
        let state = dir.join(format!("state-r{n}-{stale}"));
        let mut cmd = self.command(&sim, &state);
        cmd.args(["revalidate", "--propagation-timeout", &timeout.to_string()]);
        let started = Instant::now();
        let (exit, rss_mb, stderr) = run_measured(cmd);
        let wall = started.elapsed().as_secs_f64();
        let checks = sim.checks();
        let healthy_ids: Vec<u64> = domains.iter().filter(|d| d.2).map(|d| d.1).collect();
        let last_healthy = checks
            .iter()
            .filter(|c| c.passed && healthy_ids.contains(&c.id))
            .map(|c| c.at.saturating_duration_since(started).as_secs_f64())
            .fold(0.0, f64::max);
        let validated = healthy_ids
            .iter()
            .filter(|id| checks.iter().any(|c| c.passed && c.id == **id))
            .count();
        if validated != healthy_ids.len() {
            eprintln!(
                "N={n}: only {validated} of {} healthy domains validated; stderr:\n{stderr}",
                healthy_ids.len()
            );
        }
        Measured {
            wall,
            last_healthy,
            exit,
            requests: sim.requests().iter().filter(|r| r.key_ok).count(),
            peak_short: sim.max_requests_in_window(Duration::from_secs(5)),
            peak_long: sim.max_requests_in_window(Duration::from_secs(180)),
            rate_limited: sim.rate_limited_count(),
            premature: sim.premature_checks().len(),
            left: self.left(&domains, &state),
            rss_mb,
        }
    }

    /// The same domains, each one `run --domain-id` after the other; returns the total wall time.
    fn sequential(&self, n: usize, dir: &Path) -> f64 {
        let (sim, domains) = self.account(n, 0, &format!("q{n}x"));
        let state = dir.join(format!("state-q{n}"));
        let started = Instant::now();
        for (name, id, _) in &domains {
            let method = if name.ends_with(".other.test") {
                "dns-cname-token"
            } else {
                "dns-txt-token"
            };
            let mut cmd = self.command(&sim, &state);
            cmd.args(["run", "--domain-id", &id.to_string(), "--method", method]);
            let (exit, _, stderr) = run_measured(cmd);
            assert_eq!(
                exit,
                Some(0),
                "run --domain-id {id} ({name}) failed: {stderr}"
            );
        }
        started.elapsed().as_secs_f64()
    }

    /// Records still on the primary plus state entries left.
    fn left(&self, domains: &[(String, u64, bool)], state: &Path) -> usize {
        let primary = self.fixture.primary();
        let in_dns = domains
            .iter()
            .filter(|(name, _, _)| {
                let dnsauth = format!("_dnsauth.{name}");
                !self.fixture.txt_values(primary, name).is_empty()
                    || !self.fixture.cname_targets(primary, &dnsauth).is_empty()
            })
            .count();
        let in_state = std::fs::read_dir(state.join("records"))
            .map(|d| d.count())
            .unwrap_or(0);
        in_dns + in_state
    }
}

/// Runs `cmd` to the end; returns its exit code, its peak resident memory in MB (VmHWM, read from
/// /proc while it runs) and its stderr.
fn run_measured(mut cmd: Command) -> (Option<i32>, f64, String) {
    let mut child = cmd.spawn().expect("start dcv-hook");
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut s) = stderr {
            use std::io::Read;
            let _ = s.read_to_string(&mut text);
        }
        text
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for dcv-hook") {
            break status;
        }
        // "VmHWM:   12345 kB": the peak so far, so polling misses nothing but the last moments.
        if let Some(kb) = std::fs::read_to_string(&status_file).ok().and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) {
            peak_kb = peak_kb.max(kb);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code(),
        peak_kb as f64 / 1024.0,
        reader.join().unwrap_or_default(),
    )
}

/// The least time (seconds) in which `requests` requests fit DigiCert's limits: each goes out as
/// early as every window allows (100 at once, then 20 a second, no more than 1000 in 180 s).
fn floor(requests: usize) -> f64 {
    let mut times: Vec<f64> = Vec::with_capacity(requests);
    for i in 0..requests {
        let mut t: f64 = times.last().copied().unwrap_or(0.0);
        for (limit, window) in LIMITS {
            if i >= limit {
                t = t.max(times[i - limit] + window);
            }
        }
        times.push(t);
    }
    times.last().copied().unwrap_or(0.0)
}
