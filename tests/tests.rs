//! dcv-hook's integration tests, built as one test binary (ripgrep style). Everything runs on
//! loopback against real servers started by the tests themselves.

// Fixtures: the BIND pair, nginx, and the CertCentral simulator world.
mod support;

// The http-token flow through the binary: orders, domains, errors, state, cleanup.
mod http_flow;

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
