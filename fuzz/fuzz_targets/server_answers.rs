//! `cargo +nightly fuzz run server_answers`: what a server (or anything pretending
//! to be one) sends back is untrusted. The input is split at its first NUL into
//! header text and a body. No input may panic: a `Retry-After` value of any size,
//! the backoff and next-attempt arithmetic after any number of failures, every JSON
//! answer the terminal decodes, the package names an offer carries (only safe ones
//! may reach a path), and configuration numbers at their limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use tsd_core::protocol::{Hello, Offer, PushAnswer};
use tsd_core::sync::http::{retry_after, Backoff};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len() / 2);
    let (head, body) = data.split_at(split);
    let head = String::from_utf8_lossy(head);

    // Retry-After and what the terminal does with it.
    let wait = retry_after(&head);
    let failures = data.first().copied().unwrap_or(0) as u32 * 1000;
    let backoff = Backoff {
        base: Duration::from_millis(u64::from_le_bytes(pad(body))),
        cap: Duration::from_secs(u64::from(data.len() as u32) * 1_000_000),
    };
    let delay = backoff.delay(failures, wait);
    let now = i64::from_le_bytes(pad(data));
    let next = tsd_core::sync::engine::next_attempt_at(now, failures, wait, &backoff);
    assert!(next >= now || now > i64::MAX - delay.as_millis().min(i64::MAX as u128) as i64);

    // Every JSON answer.
    if let Ok(offer) = serde_json::from_slice::<Offer>(body) {
        for p in &offer.packages {
            if tsd_core::fsx::safe_name(&p.name).is_ok() {
                assert!(!p.name.contains('/') && !p.name.contains('\\') && !p.name.starts_with('.'));
            }
        }
    }
    let _ = serde_json::from_slice::<Hello>(body);
    let _ = serde_json::from_slice::<PushAnswer>(body);
    let _ = serde_json::from_slice::<tsd_core::protocol::LookupAnswer>(body);
    let _ = serde_json::from_slice::<Vec<tsd_core::print::PrintStatus>>(body);
    let _ = serde_json::from_slice::<tsd_core::update::AppUpdate>(body);

    // Configuration numbers at their limits: a configuration that validates never
    // makes the online-lookup arithmetic overflow.
    let n = u64::from_le_bytes(pad(body));
    for (field, value) in [("retry_after_s", n), ("cache_ttl_s", n), ("timeout_ms", n), ("retry_after_s", u64::MAX)] {
        let json = format!(r#"{{"online_lookup": {{"{field}": {value}}}}}"#);
        if let Ok(config) = tsd_core::config::Config::from_json(&json) {
            let o = config.online_lookup;
            assert!(std::time::Instant::now().checked_add(Duration::from_secs(o.retry_after_s)).is_some());
            assert!((o.cache_ttl_s as i64).checked_mul(1000).is_some());
        }
    }
});

fn pad(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b;
    }
    out
}
