//! An HTTP world: a MiniDns acting as resolver, one or two web servers on port 80 of fresh loopback
//! addresses serving one temp web root, the CertCentral simulator checking through them, and a temp
//! state dir. Addresses are 127.80.N.x with N unique per world, so tests run in parallel.

use assert_cmd::Command;
use dcv_sim::{MiniDns, RecordData, SimConfig, Simulator, WebServer};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

/// The API key the simulator accepts; distinctive so a leak is easy to grep for.
pub const API_KEY: &str = "sim-key-5ecret-77aa19";

static NEXT_NET: AtomicU8 = AtomicU8::new(0);

/// Claims a fresh N for the addresses 127.80.N.x and 127.81.N.x: binding 127.80.N.250:80 is the claim,
/// atomic across threads and processes (two test runs on one machine), held as long as the listener
/// lives. The pid picks where to start looking, so parallel runs rarely even try the same N.
pub fn claim_net() -> (u8, TcpListener) {
    let start = (std::process::id() % 249) as u8;
    for _ in 0..249 {
        let n = (start.wrapping_add(NEXT_NET.fetch_add(1, Ordering::SeqCst)) % 249) + 1;
        if let Ok(claim) = TcpListener::bind((Ipv4Addr::new(127, 80, n, 250), 80)) {
            return (n, claim);
        }
    }
    panic!("no free 127.80.N.x network to claim");
}

pub struct HttpWorld {
    pub dns: MiniDns,
    pub sim: Simulator,
    pub web: Vec<WebServer>,
    pub webroot: tempfile::TempDir,
    pub state: tempfile::TempDir,
    pub net: u8,
    _claim: TcpListener,
}

impl HttpWorld {
    /// `hosts` resolve to every web server; `lags[i]` makes server i serve new files only after that long.
    pub fn new(hosts: &[&str], lags: &[Option<Duration>]) -> HttpWorld {
        let (net, claim) = claim_net();
        let webroot = tempfile::tempdir().unwrap();
        let dns =
            MiniDns::start(SocketAddr::new(Ipv4Addr::new(127, 80, net, 53).into(), 0)).unwrap();
        let mut web = Vec::new();
        for (i, lag) in lags.iter().enumerate() {
            let ip = Ipv4Addr::new(127, 80, net, i as u8 + 1);
            let mut server =
                WebServer::start(SocketAddr::new(ip.into(), 80), webroot.path().to_path_buf())
                    .unwrap();
            if let Some(lag) = lag {
                server = server.with_lag(*lag);
            }
            web.push(server);
        }
        for host in hosts {
            // The zone is the last two labels (example.test): MiniDns answers for names under an SOA.
            let labels: Vec<&str> = host.rsplitn(3, '.').collect();
            let zone = format!("{}.{}", labels[1], labels[0]);
            if dns.records(&zone).is_empty() {
                dns.add(&zone, RecordData::soa(&format!("ns.{zone}")));
            }
            for s in &web {
                if let SocketAddr::V4(a) = s.addr() {
                    dns.add(host, RecordData::A(*a.ip()));
                }
            }
        }
        let sim = Simulator::start(SimConfig::new(API_KEY, dns.addr()));
        HttpWorld {
            dns,
            sim,
            web,
            webroot,
            state: tempfile::tempdir().unwrap(),
            net,
            _claim: claim,
        }
    }

    /// `dcv-hook` with the API key in the environment, the simulator's URL, the resolver and the
    /// state dir set, and every variable the tool reads cleared.
    pub fn cmd(&self) -> Command {
        let mut cmd = bare_cmd();
        cmd.env("DIGICERT_API_KEY", API_KEY)
            .args(["--api-url", &self.sim.url()])
            .args(["--resolver", &self.dns.addr().to_string()])
            .arg("--state-dir")
            .arg(self.state.path())
            .args(["--poll-interval", "0.1"]);
        cmd
    }

    /// `cmd()` plus the webroot provider.
    pub fn webroot_cmd(&self) -> Command {
        let mut cmd = self.cmd();
        cmd.args(["--provider", "webroot", "--webroot"])
            .arg(self.webroot.path());
        cmd
    }

    pub fn token_file(&self) -> PathBuf {
        self.webroot
            .path()
            .join(".well-known/pki-validation/fileauth.txt")
    }

    /// What the token file holds now.
    pub fn token_file_text(&self) -> String {
        std::fs::read_to_string(self.token_file()).unwrap()
    }

    /// Names of the state files.
    pub fn state_files(&self) -> Vec<String> {
        list(&self.state.path().join("records"))
    }
}

/// The binary with a clean environment.
pub fn bare_cmd() -> Command {
    let mut cmd = Command::cargo_bin("dcv-hook").unwrap();
    for var in [
        "DIGICERT_API_KEY",
        "DIGICERT_API_URL",
        "DCV_HOOK_CONFIG",
        "DCV_HOOK_STATE_DIR",
        "DCV_TSIG_SECRET",
        "CERTBOT_VALIDATION",
        "CERTBOT_TOKEN",
        "CERTBOT_DOMAIN",
        "CERTBOT_REMAINING_CHALLENGES",
        "CERTBOT_ALL_DOMAINS",
        "CERTBOT_AUTH_OUTPUT",
        "CLOUDFLARE_API_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.timeout(Duration::from_secs(120));
    cmd
}

/// Every path below `root`, relative and sorted (empty when `root` is missing).
pub fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

fn list(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Whether process `pid` is still running (a zombie, left for an init that may not reap, is not).
pub fn process_running(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !matches!(
            s.rsplit(") ").next().and_then(|f| f.chars().next()),
            Some('Z' | 'X')
        )
    })
}
