//! End-to-end issuance with real ACME clients against pebble, which resolves and validates through the
//! BIND fixture's lagging secondary. These tests prove the harness itself, without dcv-hook: certbot's
//! own certbot-dns-rfc2136 plugin waits a fixed time just above the lag and gets a certificate, and
//! when it does not wait pebble really finds nothing and refuses; certbot's webroot and a uacme shell
//! hook (uacme in a private mount namespace trusting pebble) get http-01 certificates from a web
//! server the names' A records point at.

use crate::support::acme::{self, cert_sans};
use crate::support::bind::{BindFixture, BindOptions};
use crate::support::pebble::Pebble;
use crate::support::world::claim_net;
use dcv_sim::WebServer;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// How long after each change the secondary (what pebble asks) serves it.
const LAG: Duration = Duration::from_secs(1);

/// BIND with the secondary `lag` behind, and pebble resolving through that secondary.
fn start(lag: Option<Duration>) -> (BindFixture, Pebble) {
    let bind = BindFixture::start(BindOptions { lag });
    let pebble = Pebble::start(SocketAddr::new(bind.secondary(), 53));
    (bind, pebble)
}

/// `certbot certonly` for `names` with the dns-rfc2136 authenticator, updating the primary with the
/// fixture's TSIG key and sleeping `propagation_seconds` before it asks pebble to validate.
fn certbot_rfc2136(
    bind: &BindFixture,
    pebble: &Pebble,
    propagation_seconds: u32,
    names: &[&str],
) -> (Output, PathBuf) {
    let dir = pebble.scratch("certbot");
    let ini = dir.join("rfc2136.ini");
    std::fs::write(
        &ini,
        format!(
            "dns_rfc2136_server = {}\ndns_rfc2136_port = 53\ndns_rfc2136_name = {}\n\
             dns_rfc2136_secret = {}\ndns_rfc2136_algorithm = HMAC-SHA256\n",
            bind.primary(),
            bind.key_name(),
            bind.secret()
        ),
    )
    .unwrap();
    // certbot warns about credentials files others can read.
    std::fs::set_permissions(&ini, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cmd = Command::new(acme::certbot());
    cmd.args(["certonly", "--non-interactive", "--agree-tos"])
        .arg("--register-unsafely-without-email")
        .args(["--server", &pebble.directory_url()])
        .args(dirs(&dir))
        .args([
            "--authenticator",
            "dns-rfc2136",
            "--dns-rfc2136-credentials",
        ])
        .arg(&ini)
        .args([
            "--dns-rfc2136-propagation-seconds",
            &propagation_seconds.to_string(),
        ])
        .args(["--cert-name", "e2e"])
        .env("REQUESTS_CA_BUNDLE", pebble.ca_bundle());
    for name in names {
        cmd.args(["-d", name]);
    }
    let out = cmd.output().expect("certbot runs");
    (out, dir.join("config/live/e2e/cert.pem"))
}

/// certbot's own directories under `dir`, so nothing touches /etc/letsencrypt.
fn dirs(dir: &Path) -> Vec<String> {
    ["config", "work", "logs"]
        .iter()
        .flat_map(|d| [format!("--{d}-dir"), dir.join(d).display().to_string()])
        .collect()
}

fn report(out: &Output, pebble: &Pebble) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}\npebble log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        pebble.logs()
    )
}

#[test]
fn certbot_dns_rfc2136_gets_a_certificate_through_the_lagging_secondary() {
    let (bind, pebble) = start(Some(LAG));
    // Sleeps a second more than the lag: the transfer itself takes a moment.
    let (out, cert) = certbot_rfc2136(&bind, &pebble, 2, &["www.example.test"]);
    assert!(out.status.success(), "{}", report(&out, &pebble));
    assert_eq!(cert_sans(&cert), ["www.example.test"]);
    // Its cleanup removed the record again, on the primary and (after the lag) the secondary.
    assert!(
        bind.txt_values(bind.primary(), "_acme-challenge.www.example.test")
            .is_empty()
    );
}

#[test]
fn pebble_refuses_a_record_the_secondary_does_not_serve_yet() {
    // The secondary never transfers: what certbot adds on the primary, pebble never sees.
    let (bind, pebble) = start(None);
    let (out, cert) = certbot_rfc2136(&bind, &pebble, 0, &["www.example.test"]);
    drop(bind);
    assert!(!out.status.success(), "{}", report(&out, &pebble));
    assert!(!cert.exists());
    // pebble's own log does not say why; certbot prints the CA's problem document.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("unauthorized")
            && stdout.contains("TXT records for DNS challenge")
            && stdout.contains("_acme-challenge.www.example.test"),
        "{}",
        report(&out, &pebble)
    );
}

/// A web server on port 80 of a fresh 127.80.N.1 serving a temp web root, and A records to it for
/// `names` (served by the secondary before this returns).
struct Web {
    root: tempfile::TempDir,
    _server: WebServer,
    _claim: TcpListener,
}

fn web_for(bind: &BindFixture, names: &[&str]) -> Web {
    let (net, claim) = claim_net();
    let root = tempfile::tempdir().unwrap();
    let ip = Ipv4Addr::new(127, 80, net, 1);
    let server =
        WebServer::start(SocketAddr::new(ip.into(), 80), root.path().to_path_buf()).unwrap();
    for name in names {
        bind.add_a(name, ip);
    }
    Web {
        root,
        _server: server,
        _claim: claim,
    }
}

#[test]
fn certbot_webroot_gets_a_certificate_over_http() {
    let (bind, pebble) = start(Some(LAG));
    let names = ["www.example.test", "b.other.test"];
    let web = web_for(&bind, &names);
    let dir = pebble.scratch("certbot");
    let out = Command::new(acme::certbot())
        .args(["certonly", "--non-interactive", "--agree-tos"])
        .arg("--register-unsafely-without-email")
        .args(["--server", &pebble.directory_url()])
        .args(dirs(&dir))
        .arg("--webroot")
        .arg("-w")
        .arg(web.root.path())
        .args(["--cert-name", "e2e", "-d", names[0], "-d", names[1]])
        .env("REQUESTS_CA_BUNDLE", pebble.ca_bundle())
        .output()
        .expect("certbot runs");
    assert!(out.status.success(), "{}", report(&out, &pebble));
    assert_eq!(
        cert_sans(&dir.join("config/live/e2e/cert.pem")),
        ["b.other.test", "www.example.test"]
    );
}

#[test]
fn uacme_with_a_shell_hook_gets_a_certificate_over_http() {
    let (bind, pebble) = start(Some(LAG));
    let web = web_for(&bind, &["www.example.test"]);
    let dir = pebble.scratch("uacme");
    // uacme offers each type in turn (pebble shuffles them); declining with exit 1 moves on.
    let hook = dir.join("hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh
# uacme hook: METHOD TYPE IDENT TOKEN AUTH
             [ \"$2\" = http-01 ] || exit 1
             dir={}/.well-known/acme-challenge
             case $1 in
             begin) mkdir -p \"$dir\" && printf %s \"$5\" > \"$dir/$4\" ;;
             *) rm -f \"$dir/$4\" ;;
             esac
",
            web.root.path().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    // uacme has no CA option and its libcurl ignores CURL_CA_BUNDLE: it trusts pebble only through
    // the system bundle, replaced in a private mount namespace.
    let bundle = pebble.system_bundle();
    let system = Path::new("/etc/ssl/certs/ca-certificates.crt");
    let uacme = |args: &[&str]| {
        let mut cmd = Command::new("uacme");
        cmd.args(["-a", &pebble.directory_url(), "-c"])
            .arg(&dir)
            .args(args);
        acme::with_mounts(&cmd, &[(&bundle, system)])
            .output()
            .expect("uacme runs (run scripts/test)")
    };
    let out = uacme(&["-y", "new", "e2e@example.test"]);
    assert!(out.status.success(), "{}", report(&out, &pebble));
    let out = uacme(&["-h", hook.to_str().unwrap(), "issue", "www.example.test"]);
    assert!(out.status.success(), "{}", report(&out, &pebble));
    assert_eq!(
        cert_sans(&dir.join("www.example.test/cert.pem")),
        ["www.example.test"]
    );
    // The namespace kept the replaced bundle to itself.
    let pebble_ca = std::fs::read_to_string(pebble.ca_bundle()).unwrap();
    assert!(
        !std::fs::read_to_string(system)
            .unwrap()
            .contains(pebble_ca.trim())
    );
}
