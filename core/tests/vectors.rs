//! Barcode vectors from public sources (`tests/vectors/barcodes.tsv`: decoders'
//! expected texts, the GS1 syntax engine's test cases, the GS1 General
//! Specifications' examples, published marking codes, scale label layouts), each
//! line naming where it came from.

use tsd_core::barcode::{parse, Measure, Parsed, WeightTemplate};

fn templates(name: Option<&str>) -> Vec<WeightTemplate> {
    match name {
        None => Vec::new(),
        Some("default") => vec![WeightTemplate::default_weight()],
        Some("price21") => vec![WeightTemplate::new(vec!["21".into()], 5, 5, Measure::Price, 1).unwrap()],
        Some(other) => panic!("unknown templates={other}"),
    }
}

/// Why `p` does not meet `expect` (its `key=value` words), if it does not.
fn mismatch(p: &Parsed, expect: &[&str]) -> Option<String> {
    for word in expect {
        let (key, want) = word.split_once('=').unwrap_or((word, ""));
        let got = match key {
            "kind" => p.kind.as_str().to_string(),
            "gtin" => p.gtin.map(|g| g.to_string()).unwrap_or_default(),
            "ais" => p.elements.iter().map(|e| e.ai.as_str()).collect::<Vec<_>>().join(","),
            "warn" => return p.warnings.is_empty().then(|| "expected a pairing warning".to_string()),
            "form" => p.marking.as_ref().map(|m| m.form().as_str()).unwrap_or("").to_string(),
            "groups" => {
                let groups = p.marking.as_ref().map(|m| m.groups()).unwrap_or_default();
                if want.split(',').all(|g| groups.iter().any(|x| x.key == g)) {
                    continue;
                }
                format!("{:?}", groups.iter().map(|g| g.key).collect::<Vec<_>>())
            }
            "grams" => p.weight_grams().map(|g| g.to_string()).unwrap_or_default(),
            "price" => p.weight.as_ref().and_then(|w| w.price).map(|g| g.to_string()).unwrap_or_default(),
            "templates" => continue,
            other => panic!("unknown expectation {other}"),
        };
        if got != want {
            return Some(format!("{key}: expected {want}, got {got}"));
        }
    }
    None
}

#[test]
fn public_vectors() {
    let text = include_str!("vectors/barcodes.tsv");
    let (mut checked, mut failures) = (0, Vec::new());
    let mut per_source = std::collections::BTreeMap::<String, usize>::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "line {}: source, input, expectation", n + 1);
        let (source, input, expect) = (cols[0], cols[1].replace("{GS}", "\u{1D}"), cols[2]);
        let words: Vec<&str> = expect.split_whitespace().collect();
        let tpl = words.iter().find_map(|w| w.strip_prefix("templates="));
        let got = parse(&input, &templates(tpl));
        let problem = match (words[0], &got) {
            ("ok", Ok(p)) => mismatch(p, &words[1..]),
            ("ok", Err(e)) => Some(format!("refused: {e}")),
            ("err", Ok(p)) => Some(format!("accepted as {}", p.kind.as_str())),
            ("err", Err(e)) => words[1..]
                .iter()
                .find_map(|w| w.strip_prefix("code="))
                .filter(|code| *code != e.code.as_str())
                .map(|code| format!("expected error {code}, got {} ({e})", e.code.as_str())),
            (other, _) => panic!("line {}: expectation {other:?}", n + 1),
        };
        if let Some(problem) = problem {
            failures.push(format!("line {} ({source}) {input:?}: {problem}", n + 1));
        }
        checked += 1;
        let group = source.split([':', ' ']).next().unwrap_or(source).to_string();
        *per_source.entry(group).or_default() += 1;
    }
    println!("{checked} vectors: {per_source:?}");
    assert!(checked >= 150, "the vector file is read ({checked})");
    assert!(
        failures.is_empty(),
        "{} of {checked} vectors fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
