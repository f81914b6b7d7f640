//! `cargo +nightly fuzz run setup_and_logs`: a scanned setup code and a log line are
//! untrusted text. No input may panic; a parsed code always has an http(s) URL and
//! an enrolment token; a redacted line never keeps what follows a token marker.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsd_core::setup::SetupCode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(code) = SetupCode::parse(text) {
        assert!(code.url.starts_with("http://") || code.url.starts_with("https://"));
        assert!(!code.enrolment.is_empty());
        assert_eq!(SetupCode::parse(&code.to_text()).unwrap(), code, "round trip");
    }
    let _ = tsd_core::logs::redact(text);
    let secret = format!("{text} tsd_dev_0123456789abcdef");
    assert!(!tsd_core::logs::redact(&secret).ends_with("0123456789abcdef"), "a token after any text is redacted");
    let _ = serde_json::from_str::<tsd_core::print::PrintJob>(text).map(|j| j.validate());
    let _ = serde_json::from_str::<tsd_core::update::AppUpdate>(text);
    let _ = serde_json::from_str::<tsd_core::hydb::LookupAnswer>(text);
});
