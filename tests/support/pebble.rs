//! A real ACME CA for the end-to-end tests: Let's Encrypt's `pebble` on a loopback address, resolving
//! and validating through a DNS server the test chooses (the BIND fixture's lagging secondary, so a
//! hook that returns before the secondary serves its record really fails validation).
//!
//! Each [`Pebble`] claims its own address 127.14.B.C (ACME on port 14000, management on 15000) by
//! holding a listener on port 14001 of it, so parallel tests and test binaries do not collide. It owns
//! a temporary directory with a fresh CA and a leaf for that address (made with the `openssl` command),
//! the config and the log, starts `pebble` with `PEBBLE_VA_NOSLEEP=1` (no random sleep before each
//! validation), `PEBBLE_WFE_NONCEREJECT=0` (no nonces rejected on purpose) and `PEBBLE_AUTHZREUSE=0`
//! (every order gets fresh authorizations, so the hooks are always called), never
//! `PEBBLE_VA_ALWAYS_VALID`, and polls the directory URL until it answers. http-01 is checked on port
//! 80 of the name's A address, as a real CA does. Drop kills and waits for pebble.
//! Needs the Debian packages pebble and openssl.

use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The ACME port; the directory is at `https://ADDR:14000/dir`.
const ACME_PORT: u16 = 14000;
/// The port whose listener claims the address.
const CLAIM_PORT: u16 = 14001;
/// The management port (`/roots/0` is the root that issued certificates chain to).
const MANAGEMENT_PORT: u16 = 15000;

/// How long pebble may take to answer its directory before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(15);

static NEXT_SLOT: AtomicU32 = AtomicU32::new(0);

/// A running pebble. See the module docs.
pub struct Pebble {
    dir: TempDir,
    ip: Ipv4Addr,
    child: Option<Child>,
    _claim: TcpListener,
}

impl Pebble {
    /// Starts pebble resolving names (for http-01) and TXT records (for dns-01) through `dns`, e.g.
    /// the BIND fixture's secondary on port 53, and returns once its directory answers.
    pub fn start(dns: SocketAddr) -> Pebble {
        let (ip, claim) = claim_ip();
        let dir = tempfile::Builder::new()
            .prefix("dcv-pebble-")
            .tempdir()
            .expect("temp dir");
        make_certs(dir.path(), ip);
        let config = dir.path().join("pebble-config.json");
        let json = serde_json::json!({
            "pebble": {
                "listenAddress": format!("{ip}:{ACME_PORT}"),
                "managementListenAddress": format!("{ip}:{MANAGEMENT_PORT}"),
                "certificate": dir.path().join("cert.pem"),
                "privateKey": dir.path().join("key.pem"),
                "httpPort": 80,
                "tlsPort": 443,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false
            }
        });
        fs::write(&config, serde_json::to_string_pretty(&json).unwrap()).unwrap();
        let log = fs::File::create(dir.path().join("pebble.log")).expect("log file");
        let child = Command::new("pebble")
            .arg("-config")
            .arg(&config)
            .arg("-dnsserver")
            .arg(dns.to_string())
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .env_remove("PEBBLE_VA_ALWAYS_VALID")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("pebble fixture: cannot start pebble ({e}); run scripts/test")
            });
        let mut pebble = Pebble {
            dir,
            ip,
            child: Some(child),
            _claim: claim,
        };
        pebble.wait_ready();
        pebble
    }

    /// The address pebble listens on.
    pub fn ip(&self) -> IpAddr {
        IpAddr::V4(self.ip)
    }

    /// The ACME directory URL, `https://127.14.B.C:14000/dir`.
    pub fn directory_url(&self) -> String {
        format!("https://{}:{ACME_PORT}/dir", self.ip)
    }

    /// A PEM file with the CA that signed pebble's own TLS certificate: what ACME clients must trust
    /// to talk to it (`REQUESTS_CA_BUNDLE` for certbot, `LEGO_CA_CERTIFICATES`, `CURL_CA_BUNDLE` for
    /// dehydrated; uacme needs [`Pebble::system_bundle`] mounted over the system's).
    pub fn ca_bundle(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The system's CA bundle plus [`Pebble::ca_bundle`], for clients that only read the system's
    /// (mount it over /etc/ssl/certs/ca-certificates.crt with [`super::acme::with_mounts`]).
    pub fn system_bundle(&self) -> PathBuf {
        let path = self.dir.path().join("system-bundle.pem");
        if !path.exists() {
            let mut pem = fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default();
            if !pem.is_empty() && !pem.ends_with(b"\n") {
                pem.push(b'\n');
            }
            pem.extend(fs::read(self.ca_bundle()).unwrap());
            fs::write(&path, pem).unwrap();
        }
        path
    }

    /// The root certificate (PEM) that certificates pebble issues chain to; pebble makes a new one
    /// on every start.
    pub fn issuing_root(&self) -> String {
        let url = format!("https://{}:{MANAGEMENT_PORT}/roots/0", self.ip);
        self.client()
            .get(&url)
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.text())
            .unwrap_or_else(|e| panic!("pebble fixture: GET {url}: {e}"))
    }

    /// What pebble logged so far (every request, and every validation with what it found).
    pub fn logs(&self) -> String {
        fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }

    /// A directory under the fixture's temp dir, created, for a client's config, account and certs.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::create_dir_all(&path).unwrap();
        path
    }

    fn client(&self) -> reqwest::blocking::Client {
        let ca = reqwest::Certificate::from_pem(&fs::read(self.ca_bundle()).unwrap()).unwrap();
        reqwest::blocking::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    }

    /// Polls the directory URL (over TLS, trusting only [`Pebble::ca_bundle`]) until it answers.
    fn wait_ready(&mut self) {
        let client = self.client();
        let url = self.directory_url();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("pebble fixture: pebble exited ({status})\n{}", self.logs());
            }
            match client.get(&url).send() {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => assert!(
                    Instant::now() < deadline,
                    "pebble fixture: {url} answers {}\n{}",
                    r.status(),
                    self.logs()
                ),
                Err(e) => assert!(
                    Instant::now() < deadline,
                    "pebble fixture: {url} does not answer after {START_TIMEOUT:?} ({e})\n{}",
                    self.logs()
                ),
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A free 127.14.B.C (B in 1..=250, C in 1..=250): binding port 14001 of it is the claim, atomic
/// across threads and processes and held as long as the listener lives. The pid picks where to start
/// looking, so parallel runs rarely even try the same address. 127/8 is routed to `lo` whole, so no
/// address has to be added (pebble, unlike named, binds any of them).
fn claim_ip() -> (Ipv4Addr, TcpListener) {
    const SLOTS: u32 = 250 * 250;
    let base = std::process::id().wrapping_mul(7919) % SLOTS;
    for _ in 0..SLOTS {
        let slot = (base + NEXT_SLOT.fetch_add(1, Ordering::SeqCst)) % SLOTS;
        let ip = Ipv4Addr::new(127, 14, (slot / 250) as u8 + 1, (slot % 250) as u8 + 1);
        // Something else (a leftover pebble) may hold the ports without the claim.
        let free = |port| TcpListener::bind((ip, port)).is_ok();
        if !free(ACME_PORT) || !free(MANAGEMENT_PORT) {
            continue;
        }
        if let Ok(claim) = TcpListener::bind((ip, CLAIM_PORT)) {
            return (ip, claim);
        }
    }
    panic!("pebble fixture: no free 127.14.B.C address");
}

/// Writes `ca.pem` (a throwaway CA) and `cert.pem` / `key.pem` (a leaf for `ip` and localhost,
/// signed by it) into `dir`.
fn make_certs(dir: &Path, ip: Ipv4Addr) {
    let ext = dir.join("leaf.ext");
    fs::write(
        &ext,
        format!(
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature\n\
             extendedKeyUsage = serverAuth\n\
             subjectAltName = IP:{ip}, DNS:localhost\n"
        ),
    )
    .unwrap();
    let key = "-nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1";
    openssl(
        dir,
        &format!(
            "req -x509 {key} -days 2 -keyout ca.key -out ca.pem -subj /CN=dcv-hook-test-pebble-TLS-CA"
        ),
    );
    openssl(
        dir,
        &format!("req {key} -keyout key.pem -out leaf.csr -subj /CN={ip}"),
    );
    openssl(
        dir,
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 1 -days 2 \
         -extfile leaf.ext -out cert.pem",
    );
}

/// Runs `openssl ARGS` (split on whitespace) in `dir`, panicking with its stderr when it fails.
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .args(args.split_whitespace())
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("pebble fixture: cannot run openssl ({e}); run scripts/test"));
    assert!(
        out.status.success(),
        "pebble fixture: openssl {args} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
