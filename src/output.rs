//! What a command reports: one [`Report`], rendered as text lines or as one JSON document on stdout.
//!
//! Commands fill the report as they go; `app.rs` renders it once at the end, also on failure, so a
//! script always gets `command`, `ok`, `changed`, `exit_code` and `records`. Secrets never enter it.

use crate::error::Error;
use crate::record::Record;
use crate::stats;
use serde::Serialize;

/// A record as reported.
#[derive(Clone, Debug, Serialize)]
pub struct RecordReport {
    pub domain: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub name: String,
    pub value: String,
    pub provider: String,
    /// The servers (or web addresses) seen serving it.
    pub servers: Vec<String>,
    /// `published`, `already present`, `would publish`, `removed`, `would remove`, `kept (shared)`;
    /// persist also `removed (replaced)`.
    pub action: String,
}

impl RecordReport {
    pub fn new(record: &Record, provider: &str, action: &str) -> RecordReport {
        RecordReport {
            domain: record.domain.clone(),
            rtype: record.type_name().to_string(),
            name: record.name().into_owned(),
            value: record.value.clone(),
            provider: provider.to_string(),
            servers: Vec::new(),
            action: action.to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ErrorReport {
    pub kind: &'static str,
    pub message: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub dns_queries: u64,
    pub http_requests: u64,
    pub seconds: f64,
}

/// The outcome of one command.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub command: &'static str,
    pub ok: bool,
    pub changed: bool,
    pub exit_code: u8,
    pub dry_run: bool,
    pub records: Vec<RecordReport>,
    /// DigiCert's view, for verify and status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<serde_json::Value>,
    /// Human-readable lines (also printed in text mode).
    pub messages: Vec<String>,
    /// `revalidate` and `status --expiring-within`: one object per selected domain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<serde_json::Value>,
    /// `revalidate` and `status --expiring-within`: how many domains were selected, by outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<serde_json::Value>,
    /// `doctor` (and `auth --preflight`): one object per finding (code, severity, name, subject,
    /// seen, fix).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<serde_json::Value>,
    /// A command run over several CertCentral accounts: each account's outcome (name, api_url,
    /// ok, exit_code, counts, validation, error); its domains and findings carry `account`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
    pub stats: Stats,
    /// Messages and records in the order they happened, for the text report.
    #[serde(skip)]
    events: Vec<Event>,
}

/// One line of the text report, by its index in `messages` or `records`.
#[derive(Clone, Copy, Debug)]
enum Event {
    Message(usize),
    Record(usize),
}

impl Report {
    pub fn new(command: &'static str, dry_run: bool) -> Report {
        Report {
            command,
            ok: true,
            dry_run,
            ..Report::default()
        }
    }

    pub fn say(&mut self, line: impl Into<String>) {
        self.events.push(Event::Message(self.messages.len()));
        self.messages.push(line.into());
    }

    /// Adds a record line (its servers may still be filled in later).
    pub fn add_record(&mut self, record: RecordReport) {
        self.events.push(Event::Record(self.records.len()));
        self.records.push(record);
    }

    /// Adds `sub`, the finished report of this command for `account` (one of several), under a
    /// line naming the account: its lines indented, its domains and findings labelled `account`,
    /// its outcome in `accounts`.
    pub fn absorb(&mut self, account: &str, api_url: &str, sub: Report) {
        self.say(format!("account {account} ({api_url}):"));
        for event in &sub.events {
            match *event {
                Event::Message(i) => self.say(format!("  {}", sub.messages[i])),
                Event::Record(i) => self.add_record(sub.records[i].clone()),
            }
        }
        if let Some(e) = &sub.error {
            self.say(format!("  account {account} failed: {}", e.message));
        }
        let label = |mut v: serde_json::Value| {
            if let Some(object) = v.as_object_mut() {
                object.insert("account".into(), account.into());
            }
            v
        };
        self.domains.extend(sub.domains.into_iter().map(label));
        self.findings.extend(sub.findings.into_iter().map(label));
        self.changed |= sub.changed;
        self.accounts.push(serde_json::json!({
            "name": account,
            "api_url": api_url,
            "ok": sub.ok,
            "exit_code": sub.exit_code,
            "counts": sub.counts,
            "validation": sub.validation,
            "error": sub.error,
        }));
    }

    /// Records the final outcome.
    pub fn finish(&mut self, outcome: &Result<(), Error>, seconds: f64) {
        self.ok = outcome.is_ok();
        self.exit_code = outcome.as_ref().err().map_or(0, Error::exit_code);
        if let Err(e) = outcome {
            self.error = Some(ErrorReport {
                kind: e.kind().name(),
                message: e.to_string(),
            });
        }
        self.stats = Stats {
            dns_queries: stats::dns_queries(),
            http_requests: stats::http_requests(),
            seconds: (seconds * 1000.0).round() / 1000.0,
        };
    }

    /// The JSON document.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"ok\":false,\"error\":\"{e}\"}}"))
    }

    /// Text lines for stdout: messages and records, in the order they happened. Each event is one
    /// line of plain text, as on stderr: API strings (DigiCert's messages, names) may hold control
    /// characters, which are folded to spaces rather than reach a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for event in &self.events {
            let line = match *event {
                Event::Message(i) => self.messages[i].clone(),
                Event::Record(i) => {
                    let r = &self.records[i];
                    let mut line = format!(
                        "{}: {} {} {:?} ({}",
                        r.action, r.name, r.rtype, r.value, r.provider
                    );
                    if !r.servers.is_empty() {
                        line.push_str(&format!("; served by {}", r.servers.join(", ")));
                    }
                    line.push(')');
                    line
                }
            };
            out.push_str(&crate::ui::one_line(&line));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordType;

    /// A TXT record for a.test published at `name`.
    fn txt(name: &str) -> Record {
        Record::new_dns("a.test", RecordType::Txt, name, "v")
    }

    #[test]
    fn the_text_report_lists_events_in_the_order_they_happened() {
        let mut report = Report::new("run", false);
        report.say("first");
        let record = txt("a.test");
        report.add_record(RecordReport::new(&record, "rfc2136", "published"));
        report.say("then verified");
        report.add_record(RecordReport::new(&record, "rfc2136", "removed"));
        let lines: Vec<String> = report.to_text().lines().map(String::from).collect();
        assert_eq!(lines[0], "first");
        assert!(lines[1].starts_with("published:"), "{lines:?}");
        assert_eq!(lines[2], "then verified");
        assert!(lines[3].starts_with("removed:"), "{lines:?}");
    }

    #[test]
    fn control_characters_from_the_api_never_reach_stdout() {
        let mut report = Report::new("status", false);
        report.say("DigiCert says: pending\n\u{1b}[2Jforged line\r");
        let record = txt("a.test\u{1b}]0;title\u{7}");
        report.add_record(RecordReport::new(&record, "exec", "published"));
        let text = report.to_text();
        assert_eq!(text.lines().count(), 2, "{text:?}");
        assert!(
            text.lines().all(|l| !l.chars().any(char::is_control)),
            "{text:?}"
        );
    }
}
