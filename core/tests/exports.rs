//! Catalog files as 1C and Excel write them (issue 13 §3): encodings, separators,
//! doubled quotes, CRLF and CR, BOMs, thousands separators, Russian headers,
//! numbers a spreadsheet damaged, weighed goods by their scale item code — and
//! CommerceML 2 exports of several schema versions (§1).

use std::path::{Path, PathBuf};
use tsd_core::catalog::{Format, ReadOptions, TextEncoding};
use tsd_core::{Error, Runtime};

fn runtime() -> (tempfile::TempDir, Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let rt = Runtime::open(&dir.path().join("t")).unwrap();
    (dir, rt)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn cp1251(text: &str) -> Vec<u8> {
    let (bytes, _, bad) = encoding_rs::WINDOWS_1251.encode(text);
    assert!(!bad, "the test text is Windows-1251");
    bytes.into_owned()
}

fn utf16le_bom(text: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    v.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    v
}

fn product_of(rt: &Runtime, code: &str) -> Option<String> {
    rt.resolve(code).unwrap().hit().map(|h| h.product.id.clone())
}

/// The error's (line, reason) of an import that must fail.
fn refused(rt: &Runtime, path: &Path, read: &ReadOptions) -> (u64, String) {
    match rt.import_catalog_with(path, Format::Csv, read, &mut |_| true) {
        Err(Error::Import { line, reason, .. }) => (line, reason),
        other => panic!("{}: expected an import error, got {other:?}", path.display()),
    }
}

/// 1C's «Текст в кодировке Windows»: Windows-1251, `;`, CRLF, Russian headers,
/// doubled quotes, a non-breaking space in a thousands factor, «Да» for a flag.
#[test]
fn a_1c_windows_1251_export_with_russian_headers() {
    let (dir, rt) = runtime();
    let text = "Код;Артикул;Наименование;Ед. изм.;Весовой;Упаковка;Коэффициент;Штрихкод\r\n\
        00-001;А-1;\"Молоко \"\"Домик в деревне\"\" 1л\";шт;Нет;;;4601234567893\r\n\
        00-001;А-1;\"Молоко \"\"Домик в деревне\"\" 1л\";шт;Нет;Паллета;1\u{a0}000;14601234567890\r\n\
        00-002;Б-2;Сыр «Российский»;кг;Да;;;\r\n";
    let path = write(dir.path(), "export.csv", &cp1251(text));
    let report = rt
        .import_catalog_with(&path, Format::Csv, &ReadOptions::default(), &mut |_| true)
        .unwrap();
    assert_eq!(report.encoding.as_deref(), Some("windows-1251"));
    assert_eq!((report.products.added, report.barcodes.added, report.packagings.added), (2, 2, 1));
    let milk = rt.product("00-001").unwrap().unwrap();
    assert_eq!((milk.code.as_str(), milk.name.as_str()), ("А-1", "Молоко \"Домик в деревне\" 1л"));
    let pallet = rt.resolve("14601234567890").unwrap();
    assert_eq!(pallet.qty, 1_000_000, "1 000 units a pallet, the NBSP a thousands separator");
    assert!(rt.product("00-002").unwrap().unwrap().weighted, "Да");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

/// Excel's «Unicode text»: UTF-16 with a BOM, tab-separated; and UTF-8 with a BOM.
#[test]
fn excel_unicode_text_and_utf8_with_bom() {
    let (dir, rt) = runtime();
    let text = "Код\tНаименование\tШтрихкод\r\nP1\tЧай «Липтон»\t4601234567893\r\n";
    let path = write(dir.path(), "unicode.txt", &utf16le_bom(text));
    let report = rt
        .import_catalog_with(&path, Format::Csv, &ReadOptions::default(), &mut |_| true)
        .unwrap();
    assert_eq!(report.encoding.as_deref(), Some("utf-16le"));
    assert_eq!(product_of(&rt, "4601234567893").as_deref(), Some("P1"));
    let bom = [
        &[0xEF, 0xBB, 0xBF][..],
        "product_id,name,barcode\nP2,Кофе,4600000000008\n".as_bytes(),
    ]
    .concat();
    let path = write(dir.path(), "bom.csv", &bom);
    rt.import_catalog(&path, Format::Csv, &mut |_| true).unwrap();
    assert_eq!(product_of(&rt, "4600000000008").as_deref(), Some("P2"));
    assert_eq!(rt.product("P1").unwrap().unwrap().name, "Чай «Липтон»");
}

/// A header 1C or a person wrote: `Штрихкод` among English names is a barcode
/// column (it used to be dropped silently); a column nobody knows is reported, and
/// refused with --strict; a file with no barcode column says so; --columns maps
/// the rest.
#[test]
fn columns_are_understood_reported_or_mapped() {
    let (dir, rt) = runtime();
    let path = write(
        dir.path(),
        "mixed.csv",
        "product_id,name,Штрихкод,Цена\nP1,A,4601234567893,10\n".as_bytes(),
    );
    let report = rt
        .import_catalog_with(&path, Format::Csv, &ReadOptions::default(), &mut |_| true)
        .unwrap();
    assert_eq!(report.barcodes.added, 1);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].contains("«Цена»"), "{:?}", report.warnings);
    let strict = ReadOptions {
        strict: true,
        ..ReadOptions::default()
    };
    let (line, reason) = refused(&rt, &path, &strict);
    assert!(line == 1 && reason.contains("«Цена»"), "{line}: {reason}");
    let none = write(dir.path(), "none.csv", "Код;Наименование\nP7;B\n".as_bytes());
    let report = rt
        .import_catalog_with(&none, Format::Csv, &ReadOptions::default(), &mut |_| true)
        .unwrap();
    assert!(
        report.warnings.iter().any(|w| w.contains("no barcode column")),
        "{:?}",
        report.warnings
    );
    let odd = write(
        dir.path(),
        "odd.csv",
        "Номенклатура.Код;Номенклатура;EAN-13 код\nP8;C;4600000000008\n".as_bytes(),
    );
    let read = ReadOptions {
        columns: ReadOptions::parse_columns("product_id=Номенклатура.Код, barcode=EAN-13 код").unwrap(),
        ..ReadOptions::default()
    };
    let report = rt.import_catalog_with(&odd, Format::Csv, &read, &mut |_| true).unwrap();
    assert_eq!((report.barcodes.added, report.warnings.len()), (1, 0), "{:?}", report.warnings);
    assert_eq!(product_of(&rt, "4600000000008").as_deref(), Some("P8"));
    assert!(ReadOptions::parse_columns("price=Цена")
        .unwrap_err()
        .contains("not a catalog field"));
    let read = ReadOptions {
        columns: ReadOptions::parse_columns("barcode=Нет такой").unwrap(),
        ..ReadOptions::default()
    };
    assert!(refused(&rt, &odd, &read).1.contains("not in the header"));
}

/// Numbers a spreadsheet damaged are refused with the reason, at the right line
/// whatever the line ends; an internal code declared as text is kept as written.
#[test]
fn barcodes_damaged_by_excel_are_refused_at_their_line() {
    let (dir, rt) = runtime();
    for (bad, why) in [
        ("4,60123E+12", "scientific notation"),
        ("4.60123e12", "scientific notation"),
        ("4 601234 567893", "split by spaces"),
        ("36000291452", "leading zero was dropped"),
        ("4601234567890", "check digit"),
    ] {
        for (ends, name) in [("\r\n", "crlf"), ("\n", "lf"), ("\r", "cr")] {
            let text = ["Код;Наименование;Штрихкод", "P1;A;4601234567893", &format!("P2;B;{bad}"), ""].join(ends);
            let path = write(dir.path(), &format!("{name}.csv"), text.as_bytes());
            let (line, reason) = refused(&rt, &path, &ReadOptions::default());
            assert_eq!(line, 3, "{bad} with {name} line ends: {reason}");
            assert!(reason.contains(why), "{bad}: {reason}");
        }
    }
    let (_, reason) = refused(
        &rt,
        &write(dir.path(), "upca.csv", "Код;Наименование;Штрихкод\nP1;A;36000291452\n".as_bytes()),
        &ReadOptions::default(),
    );
    assert!(reason.contains("036000291452"), "the fix is named: {reason}");
    assert_eq!(rt.catalog_stats().unwrap().products, 0, "nothing was imported");
    // Declared internal codes stay as written, and are found as scanned.
    let path = write(
        dir.path(),
        "internal.csv",
        "Код;Наименование;Штрихкод;Тип штрихкода\nP1;A;36000291452;внутренний\n".as_bytes(),
    );
    rt.import_catalog(&path, Format::Csv, &mut |_| true).unwrap();
    assert_eq!(product_of(&rt, "36000291452").as_deref(), Some("P1"));
}

/// Weighed goods listed by their scale item code: any label with that item code
/// finds them, with its weight; short numeric codes kept as text are pointed out.
#[test]
fn weighed_goods_by_their_scale_item_code() {
    let (dir, rt) = runtime();
    let path = write(
        dir.path(),
        "scales.csv",
        "Код;Наименование;Весовой;Код весового товара;Штрихкод\nP1;Колбаса;да;00456;\nP2;Сыр;да;789;\nP3;Пакет;нет;;2200456\n".as_bytes(),
    );
    let report = rt.import_catalog(&path, Format::Csv, &mut |_| true).unwrap();
    assert!(
        report.warnings.iter().any(|w| w.contains("plu column") && w.contains("line 4")),
        "{:?}",
        report.warnings
    );
    let label = |item: &str, grams: &str| {
        let body = format!("22{item}{grams}");
        format!("{body}{}", tsd_core::barcode::check_digit(body.as_bytes()) as char)
    };
    let r = rt.resolve(&label("00456", "01250")).unwrap();
    assert_eq!(
        (r.hit().map(|h| h.product.id.as_str()), r.qty, r.reading),
        (Some("P1"), 1250, Some("plu"))
    );
    assert_eq!(product_of(&rt, &label("00789", "00500")).as_deref(), Some("P2"));
}

/// Bytes that are no text in the file's encoding name it and the line.
#[test]
fn unreadable_bytes_name_the_encoding_and_line() {
    let (dir, rt) = runtime();
    let mut bytes = "Код;Наименование\r\nP1;Молоко\r\n".as_bytes().to_vec();
    bytes.extend(cp1251("P2;Сыр\r\n"));
    let path = write(dir.path(), "mixed.csv", &bytes);
    let (line, reason) = refused(&rt, &path, &ReadOptions::default());
    assert!(line == 3 && reason.contains("UTF-8"), "{line}: {reason}");
    // Told it is Windows-1251, a UTF-8 file reads as mojibake but imports: the
    // person who forces an encoding is believed.
    let forced = ReadOptions {
        encoding: Some(TextEncoding::Windows1251),
        ..ReadOptions::default()
    };
    let ok = write(dir.path(), "ok.csv", "product_id;name\nP1;Молоко\n".as_bytes());
    rt.import_catalog_with(&ok, Format::Csv, &forced, &mut |_| true).unwrap();
    assert_ne!(rt.product("P1").unwrap().unwrap().name, "Молоко");
}

/// CommerceML 2.08 as 1C:УТ 11 writes it (written from the published schema).
const IMPORT_208: &str = include_str!("data/cml/import0_1.xml");

/// CommerceML 2.08 as 1C:УТ 11 writes it (written from the published schema).
const OFFERS_208: &str = include_str!("data/cml/offers0_1.xml");

/// CommerceML 2.08 as 1C:УТ 11 exports it: import0_1.xml read with its
/// offers0_1.xml, groups, barcodes from the element and the реквизит, a box from
/// Пересчет, a kilogram product weighed, a marked group, a deleted product left
/// out, a characteristic as a variant with its barcode and price.
#[test]
fn commerceml_2_08_import_with_offers() {
    let (dir, rt) = runtime();
    let import = write(dir.path(), "import0_1.xml", IMPORT_208.as_bytes());
    write(dir.path(), "offers0_1.xml", OFFERS_208.as_bytes());
    let report = rt
        .import_catalog_with(&import, Format::CommerceMl, &ReadOptions::default(), &mut |_| true)
        .unwrap();
    assert_eq!(report.products.added, 4, "3 products and 1 variant: {report:?}");
    assert!(report.warnings.iter().any(|w| w.contains("Удален")), "{:?}", report.warnings);
    assert!(rt.product("5f1c2b4e-0004").unwrap().is_none());
    let milk = rt.product("5f1c2b4e-0001").unwrap().unwrap();
    assert_eq!(
        (milk.code.as_str(), milk.name.as_str(), milk.unit.as_str()),
        ("МЛ-1", "Молоко \"Домик\" 1 л", "Штука")
    );
    for code in ["4601234567893", "4600000000008"] {
        assert_eq!(product_of(&rt, code).as_deref(), Some("5f1c2b4e-0001"), "{code}");
    }
    let cheese = rt.product("5f1c2b4e-0002").unwrap().unwrap();
    assert!(cheese.weighted && cheese.unit == "кг");
    assert!(rt.product("5f1c2b4e-0003").unwrap().unwrap().marked);
    let variant = rt.resolve("4607000000014").unwrap();
    let hit = variant.hit().unwrap();
    assert_eq!(
        (hit.product.id.as_str(), hit.product.name.as_str()),
        ("5f1c2b4e-0003#c-42-red", "Футболка (42, красный)")
    );
    assert!(hit.product.marked, "the variant keeps its product's marking");
    let price = rt.record("prices", "5f1c2b4e-0003#c-42-red").unwrap().record.unwrap();
    assert_eq!((price["price"].as_str(), price["type"].as_str()), (Some("999"), Some("Розничная")));
    assert_eq!(rt.record("prices", "5f1c2b4e-0001").unwrap().record.unwrap()["price"], "89.90");
    let dairy = rt.record("groups", "g-dairy").unwrap().record.unwrap();
    assert_eq!(
        (dairy["name"].as_str(), dairy["parent"].as_str()),
        (Some("Молочные"), Some("g-food"))
    );
    assert_eq!(
        rt.record("product_groups", "5f1c2b4e-0002").unwrap().record.unwrap()["group"],
        "g-dairy"
    );
    // The box: 12 pieces, from Пересчет.
    let packagings = rt.packagings("5f1c2b4e-0001").unwrap();
    assert!(
        packagings.iter().any(|p| p.id == "unit:778" && p.factor == 12_000),
        "{packagings:?}"
    );
    // The same exchange again changes nothing.
    let again = rt
        .import_catalog_with(&import, Format::CommerceMl, &ReadOptions::default(), &mut |_| true)
        .unwrap();
    assert!(!again.changed(), "{again:?}");
}

/// An older export (2.03/2.04: no ВерсияСхемы-specific parts, barcodes only as a
/// реквизит, Windows-1251 declared and written) reads the same way.
#[test]
fn commerceml_2_03_in_windows_1251() {
    let (dir, rt) = runtime();
    let xml = r#"<?xml version="1.0" encoding="windows-1251"?>
<КоммерческаяИнформация ВерсияСхемы="2.03" ДатаФормирования="2012-05-10T12:00:00">
<Каталог><Ид>c</Ид><Наименование>Каталог</Наименование><Товары>
<Товар><Ид>a1</Ид><Артикул>77</Артикул><Наименование>Хлеб «Бородинский»</Наименование><БазоваяЕдиница>шт</БазоваяЕдиница>
<ЗначенияРеквизитов><ЗначениеРеквизита><Наименование>Штрихкод</Наименование><Значение>4600000000008</Значение></ЗначениеРеквизита>
<ЗначениеРеквизита><Наименование>Весовой</Наименование><Значение>false</Значение></ЗначениеРеквизита></ЗначенияРеквизитов></Товар>
</Товары></Каталог></КоммерческаяИнформация>"#;
    let path = write(dir.path(), "import.xml", &cp1251(xml));
    let report = rt.import_catalog(&path, Format::CommerceMl, &mut |_| true).unwrap();
    assert_eq!(report.encoding.as_deref(), Some("windows-1251"));
    let p = rt.resolve("4600000000008").unwrap();
    assert_eq!(p.hit().unwrap().product.name, "Хлеб «Бородинский»");
    assert!(!p.hit().unwrap().product.weighted);
}

/// Errors name the element path and the line: a bad barcode, a product without
/// a name, a file cut short, something that is not CommerceML.
#[test]
fn commerceml_errors_name_the_element_and_line() {
    let (dir, rt) = runtime();
    let bad = IMPORT_208.replace("<Штрихкод>4601234567893</Штрихкод>", "<Штрихкод>4,60123E+12</Штрихкод>");
    let path = write(dir.path(), "import.xml", bad.as_bytes());
    match rt.import_catalog(&path, Format::CommerceMl, &mut |_| true) {
        Err(Error::Import { line, reason, .. }) => {
            assert_eq!(line, 28, "{reason}");
            assert!(
                reason.contains("Каталог/Товары/Товар 5f1c2b4e-0001") && reason.contains("scientific"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    let cut = &IMPORT_208[..IMPORT_208.find("<Товар Статус").unwrap()];
    let path = write(dir.path(), "import.xml", cut.as_bytes());
    match rt.import_catalog(&path, Format::CommerceMl, &mut |_| true) {
        Err(Error::Import { reason, .. }) => assert!(reason.contains("cut short"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let path = write(dir.path(), "import.xml", b"<html><body>not 1C</body></html>");
    match rt.import_catalog(&path, Format::CommerceMl, &mut |_| true) {
        Err(Error::Import { line, reason, .. }) => assert!(line == 1 && reason.contains("not a CommerceML"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(rt.catalog_stats().unwrap().products, 0, "nothing was imported");
}

/// The generator's CommerceML (the benchmark's million-product import.xml) reads
/// back to the same products, names, units and base-unit barcodes as its CSV.
#[test]
fn generated_commerceml_reads_back_as_its_csv() {
    let (dir, from_csv) = runtime();
    let g = tsd_core::catalog::generate(&dir.path().join("gen"), 300, 5).unwrap();
    let xml = dir.path().join("import.xml");
    assert_eq!(tsd_core::catalog::csv_to_commerceml(&g.catalog, &xml).unwrap(), 300);
    let from_xml = Runtime::open(&dir.path().join("x")).unwrap();
    from_csv.import_catalog(&g.catalog, Format::Csv, &mut |_| true).unwrap();
    let report = from_xml.import_catalog(&xml, Format::CommerceMl, &mut |_| true).unwrap();
    assert_eq!(report.products.added, 300);
    for code in std::fs::read_to_string(&g.barcodes).unwrap().lines() {
        let a = from_csv.resolve(code).unwrap();
        let b = from_xml.resolve(code).unwrap();
        let (Some(ha), Some(hb)) = (a.hit(), b.hit()) else { continue };
        assert_eq!(
            (&ha.product.id, &ha.product.name, &ha.product.unit),
            (&hb.product.id, &hb.product.name, &hb.product.unit)
        );
        assert_eq!(ha.product.weighted, hb.product.weighted);
    }
    assert_eq!(from_xml.catalog_stats().unwrap().products, 300);
}

/// CommerceML 2.10 as newer 1C releases split it: prices in their own
/// prices0_1.xml beside import0_1.xml, read with it; offers that carry only a
/// price make no product.
#[test]
fn commerceml_2_10_with_a_separate_prices_file() {
    let (dir, rt) = runtime();
    let import = IMPORT_208.replace("ВерсияСхемы=\"2.08\"", "ВерсияСхемы=\"2.10\"");
    let path = write(dir.path(), "import0_1.xml", import.as_bytes());
    let prices = r#"<?xml version="1.0" encoding="UTF-8"?>
<КоммерческаяИнформация ВерсияСхемы="2.10" ДатаФормирования="2026-11-28T10:00:00">
  <ПакетПредложений СодержитТолькоИзменения="false">
    <Ид>cat-1#</Ид><Наименование>Цены</Наименование><ИдКаталога>cat-1</ИдКаталога>
    <ТипыЦен><ТипЦены><Ид>opt</Ид><Наименование>Оптовая</Наименование><Валюта>RUB</Валюта></ТипЦены></ТипыЦен>
    <Предложения>
      <Предложение><Ид>5f1c2b4e-0002</Ид><Цены><Цена><ИдТипаЦены>opt</ИдТипаЦены><ЦенаЗаЕдиницу>612,40</ЦенаЗаЕдиницу><Валюта>RUB</Валюта><Единица>кг</Единица></Цена></Цены></Предложение>
    </Предложения>
  </ПакетПредложений>
</КоммерческаяИнформация>"#;
    write(dir.path(), "prices0_1.xml", prices.as_bytes());
    let report = rt.import_catalog(&path, Format::CommerceMl, &mut |_| true).unwrap();
    assert_eq!(report.products.added, 3, "{report:?}");
    let price = rt.record("prices", "5f1c2b4e-0002").unwrap().record.unwrap();
    assert_eq!(
        (price["price"].as_str(), price["type"].as_str(), price["unit"].as_str()),
        (Some("612.40"), Some("Оптовая"), Some("кг"))
    );
}

/// A report saved from 1C starts with its title and date: the header is the first
/// line that names catalog columns; line numbers stay the file's.
#[test]
fn title_lines_above_the_header_are_skipped() {
    let (dir, rt) = runtime();
    let text = "Прайс-лист\r\nна 28.11.2026\r\n\r\nКод;Наименование;Штрихкод\r\nP1;Молоко;4601234567893\r\nP2;Кефир;4601234567890\r\n";
    let path = write(dir.path(), "report.csv", &cp1251(text));
    let (line, reason) = refused(&rt, &path, &ReadOptions::default());
    assert!(line == 6 && reason.contains("check digit"), "{line}: {reason}");
    let fixed = text.replace("4601234567890", "4601234567909");
    let path = write(dir.path(), "report.csv", &cp1251(&fixed));
    rt.import_catalog(&path, Format::Csv, &mut |_| true).unwrap();
    assert_eq!(product_of(&rt, "4601234567909").as_deref(), Some("P2"));
    // No header anywhere near the top: the first line is reported.
    let path = write(dir.path(), "none.csv", "a;b\n1;2\n3;4\n".as_bytes());
    let (line, reason) = refused(&rt, &path, &ReadOptions::default());
    assert!(line == 1 && reason.contains("«a», «b»"), "{line}: {reason}");
}
