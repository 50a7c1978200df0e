//! Didit's real clients against vouch: the MCP server (npm) and the Python SDK (PyPI), installed
//! by scripts/test.sh, each as its own process speaking to a vouch server over HTTP.

#[path = "../common/mod.rs"]
mod common;
#[path = "../webhooks/receiver.rs"]
#[allow(dead_code)]
mod receiver;

mod bridge;
mod mcp;
mod sdk;
