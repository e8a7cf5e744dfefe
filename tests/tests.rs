//! dcv-hook's integration tests, built as one test binary (ripgrep style). Everything runs on
//! loopback against real servers started by the tests themselves.

// Fixtures: the BIND pair, nginx, pebble, ACME client helpers and the CertCentral simulator world.
mod support;

// The map of the house: imports run down the layers, never in a circle.
mod architecture;

// Cleanup undoes each record with the settings that published it (two TSIG keys on one primary).
mod undo_groups;

// The CertCentral client against the requests and answers DigiCert's API documentation shows.
mod certcentral_contract;

// The http-token flow through the binary: orders, domains, errors, state, cleanup.
mod http_flow;

// http-token-dynamic: the file DigiCert names, hostile URLs, the central-server pattern.
mod http_dynamic;

// The rfc2136 publisher and the DNS propagation check against real BIND servers (library level).
mod rfc2136;

// The cloudflare publisher against the fake Cloudflare API mirrored into BIND (library level).
mod cloudflare;

// The DNS methods through the binary against BIND and the simulator.
mod dns_flow;

// The contract every publisher keeps, run against each provider.
mod conformance;

// ACME host-tool mode through the binary: dns-01 on BIND, http-01 on web servers, certbot batching.
mod acme_flow;

// The exec provider through the binary, with the example nsupdate script.
mod exec_flow;

// The ACME client wrappers in hooks/ against a fake dcv-hook, and the Ansible example's JSON fields.
mod hooks;

// Real ACME clients (certbot, ...) against pebble and the BIND pair: the end-to-end harness.
mod acme_e2e;

// Signals, lost UPDATE replies, kill -9 and parallel runs through the real binary.
mod hardening;

// revalidate and status --expiring-within over a whole simulated account.
mod revalidate;

// Hostile input (flags, env, config, ini, key, state, web root; API, DNS, HTTP answers): one line, its code.
mod hostile;

// Property tests (proptest, bounded) for names, certbot ini files, state files and API answer types.
mod properties;

// Secrets (API key, TSIG secret) never reach stdout, stderr or the state dir, whatever the command.
mod secrets;

// dcv-hook doctor against failures built into the fixtures (lame NS, CAA, CNAMEs, web servers).
mod doctor;

// Completions, man pages and the Debian package: installing like system software.
mod install;

// The powerdns publisher against a real PowerDNS Authoritative server, and an order through it.
mod powerdns;

// The azure publisher through the binary against a fake Azure (Entra ID, managed identity, Azure DNS).
mod azure;

// The route53 publisher through the binary against moto's Route 53.
#[cfg(feature = "route53")]
mod route53;

// Persistent DCV records (persist) and the doctor's persist findings against BIND.
mod persist;
// The google provider through the binary against a fake Cloud DNS and token endpoint.
mod google;

// Several CertCentral accounts in one config file: two simulators, each its own key.
mod accounts;
