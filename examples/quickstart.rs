//! Quickstart: the whole `dcv-hook run` flow on this machine, with no DigiCert account and no internet.
//!
//! Starts the CertCentral simulator (which checks tokens like a CA: it fetches the file from every web
//! address itself), a small DNS server that answers for www.example.test, and two web servers on
//! loopback over one temporary web root, the second serving new files 2 s late like a slow node of a
//! web farm. Then it runs the real `dcv-hook run` (in-process, same code as the binary) and shows what
//! happened. Run it with `cargo run --example quickstart`.

use dcv_sim::{MiniDns, OrderSpec, RecordData, SimConfig, Simulator, WebServer};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

const HOST: &str = "www.example.test";

fn main() -> std::process::ExitCode {
    let step = |text: &str| println!("\n==> {text}");

    step("starting a DNS server, two web servers and the CertCentral simulator on loopback");
    let webroot = tempfile::tempdir().expect("temp dir");
    let state = tempfile::tempdir().expect("temp dir");
    let dns = MiniDns::start("127.0.0.1:0".parse().unwrap()).expect("DNS server");
    // An unprivileged port, so no root is needed; dcv-hook is told with --http-port (CAs use 80).
    let node1 = WebServer::start(
        SocketAddr::new(Ipv4Addr::new(127, 42, 0, 1).into(), 0),
        webroot.path().into(),
    )
    .expect("web server 1");
    let port = node1.addr().port();
    let node2 = WebServer::start(
        SocketAddr::new(Ipv4Addr::new(127, 42, 0, 2).into(), port),
        webroot.path().into(),
    )
    .expect("web server 2")
    .with_lag(Duration::from_secs(2));
    dns.add("example.test", RecordData::soa("ns.example.test"));
    for node in [&node1, &node2] {
        if let SocketAddr::V4(a) = node.addr() {
            dns.add(HOST, RecordData::A(*a.ip()));
        }
    }
    let mut sim_config = SimConfig::new("quickstart-key", dns.addr());
    sim_config.http_port = port;
    let sim = Simulator::start(sim_config);
    let key_file = state.path().join("api-key");
    std::fs::write(&key_file, "quickstart-key").expect("key file");
    println!(
        "    DNS {} answers {HOST} -> {}, {}",
        dns.addr(),
        node1.addr(),
        node2.addr()
    );
    println!(
        "    web root {} (the second server lags 2 s)",
        webroot.path().display()
    );
    println!("    CertCentral simulator at {}", sim.url());

    let order = sim.add_order(OrderSpec::new([HOST]).method("http-token"));
    step(&format!(
        "order {order} for {HOST} awaits domain control validation (http-token)"
    ));

    let args: Vec<String> = [
        "dcv-hook",
        "run",
        "--order-id",
        &order.to_string(),
        "--method",
        "http-token",
        "--provider",
        "webroot",
        "--webroot",
        &webroot.path().display().to_string(),
        "--resolver",
        &dns.addr().to_string(),
        "--http-port",
        &port.to_string(),
        "--api-url",
        &sim.url(),
        "--api-key-file",
        &key_file.display().to_string(),
        "--state-dir",
        &state.path().join("state").display().to_string(),
        "--poll-interval",
        "0.2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    step(&format!("running: {}", args.join(" ")));
    let code = dcv_hook::app::main_with_args(&args);

    step("what the simulator saw");
    let status = sim.order_status(order).unwrap_or_default();
    println!("    exit code {code}; order status: {status}");
    for check in sim.checks() {
        println!("    check: {check}");
    }
    let premature = sim.premature_checks().len();
    println!("    checks made before every address served the token: {premature}");
    let leftover = webroot.path().join(".well-known").exists();
    println!(
        "    web root after cleanup: {}",
        if leftover {
            "token directory still there"
        } else {
            "as it was (empty)"
        }
    );

    if code == 0 && status == "issued" && premature == 0 && !leftover {
        step("done: the order is validated, no check came too early, nothing was left behind");
        std::process::ExitCode::SUCCESS
    } else {
        step("something went wrong: see the lines above");
        std::process::ExitCode::FAILURE
    }
}
