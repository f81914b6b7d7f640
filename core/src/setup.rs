//! Setting a terminal up by scanning: `tsd-server device add NAME --qr` prints a
//! setup code — `tsd://setup?u=URL&e=ENROLMENT&p=PIN` as text and as a QR code —
//! and scanning it configures the runtime: the server's URL, its certificate
//! fingerprint (pinned from the first request on, so the enrolment itself cannot be
//! intercepted), and a device token the server issues in exchange for the
//! single-use, expiring enrolment token (`POST /v1/enroll`). The code never holds
//! the long-lived token.

use crate::error::{Error, Result};
use crate::sync::http::{Client, ServerSettings};
use crate::Runtime;

/// How every setup code starts.
pub const PREFIX: &str = "tsd://setup?";

/// What a setup code carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupCode {
    /// The server's base URL.
    pub url: String,
    /// The single-use enrolment token.
    pub enrolment: String,
    /// SHA-256 of the server certificate (hex), for HTTPS servers.
    pub pin_sha256: Option<String>,
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl SetupCode {
    /// The text form (what the QR code holds).
    pub fn to_text(&self) -> String {
        let mut s = format!("{PREFIX}u={}&e={}", encode(&self.url), encode(&self.enrolment));
        if let Some(p) = &self.pin_sha256 {
            s += &format!("&p={}", encode(p));
        }
        s
    }

    /// True when a scan looks like a setup code (the shell routes it here instead
    /// of into a document). A symbology prefix such as `]Q1` is allowed.
    pub fn looks_like(scan: &str) -> bool {
        strip(scan).starts_with(PREFIX)
    }

    /// Reads a setup code; a damaged or foreign one is refused with what is wrong.
    pub fn parse(scan: &str) -> Result<SetupCode> {
        let bad = |why: &str| Error::InvalidArgument(format!("not a usable setup code: {why}"));
        let query = strip(scan)
            .strip_prefix(PREFIX)
            .ok_or_else(|| bad("it does not start with tsd://setup?"))?;
        let (mut url, mut enrolment, mut pin) = (None, None, None);
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').ok_or_else(|| bad("a part without '='"))?;
            let v = decode(v).ok_or_else(|| bad("bad %-encoding"))?;
            match k {
                "u" => url = Some(v),
                "e" => enrolment = Some(v),
                "p" => pin = Some(v),
                _ => {} // a later version may add fields
            }
        }
        let url = url
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .ok_or_else(|| bad("no http(s) server URL"))?;
        let enrolment = enrolment.filter(|e| !e.is_empty()).ok_or_else(|| bad("no enrolment token"))?;
        if let Some(p) = &pin {
            crate::sync::tls::parse_pin(p)?;
        }
        if url.starts_with("https://") && pin.is_none() {
            log::info!("setup code for {url} carries no certificate pin: the usual trust applies");
        }
        Ok(SetupCode {
            url,
            enrolment,
            pin_sha256: pin,
        })
    }
}

fn strip(scan: &str) -> &str {
    let s = scan.trim();
    // AIM symbology identifier (]Q1 for QR, ]d1 for Data Matrix…): `]` and two
    // ASCII characters.
    match s.as_bytes() {
        [b']', a, b, ..] if a.is_ascii() && b.is_ascii() => &s[3..],
        _ => s,
    }
}

/// SHA-256 (hex) of the first certificate in a PEM chain: the pin a setup code
/// carries.
pub fn pem_fingerprint(pem: &[u8]) -> Result<String> {
    use rustls::pki_types::pem::PemObject;
    let cert = rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .next()
        .ok_or_else(|| Error::InvalidArgument("no certificate in the PEM file".into()))?
        .map_err(|e| Error::InvalidArgument(format!("bad PEM certificate: {e}")))?;
    Ok(crate::sync::tls::fingerprint(cert.as_ref()))
}

impl Runtime {
    /// Sets the terminal up from a scanned setup code: redeems the enrolment token
    /// (over the pinned certificate when the code has one) and keeps the server
    /// with the device token it answers (see [`Runtime::set_server`]). Returns the
    /// device's name on the server.
    pub fn enroll(&self, scan: &str) -> Result<String> {
        let code = SetupCode::parse(scan)?;
        let mut settings = ServerSettings::new(&code.url, "");
        settings.pin_sha256 = code.pin_sha256.clone();
        let enrolled = Client::new(&settings)?.enroll(&code.enrolment)?;
        settings.token = enrolled.token;
        self.set_server(Some(&settings))?;
        log::info!("set up as device {:?} of {}", enrolled.device, code.url);
        Ok(enrolled.device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_bad_ones_say_why() {
        let code = SetupCode {
            url: "https://сервер.local:8480/tsd".into(),
            enrolment: "tsd_enr_abc".into(),
            pin_sha256: Some("ab".repeat(32)),
        };
        let text = code.to_text();
        assert!(text.is_ascii(), "{text}");
        assert_eq!(SetupCode::parse(&text).unwrap(), code);
        assert_eq!(
            SetupCode::parse(&format!("]Q1{text}\n")).unwrap(),
            code,
            "symbology prefix and newline"
        );
        assert!(SetupCode::looks_like(&format!("]Q1{text}")));
        assert!(!SetupCode::looks_like("4601234567893"));
        for (bad, why) in [
            ("tsd://setup?e=x", "URL"),
            ("tsd://setup?u=https%3A%2F%2Fa", "enrolment"),
            ("tsd://setup?u=ftp%3A%2F%2Fa&e=x", "URL"),
            ("tsd://setup?u=%ZZ&e=x", "encoding"),
            ("4601234567893", "tsd://setup"),
        ] {
            let e = SetupCode::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(SetupCode::parse("tsd://setup?u=http%3A%2F%2Fa&e=x&p=nothex").is_err());
        // Found by fuzzing: a `]` followed by a multi-byte character.
        assert!(SetupCode::parse("]\u{563}x").is_err());
        assert!(!SetupCode::looks_like("]\u{563}"));
    }
}
