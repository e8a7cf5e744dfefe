//! dcv-hook's integration tests, built as one test binary (ripgrep style). Everything runs on
//! loopback against real servers started by the tests themselves.

// Fixtures: the CertCentral simulator world, web servers, DNS servers.
mod support;

// The http-token flow through the binary: orders, domains, errors, state, cleanup.
mod http_flow;
