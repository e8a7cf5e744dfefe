//! End-to-end issuance with real ACME clients against pebble, which resolves and validates (for real,
//! never PEBBLE_VA_ALWAYS_VALID) through the BIND fixture's secondary, LAG behind the primary.
//!
//! Two tests prove the harness without dcv-hook: certbot's own certbot-dns-rfc2136 plugin sleeping a
//! fixed time above the lag gets a certificate, and when it does not wait pebble really finds nothing
//! and refuses. The rest run each client with dcv-hook as its hook, set up as README tells a user:
//! certbot --manual dns-01 (one name, then six over two zones) and http-01, dehydrated dns-01 with and
//! without HOOK_CHAIN, lego exec, uacme dns-01 and http-01 (the last three through hooks/). http-01
//! names point at a web server on 127.80.N.1:80 serving the web root.

use crate::support::acme::{self, cert_sans};
use crate::support::bind::{BindFixture, BindOptions};
use crate::support::pebble::Pebble;
use crate::support::world::{claim_net, tree};
use dcv_sim::WebServer;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How long after each change the secondary (what pebble asks) serves it: longer than lego's one
/// fixed 1 s sleep, so only a hook that waits gets a certificate.
const LAG: Duration = Duration::from_millis(1500);

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
    // Sleeps well over the lag: the transfer itself takes a moment.
    let (out, cert) = certbot_rfc2136(&bind, &pebble, 3, &["www.example.test"]);
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
/// `names` (served by the secondary before this returns). Like a web farm node that syncs late, it
/// answers 404 for a file until LAG after it was written, so an http-01 hook must wait too.
struct Web {
    root: tempfile::TempDir,
    _server: WebServer,
    _claim: TcpListener,
}

fn web_for(bind: &BindFixture, names: &[&str]) -> Web {
    let (net, claim) = claim_net();
    let root = tempfile::tempdir().unwrap();
    let ip = Ipv4Addr::new(127, 80, net, 1);
    let server = WebServer::start(SocketAddr::new(ip.into(), 80), root.path().to_path_buf())
        .unwrap()
        .with_lag(LAG);
    for name in names {
        bind.add_a(name, ip);
    }
    Web {
        root,
        _server: server,
        _claim: claim,
    }
}

// ---------------------------------------------------------------------------------------------------
// dcv-hook as the hook of each real client, set up the way README tells a user: `dcv-hook` found on
// PATH, every setting in one TOML file named by DCV_HOOK_CONFIG in the client's environment, the
// wrappers of hooks/ used as they are. The secondary pebble asks lags LAG behind the primary dcv-hook
// updates, so a hook that returned before every nameserver serves its record would fail validation
// (`pebble_refuses_a_record_the_secondary_does_not_serve_yet` shows pebble really refuses then).
// After each run: the certificate covers exactly the names asked for, and nothing is left behind (no
// `_acme-challenge` TXT on the primary, no file under the web root's .well-known/acme-challenge, no
// record in dcv-hook's state dir).
// ---------------------------------------------------------------------------------------------------

/// The directory of the dcv-hook binary under test, put first on the clients' PATH.
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_dcv-hook"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A wrapper from the repository's hooks/ directory.
fn hook(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("hooks")
        .join(name)
}

/// dcv-hook's configuration file, its TSIG secret file and its state dir, under pebble's temp dir.
struct DcvHook {
    config: PathBuf,
    state: PathBuf,
}

impl DcvHook {
    /// The config a user writes for the BIND primary (rfc2136 with the fixture's TSIG key; the primary
    /// as resolver) and, for http-01, `webroot`.
    fn new(bind: &BindFixture, pebble: &Pebble, webroot: Option<&Path>) -> DcvHook {
        let dir = pebble.scratch("dcv-hook");
        let secret = dir.join("tsig.secret");
        std::fs::write(&secret, bind.secret()).unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let state = dir.join("state");
        let mut toml = format!(
            "provider = \"rfc2136\"\n\
             rfc2136-server = \"{}\"\n\
             tsig-key = \"{}\"\n\
             tsig-secret-file = \"{}\"\n\
             resolver = [\"{}\"]\n\
             state-dir = \"{}\"\n\
             poll-interval = 0.2\n\
             propagation-timeout = 60\n",
            bind.primary(),
            bind.key_name(),
            secret.display(),
            bind.primary(),
            state.display()
        );
        if let Some(root) = webroot {
            toml += &format!("webroot = \"{}\"\n", root.display());
        }
        let config = dir.join("acme.toml");
        std::fs::write(&config, toml).unwrap();
        DcvHook { config, state }
    }

    /// A client command with dcv-hook on PATH and DCV_HOOK_CONFIG naming the file; nothing else of
    /// dcv-hook's leaks in from the test's own environment.
    fn client(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![bin_dir()];
        dirs.extend(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(dirs).unwrap())
            .env("DCV_HOOK_CONFIG", &self.config);
        for var in [
            "DCV_HOOK_STATE_DIR",
            "DCV_TSIG_SECRET",
            "DCV_HOOK_BIN",
            "DCV_HOOK_WEBROOT",
            "DCV_HOOK_UACME_TYPES",
            "DIGICERT_API_KEY",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// The records dcv-hook still remembers (files under its state dir's records/).
    fn state_records(&self) -> Vec<String> {
        std::fs::read_dir(self.state.join("records"))
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The certificate covers exactly `names`, and nothing is left: no `_acme-challenge` TXT for any
    /// name on the primary, no file under `webroot`'s .well-known/acme-challenge, no state record.
    fn assert_issued_and_clean(
        &self,
        bind: &BindFixture,
        cert: &Path,
        names: &[&str],
        webroot: Option<&Path>,
        report: &str,
    ) {
        let mut want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        want.sort();
        assert!(
            cert.exists(),
            "no certificate at {}\n{report}",
            cert.display()
        );
        assert_eq!(cert_sans(cert), want, "{report}");
        for name in names {
            let txt = format!("_acme-challenge.{}", name.trim_start_matches("*."));
            let left = bind.txt_values(bind.primary(), &txt);
            assert!(
                left.is_empty(),
                "{txt} TXT {left:?} left on the primary\n{report}"
            );
        }
        if let Some(root) = webroot {
            let files: Vec<String> = tree(&root.join(".well-known/acme-challenge"))
                .into_iter()
                .filter(|p| !root.join(".well-known/acme-challenge").join(p).is_dir())
                .collect();
            assert!(
                files.is_empty(),
                "left in the web root: {files:?}\n{report}"
            );
        }
        // The state dir exists only once dcv-hook has recorded something: it really was the hook.
        assert!(
            self.state.join("records").is_dir(),
            "dcv-hook never ran: no {}\n{report}",
            self.state.display()
        );
        let state = self.state_records();
        assert!(
            state.is_empty(),
            "dcv-hook state still holds {state:?}\n{report}"
        );
    }
}

/// Runs `cmd` to completion; its output and how long it took.
fn timed(cmd: &mut Command) -> (Output, Duration) {
    let start = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e} (run scripts/test)", cmd.get_program()));
    (out, start.elapsed())
}

/// `certbot certonly --manual` with dcv-hook as both hooks, as README shows; `auth` is the auth
/// hook command. Returns the output, the run's wall time and the certificate's path.
fn certbot_manual(
    pebble: &Pebble,
    dcv: &DcvHook,
    scratch: &str,
    challenge: &str,
    auth: &str,
    names: &[&str],
) -> (Output, Duration, PathBuf) {
    let dir = pebble.scratch(scratch);
    let mut cmd = dcv.client(acme::certbot());
    cmd.args(["certonly", "--non-interactive", "--agree-tos"])
        .arg("--register-unsafely-without-email")
        .args(["--server", &pebble.directory_url()])
        .args(dirs(&dir))
        .args(["--manual", "--preferred-challenges", challenge])
        .args(["--manual-auth-hook", auth])
        .args(["--manual-cleanup-hook", "dcv-hook cleanup"])
        .args(["--cert-name", "e2e"])
        .env("REQUESTS_CA_BUNDLE", pebble.ca_bundle());
    for name in names {
        cmd.args(["-d", name]);
    }
    let (out, took) = timed(&mut cmd);
    (out, took, dir.join("config/live/e2e/cert.pem"))
}

/// certbot's own log of the run in `scratch` (it has every hook's stdout and stderr, once).
fn certbot_log(pebble: &Pebble, scratch: &str) -> String {
    std::fs::read_to_string(pebble.scratch(scratch).join("logs/letsencrypt.log"))
        .unwrap_or_default()
}

/// [`report`] plus certbot's log.
fn certbot_report(out: &Output, pebble: &Pebble, scratch: &str) -> String {
    format!(
        "{}\ncertbot log:\n{}",
        report(out, pebble),
        certbot_log(pebble, scratch)
    )
}

#[test]
fn certbot_manual_dns01_with_dcv_hook_one_name_then_six_over_two_zones() {
    let (bind, pebble) = start(Some(LAG));
    let dcv = DcvHook::new(&bind, &pebble, None);
    let auth = "dcv-hook auth";

    let one = ["www.example.test"];
    let (out, one_took, cert) = certbot_manual(&pebble, &dcv, "certbot-1", "dns", auth, &one);
    let rep = certbot_report(&out, &pebble, "certbot-1");
    assert!(out.status.success(), "{rep}");
    dcv.assert_issued_and_clean(&bind, &cert, &one, None, &rep);

    // A wildcard and its base name share one TXT name with two values.
    let six = [
        "example.test",
        "*.example.test",
        "a.example.test",
        "other.test",
        "www.other.test",
        "b.other.test",
    ];
    let (out, six_took, cert) = certbot_manual(&pebble, &dcv, "certbot-6", "dns", auth, &six);
    let rep = certbot_report(&out, &pebble, "certbot-6");
    assert!(out.status.success(), "{rep}");
    dcv.assert_issued_and_clean(&bind, &cert, &six, None, &rep);
    // From the hooks' output in certbot's log: five calls published and returned, the last waited
    // once for all six records.
    let log = certbot_log(&pebble, "certbot-6");
    let calls = (
        log.matches("more challenge(s) of this run to come").count(),
        log.matches("all 6 record(s) served").count(),
    );
    assert_eq!(calls, (5, 1), "{rep}");
    // Not asserted (speed never is): the batch waits once for all six, so six names cost little
    // more than one.
    eprintln!(
        "certbot --manual with dcv-hook, secondary lag {LAG:?}: 1 name {:.2} s, 6 names over 2 zones {:.2} s",
        one_took.as_secs_f64(),
        six_took.as_secs_f64()
    );
}

#[test]
fn certbot_manual_http01_with_dcv_hook_over_a_web_root() {
    let (bind, pebble) = start(Some(LAG));
    let names = ["www.example.test", "b.other.test"];
    let web = web_for(&bind, &names);
    let dcv = DcvHook::new(&bind, &pebble, Some(web.root.path()));
    let (out, took, cert) = certbot_manual(
        &pebble,
        &dcv,
        "certbot",
        "http",
        "dcv-hook auth --provider webroot",
        &names,
    );
    let rep = certbot_report(&out, &pebble, "certbot");
    assert!(out.status.success(), "{rep}");
    dcv.assert_issued_and_clean(&bind, &cert, &names, Some(web.root.path()), &rep);
    assert!(pebble.logs().contains("validate w/ HTTP"), "{rep}");
    eprintln!(
        "certbot --manual http-01, 2 names: {:.2} s",
        took.as_secs_f64()
    );
}

/// dehydrated with hooks/dehydrated as HOOK for dns-01, its config exporting DCV_HOOK_CONFIG as
/// README shows; `chain` sets HOOK_CHAIN.
fn dehydrated_dns01(chain: bool) {
    let (bind, pebble) = start(Some(LAG));
    let dcv = DcvHook::new(&bind, &pebble, None);
    let dir = pebble.scratch("dehydrated");
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "CA=\"{}\"\nCHALLENGETYPE=\"dns-01\"\nBASEDIR=\"{}\"\n\
             CONTACT_EMAIL=\"e2e@example.test\"\nHOOK=\"{}\"\nHOOK_CHAIN=\"{}\"\n\
             export DCV_HOOK_CONFIG=\"{}\"\n",
            pebble.directory_url(),
            dir.display(),
            hook("dehydrated").display(),
            if chain { "yes" } else { "no" },
            dcv.config.display()
        ),
    )
    .unwrap();
    let dehydrated = |args: &[&str]| {
        let mut cmd = dcv.client("dehydrated");
        // README's way: the config file exports it; the client's environment does not carry it.
        cmd.env_remove("DCV_HOOK_CONFIG")
            .arg("-f")
            .arg(&config)
            .args(args)
            .env("CURL_CA_BUNDLE", pebble.ca_bundle());
        timed(&mut cmd)
    };
    let (out, _) = dehydrated(&["--register", "--accept-terms"]);
    assert!(out.status.success(), "{}", report(&out, &pebble));
    let names = ["www.example.test", "b.other.test"];
    let (out, took) = dehydrated(&["-c", "-d", names[0], "-d", names[1]]);
    let rep = report(&out, &pebble);
    assert!(out.status.success(), "{rep}");
    let cert = dir.join("certs").join(names[0]).join("cert.pem");
    dcv.assert_issued_and_clean(&bind, &cert, &names, None, &rep);
    // dcv-hook's progress (on dehydrated's stderr): one wait for both names with HOOK_CHAIN, else one
    // wait per name.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let waits = (
        stderr.matches("waiting for 2 record(s)").count(),
        stderr.matches("waiting for 1 record(s)").count(),
    );
    assert_eq!(waits, if chain { (1, 0) } else { (0, 2) }, "{rep}");
    eprintln!(
        "dehydrated dns-01 HOOK_CHAIN={chain}, 2 names: {:.2} s",
        took.as_secs_f64()
    );
}

#[test]
fn dehydrated_dns01_with_the_dcv_hook_wrapper_and_hook_chain() {
    dehydrated_dns01(true);
}

#[test]
fn dehydrated_dns01_with_the_dcv_hook_wrapper_one_name_at_a_time() {
    dehydrated_dns01(false);
}

#[test]
fn lego_exec_with_the_dcv_hook_wrapper() {
    let (bind, pebble) = start(Some(LAG));
    let dcv = DcvHook::new(&bind, &pebble, None);
    let dir = pebble.scratch("lego");
    let names = ["www.example.test", "b.other.test"];
    // --dns.disable-cp rather than a private resolv.conf: lego's own check would poll every
    // nameserver itself and so hide a hook that returns early; with it lego only sleeps one
    // EXEC_POLLING_INTERVAL (1 s, less than LAG) and asks --dns.resolvers once, so the certificate is
    // issued only because lego-exec's dcv-hook auth waited for the lagging secondary.
    // --dns.resolvers (the primary) only keeps that one query off the host's resolver, which does not
    // know the test zones; it passed without it too, where the host's resolver answers at all.
    let mut cmd = dcv.client("lego");
    cmd.args(["--server", &pebble.directory_url()])
        .args(["--accept-tos", "--email", "e2e@example.test", "--path"])
        .arg(&dir)
        .args(["--dns", "exec", "--dns.disable-cp"])
        .args(["--dns.resolvers", &bind.primary_addr().to_string()])
        .args(["-d", names[0], "-d", names[1], "run"])
        .env("LEGO_CA_CERTIFICATES", pebble.ca_bundle())
        .env("EXEC_PATH", hook("lego-exec"))
        .env("EXEC_SEQUENCE_INTERVAL", "0")
        .env("EXEC_POLLING_INTERVAL", "1");
    let (out, took) = timed(&mut cmd);
    let rep = report(&out, &pebble);
    assert!(out.status.success(), "{rep}");
    let cert = dir.join("certificates").join(format!("{}.crt", names[0]));
    dcv.assert_issued_and_clean(&bind, &cert, &names, None, &rep);
    eprintln!("lego exec, 2 names: {:.2} s", took.as_secs_f64());
}

/// uacme with hooks/uacme as its hook, accepting only `challenge` (DCV_HOOK_UACME_TYPES), run in a
/// private mount namespace whose system CA bundle also trusts pebble.
fn uacme_with_dcv_hook(challenge: &str) {
    let (bind, pebble) = start(Some(LAG));
    let names = ["www.example.test", "b.other.test"];
    let web = (challenge == "http-01").then(|| web_for(&bind, &names));
    let webroot = web.as_ref().map(|w| w.root.path());
    let dcv = DcvHook::new(&bind, &pebble, webroot);
    let dir = pebble.scratch("uacme");
    // uacme has no CA option and its libcurl ignores CURL_CA_BUNDLE: it trusts pebble only through
    // the system bundle, replaced in a private mount namespace.
    let bundle = pebble.system_bundle();
    let system = Path::new("/etc/ssl/certs/ca-certificates.crt");
    let uacme = |args: &[&str]| {
        let mut cmd = dcv.client("uacme");
        cmd.args(["-v", "-a", &pebble.directory_url(), "-c"])
            .arg(&dir)
            .args(args)
            .env("DCV_HOOK_UACME_TYPES", challenge);
        timed(&mut acme::with_mounts(&cmd, &[(&bundle, system)]))
    };
    let (out, _) = uacme(&["-y", "new", "e2e@example.test"]);
    assert!(out.status.success(), "{}", report(&out, &pebble));
    let hook = hook("uacme");
    let (out, took) = uacme(&["-h", hook.to_str().unwrap(), "issue", names[0], names[1]]);
    let rep = report(&out, &pebble);
    assert!(out.status.success(), "{rep}");
    let cert = dir.join(names[0]).join("cert.pem");
    dcv.assert_issued_and_clean(&bind, &cert, &names, webroot, &rep);
    if web.is_some() {
        assert!(pebble.logs().contains("validate w/ HTTP"), "{rep}");
    }
    eprintln!("uacme {challenge}, 2 names: {:.2} s", took.as_secs_f64());
    // The namespace kept the replaced bundle to itself.
    let pebble_ca = std::fs::read_to_string(pebble.ca_bundle()).unwrap();
    assert!(
        !std::fs::read_to_string(system)
            .unwrap()
            .contains(pebble_ca.trim())
    );
}

#[test]
fn uacme_dns01_with_the_dcv_hook_wrapper() {
    uacme_with_dcv_hook("dns-01");
}

#[test]
fn uacme_http01_with_the_dcv_hook_wrapper() {
    uacme_with_dcv_hook("http-01");
}
