//! `.npz` (zip of `.npy`) bytes -> `parse_npz_bytes`: must never panic, abort
//! or allocate absurdly (zip bombs included).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cpd::io::embeddings::parse_npz_bytes(data);
});
