//! Integration tests: one binary, topic modules.

mod util;

mod cli;
mod parity;
