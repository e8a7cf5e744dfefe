//! A real PowerDNS Authoritative server on loopback: the sqlite3 backend holding `example.test` and
//! `other.test` (NS ns1 in each, whose A record is the server's own address, so the propagation
//! check and the CertCentral simulator ask this server as the zones' only nameserver), the HTTP API
//! on port 8081 of the same address with a random key.
//!
//! Each [`PdnsFixture`] claims its own address 127.63.A.B by adding it to `lo` (`ip addr add` fails
//! when the address exists, an atomic claim across test binaries; removed again on drop), owns a
//! temporary directory with pdns.conf, the database and the log, starts `pdns_server` in the
//! foreground and waits until both DNS and the API answer, polling, never sleeping a fixed time.
//! Needs root, pdns-server, pdns-backend-sqlite3 and sqlite3 (scripts/test installs them).

use super::bind::ip_addr;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub const ZONES: [&str; 2] = ["example.test", "other.test"];
pub const API_PORT: u16 = 8081;
const START_TIMEOUT: Duration = Duration::from_secs(20);
const SCHEMA: &str = "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql";

static NEXT_SLOT: AtomicU32 = AtomicU32::new(0);

pub struct PdnsFixture {
    dir: TempDir,
    addr: Ipv4Addr,
    key: String,
    child: Option<Child>,
}

impl PdnsFixture {
    pub fn start() -> PdnsFixture {
        let addr = claim_addr();
        let dir = tempfile::Builder::new()
            .prefix("dcv-pdns-")
            .tempdir()
            .expect("temp dir");
        let key: String = (0..32).map(|_| fastrand::alphanumeric()).collect();
        let mut fixture = PdnsFixture {
            dir,
            addr,
            key,
            child: None,
        };
        fixture.write_files();
        let log = fs::File::create(fixture.dir.path().join("pdns.log")).expect("log");
        fixture.child = Some(
            Command::new(pdns_server())
                .arg(format!("--config-dir={}", fixture.dir.path().display()))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("pdns fixture: cannot start pdns_server ({e}); apt-get install pdns-server pdns-backend-sqlite3")
                }),
        );
        fixture.wait_ready();
        fixture
    }

    /// The server's address: its DNS on port 53, its API on [`API_PORT`].
    pub fn ip(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn dns_addr(&self) -> SocketAddr {
        SocketAddr::from((self.addr, 53))
    }

    pub fn api_addr(&self) -> SocketAddr {
        SocketAddr::from((self.addr, API_PORT))
    }

    pub fn api_url(&self) -> String {
        format!("http://{}:{API_PORT}", self.addr)
    }

    pub fn api_key(&self) -> &str {
        &self.key
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("pdns.log")).unwrap_or_default()
    }

    /// The TXT values the server answers for `name`, sorted, asked over DNS.
    pub fn txt_values(&self, name: &str) -> Vec<String> {
        let mut values = dcv_sim::dns::query(
            self.dns_addr(),
            name,
            hickory_proto::rr::RecordType::TXT,
            false,
            Duration::from_secs(2),
        )
        .map(|m| dcv_sim::dns::txt_values(&m))
        .unwrap_or_default();
        values.sort();
        values
    }

    /// Adds TXT `value` at `name` (in `zone`) the way another tool would: straight into the
    /// database with pdnsutil, next to whatever is there.
    pub fn add_foreign_txt(&self, zone: &str, name: &str, value: &str) {
        let status = Command::new("pdnsutil")
            .arg(format!("--config-dir={}", self.dir.path().display()))
            .args(["add-record", zone])
            .arg(name.strip_suffix(&format!(".{zone}")).unwrap_or("@"))
            .args(["TXT", "60", &format!("\"{value}\"")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("pdnsutil");
        assert!(status.success(), "pdnsutil add-record {name}");
    }

    /// Marks TXT `value` at `name` disabled, as `pdnsutil edit-zone` or the API's `disabled` would.
    pub fn disable_txt(&self, name: &str, value: &str) {
        self.sql(&format!(
            "UPDATE records SET disabled=1 WHERE name='{name}' AND type='TXT' AND content='\"{value}\"';"
        ));
    }

    /// Every TXT record at `name` as the database holds it: (content, disabled), sorted.
    pub fn txt_rows(&self, name: &str) -> Vec<(String, bool)> {
        let out = self.sql(&format!(
            "SELECT content, disabled FROM records WHERE name='{name}' AND type='TXT' ORDER BY content;"
        ));
        out.lines()
            .filter_map(|l| l.rsplit_once('|'))
            .map(|(content, disabled)| (content.to_string(), disabled == "1"))
            .collect()
    }

    fn sql(&self, statement: &str) -> String {
        let out = Command::new("sqlite3")
            .arg(self.dir.path().join("pdns.sqlite3"))
            .arg(statement)
            .output()
            .expect("sqlite3");
        assert!(out.status.success(), "sqlite3 {statement}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn write_files(&self) {
        let dir = self.dir.path();
        let db = dir.join("pdns.sqlite3");
        let schema = fs::read_to_string(SCHEMA).unwrap_or_else(|e| {
            panic!("pdns fixture: no {SCHEMA} ({e}); apt-get install pdns-backend-sqlite3")
        });
        let mut sqlite = Command::new("sqlite3")
            .arg(&db)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("pdns fixture: cannot run sqlite3 ({e}); apt-get install sqlite3")
            });
        std::io::Write::write_all(sqlite.stdin.as_mut().unwrap(), schema.as_bytes()).unwrap();
        drop(sqlite.stdin.take());
        assert!(sqlite.wait().unwrap().success(), "sqlite3 schema");
        fs::write(
            dir.join("pdns.conf"),
            format!(
                "launch=gsqlite3\n\
                 gsqlite3-database={db}\n\
                 local-address={addr}\n\
                 local-port=53\n\
                 api=yes\n\
                 api-key={key}\n\
                 webserver=yes\n\
                 webserver-address={addr}\n\
                 webserver-port={API_PORT}\n\
                 webserver-allow-from=127.0.0.0/8\n\
                 daemon=no\n\
                 guardian=no\n\
                 disable-syslog=yes\n\
                 socket-dir={dir}\n\
                 loglevel=4\n",
                db = db.display(),
                addr = self.addr,
                key = self.key,
                dir = dir.display(),
            ),
        )
        .unwrap();
        for zone in ZONES {
            let file = dir.join(format!("{zone}.zone"));
            fs::write(
                &file,
                format!(
                    "$ORIGIN {zone}.\n\
                     @ 3600 IN SOA ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 60\n\
                     @ 3600 IN NS ns1.{zone}.\n\
                     ns1 3600 IN A {addr}\n",
                    addr = self.addr
                ),
            )
            .unwrap();
            let status = Command::new("pdnsutil")
                .arg(format!("--config-dir={}", dir.display()))
                .args(["load-zone", zone])
                .arg(&file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("pdnsutil");
            assert!(status.success(), "pdnsutil load-zone {zone}");
        }
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let dns = ZONES.iter().all(|zone| {
                dcv_sim::dns::query(
                    self.dns_addr(),
                    zone,
                    hickory_proto::rr::RecordType::SOA,
                    false,
                    Duration::from_millis(300),
                )
                .is_ok_and(|m| !m.answers.is_empty())
            });
            let api = TcpStream::connect((self.addr, API_PORT)).is_ok();
            if dns && api {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("pdns_server exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "pdns_server not ready after {START_TIMEOUT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PdnsFixture {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        ip_addr("del", self.addr);
    }
}

fn pdns_server() -> PathBuf {
    ["/usr/sbin/pdns_server", "/usr/local/sbin/pdns_server"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("pdns_server"))
}

/// A free 127.63.A.B added to `lo` (pdns, like named, listens only on an interface's address).
fn claim_addr() -> Ipv4Addr {
    const SLOTS: u32 = 250 * 250;
    let base = std::process::id().wrapping_mul(7919) % SLOTS;
    for _ in 0..SLOTS {
        let slot = (base + NEXT_SLOT.fetch_add(1, Ordering::SeqCst)) % SLOTS;
        let addr = Ipv4Addr::new(127, 63, (slot / 250) as u8 + 1, (slot % 250) as u8 + 1);
        if UdpSocket::bind((addr, 53)).is_err() {
            continue;
        }
        if ip_addr("add", addr) {
            return addr;
        }
    }
    panic!("pdns fixture: no free loopback address");
}
