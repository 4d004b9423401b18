//! Integration tests: one binary, topic modules.

mod util;

mod analyses;
mod batch;
mod catalogue;
mod check;
mod cli;
mod compare;
mod conditional;
mod crystals;
mod docs;
mod faults;
mod instability;
mod parity;
mod peratom;
mod residual;
mod shard;
mod similarity;
mod stream;
mod verdict;
