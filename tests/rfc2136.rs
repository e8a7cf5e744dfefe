//! The rfc2136 publisher and the DNS propagation check against a real BIND primary/secondary pair.

use crate::support::bind::{BindFixture, BindOptions};
use crate::support::txt;
use dcv_hook::error::Kind;
use dcv_hook::propagation::dns::DnsCheck;
use dcv_hook::propagation::{Observation, Polling, PropagationCheck, wait_until_served};
use dcv_hook::publish::Publisher;
use dcv_hook::publish::rfc2136::{Rfc2136, Rfc2136Settings};
use dcv_hook::record::{Record, RecordType};
use dcv_hook::secret::Secret;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn settings(bind: &BindFixture) -> Rfc2136Settings {
    let mut s = Rfc2136Settings::new(
        bind.primary_addr(),
        bind.key_name(),
        Secret::new(bind.secret()),
    );
    s.timeout = Duration::from_secs(2);
    s
}

fn publisher(bind: &BindFixture) -> Rfc2136 {
    Rfc2136::new(settings(bind), bind.resolver()).expect("publisher")
}

fn quick(timeout: Duration) -> Polling {
    Polling {
        interval: Duration::from_millis(50),
        timeout,
    }
}

#[test]
fn present_waits_for_the_lagging_secondary() {
    let bind = BindFixture::start(BindOptions {
        lag: Some(Duration::from_secs(2)),
    });
    let record = txt("_dnsauth.lag.example.test", "token-lag");
    let published = publisher(&bind)
        .present(std::slice::from_ref(&record))
        .unwrap();
    assert_eq!(published[0].location, "example.test");
    assert_eq!(
        published[0].undo["server"].as_str(),
        Some(bind.primary_addr().to_string().as_str())
    );
    assert!(!published[0].preexisting);

    let check = DnsCheck::new(bind.resolver(), Duration::from_millis(500));
    let probes = check.probes(std::slice::from_ref(&record)).unwrap();
    let servers: Vec<String> = probes.iter().map(|p| p.server()).collect();
    assert_eq!(
        servers,
        vec![
            format!("ns1.example.test ({})", bind.primary()),
            format!("ns2.example.test ({})", bind.secondary())
        ]
    );
    let started = Instant::now();
    let lines: Mutex<Vec<(Duration, String)>> = Mutex::new(Vec::new());
    let served = wait_until_served(&probes, quick(Duration::from_secs(10)), &|line| {
        lines
            .lock()
            .unwrap()
            .push((started.elapsed(), line.to_string()))
    })
    .unwrap();
    assert_eq!(served[0].servers.len(), 2);
    let lines = lines.into_inner().unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].1.starts_with("ns1.example.test"), "{lines:?}");
    assert!(lines[1].1.starts_with("ns2.example.test"), "{lines:?}");
    // The secondary flipped only after the lag, well after the primary.
    // (Lower bounds and an order only: a loaded machine makes everything later, never earlier.)
    assert!(lines[0].0 < lines[1].0, "{lines:?}");
    assert!(lines[1].0 >= Duration::from_millis(1500), "{lines:?}");
    assert!(bind.transfers() >= 1);

    publisher(&bind).cleanup(&published).unwrap();
    assert!(!bind.has_record(
        bind.primary(),
        RecordType::Txt,
        &record.name(),
        &record.value
    ));
}

#[test]
fn foreign_values_survive_present_and_cleanup() {
    let bind = BindFixture::start(BindOptions::default());
    let name = "_dnsauth.foreign.example.test";
    // Someone else's value, added by another client and unknown to ours.
    publisher(&bind)
        .present(&[txt(name, "someone-else")])
        .unwrap();

    let mut ours = publisher(&bind);
    let published = ours.present(&[txt(name, "ours")]).unwrap();
    assert_eq!(
        bind.txt_values(bind.primary(), name),
        vec!["ours", "someone-else"]
    );
    ours.cleanup(&published).unwrap();
    assert_eq!(bind.txt_values(bind.primary(), name), vec!["someone-else"]);
    // Cleaning up again is fine: already gone.
    ours.cleanup(&published).unwrap();
}

#[test]
fn wildcard_and_base_share_a_name_and_cleanup_removes_only_ours() {
    let bind = BindFixture::start(BindOptions::default());
    let name = "_dnsauth.w.example.test";
    publisher(&bind).present(&[txt(name, "foreign")]).unwrap();
    let mut base = txt(name, "token-base");
    base.domain = "w.example.test".into();
    let mut wildcard = txt(name, "token-wildcard");
    wildcard.domain = "*.w.example.test".into();

    let serial = bind.primary_serial("example.test").unwrap();
    let mut p = publisher(&bind);
    let published = p.present(&[base, wildcard]).unwrap();
    assert_eq!(
        bind.primary_serial("example.test").unwrap(),
        serial + 1,
        "one update for both values"
    );
    assert_eq!(
        bind.txt_values(bind.primary(), name),
        vec!["foreign", "token-base", "token-wildcard"]
    );
    p.cleanup(&published[..1]).unwrap();
    assert_eq!(
        bind.txt_values(bind.primary(), name),
        vec!["foreign", "token-wildcard"]
    );
    p.cleanup(&published[1..]).unwrap();
    assert_eq!(bind.txt_values(bind.primary(), name), vec!["foreign"]);
}

#[test]
fn a_preexisting_value_is_marked_and_left_by_cleanup() {
    let bind = BindFixture::start(BindOptions::default());
    let name = "_dnsauth.pre.example.test";
    publisher(&bind)
        .present(&[txt(name, "same-token")])
        .unwrap();

    let serial = bind.primary_serial("example.test").unwrap();
    let mut p = publisher(&bind);
    let published = p.present(&[txt(name, "same-token")]).unwrap();
    assert!(published[0].preexisting);
    assert_eq!(
        bind.primary_serial("example.test").unwrap(),
        serial,
        "nothing to send"
    );
    p.cleanup(&published).unwrap();
    assert_eq!(bind.txt_values(bind.primary(), name), vec!["same-token"]);
}

#[test]
fn records_in_three_zones_go_out_as_one_update_per_zone() {
    let bind = BindFixture::start(BindOptions::default());
    let resolver = bind.resolver();
    // The CNAME-delegation case: _dnsauth.shop.example.test is an alias into delegated.test.
    let target = resolver.follow_cname("_dnsauth.shop.example.test").unwrap();
    assert_eq!(target, "shop.delegated.test");
    let mut delegated = txt(&target, "token-shop");
    delegated.domain = "shop.example.test".into();
    let records = vec![
        txt("_dnsauth.a.example.test", "token-a"),
        txt("_dnsauth.b.example.test", "token-b"),
        txt("_dnsauth.other.test", "token-other"),
        delegated,
    ];
    let before: Vec<u32> = ["example.test", "other.test", "delegated.test"]
        .iter()
        .map(|z| bind.primary_serial(z).unwrap())
        .collect();

    let mut p = publisher(&bind);
    let published = p.present(&records).unwrap();
    let zones: Vec<&str> = published.iter().map(|p| p.location.as_str()).collect();
    assert_eq!(
        zones,
        [
            "example.test",
            "example.test",
            "other.test",
            "delegated.test"
        ]
    );
    let after: Vec<u32> = ["example.test", "other.test", "delegated.test"]
        .iter()
        .map(|z| bind.primary_serial(z).unwrap())
        .collect();
    // BIND bumps the serial once per UPDATE message, however many records it carries.
    assert_eq!(after, before.iter().map(|s| s + 1).collect::<Vec<_>>());
    for zone in ["example.test", "other.test", "delegated.test"] {
        assert_eq!(
            bind.update_messages(zone),
            1,
            "{zone}: {}",
            bind.primary_log()
        );
    }

    // The NS of delegated.test live in example.test; the check still finds both addresses.
    let check = DnsCheck::new(resolver, Duration::from_millis(500));
    let probes = check.probes(&records).unwrap();
    assert_eq!(probes.len(), 8);
    wait_until_served(&probes, quick(Duration::from_secs(5)), &|_| {}).unwrap();

    p.cleanup(&published).unwrap();
    for r in &records {
        assert!(
            !bind.has_record(bind.primary(), RecordType::Txt, &r.name(), &r.value),
            "{r}"
        );
    }
}

#[test]
fn a_wrong_tsig_secret_is_noperm() {
    let bind = BindFixture::start(BindOptions::default());
    let mut s = settings(&bind);
    let wrong = "c2VjcmV0LWJ1dC1ub3QtdGhlLXJpZ2h0LW9uZS4uLi4=";
    s.secret = Secret::new(wrong);
    let mut p = Rfc2136::new(s, bind.resolver()).unwrap();
    let err = p
        .present(&[txt("_dnsauth.sig.example.test", "v")])
        .unwrap_err();
    assert_eq!(err.kind(), Kind::NoPerm, "{err}");
    assert!(err.message().starts_with("rfc2136: "), "{err}");
    assert!(err.message().contains(bind.key_name()), "{err}");
    assert!(!err.message().contains(wrong), "{err}");
    assert!(!err.message().contains(bind.secret()), "{err}");
}

#[test]
fn an_unknown_key_is_noperm() {
    let bind = BindFixture::start(BindOptions::default());
    let mut s = settings(&bind);
    s.key_name = "nobody-key".into();
    let mut p = Rfc2136::new(s, bind.resolver()).unwrap();
    let err = p
        .present(&[txt("_dnsauth.key.example.test", "v")])
        .unwrap_err();
    assert_eq!(err.kind(), Kind::NoPerm, "{err}");
    assert!(err.message().contains("nobody-key"), "{err}");
}

#[test]
fn a_refused_later_zone_takes_back_earlier_zones() {
    let bind = BindFixture::start(BindOptions::default());
    let ours = txt("_dnsauth.all.example.test", "token-all");
    let locked = txt("_dnsauth.locked.test", "token-locked");
    let mut p = publisher(&bind);
    // Zones go out in name order, so example.test is updated before locked.test refuses.
    let err = p.present(&[locked.clone(), ours.clone()]).unwrap_err();
    assert_eq!(err.kind(), Kind::NoPerm, "{err}");
    assert!(err.message().contains("refused"), "{err}");
    // Two messages changed example.test: the add, then the delete that took it back.
    assert_eq!(
        bind.update_messages("example.test"),
        2,
        "{}",
        bind.primary_log()
    );
    assert!(!bind.has_record(bind.primary(), RecordType::Txt, &ours.name(), &ours.value));
    assert!(!bind.has_record(
        bind.primary(),
        RecordType::Txt,
        &locked.name(),
        &locked.value
    ));
}

#[test]
fn a_wrong_zone_override_is_config_with_the_hint() {
    let bind = BindFixture::start(BindOptions::default());
    for zone in ["other.test", "test"] {
        let mut s = settings(&bind);
        s.zone = Some(zone.into());
        let mut p = Rfc2136::new(s, bind.resolver()).unwrap();
        let err = p
            .present(&[txt("_dnsauth.z.example.test", "v")])
            .unwrap_err();
        assert_eq!(err.kind(), Kind::Config, "{zone}: {err}");
        assert!(err.message().contains("--rfc2136-zone"), "{zone}: {err}");
    }
    assert!(!bind.has_record(
        bind.primary(),
        RecordType::Txt,
        "_dnsauth.z.example.test",
        "v"
    ));
}

#[test]
fn a_stopped_primary_is_unavailable_quickly() {
    let bind = BindFixture::start(BindOptions::default());
    let published = publisher(&bind)
        .present(&[txt("_dnsauth.down.example.test", "v")])
        .unwrap();
    bind.stop_primary();
    // Zone discovery still works through the secondary; the primary itself is gone.
    let secondary = Arc::new(
        dcv_hook::resolver::Resolver::new(&[std::net::SocketAddr::new(bind.secondary(), 53)])
            .unwrap(),
    );
    let check = DnsCheck::new(secondary.clone(), Duration::from_millis(300));
    let mut s = settings(&bind);
    s.timeout = Duration::from_secs(1);
    let mut p = Rfc2136::new(s, secondary).unwrap();

    let started = Instant::now();
    let err = p
        .present(&[txt("_dnsauth.down.example.test", "w")])
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Unavailable, "{err}");
    assert!(err.message().starts_with("rfc2136: "), "{err}");
    let err = p.cleanup(&published).unwrap_err();
    assert_eq!(err.kind(), Kind::Unavailable, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // The propagation check names the dead primary as unreachable; the secondary still answers.
    let probes = check.probes(&[published[0].record.clone()]).unwrap();
    assert_eq!(probes.len(), 2);
    assert_eq!(
        probes[0].server(),
        format!("ns1.example.test ({})", bind.primary())
    );
    assert_eq!(
        probes[0].observe(Duration::from_secs(3)),
        Observation::Unreachable("refused".into())
    );
    assert!(
        !matches!(
            probes[1].observe(Duration::from_secs(3)),
            Observation::Unreachable(_)
        ),
        "{}",
        probes[1].server()
    );
}

#[test]
fn a_secondary_that_never_catches_up_fails_naming_it() {
    let bind = BindFixture::start(BindOptions { lag: None });
    let record = txt("_dnsauth.never.example.test", "token-never");
    publisher(&bind)
        .present(std::slice::from_ref(&record))
        .unwrap();
    let check = DnsCheck::new(bind.resolver(), Duration::from_millis(500));
    let probes = check.probes(std::slice::from_ref(&record)).unwrap();
    let err = wait_until_served(&probes, quick(Duration::from_millis(1500)), &|_| {}).unwrap_err();
    assert_eq!(err.kind(), Kind::TempFail);
    let msg = err.message();
    assert!(
        msg.contains(&format!("ns2.example.test ({})", bind.secondary())),
        "{msg}"
    );
    assert!(msg.contains("answered NXDOMAIN"), "{msg}");
    assert!(!msg.contains(&format!("({})", bind.primary())), "{msg}");
    assert_eq!(bind.secondary_serial("example.test"), Some(1));
}

#[test]
fn five_hundred_records_in_one_zone_go_over_tcp_in_bounded_messages_and_all_come_out_again() {
    let bind = BindFixture::start(BindOptions::default());
    // 500 values of 200 characters: about 120 kB, far more than one UDP message (or one TCP one).
    let records: Vec<Record> = (0..500)
        .map(|i| {
            txt(
                &format!("_dnsauth.b{i:03}.example.test"),
                &format!("{i:03}{}", "v".repeat(197)),
            )
        })
        .collect();
    let mut p = publisher(&bind);
    let published = p.present(&records).unwrap();
    let messages = bind.update_messages("example.test");
    assert!(messages > 1, "one message cannot carry 120 kB: {messages}");
    let missing: Vec<&Record> = records
        .iter()
        .filter(|r| !bind.has_record(bind.primary(), RecordType::Txt, &r.name(), &r.value))
        .collect();
    assert!(
        missing.is_empty(),
        "reported published but absent: {missing:?}"
    );

    p.cleanup(&published).unwrap();
    let left: Vec<&Record> = records
        .iter()
        .filter(|r| bind.has_record(bind.primary(), RecordType::Txt, &r.name(), &r.value))
        .collect();
    assert!(
        left.is_empty(),
        "reported removed but still there: {left:?}"
    );
    assert!(bind.update_messages("example.test") >= 2 * messages);
}
