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

/// A time in ms since the epoch as `YYYY-MM-DD HH:MM` (UTC), for tables.
pub fn utc_minute(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = tsd_core::calendar::civil_from_days(secs.div_euclid(86_400));
    let minute = secs.rem_euclid(86_400) / 60;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", minute / 60, minute % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_minute_reads_as_a_calendar_time() {
        assert_eq!(super::utc_minute(0), "1970-01-01 00:00");
        // 2026-11-28 18:05:15 UTC
        assert_eq!(super::utc_minute(1_795_889_115_000), "2026-11-28 18:05");
    }
}
