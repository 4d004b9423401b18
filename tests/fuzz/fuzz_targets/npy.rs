//! `.npy` bytes -> `parse_npy_bytes`: must never panic, abort or allocate absurdly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cpd::io::embeddings::parse_npy_bytes(data);
});
