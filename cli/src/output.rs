//! The JSON shapes the `tsd` command prints. These are a contract that outside
//! tools rely on: add fields, never rename or remove them.

use tsd_core::documents::{qty_json, ScanOutcome, ScanStatus};
pub use tsd_core::json::{error_json, lookup_json, parsed_json, scan_json};
use tsd_core::resolve::Target;

/// Shows control characters (the GS separator above all) as `<GS>`/`\u{..}` and
/// leaves every printable character, Cyrillic included, as it is.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{1D}' => "<GS>".to_string(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// One tab-separated line for a scan, beginning with the seq (`-` if nothing was
/// stored).
pub fn scan_line(input: &str, o: &ScanOutcome) -> String {
    let seq = o.seq.map_or("-".to_string(), |s| s.to_string());
    let what = match (o.resolution.hit(), &o.resolution.target) {
        (Some(h), _) => format!("{} {}", h.product.id, h.product.name),
        (None, Target::Cell(c)) => format!("cell {}", c.id),
        _ => format!("not in catalog: {}", printable(input)),
    };
    let status = match o.status {
        ScanStatus::Refused(v) => format!("refused: {}", v.message()),
        s => s.as_str().to_string(),
    };
    let plan = o.planned.map(|p| format!(" of {}", qty_json(p))).unwrap_or_default();
    format!("{seq}\t{status}\t{what}\t+{}\t= {}{plan}", qty_json(o.qty), qty_json(o.actual))
}
