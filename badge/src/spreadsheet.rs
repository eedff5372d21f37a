//! CSV cells that a spreadsheet must show as text. Lives in this crate because it is the one the
//! server and the command-line kiosk share: both write lead exports, and both must neutralise
//! cells by the same rule.

/// What a spreadsheet runs as a formula when a cell starts with it.
const STARTS_A_FORMULA: [char; 4] = ['=', '+', '-', '@'];

/// Where a spreadsheet may split one CSV cell into several: the list separators of other locales
/// (`;` in Dutch, German, French), tab and line breaks (an import that ignores quoting).
const SPLITS_A_CELL: [char; 5] = [',', ';', '\t', '\r', '\n'];

/// A cell a spreadsheet could run as a formula is made text: an apostrophe goes before every piece
/// of it that, split at `,` `;` tab or a line break and with leading spaces skipped, starts with
/// `=` `+` `-` `@`. Not only the first: a spreadsheet opened in a locale whose list separator is
/// `;` turns `Ada;=cmd|' /C calc'!A0` into two cells, and the second must be text too. A cell that
/// starts with a tab or carriage return also gets one (OWASP's list).
pub fn neutralise(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len() + 1);
    if cell.starts_with(['\t', '\r']) {
        out.push('\'');
    }
    let mut at_piece_start = true;
    for c in cell.chars() {
        if SPLITS_A_CELL.contains(&c) {
            at_piece_start = true;
        } else if at_piece_start && STARTS_A_FORMULA.contains(&c) {
            out.push('\'');
            at_piece_start = false;
        } else if !c.is_whitespace() {
            at_piece_start = false;
        }
        out.push(c);
    }
    out
}

/// Whether any piece of `cell` a spreadsheet could split off starts a formula.
pub fn starts_a_formula(cell: &str) -> bool {
    cell.split(SPLITS_A_CELL)
        .any(|piece| piece.trim_start().starts_with(STARTS_A_FORMULA))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formula_at_the_start_is_neutralised() {
        for (dangerous, safe) in [
            ("=1+1", "'=1+1"),
            ("+31 20", "'+31 20"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            (" =1", " '=1"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
        ] {
            assert_eq!(neutralise(dangerous), safe, "{dangerous:?}");
        }
        assert_eq!(neutralise("Ada"), "Ada");
        assert_eq!(neutralise(""), "");
    }

    #[test]
    fn every_piece_a_spreadsheet_could_split_off_is_text() {
        for (dangerous, safe) in [
            ("Ada;=cmd|' /C calc'!A0", "Ada;'=cmd|' /C calc'!A0"),
            ("ok;=2+2", "ok;'=2+2"),
            ("Ada, =1+1", "Ada, '=1+1"),
            ("note\n@SUM(A1)", "note\n'@SUM(A1)"),
            ("a\t+1", "a\t'+1"),
            ("=a;-b", "'=a;'-b"),
        ] {
            assert_eq!(neutralise(dangerous), safe, "{dangerous:?}");
            assert!(starts_a_formula(dangerous));
            assert!(!starts_a_formula(&neutralise(dangerous)), "{dangerous:?}");
        }
    }

    #[test]
    fn ordinary_text_with_separators_is_left_alone() {
        for fine in [
            "Lovelace, Ada",
            "hot;demo",
            "Smith-Jones",
            "a@b.example",
            "3 + 4",
        ] {
            assert_eq!(neutralise(fine), fine);
            assert!(!starts_a_formula(fine));
        }
    }
}
