//! `cargo +nightly fuzz run setup_and_logs`: a scanned setup code and a log line are
//! untrusted text — any bytes (a scanner sends what the label holds; invalid UTF-8
//! is read as the bridge reads it, lossily). No input may panic; a parsed code
//! always has an http(s) URL and an enrolment token; a pin is 32 bytes or refused;
//! a redacted line never keeps what follows a token marker.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsd_core::setup::SetupCode;

fuzz_target!(|data: &[u8]| {
    let text = &*String::from_utf8_lossy(data);
    let _ = tsd_core::sync::tls::parse_pin(text);
    let _ = tsd_core::shell::setup_info(text);
    let with_pin = format!("tsd://setup?u=https%3A%2F%2Fa&e=x&p={text}");
    if let Ok(code) = SetupCode::parse(&with_pin) {
        assert_eq!(tsd_core::sync::tls::parse_pin(code.pin_sha256.as_deref().unwrap_or("")).map(|p| p.len()).ok(), Some(32));
    }
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
    let _ = serde_json::from_str::<tsd_core::protocol::LookupAnswer>(text);
});
