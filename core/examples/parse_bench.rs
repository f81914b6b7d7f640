//! Parse time per code over a mix of what terminals scan (EAN-13 with and without
//! a symbology identifier, a box ITF-14, EAN-8, a weight label, a GS1-128 with
//! batch and expiry, a marking code, internal labels, a bad check digit):
//! `cargo run --release -p tsd-core --example parse_bench`. A measurement, not a
//! test; figures go to docs/benchmarks.md.
use std::time::Instant;
use tsd_core::barcode::{parse, WeightTemplate};
fn main() {
    let t = [WeightTemplate::default_weight()];
    let codes = [
        "4601234567893",
        "]E04601234567893",
        "14601234567890",
        "46009333",
        "2200123012502",
        "]C10104601234567893\u{1D}10LOT-7\u{1D}17261231",
        "0104607000000014215Ab7Xz9Qw2Lk9\u{1D}91EE06\u{1D}92dGhpcyBpcyBhIHRlc3QgdGhpcyBpcyBhIHRlc3QgdGhpcyA=",
        "INT-77",
        "CELL-A-01",
        "4600000000008",
    ];
    let _ = parse(codes[5], &t);
    let mut ns = Vec::new();
    for round in 0..200_000 {
        let c = codes[round % codes.len()];
        let s = Instant::now();
        let r = parse(c, &t);
        ns.push(s.elapsed().as_nanos() as u64);
        std::hint::black_box(r.ok());
    }
    ns.sort();
    println!(
        "p50 {} ns, p99 {} ns, mean {} ns",
        ns[ns.len() / 2],
        ns[ns.len() * 99 / 100],
        ns.iter().sum::<u64>() / ns.len() as u64
    );
}
