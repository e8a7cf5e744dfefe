//! The http-token flow through the binary against the CertCentral simulator and real web servers.

use crate::support::world::{API_KEY, HttpWorld, bare_cmd, tree};
use dcv_sim::{DomainSpec, Fault, OrderSpec};
use predicates::prelude::*;
use std::time::Duration;

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// A world with www.example.test on one web server, and a pending http-token order for it.
fn one_http_order() -> (HttpWorld, String) {
    let w = HttpWorld::new(&["www.example.test"], &[None]);
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]).method("http-token"));
    (w, order.to_string())
}

#[test]
fn order_run_publishes_waits_verifies_and_leaves_the_webroot_as_it_was() {
    // Two web servers behind the name, one serving new files 1.5 s late.
    let w = HttpWorld::new(
        &["www.example.test"],
        &[None, Some(Duration::from_millis(1500))],
    );
    std::fs::write(w.webroot.path().join("index.html"), "hello").unwrap();
    let before = tree(w.webroot.path());
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]).method("http-token"));
    let out = w
        .webroot_cmd()
        .args([
            "run",
            "--order-id",
            &order.to_string(),
            "--method",
            "http-token",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    let doc = json(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{doc:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["command"], "run");
    assert_eq!(doc["changed"], true);
    assert_eq!(w.sim.order_status(order).as_deref(), Some("issued"));
    assert!(
        w.sim.premature_checks().is_empty(),
        "premature: {:?}",
        w.sim.premature_checks()
    );
    assert_eq!(tree(w.webroot.path()), before, "web root changed");
    assert!(
        w.state_files().is_empty(),
        "state left: {:?}",
        w.state_files()
    );
    // Both addresses were seen serving the token before DigiCert was asked.
    let published = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "published")
        .unwrap();
    assert_eq!(published["servers"].as_array().unwrap().len(), 2, "{doc:#}");
}

#[test]
fn domain_flow_by_id_and_by_name() {
    let w = HttpWorld::new(&["shop.example.test"], &[None]);
    let id = w
        .sim
        .add_domain(DomainSpec::new("shop.example.test").method("http-token"));
    w.webroot_cmd()
        .args(["run", "--domain-id", &id.to_string()])
        .assert()
        .success();
    assert_eq!(w.sim.domain_status(id).as_deref(), Some("active"));
    assert!(w.sim.premature_checks().is_empty());

    // By name alone, with the fallback from a 204 submit to POST dcv/token.
    let w = HttpWorld::new(&["blog.example.test"], &[None]);
    let id = w.sim.add_domain(
        DomainSpec::new("blog.example.test")
            .method("http-token")
            .answer_validation_with_204(),
    );
    w.webroot_cmd()
        .args(["run", "-d", "blog.example.test"])
        .assert()
        .success();
    assert_eq!(w.sim.domain_status(id).as_deref(), Some("active"));
    assert!(
        w.sim
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/dcv/token"))
    );
}

#[test]
fn verify_before_publishing_is_75_and_after_auth_is_0() {
    let (w, order) = one_http_order();
    w.cmd()
        .args(["verify", "--order-id", &order])
        .assert()
        .code(75)
        .stderr(predicate::str::contains("file_random_value_not_found"));
    w.webroot_cmd()
        .args(["auth", "--order-id", &order])
        .assert()
        .success();
    w.cmd()
        .args(["verify", "--order-id", &order])
        .assert()
        .success();
    w.webroot_cmd()
        .args(["cleanup", "--order-id", &order])
        .assert()
        .success();
    assert!(!w.token_file().exists());
}

#[test]
fn run_cleans_up_even_when_verify_fails() {
    // The second server lags far beyond --timeout and auth does not wait, so verify fails.
    let w = HttpWorld::new(
        &["www.example.test"],
        &[None, Some(Duration::from_secs(600))],
    );
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]).method("http-token"))
        .to_string();
    w.webroot_cmd()
        .args([
            "run",
            "--order-id",
            &order,
            "--no-propagation-check",
            "--timeout",
            "1",
        ])
        .assert()
        .code(75);
    assert!(!w.token_file().exists(), "token file left behind");
    assert!(w.state_files().is_empty());
}

#[test]
fn server_errors_are_retried() {
    let w = HttpWorld::new(&["www.example.test"], &[None]);
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]).method("http-token"));
    w.sim.fail_next(2, Fault::Status(503));
    w.cmd()
        .args(["status", "--order-id", &order.to_string()])
        .assert()
        .success();
    let path = format!("/order/certificate/{order}/validation");
    let tries = w
        .sim
        .requests()
        .iter()
        .filter(|r| r.path.ends_with(&path))
        .count();
    assert_eq!(tries, 3);
}

#[test]
fn retry_after_is_honoured() {
    let w = HttpWorld::new(&["www.example.test"], &[None]);
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]).method("http-token"));
    w.sim.fail_next(
        1,
        Fault::RateLimited {
            retry_after_secs: 2,
        },
    );
    w.cmd()
        .args(["status", "--order-id", &order.to_string()])
        .assert()
        .success();
    let times: Vec<_> = w.sim.requests().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 2);
    let waited = times[1] - times[0];
    assert!(waited >= Duration::from_secs(2), "retried after {waited:?}");
}

#[test]
fn credential_and_id_errors_have_their_exit_codes() {
    let (w, order) = one_http_order();
    // A wrong key: 77, naming DigiCert's code.
    w.cmd()
        .env("DIGICERT_API_KEY", "wrong-key")
        .args(["status", "--order-id", &order])
        .assert()
        .code(77)
        .stderr(predicate::str::contains("access_denied"));
    // An unknown order: 65, naming the id problem.
    w.cmd()
        .args(["status", "--order-id", "999999"])
        .assert()
        .code(65)
        .stderr(
            predicate::str::contains("not_found")
                .and(predicate::str::contains("check the order or domain id")),
        );
    // No key at all: 78.
    w.cmd()
        .env_remove("DIGICERT_API_KEY")
        .args(["status", "--order-id", &order])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("DIGICERT_API_KEY"));
}

#[test]
fn unwritable_webroot_is_73_and_leaves_nothing_behind() {
    let (w, order) = one_http_order();
    // A file where the directory must go fails even for root (permission bits do not stop root).
    std::fs::create_dir(w.webroot.path().join(".well-known")).unwrap();
    std::fs::write(
        w.webroot.path().join(".well-known/pki-validation"),
        "not a dir",
    )
    .unwrap();
    let before = tree(w.webroot.path());
    w.webroot_cmd()
        .args(["auth", "--order-id", &order])
        .assert()
        .code(73)
        .stderr(predicate::str::contains("cannot write"));
    assert_eq!(tree(w.webroot.path()), before);
    assert!(w.state_files().is_empty(), "{:?}", w.state_files());
}

#[test]
fn bad_domain_names_are_65() {
    let (w, order) = one_http_order();
    let long_label = format!("{}.example.test", "a".repeat(64));
    let long_name = format!("{0}.{0}.{1}.{1}.test", "a".repeat(62), "b".repeat(61));
    assert_eq!(long_name.len(), 254);
    for bad in ["../etc", "exa mple.com", &long_label, &long_name] {
        w.webroot_cmd()
            .args(["auth", "--order-id", &order, "-d", bad])
            .assert()
            .code(65)
            .stderr(predicate::str::contains("invalid domain name"));
    }
    let wild = w
        .sim
        .add_order(OrderSpec::new(["*.example.test"]).method("http-token"))
        .to_string();
    w.webroot_cmd()
        .args(["auth", "--order-id", &wild])
        .assert()
        .code(65)
        .stderr(predicate::str::contains("wildcard"));
    assert!(tree(w.webroot.path()).is_empty());
    assert!(w.state_files().is_empty());
}

#[test]
fn a_preexisting_fileauth_is_restored_by_cleanup() {
    let (w, order) = one_http_order();
    std::fs::create_dir_all(w.token_file().parent().unwrap()).unwrap();
    std::fs::write(w.token_file(), "someone else's token\n").unwrap();
    w.webroot_cmd()
        .args(["auth", "--order-id", &order])
        .assert()
        .success();
    assert_ne!(w.token_file_text(), "someone else's token\n");
    // cleanup without --webroot: the state knows where the file is.
    w.cmd()
        .args(["cleanup", "--order-id", &order])
        .assert()
        .success();
    assert_eq!(w.token_file_text(), "someone else's token\n");
    w.cmd()
        .args(["cleanup"])
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing to clean up"));
}

#[test]
fn the_api_key_never_appears_in_output() {
    let (w, order) = one_http_order();
    w.sim.fail_next(1, Fault::Status(500));
    for args in [
        vec!["run", "--order-id", &order, "-v"],
        vec!["run", "--order-id", &order, "-v", "--output", "json"],
        vec!["status", "--order-id", "424242", "-v"],
    ] {
        let out = w.webroot_cmd().args(&args).output().unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(API_KEY), "key leaked with {args:?}: {all}");
        assert!(all.contains("certcentral:"), "-v shows API calls: {all}");
    }
    // The simulator saw the key on every request (so it was sent, just never shown).
    assert!(w.sim.requests().iter().all(|r| r.key_ok));
}

#[test]
fn parallel_auths_on_different_domains_both_end_in_state() {
    let a = HttpWorld::new(&["a.example.test"], &[None]);
    let order_a = a
        .sim
        .add_order(OrderSpec::new(["a.example.test"]).method("http-token"))
        .to_string();
    let order_b = a
        .sim
        .add_order(OrderSpec::new(["b.example.test"]).method("http-token"))
        .to_string();
    // b.example.test is served from its own web root on its own address.
    let b_root = tempfile::tempdir().unwrap();
    let b_ip = std::net::Ipv4Addr::new(127, 80, a.net, 9);
    let _b_web = dcv_sim::WebServer::start((b_ip, 80).into(), b_root.path().to_path_buf()).unwrap();
    a.dns.add("b.example.test", dcv_sim::RecordData::A(b_ip));
    let mut first = a.webroot_cmd();
    first.args(["auth", "--order-id", &order_a]);
    let mut second = a.cmd();
    second
        .args([
            "auth",
            "--order-id",
            &order_b,
            "--provider",
            "webroot",
            "--webroot",
        ])
        .arg(b_root.path());
    let t = std::thread::spawn(move || first.output().unwrap());
    let out_b = second.output().unwrap();
    let out_a = t.join().unwrap();
    assert_eq!(
        out_a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out_a.stderr)
    );
    assert_eq!(
        out_b.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out_b.stderr)
    );
    assert_eq!(a.state_files().len(), 2, "{:?}", a.state_files());
    a.cmd().args(["cleanup"]).assert().success();
    assert!(a.state_files().is_empty());
    assert!(tree(b_root.path()).is_empty());
}

#[test]
fn dry_run_changes_nothing() {
    let (w, order) = one_http_order();
    w.webroot_cmd()
        .args(["run", "--order-id", &order, "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("would publish"));
    assert!(tree(w.webroot.path()).is_empty());
    assert!(w.state_files().is_empty());
    assert!(
        w.sim.requests().iter().all(|r| r.method == "GET"),
        "{:?}",
        w.sim.requests()
    );
}

#[test]
fn usage_errors_are_64_with_one_line() {
    bare_cmd().args(["auth", "--bogus"]).assert().code(64);
    bare_cmd()
        .args([
            "auth",
            "--order-id",
            "1",
            "--domain-id",
            "2",
            "--provider",
            "webroot",
        ])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("not both"));
}

#[test]
fn works_against_real_nginx_including_one_redirect() {
    use crate::support::nginx::Nginx;
    let w = HttpWorld::new(&[], &[]);
    let ip = std::net::Ipv4Addr::new(127, 81, w.net, 1);
    let redirect_ip = std::net::Ipv4Addr::new(127, 81, w.net, 2);
    let _nginx = Nginx::start(ip, w.webroot.path(), "");
    // A second node that redirects the token URL to the first by name (DigiCert follows
    // redirects on the same registered domain, an address is another domain).
    let _redirector = Nginx::start(
        redirect_ip,
        w.webroot.path(),
        "location /.well-known/ { return 301 http://central.example.test$request_uri; }",
    );
    w.dns
        .add("example.test", dcv_sim::RecordData::soa("ns.example.test"));
    w.dns.add("www.example.test", dcv_sim::RecordData::A(ip));
    w.dns
        .add("central.example.test", dcv_sim::RecordData::A(ip));
    w.dns
        .add("www.example.test", dcv_sim::RecordData::A(redirect_ip));
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]).method("http-token"));
    let out = w
        .webroot_cmd()
        .args(["run", "--order-id", &order.to_string(), "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(w.sim.order_status(order).as_deref(), Some("issued"));
    assert!(w.sim.premature_checks().is_empty());
    assert!(tree(w.webroot.path()).is_empty());
}

#[test]
fn auth_twice_then_cleanup_still_restores_the_original_file() {
    let (w, order) = one_http_order();
    std::fs::create_dir_all(w.token_file().parent().unwrap()).unwrap();
    std::fs::write(w.token_file(), "original\n").unwrap();
    w.webroot_cmd()
        .args(["auth", "--order-id", &order])
        .assert()
        .success();
    // The second run finds its own token in place; that must not make it look like someone else's.
    w.webroot_cmd()
        .args(["auth", "--order-id", &order])
        .assert()
        .success()
        .stdout(predicate::str::contains("already present"));
    w.cmd()
        .args(["cleanup", "--order-id", &order])
        .assert()
        .success();
    assert_eq!(w.token_file_text(), "original\n");
}

#[test]
fn a_slow_api_times_out_is_retried_and_then_is_69() {
    let (w, order) = one_http_order();
    // One slow answer is retried and the call succeeds ...
    w.sim.fail_next(1, Fault::Slow(Duration::from_secs(2)));
    w.cmd()
        .args(["status", "--order-id", &order, "--api-timeout", "0.5"])
        .assert()
        .success();
    // ... five in a row exhaust the attempts: unavailable.
    w.sim.fail_next(5, Fault::Slow(Duration::from_secs(1)));
    w.cmd()
        .args(["status", "--order-id", &order, "--api-timeout", "0.3"])
        .assert()
        .code(69)
        .stderr(predicate::str::contains("timed out").and(predicate::str::contains("5 attempts")));
}

#[test]
fn json_output_carries_the_error() {
    let w = HttpWorld::new(&["www.example.test"], &[None]);
    let out = w
        .cmd()
        .env_remove("DIGICERT_API_KEY")
        .args(["status", "--order-id", "1", "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let doc = json(&out);
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["exit_code"], 78);
    assert_eq!(doc["command"], "status");
    assert_eq!(doc["error"]["kind"], "config");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("DIGICERT_API_KEY")
    );
    assert!(doc["records"].as_array().unwrap().is_empty());
}

#[test]
fn verify_wait_keeps_asking_until_digicert_sees_the_token() {
    // auth does not wait here, and one server lags, so the first checks fail; --wait retries.
    let w = HttpWorld::new(
        &["www.example.test"],
        &[None, Some(Duration::from_millis(1500))],
    );
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]).method("http-token"));
    w.webroot_cmd()
        .args([
            "auth",
            "--order-id",
            &order.to_string(),
            "--no-propagation-check",
        ])
        .assert()
        .success();
    w.cmd()
        .args([
            "verify",
            "--order-id",
            &order.to_string(),
            "--wait",
            "--timeout",
            "30",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("checking again"));
    assert_eq!(w.sim.order_status(order).as_deref(), Some("issued"));
    assert!(w.sim.checks().len() >= 2);
}

#[test]
fn a_config_file_supplies_options_and_flags_win() {
    let (w, order) = one_http_order();
    let config = w.state.path().join("dcv-hook.toml");
    std::fs::write(
        &config,
        format!(
            "provider = \"webroot\"\nwebroot = \"{}\"\noutput = \"text\"\npropagation-timeout = 30\n",
            w.webroot.path().display()
        ),
    )
    .unwrap();
    // --output on the command line beats output = "text" in the file.
    let out = w
        .cmd()
        .args(["auth", "--order-id", &order, "--output", "json"])
        .env("DCV_HOOK_CONFIG", &config)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["records"][0]["provider"], "webroot");
    assert!(w.token_file().exists());
    w.cmd()
        .arg("--config")
        .arg(&config)
        .args(["cleanup"])
        .assert()
        .success();
    // An unknown key is a configuration error naming it.
    std::fs::write(&config, "web-root = \"/tmp\"\n").unwrap();
    w.cmd()
        .arg("--config")
        .arg(&config)
        .args(["auth", "--order-id", &order])
        .assert()
        .code(78)
        .stderr(predicate::str::contains("web-root"));
}

#[test]
fn quiet_prints_nothing_but_errors() {
    let (w, order) = one_http_order();
    w.webroot_cmd()
        .args(["run", "--order-id", &order, "-q"])
        .assert()
        .success()
        .stdout("")
        .stderr("");
    w.cmd()
        .env_remove("DIGICERT_API_KEY")
        .args(["status", "--order-id", &order, "-q"])
        .assert()
        .code(78)
        .stdout("")
        .stderr(predicate::str::contains("DIGICERT_API_KEY"));
}

#[test]
fn a_host_without_addresses_is_65_before_anything_is_published() {
    let w = HttpWorld::new(&["www.example.test"], &[None]);
    let order = w
        .sim
        .add_order(OrderSpec::new(["nohost.example.test"]).method("http-token"));
    w.webroot_cmd()
        .args(["auth", "--order-id", &order.to_string()])
        .assert()
        .code(65)
        .stderr(predicate::str::contains(
            "nohost.example.test has no A or AAAA address",
        ));
    assert!(tree(w.webroot.path()).is_empty());
    assert!(w.state_files().is_empty());
}

#[test]
fn a_second_auth_keeps_the_replaced_files_mode_and_mtime() {
    use std::os::unix::fs::PermissionsExt;
    let (w, order) = one_http_order();
    let file = w.token_file();
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "original\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let old_mtime = std::time::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(old_mtime)
        .unwrap();
    for _ in 0..2 {
        w.webroot_cmd()
            .args(["auth", "--order-id", &order])
            .assert()
            .success();
    }
    w.cmd()
        .args(["cleanup", "--order-id", &order])
        .assert()
        .success();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(w.token_file_text(), "original\n");
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    assert_eq!(meta.modified().unwrap(), old_mtime);
}

#[test]
fn two_orders_on_one_host_leave_the_original_file_whichever_is_cleaned_first() {
    for a_first in [true, false] {
        let w = HttpWorld::new(&["www.example.test"], &[None]);
        let a = w
            .sim
            .add_order(OrderSpec::new(["www.example.test"]).method("http-token"))
            .to_string();
        let b = w
            .sim
            .add_order(OrderSpec::new(["www.example.test"]).method("http-token"))
            .to_string();
        std::fs::create_dir_all(w.token_file().parent().unwrap()).unwrap();
        std::fs::write(w.token_file(), "original\n").unwrap();
        for order in [&a, &b] {
            w.webroot_cmd()
                .args(["auth", "--order-id", order])
                .assert()
                .success();
        }
        let order = if a_first { [&a, &b] } else { [&b, &a] };
        for o in order {
            w.cmd()
                .args(["cleanup", "--order-id", o])
                .assert()
                .success();
        }
        assert_eq!(w.token_file_text(), "original\n", "a first: {a_first}");
        assert!(w.state_files().is_empty());
    }
}

#[test]
fn cleanup_of_entries_all_shared_with_another_run_only_forgets_them() {
    let (w, order) = one_http_order();
    w.webroot_cmd()
        .args(["auth", "--order-id", &order])
        .assert()
        .success();
    // A second entry for the same change, as another order publishing the same token would leave.
    let records = w.state.path().join("records");
    let entry_file = std::fs::read_dir(&records)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&entry_file).unwrap()).unwrap();
    entry["source"]["order_id"] = serde_json::json!(999_999);
    let other: dcv_hook::state::Entry = serde_json::from_value(entry.clone()).unwrap();
    std::fs::write(
        records.join(format!("{}.json", other.id())),
        entry.to_string(),
    )
    .unwrap();
    w.cmd()
        .args(["cleanup", "--order-id", "999999"])
        .assert()
        .success()
        .stdout(predicate::str::contains("kept (still used by another run)"));
    assert!(w.token_file().exists(), "the other order still needs it");
    w.cmd()
        .args(["cleanup", "--order-id", &order])
        .assert()
        .success();
    assert!(!w.token_file().exists());
    assert!(w.state_files().is_empty());
}

#[test]
fn one_failing_cleanup_group_does_not_stop_the_others() {
    let w = HttpWorld::new(&["www.example.test", "api.example.test"], &[None]);
    let gone = tempfile::tempdir().unwrap();
    let www = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]).method("http-token"))
        .to_string();
    let api = w
        .sim
        .add_order(OrderSpec::new(["api.example.test"]).method("http-token"))
        .to_string();
    // www goes to a web root that will vanish; api to the world's.
    w.cmd()
        .args([
            "auth",
            "--order-id",
            &www,
            "--provider",
            "webroot",
            "--webroot",
        ])
        .arg(gone.path())
        .args(["--no-propagation-check"])
        .assert()
        .success();
    w.webroot_cmd()
        .args(["auth", "--order-id", &api])
        .assert()
        .success();
    std::fs::remove_dir_all(gone.path()).unwrap();
    w.cmd().arg("cleanup").assert().code(73);
    assert!(!w.token_file().exists(), "api's group was cleaned up");
    assert_eq!(
        w.state_files().len(),
        1,
        "www's entry is kept for a later cleanup"
    );
}

#[test]
fn dry_run_and_real_run_both_say_when_the_orders_method_is_switched() {
    let w = HttpWorld::new(&["www.example.test"], &[None]);
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]).method("dns-txt-token"))
        .to_string();
    w.webroot_cmd()
        .args(["auth", "--dry-run", "--order-id", &order])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "dry run: would switch order {order}'s DCV method at DigiCert from dns-txt-token to http-token"
        )));
    assert_eq!(
        w.sim.order_method(order.parse().unwrap()).as_deref(),
        Some("dns-txt-token")
    );
    w.webroot_cmd()
        .args(["auth", "--order-id", &order])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "switched order {order}'s DCV method at DigiCert from dns-txt-token to http-token"
        )));
    assert_eq!(
        w.sim.order_method(order.parse().unwrap()).as_deref(),
        Some("http-token")
    );
}

/// The fault matrix of the HTTP side: each fault gives its documented code and a message naming
/// what failed, and leaves the web root and the state as they were.
#[test]
fn http_faults_have_their_codes_and_leave_nothing_behind() {
    // A server that never serves the file (404), one that loops redirects, an API nobody answers.
    let w = HttpWorld::new(
        &["www.example.test"],
        &[None, Some(Duration::from_secs(3600))],
    );
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]).method("http-token"))
        .to_string();
    let before = tree(w.webroot.path());
    w.webroot_cmd()
        .args(["run", "--order-id", &order, "--propagation-timeout", "1"])
        .assert()
        .code(75)
        .stderr(predicate::str::contains("127.80.").and(predicate::str::contains("HTTP 404")));
    assert_eq!(
        tree(w.webroot.path()),
        before,
        "run cleans up after a timeout"
    );
    assert!(w.state_files().is_empty());

    // A node answering 500.
    w.web[1].set_lag(Duration::ZERO);
    w.web[1].fail_with(Some(500));
    w.webroot_cmd()
        .args(["run", "--order-id", &order, "--propagation-timeout", "1"])
        .assert()
        .code(75)
        .stderr(predicate::str::contains("HTTP 500"));
    assert_eq!(tree(w.webroot.path()), before);
    w.web[1].fail_with(None);

    let path = "/.well-known/pki-validation/fileauth.txt";
    w.web[1].redirect(
        path,
        "http://www.example.test/.well-known/pki-validation/fileauth.txt",
    );
    w.webroot_cmd()
        .args(["run", "--order-id", &order, "--propagation-timeout", "1"])
        .assert()
        .code(75)
        .stderr(predicate::str::contains("more than 5 redirects"));
    assert_eq!(tree(w.webroot.path()), before);

    // Nothing listens at the API: unavailable after the retries, nothing published.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/services/v2", closed.local_addr().unwrap());
    drop(closed);
    w.webroot_cmd()
        .args(["auth", "--order-id", &order, "--api-url", &url])
        .assert()
        .code(69);
    assert_eq!(tree(w.webroot.path()), before);
    assert!(w.state_files().is_empty());
}

#[test]
fn verify_timeout_is_kept_even_when_digicert_asks_to_retry_later() {
    let (w, order) = one_http_order();
    // 429 with a 60 s Retry-After, then slow answers: neither may carry verify past --timeout.
    w.sim.fail_next(
        1,
        Fault::RateLimited {
            retry_after_secs: 60,
        },
    );
    let started = std::time::Instant::now();
    w.cmd()
        .args(["verify", "--order-id", &order, "--wait", "--timeout", "2"])
        .assert()
        .failure();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "verify --timeout 2 took {:?}",
        started.elapsed()
    );
    w.sim.fail_next(5, Fault::Slow(Duration::from_secs(20)));
    let started = std::time::Instant::now();
    w.cmd()
        .args(["verify", "--order-id", &order, "--wait", "--timeout", "2"])
        .assert()
        .failure();
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "verify --timeout 2 took {:?}",
        started.elapsed()
    );
}

#[test]
fn cleanup_leaves_the_records_of_an_auth_that_is_still_running() {
    // The second web server never serves: auth waits, and a cleanup meanwhile must not pull the
    // file from under it.
    let w = HttpWorld::new(
        &["www.example.test"],
        &[None, Some(Duration::from_secs(3600))],
    );
    let order = w
        .sim
        .add_order(OrderSpec::new(["www.example.test"]).method("http-token"))
        .to_string();
    let mut auth = std::process::Command::new(env!("CARGO_BIN_EXE_dcv-hook"))
        .env("DIGICERT_API_KEY", API_KEY)
        .env_remove("DCV_HOOK_CONFIG")
        .args(["auth", "--order-id", &order, "--api-url", &w.sim.url()])
        .args([
            "--resolver",
            &w.dns.addr().to_string(),
            "--poll-interval",
            "0.1",
        ])
        .args([
            "--propagation-timeout",
            "30",
            "--provider",
            "webroot",
            "--webroot",
        ])
        .arg(w.webroot.path())
        .arg("--state-dir")
        .arg(w.state.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(w.token_file().exists() && w.state_files().len() == 1) {
        assert!(std::time::Instant::now() < deadline, "auth never published");
        std::thread::sleep(Duration::from_millis(20));
    }
    w.cmd()
        .arg("cleanup")
        .assert()
        .success()
        .stdout(predicate::str::contains("still running"));
    assert!(
        w.token_file().exists(),
        "the running auth's file was removed"
    );
    auth.kill().unwrap();
    auth.wait().unwrap();
    // Once it is gone, its records are cleanup's.
    w.cmd().arg("cleanup").assert().success();
    assert!(!w.token_file().exists());
    assert!(w.state_files().is_empty());
}

#[test]
fn a_broken_config_file_still_gives_the_json_document() {
    let w = HttpWorld::new(&["www.example.test"], &[None]);
    let file = w.state.path().join("c.toml");
    std::fs::write(&file, "ttll = 1\n").unwrap();
    let out = w
        .cmd()
        .args(["verify", "--order-id", "1", "--output", "json", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let doc = json(&out);
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["command"], "verify");
    assert_eq!(doc["error"]["kind"], "config");
    assert!(
        doc["error"]["message"].as_str().unwrap().contains("ttll"),
        "{doc}"
    );
}

#[test]
fn an_order_whose_validation_lists_no_names_is_not_every_name_validated() {
    let w = HttpWorld::new(&["www.example.test"], &[None]);
    let order = w
        .sim
        .add_order(OrderSpec::new(Vec::<String>::new()).method("http-token"));
    w.webroot_cmd()
        .args(["auth", "--order-id", &order.to_string()])
        .assert()
        .code(65)
        .stderr(predicate::str::contains("lists no names"));
}
