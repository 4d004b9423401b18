//! CSV bytes -> `parse_table`: must never panic, abort or allocate absurdly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cpd::io::table::parse_table(std::io::Cursor::new(data), std::path::Path::new("fuzz.csv"));
});
