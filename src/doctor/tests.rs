use super::*;

fn finding(code: &'static str, severity: Severity) -> Finding {
    Finding::new(code, severity, "ns1 (192.0.2.1)", "seen", "fix it")
}

#[test]
fn the_verdict_is_blocks_then_unchecked_then_clear() {
    let ok = finding("dns.ns.ok", Severity::Ok);
    let warn = finding("dns.soa.lagging", Severity::Warns);
    let unchecked = finding("doctor.unchecked", Severity::Unchecked);
    let blocks = finding("dns.ns.refused", Severity::Blocks);
    assert_eq!(verdict(&[ok.clone(), warn.clone()]), None);
    let e = verdict(&[ok.clone(), unchecked.clone()]).unwrap();
    assert_eq!(e.exit_code(), 69);
    let e = verdict(&[unchecked, blocks.clone(), ok]).unwrap();
    assert_eq!(e.exit_code(), 75);
    assert!(e.message().contains("dns.ns.refused"), "{e}");
    let mut all = vec![warn, blocks];
    sort(&mut all);
    assert_eq!(all[0].code, "dns.ns.refused");
}

#[test]
fn the_table_aligns_codes_and_puts_the_fix_below() {
    let lines = table(&[
        finding("dns.ns.refused", Severity::Blocks).about("example.com"),
        Finding::new("caa.ok", Severity::Ok, "example.com", "no CAA", ""),
    ]);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("blocks    dns.ns.refused example.com"),
        "{lines:?}"
    );
    assert!(
        lines[1].trim_start().starts_with("fix: fix it"),
        "{lines:?}"
    );
    assert!(
        lines[2].starts_with("ok        caa.ok         "),
        "{lines:?}"
    );
}
