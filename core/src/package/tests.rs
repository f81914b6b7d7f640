use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Rec {
    id: String,
    name: String,
    qty: i64,
}

fn recs(n: usize) -> Vec<Rec> {
    (0..n)
        .map(|i| Rec {
            id: format!("P{i:07}"),
            name: format!("Молоко {} %", i % 97),
            qty: i as i64 * 1000,
        })
        .collect()
}

fn write(dir: &Path, name: &str, records: &[Rec], key: Option<&[u8]>) -> PathBuf {
    let mut h = Header::new(Kind::CatalogSnapshot, "test", records.len() as u64);
    h.to_version = 7;
    let mut w = PackageWriter::create(&dir.join(name), &h, key).unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    w.finish().unwrap()
}

fn refusal(path: &Path, key: Option<&[u8]>, require: bool) -> Refusal {
    match PackageReader::open(path, key, require) {
        Err(PackageError::Refused { reason, .. }) => reason,
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(r) => match r.records::<Rec>().unwrap().find_map(Result::err) {
            Some(PackageError::Refused { reason, .. }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        },
    }
}

#[test]
fn round_trip_streams_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let records = recs(20_000);
    let path = write(dir.path(), "a.tsdpkg", &records, None);
    assert!(!dir.path().join("a.tsdpkg.part").exists());
    let r = PackageReader::open(&path, None, false).unwrap();
    assert_eq!(
        (r.header().kind, r.header().to_version, r.header().records),
        (Kind::CatalogSnapshot, 7, 20_000)
    );
    let back: Vec<Rec> = r.records().unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(back, records);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 200_000, "zstd compresses the body: {size} bytes");
}

#[test]
fn signed_packages_verify_with_the_shared_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.tsdpkg", &recs(10), Some(b"shared secret"));
    let r = PackageReader::open(&path, Some(b"shared secret"), true).unwrap();
    assert!(r.header().signed);
    assert_eq!(refusal(&path, Some(b"wrong secret"), true), Refusal::BadSignature);
    assert_eq!(refusal(&path, None, true), Refusal::BadSignature);
    let unsigned = write(dir.path(), "u.tsdpkg", &recs(10), None);
    assert_eq!(refusal(&unsigned, Some(b"shared secret"), true), Refusal::Unsigned);
    assert!(PackageReader::open(&unsigned, Some(b"shared secret"), false).is_ok());
}

#[test]
fn every_truncation_is_refused_as_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "t.tsdpkg", &recs(300), Some(b"k"));
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.tsdpkg");
    for len in (0..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        let reason = refusal(&cut, Some(b"k"), true);
        let expected = if len == 0 { Refusal::Foreign } else { Refusal::Truncated };
        assert_eq!(reason, expected, "cut at {len} of {}", bytes.len());
    }
}

#[test]
fn every_flipped_bit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "f.tsdpkg", &recs(50), Some(b"k"));
    let bytes = std::fs::read(&path).unwrap();
    let flipped = dir.path().join("flip.tsdpkg");
    for pos in 0..bytes.len() {
        let mut b = bytes.clone();
        b[pos] ^= 1 << (pos % 8);
        std::fs::write(&flipped, &b).unwrap();
        let reason = refusal(&flipped, Some(b"k"), true);
        let fine = match pos {
            0..=7 => reason == Refusal::Foreign,
            8..=9 => matches!(reason, Refusal::TooNew { .. } | Refusal::Malformed(_) | Refusal::BadChecksum),
            _ => matches!(
                reason,
                Refusal::BadChecksum | Refusal::BadSignature | Refusal::Truncated | Refusal::Malformed(_)
            ),
        };
        assert!(fine, "bit flipped at {pos}: {reason:?}");
    }
}

#[test]
fn foreign_and_future_files() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("notes.txt");
    std::fs::write(&foreign, "Привет, это не пакет").unwrap();
    assert_eq!(refusal(&foreign, None, false), Refusal::Foreign);
    let path = write(dir.path(), "n.tsdpkg", &recs(3), None);
    let mut b = std::fs::read(&path).unwrap();
    b[8..10].copy_from_slice(&2u16.to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    assert_eq!(refusal(&path, None, false), Refusal::TooNew { found: 2 });
    let e = PackageReader::open(&path, None, false).err().unwrap();
    assert!(e.to_string().contains("n.tsdpkg") && e.to_string().contains("newer"), "{e}");
}

#[test]
fn record_count_must_match_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let h = Header::new(Kind::TaskDocuments, "test", 3);
    let mut w = PackageWriter::create(&dir.path().join("c.tsdpkg"), &h, None).unwrap();
    w.write(&recs(1)[0]).unwrap();
    assert!(matches!(
        w.finish(),
        Err(PackageError::Refused {
            reason: Refusal::Malformed(_),
            ..
        })
    ));
    assert!(!dir.path().join("c.tsdpkg").exists() && !dir.path().join("c.tsdpkg.part").exists());
    // An abandoned writer leaves nothing behind either.
    let w = PackageWriter::create(&dir.path().join("d.tsdpkg"), &h, None).unwrap();
    drop(w);
    assert!(!dir.path().join("d.tsdpkg.part").exists());
}

#[test]
fn unknown_kinds_survive_as_numbers() {
    assert_eq!(Kind::from_code(42), Kind::Unknown(42));
    for k in [
        Kind::CatalogSnapshot,
        Kind::CatalogDelta,
        Kind::TaskDocuments,
        Kind::FinishedDocuments,
        Kind::Configuration,
        Kind::LogBundle,
    ] {
        assert_eq!(Kind::from_code(k.code()), k);
    }
    let h = Header {
        kind: Kind::Unknown(900),
        ..Header::new(Kind::LogBundle, "x", 0)
    };
    let back: Header = postcard::from_bytes(&postcard::to_stdvec(&h).unwrap()).unwrap();
    assert_eq!(back.kind, Kind::Unknown(900));
}

/// Golden bytes of the fixed part and header: the wire format must not drift.
#[test]
fn header_wire_format_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let h = Header {
        kind: Kind::CatalogDelta,
        producer: "p".into(),
        package_id: "id".into(),
        device: "d".into(),
        from_version: 1,
        to_version: 2,
        records: 0,
        created_at: 3,
        signed: false,
    };
    let path = dir.path().join("g.tsdpkg");
    PackageWriter::create(&path, &h, None).unwrap().finish().unwrap();
    let b = std::fs::read(&path).unwrap();
    let expected: &[u8] = &[
        0x89, b'T', b'S', b'D', b'P', b'K', b'G', b'\n', // magic
        1, 0, // format version
        13, 0, 0, 0, // header length
        2, // kind
        1, b'p', 2, b'i', b'd', 1, b'd', // producer, package id, device
        2, 4, // from_version 1, to_version 2 (zigzag varints)
        0, // records
        6, // created_at 3
        0, // signed
    ];
    assert_eq!(&b[..expected.len()], expected);
    assert_eq!(
        u64::from_le_bytes(b[b.len() - 40..b.len() - 32].try_into().unwrap()),
        b.len() as u64
    );
}
