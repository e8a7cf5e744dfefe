//! Test support for dcv-hook: a CertCentral simulator that checks DCV the way a CA does, a fake
//! Cloudflare API, a tiny authoritative DNS server and a static web server. Everything binds to
//! loopback only and stops when dropped, so integration tests and the quickstart example run with
//! no internet and no DigiCert account.
//!
//! Wiring, as a test or the quickstart does it: one `MiniDns` is both the resolver and the
//! zone's only name server, and the simulator asks it on its ephemeral port.
//!
//! ```
//! use dcv_sim::{MiniDns, OrderSpec, RecordData, SimConfig, Simulator};
//!
//! let dns = MiniDns::start("127.0.0.1:0".parse().unwrap()).unwrap();
//! dns.add("example.test", RecordData::soa("ns1.example.test"));
//! dns.add("example.test", RecordData::Ns("ns1.example.test".into()));
//! dns.add("ns1.example.test", RecordData::A([127, 0, 0, 1].into()));
//!
//! let mut config = SimConfig::new("demo-key", dns.addr());
//! config.dns_port = dns.addr().port();
//! let sim = Simulator::start(config);
//! let order = sim.add_order(OrderSpec::new(["example.test", "*.example.test"]));
//! // dcv-hook would now run with --api-url sim.url(), --order-id order, --resolver dns.addr()
//! // and publish the order's random value as TXT at example.test.
//! let token = sim.order_random_value(order).unwrap();
//! dns.add("example.test", RecordData::Txt(token));
//! assert!(sim.url().ends_with("/services/v2"));
//! ```

#![warn(missing_docs)]

pub mod certcentral;
pub mod cloudflare;
pub mod dns;
pub mod http;
mod serve;
pub mod web;

pub use certcentral::{
    ApiRequest, CheckRecord, DomainSpec, Fault, OrderSpec, SimConfig, Simulator, TargetCheck,
    days_from_now,
};
pub use cloudflare::{
    AuthSeen, CfFault, CfRequest, Change, ChangeKind, FakeCloudflare, FakeCloudflareConfig,
    FakeRecord,
};
pub use dns::{MiniDns, RecordData};
pub use web::{WebRequest, WebServer};
