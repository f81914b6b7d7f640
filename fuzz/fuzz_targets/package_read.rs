//! `cargo +nightly fuzz run package_read`: a file dropped into the exchange folder
//! is untrusted; opening and reading it must refuse, never panic. The input gets a
//! valid length + SHA-256 trailer so that the fuzzer reaches the header and record
//! decoding behind the checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use tsd_core::catalog::record::CatalogRecord;
use tsd_core::package::PackageReader;

fuzz_target!(|data: &[u8]| {
    let mut bytes = b"\x89TSDPKG\n".to_vec();
    bytes.extend_from_slice(data);
    let total = (bytes.len() + 8 + 32) as u64;
    bytes.extend_from_slice(&total.to_le_bytes());
    let sum = Sha256::digest(&bytes);
    bytes.extend_from_slice(&sum);
    let dir = std::env::temp_dir().join(format!("tsd-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("p.tsdpkg");
    if std::fs::write(&path, &bytes).is_err() {
        return;
    }
    if let Ok(r) = PackageReader::open(&path, None, false) {
        if let Ok(records) = r.records::<CatalogRecord>() {
            for rec in records.take(10_000) {
                if rec.is_err() {
                    break;
                }
            }
        }
    }
});
