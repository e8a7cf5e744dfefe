//! http-token-dynamic (the file name chosen by DigiCert) through the binary against the simulator
//! and real web servers: the domain flow, hostile `http_token_url`s, the central-server pattern and
//! what the method cannot validate.

use crate::support::nginx::Nginx;
use crate::support::world::{HttpWorld, tree};
use dcv_sim::{DomainSpec, RecordData};
use predicates::prelude::*;
use std::net::Ipv4Addr;

const DYNAMIC: &str = "http-token-dynamic";

#[test]
fn the_file_digicert_names_is_published_waited_for_validated_and_removed() {
    let w = HttpWorld::new(&["shop.example.test"], &[None, None]);
    let id = w
        .sim
        .add_domain(DomainSpec::new("shop.example.test").method(DYNAMIC));
    let id = id.to_string();
    // A dry run fetches no token, so no file name: it says where the file will go.
    w.webroot_cmd()
        .args(["auth", "--domain-id", &id, "--method", DYNAMIC, "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "/.well-known/pki-validation/chosen-by-digicert.txt",
        ));
    assert!(tree(w.webroot.path()).is_empty());
    w.webroot_cmd()
        .args(["auth", "--domain-id", &id, "--method", DYNAMIC])
        .assert()
        .success();
    let path = w.sim.domain_token_path(id.parse().unwrap()).unwrap();
    assert!(
        path.starts_with("/.well-known/pki-validation/") && !path.ends_with("fileauth.txt"),
        "{path}"
    );
    let file = w.webroot.path().join(path.trim_start_matches('/'));
    let token = w.sim.domain_token(id.parse().unwrap()).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
    assert!(!w.token_file().exists(), "fileauth.txt is not written");

    w.webroot_cmd()
        .args(["verify", "--domain-id", &id])
        .assert()
        .success();
    let checks = w.sim.checks();
    assert!(
        checks
            .iter()
            .flat_map(|c| c.details())
            .any(|d| d.contains(&path)),
        "the simulator fetched the dynamic file: {checks:?}"
    );
    assert_eq!(
        w.sim.domain_status(id.parse().unwrap()).as_deref(),
        Some("active")
    );

    w.webroot_cmd()
        .args(["cleanup", "--domain-id", &id])
        .assert()
        .success();
    assert!(!file.exists());
    assert!(
        tree(w.webroot.path()).is_empty(),
        "{:?}",
        tree(w.webroot.path())
    );
    assert!(w.state_files().is_empty());
}

#[test]
fn hostile_http_token_urls_are_65_and_nothing_is_written() {
    let w = HttpWorld::new(&[], &[None]);
    let hostile = [
        "http://h0.example.test/.well-known/other/a1.txt",
        "http://h1.example.test/.well-known/pki-validation/../../index.txt",
        "http://evil.example.net/.well-known/pki-validation/a1.txt",
        "http://h3.example.test/.well-known/pki-validation/a1.php",
        "http://h4.example.test/.well-known/pki-validation/a1.txt?x=../y",
        "http://h5.example.test/.well-known/pki-validation/sub/a1.txt",
    ];
    for (i, url) in hostile.iter().enumerate() {
        let name = format!("h{i}.example.test");
        let id = w
            .sim
            .add_domain(DomainSpec::new(&name).method(DYNAMIC).http_token_url(url));
        w.webroot_cmd()
            .args(["auth", "--domain-id", &id.to_string(), "--method", DYNAMIC])
            .assert()
            .code(65)
            .stderr(predicate::str::contains("http_token_url").and(predicate::str::contains(*url)));
        assert!(
            tree(w.webroot.path()).is_empty(),
            "{url}: {:?}",
            tree(w.webroot.path())
        );
        assert!(w.state_files().is_empty(), "{url}");
    }
}

/// shop.example.test redirects /.well-known/pki-validation/ to a central validation server with
/// `location`; the central server serves the one web root.
fn central_world(location: &str) -> (HttpWorld, Nginx, Nginx) {
    let w = HttpWorld::new(&[], &[]);
    let central = Ipv4Addr::new(127, 81, w.net, 1);
    let site = Ipv4Addr::new(127, 81, w.net, 2);
    let central_nginx = Nginx::start(central, w.webroot.path(), "");
    let redirect = format!("location /.well-known/pki-validation/ {{ return 302 {location}; }}");
    let site_nginx = Nginx::start(site, w.webroot.path(), &redirect);
    w.dns
        .add("example.test", RecordData::soa("ns.example.test"));
    w.dns.add("shop.example.test", RecordData::A(site));
    w.dns.add("central.example.test", RecordData::A(central));
    w.dns.add("example.net", RecordData::soa("ns.example.net"));
    w.dns.add("central.example.net", RecordData::A(central));
    (w, central_nginx, site_nginx)
}

#[test]
fn a_central_validation_server_on_the_registered_domain_is_followed_and_another_domain_is_not() {
    let (w, _central, _site) = central_world("http://central.example.test$request_uri");
    let id = w
        .sim
        .add_domain(DomainSpec::new("shop.example.test").method(DYNAMIC));
    w.webroot_cmd()
        .args(["run", "--domain-id", &id.to_string(), "--method", DYNAMIC])
        .assert()
        .success();
    assert_eq!(w.sim.domain_status(id).as_deref(), Some("active"));
    assert!(tree(w.webroot.path()).is_empty());

    let (w, _central, _site) = central_world("http://central.example.net$request_uri");
    let id = w
        .sim
        .add_domain(DomainSpec::new("shop.example.test").method(DYNAMIC));
    w.webroot_cmd()
        .args(["run", "--domain-id", &id.to_string(), "--method", DYNAMIC])
        .args(["--propagation-timeout", "2"])
        .assert()
        .code(75)
        .stderr(predicate::str::contains("outside example.test"));
    assert!(tree(w.webroot.path()).is_empty(), "run cleans up");
    // The simulator, like DigiCert, does not follow it either, even with the file in place.
    let path = w.sim.domain_token_path(id).unwrap();
    let file = w.webroot.path().join(path.trim_start_matches('/'));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, w.sim.domain_token(id).unwrap()).unwrap();
    w.webroot_cmd()
        .args(["verify", "--domain-id", &id.to_string()])
        .assert()
        .code(75);
    assert_ne!(w.sim.domain_status(id).as_deref(), Some("active"));
    let details: Vec<String> = w.sim.checks().iter().flat_map(|c| c.details()).collect();
    assert!(
        details.iter().any(|d| d.contains("outside example.test")),
        "{details:?}"
    );
}

#[test]
fn orders_wildcards_and_other_validation_types_are_refused_before_anything_changes() {
    let w = HttpWorld::new(&["shop.example.test"], &[None]);
    let id = w
        .sim
        .add_domain(DomainSpec::new("shop.example.test").method("dns-txt-token"));
    let refused = [
        (vec!["auth", "--order-id", "1"], "not an order"),
        (vec!["auth", "-d", "*.shop.example.test"], "wildcard"),
    ];
    for (args, says) in refused {
        w.webroot_cmd()
            .args(&args)
            .args(["--method", DYNAMIC])
            .assert()
            .code(64)
            .stderr(predicate::str::contains(says));
    }
    w.webroot_cmd()
        .args(["auth", "--domain-id", &id.to_string(), "--method", DYNAMIC])
        .args(["--validation-type", "dv"])
        .assert()
        .code(64)
        .stderr(predicate::str::contains("OV and EV validation only"));
    assert!(tree(w.webroot.path()).is_empty());
    assert_eq!(w.sim.domain_method(id).as_deref(), Some("dns-txt-token"));
    assert!(
        !w.sim.requests().iter().any(|r| r.method != "GET"),
        "nothing was changed at DigiCert"
    );
}

#[test]
fn the_exec_provider_is_handed_the_url_digicert_named() {
    let w = HttpWorld::new(&["shop.example.test"], &[None]);
    let id = w
        .sim
        .add_domain(DomainSpec::new("shop.example.test").method(DYNAMIC));
    let dir = tempfile::tempdir().unwrap();
    let (program, log) = (dir.path().join("publish"), dir.path().join("log"));
    // Writes the file under the web root at the URL's path, and logs each call.
    let script = "#!/bin/sh\nset -e\npath=\"${2#http://*/}\"\necho \"$1 $2\" >> \"$LOG\"\n\
                  case \"$1\" in\n present) mkdir -p \"$WR/$(dirname \"$path\")\"; printf %s \"$3\" > \"$WR/$path\";;\n \
                  cleanup) rm -f \"$WR/$path\";;\nesac\n";
    std::fs::write(&program, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    w.cmd()
        .env("WR", w.webroot.path())
        .env("LOG", &log)
        .args(["run", "--domain-id", &id.to_string(), "--method", DYNAMIC])
        .args(["--provider", "exec", "--exec"])
        .arg(&program)
        .assert()
        .success();
    assert_eq!(w.sim.domain_status(id).as_deref(), Some("active"));
    let path = w.sim.domain_token_path(id).unwrap();
    let url = format!("http://shop.example.test{path}");
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(calls, format!("present {url}\ncleanup {url}\n"));
    assert!(!w.webroot.path().join(path.trim_start_matches('/')).exists());
}

#[test]
fn doctor_and_revalidate_take_the_method_from_digicert() {
    let w = HttpWorld::new(&["shop.example.test"], &[None]);
    let id = w.sim.add_domain(
        DomainSpec::new("shop.example.test")
            .method(DYNAMIC)
            .expires_in_days("ov", 3),
    );
    let out = w
        .webroot_cmd()
        .args(["doctor", "--domain-id", &id.to_string(), "--output", "json"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"http.ok"), "{codes:?}");
    assert!(tree(w.webroot.path()).is_empty(), "the probe is removed");

    w.webroot_cmd()
        .args(["revalidate", "--output", "json"])
        .assert()
        .success();
    assert_eq!(w.sim.domain_status(id).as_deref(), Some("active"));
    assert_eq!(w.sim.domain_method(id).as_deref(), Some(DYNAMIC));
    let submitted = w.sim.requests();
    assert!(
        submitted
            .iter()
            .any(|r| r.path.ends_with("/validation") && r.body.contains(DYNAMIC)),
        "submitted with {DYNAMIC}"
    );
    assert!(tree(w.webroot.path()).is_empty());
}

#[test]
fn a_chain_of_two_redirects_on_the_registered_domain_is_followed_by_the_wait_and_the_ca() {
    let (w, _central, _site) = central_world("http://hop.example.test$request_uri");
    let hop = Ipv4Addr::new(127, 81, w.net, 3);
    let _hop = Nginx::start(
        hop,
        w.webroot.path(),
        "location /.well-known/pki-validation/ { return 301 http://central.example.test$request_uri; }",
    );
    w.dns.add("hop.example.test", RecordData::A(hop));
    let id = w
        .sim
        .add_domain(DomainSpec::new("shop.example.test").method(DYNAMIC));
    w.webroot_cmd()
        .args(["run", "--domain-id", &id.to_string(), "--method", DYNAMIC])
        .args(["--propagation-timeout", "20"])
        .assert()
        .success();
    assert_eq!(w.sim.domain_status(id).as_deref(), Some("active"));
    assert!(tree(w.webroot.path()).is_empty());
}
