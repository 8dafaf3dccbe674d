//! The crate's integration tests, in one binary so that they link once:
//! a module for each subject. Four subjects run as binaries of their own,
//! so that nothing else runs beside them: `tests/metrics.rs` reads the
//! process's one metrics recorder, `tests/redis_stalls.rs` stalls the
//! shared Redis server for seconds, `tests/changes_by_hand.rs` changes what
//! every listener of a shared database or server hears (a `TRUNCATE`,
//! Redis's keyspace settings), and `tests/drf_legacy.rs` floods the machine
//! with slow password-hash checks.

mod common;

/// The demo, shared by the subjects that serve it.
#[allow(dead_code)]
#[path = "../../examples/quickstart.rs"]
mod quickstart;

mod admin;
mod admin_page;
mod allowlist;
mod axum_server;
mod bad_input;
mod cache;
mod conformance;
mod credit_leases;
mod credits;
mod custom_store;
mod defence;
mod django_changes;
mod drf_time_zone;
mod frameworks;
mod gate;
mod instances;
mod layer;
mod lifecycle;
mod old_paths;
mod owners;
mod properties;
mod redis_cluster;
mod redis_store;
mod sql_stores;
mod tonic_grpc;
