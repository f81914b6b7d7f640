//! Lists for people: columns aligned by how wide the text shows on a terminal
//! (Cyrillic and CJK names included), numbers to the right, a header on top.

use unicode_width::UnicodeWidthStr;

/// `rows` under `header`, each column as wide as its widest cell, two spaces
/// apart; a column whose cells are all numbers is aligned to the right. The last
/// column is not padded. Ends with a newline; an empty list is just the header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .map(|r| cell(r, i).width())
                .chain([header[i].width()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let numeric: Vec<bool> = (0..columns)
        .map(|i| {
            !rows.is_empty()
                && rows.iter().all(|r| {
                    cell(r, i).is_empty()
                        || cell(r, i)
                            .replace([' ', '.', ',', '-', '+'], "")
                            .bytes()
                            .all(|b| b.is_ascii_digit())
                })
        })
        .collect();
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, c) in cells.enumerate().take(columns) {
            let pad = " ".repeat(widths[i].saturating_sub(c.width()));
            if i > 0 {
                text.push_str("  ");
            }
            if numeric[i] {
                text.push_str(&pad);
                text.push_str(c);
            } else {
                text.push_str(c);
                if i + 1 < columns {
                    text.push_str(&pad);
                }
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for r in rows {
        line(&mut (0..columns).map(|i| cell(r, i)));
    }
    out
}

/// A time in ms since the epoch as `YYYY-MM-DD HH:MM` (UTC), for a table cell.
pub fn utc_minute(ms: i64) -> String {
    let (y, m, d, hh, mm, _) = tsd_core::calendar::civil_from_ms(ms);
    format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}")
}

fn cell(row: &[String], i: usize) -> &str {
    row.get(i).map(String::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_by_display_width() {
        let t = table(
            &["ID", "NAME", "QTY"],
            &[
                vec!["1".into(), "Молоко 3,2%".into(), "12".into()],
                vec!["20".into(), "Tea".into(), "3".into()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "ID  NAME         QTY");
        assert_eq!(lines[1], " 1  Молоко 3,2%   12");
        assert_eq!(lines[2], "20  Tea            3");
        // Every line's last column ends at the same display column.
        let ends: Vec<usize> = lines.iter().map(|l| l.width()).collect();
        assert!(ends.iter().all(|&e| e == ends[0]), "{ends:?}");
    }

    #[test]
    fn utc_minute_reads_as_a_calendar_time() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00");
        // `date -u -d "2026-11-28 18:05:15" +%s`
        assert_eq!(utc_minute(1_795_889_115_000), "2026-11-28 18:05");
    }

    #[test]
    fn an_empty_list_is_its_header() {
        assert_eq!(table(&["A", "B"], &[]), "A  B\n");
    }
}
