//! A real BIND pair on loopback for the DNS tests: a primary that accepts TSIG-signed UPDATEs and a
//! secondary that lags behind it by a chosen delay (or never catches up).
//!
//! Each [`BindFixture`] gets its own pair of addresses 127.A.B.1 (primary) and 127.A.B.2
//! (secondary), port 53, chosen from a process-wide counter mixed with the pid and claimed by adding
//! them to `lo` (removed again on drop), so parallel tests and test binaries do not collide. It owns a
//! temporary directory with the configs, zones and logs, starts `named -g` for each address, and waits
//! for readiness by polling SOA answers, never by sleeping a fixed time. The secondary starts from a
//! copy of the zones and never refreshes on its own (four-week SOA refresh, `notify no`): a watcher
//! thread polls the primary's serials every 50 ms and runs `rndc retransfer` on the secondary `lag`
//! after each change. Drop stops the watcher and kills and waits for both servers.
//! Needs root (port 53, `ip addr`), bind9 (`named`, `rndc`) and iproute2.
//!
//! Zones: `example.test` and `other.test` (NS ns1/ns2 in each, A records to the two addresses), and
//! `delegated.test`, whose NS names live in `example.test`. `example.test` has
//! `_dnsauth.shop.example.test CNAME shop.delegated.test.` for the CNAME-delegation case.
//! `locked.test` (NS like delegated.test) refuses every update, for the all-or-nothing case.
//! `stale.test` (NS like delegated.test, so it shares both servers with the healthy zones) is never
//! transferred to the secondary: its changes never reach it, whatever `lag` says.
//! [`BindFixture::add_a`] adds A records (for http-01 names a CA resolves through the secondary).

use dcv_hook::dnsquery::{self, matches};
use dcv_hook::record::{Record, RecordType};
use dcv_hook::resolver::Resolver;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RData;
use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The zones every fixture serves.
pub const ZONES: [&str; 5] = [
    "example.test",
    "other.test",
    "delegated.test",
    "locked.test",
    STALE_ZONE,
];

/// The zone whose secondary never receives a change (see the module docs).
pub const STALE_ZONE: &str = "stale.test";

/// The TSIG key the primary accepts updates with.
pub const KEY_NAME: &str = "dcv-test-key";

/// A second TSIG key: in every zone (but locked.test) the names under [`SECOND_KEY_LABEL`] take
/// updates signed with it and refuse the first key, as BIND's `update-policy` can tie names to keys.
pub const SECOND_KEY_NAME: &str = "dcv-second-key";
/// The label whose names (`x.k2.example.test`) belong to the second key.
pub const SECOND_KEY_LABEL: &str = "k2";

/// How often the watcher looks at the primary's serials.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// How long a fixture may take to come up before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(10);

static NEXT_SLOT: AtomicU32 = AtomicU32::new(0);

/// How the fixture behaves.
#[derive(Clone, Copy, Debug)]
pub struct BindOptions {
    /// How long after each change on the primary the secondary transfers it; `None`: never.
    pub lag: Option<Duration>,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            lag: Some(Duration::ZERO),
        }
    }
}

/// A running primary/secondary pair. See the module docs.
pub struct BindFixture {
    dir: TempDir,
    primary: Ipv4Addr,
    secondary: Ipv4Addr,
    secret: String,
    primary_proc: Mutex<Option<Child>>,
    secondary_proc: Option<Child>,
    stop: Arc<AtomicBool>,
    watcher: Option<JoinHandle<()>>,
    transfers: Arc<AtomicU32>,
    lag: Option<Duration>,
}

impl BindFixture {
    /// Starts both servers and returns once each answers for every zone.
    pub fn start(opts: BindOptions) -> BindFixture {
        let (primary, secondary) = claim_pair();
        let dir = tempfile::Builder::new()
            .prefix("dcv-bind-")
            .tempdir()
            .expect("temp dir");
        let secret = random_secret();
        let rndc_secret = random_secret();
        write_files(dir.path(), primary, secondary, &secret, &rndc_secret);

        let mut fixture = BindFixture {
            primary_proc: Mutex::new(Some(spawn_named(dir.path(), "primary"))),
            secondary_proc: Some(spawn_named(dir.path(), "secondary")),
            dir,
            primary,
            secondary,
            secret,
            stop: Arc::new(AtomicBool::new(false)),
            watcher: None,
            transfers: Arc::new(AtomicU32::new(0)),
            lag: opts.lag,
        };
        // Both load their zones from files, so neither waits for the other.
        let deadline = Instant::now() + START_TIMEOUT;
        fixture.wait_serving(secondary, deadline);
        fixture.wait_serving(primary, deadline);
        if let Some(lag) = opts.lag {
            fixture.watcher = Some(fixture.spawn_watcher(lag));
        }
        fixture
    }

    pub fn primary(&self) -> IpAddr {
        IpAddr::V4(self.primary)
    }

    pub fn secondary(&self) -> IpAddr {
        IpAddr::V4(self.secondary)
    }

    /// The primary's DNS address (port 53), where updates go.
    pub fn primary_addr(&self) -> SocketAddr {
        SocketAddr::new(self.primary(), 53)
    }

    pub fn key_name(&self) -> &str {
        KEY_NAME
    }

    /// The hmac-sha256 TSIG secret, base64.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The second key's hmac-sha256 secret, base64 (see [`SECOND_KEY_NAME`]).
    pub fn second_secret(&self) -> String {
        fs::read_to_string(self.dir.path().join("second-key.secret")).expect("written at start")
    }

    /// A resolver that asks the primary (authoritative for every zone, so no recursion is needed).
    pub fn resolver(&self) -> Arc<Resolver> {
        Arc::new(Resolver::new(&[self.primary_addr()]).expect("resolver"))
    }

    /// Kills the primary, as if it went down; the secondary keeps serving what it has.
    pub fn stop_primary(&self) {
        if let Some(mut child) = self.primary_proc.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits (up to 2 minutes) until the secondary has caught up with the primary on every zone a
    /// test writes to, so the next run starts clean and its first change arrives exactly `lag` later.
    pub fn wait_in_sync(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        for zone in ["example.test", "other.test"] {
            while self.primary_serial(zone) != self.secondary_serial(zone) {
                assert!(
                    Instant::now() < deadline,
                    "secondary never caught up on {zone}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Kills the secondary, as if it went down while a wait was going on.
    pub fn stop_secondary(&mut self) {
        if let Some(mut child) = self.secondary_proc.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The serial of `zone` on the primary (`None` when it does not answer).
    pub fn primary_serial(&self, zone: &str) -> Option<u32> {
        soa_serial(self.primary(), zone)
    }

    /// The serial of `zone` on the secondary (`None` when it does not answer).
    pub fn secondary_serial(&self, zone: &str) -> Option<u32> {
        soa_serial(self.secondary(), zone)
    }

    /// How many `rndc retransfer` commands the watcher has run.
    pub fn transfers(&self) -> u32 {
        self.transfers.load(Ordering::SeqCst)
    }

    /// Whether `server` answers `name` with exactly this TXT or CNAME value.
    pub fn has_record(&self, server: IpAddr, rtype: RecordType, name: &str, value: &str) -> bool {
        let record = Record::new_dns(name, rtype, name, value);
        self.records(server, rtype, name)
            .iter()
            .any(|d| matches(&record, d))
    }

    /// Every TXT text at `name` on `server`.
    pub fn txt_values(&self, server: IpAddr, name: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .records(server, RecordType::Txt, name)
            .iter()
            .filter_map(|d| match d {
                RData::TXT(t) => Some(dnsquery::txt_text(t)),
                _ => None,
            })
            .collect();
        values.sort();
        values
    }

    /// Every CNAME target at `name` on `server`.
    pub fn cname_targets(&self, server: IpAddr, name: &str) -> Vec<String> {
        self.records(server, RecordType::Cname, name)
            .iter()
            .filter_map(|d| match d {
                RData::CNAME(c) => Some(c.0.to_ascii()),
                _ => None,
            })
            .collect()
    }

    fn records(&self, server: IpAddr, rtype: RecordType, name: &str) -> Vec<RData> {
        let rtype = match rtype {
            RecordType::Txt => hickory_proto::rr::RecordType::TXT,
            RecordType::Cname => hickory_proto::rr::RecordType::CNAME,
        };
        let answer = dcv_sim::dns::query(
            SocketAddr::new(server, 53),
            name,
            rtype,
            false,
            Duration::from_secs(2),
        )
        .unwrap_or_else(|e| panic!("{server} does not answer {name}: {e}"));
        answer
            .answers
            .into_iter()
            .filter(|r| r.record_type() == rtype)
            .map(|r| r.data)
            .collect()
    }

    /// Adds `name A ip` on the primary with a TSIG-signed UPDATE (`nsupdate`, from bind9-dnsutils)
    /// and returns once the primary serves it and, unless it never transfers (`lag: None`), the
    /// secondary too: a CA that resolves through the secondary (pebble's http-01) finds it at once.
    pub fn add_a(&self, name: &str, ip: Ipv4Addr) {
        let name = name.trim_end_matches('.');
        let zone = ZONES
            .iter()
            .find(|z| name == **z || name.ends_with(&format!(".{z}")))
            .unwrap_or_else(|| panic!("bind fixture: {name} is in none of {ZONES:?}"));
        self.update(zone, &[&format!("update add {name}. 60 IN A {ip}")]);
        let mut servers = vec![self.primary];
        if self.watcher.is_some() {
            servers.push(self.secondary);
        }
        let deadline = Instant::now() + START_TIMEOUT + self.lag.unwrap_or_default();
        for server in servers {
            while !a_records(IpAddr::V4(server), name).contains(&ip) {
                assert!(
                    Instant::now() < deadline,
                    "bind fixture: {server} does not serve {name} A {ip}\nprimary log:\n{}\nsecondary log:\n{}",
                    self.primary_log(),
                    self.secondary_log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Sends `lines` (nsupdate commands such as `update add NAME TTL IN TYPE DATA`) to the primary
    /// for `zone` in one TSIG-signed UPDATE (`nsupdate`, from bind9-dnsutils); panics when it fails.
    pub fn update(&self, zone: &str, lines: &[&str]) {
        let script = format!(
            "server {} 53\nzone {zone}.\n{}\nsend\n",
            self.primary,
            lines.join("\n")
        );
        let mut child = Command::new("nsupdate")
            .arg("-y")
            .arg(format!("hmac-sha256:{KEY_NAME}:{}", self.secret))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("bind fixture: cannot run nsupdate ({e}); apt-get install bind9-dnsutils")
            });
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "bind fixture: nsupdate {lines:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The fixture's own directory (configs, zone files, logs), where a test may put zone files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Adds `zone` from `file` to the primary only (`rndc addzone`) and returns once it serves it.
    pub fn add_zone(&self, zone: &str, file: &Path) {
        let spec = format!("{{ type primary; file \"{}\"; }};", file.display());
        rndc(
            &self.dir.path().join("rndc.conf"),
            &self.dir.path().join("rndc.log"),
            self.primary,
            &["addzone", zone, &spec],
        );
        let deadline = Instant::now() + START_TIMEOUT;
        while soa_serial(self.primary(), zone).is_none() {
            assert!(
                Instant::now() < deadline,
                "bind fixture: {zone} not served after addzone\nrndc log:\n{}\nprimary log:\n{}",
                fs::read_to_string(self.dir.path().join("rndc.log")).unwrap_or_default(),
                self.primary_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The primary's log (named -g writes everything to stderr).
    pub fn primary_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("primary.log")).unwrap_or_default()
    }

    /// How many UPDATE messages changed `zone` on the primary, from its log: BIND logs one line per
    /// record added or deleted, each naming the client's address and source port, and every message
    /// comes from a fresh port.
    pub fn update_messages(&self, zone: &str) -> usize {
        let marker = format!("updating zone '{zone}/IN'");
        let mut clients: Vec<String> = self
            .primary_log()
            .lines()
            .filter(|l| l.contains(&marker))
            .filter_map(|l| {
                l.split_whitespace()
                    .find(|w| w.contains("/key"))
                    .map(str::to_string)
            })
            .collect();
        clients.sort();
        clients.dedup();
        clients.len()
    }

    pub fn secondary_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("secondary.log")).unwrap_or_default()
    }

    /// Polls until `addr` answers the SOA of every zone (loaded, or transferred for the secondary).
    fn wait_serving(&mut self, addr: Ipv4Addr, deadline: Instant) {
        for zone in ZONES {
            while soa_serial(IpAddr::V4(addr), zone).is_none() {
                self.check_progress(deadline, &format!("{addr} serving {zone}"));
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// Panics, with both logs, when a server died or `deadline` passed while waiting for `what`.
    fn check_progress(&mut self, deadline: Instant, what: &str) {
        if Instant::now() > deadline {
            panic!(
                "bind fixture: no {what} after {START_TIMEOUT:?}\nprimary log:\n{}\nsecondary log:\n{}",
                self.primary_log(),
                self.secondary_log()
            );
        }
        self.assert_running();
    }

    fn assert_running(&mut self) {
        let mut exited = Vec::new();
        if let Some(child) = self.primary_proc.lock().unwrap().as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            exited.push(format!("primary {status}"));
        }
        if let Some(child) = self.secondary_proc.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            exited.push(format!("secondary {status}"));
        }
        if !exited.is_empty() {
            panic!(
                "bind fixture: named exited ({})\nprimary log:\n{}\nsecondary log:\n{}",
                exited.join(", "),
                self.primary_log(),
                self.secondary_log()
            );
        }
    }

    /// Polls the primary's serials and retransfers each changed zone to the secondary `lag` later,
    /// asking again every half second until the secondary has that serial (an rndc command can get
    /// lost on a loaded machine).
    fn spawn_watcher(&self, lag: Duration) -> JoinHandle<()> {
        let stop = self.stop.clone();
        let transfers = self.transfers.clone();
        let primary = self.primary();
        let secondary = self.secondary;
        let rndc_conf = self.dir.path().join("rndc.conf");
        let rndc_log = self.dir.path().join("rndc.log");
        // Read here, not in the thread: a thread that starts late would take a test's first change
        // for the starting point and never transfer it.
        let mut last: Vec<Option<u32>> = ZONES.iter().map(|z| soa_serial(primary, z)).collect();
        std::thread::spawn(move || {
            // (zone, serial to reach, when, last rndc attempt)
            let mut pending: Vec<(&str, u32, Instant, Option<Instant>)> = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                for (i, zone) in ZONES.iter().enumerate() {
                    if *zone == STALE_ZONE {
                        continue;
                    }
                    let serial = soa_serial(primary, zone);
                    if let Some(target) = serial
                        && serial != last[i]
                    {
                        last[i] = serial;
                        pending.push((zone, target, Instant::now() + lag, None));
                    }
                }
                let now = Instant::now();
                pending.retain_mut(|(zone, target, due, asked)| {
                    if *due > now {
                        return true;
                    }
                    if soa_serial(IpAddr::V4(secondary), zone).is_some_and(|s| s >= *target) {
                        return false;
                    }
                    if asked.is_none_or(|at| now.duration_since(at) >= Duration::from_millis(500)) {
                        if asked.is_none() {
                            // Counted first: the transfer may be served before rndc even returns.
                            transfers.fetch_add(1, Ordering::SeqCst);
                        }
                        *asked = Some(now);
                        rndc(&rndc_conf, &rndc_log, secondary, &["retransfer", zone]);
                    }
                    true
                });
                std::thread::sleep(WATCH_EVERY);
            }
        })
    }
}

impl Drop for BindFixture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
        self.stop_primary();
        if let Some(mut child) = self.secondary_proc.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        ip_addr("del", self.primary);
        ip_addr("del", self.secondary);
    }
}

/// The SOA serial `server` gives for `zone`, asked directly.
fn soa_serial(server: IpAddr, zone: &str) -> Option<u32> {
    // The simulator's DNS client, not dcv-hook's: the fixture's own questions must not show up in
    // dcv-hook's query counters (the benchmark reads them).
    let answer = dcv_sim::dns::query(
        SocketAddr::new(server, 53),
        zone,
        hickory_proto::rr::RecordType::SOA,
        false,
        Duration::from_millis(300),
    )
    .ok()?;
    if answer.response_code != ResponseCode::NoError {
        return None;
    }
    answer.answers.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

/// The A addresses `server` gives for `name`, asked directly (none when it does not answer).
fn a_records(server: IpAddr, name: &str) -> Vec<Ipv4Addr> {
    dcv_sim::dns::query(
        SocketAddr::new(server, 53),
        name,
        hickory_proto::rr::RecordType::A,
        false,
        Duration::from_millis(300),
    )
    .map(|answer| {
        answer
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect()
    })
    .unwrap_or_default()
}

/// A free 127.A.B.1 / 127.A.B.2 pair, added to `lo`. named only listens on addresses an interface
/// has (the 127/8 route is not enough), and `ip addr add` fails when the address exists, which makes
/// it an atomic claim across test binaries. The slot mixes the pid into a process-wide counter so
/// parallel binaries rarely even try the same pair.
fn claim_pair() -> (Ipv4Addr, Ipv4Addr) {
    // 127.53.x.y to 127.60.x.y: other fixtures (web 127.80+, simulator tests 127.77) stay clear.
    const SLOTS: u32 = 8 * 250;
    let base = std::process::id().wrapping_mul(7919) % SLOTS;
    for _ in 0..SLOTS {
        let slot = (base + NEXT_SLOT.fetch_add(1, Ordering::SeqCst)) % SLOTS;
        let a = 53 + (slot / 250) as u8;
        let b = (slot % 250) as u8 + 1;
        let primary = Ipv4Addr::new(127, a, b, 1);
        let secondary = Ipv4Addr::new(127, a, b, 2);
        // Something else (a leftover named) may listen there without the address being on lo.
        let free = |ip: Ipv4Addr| UdpSocket::bind((ip, 53)).is_ok();
        if !free(primary) || !free(secondary) {
            continue;
        }
        if !ip_addr("add", primary) {
            continue;
        }
        if !ip_addr("add", secondary) {
            ip_addr("del", primary);
            continue;
        }
        return (primary, secondary);
    }
    panic!("bind fixture: no free loopback address pair");
}

/// `ip addr add|del ADDR/32 dev lo`; false when it fails (for add: the address is already there).
pub fn ip_addr(action: &str, addr: Ipv4Addr) -> bool {
    Command::new("ip")
        .args(["addr", action, &format!("{addr}/32"), "dev", "lo"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or_else(|e| panic!("bind fixture: cannot run `ip` ({e}); apt-get install iproute2"))
}

fn random_secret() -> String {
    let bytes: Vec<u8> = (0..32).map(|_| fastrand::u8(..)).collect();
    data_encoding::BASE64.encode(&bytes)
}

fn spawn_named(dir: &Path, role: &str) -> Child {
    let log = fs::File::create(dir.join(format!("{role}.log"))).expect("log file");
    Command::new(named_path())
        .arg("-g")
        .args(["-n", "1"])
        .arg("-c")
        .arg(dir.join(format!("{role}.conf")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("bind fixture: cannot start named ({e}); apt-get install bind9"))
}

fn named_path() -> PathBuf {
    ["/usr/sbin/named", "/usr/local/sbin/named"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("named"))
}

/// Runs rndc against `server`, appending its output to `log` for when a test needs explaining.
fn rndc(conf: &Path, log: &Path, server: Ipv4Addr, args: &[&str]) {
    let out = fs::OpenOptions::new().create(true).append(true).open(log);
    let (stdout, stderr) = match out.and_then(|f| Ok((f.try_clone()?, f))) {
        Ok((a, b)) => (Stdio::from(a), Stdio::from(b)),
        Err(_) => (Stdio::null(), Stdio::null()),
    };
    let _ = Command::new("rndc")
        .arg("-c")
        .arg(conf)
        .args(["-s", &server.to_string()])
        .args(args)
        .stdout(stdout)
        .stderr(stderr)
        .status();
}

/// Writes both configs, the rndc config and the primary's zone files.
fn write_files(
    dir: &Path,
    primary: Ipv4Addr,
    secondary: Ipv4Addr,
    secret: &str,
    rndc_secret: &str,
) {
    let d = dir.display();
    let second_secret = random_secret();
    fs::write(dir.join("second-key.secret"), &second_secret).unwrap();
    let keys = format!(
        "key \"{KEY_NAME}\" {{ algorithm hmac-sha256; secret \"{secret}\"; }};\n\
         key \"{SECOND_KEY_NAME}\" {{ algorithm hmac-sha256; secret \"{second_secret}\"; }};\n\
         key \"rndc-key\" {{ algorithm hmac-sha256; secret \"{rndc_secret}\"; }};\n"
    );
    let options = |addr: Ipv4Addr, role: &str| {
        format!(
            "options {{\n\
             \tdirectory \"{d}\";\n\
             \tlisten-on port 53 {{ {addr}; }};\n\
             \tlisten-on-v6 {{ none; }};\n\
             \tpid-file none;\n\
             \tsession-keyfile \"{d}/{role}-session.key\";\n\
             \tmanaged-keys-directory \"{d}\";\n\
             \trecursion no;\n\
             \tnotify no;\n\
             \tdnssec-validation no;\n\
             \tallow-transfer {{ any; }};\n\
             \tallow-query {{ any; }};\n\
             \tallow-new-zones yes;\n\
             }};\n\
             controls {{ inet {addr} port 953 allow {{ 127.0.0.0/8; }} keys {{ \"rndc-key\"; }}; }};\n"
        )
    };
    let mut primary_conf = options(primary, "primary") + &keys;
    let mut secondary_conf = options(secondary, "secondary") + &keys;
    for zone in ZONES {
        // locked.test refuses every update: the case where a later zone of a batch fails.
        let updates = if zone == "locked.test" {
            "allow-update { none; };".to_string()
        } else {
            // The first matching rule decides: the second key's names refuse the first key.
            let second = format!("{SECOND_KEY_LABEL}.{zone}.");
            format!(
                "update-policy {{ grant {SECOND_KEY_NAME} subdomain {second} ANY; deny {KEY_NAME} subdomain {second} ANY; grant {KEY_NAME} zonesub ANY; }};"
            )
        };
        primary_conf +=
            &format!("zone \"{zone}\" {{ type primary; file \"{d}/{zone}.db\"; {updates} }};\n");
        // Transfers from the primary; refreshes only when the watcher says so (SOA refresh is a day).
        secondary_conf += &format!(
            "zone \"{zone}\" {{ type secondary; primaries {{ {primary}; }}; file \"{d}/secondary-{zone}.db\"; masterfile-format text; }};\n"
        );
        let content = zone_file(zone, primary, secondary);
        // The secondary starts from a copy, as if it had transferred serial 1 already: no startup
        // transfer to wait for (BIND staggers those by ~0.5 s per zone), and no ordering between the
        // two servers' starts.
        fs::write(dir.join(format!("secondary-{zone}.db")), &content).unwrap();
        fs::write(dir.join(format!("{zone}.db")), content).unwrap();
    }
    fs::write(dir.join("primary.conf"), primary_conf).unwrap();
    fs::write(dir.join("secondary.conf"), secondary_conf).unwrap();
    fs::write(
        dir.join("rndc.conf"),
        format!(
            "key \"rndc-key\" {{ algorithm hmac-sha256; secret \"{rndc_secret}\"; }};\n\
             options {{ default-key \"rndc-key\"; default-port 953; }};\n"
        ),
    )
    .unwrap();
}

fn zone_file(zone: &str, primary: Ipv4Addr, secondary: Ipv4Addr) -> String {
    // Refresh a day, retry an hour: the secondary never refreshes by itself during a test.
    let soa =
        "$TTL 60\n@ IN SOA ns1.example.test. hostmaster.example.test. 1 86400 3600 604800 60\n";
    match zone {
        "example.test" => format!(
            "{soa}@ NS ns1.example.test.\n@ NS ns2.example.test.\n\
             ns1 A {primary}\nns2 A {secondary}\n\
             _dnsauth.shop CNAME shop.delegated.test.\n"
        ),
        "other.test" => format!(
            "{soa}@ NS ns1.other.test.\n@ NS ns2.other.test.\n\
             ns1 A {primary}\nns2 A {secondary}\n"
        ),
        "delegated.test" | "locked.test" | STALE_ZONE => {
            format!("{soa}@ NS ns1.example.test.\n@ NS ns2.example.test.\n")
        }
        _ => unreachable!("unknown zone {zone}"),
    }
}
