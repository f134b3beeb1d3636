//! The integration tests: one test binary (as ripgrep and fd have), so the
//! shared harness in `common` compiles once and every helper in it is used
//! by some test. Each module is one area of the behaviour contract.

mod common;

mod action;
mod actions;
mod check;
mod completions;
mod container;
mod faults;
mod follow;
mod gate;
mod identity;
mod journal;
mod logging;
mod manpage;
mod migration;
mod mistakes;
mod poll;
mod process;
mod properties;
mod readme;
mod restart;
mod review;
mod scan;
mod settings;
mod shipping;
mod slow_reader;
mod state;
mod status;
mod stream;
mod time;
mod torture;
