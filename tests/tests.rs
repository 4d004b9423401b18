//! Integration tests: one binary, topic modules.

mod util;

mod catalogue;
mod cli;
mod parity;
