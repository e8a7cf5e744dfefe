//! Benchmark: how long `auth` waits beyond the secondary's lag, against fixed waits.
//!
//! Starts the test suite's BIND pair (primary + a secondary that receives every change L seconds
//! late, default 3 s) and the CertCentral simulator, then runs `dcv-hook auth` (in-process, the same
//! code as the binary) for orders of N = 1, 10 and 100 names spread over two zones, 5 runs each. For
//! every run it measures when the secondary really served the last record (an independent observer
//! polling it every 10 ms), the time auth took, and the DNS queries auth sent. From the same runs it
//! computes what lego's fixed 2 s poll (first look at once, then every 2 s) and certbot-dns-rfc2136's
//! fixed 60 s sleep would have cost. Needs root, bind9 and iproute2, like the tests.
//!
//!     cargo run --release --example bench_propagation [-- --lag 3 --runs 5 --poll-interval 1]

#[allow(dead_code)]
#[path = "../tests/support/bind.rs"]
mod bind;

#[path = "support/stats.rs"]
mod stats;
use stats::median;

use bind::{BindFixture, BindOptions};
use clap::Parser;
use dcv_sim::{OrderSpec, SimConfig, Simulator};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Options of the benchmark itself.
#[derive(Parser)]
struct Bench {
    /// Seconds the secondary lags behind the primary.
    #[arg(long, default_value_t = 3.0)]
    lag: f64,
    /// Runs per N.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// dcv-hook's --poll-interval.
    #[arg(long, default_value_t = 1.0)]
    poll_interval: f64,
    /// Comma-separated numbers of names.
    #[arg(long, default_value = "1,10,100")]
    names: String,
}

const KEY: &str = "bench-key";

fn main() {
    let bench = Bench::parse();
    let lag = Duration::from_secs_f64(bench.lag);
    let fixture = BindFixture::start(BindOptions { lag: Some(lag) });
    let mut sim_config = SimConfig::new(KEY, fixture.primary_addr());
    sim_config.dns_port = 53;
    let sim = Simulator::start(sim_config);
    let state = tempfile::tempdir().unwrap();
    let secret_file = state.path().join("tsig.secret");
    std::fs::write(&secret_file, fixture.secret()).unwrap();
    // SAFETY: set before any other thread of this process reads the environment.
    unsafe { std::env::set_var("DIGICERT_API_KEY", KEY) };

    println!(
        "secondary lag L = {:.1} s, {} runs per N, dcv-hook --poll-interval {}",
        bench.lag, bench.runs, bench.poll_interval
    );
    println!();
    println!(
        "| N | auth − L | auth − secondary ready | DNS queries / record | lego 2 s poll − L | certbot 60 s − L | lego / dcv-hook | certbot / dcv-hook |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for n in bench
        .names
        .split(',')
        .map(|s| s.trim().parse::<usize>().expect("--names: numbers"))
    {
        let mut ours = Vec::new();
        let mut lego = Vec::new();
        let mut certbot = Vec::new();
        let mut queries = Vec::new();
        let mut after_ready = Vec::new();
        for run in 0..bench.runs {
            let names: Vec<String> = (0..n)
                .map(|i| {
                    format!(
                        "b{run}n{i}.{}",
                        if i % 2 == 0 {
                            "example.test"
                        } else {
                            "other.test"
                        }
                    )
                })
                .collect();
            let order = sim.add_order(OrderSpec::new(names.clone()).method("dns-txt-token"));
            let token = sim.order_random_value(order).unwrap();
            let args = |command: &str| -> Vec<String> {
                [
                    "dcv-hook",
                    command,
                    "-q",
                    "--order-id",
                    &order.to_string(),
                    "--provider",
                    "rfc2136",
                    "--rfc2136-server",
                    &fixture.primary_addr().to_string(),
                    "--tsig-key",
                    fixture.key_name(),
                    "--tsig-secret-file",
                    &secret_file.display().to_string(),
                    "--resolver",
                    &fixture.primary_addr().to_string(),
                    "--api-url",
                    &sim.url(),
                    "--state-dir",
                    &state.path().join("state").display().to_string(),
                    "--poll-interval",
                    &bench.poll_interval.to_string(),
                ]
                .iter()
                .map(|s| s.to_string())
                .collect()
            };
            let observer = observe_secondary(
                SocketAddr::new(fixture.secondary(), 53),
                names.clone(),
                token.clone(),
            );
            let queries_before = dcv_hook::stats::dns_queries();
            let started = Instant::now();
            let (report, _) = dcv_hook::app::run_cli(
                dcv_hook::cli::parse(args("auth")).expect("the command line parses"),
            );
            let took = started.elapsed();
            assert!(report.ok, "auth failed: {:?}", report.error);
            let ready = observer.join().unwrap();
            queries.push((dcv_hook::stats::dns_queries() - queries_before) as f64 / n as f64);
            ours.push(took.as_secs_f64() - bench.lag);
            after_ready.push(took.as_secs_f64() - ready.as_secs_f64());
            // lego: looks at once, then every 2 s, so it notices at the first multiple of 2 s after `ready`.
            lego.push((ready.as_secs_f64() / 2.0).ceil() * 2.0 - bench.lag);
            certbot.push(60.0 - bench.lag);
            let (report, _) = dcv_hook::app::run_cli(
                dcv_hook::cli::parse(args("cleanup")).expect("the command line parses"),
            );
            assert!(report.ok, "cleanup failed: {:?}", report.error);
            fixture.wait_in_sync();
        }
        let (o, l, c, q) = (
            median(&mut ours),
            median(&mut lego),
            median(&mut certbot),
            median(&mut queries),
        );
        let r = median(&mut after_ready);
        println!(
            "| {n} | {o:.3} s | {r:.3} s | {q:.1} | {l:.3} s | {c:.0} s | {:.1}× | {:.0}× |",
            (l + bench.lag) / (o + bench.lag),
            (c + bench.lag) / (o + bench.lag)
        );
    }
    println!();
    println!(
        "medians over the runs; ratios compare whole waits (L included). 'auth − L' is what dcv-hook adds"
    );
    println!(
        "beyond the lag; 'auth − secondary ready' is how long after the secondary really served the last"
    );
    println!("record auth returned (an observer polls the secondary every 10 ms).");
}

/// Polls the secondary every 10 ms (with its own DNS client, not dcv-hook's) until every name
/// serves `token`; returns how long after the start that was.
fn observe_secondary(
    server: SocketAddr,
    names: Vec<String>,
    token: String,
) -> std::thread::JoinHandle<Duration> {
    let started = Instant::now();
    std::thread::spawn(move || {
        let mut pending = names;
        while !pending.is_empty() {
            pending.retain(|name| {
                let answer = dcv_sim::dns::query(
                    server,
                    name,
                    dcv_sim::dns::RecordType::TXT,
                    false,
                    Duration::from_secs(1),
                );
                !answer
                    .map(|m| dcv_sim::dns::txt_values(&m).contains(&token))
                    .unwrap_or(false)
            });
            if Instant::now() - started > Duration::from_secs(300) {
                panic!("the secondary never served every record");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        started.elapsed()
    })
}
