//! The `api-key` command's tests, in one binary: the command as a user runs
//! it (`command`), beside servers that must hear what it changes
//! (`processes`), and refusing what the Rust and admin APIs refuse
//! (`new_key_rules`). All run the binary cargo built for this package.

#[path = "../../../../tests/it/common/mod.rs"]
mod common;

/// The demo, run by `processes` as the servers the command talks past.
#[allow(dead_code)]
#[path = "../../../../examples/quickstart.rs"]
mod quickstart;

mod binary;
mod command;
mod gate;
mod gateways;
mod new_key_rules;
mod processes;
