use super::*;

fn fresh(db: Db) -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = open(dir.path(), db, true).unwrap();
    (dir, conn)
}

#[test]
fn fresh_databases_are_stamped_and_in_wal() {
    for db in [Db::Catalog, Db::Journal] {
        let (_d, conn) = fresh(db);
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, db.migrations().len() as i64);
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }
}

#[test]
fn fts5_is_compiled_in() {
    let (_d, conn) = fresh(Db::Catalog);
    conn.execute("INSERT INTO products(pk, id, name) VALUES (1, 'a', 'Молоко Ёжик')", [])
        .unwrap();
    conn.execute("INSERT INTO product_text(rowid, name) VALUES (1, 'молоко ежик')", [])
        .unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM product_text WHERE product_text MATCH '\"ежи\"*'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    conn.execute("DELETE FROM product_text WHERE rowid = 1", []).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM product_text WHERE product_text MATCH 'молоко'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0, "contentless_delete works");
}

/// Every earlier schema version upgrades to the same schema a fresh database has.
/// Version 0 is the empty file; every journal version has its frozen fixture
/// (`fixtures/journal-vN.sql`: schema and rows of every table it had). When a
/// migration is added, freeze the newest version the same way and list it here.
#[test]
fn every_earlier_version_upgrades_to_the_fresh_schema() {
    for db in [Db::Catalog, Db::Journal] {
        let (_d, conn) = fresh(db);
        let want = schema_dump(&conn).unwrap();
        let fixtures: &[(i64, &str)] = match db {
            Db::Catalog => &[(0, "")],
            Db::Journal => &[
                (0, ""),
                (1, include_str!("fixtures/journal-v1.sql")),
                (2, include_str!("fixtures/journal-v2.sql")),
                (3, include_str!("fixtures/journal-v3.sql")),
                (4, include_str!("fixtures/journal-v4.sql")),
            ],
        };
        for (version, sql) in fixtures {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(db.file_name());
            let old = Connection::open(&path).unwrap();
            old.execute_batch(sql).unwrap();
            drop(old);
            let upgraded = open(dir.path(), db, true).unwrap();
            assert_eq!(schema_dump(&upgraded).unwrap(), want, "{db:?} from v{version}");
            if *version > 0 && db == Db::Journal {
                let count = |sql: &str| upgraded.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
                assert_eq!(count("SELECT count(*) FROM journal"), 2, "rows survive the upgrade from v{version}");
                if *version >= 2 {
                    assert_eq!(
                        count("SELECT CAST(value AS INTEGER) FROM sync_state WHERE key = 'tasks_cursor'"),
                        7,
                        "v{version}"
                    );
                }
                if *version >= 3 {
                    assert_eq!(count("SELECT count(*) FROM hydb_cache"), 1, "v{version}");
                }
                if *version >= 4 {
                    assert_eq!(count("SELECT count(*) FROM print_jobs WHERE status = 'sent'"), 1, "v{version}");
                }
            }
        }
    }
}

#[test]
fn newer_schema_is_refused_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), Db::Journal, true).unwrap());
    let path = dir.path().join("journal.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version=99; PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    match open(dir.path(), Db::Journal, true) {
        Err(Error::SchemaTooNew { found: 99, supported, .. }) => assert_eq!(supported, Db::Journal.migrations().len() as i64),
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn foreign_and_damaged_files_are_reported_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    std::fs::write(
        &path,
        b"this is a text file, not a database, and it is long enough to have a header",
    )
    .unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = open(dir.path(), Db::Journal, true).unwrap_err();
    assert_eq!(err.code(), "corrupt_database", "{err}");
    assert!(err.to_string().contains("journal.db"));
    assert_eq!(std::fs::read(&path).unwrap(), before);

    let other = tempfile::tempdir().unwrap();
    let conn = Connection::open(other.path().join("catalog.db")).unwrap();
    conn.execute_batch("CREATE TABLE customers(x)").unwrap();
    drop(conn);
    assert_eq!(open(other.path(), Db::Catalog, true).unwrap_err().code(), "corrupt_database");
    // A journal file offered as a catalog is refused too.
    let swapped = tempfile::tempdir().unwrap();
    drop(open(swapped.path(), Db::Journal, true).unwrap());
    std::fs::rename(swapped.path().join("journal.db"), swapped.path().join("catalog.db")).unwrap();
    assert_eq!(open(swapped.path(), Db::Catalog, true).unwrap_err().code(), "corrupt_database");
}
