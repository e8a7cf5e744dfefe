//! Benchmark: how long `dcv-hook doctor` takes on a 10-name order (the goal is under 3 s).
//!
//! Starts the test suite's BIND pair and the CertCentral simulator with one dns-txt-token order of
//! N names (default 10) spread over example.test and other.test, then runs `dcv-hook doctor` on it
//! (in-process, the same code as the binary) with the rfc2136 provider, so every check runs: the
//! order read from the API, the nameservers of both zones over UDP and TCP, serials, NS sets, the
//! challenge names, CAA for every name, DNSSEC where the parent has a DS, and the TSIG key. Prints
//! each run's time, exit code and DNS queries, then the median. Needs root, bind9 and iproute2.
//! With `--silent` the resolver is a bound UDP socket that never answers (what the doctor must
//! bear within its time limit: one resolver timeout for the whole run).
//!
//!     cargo run --release --example bench_doctor [-- --names 10 --runs 5 --silent]

#[allow(dead_code)]
#[path = "../tests/support/bind.rs"]
mod bind;

#[path = "support/stats.rs"]
mod stats;
use stats::median;

use bind::{BindFixture, BindOptions};
use clap::Parser;
use dcv_sim::{OrderSpec, SimConfig, Simulator};
use std::time::Instant;

/// Options of the benchmark itself.
#[derive(Parser)]
struct Bench {
    /// Names in the order.
    #[arg(long, default_value_t = 10)]
    names: usize,
    /// Runs.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Ask a resolver that never answers instead of the fixture's primary.
    #[arg(long)]
    silent: bool,
}

const KEY: &str = "bench-doctor-key";

fn main() {
    let bench = Bench::parse();
    let bind = BindFixture::start(BindOptions::default());
    let sim = Simulator::start(SimConfig::new(KEY, bind.primary_addr()));
    // SAFETY: set before any other thread of this process reads the environment.
    unsafe {
        std::env::set_var("DIGICERT_API_KEY", KEY);
        std::env::set_var("DCV_TSIG_SECRET", bind.secret());
    }
    let names: Vec<String> = (0..bench.names)
        .map(|i| {
            let zone = if i % 2 == 0 {
                "example.test"
            } else {
                "other.test"
            };
            format!("n{i}.{zone}")
        })
        .collect();
    let order = sim.add_order(OrderSpec::new(names.clone()).method("dns-txt-token"));
    let state = tempfile::tempdir().unwrap();
    let order_id = order.to_string();
    let primary = bind.primary_addr().to_string();
    // Bound and never read: every question to it times out.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = if bench.silent {
        silent.local_addr().unwrap().to_string()
    } else {
        primary.clone()
    };
    let state_dir = state.path().display().to_string();
    let url = sim.url();
    let args = [
        "dcv-hook",
        "doctor",
        "-q",
        "--order-id",
        &order_id,
        "--api-url",
        &url,
        "--resolver",
        &resolver,
        "--provider",
        "rfc2136",
        "--rfc2136-server",
        &primary,
        "--tsig-key",
        bind.key_name(),
        "--state-dir",
        &state_dir,
    ];
    println!(
        "doctor on an order of {} names over 2 zones, {} resolver",
        names.len(),
        if bench.silent {
            "a silent"
        } else {
            "the fixture's"
        }
    );
    let mut times = Vec::new();
    // The query counter counts for the whole process: each run's share is the difference.
    let mut queries_before = 0;
    for run in 1..=bench.runs {
        let started = Instant::now();
        let (report, _) =
            dcv_hook::app::run_cli(dcv_hook::cli::parse(args).expect("the command line parses"));
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "run {run}: {seconds:.3}s, exit {}, {} findings, {} DNS queries{}",
            report.exit_code,
            report.findings.len(),
            report.stats.dns_queries - queries_before,
            report
                .error
                .as_ref()
                .map(|e| format!(" ({})", e.message))
                .unwrap_or_default()
        );
        queries_before = report.stats.dns_queries;
        times.push(seconds);
    }
    println!("median {:.3}s (goal: under 3 s)", median(&mut times));
}
