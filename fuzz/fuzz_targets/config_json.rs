//! `cargo +nightly fuzz run config_json`: configuration from the accounting system
//! is validated, never trusted; no input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tsd_core::config::Config::from_json(text);
        let _ = tsd_core::catalog::barcode_key(text);
        let _ = tsd_core::catalog::parse_quantity(text);
    }
});
