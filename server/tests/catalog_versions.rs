//! Catalog versions as an accounting system that re-exports on a schedule makes
//! them: the same catalog again — in the same or another accepted format — makes
//! no version; a changed one gets a delta from the one before, and the offer says
//! why it chose what it chose.

use tsd_core::catalog::Format;
use tsd_server::Server;

const CSV: &str = "product_id,name,barcode\nP1,Молоко,4601234567893\nP2,Кефир,4601234567909\n";
const JSONL: &str = r#"{"id":"P1","name":"Молоко","barcodes":["4601234567893"]}
{"id":"P2","name":"Кефир","barcodes":["4601234567909"]}
"#;
const CHANGED_JSONL: &str = r#"{"id":"P1","name":"Молоко 3,2%","barcodes":["4601234567893"]}
{"id":"P2","name":"Кефир","barcodes":["4601234567909"]}
"#;

#[test]
fn an_equal_catalog_in_any_format_makes_no_version_and_a_change_gets_a_delta() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::open(&dir.path().join("srv")).unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let (csv, jsonl, changed) = (file("c.csv", CSV), file("c.jsonl", JSONL), file("c2.jsonl", CHANGED_JSONL));

    let first = server.publish_catalog(&csv, Format::Csv).unwrap();
    assert_eq!((first.version, first.changed), (1, true));
    for (path, format) in [(&jsonl, Format::Jsonl), (&csv, Format::Csv), (&jsonl, Format::Jsonl)] {
        let again = server.publish_catalog(path, format).unwrap();
        assert_eq!((again.version, again.changed), (1, false), "{path:?} equals v1");
    }
    let offer = server.offer(0).unwrap();
    assert!(offer.reason.contains("holds no catalog"), "{}", offer.reason);
    assert!(server.offer(1).unwrap().reason.contains("up to date"));

    // A real change in the other format: a new version with a delta from v1.
    let second = server.publish_catalog(&changed, Format::Jsonl).unwrap();
    assert_eq!((second.version, second.changed), (2, true));
    assert!(second.delta_bytes.is_some(), "a changed version always gets a delta");
    let offer = server.offer(1).unwrap();
    assert_eq!(offer.packages.iter().map(|p| p.kind.as_str()).collect::<Vec<_>>(), ["delta"]);
    assert!(offer.reason.contains("delta(s) from v1"), "{}", offer.reason);
    assert!(server.offer(7).unwrap().reason.contains("not a version of this server"));
}

#[test]
fn a_publish_tells_where_it_is_rows_read_then_each_step_in_order() {
    use tsd_server::PublishStep::*;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::open(&dir.path().join("srv")).unwrap();
    // Past 65,536 rows: the reading step counts them.
    let mut csv = String::from("product_id,name,barcode\n");
    for i in 0..70_000u64 {
        csv += &format!("P{i},Товар {i},C{i:07}\n");
    }
    let path = dir.path().join("big.csv");
    std::fs::write(&path, &csv).unwrap();
    let steps = |path: &std::path::Path| {
        let mut seen = Vec::new();
        server
            .publish_catalog_observed(path, Format::Csv, &Default::default(), &mut |s| seen.push(s))
            .unwrap();
        seen
    };
    assert_eq!(
        steps(&path),
        [Waiting, Reading(0), Reading(65_536), Snapshot, Keeping, Lookup],
        "the first version has no delta"
    );
    csv += "P70000,Ещё товар,C0070000\n";
    std::fs::write(&path, &csv).unwrap();
    assert_eq!(
        steps(&path),
        [Waiting, Reading(0), Reading(65_536), Snapshot, Delta, Keeping, Lookup],
        "the second has a delta from the first"
    );
}
