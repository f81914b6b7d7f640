//! `cargo +nightly fuzz run barcode_parse`: the scan parser must never panic, and
//! whatever it accepts must be self-consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tsd_core::barcode::{parse, Measure, WeightTemplate};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let templates = [
        WeightTemplate::default_weight(),
        WeightTemplate::new(vec!["2".into()], 6, 5, Measure::Price, 1).unwrap(),
    ];
    // Scale label templates as a configuration names them.
    if let Some(json) = raw.strip_prefix("TPL") {
        let _ = serde_json::from_str::<WeightTemplate>(json);
    }
    for t in [&templates[..1], &templates[1..], &[]] {
        if let Ok(p) = parse(raw, t) {
            if let Some(g) = p.gtin {
                assert_eq!(g.as_str().len(), 14);
            }
            if let Some(m) = &p.marking {
                assert!(m.identity().starts_with(m.gtin().as_str()));
                for g in m.groups() {
                    assert!(g.serial.contains(&m.serial().chars().count()));
                }
            }
            // Every catalog key the resolver tries has a reading to report.
            assert_eq!(tsd_core::resolve::keys(&p).len(), tsd_core::resolve::readings(&p).len());
            let _ = (p.weight_grams(), p.count(), p.batch(), p.expiry(), p.serial(), p.aggregation());
        }
    }
});
