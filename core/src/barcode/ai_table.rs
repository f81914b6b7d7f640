//! The GS1 Application Identifier table, as data: read once from the GS1 Barcode
//! Syntax Dictionary (`gs1-syntax-dictionary.txt` beside this file, © GS1 AISBL,
//! Apache License 2.0), the machine-readable form of the AI table of the GS1
//! General Specifications that GS1 maintains. [`EDITION`] names the copy.
//!
//! Each entry gives an AI (or a range), whether its length is pre-defined (no FNC1
//! needed after it), its components (character set, length, optional or not, and
//! the "linters" that check content: check digits, dates…), the AIs it requires
//! (`req`) and the AIs it may not appear with (`ex`), and its title. Updating the
//! table is replacing the file: no code lists AIs.

use std::sync::OnceLock;

/// The dictionary this build reads.
pub const EDITION: &str =
    "GS1 Barcode Syntax Dictionary, release 2026-01-27 with the unreleased WR 25-306 change (gs1/gs1-syntax-dictionary ff2eb4b)";

const DICTIONARY: &str = include_str!("gs1-syntax-dictionary.txt");

/// Character set of a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cset {
    /// Digits (`N`).
    Numeric,
    /// GS1 character set 82 (`X`).
    Cset82,
    /// GS1 character set 39 (`Y`).
    Cset39,
    /// base64url (`Z`).
    Base64Url,
}

/// One component of an AI's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Character set.
    pub cset: Cset,
    /// Shortest length (equal to `max` for a fixed-length component).
    pub min: usize,
    /// Longest length.
    pub max: usize,
    /// May be absent when the value ends before it.
    pub optional: bool,
    /// Content checks by name (`csum`, `yymmd0`…); see [`super::gs1`].
    pub linters: Vec<String>,
}

/// One AI of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiEntry {
    /// The AI digits (`01`, `3103`).
    pub ai: String,
    /// Pre-defined length: the value's length is fixed and no FNC1 follows it.
    pub predefined: bool,
    /// The value's components, in order.
    pub components: Vec<Component>,
    /// Mandatory associations: every group must be met by one of its options; an
    /// option is a list of AI patterns that must all be present (`n` = any digit).
    pub requires: Vec<Vec<Vec<String>>>,
    /// AI patterns this AI may not appear with.
    pub excludes: Vec<String>,
    /// May be a data attribute of a GS1 Digital Link URI.
    pub dl_attribute: bool,
    /// A GS1 Digital Link primary key, with its allowed qualifier sequences.
    pub dl_key: Option<Vec<Vec<String>>>,
    /// GS1 data title.
    pub title: String,
}

impl AiEntry {
    /// The longest value.
    pub fn max_len(&self) -> usize {
        self.components.iter().map(|c| c.max).sum()
    }

    /// The value's length when it is fixed (every component fixed and mandatory).
    pub fn fixed_len(&self) -> Option<usize> {
        self.components
            .iter()
            .all(|c| c.min == c.max && !c.optional)
            .then(|| self.max_len())
    }
}

/// The parsed dictionary with an index by AI.
pub struct Table {
    entries: Vec<AiEntry>,
    /// Entry index by AI length (2, 3, 4) and number; `u16::MAX` for none.
    index: [Vec<u16>; 3],
}

impl Table {
    /// Every AI, in the dictionary's order.
    pub fn entries(&self) -> &[AiEntry] {
        &self.entries
    }

    /// The entry of exactly this AI.
    pub fn get(&self, ai: &str) -> Option<&AiEntry> {
        let len = ai.len();
        if !(2..=4).contains(&len) || !ai.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: usize = ai.parse().ok()?;
        let i = *self.index[len - 2].get(n)?;
        (i != u16::MAX).then(|| &self.entries[i as usize])
    }

    /// The AI at the start of `s`: its entry (AIs are a prefix code).
    pub fn at_start(&self, s: &str) -> Option<&AiEntry> {
        (2..=4).find_map(|len| s.get(..len).and_then(|head| self.get(head)))
    }
}

/// The table (parsed on first use).
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| parse(DICTIONARY))
}

fn component(token: &str) -> Option<Component> {
    let (kind, linters) = token.split_once(',').map_or((token, ""), |(k, l)| (k, l));
    let (kind, optional) = match kind.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
        Some(inner) => (inner, true),
        None => (kind, false),
    };
    let cset = match kind.chars().next()? {
        'N' => Cset::Numeric,
        'X' => Cset::Cset82,
        'Y' => Cset::Cset39,
        'Z' => Cset::Base64Url,
        _ => return None,
    };
    let len = &kind[1..];
    let (min, max) = match len.strip_prefix("..") {
        Some(max) => (1, max.parse().ok()?),
        None => {
            let n = len.parse().ok()?;
            (n, n)
        }
    };
    Some(Component {
        cset,
        min,
        max,
        optional,
        linters: linters.split(',').filter(|l| !l.is_empty()).map(str::to_string).collect(),
    })
}

fn ai_range(token: &str) -> Option<Vec<String>> {
    let (first, last) = token.split_once('-').unwrap_or((token, token));
    if first.len() != last.len() || !(2..=4).contains(&first.len()) {
        return None;
    }
    let (a, b): (u32, u32) = (first.parse().ok()?, last.parse().ok()?);
    Some((a..=b).map(|n| format!("{n:0width$}", width = first.len())).collect())
}

/// Parses the dictionary text. Lines it cannot read are skipped (a unit test checks
/// that none is).
pub fn parse(text: &str) -> Table {
    let mut entries = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(mut found) = parse_line(line) {
            entries.append(&mut found);
        }
    }
    let mut index = [vec![u16::MAX; 100], vec![u16::MAX; 1000], vec![u16::MAX; 10000]];
    for (i, e) in entries.iter().enumerate() {
        if let Ok(n) = e.ai.parse::<usize>() {
            index[e.ai.len() - 2][n] = i as u16;
        }
    }
    Table { entries, index }
}

/// One dictionary line: `AIs [flags] components… [attributes…] [# title]`.
pub fn parse_line(line: &str) -> Option<Vec<AiEntry>> {
    let (body, title) = line.split_once('#').map_or((line, ""), |(b, t)| (b, t.trim()));
    let mut tokens = body.split_whitespace().peekable();
    let ais = ai_range(tokens.next()?)?;
    let mut flags = "";
    if let Some(t) = tokens.peek() {
        if !t.starts_with(['N', 'X', 'Y', 'Z', '[']) {
            flags = tokens.next()?;
        }
    }
    let mut components = Vec::new();
    let mut requires = Vec::new();
    let mut excludes = Vec::new();
    let mut dl_key = None;
    let mut dl_attribute = flags.contains('?');
    for t in tokens {
        if t.starts_with(['N', 'X', 'Y', 'Z', '[']) && !t.contains('=') {
            components.push(component(t)?);
        } else if let Some(list) = t.strip_prefix("req=") {
            requires.push(list.split(',').map(|o| o.split('+').map(str::to_string).collect()).collect());
        } else if let Some(list) = t.strip_prefix("ex=") {
            excludes.extend(list.split(',').map(str::to_string));
        } else if t == "dlpkey" {
            dl_key = Some(vec![Vec::new()]);
        } else if let Some(seqs) = t.strip_prefix("dlpkey=") {
            dl_key = Some(seqs.split('|').map(|s| s.split(',').map(str::to_string).collect()).collect());
        } else if t == "dlattr" {
            dl_attribute = true;
        }
    }
    if components.is_empty() {
        return None;
    }
    Some(
        ais.into_iter()
            .map(|ai| AiEntry {
                ai,
                predefined: flags.contains('*'),
                components: components.clone(),
                requires: requires.clone(),
                excludes: excludes.clone(),
                dl_attribute,
                dl_key: dl_key.clone(),
                title: title.to_string(),
            })
            .collect(),
    )
}

/// True when `ai` matches `pattern` (digits, `n` for any digit).
pub fn matches(pattern: &str, ai: &str) -> bool {
    pattern.len() == ai.len() && pattern.bytes().zip(ai.bytes()).all(|(p, a)| p == b'n' || p == a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_of_the_dictionary_is_read() {
        let lines: Vec<&str> = DICTIONARY
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        for l in &lines {
            assert!(parse_line(l).is_some(), "not read: {l}");
        }
        let t = table();
        assert!(t.entries().len() > 500, "{} AIs", t.entries().len());
    }

    #[test]
    fn entries_have_what_the_specification_says() {
        let t = table();
        let gtin = t.get("01").unwrap();
        assert!(gtin.predefined);
        assert_eq!(gtin.fixed_len(), Some(14));
        assert!(gtin.components[0].linters.contains(&"csum".to_string()));
        assert_eq!(gtin.excludes, ["255", "37"]);
        let batch = t.get("10").unwrap();
        assert!(!batch.predefined);
        assert_eq!((batch.components[0].cset, batch.max_len()), (Cset::Cset82, 20));
        assert!(t.get("235").is_some(), "TPX");
        assert!(t.get("7240").is_some(), "PROTOCOL");
        assert!(t.get("4300").is_some() && t.get("4321").is_some(), "the 43xx series");
        assert!(t.get("8013").is_some() && t.get("8200").is_some());
        assert_eq!(t.get("3103").unwrap().title, "NET WEIGHT (kg)");
        assert!(t.get("3106").is_none() && t.get("3").is_none() && t.get("0").is_none());
        assert_eq!(t.at_start("3103001250").unwrap().ai, "3103");
        let serial = t.get("21").unwrap();
        assert_eq!(
            serial.requires,
            vec![vec![vec!["01".to_string()], vec!["03".into()], vec!["8006".into()]]]
        );
        let sec = t.get("250").unwrap();
        assert_eq!(sec.requires[0][0], ["01", "21"]);
        assert!(matches("310n", "3103") && !matches("310n", "3113"));
        let grai = t.get("8003").unwrap();
        assert!(grai.components[2].optional && grai.fixed_len().is_none());
    }
}
