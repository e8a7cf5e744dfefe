//! Property tests (proptest, 256 cases each, a few seconds in all) for the parsers of ours that take
//! outside input: domain names, certbot ini files and state files. Each says what must hold for any
//! input, not only for the ones the unit tables thought of: the right error kind, no secret in an
//! error, round trips through a state directory, damaged files skipped. (The CertCentral answer
//! types are serde derives: what they read is tested with whole answers of the API in tests/, not here.)

use dcv_hook::dcv::DomainName;
use dcv_hook::error::Kind;
use dcv_hook::publish::rfc2136::parse_certbot_ini;
use dcv_hook::record::{HttpUrl, Published, Record, RecordType};
use dcv_hook::state::{AcmeSource, Entry, Owner, Source, StateDir, Status};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // Shrinking a failure is bounded too, so a failing run still ends quickly.
        max_shrink_iters: 2048,
        // Failures are reported with their input; no regression files beside the tests.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Strings that look like names, with the characters that break naive parsers mixed in.
fn name_like() -> impl Strategy<Value = String> {
    let label = prop_oneof![
        // Mostly good labels, so that about half the names parse and their checks are exercised.
        16 => "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
        1 => "[a-zA-Z0-9-]{0,70}",
        1 => "[a-zé🙂ßü\u{301}\u{5d0}]{1,8}",
        1 => "xn--[a-z0-9-]{0,10}",
        1 => Just("*".to_string()),
        1 => "_[a-z]{1,8}",
    ];
    prop_oneof![
        8 => (
            prop::option::of(Just("*.")),
            prop::collection::vec(label, 1..6),
            prop::option::of(Just(".")),
        )
            .prop_map(|(star, labels, dot)| {
                format!("{}{}{}", star.unwrap_or(""), labels.join("."), dot.unwrap_or(""))
            }),
        // Anything at all.
        1 => any::<String>(),
        // The separators and control characters of hostile input.
        1 => "[a-z./\\\\ \\x00\\n\"'*。．-]{0,40}",
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Any input: an error of kind DataErr, or a lowercase A-label name within DNS limits that
    /// parses to itself.
    #[test]
    fn domain_names_parse_to_checked_a_labels_or_a_data_error(input in name_like()) {
        match DomainName::parse(&input) {
            Err(e) => {
                prop_assert_eq!(e.kind(), Kind::DataErr);
                prop_assert!(!e.to_string().contains('\n'));
            }
            Ok(name) => {
                let text = name.as_str();
                prop_assert!(text.len() <= 253, "{text}");
                prop_assert_eq!(text, text.to_ascii_lowercase());
                let base = text.strip_prefix("*.").unwrap_or(text);
                prop_assert!(base.split('.').count() >= 2, "{text}");
                for label in base.split('.') {
                    prop_assert!((1..=63).contains(&label.len()), "{text}");
                    prop_assert!(!label.starts_with('-') && !label.ends_with('-'), "{text}");
                    prop_assert!(
                        label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                        "{text}"
                    );
                }
                let again = DomainName::parse(text);
                prop_assert_eq!(again.as_ref().ok(), Some(&name), "{:?}", again);
            }
        }
    }

    /// Any ini text: settings, or a DataErr that never repeats the secret.
    #[test]
    fn certbot_ini_parses_or_fails_as_data_without_the_secret(lines in ini_lines()) {
        let text = lines.join("\n");
        match parse_certbot_ini(&text) {
            Ok(settings) => {
                prop_assert!(!settings.key_name.is_empty());
                prop_assert!(!settings.secret.is_empty());
                let debug = format!("{settings:?}");
                prop_assert!(!debug.contains(SECRET), "{}", debug);
            }
            Err(e) => {
                prop_assert_eq!(e.kind(), Kind::DataErr);
                prop_assert!(!e.to_string().contains(SECRET), "{e}");
                prop_assert!(!e.to_string().contains('\n'));
            }
        }
    }

    /// Any ini bytes, however broken: no panic.
    #[test]
    fn certbot_ini_never_panics_on_any_text(text in any::<String>()) {
        if let Err(e) = parse_certbot_ini(&text) {
            prop_assert_eq!(e.kind(), Kind::DataErr);
        }
    }

    /// Any entry, whatever its strings hold, survives the JSON round trip, and a saved one loads
    /// back from a state directory unchanged.
    #[test]
    fn state_entries_round_trip(entry in entry()) {
        let json = serde_json::to_string(&entry).unwrap();
        let back: Entry = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &entry);
        prop_assert_eq!(back.id(), entry.id());
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let lock = state.lock().unwrap();
        state.save(&entry, &lock).unwrap();
        prop_assert_eq!(state.load_all(&lock).unwrap(), vec![entry]);
    }

    /// A state file damaged anyhow (cut short, bytes flipped, garbage) never panics loading: it is
    /// read or skipped, and a good file beside it still loads.
    #[test]
    fn damaged_state_files_never_panic_loading(
        entry in ascii_entry(),
        cut in any::<prop::sample::Index>(),
        // Mostly text, so the JSON parser (not only the UTF-8 check) meets the damage.
        flips in prop::collection::vec((any::<prop::sample::Index>(), damage_byte()), 0..4),
        garbage in prop::collection::vec(damage_byte(), 0..16),
    ) {
        let mut bytes = serde_json::to_vec(&entry).unwrap();
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        bytes.extend(garbage);
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path()).unwrap();
        let lock = state.lock().unwrap();
        let good = sample_entry();
        state.save(&good, &lock).unwrap();
        std::fs::write(dir.path().join("records/damaged.json"), &bytes).unwrap();
        let loaded = state.load_all(&lock).unwrap();
        prop_assert!(loaded.contains(&good));
        prop_assert!(loaded.len() <= 2);
    }
}

/// A byte to damage a state file with: mostly JSON's own characters, sometimes anything.
fn damage_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        12 => prop::sample::select(b"{}[]\",:0123456789 aenlrstu\\".to_vec()),
        6 => 0x20u8..0x7f,
        1 => any::<u8>(),
    ]
}

const SECRET: &str = "c2VjcmV0LXNlbnRpbmVsLXByb3B0ZXN0";

/// The lines of a certbot ini, in any order: each key present or not, with good and bad values;
/// the secret only ever as the secret's value (or pasted alone on a line), plus comments and noise.
fn ini_lines() -> impl Strategy<Value = Vec<String>> {
    let line = |key: &'static str, value: BoxedStrategy<String>| {
        (
            prop_oneof![Just(key.to_string()), Just(key.to_ascii_uppercase())],
            "[ \t]{0,2}",
            prop_oneof![Just("="), Just(" = "), Just("==")],
            value,
        )
            .prop_map(|(k, ws, eq, v)| format!("{ws}{k}{eq}{v}"))
    };
    let text = |good: &[&'static str], bad: &[&'static str]| {
        let good: Vec<String> = good.iter().map(|s| s.to_string()).collect();
        let bad: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
        prop_oneof![
            6 => prop::sample::select(good),
            2 => prop::sample::select(bad),
            1 => any::<String>().prop_map(|s| s.replace(['\n', '\r'], "")),
        ]
        .boxed()
    };
    let secret = prop_oneof![
        Just(SECRET.to_string()),
        Just(format!("\"{SECRET}\"")),
        Just(format!("'{SECRET}'")),
        Just(format!("'{SECRET}")),
        Just(String::new()),
    ]
    .boxed();
    let noise = prop_oneof![
        3 => prop::sample::select(vec![
            "# comment".to_string(),
            "; comment".to_string(),
            "[section]".to_string(),
            String::new(),
            "dns_rfc2136_sign_query = false".to_string(),
        ]),
        // A secret pasted alone on a line: an error that must not quote it.
        1 => Just(SECRET.to_string()),
        1 => any::<String>().prop_map(|s| s.replace(['\n', '\r'], "")),
    ];
    (
        prop::option::weighted(
            0.9,
            line(
                "dns_rfc2136_server",
                text(
                    &["192.0.2.1", "2001:db8::1"],
                    &["ns1.example.test", "", "127.0.0.1:53"],
                ),
            ),
        ),
        prop::option::weighted(
            0.5,
            line(
                "dns_rfc2136_port",
                text(&["53", "5353"], &["0", "99999", "http", "-1"]),
            ),
        ),
        prop::option::weighted(
            0.9,
            line(
                "dns_rfc2136_name",
                text(&["k", "keyname.", "dcv-key"], &[""]),
            ),
        ),
        prop::option::weighted(0.9, line("dns_rfc2136_secret", secret)),
        prop::option::weighted(
            0.5,
            line(
                "dns_rfc2136_algorithm",
                text(&["HMAC-SHA512", "hmac-md5"], &[""]),
            ),
        ),
        prop::collection::vec(noise, 0..3),
    )
        .prop_map(|(a, b, c, d, e, mut noise)| {
            noise.extend([a, b, c, d, e].into_iter().flatten());
            noise
        })
        .prop_shuffle()
}

fn record(text: BoxedStrategy<String>) -> impl Strategy<Value = Record> {
    let dns = (
        text.clone(),
        prop_oneof![Just(RecordType::Txt), Just(RecordType::Cname)],
        text.clone(),
        text.clone(),
    )
        .prop_map(|(domain, rtype, name, value)| Record::new_dns(domain, rtype, name, value));
    // An HTTP file's URL is typed: any host without a slash, any path after one.
    let http =
        (text.clone(), text.clone(), text.clone(), text).prop_map(|(domain, host, path, value)| {
            let url = HttpUrl {
                host: format!("h{}", host.replace('/', "")),
                path: format!("/{path}"),
            };
            Record::new_http(domain, url, value)
        });
    prop_oneof![2 => dns, 1 => http]
}

/// Entries with any strings in them.
fn entry() -> impl Strategy<Value = Entry> {
    entry_with(any::<String>().boxed())
}

/// Entries with printable ASCII strings: damage to them then mostly meets the JSON parser, not
/// only the UTF-8 check.
fn ascii_entry() -> impl Strategy<Value = Entry> {
    entry_with("[ -~]{0,24}".boxed())
}

fn entry_with(text: BoxedStrategy<String>) -> impl Strategy<Value = Entry> {
    (
        record(text.clone()),
        text.clone(),
        text.clone(),
        any::<bool>(),
        prop::collection::btree_map("[a-z_]{1,12}", text.clone(), 0..3),
        (
            any::<Option<u64>>(),
            any::<Option<u64>>(),
            prop::option::of(prop::option::of(text)),
        ),
        any::<bool>(),
        any::<u64>(),
        any::<Option<(u32, u64)>>(),
    )
        .prop_map(
            |(record, provider, location, preexisting, undo, ids, pending, created, owner)| {
                // Keys the record's own fields use would be read back as those fields.
                let undo = undo
                    .into_iter()
                    .filter(|(k, _)| {
                        !matches!(
                            k.as_str(),
                            "record" | "provider" | "location" | "preexisting"
                        )
                    })
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect();
                Entry {
                    version: 1,
                    status: if pending {
                        Status::Pending
                    } else {
                        Status::Published
                    },
                    source: Source {
                        order_id: ids.0,
                        domain_id: ids.1,
                        acme: ids.2.map(|batch| AcmeSource { batch }),
                        persist: None,
                    },
                    created,
                    published: Published {
                        record,
                        provider,
                        location,
                        preexisting,
                        undo,
                    },
                    owner: owner.map(|(pid, start)| Owner { pid, start }),
                }
            },
        )
}

fn sample_entry() -> Entry {
    let record = Record::new_dns("example.test", RecordType::Txt, "example.test", "tok");
    dcv_hook::state::pending_entry(
        &Published::new(&record, "rfc2136"),
        &Source {
            order_id: Some(1),
            ..Source::default()
        },
    )
}
