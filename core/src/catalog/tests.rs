use super::*;
use crate::store::{self, Db};
use crate::Error;
use std::path::PathBuf;

fn catalog() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = store::open(dir.path(), Db::Catalog, true).unwrap();
    (dir, conn)
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn import(conn: &mut Connection, path: &std::path::Path) -> crate::Result<ImportReport> {
    import_file(conn, path, Format::from_path(path).unwrap(), &Default::default(), &mut |_| true)
}

/// Everything in the catalog, as text, to prove "nothing changed".
fn dump(conn: &Connection) -> String {
    let mut out = String::new();
    for sql in [
        "SELECT pk, id, code, name, unit, flags FROM products ORDER BY pk",
        "SELECT pk, product, id, name, factor FROM packagings ORDER BY pk",
        "SELECT barcode, product, packaging FROM barcodes ORDER BY barcode",
        "SELECT id, name, barcode FROM cells ORDER BY id",
        "SELECT catalog, id, fields FROM records ORDER BY catalog, id",
        "SELECT key, value FROM meta ORDER BY key",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                Ok((0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|"))
            })
            .unwrap();
        for r in rows {
            out.push_str(&r.unwrap());
            out.push('\n');
        }
    }
    out
}

const CSV: &str = "\u{feff}product_id;code;name;unit;weighted;marked;packaging_id;packaging_name;factor;barcode
P1;A-1;Молоко Простоквашино 3,2%;шт;0;1;;;;4601234567893
P1;A-1;Молоко Простоквашино 3,2%;шт;0;1;box;Коробка 12 шт;12;14601234567890
P2;B-2;Сыр Ёлки-палки;кг;да;нет;;;;2200123000002
P3;C-3;Coffee Nescafe Gold;шт;0;0;;;;036000291452
P3;C-3;Coffee Nescafe Gold;шт;0;0;;;;INT-0003
";

#[test]
fn csv_import_then_lookups() {
    let (dir, mut conn) = catalog();
    let path = write(&dir, "c.csv", CSV);
    let r = import(&mut conn, &path).unwrap();
    assert_eq!(r.rows, 5);
    assert_eq!(r.products.added, 3);
    assert_eq!(r.packagings.added, 1);
    assert_eq!(r.barcodes.added, 5);
    assert_eq!(r.version, 1);

    let hit = by_barcode(&conn, &barcode_key("04601234567893").unwrap()).unwrap().unwrap();
    assert_eq!(hit.product.name, "Молоко Простоквашино 3,2%");
    assert!(hit.product.marked && !hit.product.weighted);
    assert!(hit.packaging.is_none());
    let boxed = by_barcode(&conn, &barcode_key("14601234567890").unwrap()).unwrap().unwrap();
    assert_eq!(boxed.packaging.unwrap().factor, 12_000);
    assert!(
        by_barcode(&conn, &barcode_key("00036000291452").unwrap()).unwrap().is_some(),
        "UPC-A stored as GTIN-14"
    );
    assert!(
        by_barcode(&conn, &barcode_key("INT-0003").unwrap()).unwrap().is_some(),
        "internal codes kept as text"
    );
    assert!(by_barcode(&conn, &barcode_key("4600000000008").unwrap()).unwrap().is_none());
    assert!(product_by_id(&conn, "P2").unwrap().unwrap().weighted);
    assert_eq!(products_by_code(&conn, "C-3").unwrap()[0].id, "P3");
    assert_eq!(stats(&conn).unwrap().barcodes, 5);
}

#[test]
fn search_folds_case_and_yo_and_matches_prefixes() {
    let (dir, mut conn) = catalog();
    import(&mut conn, &write(&dir, "c.csv", CSV)).unwrap();
    let ids = |q: &str| search(&conn, q, 10).unwrap().into_iter().map(|p| p.id).collect::<Vec<_>>();
    assert_eq!(ids("молоко"), ["P1"]);
    assert_eq!(ids("МОЛ прост"), ["P1"], "prefixes of several words");
    assert_eq!(ids("елки"), ["P2"], "ё matches е");
    assert_eq!(ids("nesc"), ["P3"]);
    assert_eq!(ids("C-3"), ["P3"], "exact article");
    assert!(ids("молоко сыр").is_empty(), "all words must match");
    assert!(ids("  ,. ").is_empty());
    assert!(ids("\"*)(").is_empty(), "query syntax is not injected");
}

#[test]
fn reimport_of_the_same_data_changes_nothing() {
    let (dir, mut conn) = catalog();
    let path = write(&dir, "c.csv", CSV);
    import(&mut conn, &path).unwrap();
    let before = dump(&conn);
    let r = import(&mut conn, &path).unwrap();
    assert!(!r.changed(), "{r:?}");
    assert_eq!(r.products.unchanged, 3);
    assert_eq!(r.barcodes.unchanged, 5);
    assert_eq!(r.version, 1);
    assert_eq!(dump(&conn), before);
}

#[test]
fn changes_update_rows_and_search() {
    let (dir, mut conn) = catalog();
    import(&mut conn, &write(&dir, "c.csv", CSV)).unwrap();
    let jsonl = r#"{"id":"P1","code":"A-1","name":"Кефир Простоквашино","unit":"шт","marked":true,"barcodes":["4601234567893"],"packagings":[{"id":"box","name":"Коробка 6 шт","factor":6,"barcodes":["14601234567890"]}]}
{"type":"cell","id":"A-01","name":"Ряд A","barcode":"CELL-A-01"}
{"type":"record","catalog":"reasons","id":"R1","fields":{"name":"Брак"}}
"#;
    let r = import(&mut conn, &write(&dir, "d.jsonl", jsonl)).unwrap();
    assert_eq!(
        (r.products.changed, r.packagings.changed, r.cells.added, r.records.added),
        (1, 1, 1, 1)
    );
    assert_eq!(r.version, 2);
    assert!(search(&conn, "молоко", 10).unwrap().is_empty(), "old name left the index");
    assert_eq!(search(&conn, "кефир", 10).unwrap()[0].id, "P1");
    assert_eq!(
        by_barcode(&conn, &barcode_key("14601234567890").unwrap())
            .unwrap()
            .unwrap()
            .packaging
            .unwrap()
            .factor,
        6000
    );
    assert_eq!(cell_by_barcode(&conn, "CELL-A-01").unwrap().unwrap().id, "A-01");
    assert_eq!(record(&conn, "reasons", "R1").unwrap().unwrap()["name"], "Брак");
}

#[test]
fn a_bad_row_fails_the_whole_import_and_changes_nothing() {
    let (dir, mut conn) = catalog();
    import(&mut conn, &write(&dir, "c.csv", CSV)).unwrap();
    let before = dump(&conn);
    let cases = [
        (
            "bad-check.csv",
            "product_id,name,barcode\nP9,Новый,4601234567008\nP10,Другой,4601234567894\n",
            3,
            "check digit",
        ),
        (
            "no-name.csv",
            "product_id,name,barcode\nP9,Новый,4601234567909\nP10,,4601234567916\n",
            3,
            "no name",
        ),
        (
            "twice.csv",
            "product_id,name,barcode\nP9,Новый,4601234567909\nP10,Другой,4601234567909\n",
            3,
            "given to products P9 and P10",
        ),
        (
            "conflict.csv",
            "product_id,name\nP9,Новый\nP10,Другой\nP9,Иной\n",
            4,
            "differs from its row on line 2",
        ),
        (
            "factor.csv",
            "product_id,name,packaging_id,factor\nP9,Новый,box,двенадцать\n",
            2,
            "factor",
        ),
        ("flag.csv", "product_id,name,weighted\nP9,Новый,может быть\n", 2, "weighted"),
        ("header.csv", "sku,title\n1,x\n", 1, "header"),
        (
            "json.jsonl",
            "{\"id\":\"P9\",\"name\":\"ok\"}\n{\"id\":\"P10\",\"name\":\n",
            2,
            "bad JSON",
        ),
        ("type.jsonl", "{\"type\":\"warehouse\",\"id\":\"W\"}\n", 1, "unknown type"),
    ];
    for (name, text, line, reason) in cases {
        let path = write(&dir, name, text);
        match import(&mut conn, &path) {
            Err(Error::Import {
                path: p,
                line: l,
                reason: r,
            }) => {
                assert_eq!((p, l), (path.clone(), line), "{name}: {r}");
                assert!(r.contains(reason), "{name}: {r}");
            }
            other => panic!("{name}: expected an import error, got {other:?}"),
        }
        assert_eq!(dump(&conn), before, "{name} changed the catalog");
    }
    let mut bytes = b"product_id,name\nP9,".to_vec();
    bytes.extend_from_slice(&[0xC0, 0xFF, b'\n']);
    let path = dir.path().join("cp1251.csv");
    std::fs::write(&path, bytes).unwrap();
    // Windows-1251 bytes in a file said to be UTF-8: refused at their line.
    let utf8 = crate::catalog::ReadOptions {
        encoding: Some(crate::catalog::TextEncoding::Utf8),
        ..Default::default()
    };
    match import_file(&mut conn, &path, Format::Csv, &utf8, &mut |_| true) {
        Err(Error::Import { line, reason, .. }) => assert!(line == 2 && reason.contains("UTF-8"), "{line}: {reason}"),
        other => panic!("expected an import error, got {other:?}"),
    }
    assert_eq!(dump(&conn), before);
}

#[test]
fn cancelled_import_changes_nothing() {
    let (dir, mut conn) = catalog();
    let g = generate(dir.path(), 30_000, 1).unwrap();
    let err = import_file(&mut conn, &g.catalog, Format::Csv, &Default::default(), &mut |rows| rows < 65_536).unwrap_err();
    assert!(matches!(err, Error::Cancelled));
    assert_eq!(stats(&conn).unwrap(), Stats::default());
}

#[test]
fn generated_catalog_imports_and_every_barcode_is_found() {
    let (dir, mut conn) = catalog();
    let g = generate(dir.path(), 2_000, 7).unwrap();
    let again = generate(&dir.path().join("again"), 2_000, 7).unwrap();
    assert_eq!(
        std::fs::read(&g.catalog).unwrap(),
        std::fs::read(&again.catalog).unwrap(),
        "deterministic"
    );
    let r = import(&mut conn, &g.catalog).unwrap();
    assert_eq!(r.rows, g.rows);
    assert_eq!(r.products.added, 2_000);
    assert_eq!(r.barcodes.added, g.barcode_count);
    import(&mut conn, &g.cells).unwrap();
    for line in std::fs::read_to_string(&g.barcodes).unwrap().lines() {
        let key = barcode_key(line).unwrap();
        assert!(by_barcode(&conn, &key).unwrap().is_some(), "{line}");
    }
    let st = stats(&conn).unwrap();
    assert_eq!(st.cells, 30);
    let weighted: i64 = conn
        .query_row("SELECT count(*) FROM products WHERE flags & 1", [], |r| r.get(0))
        .unwrap();
    let marked: i64 = conn
        .query_row("SELECT count(*) FROM products WHERE flags & 2", [], |r| r.get(0))
        .unwrap();
    assert!(weighted > 20 && marked > 100, "{weighted} {marked}");
    assert!(st.packagings > 2_000);
}

#[test]
fn bulk_load_keeps_the_schema_and_falls_back_on_scattered_rows() {
    let (dir, mut conn) = catalog();
    let fresh = store::schema_dump(&conn).unwrap();
    import(&mut conn, &write(&dir, "c.csv", CSV)).unwrap();
    assert_eq!(
        store::schema_dump(&conn).unwrap(),
        fresh,
        "indexes rebuilt with the migration's text"
    );

    // P1 appears in two separate groups of rows: the bulk path hands over to the
    // general merge, which accepts identical repeats.
    let scattered = "product_id,name,packaging_id,factor,barcode\nP1,Молоко,,,4601234567893\nP2,Кефир,,,4601234567909\nP1,Молоко,box,12,14601234567890\n";
    let (dir2, mut conn2) = catalog();
    let r = import(&mut conn2, &write(&dir2, "s.csv", scattered)).unwrap();
    assert_eq!((r.products.added, r.packagings.added, r.barcodes.added), (2, 1, 3));
    assert_eq!(store::schema_dump(&conn2).unwrap(), fresh);
    assert_eq!(
        by_barcode(&conn2, &barcode_key("14601234567890").unwrap())
            .unwrap()
            .unwrap()
            .product
            .id,
        "P1"
    );
    assert_eq!(search(&conn2, "кефир", 5).unwrap()[0].id, "P2");
    // A conflicting scattered repeat is still an error with its line.
    let bad = "product_id,name\nP1,Молоко\nP2,Кефир\nP1,Сметана\n";
    let (dir3, mut conn3) = catalog();
    let e = import(&mut conn3, &write(&dir3, "b.csv", bad)).unwrap_err();
    assert!(matches!(e, Error::Import { line: 4, .. }), "{e}");
    assert_eq!(stats(&conn3).unwrap(), Stats::default());
}

#[test]
fn bulk_and_general_paths_agree_on_a_generated_catalog() {
    let (dir, mut bulk) = catalog();
    let g = generate(dir.path(), 1_500, 3).unwrap();
    import(&mut bulk, &g.catalog).unwrap();
    // General path: the catalog is not empty (one unrelated product first).
    let other = tempfile::tempdir().unwrap();
    let mut general = store::open(other.path(), Db::Catalog, true).unwrap();
    import(&mut general, &write(&dir, "seed.csv", "product_id,name,barcode\nZ0,Seed,SEED-1\n")).unwrap();
    import(&mut general, &g.catalog).unwrap();
    for key in std::fs::read_to_string(&g.barcodes)
        .unwrap()
        .lines()
        .map(|l| barcode_key(l).unwrap())
    {
        assert_eq!(by_barcode(&bulk, &key).unwrap(), by_barcode(&general, &key).unwrap(), "{key}");
    }
    assert_eq!(
        search(&bulk, "молоко", 1000).unwrap().len(),
        search(&general, "молоко", 1000).unwrap().len()
    );
}

#[test]
fn fold_matches_unicode_lowercase() {
    for s in ["Молоко ЁЖИК ёлка", "Nescafé GOLD 3,2%", "ÄÖÜ ß İ", "Ǆ ΣΑΣ"] {
        let expected: String = s
            .chars()
            .flat_map(char::to_lowercase)
            .map(|c| if c == 'ё' { 'е' } else { c })
            .collect();
        assert_eq!(fold(s), expected, "{s}");
    }
}

#[test]
fn names_starting_with_the_query_come_first() {
    let (dir, mut conn) = catalog();
    let csv = "product_id,code,name\nP1,K-1,Кефир молочный из цельного молока\nP2,M-2,Молоко\nP3,M-3,Сыр\nP4,M-2X,Молочный коктейль\n";
    import(&mut conn, &write(&dir, "c.csv", csv)).unwrap();
    let ids: Vec<String> = search(&conn, "мол", 10).unwrap().into_iter().map(|p| p.id).collect();
    assert_eq!(ids, ["P2", "P4", "P1"]);
    let ids: Vec<String> = search(&conn, "M-2", 10).unwrap().into_iter().map(|p| p.id).collect();
    assert_eq!(ids[0], "P2", "the exact article first");
    assert_eq!(search(&conn, "мол", 1).unwrap().len(), 1);
}

mod damaged_files {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        /// Whatever a file turns into on its way from the accounting system, an
        /// import either succeeds or fails with a typed error and leaves the catalog
        /// exactly as it was; it never panics.
        #[test]
        fn a_damaged_file_never_half_applies(
            edits in proptest::collection::vec((0usize..400, prop_oneof![
                Just(b','), Just(b';'), Just(b'"'), Just(b'\n'), Just(b'x'), Just(b'0'), Just(0xFFu8), Just(b'{'), Just(b'}')
            ]), 1..6),
            json in any::<bool>(),
        ) {
            let (dir, mut conn) = catalog();
            import(&mut conn, &write(&dir, "base.csv", CSV)).unwrap();
            let before = dump(&conn);
            let mut bytes = if json {
                r#"{"id":"P9","name":"Новый","barcodes":["4601234567909"],"packagings":[{"id":"box","factor":6,"barcodes":["14601234567906"]}]}
{"type":"cell","id":"Z-1","name":"Z","barcode":"CELL-Z-1"}
"#
                .as_bytes()
                .to_vec()
            } else {
                CSV.replace("P1", "P7").replace("4601234567893", "4601234567909").into_bytes()
            };
            for (pos, byte) in edits {
                let at = pos % bytes.len();
                bytes[at] = byte;
            }
            let path = dir.path().join(if json { "damaged.jsonl" } else { "damaged.csv" });
            std::fs::write(&path, &bytes).unwrap();
            match import(&mut conn, &path) {
                Ok(_) => {}
                Err(e) => {
                    prop_assert!(matches!(e, Error::Import { .. }), "{e}");
                    prop_assert_eq!(dump(&conn), before);
                }
            }
        }
    }
}
