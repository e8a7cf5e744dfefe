//! moto's server mode as a fake Route 53 on loopback, with hosted zones `example.test` and
//! `other.test` (public) and a private `example.test`. Each [`MotoFixture`] runs its own
//! `moto_server` on a port of 127.0.0.1 the kernel picks (port 0, read back from its log, so
//! parallel runs never meet), and kills it on drop.
//!
//! The fixture seeds and reads zones with plain HTTP: moto does not check signatures, it only picks
//! the service from the credential scope of the `Authorization` header. Needs `moto[server]`
//! (scripts/test installs it into the test venv and exports DCV_TEST_MOTO).

use super::bind::BindFixture;
use super::front::read_request;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

const START_TIMEOUT: Duration = Duration::from_secs(30);
const AUTH: &str = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/route53/aws4_request, SignedHeaders=host, Signature=0";
const XMLNS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

/// Credentials for the SDK (moto takes any).
pub const KEY_ID: &str = "AKIAMOTOTESTKEY00001";
pub const SECRET: &str = "moto-test-secret-key-0123456789abcdefghij";

pub struct MotoFixture {
    child: Child,
    port: u16,
    /// (zone name, zone id) of the public zones.
    pub zones: Vec<(String, String)>,
    /// The id of the private `example.test`.
    pub private_zone: String,
}

impl MotoFixture {
    pub fn start() -> MotoFixture {
        Self::start_with(&[])
    }

    /// moto with extra environment, e.g. `INITIAL_NO_AUTH_ACTION_COUNT=0`, which makes it check
    /// credentials against its IAM (where ours are unknown).
    pub fn start_with(env: &[(&str, &str)]) -> MotoFixture {
        let mut child = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", "0"])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("moto fixture: cannot start moto_server ({e}); pip install 'moto[server]' or set DCV_TEST_MOTO")
            });
        // The port the kernel gave it, from its " * Running on http://127.0.0.1:PORT" line; the
        // rest of its log is drained so that it never blocks on a full pipe.
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                if let Some(port) = line
                    .split("Running on http://127.0.0.1:")
                    .nth(1)
                    .and_then(|p| p.trim().parse::<u16>().ok())
                {
                    let _ = tx.send(port);
                }
            }
        });
        let port = rx.recv_timeout(START_TIMEOUT).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("moto_server did not start within {START_TIMEOUT:?}")
        });
        let mut fixture = MotoFixture {
            child,
            port,
            zones: Vec::new(),
            private_zone: String::new(),
        };
        if env.is_empty() {
            for zone in ["example.test", "other.test"] {
                let id = fixture.create_zone(zone, false);
                fixture.zones.push((zone.to_string(), id));
            }
            fixture.private_zone = fixture.create_zone("example.test", true);
        }
        fixture
    }

    /// What AWS_ENDPOINT_URL is set to.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment the binary (or a conformance case) needs.
    /// The server's address (for a front).
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url()),
            ("AWS_ACCESS_KEY_ID", KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
            ("AWS_REGION", "us-east-1".into()),
            // The SDK's chain never asks the instance metadata service (169.254.169.254).
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    pub fn zone_id(&self, name: &str) -> &str {
        &self.zones.iter().find(|(n, _)| n == name).unwrap().1
    }

    /// The TXT values at `name` in `zone_id`, unquoted and sorted.
    pub fn txt_values(&self, zone_id: &str, name: &str) -> Vec<String> {
        read_txt(self.port, zone_id, name)
    }

    /// Adds TXT `value` at `name` the way another tool would, beside what is there.
    pub fn add_foreign_txt(&self, zone_id: &str, name: &str, value: &str) {
        let mut values: Vec<String> = self.txt_values(zone_id, name);
        values.push(value.to_string());
        let records: String = values
            .iter()
            .map(|v| format!("<ResourceRecord><Value>&quot;{v}&quot;</Value></ResourceRecord>"))
            .collect();
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ChangeResourceRecordSetsRequest xmlns=\"{XMLNS}\"><ChangeBatch><Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>{name}.</Name><Type>TXT</Type><TTL>60</TTL><ResourceRecords>{records}</ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"
        );
        self.call("POST", &format!("hostedzone/{zone_id}/rrset"), Some(body));
    }

    fn create_zone(&self, name: &str, private: bool) -> String {
        let vpc = if private {
            "<VPC><VPCRegion>us-east-1</VPCRegion><VPCId>vpc-12345678</VPCId></VPC><HostedZoneConfig><PrivateZone>true</PrivateZone></HostedZoneConfig>"
        } else {
            ""
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CreateHostedZoneRequest xmlns=\"{XMLNS}\"><Name>{name}.</Name><CallerReference>{}</CallerReference>{vpc}</CreateHostedZoneRequest>",
            fastrand::u64(..)
        );
        let answer = self.call("POST", "hostedzone", Some(body));
        between(&answer, "<Id>/hostedzone/", "</Id>")
            .unwrap_or_else(|| panic!("moto: no zone id in {answer}"))
    }

    fn call(&self, method: &str, path: &str, body: Option<String>) -> String {
        call(self.port, method, path, body)
    }
}

/// The TXT values moto on `port` holds at `name` in `zone_id`, unquoted and sorted.
fn read_txt(port: u16, zone_id: &str, name: &str) -> Vec<String> {
    let body = call(
        port,
        "GET",
        &format!("hostedzone/{zone_id}/rrset?name={name}.&type=TXT&maxitems=1"),
        None,
    );
    let mut values = Vec::new();
    for set in body.split("<ResourceRecordSet>").skip(1) {
        let fqdn = format!("{name}.");
        if between(set, "<Name>", "</Name>").as_deref() != Some(fqdn.as_str())
            || between(set, "<Type>", "</Type>").as_deref() != Some("TXT")
        {
            continue;
        }
        for value in set.split("<Value>").skip(1) {
            let value = value.split("</Value>").next().unwrap_or_default();
            let value = value.replace("&quot;", "\"");
            values.push(dcv_hook::publish::txt::txt_text(&value).unwrap_or(value));
        }
    }
    values.sort();
    values
}

/// One call to moto's Route 53 API on `port`; panics unless it succeeds.
fn call(port: u16, method: &str, path: &str, body: Option<String>) -> String {
    let url = format!("http://127.0.0.1:{port}/2013-04-01/{path}");
    let client = reqwest::blocking::Client::new();
    let request = match method {
        "POST" => client.post(&url).body(body.unwrap_or_default()),
        _ => client.get(&url),
    };
    let response = request
        .header("Authorization", AUTH)
        .header("Content-Type", "text/xml")
        .send()
        .unwrap_or_else(|e| panic!("moto {method} {path}: {e}"));
    let status = response.status();
    let text = response.text().unwrap_or_default();
    assert!(status.is_success(), "moto {method} {path}: {status} {text}");
    text
}

/// What a [`front`] does besides passing requests on to moto.
#[derive(Default)]
pub struct Front {
    /// Answers the first this many requests with Route 53's `Throttling` error.
    pub throttled: usize,
    /// After each change batch moto accepted, writes the TXT sets it names into this BIND
    /// fixture (as the fake Cloudflare's sink does), so the propagation check and the CertCentral
    /// simulator see what Route 53 would serve. Weak: the fixture still drops with its test.
    pub mirror: Option<Weak<BindFixture>>,
}

/// A loopback HTTP front for `moto` doing what `what` says; its URL (for AWS_ENDPOINT_URL), and
/// how many requests it has seen.
pub fn front(moto: &MotoFixture, what: Front) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let (count, port) = (seen.clone(), moto.port);
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            let Some(request) = read_request(&mut client) else {
                continue;
            };
            if count.fetch_add(1, Ordering::SeqCst) < what.throttled {
                let body = "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
                let _ = write!(
                    client,
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                continue;
            }
            // moto closes each connection after its answer, so the answer is all it sends.
            let mut answer = Vec::new();
            if let Ok(mut upstream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
                && upstream.write_all(&request).is_ok()
                && upstream.read_to_end(&mut answer).is_ok()
            {
                if let Some(bind) = what.mirror.as_ref().and_then(Weak::upgrade) {
                    mirror(port, &request, &answer, &bind);
                }
                let _ = client.write_all(&answer);
            }
        }
    });
    (url, seen)
}

/// Writes the TXT sets an accepted change batch (`request`) names, as moto now holds them, into
/// BIND: the zone is the name's last two labels (example.test, other.test).
fn mirror(port: u16, request: &[u8], answer: &[u8], bind: &BindFixture) {
    let request = String::from_utf8_lossy(request);
    let head = request.lines().next().unwrap_or_default();
    let accepted = String::from_utf8_lossy(answer).starts_with("HTTP/1.1 200");
    let Some(zone_id) = head
        .strip_prefix("POST /2013-04-01/hostedzone/")
        .and_then(|rest| rest.strip_suffix("/rrset HTTP/1.1"))
    else {
        return;
    };
    if !accepted {
        return;
    }
    for set in request.split("<ResourceRecordSet>").skip(1) {
        let Some(name) = between(set, "<Name>", "</Name>") else {
            continue;
        };
        let name = name.trim_end_matches('.');
        let zone = name.rsplitn(3, '.').take(2).collect::<Vec<_>>();
        let zone = format!("{}.{}", zone[1], zone[0]);
        let values = read_txt(port, zone_id, name);
        let mut lines = vec![format!("update delete {name}. TXT")];
        lines.extend(
            values
                .iter()
                .map(|v| format!("update add {name}. 60 IN TXT \"{v}\"")),
        );
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        bind.update(&zone, &lines);
    }
}

impl Drop for MotoFixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(rest[..rest.find(end)?].to_string())
}

fn moto_server() -> PathBuf {
    std::env::var_os("DCV_TEST_MOTO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/dcv-hook-test/certbot-venv/bin/moto_server"))
}
