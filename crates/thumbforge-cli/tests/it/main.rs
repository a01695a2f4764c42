//! The integration suite: the real embedded app on port 0 with a temporary
//! data dir per test, driven over HTTP as a client would.

mod admin;
mod adversarial;
mod auth;
mod binaries;
mod catalogue;
mod cli;
mod events;
mod fairness;
mod flokan;
mod flow;
mod helpers;
mod integrity;
mod lanes;
mod lifecycle;
mod mcp;
mod outage;
mod outputs;
mod providers;
mod ratelimit;
mod recovery;
mod references;
mod retention;
mod status;
mod storage;
mod styles;
mod tls;
mod validation;
mod watermark;
mod webhooks;
