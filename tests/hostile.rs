//! Hostile input through the binary: bad flags, environment, config, ini, key, state and web root
//! files, and bad answers from the API, DNS and web servers. One table per world (the servers are
//! shared by its cases); every case states its exit code and a piece of its error, and every case
//! also gets the same checks: never a panic (101) or an internal error (70), the error is one line
//! `dcv-hook: error: ...` (the last on stderr, every other line a `dcv-hook: ` progress or warning
//! line), no secret in the output, and nothing published: the web roots and every file the case made
//! are as they were, and the state directory holds no new record.

use crate::support::world::{API_KEY, HttpWorld, bare_cmd, tree};
use dcv_sim::{DomainSpec, Fault, OrderSpec, RecordData, SimConfig, Simulator};
use std::path::Path;
use std::time::{Duration, Instant};

/// A TSIG secret (valid base64) that must never be printed.
const TSIG_SENTINEL: &str = "SG9zdGlsZVRzaWdTZW50aW5lbDQy";

/// A secret in an ini file that must never be printed, not even in its parse error (no `=`
/// padding, so a line holding only the secret is a line without `=`).
const INI_SENTINEL: &str = "aW5pLXNlY3JldC1zZW50aW5s";

/// One hostile input and what dcv-hook must make of it.
struct Case {
    desc: &'static str,
    /// The command and its flags, after the world's common ones (API URL and key, resolver, state
    /// dir, fast polling). `{dir}` is the case's scratch directory, `{order}` and `{domain}` the ids
    /// of the simulator's http-token order (www.example.test) and domain (shop.example.test),
    /// `{webroot}` the world's web root, `{webserver}` its first web server's address.
    args: Vec<String>,
    env: Vec<(&'static str, String)>,
    /// Files written under the scratch directory first (`{dir}` is replaced in their text too).
    files: Vec<(&'static str, Vec<u8>)>,
    /// The simulator's next answers, in order (`Fault::Slow(ZERO)` lets one request through).
    faults: Vec<Fault>,
    /// More setup in the scratch directory (links, fifos).
    setup: Option<fn(&Path)>,
    /// The case publishes on purpose (it is about what happens afterwards): a cleanup follows.
    publishes: bool,
    code: i32,
    /// A piece of the error line (for exit 0: of a warning line).
    error: &'static str,
}

fn case(desc: &'static str, code: i32, error: &'static str) -> Case {
    Case {
        desc,
        args: Vec::new(),
        env: Vec::new(),
        files: Vec::new(),
        faults: Vec::new(),
        setup: None,
        publishes: false,
        code,
        error,
    }
}

impl Case {
    fn args(mut self, args: &[&str]) -> Case {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }
    /// `auth --order-id {order}` with the webroot provider, then `extra`.
    fn auth_order(self, extra: &[&str]) -> Case {
        self.args(&["auth", "--order-id", "{order}"])
            .webroot()
            .args(extra)
    }
    fn webroot(self) -> Case {
        self.args(&["--provider", "webroot", "--webroot", "{webroot}"])
    }
    /// rfc2136 settings that need no network until something is published.
    fn rfc2136(self) -> Case {
        self.args(&[
            "--provider",
            "rfc2136",
            "--rfc2136-server",
            "127.0.0.1:9",
            "--tsig-key",
            "k",
        ])
        .env("DCV_TSIG_SECRET", TSIG_SENTINEL)
    }
    fn env(mut self, name: &'static str, value: &str) -> Case {
        self.env.push((name, value.to_string()));
        self
    }
    fn file(mut self, path: &'static str, text: impl AsRef<[u8]>) -> Case {
        self.files.push((path, text.as_ref().to_vec()));
        self
    }
    fn faults(mut self, faults: Vec<Fault>) -> Case {
        self.faults = faults;
        self
    }
    fn setup(mut self, f: fn(&Path)) -> Case {
        self.setup = Some(f);
        self
    }
    fn publishes(mut self) -> Case {
        self.publishes = true;
        self
    }
}

/// Makes a FIFO at `path` (a name that blocks a reader until a writer comes).
fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
}

/// Lets `n` requests through, then answers `status` with `body`.
fn answer_after(n: usize, status: u16, body: impl Into<String>) -> Vec<Fault> {
    let mut faults = vec![Fault::Slow(Duration::ZERO); n];
    faults.push(Fault::Body {
        status,
        body: body.into(),
    });
    faults
}

/// What a case did, for the table printed at the end.
struct Outcome {
    desc: &'static str,
    expected: i32,
    observed: Option<i32>,
    error: String,
    problems: Vec<String>,
}

/// Runs every case against `w`, prints the table and fails with every problem found.
fn run_table(w: &HttpWorld, cases: Vec<Case>) {
    let started = Instant::now();
    let outcomes: Vec<Outcome> = cases.into_iter().map(|c| run_case(w, c)).collect();
    let mut failed = Vec::new();
    for o in &outcomes {
        let observed = o.observed.map_or("none".to_string(), |c| c.to_string());
        println!(
            "{:<62} expected {:>2} observed {:>4}  {}",
            o.desc, o.expected, observed, o.error
        );
        for p in &o.problems {
            failed.push(format!("{}: {p}", o.desc));
        }
    }
    println!(
        "{} cases in {:.1}s",
        outcomes.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failed.is_empty(), "\n{}", failed.join("\n"));
}

/// Every file below `root` with its content, leaving out what any command may add to a state dir.
fn snapshot(root: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    tree(root)
        .into_iter()
        .filter(|p| !matches!(p.as_str(), "state" | "state/records" | "state/lock"))
        .map(|p| {
            let full = root.join(&p);
            let meta = std::fs::symlink_metadata(&full).ok();
            let content = meta
                .filter(|m| m.file_type().is_file())
                .and_then(|_| std::fs::read(&full).ok());
            (p, content)
        })
        .collect()
}

fn run_case(w: &HttpWorld, c: Case) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    for (path, text) in &c.files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        let text = match std::str::from_utf8(text) {
            Ok(s) => s.replace("{dir}", &d).into_bytes(),
            Err(_) => text.clone(),
        };
        std::fs::write(&full, text).unwrap();
    }
    if let Some(setup) = c.setup {
        setup(dir.path());
    }
    let sim = Simulator::start(SimConfig::new(API_KEY, w.dns.addr()));
    let order = sim
        .add_order(OrderSpec::new(["www.example.test"]).method("http-token"))
        .to_string();
    let domain = sim
        .add_domain(DomainSpec::new("shop.example.test").method("http-token"))
        .to_string();
    for f in c.faults {
        sim.fail_next(1, f);
    }
    let fill = |a: &str| {
        a.replace("{dir}", &d)
            .replace("{order}", &order)
            .replace("{domain}", &domain)
            .replace("{webroot}", &w.webroot.path().display().to_string())
            .replace("{webserver}", &w.web[0].addr().to_string())
    };
    let webroot_before = snapshot(w.webroot.path());
    let scratch_before = snapshot(dir.path());

    let mut cmd = bare_cmd();
    cmd.env("DIGICERT_API_KEY", API_KEY);
    // The flag would win over a case's DIGICERT_API_URL.
    if !c.env.iter().any(|(name, _)| *name == "DIGICERT_API_URL") {
        cmd.args(["--api-url", &sim.url()]);
    }
    cmd.args(["--resolver", &w.dns.addr().to_string()])
        .args(["--state-dir", &format!("{d}/state")])
        .args(["--poll-interval", "0.1", "--propagation-timeout", "1"])
        .args(["--timeout", "2"]);
    cmd.args(c.args.iter().map(|a| fill(a)));
    for (name, value) in &c.env {
        cmd.env(name, fill(value));
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code();
    let mut problems = Vec::new();
    let mut problem = |p: String| problems.push(p);

    if code != Some(c.code) {
        problem(format!("exit {code:?}, expected {}", c.code));
    }
    if matches!(code, Some(101) | Some(70) | None) {
        problem(format!("exit {code:?} is a crash or an internal error"));
    }
    for text in [&stdout, &stderr] {
        if text.contains("panicked") || text.contains("RUST_BACKTRACE") {
            problem("a panic was printed".to_string());
        }
        for secret in [API_KEY, TSIG_SENTINEL, INI_SENTINEL] {
            if text.contains(secret) {
                problem(format!("the secret {secret} was printed"));
            }
        }
    }
    if let Some(c) = stderr.chars().find(|c| c.is_control() && *c != '\n') {
        problem(format!("stderr holds the control character {c:?}"));
    }
    let lines: Vec<&str> = stderr.lines().collect();
    for line in &lines {
        if !line.starts_with("dcv-hook: ") {
            problem(format!(
                "stderr line not from dcv-hook (a multi-line message?): {line:?}"
            ));
        }
    }
    let errors: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("dcv-hook: error: "))
        .collect();
    let error_line = errors.first().map(|l| l.to_string()).unwrap_or_default();
    if c.code == 0 {
        if !errors.is_empty() {
            problem(format!("an error on success: {errors:?}"));
        }
        if !lines
            .iter()
            .any(|l| l.starts_with("dcv-hook: warning: ") && l.contains(c.error))
        {
            problem(format!("no warning containing {:?}: {stderr}", c.error));
        }
    } else {
        if errors.len() != 1 || lines.last() != errors.first().map(|l| **l).as_ref() {
            problem(format!("not exactly one error line, last: {stderr}"));
        }
        if !error_line
            .to_ascii_lowercase()
            .contains(&c.error.to_ascii_lowercase())
        {
            problem(format!("error lacks {:?}: {error_line}", c.error));
        }
    }
    if c.publishes {
        let cleanup = bare_cmd()
            .args(["cleanup", "--state-dir", &format!("{d}/state")])
            .output()
            .unwrap();
        if !cleanup.status.success() {
            problem(format!(
                "cleanup after it failed: {}",
                String::from_utf8_lossy(&cleanup.stderr)
            ));
        }
    }
    if snapshot(w.webroot.path()) != webroot_before {
        problem(format!(
            "the web root changed: {:?}",
            tree(w.webroot.path())
        ));
    }
    if snapshot(dir.path()) != scratch_before {
        problem(format!(
            "files changed (state left, or something written): {:?}",
            tree(dir.path())
        ));
    }
    let error = error_line
        .strip_prefix("dcv-hook: error: ")
        .unwrap_or(if c.code == 0 { "(warning only)" } else { "" })
        .chars()
        .take(110)
        .collect();
    Outcome {
        desc: c.desc,
        expected: c.code,
        observed: code,
        error,
        problems,
    }
}

/// A valid state entry for `provider` whose record is `record_json`.
fn state_entry(provider: &str, record_json: &str, location: &str) -> String {
    state_entry_with(provider, record_json, location, "")
}

/// [`state_entry`] with the provider's undo data `undo` (`,"key":value` pairs).
fn state_entry_with(provider: &str, record_json: &str, location: &str, undo: &str) -> String {
    format!(
        r#"{{"version":1,"status":"published","source":{{"order_id":7}},"created":1,
        "published":{{"record":{record_json},"provider":"{provider}","location":"{location}"{undo}}}}}"#
    )
}

/// A TXT record at www.example.test holding `tok`, as the state keeps it.
const TXT_RECORD: &str = r#"{"domain":"www.example.test","type":"TXT","name":"_dnsauth.www.example.test","value":"tok"}"#;

/// An exec entry naming the program `{dir}/hook`.
fn exec_entry() -> String {
    state_entry_with(
        "exec",
        TXT_RECORD,
        "_dnsauth.www.example.test.",
        r#","program":"{dir}/hook","timeout":5"#,
    )
}

/// A hook that leaves a marker when run: the case's snapshot then shows it ran.
const MARKING_HOOK: &str = "#!/bin/sh\ntouch {dir}/ran\n";

fn http_record(url_path: &str) -> String {
    format!(
        r#"{{"domain":"www.example.test","type":"HTTP","name":"http://www.example.test{url_path}","value":"tok"}}"#
    )
}

#[test]
fn hostile_input_gets_one_clear_line_and_its_exit_code() {
    let w = HttpWorld::new(&["www.example.test", "shop.example.test"], &[None]);
    // DNS answers a CA would never want to see.
    w.dns.add(
        "_acme-challenge.loop.example.test",
        RecordData::Cname("_acme-challenge.loop.example.test".into()),
    );
    w.dns
        .add("zero.example.test", RecordData::A([0, 0, 0, 0].into()));
    let long_label = format!("{}.example.test", "a".repeat(64));
    let long_name = format!("{}.test", vec!["a".repeat(62); 4].join("."));
    let long_label: &'static str = long_label.leak();
    let long_name: &'static str = long_name.leak();
    let big_token = format!(r#"{{"dcv_random_value":"{}"}}"#, "a".repeat(5 << 20));
    let big_garbage = "<".repeat(5 << 20);

    let cases = vec![
        // --- names on the command line ---
        case("flag: name with ..", 65, "invalid domain name").auth_order(&["-d", "a..example.test"]),
        case("flag: name ../etc", 65, "invalid domain name").auth_order(&["-d", "../etc"]),
        case("flag: name with /", 65, "slash").auth_order(&["-d", "www.example.test/x"]),
        case("flag: name with a space", 65, "space").auth_order(&["-d", "www example.test"]),
        case("flag: label of 64", 65, "longer than 63").auth_order(&["-d", long_label]),
        case("flag: name of 254", 65, "more than 253").auth_order(&["-d", long_name]),
        case("flag: bad punycode xn--a", 65, "internationalized").auth_order(&["-d", "xn--a.example.test"]),
        case("flag: IDN label starting with a combining mark", 65, "internationalized")
            .auth_order(&["-d", "\u{301}a.example.test"]),
        case("flag: IDN mixing LTR and RTL (bidi rule)", 65, "internationalized")
            .auth_order(&["-d", "a\u{5d0}.example.test"]),
        case("flag: *.*.example.test", 65, "stray '*'").auth_order(&["-d", "*.*.example.test"]),
        case("flag: *.x wildcard with http-token", 64, "wildcard")
            .args(&["run", "-d", "*.shop.example.test"])
            .webroot(),
        case("flag: --ttl 0", 64, "--ttl must be").auth_order(&["--ttl", "0"]),
        case("flag: --ttl 4294967295", 64, "--ttl must be").auth_order(&["--ttl", "4294967295"]),
        case("flag: --ttl 4294967296", 64, "--ttl").auth_order(&["--ttl", "4294967296"]),
        case("flag: --poll-interval -1", 64, "--poll-interval").auth_order(&["--poll-interval=-1"]),
        case("flag: --poll-interval NaN", 64, "--poll-interval").auth_order(&["--poll-interval", "NaN"]),
        case("flag: --propagation-timeout inf", 64, "--propagation-timeout")
            .auth_order(&["--propagation-timeout", "inf"]),
        case("flag: --resolver not an IP", 64, "--resolver").auth_order(&["--resolver", "ns1.example.test"]),
        case("flag: unknown --provider", 64, "--provider")
            .args(&["auth", "--order-id", "{order}", "--provider", "gopher"]),
        case("flag: unknown --method", 64, "--method").auth_order(&["--method", "email"]),
        case("flag: --order-id with a terminal escape", 64, "--order-id")
            .args(&["status", "--order-id", "1\x1b]0;owned\x07\x1b[2J"]),
        case("flag: --order-id not a number", 64, "--order-id")
            .args(&["verify", "--order-id", "12; rm -rf /"]),
        case("flag: --api-url not http(s)", 64, "--api-url").auth_order(&["--api-url", "file:///etc/passwd"]),
        case("flag: --http-port 70000", 64, "--http-port").auth_order(&["--http-port", "70000"]),
        case("flag: --acme-value with spaces", 65, "not usable")
            .args(&["auth", "-d", "www.example.test", "--acme-value", "a b"])
            .webroot(),
        case("flag: --acme-value with a quote", 65, "not usable")
            .args(&["auth", "-d", "www.example.test", "--acme-value", "a\"b"])
            .rfc2136(),
        case("flag: --acme-token ../", 65, "base64url")
            .args(&["auth", "-d", "www.example.test", "--acme-value", "v", "--acme-token", "../../etc/passwd"])
            .webroot(),
        case("flag: --acme-fqdn with a slash", 65, "--acme-fqdn")
            .args(&["auth", "--acme-fqdn", "_acme-challenge/x.example.test", "--acme-value", "v"])
            .rfc2136(),
        case("flag: --state-dir is a file", 73, "cannot write state")
            .file("not-a-dir", "x")
            .auth_order(&["--state-dir", "{dir}/not-a-dir"]),
        // --- environment ---
        case("env: CERTBOT_VALIDATION without CERTBOT_DOMAIN", 64, "CERTBOT_DOMAIN is not")
            .args(&["auth"])
            .webroot()
            .env("CERTBOT_VALIDATION", "v"),
        case("env: CERTBOT_DOMAIN with ..", 65, "CERTBOT_DOMAIN")
            .args(&["auth"])
            .webroot()
            .env("CERTBOT_DOMAIN", "www..example.test")
            .env("CERTBOT_VALIDATION", "v"),
        case("env: CERTBOT_TOKEN with ../", 65, "base64url")
            .args(&["auth"])
            .webroot()
            .env("CERTBOT_DOMAIN", "www.example.test")
            .env("CERTBOT_VALIDATION", "v")
            .env("CERTBOT_TOKEN", "../../../etc/cron.d/x"),
        case("env: CERTBOT_VALIDATION with a newline", 65, "not usable")
            .args(&["auth"])
            .rfc2136()
            .env("CERTBOT_DOMAIN", "www.example.test")
            .env("CERTBOT_VALIDATION", "v\nw"),
        case("env: CERTBOT_REMAINING_CHALLENGES not a number", 64, "CERTBOT_REMAINING_CHALLENGES")
            .args(&["auth"])
            .rfc2136()
            .env("CERTBOT_DOMAIN", "www.example.test")
            .env("CERTBOT_VALIDATION", "v")
            .env("CERTBOT_REMAINING_CHALLENGES", "-1"),
        case("env: DIGICERT_API_KEY with a newline", 78, "control character")
            .auth_order(&[])
            .env("DIGICERT_API_KEY", "key\nX-Injected: 1"),
        case("env: DCV_TSIG_SECRET not base64", 78, "base64")
            .args(&["auth", "-d", "www.example.test", "--acme-value", "v"])
            .rfc2136()
            .env("DCV_TSIG_SECRET", "not base64 !"),
        case("env: DIGICERT_API_URL not a URL", 78, "DIGICERT_API_URL")
            .auth_order(&[])
            .env("DIGICERT_API_URL", "javascript:alert(1)"),
        // Each was tried 5 times before, then 69 "builder error".
        case("env: DIGICERT_API_URL with port 99999", 78, "DIGICERT_API_URL \"http://127.0.0.1:99999/\" is not a URL")
            .auth_order(&[])
            .env("DIGICERT_API_URL", "http://127.0.0.1:99999/"),
        case("env: DIGICERT_API_URL with an open bracket", 78, "DIGICERT_API_URL \"http://[::1:8080/\" is not a URL")
            .auth_order(&[])
            .env("DIGICERT_API_URL", "http://[::1:8080/"),
        case("flag: --api-url with port 99999", 64, "--api-url \"http://127.0.0.1:99999/\" is not a URL")
            .auth_order(&["--api-url", "http://127.0.0.1:99999/"]),
        case("env: DCV_HOOK_CONFIG names a missing file", 78, "cannot read config file")
            .auth_order(&[])
            .env("DCV_HOOK_CONFIG", "{dir}/missing.toml"),
        // Read without end before (24 GB, then killed); a FIFO waited in open for a writer.
        case("env: DCV_HOOK_CONFIG is /dev/zero", 78, "/dev/zero: it is a character device")
            .auth_order(&[])
            .env("DCV_HOOK_CONFIG", "/dev/zero"),
        case("env: DCV_HOOK_CONFIG is a FIFO", 78, "c.toml: it is a FIFO, not a regular file")
            .setup(|d| mkfifo(&d.join("c.toml")))
            .auth_order(&[])
            .env("DCV_HOOK_CONFIG", "{dir}/c.toml"),
        // --- config file ---
        case("config: unknown key", 78, "unknown key \"ttll\"")
            .file("c.toml", "ttll = 1\n")
            .auth_order(&["--config", "{dir}/c.toml"]),
        case("config: wrong type", 78, "c.toml")
            .file("c.toml", "ttl = \"soon\"\n")
            .auth_order(&["--config", "{dir}/c.toml"]),
        case("config: not TOML", 78, "c.toml")
            .file("c.toml", "<?xml version=\"1.0\"?><config/>\n")
            .auth_order(&["--config", "{dir}/c.toml"]),
        case("config: not UTF-8", 78, "cannot read config file")
            .file("c.toml", [0xff, 0xfe, 0x00, 0x41])
            .auth_order(&["--config", "{dir}/c.toml"]),
        case("config: a directory", 78, "cannot read config file")
            .file("c.toml/x", "")
            .auth_order(&["--config", "{dir}/c.toml"]),
        case("config: larger than 1 MiB", 78, "c.toml: it is larger than 1024 KiB")
            .file("c.toml", format!("ttl = 60\n{}", "#".repeat(1 << 20)))
            .auth_order(&["--config", "{dir}/c.toml"]),
        case("config: domain with NUL", 65, "invalid domain name")
            .file("c.toml", "domain = [\"www.example.test\\u0000.evil\"]\n")
            .auth_order(&["--config", "{dir}/c.toml"]),
        case("config: acme-fqdn with NUL", 65, "--acme-fqdn")
            .file(
                "c.toml",
                "acme-fqdn = [\"_acme-challenge.a\\u0000.example.test\"]\nacme-value = [\"v\"]\n",
            )
            .args(&["auth", "--config", "{dir}/c.toml"])
            .rfc2136(),
        case("config: unknown provider", 78, "c.toml")
            .file("c.toml", "provider = \"gopher\"\n")
            .args(&["auth", "--order-id", "{order}", "--config", "{dir}/c.toml"]),
        case("config: table where a value belongs", 78, "expected a string")
            .file("c.toml", "[ttl]\nseconds = 60\n")
            .auth_order(&["--config", "{dir}/c.toml"]),
        // --- credentials files ---
        case("ini: missing keys", 65, "missing properties dns_rfc2136_name, dns_rfc2136_secret")
            .file("r.ini", "dns_rfc2136_server = 127.0.0.1\n")
            .args(&["auth", "-d", "www.example.test", "--acme-value", "v", "--provider", "rfc2136"])
            .args(&["--rfc2136-credentials", "{dir}/r.ini"]),
        case("ini: bad port", 65, "not a port number")
            .file(
                "r.ini",
                format!("dns_rfc2136_server = 127.0.0.1\ndns_rfc2136_port = 99999\ndns_rfc2136_name = k\ndns_rfc2136_secret = {INI_SENTINEL}\n"),
            )
            .args(&["auth", "-d", "www.example.test", "--acme-value", "v", "--provider", "rfc2136"])
            .args(&["--rfc2136-credentials", "{dir}/r.ini"]),
        case("ini: hostname server", 65, "not an IP address")
            .file(
                "r.ini",
                format!("dns_rfc2136_server = ns1.example.test\ndns_rfc2136_name = k\ndns_rfc2136_secret = {INI_SENTINEL}\n"),
            )
            .args(&["auth", "-d", "www.example.test", "--acme-value", "v", "--provider", "rfc2136"])
            .args(&["--rfc2136-credentials", "{dir}/r.ini"]),
        case("ini: a line without = (the secret is not echoed)", 65, "line 2 is not")
            .file("r.ini", format!("dns_rfc2136_server = 127.0.0.1\n{INI_SENTINEL}\n"))
            .args(&["auth", "-d", "www.example.test", "--acme-value", "v", "--provider", "rfc2136"])
            .args(&["--rfc2136-credentials", "{dir}/r.ini"]),
        case("ini: not UTF-8", 65, "valid UTF-8")
            .file("r.ini", [0x00, 0x01, 0xff, b'\n', 0x7f])
            .args(&["auth", "-d", "www.example.test", "--acme-value", "v", "--provider", "rfc2136"])
            .args(&["--rfc2136-credentials", "{dir}/r.ini"]),
        case("api key file: two lines", 78, "more than one line")
            .file("key", format!("{API_KEY}\nsecond line\n"))
            .auth_order(&["--api-key-file", "{dir}/key"]),
        case("api key file: empty", 78, "is empty")
            .file("key", "\n")
            .auth_order(&["--api-key-file", "{dir}/key"]),
        case("api key file: NUL inside", 78, "control character")
            .file("key", "abc\0def")
            .auth_order(&["--api-key-file", "{dir}/key"]),
        case("api key file: missing", 78, "cannot read --api-key-file")
            .auth_order(&["--api-key-file", "{dir}/nope"]),
        case("api key file: /dev/zero", 78, "/dev/zero: it is a character device")
            .auth_order(&["--api-key-file", "/dev/zero"]),
        case("ini: a FIFO", 78, "r.ini: it is a FIFO")
            .setup(|d| mkfifo(&d.join("r.ini")))
            .args(&["auth", "-d", "www.example.test", "--acme-value", "v", "--provider", "rfc2136"])
            .args(&["--rfc2136-credentials", "{dir}/r.ini"]),
        case("tsig secret file: a FIFO", 78, "tsig: it is a FIFO")
            .setup(|d| mkfifo(&d.join("tsig")))
            .args(&["auth", "-d", "www.example.test", "--acme-value", "v", "--provider", "rfc2136"])
            .args(&["--rfc2136-server", "127.0.0.1:9", "--tsig-key", "k", "--tsig-secret-file", "{dir}/tsig"]),
        case("tsig secret file: not base64", 78, "base64")
            .file("tsig", "}}}not-base64{{{\n")
            .args(&["auth", "-d", "www.example.test", "--acme-value", "v", "--provider", "rfc2136"])
            .args(&["--rfc2136-server", "127.0.0.1:9", "--tsig-key", "k", "--tsig-secret-file", "{dir}/tsig"]),
        // --- the way to the state directory (followed, and created through, before) ---
        case("state: --state-dir is another user's link in a sticky dir", 78, "a symbolic link on the way")
            .setup(|d| {
                let sticky = d.join("tmp");
                std::fs::create_dir(&sticky).unwrap();
                chmod(&sticky, 0o1777);
                std::fs::create_dir(d.join("mine")).unwrap();
                std::os::unix::fs::symlink(d.join("mine"), sticky.join("state")).unwrap();
                std::os::unix::fs::lchown(sticky.join("state"), Some(65534), None).unwrap();
            })
            .auth_order(&["--state-dir", "{dir}/tmp/state"]),
        case("state: --state-dir under a world-writable dir", 78, "is not sticky (mode 777)")
            .setup(|d| {
                std::fs::create_dir(d.join("open")).unwrap();
                chmod(&d.join("open"), 0o777);
            })
            .auth_order(&["--state-dir", "{dir}/open/state"]),
        // --- state files ---
        case("state: garbage file is skipped, cleanup works", 0, "skipping state file")
            .file("state/records/txt-0000000000000000.json", "{\"version\":1,\"status\":")
            .args(&["cleanup"]),
        case("state: wrong types are skipped, cleanup works", 0, "skipping state file")
            .file(
                "state/records/txt-0000000000000001.json",
                r#"{"version":"one","status":"published","source":{},"created":"yesterday"}"#,
            )
            .args(&["cleanup"]),
        case("state: a file name with a newline", 0, "skipping state file")
            .file("state/records/evil\nname.json", "not json")
            .args(&["cleanup"]),
        case("state: unknown provider", 65, "unknown provider \"gopher\"")
            .file(
                "state/records/txt-0000000000000002.json",
                state_entry(
                    "gopher",
                    r#"{"domain":"www.example.test","type":"TXT","name":"www.example.test","value":"tok"}"#,
                    "example.test",
                ),
            )
            .args(&["cleanup"]),
        case("state: webroot record with .. in its URL", 65, "would leave the web root")
            .file("wr/index.html", "home")
            .file("victim", "tok")
            .file(
                "state/records/http-0000000000000003.json",
                // The victim holds the record's value, so a cleanup that followed `..` removes it.
                state_entry("webroot", &http_record("/../victim"), "{dir}/wr/../victim"),
            )
            .args(&["cleanup"]),
        case("state: webroot record with NUL in its URL", 65, "would leave the web root")
            .file("wr/index.html", "home")
            .file(
                "state/records/http-0000000000000004.json",
                state_entry(
                    "webroot",
                    &http_record("/.well-known/pki-validation/a\\u0000b"),
                    "{dir}/wr/.well-known/pki-validation/a\\u0000b",
                ),
            )
            .args(&["cleanup"]),
        // --- state entries never widen what the configuration allows ---
        case("state: webroot file outside .well-known", 65, "never writes")
            .file("wr/index.html", "tok")
            .file(
                "state/records/http-0000000000000005.json",
                state_entry("webroot", &http_record("/index.html"), "{dir}/wr/index.html"),
            )
            .args(&["cleanup"]),
        // http-token-dynamic widens cleanup by exactly one plain .txt name in pki-validation.
        case("state: dynamic file name with .. in its URL", 65, "would leave the web root")
            .file("wr/.well-known/pki-validation/keep.txt", "tok")
            .file("wr/victim.txt", "tok")
            .file(
                "state/records/http-0000000000000010.json",
                state_entry(
                    "webroot",
                    &http_record("/.well-known/pki-validation/../../victim.txt"),
                    "{dir}/wr/.well-known/pki-validation/../../victim.txt",
                ),
            )
            .args(&["cleanup"]),
        case("state: dynamic file name in another directory", 65, "never writes")
            .file("wr/.well-known/other/a1b2.txt", "tok")
            .file(
                "state/records/http-0000000000000011.json",
                state_entry(
                    "webroot",
                    &http_record("/.well-known/other/a1b2.txt"),
                    "{dir}/wr/.well-known/other/a1b2.txt",
                ),
            )
            .args(&["cleanup"]),
        case("state: dynamic file name one level down", 65, "never writes")
            .file("wr/.well-known/pki-validation/sub/a1b2.txt", "tok")
            .file(
                "state/records/http-0000000000000012.json",
                state_entry(
                    "webroot",
                    &http_record("/.well-known/pki-validation/sub/a1b2.txt"),
                    "{dir}/wr/.well-known/pki-validation/sub/a1b2.txt",
                ),
            )
            .args(&["cleanup"]),
        case("state: dynamic file name not ending in .txt", 65, "never writes")
            .file("wr/.well-known/pki-validation/a1b2.html", "tok")
            .file(
                "state/records/http-0000000000000013.json",
                state_entry(
                    "webroot",
                    &http_record("/.well-known/pki-validation/a1b2.html"),
                    "{dir}/wr/.well-known/pki-validation/a1b2.html",
                ),
            )
            .args(&["cleanup"]),
        case("state: webroot directory outside .well-known", 65, "the directory")
            .file("wr/index.html", "home")
            .setup(|d| std::fs::create_dir(d.join("wr/empty")).unwrap())
            .file(
                "state/records/http-0000000000000006.json",
                state_entry_with(
                    "webroot",
                    &http_record("/.well-known/pki-validation/fileauth.txt"),
                    "{dir}/wr/.well-known/pki-validation/fileauth.txt",
                    r#","created_dirs":["{dir}/wr/empty"]"#,
                ),
            )
            .args(&["cleanup"]),
        case("state: webroot other than --webroot", 78, "not --webroot")
            .file("wr/.well-known/pki-validation/fileauth.txt", "tok")
            .file(
                "state/records/http-0000000000000007.json",
                state_entry(
                    "webroot",
                    &http_record("/.well-known/pki-validation/fileauth.txt"),
                    "{dir}/wr/.well-known/pki-validation/fileauth.txt",
                ),
            )
            .args(&["cleanup"])
            .webroot(),
        case("state: exec program writable by others", 78, "writable by group or others")
            .file("hook", MARKING_HOOK)
            .setup(|d| chmod(&d.join("hook"), 0o777))
            .file("state/records/txt-0000000000000008.json", exec_entry())
            .args(&["cleanup"]),
        case("state: exec program other than --exec", 78, "not --exec")
            .file("hook", MARKING_HOOK)
            .file("other", MARKING_HOOK)
            .setup(|d| {
                chmod(&d.join("hook"), 0o755);
                chmod(&d.join("other"), 0o755);
            })
            .file("state/records/txt-0000000000000009.json", exec_entry())
            .args(&["cleanup", "--provider", "exec", "--exec", "{dir}/other"]),
        // --- API answers ---
        case("api: token with a quote", 65, "DCV token")
            .auth_order(&[])
            .faults(answer_after(1, 200, r#"{"dcv_random_value":"abc\"def"}"#)),
        case("api: token with a newline", 65, "DCV token")
            .auth_order(&[])
            .faults(answer_after(1, 200, r#"{"dcv_random_value":"abc\ndef"}"#)),
        case("api: token with a space", 65, "DCV token")
            .auth_order(&[])
            .faults(answer_after(1, 200, r#"{"dcv_random_value":"abc def"}"#)),
        case("api: token of 5 MB", 65, "DCV token")
            .auth_order(&[])
            .faults(answer_after(1, 200, big_token)),
        case("api: malformed JSON", 69, "cannot read")
            .auth_order(&[])
            .faults(answer_after(0, 200, r#"{"order_id": 1, "dns_name_validations": [{"#)),
        case("api: JSON of the wrong shape", 69, "cannot read")
            .auth_order(&[])
            .faults(answer_after(0, 200, r#"{"dns_name_validations": "all of them"}"#)),
        case("api: 5 MB of garbage", 69, "cannot read")
            .auth_order(&[])
            .faults(answer_after(0, 200, big_garbage)),
        case("api: order lists a name with ../", 65, "cannot use")
            .auth_order(&[])
            .faults(answer_after(
                0,
                200,
                r#"{"order_dcv_method":"http-token","dns_name_validations":[{"name_scope":"example.test","status":"pending","dns_names":["../../etc/x"]}]}"#,
            )),
        case("api: domain named with a slash", 65, "cannot use")
            .args(&["auth", "--domain-id", "{domain}"])
            .webroot()
            .faults(answer_after(0, 200, r#"{"id":1,"name":"shop.example.test/../../x"}"#)),
        case("api: error message with a newline", 65, "line one line two")
            .auth_order(&[])
            .faults(answer_after(
                0,
                400,
                r#"{"errors":[{"code":"bad","message":"line one\nline two"}]}"#,
            )),
        case("api: HTML 404", 78, "not a CertCentral API answer")
            .auth_order(&[])
            .faults(answer_after(0, 404, "<html><body><h1>404 Not Found</h1></body></html>\n")),
        case("api: --api-url is a web server (plain 404)", 78, "check --api-url")
            .auth_order(&["--api-url", "http://{webserver}/services/v2"]),
        case("api: empty 200 from validate-token", 75, "no status")
            .args(&["verify", "--domain-id", "{domain}"])
            .faults(answer_after(0, 200, "")),
        case("api: rejected API key", 77, "access_denied")
            .auth_order(&[])
            .env("DIGICERT_API_KEY", "not-the-key"),
        case("api: Retry-After of 2^64 seconds", 69, "retry after")
            .auth_order(&[])
            .faults(vec![Fault::RateLimited {
                retry_after_secs: u64::MAX,
            }]),
        // --- DNS answers ---
        case("dns: CNAME loop at the TXT name", 65, "CNAME chain")
            .args(&["auth", "-d", "loop.example.test", "--acme-value", "v"])
            .rfc2136(),
        case("dns: name in no zone the resolver knows", 65, "no zone")
            .args(&["auth", "-d", "www.nowhere.invalid", "--acme-value", "v"])
            .rfc2136(),
        // No address is reachable: all are kept and reported unreachable, by design.
        case("dns: host whose only address is 0.0.0.0", 75, "0.0.0.0:80 unreachable")
            .args(&["auth", "-d", "zero.example.test", "--acme-value", "v", "--acme-token", "t"])
            .webroot()
            .publishes(),
        // --- the web root ---
        case(".well-known is a symlink to outside", 73, "symbolic link")
            .file("outside/keep", "x")
            .setup(|d| {
                std::fs::create_dir(d.join("wr")).unwrap();
                std::os::unix::fs::symlink(d.join("outside"), d.join("wr/.well-known")).unwrap();
            })
            .auth_order(&["--webroot", "{dir}/wr"]),
        case("fileauth.txt is a symlink to a private file", 73, "symbolic link")
            .file("private", "secret")
            .setup(|d| {
                let dir = d.join("wr/.well-known/pki-validation");
                std::fs::create_dir_all(&dir).unwrap();
                std::os::unix::fs::symlink(d.join("private"), dir.join("fileauth.txt")).unwrap();
            })
            .auth_order(&["--webroot", "{dir}/wr"]),
        case("acme-challenge is a fifo", 73, "not a plain file or directory")
            .setup(|d| {
                let dir = d.join("wr/.well-known");
                std::fs::create_dir_all(&dir).unwrap();
                mkfifo(&dir.join("acme-challenge"));
            })
            .args(&["auth", "-d", "www.example.test", "--acme-value", "v", "--acme-token", "t"])
            .args(&["--provider", "webroot", "--webroot", "{dir}/wr"]),
        case("--webroot is a file", 73, "web root")
            .file("wr", "x")
            .auth_order(&["--webroot", "{dir}/wr"]),
        case("--webroot does not exist", 73, "web root")
            .auth_order(&["--webroot", "{dir}/missing"]),
    ];
    run_table(&w, cases);
}

#[test]
fn hostile_web_answers_time_out_with_the_server_named() {
    let w = HttpWorld::new(&["www.example.test"], &[None]);
    let loop_path = "/.well-known/pki-validation/fileauth.txt";
    w.web[0].redirect(loop_path, loop_path);
    w.web[0].redirect("/.well-known/acme-challenge/huge", "/big.bin");
    std::fs::write(w.webroot.path().join("big.bin"), vec![b'x'; 5 << 20]).unwrap();
    let cases = vec![
        case(
            "http: fileauth.txt redirects to itself",
            75,
            "more than 5 redirects",
        )
        .auth_order(&[])
        .publishes(),
        case(
            "http: the file redirects to a 5 MB body",
            75,
            "other content",
        )
        .args(&[
            "auth",
            "-d",
            "www.example.test",
            "--acme-value",
            "v",
            "--acme-token",
            "huge",
        ])
        .webroot()
        .publishes(),
    ];
    run_table(&w, cases);
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
