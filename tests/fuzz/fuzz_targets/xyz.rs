//! Extended-XYZ text -> `parse_compositions`: must never panic, abort or
//! allocate absurdly. Non-UTF-8 inputs are skipped (the reader gets a `&str`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cpd::io::xyz::parse_compositions(text, std::path::Path::new("fuzz.xyz"));
    }
});
