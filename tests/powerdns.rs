//! The powerdns provider against a real PowerDNS Authoritative server (sqlite3 backend, API on
//! loopback): an order validated end to end through the binary, with PowerDNS the zones' only
//! nameserver (so the propagation check and the CertCentral simulator ask it directly), foreign
//! values kept, and each refusal its documented exit code.

use crate::support::pdns::PdnsFixture;
use crate::support::world::{API_KEY, bare_cmd};
use crate::support::{parallel_runs_keep_every_value, txt};
use dcv_hook::error::Kind;
use dcv_hook::publish::Publisher;
use dcv_hook::publish::powerdns::{PowerDns, PowerDnsSettings};
use dcv_hook::record::{Record, RecordType};
use dcv_hook::secret::Secret;
use dcv_sim::{OrderSpec, SimConfig, Simulator};
use std::time::Duration;

fn provider(pdns: &PdnsFixture, key: &str) -> PowerDns {
    let mut settings =
        PowerDnsSettings::new(&pdns.api_url(), Secret::new(key), "PDNS_API_KEY", 60).unwrap();
    settings.retry.first = std::time::Duration::from_millis(20);
    PowerDns::new(settings).unwrap()
}

#[test]
fn an_order_validates_end_to_end_through_powerdns_and_foreign_values_survive() {
    let pdns = PdnsFixture::start();
    pdns.add_foreign_txt("example.test", "example.test", "v=spf1 -all");
    let sim = Simulator::start(SimConfig::new(API_KEY, pdns.dns_addr()));
    let order = sim.add_order(OrderSpec::new(["example.test", "www.other.test"]));
    let state = tempfile::tempdir().unwrap();
    let cmd = |command: &str| {
        let mut cmd = bare_cmd();
        cmd.env("DIGICERT_API_KEY", API_KEY)
            .env("PDNS_API_KEY", pdns.api_key())
            .args([command, "--order-id", &order.to_string()])
            .args(["--api-url", &sim.url()])
            .args(["--resolver", &pdns.dns_addr().to_string()])
            .arg("--state-dir")
            .arg(state.path())
            .args(["--poll-interval", "0.1", "--provider", "powerdns"])
            .args(["--powerdns-url", &pdns.api_url()]);
        cmd
    };
    let out = cmd("auth").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The state remembers where the key comes from, never the key.
    let files = crate::support::files_under(state.path());
    assert!(!files.is_empty(), "auth saved no state");
    for entry in files {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(
            !text.contains(pdns.api_key()),
            "{} holds the key",
            entry.display()
        );
    }
    assert!(!String::from_utf8_lossy(&out.stdout).contains(pdns.api_key()));
    let token = sim.order_random_value(order).unwrap();
    // txt_values sorts, and a random token may sort either side of the SPF value.
    let mut expected = [token.clone(), "v=spf1 -all".to_string()];
    expected.sort();
    assert_eq!(pdns.txt_values("example.test"), expected);
    assert_eq!(pdns.txt_values("www.other.test"), [token.as_str()]);

    let out = cmd("verify").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(sim.order_status(order).as_deref(), Some("issued"));
    assert!(sim.premature_checks().is_empty());

    // Cleanup needs no provider flags: the state remembers the API (the key comes from the env).
    let mut cleanup = bare_cmd();
    let out = cleanup
        .env("DIGICERT_API_KEY", API_KEY)
        .env("PDNS_API_KEY", pdns.api_key())
        .args(["cleanup", "--order-id", &order.to_string()])
        .args(["--api-url", &sim.url()])
        .arg("--state-dir")
        .arg(state.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(pdns.txt_values("example.test"), ["v=spf1 -all"]);
    assert!(pdns.txt_values("www.other.test").is_empty());
    let output = format!("{out:?}");
    assert!(!output.contains(pdns.api_key()), "the key leaked: {output}");
}

/// Parallel runs at one name, all reading the set before any writes it (a front holds each read
/// back): every auth's value is there after the auths, only the foreign one after the cleanups,
/// and no state is left. Without the zone lock and the read back, values were lost or left.
#[test]
fn parallel_auths_and_cleanups_at_one_name_lose_and_leave_nothing() {
    let pdns = PdnsFixture::start();
    let name = "_acme-challenge.example.test";
    pdns.add_foreign_txt("example.test", name, "foreign");
    let api = crate::support::front::slow_reads(pdns.api_addr(), Duration::from_millis(300));
    let state = tempfile::tempdir().unwrap();
    let run = |command: &str, value: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dcv-hook"));
        cmd.env_remove("DCV_HOOK_CONFIG")
            .env("PDNS_API_KEY", pdns.api_key())
            .args([command, "-d", "example.test", "--acme-value", value])
            .args(["--provider", "powerdns", "--powerdns-url", &api])
            .args(["--resolver", &pdns.dns_addr().to_string()])
            .arg("--state-dir")
            .arg(state.path())
            .arg("--no-propagation-check");
        cmd
    };
    parallel_runs_keep_every_value(run, || pdns.txt_values(name), "foreign", state.path());
}

/// A disabled record beside an enabled one, at the apex and below: publishing and cleaning up
/// beside them leaves both as they were, `disabled` included.
#[test]
fn disabled_records_stay_as_they_were() {
    let pdns = PdnsFixture::start();
    let mut p = provider(&pdns, pdns.api_key());
    for name in ["example.test", "_acme-challenge.example.test"] {
        pdns.add_foreign_txt("example.test", name, "on");
        pdns.add_foreign_txt("example.test", name, "off");
        pdns.disable_txt(name, "off");
        let before = pdns.txt_rows(name);
        assert_eq!(before, [("\"off\"".into(), true), ("\"on\"".into(), false)]);
        let published = p.present(&[txt(name, "ours")]).unwrap();
        assert_eq!(pdns.txt_rows(name).len(), 3, "{name}: ours added beside");
        p.cleanup(&published).unwrap();
        assert_eq!(pdns.txt_rows(name), before, "{name}");
    }
}

#[test]
fn a_wrong_key_is_77_and_changes_nothing() {
    let pdns = PdnsFixture::start();
    let state = tempfile::tempdir().unwrap();
    let wrong = "not-the-key-0123456789";
    let out = bare_cmd()
        .env("PDNS_API_KEY", wrong)
        .args(["auth", "-d", "example.test", "--acme-value", "tok"])
        .args(["--provider", "powerdns", "--powerdns-url", &pdns.api_url()])
        .args(["--resolver", &pdns.dns_addr().to_string()])
        .arg("--state-dir")
        .arg(state.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PDNS_API_KEY"), "{stderr}");
    assert!(!stderr.contains(wrong), "{stderr}");
    assert!(pdns.txt_values("_acme-challenge.example.test").is_empty());
}

#[test]
fn refusals_name_what_to_fix() {
    let pdns = PdnsFixture::start();
    let mut p = provider(&pdns, pdns.api_key());

    // A name in no zone of the server: 78, naming every name tried.
    let err = p
        .present(&[txt("_dnsauth.shop.nowhere.test", "tok")])
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Config, "{err}");
    assert!(
        err.message()
            .contains("tried _dnsauth.shop.nowhere.test, shop.nowhere.test, nowhere.test"),
        "{err}"
    );

    // PowerDNS refusing the change (a CNAME beside a TXT): 65 with PowerDNS's own words; the
    // other zone's record of the same run is taken back.
    pdns.add_foreign_txt("example.test", "_dnsauth.busy.example.test", "foreign");
    let cname = Record::new_dns(
        "busy.example.test",
        RecordType::Cname,
        "_dnsauth.busy.example.test",
        "tok.dcv.digicert.com",
    );
    let err = p
        .present(&[txt("_dnsauth.www.other.test", "tok"), cname])
        .unwrap_err();
    assert_eq!(err.kind(), Kind::DataErr, "{err}");
    assert!(err.message().contains("HTTP 422"), "{err}");
    assert!(err.message().to_lowercase().contains("conflict"), "{err}");
    assert!(pdns.txt_values("_dnsauth.www.other.test").is_empty());
    assert_eq!(pdns.txt_values("_dnsauth.busy.example.test"), ["foreign"]);

    // An unknown server id: 78 naming the flag.
    let mut settings = PowerDnsSettings::new(
        &pdns.api_url(),
        Secret::new(pdns.api_key()),
        "PDNS_API_KEY",
        60,
    )
    .unwrap();
    settings.server_id = "elsewhere".into();
    let err = PowerDns::new(settings)
        .unwrap()
        .present(&[txt("example.test", "tok")])
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Config, "{err}");
    assert!(err.message().contains("--powerdns-server-id"), "{err}");
}

#[test]
fn the_lexicon_example_publishes_through_powerdns() {
    use crate::support::acme::{lexicon, resolv_conf, with_mounts};
    let pdns = PdnsFixture::start();
    let name = "_acme-challenge.example.test";
    pdns.add_foreign_txt("example.test", name, "foreign");
    let dir = tempfile::tempdir().unwrap();
    // lexicon finds the zone through the system resolver, and so does dcv-hook by default: both
    // ask PowerDNS, in a mount namespace whose /etc/resolv.conf names it.
    let resolv = resolv_conf(&dir.path().join("resolv.conf"), pdns.ip().into());
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hooks/examples/lexicon");
    let dcv_hook = |command: &str, token: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dcv-hook"));
        cmd.env_remove("DCV_HOOK_CONFIG")
            .env("LEXICON_BIN", lexicon())
            .env("LEXICON_PROVIDER", "powerdns")
            .env("LEXICON_POWERDNS_AUTH_TOKEN", token)
            .env("LEXICON_POWERDNS_PDNS_SERVER", pdns.api_url())
            .args([command, "-d", "example.test", "--acme-value", "ours"])
            .args(["--provider", "exec", "--exec"])
            .arg(&example)
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .args(["--poll-interval", "0.1"]);
        with_mounts(&cmd, &[(&resolv, std::path::Path::new("/etc/resolv.conf"))])
            .output()
            .unwrap()
    };

    let out = dcv_hook("auth", "wrong-token");
    assert_eq!(out.status.code(), Some(77), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("powerdns refused the credentials"),
        "{stderr}"
    );
    assert_eq!(pdns.txt_values(name), ["foreign"]);

    let out = dcv_hook("auth", pdns.api_key());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(pdns.txt_values(name), ["foreign", "ours"]);
    let out = dcv_hook("cleanup", pdns.api_key());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(pdns.txt_values(name), ["foreign"]);
}
