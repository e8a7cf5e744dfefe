//! Records as DNS APIs write them (zone-file text): TXT values as RFC 1035 character-strings, names
//! without the trailing dot, and the parent names a zone is looked for at. Shared by the providers
//! that talk to an API (cloudflare, powerdns, route53, azure) rather than sending DNS UPDATEs.

use crate::record::{Record, RecordType};

/// A name as the APIs compare it: trimmed, lower case, no trailing dot.
pub fn normalize(name: &str) -> String {
    crate::record::normalize_name(name)
}

/// The name and each parent with at least two labels, longest first (hosted DNS serves no TLDs).
pub fn zone_candidates(name: &str) -> Vec<String> {
    let name = normalize(name);
    let mut candidates: Vec<String> = crate::record::name_and_parents(&name)
        .filter(|n| n.contains('.'))
        .map(str::to_string)
        .collect();
    if candidates.is_empty() {
        candidates.push(name);
    }
    candidates
}

/// `value` as quoted character-strings (`"a" "b\"c"`), split every 255 bytes as DNS requires.
pub fn quote_txt(value: &str) -> String {
    crate::record::txt_strings(value)
        .iter()
        .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether stored `content` is `record`'s value: TXT text quoted or not, a CNAME target in any
/// case and with or without the trailing dot.
pub fn content_matches(record: &Record, content: &str) -> bool {
    match record.dns_type() {
        Some(RecordType::Txt) => txt_text(content).as_deref().unwrap_or(content) == record.value,
        Some(RecordType::Cname) => normalize(content) == normalize(&record.value),
        // An HTTP file is never a DNS record's content.
        None => false,
    }
}

/// The text of TXT content written as RFC 1035 character-strings (`"a" "b\"c"`), or `None` when
/// it is not written that way.
pub fn txt_text(content: &str) -> Option<String> {
    let mut chars = content.trim().chars().peekable();
    if chars.peek() != Some(&'"') {
        return None;
    }
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '"' => loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => {
                        let next = chars.next()?;
                        if next.is_ascii_digit() {
                            let digits: String = [Some(next), chars.next(), chars.next()]
                                .into_iter()
                                .collect::<Option<String>>()?;
                            out.push(char::from(digits.parse::<u8>().ok()?));
                        } else {
                            out.push(next);
                        }
                    }
                    other => out.push(other),
                }
            },
            _ => return None,
        }
    }
    Some(out)
}
