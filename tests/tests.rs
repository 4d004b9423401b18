//! Integration tests: one binary, topic modules.

mod util;

mod batch;
mod catalogue;
mod cli;
mod parity;
