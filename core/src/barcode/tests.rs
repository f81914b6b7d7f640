//! Parser tests across forms, plus property tests: no input panics.

use super::*;
use proptest::prelude::*;

fn defaults() -> Vec<WeightTemplate> {
    vec![WeightTemplate::default_weight()]
}

fn p(raw: &str) -> Parsed {
    parse(raw, &defaults()).unwrap_or_else(|e| panic!("{raw:?}: {e}"))
}

fn with_check(body: &str) -> String {
    format!("{body}{}", check_digit(body.as_bytes()) as char)
}

#[test]
fn one_product_whatever_form_is_scanned() {
    let g = "04601234567893";
    for raw in [
        "4601234567893",
        "]E04601234567893",
        "04601234567893",
        "]C10104601234567893",
        "(01)04601234567893",
        "]d2\u{1D}0104601234567893\u{1D}",
    ] {
        assert_eq!(p(raw).gtin.unwrap().as_str(), g, "{raw:?}");
    }
    assert_eq!(p("4601234567893").kind, Kind::Ean13);
    assert_eq!(p("04601234567893").kind, Kind::Itf14);
    assert_eq!(p("]C10104601234567893").kind, Kind::Gs1);
}

#[test]
fn short_forms() {
    let ean8 = p("46009333");
    assert_eq!((ean8.kind, ean8.gtin.unwrap().as_str()), (Kind::Ean8, "00000046009333"));
    let upca = p("036000291452");
    assert_eq!((upca.kind, upca.gtin.unwrap().as_str()), (Kind::UpcA, "00036000291452"));
    // 04252614 is a valid UPC-E but not a valid EAN-8.
    let upce = p("04252614");
    assert_eq!((upce.kind, upce.gtin.unwrap().as_str()), (Kind::UpcE, "00042100005264"));
    assert_eq!(parse("46009334", &defaults()).unwrap_err().code, ErrorCode::BadCheckDigit);
}

#[test]
fn gs1_attributes() {
    let x = p("]C10104601234567893\u{1D}10LOT-7\u{1D}17261200\u{1D}3103001250\u{1D}3012");
    assert_eq!(x.batch(), Some("LOT-7"));
    assert_eq!(x.expiry(), Some("261200"));
    assert_eq!(x.weight_grams(), Some(1250));
    assert_eq!(x.count(), Some(12));
    let lb = p("(01)04601234567893(3202)000100");
    assert_eq!(lb.weight_grams(), Some(454));
    let sscc = p(&format!("]C100{}", with_check("14601234500000001")));
    assert_eq!(sscc.kind, Kind::Gs1);
    assert!(sscc.gtin.is_none());
    let e = parse("]C10104601234567893\u{1D}17261332", &defaults()).unwrap_err();
    assert_eq!(e.code, ErrorCode::BadDate);
    assert_eq!(parse("]C1", &defaults()).unwrap_err().code, ErrorCode::Empty);
}

#[test]
fn marking_codes() {
    let crypto = "MEUCIQDa1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwXyZ+/=";
    let full = format!("]d20104601234567893215Ab7Xz9Qw2Lk9\u{1D}91EE06\u{1D}92{}", &crypto[..44]);
    let m = p(&full);
    assert_eq!(m.kind, Kind::Marking);
    assert_eq!(m.serial(), Some("5Ab7Xz9Qw2Lk9"));
    let mc = m.marking.as_ref().unwrap();
    assert_eq!(mc.identity(), "046012345678935Ab7Xz9Qw2Lk9");
    assert_eq!(mc.form(), MarkingForm::Full);
    let short = p("]d2010460123456789321aB3cD9\u{1D}93Ab1z");
    assert_eq!(short.marking.unwrap().form(), MarkingForm::Short);
    let block = p("0104601234567893211234567\u{1D}8005012345\u{1D}93Ab1z");
    assert_eq!(block.marking.unwrap().form(), MarkingForm::Block);
    let pack = format!("{}-AbC1dEFGhJkLmN", with_check("0460620308462"));
    let t = p(&pack);
    assert_eq!((t.kind, t.marking.unwrap().form()), (Kind::Marking, MarkingForm::TobaccoPack));
    // GS dropped by the scanner: recovered by the known lengths.
    let dropped = format!("0104601234567893215Ab7Xz9Qw2Lk991EE0692{}", &crypto[..44]);
    assert_eq!(p(&dropped).serial(), Some("5Ab7Xz9Qw2Lk9"));
}

/// Marking codes by product group (issue 12 §4): the shape names the groups, the
/// identity is GTIN + serial whichever form was scanned, a cut or mistyped crypto
/// part is refused naming the part, and an SSCC is read as an aggregation code.
#[test]
fn marking_codes_by_group() {
    // A shoe code as develop-1c.ru's "Из чего состоит код маркировки" prints it
    // (88-character crypto signature).
    let sig = "sOe6fy7lPT8lLffZ5WdQ7Rp8P>XLDwEGD1Wv4oY71o4&FVGTngrd45/<7&*(fglnxdszcyACRLvw;46-fjadfLGV";
    let shoes = p(&format!("]d2010469025752852321G+mgsHw<DiLN_\u{1D}91EE05\u{1D}92{sig}"));
    let m = shoes.marking.as_ref().unwrap();
    assert_eq!((shoes.kind, m.form()), (Kind::Marking, MarkingForm::Full));
    assert!(m.groups().iter().any(|g| g.key == "shoes"));
    assert!(m.groups().iter().all(|g| g.tail == Tail::KeyAndSignature));
    // The same unit by its код идентификации (no crypto tail), and with the GS dropped.
    let id = p("]d2010469025752852321G+mgsHw<DiLN_");
    assert_eq!(id.marking.as_ref().unwrap().form(), MarkingForm::Identity);
    assert_eq!(id.marking.as_ref().unwrap().identity(), m.identity());
    let dropped = p(&format!("010469025752852321G+mgsHw<DiLN_91EE0592{sig}"));
    assert_eq!(dropped.marking.unwrap().identity(), m.identity());
    // Dairy: 6-character serial and a 4-character crypto code; water: 13 and 4.
    let dairy = p("]d2010460123456789321aB3cD9\u{1D}93Ab1z");
    let keys = |p: &Parsed| p.marking.as_ref().unwrap().groups().iter().map(|g| g.key).collect::<Vec<_>>();
    assert_eq!(keys(&dairy), ["dairy"]);
    let water = keys(&p("]d201046012345678932100000QwErTy12\u{1D}93Zz9+"));
    assert!(water.contains(&"water") && !water.contains(&"dairy"), "{water:?}");
    let block = p("]d20104601234567893211234567\u{1D}8005012345\u{1D}93Ab1z");
    assert_eq!(keys(&block), ["tobacco_block"]);
    // Cut short or mistyped: the part is named.
    for (raw, part) in [
        (
            format!("]d2010469025752852321G+mgsHw<DiLN_\u{1D}91EE05\u{1D}92{}", &sig[..30]),
            "AI 92",
        ),
        ("]d2010469025752852321G+mgsHw<DiLN_\u{1D}91EE05".to_string(), "AI 92"),
        ("]d2010469025752852321G+mgsHw<DiLN_\u{1D}91EE0\u{1D}92x".to_string(), "AI 91"),
        ("]d2010460123456789321aB3cD9\u{1D}93Ab1".to_string(), "AI 93"),
        ("]d20104601234567893211234567\u{1D}8005012345".to_string(), "AI 93"),
    ] {
        let e = parse(&raw, &defaults()).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadMarkingCode, "{raw:?}");
        assert!(e.message.contains(part), "{raw:?}: {}", e.message);
        assert!(!e.message.contains("G+mgsHw"), "the serial never shows in an error");
    }
    // An ordinary serialised GS1 code is not a marking code.
    let plain = p("]C10104601234567893\u{1D}21X1\u{1D}10LOT");
    assert_eq!((plain.kind, plain.serial()), (Kind::Gs1, Some("X1")));
    // A pallet or box: the SSCC is an aggregation code.
    let sscc = p("]C100046012345000000012");
    assert_eq!((sscc.kind, sscc.aggregation()), (Kind::Gs1, Some("sscc")));
    assert_eq!(dairy.aggregation(), None);
}

#[test]
fn weight_barcodes() {
    let raw = with_check("220012301250");
    let w = p(&raw);
    assert_eq!(w.kind, Kind::Weight);
    assert_eq!(w.weight_grams(), Some(1250));
    assert_eq!(w.gtin.unwrap().as_str(), format!("0{}", with_check("220012300000")));
    // Without templates the same code is a plain in-store EAN-13.
    assert_eq!(parse(&raw, &[]).unwrap().kind, Kind::Ean13);
    let price = WeightTemplate::new(vec!["21".into()], 5, 5, Measure::Price, 1).unwrap();
    let pr = parse(&with_check("210012304999"), &[price]).unwrap();
    assert_eq!(pr.weight.unwrap().price, Some(4999));
}

#[test]
fn unknown_is_not_an_error() {
    let u = p("]C0CELL-A-01-02");
    assert_eq!((u.kind, u.text.as_str()), (Kind::Unknown, "CELL-A-01-02"));
    assert_eq!(p("12345").kind, Kind::Unknown);
    assert_eq!(parse("", &defaults()).unwrap_err().code, ErrorCode::Empty);
    assert_eq!(parse("\r\n", &defaults()).unwrap_err().code, ErrorCode::Empty);
}

/// Codes the scanner did not label, read in order of likelihood (issue 12 §3): the
/// linear code first, then a whole element string that names goods or a pallet,
/// then an opaque code; a symbology identifier's content must fit it.
#[test]
fn unlabelled_codes_are_read_in_order_of_likelihood() {
    // An SSCC pallet label with no symbology identifier.
    let sscc = parse("00373400306809981733", &defaults()).unwrap();
    assert_eq!((sscc.kind, sscc.ai("00")), (Kind::Gs1, Some("373400306809981733")));
    // A GS1-128 label whose FNC1 the scanner dropped: fixed-length AIs first,
    // the variable batch greedily to the end.
    let lot = parse("010460043993125610LOT1217261231", &defaults()).unwrap();
    assert_eq!(lot.kind, Kind::Gs1);
    assert_eq!(lot.gtin.unwrap().as_str(), "04600439931256");
    assert_eq!(lot.batch(), Some("LOT1217261231"));
    // 8 digits starting with 0: UPC-E first (GS1-8 prefix 0 is restricted circulation).
    for code in ["01234565", "04124498"] {
        let p = parse(code, &defaults()).unwrap();
        assert_eq!(p.kind, Kind::UpcE, "{code}");
        assert_eq!(p.gtin, Some(Gtin14::from_upce(code).unwrap()), "{code}");
    }
    // Under ]E4 the same digits are EAN-8, as the scanner said.
    let ean8 = parse("]E404124498", &defaults());
    assert!(ean8.is_err() || ean8.unwrap().kind == Kind::Ean8);
    let ean8 = parse("]E446009333", &defaults()).unwrap();
    assert_eq!(ean8.kind, Kind::Ean8);
    // Warehouse labels stay opaque codes, looked up as text.
    for code in ["INT-77", "10ABC", "0012345", "A-01-02"] {
        assert_eq!(parse(code, &defaults()).unwrap().kind, Kind::Unknown, "{code}");
    }
    // A symbology identifier names what the content must be.
    let e = parse("]E0123456789012", &defaults()).unwrap_err();
    assert_eq!(e.code, ErrorCode::BadLength);
    assert!(e.message.contains("]E0"), "{}", e.message);
    assert_eq!(parse("]E01234ABC890123", &defaults()).unwrap_err().code, ErrorCode::BadCharacter);
    let e = parse("]E41234567", &defaults()).unwrap_err();
    assert!(e.code == ErrorCode::BadLength && e.message.contains("]E4"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_any_string(s in "\\PC*") {
        let _ = parse(&s, &defaults());
    }

    #[test]
    fn never_panics_on_gs1_like_input(s in "(\\]d2|\\]C1|\\(|)[0-9A-Za-z\u{1D}()\\-]{0,120}") {
        let _ = parse(&s, &defaults());
    }

    #[test]
    fn valid_ean13_round_trips(body in "[1-9][0-9]{11}") {
        let code = with_check(&body);
        let parsed = parse(&code, &[]).unwrap();
        let g = parsed.gtin.unwrap();
        prop_assert_eq!(g.short(), code.as_str());
    }

    #[test]
    fn one_wrong_digit_is_caught(body in "46[0-9]{10}", pos in 0usize..13, delta in 1u8..10) {
        let code = with_check(&body);
        let mut b = code.into_bytes();
        b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
        let bad = String::from_utf8(b).unwrap();
        prop_assert_eq!(parse(&bad, &[]).unwrap_err().code, ErrorCode::BadCheckDigit);
    }
}
