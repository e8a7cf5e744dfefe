//! Unit tests of record content: TXT quoting and splitting, CNAME targets, matching stored
//! content, and the zone names tried for a record name.

use super::*;

#[test]
fn zone_candidates_table() {
    let cases: &[(&str, &[&str])] = &[
        (
            "_dnsauth.shop.Example.com.",
            &[
                "_dnsauth.shop.example.com",
                "shop.example.com",
                "example.com",
            ],
        ),
        ("example.com", &["example.com"]),
        ("localhost", &["localhost"]),
    ];
    for (name, want) in cases {
        assert_eq!(crate::publish::txt::zone_candidates(name), *want, "{name}");
    }
}

#[test]
fn content_table() {
    let long = "x".repeat(300);
    assert_eq!(record_content(RecordType::Txt, "tok"), "\"tok\"");
    assert_eq!(
        record_content(RecordType::Txt, "say \"hi\" \\o/"),
        "\"say \\\"hi\\\" \\\\o/\""
    );
    let split = record_content(RecordType::Txt, &long);
    assert_eq!(
        split,
        format!("\"{}\" \"{}\"", "x".repeat(255), "x".repeat(45))
    );
    assert!(content_matches(&txt("a", &long), &split));
    assert_eq!(
        record_content(RecordType::Cname, "Tok.DCV.digicert.com."),
        "tok.dcv.digicert.com"
    );
    // (record, stored content, matches)
    let cases = [
        (txt("a", "tok"), "tok", true),
        (txt("a", "tok"), "\"tok\"", true),
        (txt("a", "tok"), "\"to\" \"k\"", true),
        (txt("a", "tok"), "\"tok", false),
        (txt("a", "tok"), "TOK", false),
        (txt("a", "say \"hi\""), "\"say \\\"hi\\\"\"", true),
        (
            cname("a", "t.dcv.digicert.com"),
            "T.dcv.digicert.com.",
            true,
        ),
        (
            cname("a", "t.dcv.digicert.com"),
            "u.dcv.digicert.com",
            false,
        ),
    ];
    for (record, content, want) in cases {
        assert_eq!(
            content_matches(&record, content),
            want,
            "{record} vs {content}"
        );
    }
}
