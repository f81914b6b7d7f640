//! CommerceML 2 (versions 2.03–2.10): the catalog 1C:Управление торговлей, УНФ,
//! КА, ERP and most Russian shop software export for a site — `import.xml`
//! (`Классификатор`, `Каталог/Товары/Товар`) and `offers.xml` (`ПакетПредложений`,
//! in 2.08+ also `prices.xml`). Read as a stream, one product at a time, so that a
//! million products fit the import's memory bound.
//!
//! What becomes what:
//! - `Товар` → a product: `Ид` its id, `Артикул` its code, `Наименование` its name,
//!   `БазоваяЕдиница` its unit (the element's text, else `НаименованиеПолное`,
//!   else the ОКЕИ code's short name); `Штрихкод` and a `ЗначениеРеквизита` named
//!   `Штрихкод` its barcodes (several may be listed, separated by `,` or `;`);
//!   `БазоваяЕдиница/Пересчет` with a `Коэффициент` other than 1 a packaging
//!   (`unit:ОКЕИ`, that many base units). Weighed when a реквизит `Весовой` is
//!   true or the unit is the kilogram (ОКЕИ 166); marked when a реквизит
//!   `Маркируемый` is true or `ОсобенностьУчета` names a marking group. A product
//!   with `Статус="Удален"` is left out (counted in the warnings).
//! - `Группа` (nested in `Группы`) → a record of the `groups` catalog
//!   (`{"name", "parent"}`), and the product's first group → the `product_groups`
//!   catalog (`{"group"}`), so groups stay visible without a product field.
//! - `Предложение` whose `Ид` is `product#characteristic` → a product of its own
//!   (a **variant**): that id, the offer's name (1C writes «Футболка (42,
//!   красный)»), code and unit, its barcodes, and the parent's weighed/marked flags
//!   when the parent came earlier in the same exchange. Characteristics are
//!   variants, not packagings: each has its own barcode and is counted apart.
//! - `Цена` of an offer → a record of the `prices` catalog (`{"price", "currency",
//!   "type", "unit"}`, the first price type per offer), for labels.
//!
//! Errors name the element path and the line.

use super::record::ProductRow;
use super::rows::{ReadOptions, ReadSummary, Validator};
use super::text::TextReader;
use super::{FLAG_MARKED, FLAG_WEIGHTED};
use crate::error::{Error, Result};
use quick_xml::events::Event;
use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// What one CommerceML file's reading gives besides its summary: the flags of the
/// products read (for variants in the next file), and whether it had a catalog
/// and whether that (or its offers) held changes only.
type FileRead = (ReadSummary, HashMap<String, i64>, (bool, bool));

/// A product or offer being read.
#[derive(Default)]
struct Item {
    id: String,
    code: String,
    name: String,
    unit_text: String,
    unit_full: String,
    unit_code: String,
    barcodes: Vec<String>,
    /// (ОКЕИ code, factor) from `Пересчет`.
    recounts: Vec<(String, String)>,
    recount: (String, String),
    requisites: Vec<(String, String)>,
    requisite: (String, String),
    group: Option<String>,
    deleted: bool,
    price: Option<(String, String, String, String)>,
    price_acc: (String, String, String, String),
    line: u64,
}

/// Short names of the ОКЕИ units catalogs use most.
fn okei(code: &str) -> &'static str {
    match code.trim() {
        "796" => "шт",
        "166" => "кг",
        "163" => "г",
        "112" => "л",
        "111" => "мл",
        "006" => "м",
        "778" => "упак",
        "704" => "набор",
        "715" => "пар",
        "055" => "м2",
        _ => "",
    }
}

fn truthy(v: &str) -> bool {
    matches!(v.trim().to_lowercase().as_str(), "true" | "истина" | "да" | "1" | "yes")
}

impl Item {
    fn unit(&self) -> String {
        let t = self.unit_text.trim();
        if !t.is_empty() {
            return t.to_string();
        }
        if !self.unit_full.trim().is_empty() {
            return self.unit_full.trim().to_string();
        }
        okei(&self.unit_code).to_string()
    }

    fn requisite(&self, name: &str) -> Option<&str> {
        self.requisites
            .iter()
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name) || n.trim().to_lowercase() == name.to_lowercase())
            .map(|(_, v)| v.as_str())
    }

    fn flags(&self) -> i64 {
        let weighted = self.requisite("Весовой").is_some_and(truthy) || self.unit_code.trim() == "166";
        let feature = self
            .requisite("ОсобенностьУчета")
            .or_else(|| self.requisite("Особенность учета"))
            .unwrap_or("")
            .trim()
            .to_lowercase();
        let marked = self.requisite("Маркируемый").is_some_and(truthy)
            || !(feature.is_empty() || feature.starts_with("без особенност") || feature == "безособенностейучета");
        (if weighted { FLAG_WEIGHTED } else { 0 }) | (if marked { FLAG_MARKED } else { 0 })
    }

    fn all_barcodes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let listed = self.barcodes.iter().map(String::as_str).chain(self.requisite("Штрихкод"));
        for list in listed {
            for b in list.split([',', ';']).map(str::trim).filter(|b| !b.is_empty()) {
                if !out.iter().any(|x| x == b) {
                    out.push(b.to_string());
                }
            }
        }
        out
    }
}

/// What the stream reader keeps between elements.
struct State<'v, 's> {
    st: &'v mut Validator<'s>,
    path: Vec<String>,
    item: Option<Item>,
    groups: Vec<(String, String)>,
    price_types: HashMap<String, String>,
    price_type: (String, String),
    /// Flags of products read so far that have any (weighed, marked), for their
    /// variants in offers.
    flags: HashMap<String, i64>,
    text: String,
    rows: u64,
    deleted: Vec<String>,
    line: u64,
    file: String,
    /// A `Каталог` element was seen (a catalog, not offers alone).
    catalog: bool,
    /// `СодержитТолькоИзменения="true"` on the catalog or the offers.
    only_changes: bool,
}

impl State<'_, '_> {
    fn at(&self) -> String {
        self.path.join("/")
    }

    fn err(&self, reason: impl std::fmt::Display) -> Error {
        self.st.err(self.line, format!("{}: {reason}", self.at()))
    }

    fn parent(&self, n: usize) -> Option<&str> {
        self.path.len().checked_sub(n + 1).map(|i| self.path[i].as_str())
    }

    fn start(&mut self, name: &str, attrs: &[(String, String)]) {
        let parent = self.path.last().map(String::as_str);
        if matches!(name, "Каталог" | "ПакетПредложений") && parent == Some("КоммерческаяИнформация")
        {
            self.catalog |= name == "Каталог";
            self.only_changes |= attrs.iter().any(|(k, v)| k == "СодержитТолькоИзменения" && truthy(v));
        }
        match (parent, name) {
            (Some("Товары"), "Товар") | (Some("Предложения"), "Предложение") => {
                let deleted = attrs.iter().any(|(k, v)| k == "Статус" && v.to_lowercase().starts_with("удал"));
                self.item = Some(Item {
                    deleted,
                    line: self.line,
                    ..Item::default()
                });
            }
            (Some("Группы"), "Группа") => self.groups.push((String::new(), String::new())),
            (_, "БазоваяЕдиница") => {
                if let Some(item) = &mut self.item {
                    for (k, v) in attrs {
                        match k.as_str() {
                            "Код" => item.unit_code = v.trim().to_string(),
                            "НаименованиеПолное" => item.unit_full = v.clone(),
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
        self.path.push(name.to_string());
        self.text.clear();
    }

    fn end(&mut self) -> Result<()> {
        let Some(name) = self.path.last().cloned() else {
            return Ok(());
        };
        let text = std::mem::take(&mut self.text);
        let parent = self.parent(1).unwrap_or("").to_string();
        let grand = self.parent(2).unwrap_or("").to_string();
        if let Some(item) = &mut self.item {
            match (grand.as_str(), parent.as_str(), name.as_str()) {
                (_, "Товар" | "Предложение", "Ид") => item.id = text.trim().to_string(),
                (_, "Товар" | "Предложение", "Артикул") => item.code = text.trim().to_string(),
                (_, "Товар" | "Предложение", "Наименование") => item.name = text.trim().to_string(),
                (_, "Товар" | "Предложение", "Штрихкод") => item.barcodes.push(text),
                (_, "Товар" | "Предложение", "Статус") => {
                    item.deleted |= text.trim().to_lowercase().starts_with("удал")
                }
                (_, "Товар" | "Предложение", "БазоваяЕдиница") => item.unit_text = text,
                ("Товар", "Группы", "Ид") if item.group.is_none() => item.group = Some(text.trim().to_string()),
                ("БазоваяЕдиница", "Пересчет", "Единица") => item.recount.0 = text.trim().to_string(),
                ("БазоваяЕдиница", "Пересчет", "Коэффициент") => item.recount.1 = text.trim().to_string(),
                (_, "БазоваяЕдиница", "Пересчет") => item.recounts.push(std::mem::take(&mut item.recount)),
                ("ЗначенияРеквизитов" | "ХарактеристикиТовара", _, "Наименование") => {
                    item.requisite.0 = text
                }
                ("ЗначенияРеквизитов" | "ХарактеристикиТовара", _, "Значение") => {
                    item.requisite.1 = text
                }
                (_, "ЗначенияРеквизитов", "ЗначениеРеквизита") => {
                    item.requisites.push(std::mem::take(&mut item.requisite))
                }
                ("Цены", "Цена", "ЦенаЗаЕдиницу") => item.price_acc.0 = text.trim().to_string(),
                ("Цены", "Цена", "Валюта") => item.price_acc.1 = text.trim().to_string(),
                ("Цены", "Цена", "ИдТипаЦены") => item.price_acc.2 = text.trim().to_string(),
                ("Цены", "Цена", "Единица") => item.price_acc.3 = text.trim().to_string(),
                (_, "Цены", "Цена") if item.price.is_none() => item.price = Some(std::mem::take(&mut item.price_acc)),
                _ => {}
            }
        } else {
            match (parent.as_str(), name.as_str()) {
                ("Группа", "Ид") => {
                    if let Some(g) = self.groups.last_mut() {
                        g.0 = text.trim().to_string();
                    }
                }
                ("Группа", "Наименование") => {
                    if let Some(g) = self.groups.last_mut() {
                        g.1 = text.trim().to_string();
                    }
                }
                ("ТипЦены", "Ид") => self.price_type.0 = text.trim().to_string(),
                ("ТипЦены", "Наименование") => self.price_type.1 = text.trim().to_string(),
                ("ТипыЦен", "ТипЦены") => {
                    let (id, type_name) = std::mem::take(&mut self.price_type);
                    self.price_types.insert(id, type_name);
                }
                ("Группы", "Группа") => {
                    let (id, group_name) = self.groups.pop().unwrap_or_default();
                    let parent_id = self.groups.last().map(|g| g.0.clone()).unwrap_or_default();
                    if id.is_empty() {
                        return Err(self.err("a group without Ид"));
                    }
                    let mut fields = serde_json::Map::new();
                    fields.insert("name".into(), group_name.into());
                    fields.insert("parent".into(), parent_id.into());
                    self.rows += 1;
                    let line = self.line;
                    self.st.record("groups", &id, &fields, line)?;
                }
                _ => {}
            }
        }
        if matches!(
            (parent.as_str(), name.as_str()),
            ("Товары", "Товар") | ("Предложения", "Предложение")
        ) {
            if let Some(item) = self.item.take() {
                self.path.pop();
                let r = self.item(item, name == "Предложение");
                self.path.push(name);
                r?;
            }
        }
        self.path.pop();
        Ok(())
    }

    fn item(&mut self, item: Item, offer: bool) -> Result<()> {
        let line = item.line;
        self.rows += 1;
        if item.id.is_empty() {
            let what = if offer { "an offer" } else { "a product" };
            return Err(self.st.err(
                line,
                format!("{}/{}: {what} without Ид", self.at(), if offer { "Предложение" } else { "Товар" }),
            ));
        }
        if item.deleted {
            self.deleted.push(item.id);
            return Ok(());
        }
        let at = format!("{}/{} {}", self.at(), if offer { "Предложение" } else { "Товар" }, item.id);
        let named = |what: &str| format!("{at}: {what}");
        if offer {
            let Some((parent, _)) = item.id.split_once('#') else {
                // An offer of the product itself: its price only.
                return self.price(&item.id, &item, line);
            };
            let flags = self.flags.get(parent).copied().unwrap_or(0) | item.flags();
            let name = if item.name.is_empty() {
                return Err(self.st.err(line, named("a variant without Наименование")));
            } else {
                item.name.clone()
            };
            self.product(&item, name, flags, line, &at)?;
            return self.price(&item.id, &item, line);
        }
        if item.name.is_empty() {
            return Err(self.st.err(line, named("a product without Наименование")));
        }
        let flags = item.flags();
        if flags != 0 {
            self.flags.insert(item.id.clone(), flags);
        }
        self.product(&item, item.name.clone(), flags, line, &at)?;
        if let Some(group) = &item.group {
            let mut fields = serde_json::Map::new();
            fields.insert("group".into(), group.clone().into());
            self.st.record("product_groups", &item.id, &fields, line)?;
        }
        Ok(())
    }

    fn product(&mut self, item: &Item, name: String, flags: i64, line: u64, at: &str) -> Result<()> {
        let named = |what: &str| format!("{at}: {what}");
        self.st.product(
            ProductRow {
                id: item.id.clone(),
                code: item.code.clone(),
                name,
                unit: item.unit(),
                flags,
            },
            line,
        )?;
        for (unit, factor) in &item.recounts {
            let factor = factor.trim();
            if factor.is_empty() || super::rows::parse_milli(factor) == Some(1000) {
                continue;
            }
            let name = match okei(unit) {
                "" => unit.clone(),
                short => short.to_string(),
            };
            let id = format!("unit:{}", unit.trim());
            self.st
                .packaging(&item.id, &id, &name, factor, line)
                .map_err(|e| self.st.err(line, named(&reason_of(e))))?;
        }
        for b in item.all_barcodes() {
            self.st
                .file_barcode(&b, &item.id, None, false, line)
                .map_err(|e| self.st.err(line, named(&reason_of(e))))?;
        }
        Ok(())
    }

    fn price(&mut self, id: &str, item: &Item, line: u64) -> Result<()> {
        let Some((price, currency, type_id, unit)) = &item.price else {
            return Ok(());
        };
        let mut fields = serde_json::Map::new();
        fields.insert("price".into(), price.replace(',', ".").into());
        fields.insert("currency".into(), currency.clone().into());
        fields.insert(
            "type".into(),
            self.price_types.get(type_id).cloned().unwrap_or_else(|| type_id.clone()).into(),
        );
        fields.insert("unit".into(), unit.clone().into());
        self.st.record("prices", id, &fields, line)
    }
}

/// The reason of a validator error, without its file and line (the caller adds
/// the element path).
fn reason_of(e: Error) -> String {
    match e {
        Error::Import { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// The files of one exchange: `import*.xml` brings its `offers*.xml` and
/// `prices*.xml` siblings of the same suffix (`import0_1.xml` → `offers0_1.xml`),
/// as 1C writes them into one folder; any other file stands alone.
pub fn exchange_files(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_path_buf()];
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return out;
    };
    if let Some(suffix) = name.strip_prefix("import") {
        for sibling in ["offers", "prices"] {
            let p = path.with_file_name(format!("{sibling}{suffix}"));
            if p.is_file() {
                out.push(p);
            }
        }
    }
    out
}

/// Reads CommerceML `files` (in order: the catalog, then its offers) into `st`.
pub fn parse_files(
    st: &mut Validator<'_>,
    files: &[PathBuf],
    label: Option<&str>,
    options: &ReadOptions,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<ReadSummary> {
    let mut summary = ReadSummary::default();
    let mut flags = HashMap::new();
    let (mut any_catalog, mut any_only_changes) = (false, false);
    for path in files {
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let name = match label {
            Some(l) => l.to_string(),
            None => path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string(),
        };
        if label.is_none() {
            // The file as 1C named it, not the folder it was put in.
            st.set_path(Path::new(&name));
        }
        let (s, f, (catalog, only_changes)) = parse_one(st, file, &name, options, flags, progress)?;
        flags = f;
        any_catalog |= catalog;
        any_only_changes |= only_changes;
        summary.rows += s.rows;
        summary.warnings.extend(s.warnings);
        summary.encoding = summary.encoding.or(s.encoding);
        summary.deleted.extend(s.deleted);
    }
    if summary.rows == 0 && summary.deleted.is_empty() {
        return Err(st.err(1, "no Товар, Предложение or Группа in the file: not a CommerceML catalog"));
    }
    // Offers alone never stand for a whole catalog; nor does a catalog of changes.
    summary.partial = !any_catalog || any_only_changes;
    Ok(summary)
}

/// Reads one CommerceML stream; `label` names it in errors.
pub fn parse(
    st: &mut Validator<'_>,
    reader: impl Read,
    options: &ReadOptions,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<ReadSummary> {
    let (summary, _, _) = parse_one(st, reader, "", options, HashMap::new(), progress)?;
    Ok(summary)
}

fn parse_one(
    st: &mut Validator<'_>,
    reader: impl Read,
    label: &str,
    options: &ReadOptions,
    flags: HashMap<String, i64>,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<FileRead> {
    let mut text = TextReader::new(reader, options.encoding);
    let mut state = State {
        st,
        path: Vec::new(),
        item: None,
        groups: Vec::new(),
        price_types: HashMap::new(),
        price_type: Default::default(),
        flags,
        text: String::new(),
        rows: 0,
        deleted: Vec::new(),
        line: 1,
        file: label.to_string(),
        catalog: false,
        only_changes: false,
    };
    let mut saw_root = false;
    {
        let mut xml = quick_xml::Reader::from_reader(BufReader::with_capacity(1 << 16, &mut text));
        xml.config_mut().expand_empty_elements = true;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let event = match xml.read_event_into(&mut buf) {
                Ok(e) => e,
                Err(quick_xml::Error::Io(io)) => {
                    let io = std::sync::Arc::try_unwrap(io).unwrap_or_else(|a| std::io::Error::new(a.kind(), a.to_string()));
                    return Err(match super::text::text_error(&io) {
                        Some(t) => state.st.err(t.line, format!("{}: {}", state.at(), t.reason)),
                        None => state.err(io),
                    });
                }
                Err(e) => return Err(state.err(format!("not well-formed XML: {e}"))),
            };
            let lines = |s: &str| s.bytes().filter(|&b| b == b'\n').count() as u64;
            match &event {
                Event::Start(e) => {
                    let name = e.local_name().as_ref().to_string();
                    let mut attrs = Vec::new();
                    for a in e.attributes().flatten() {
                        let k = a.key.local_name().as_ref().to_string();
                        let v = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map(|v| v.into_owned())
                            .unwrap_or_default();
                        attrs.push((k, v));
                    }
                    state.line += lines(e.attributes_raw());
                    if state.path.is_empty() {
                        if name != "КоммерческаяИнформация" {
                            return Err(state.err(format!(
                                "the root element is <{name}>, not <КоммерческаяИнформация>: not a CommerceML file"
                            )));
                        }
                        saw_root = true;
                    }
                    state.start(&name, &attrs);
                }
                Event::End(_) => {
                    state.end()?;
                    if state.rows > 0 && state.rows.is_multiple_of(65536) && !progress(state.rows) {
                        return Err(Error::Cancelled);
                    }
                }
                Event::Text(t) => {
                    state.line += lines(t);
                    state.text.push_str(&t.xml10_content());
                }
                Event::CData(c) => {
                    state.line += lines(c);
                    state.text.push_str(c);
                }
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref() {
                        Ok(Some(c)) => Some(c),
                        Ok(None) => match &**r {
                            "amp" => Some('&'),
                            "lt" => Some('<'),
                            "gt" => Some('>'),
                            "quot" => Some('"'),
                            "apos" => Some('\''),
                            _ => None,
                        },
                        Err(_) => None,
                    };
                    match resolved {
                        Some(c) => state.text.push(c),
                        None => return Err(state.err(format!("unknown entity &{};", &**r))),
                    }
                }
                Event::Comment(t) | Event::DocType(t) => state.line += lines(t),
                Event::Eof => break,
                _ => {}
            }
        }
    }
    if !saw_root {
        return Err(state.err("no <КоммерческаяИнформация> element: not a CommerceML file"));
    }
    if !state.path.is_empty() {
        return Err(state.err("the file ends inside this element (cut short?)"));
    }
    let mut warnings = Vec::new();
    if !state.deleted.is_empty() {
        warnings.push(format!(
            "{}: {} product(s) marked Удален were left out",
            state.file,
            state.deleted.len()
        ));
    }
    let summary = ReadSummary {
        rows: state.rows,
        warnings,
        encoding: text.encoding(),
        partial: state.only_changes || !state.catalog,
        deleted: state.deleted,
    };
    Ok((summary, state.flags, (state.catalog, state.only_changes)))
}
