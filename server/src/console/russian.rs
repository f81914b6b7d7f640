//! The errors the console shows, in the admin's language. The core and the
//! server word their errors in English for logs, commands and the HTTP API; the
//! console says the same in Russian: the frame (file, line, what was left as it
//! was) always, and the reasons a file most often has. A reason not known here
//! is shown as the core gave it, after the Russian frame.

use crate::error::Error;

/// `e` as the console's pages show it.
pub fn error(e: &Error) -> String {
    match e {
        Error::Core(core) => core_error(core),
        other => other.to_string(),
    }
}

fn core_error(e: &tsd_core::Error) -> String {
    use tsd_core::Error as E;
    match e {
        E::Import { line, reason, .. } => {
            format!("строка {line}: {}; ничего не опубликовано", reason_ru(reason))
        }
        E::Io { path, source } => format!("{}: ошибка чтения или записи: {source}", path.display()),
        E::Config(why) => format!("настройки не приняты: {why}"),
        E::InvalidArgument(why) => format!("неверные данные: {}", reason_ru(why)),
        E::UnknownDocumentType(t) => format!("неизвестный тип документа {t:?}"),
        E::Cancelled => "отменено; ничего не изменено".into(),
        other => other.to_string(),
    }
}

/// A reason of the core's catalog and task readers, in Russian when known.
fn reason_ru(reason: &str) -> String {
    const EXACT: &[(&str, &str)] = &[
        ("product id is empty", "пустой код товара"),
        ("packaging id is empty", "пустой код упаковки"),
        ("cell id is empty", "пустой код ячейки"),
        ("empty barcode", "пустой штрихкод"),
        ("a deletion needs an id", "для удаления нужен код"),
        ("a record needs catalog and id", "у записи справочника нужны справочник и код"),
        (
            "bytes that are not UTF-8 text (name the encoding with --encoding)",
            "текст не в UTF-8: выберите кодировку файла (Windows-1251, UTF-16)",
        ),
        (
            "weighted must be 0/1, true/false or да/нет",
            "«весовой»: 0/1, true/false или да/нет",
        ),
        (
            "marked must be 0/1, true/false or да/нет",
            "«маркируемый»: 0/1, true/false или да/нет",
        ),
    ];
    if let Some((_, ru)) = EXACT.iter().find(|(en, _)| *en == reason) {
        return (*ru).to_string();
    }
    let pattern = |prefix: &str, suffix: &str| reason.strip_prefix(prefix).and_then(|r| r.strip_suffix(suffix)).map(str::to_string);
    if let Some(id) = pattern("product ", " has no name") {
        return format!("у товара {id} нет наименования");
    }
    if let Some(id) = pattern("packaging ", ": factor must be positive") {
        return format!("упаковка {id}: коэффициент должен быть больше нуля");
    }
    if let Some(rest) = reason.strip_prefix("bad JSON: ") {
        return format!("ошибка в JSON: {rest}");
    }
    if let Some(rest) = reason.strip_prefix("barcode ") {
        return format!("штрихкод {rest}");
    }
    reason.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn import(reason: &str) -> Error {
        Error::Core(tsd_core::Error::Import {
            path: PathBuf::from("каталог.csv"),
            line: 7,
            reason: reason.into(),
        })
    }

    #[test]
    fn a_bad_row_is_told_in_russian_with_its_line() {
        assert_eq!(
            error(&import("product P9 has no name")),
            "строка 7: у товара P9 нет наименования; ничего не опубликовано"
        );
        assert_eq!(
            error(&import("product id is empty")),
            "строка 7: пустой код товара; ничего не опубликовано"
        );
        assert_eq!(
            error(&import("packaging BOX: factor must be positive")),
            "строка 7: упаковка BOX: коэффициент должен быть больше нуля; ничего не опубликовано"
        );
        // Not known here: the core's words inside the Russian frame.
        assert_eq!(error(&import("something new")), "строка 7: something new; ничего не опубликовано");
    }

    #[test]
    fn what_the_console_does_not_word_passes_through() {
        assert_eq!(error(&Error::BadRequest("x".into())), Error::BadRequest("x".into()).to_string());
    }
}
