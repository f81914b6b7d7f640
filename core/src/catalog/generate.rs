//! A deterministic generator of a realistic catalog, for the demo, tests and
//! benchmarks: Cyrillic names, EAN-13 with 460–469 prefixes, 1–4 packagings per
//! product with ITF-14 box codes, weighed goods with in-store weight codes, marked
//! goods, a sprinkle of EAN-8 and UPC-A, and storage cells. The same seed always
//! gives the same files.

use crate::barcode::check_digit;
use crate::error::{Error, Result};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct GeneratedCatalog {
    /// `catalog.csv`: products, packagings and barcodes (flat CSV).
    pub catalog: PathBuf,
    /// `cells.csv`: storage cells with their labels.
    pub cells: PathBuf,
    /// `barcodes.txt`: every product barcode, one a line.
    pub barcodes: PathBuf,
    /// Products written.
    pub products: u64,
    /// Barcodes written.
    pub barcode_count: u64,
    /// CSV data rows written.
    pub rows: u64,
}

/// splitmix64: tiny, fast and good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const CATEGORIES: &[&str] = &[
    "Молоко",
    "Кефир",
    "Сыр",
    "Хлеб",
    "Масло сливочное",
    "Йогурт",
    "Сок",
    "Вода минеральная",
    "Чай",
    "Кофе",
    "Шоколад",
    "Печенье",
    "Макароны",
    "Рис",
    "Гречка",
    "Сахар",
    "Колбаса",
    "Пельмени",
    "Мороженое",
    "Конфеты",
    "Мука",
    "Шампунь",
    "Мыло",
    "Стиральный порошок",
    "Батарейки",
    "Носки",
    "Футболка",
    "Кроссовки",
    "Пиво",
    "Ёлочные игрушки",
];
const BRANDS: &[&str] = &[
    "Простоквашино",
    "Домик в деревне",
    "Весёлый молочник",
    "Alpen Gold",
    "Nescafe",
    "Lipton",
    "Добрый",
    "Фруктовый сад",
    "Макфа",
    "Мистраль",
    "Агуша",
    "Савушкин",
    "Global Village",
    "Первым делом",
    "Красная цена",
    "Бабаевский",
];
const ATTRS: &[&str] = &[
    "2,5%",
    "3,2%",
    "ультрапастеризованное",
    "классический",
    "без сахара",
    "с ванилью",
    "отборный",
    "премиум",
    "lite",
    "organic",
];
const SIZES: &[&str] = &["0,5 л", "1 л", "900 г", "450 г", "200 г", "1 кг", "5 кг", "12 шт", "330 мл"];

fn with_check(body: &str) -> String {
    format!("{body}{}", check_digit(body.as_bytes()) as char)
}

/// Writes `catalog.csv`, `cells.csv` and `barcodes.txt` into `dir` for `products`
/// products. Row order is by product id, as accounting systems export.
pub fn generate(dir: &Path, products: u64, seed: u64) -> Result<GeneratedCatalog> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io {
            path: path.clone(),
            source,
        }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let catalog = dir.join("catalog.csv");
    let barcodes_path = dir.join("barcodes.txt");
    let cells = dir.join("cells.csv");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&catalog).map_err(io(&catalog))?);
    let mut codes = BufWriter::with_capacity(1 << 20, std::fs::File::create(&barcodes_path).map_err(io(&barcodes_path))?);
    let mut rng = Rng(seed ^ 0x5453_445F_4341_5441);
    let (mut rows, mut barcode_count) = (0u64, 0u64);
    let mut weighed_items = 0u64;
    writeln!(
        out,
        "product_id,code,name,unit,weighted,marked,packaging_id,packaging_name,factor,barcode"
    )
    .map_err(io(&catalog))?;
    for n in 1..=products {
        let id = format!("P{n:08}");
        let code = format!("A-{:06}", rng.below(1_000_000));
        let name = format!(
            "{} {} {} {}",
            rng.pick(CATEGORIES),
            rng.pick(BRANDS),
            rng.pick(ATTRS),
            rng.pick(SIZES)
        );
        let weighted = rng.below(100) < 5 && weighed_items < 99_999;
        let marked = !weighted && rng.below(100) < 10;
        let unit = if weighted { "кг" } else { "шт" };
        let base = format!("46{}{:09}", n % 10, n % 1_000_000_000);
        let mut list: Vec<(&str, &str, &str, String)> = Vec::new();
        if weighted {
            weighed_items += 1;
            list.push(("", "", "", with_check(&format!("22{weighed_items:05}00000"))));
        } else {
            list.push(("", "", "", with_check(&base)));
            if rng.below(2) == 0 {
                list.push((
                    "",
                    "",
                    "",
                    with_check(&format!("46{}{:09}", (n + 5) % 10, (n + 500_000_000) % 1_000_000_000)),
                ));
            }
            if n < 100_000 && n % 97 == 0 {
                list.push(("", "", "", with_check(&format!("46{n:05}"))));
            }
            if n % 89 == 0 {
                list.push(("", "", "", with_check(&format!("0{:010}", n))));
            }
            let extra = rng.below(4);
            let packs: [(&str, &str, &str, char); 3] = [
                ("box", "Коробка 12 шт", "12", '1'),
                ("pack", "Упаковка 6 шт", "6", '3'),
                ("pallet", "Паллета 480 шт", "480", '5'),
            ];
            for (pid, pname, factor, indicator) in packs.iter().take(extra as usize) {
                list.push((pid, pname, factor, with_check(&format!("{indicator}{}", &base[..12]))));
            }
        }
        for (pid, pname, factor, barcode) in &list {
            writeln!(
                out,
                "{id},{code},\"{name}\",{unit},{},{},{pid},{pname},{factor},{barcode}",
                weighted as u8, marked as u8
            )
            .map_err(io(&catalog))?;
            writeln!(codes, "{barcode}").map_err(io(&barcodes_path))?;
            rows += 1;
            barcode_count += 1;
        }
    }
    out.flush().map_err(io(&catalog))?;
    codes.flush().map_err(io(&barcodes_path))?;
    let mut c = BufWriter::new(std::fs::File::create(&cells).map_err(io(&cells))?);
    writeln!(c, "cell_id,name,barcode").map_err(io(&cells))?;
    for aisle in ["A", "B", "C"] {
        for rack in 1..=10 {
            writeln!(c, "{aisle}-{rack:02},Ряд {aisle} стеллаж {rack},CELL-{aisle}-{rack:02}").map_err(io(&cells))?;
        }
    }
    c.flush().map_err(io(&cells))?;
    Ok(GeneratedCatalog {
        catalog,
        cells,
        barcodes: barcodes_path,
        products,
        barcode_count,
        rows,
    })
}

/// Writes the products of a catalog CSV in this crate's column names (as
/// [`generate`] writes it) as a CommerceML 2.08 `import.xml`, the way 1C exports a
/// catalog for a site: one `Товар` per product with its base-unit barcodes,
/// packagings as `БазоваяЕдиница/Пересчет` (CommerceML has no place for a
/// packaging's own barcode, so those are not carried). Streams: a million products
/// take no more memory than one. Returns the products written.
pub fn csv_to_commerceml(csv_path: &Path, out_path: &Path) -> Result<u64> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io {
            path: path.clone(),
            source,
        }
    };
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut reader = csv::Reader::from_path(csv_path).map_err(|e| Error::InvalidArgument(format!("{}: {e}", csv_path.display())))?;
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(out_path).map_err(io(out_path))?);
    let w = io(out_path);
    writeln!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<КоммерческаяИнформация xmlns=\"urn:1C.ru:commerceml_2\" ВерсияСхемы=\"2.08\" ДатаФормирования=\"2026-11-28T00:00:00\">\n<Каталог СодержитТолькоИзменения=\"false\">\n<Ид>generated</Ид>\n<Наименование>Основной каталог товаров</Наименование>\n<Товары>"
    )
    .map_err(&w)?;
    // One product's rows: (id, code, name, unit, weighted), barcodes, packagings.
    type Pending = ((String, String, String, String, bool), Vec<String>, Vec<(String, String)>);
    let mut pending: Option<Pending> = None;
    let mut products = 0u64;
    let flush = |p: Pending, out: &mut BufWriter<std::fs::File>| -> std::io::Result<()> {
        let ((id, code, name, unit, weighted), barcodes, packagings) = p;
        let okei = if weighted { "166" } else { "796" };
        write!(out, "<Товар><Ид>{}</Ид>", esc(&id))?;
        for b in &barcodes {
            write!(out, "<Штрихкод>{b}</Штрихкод>")?;
        }
        write!(
            out,
            "<Артикул>{}</Артикул><Наименование>{}</Наименование><БазоваяЕдиница Код=\"{okei}\">{}",
            esc(&code),
            esc(&name),
            esc(&unit)
        )?;
        // The packaging's id stands for its ОКЕИ code (a box and a pallet must differ).
        for (pack, factor) in &packagings {
            write!(
                out,
                "<Пересчет><Единица>{}</Единица><Коэффициент>{factor}</Коэффициент></Пересчет>",
                esc(pack)
            )?;
        }
        writeln!(out, "</БазоваяЕдиница></Товар>")
    };
    for record in reader.records() {
        let r = record.map_err(|e| Error::InvalidArgument(format!("{}: {e}", csv_path.display())))?;
        let get = |i: usize| r.get(i).unwrap_or("").to_string();
        let id = get(0);
        if pending.as_ref().is_none_or(|p| p.0 .0 != id) {
            if let Some(p) = pending.take() {
                flush(p, &mut out).map_err(&w)?;
            }
            products += 1;
            pending = Some(((id, get(1), get(2), get(3), get(4) == "1"), Vec::new(), Vec::new()));
        }
        let p = pending.as_mut().expect("set above");
        let (pack, barcode) = (get(6), get(9));
        if pack.is_empty() {
            if !barcode.is_empty() {
                p.1.push(barcode);
            }
        } else if !p.2.iter().any(|(k, _)| *k == pack) {
            p.2.push((pack, get(8)));
        }
    }
    if let Some(p) = pending.take() {
        flush(p, &mut out).map_err(&w)?;
    }
    writeln!(out, "</Товары>\n</Каталог>\n</КоммерческаяИнформация>").map_err(&w)?;
    out.flush().map_err(&w)?;
    Ok(products)
}
