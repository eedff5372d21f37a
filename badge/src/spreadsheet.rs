//! CSV cells that a spreadsheet must show as text. Lives in this crate because it is the one the
//! server and the command-line kiosk share: both write lead exports, and both must neutralise
//! cells by the same rule.

/// A cell a spreadsheet could run as a formula gets a leading apostrophe, so it is shown as text.
/// Not only its first character counts: a spreadsheet opened in a locale whose list separator is
/// `;` (Dutch, German, French), or an import that splits on tabs or line breaks, turns
/// `Ada;=cmd|' /C calc'!A0` into two cells, the second a formula. So the whole cell is
/// neutralised when any of its pieces, split at `,` `;` tab or a line break and trimmed, starts
/// with `=` `+` `-` `@`.
pub fn neutralise(cell: &str) -> String {
    const STARTS_A_FORMULA: [char; 4] = ['=', '+', '-', '@'];
    // OWASP's list also has a tab or carriage return at the very start.
    let dangerous = cell.starts_with(['\t', '\r'])
        || cell
            .split([',', ';', '\t', '\r', '\n'])
            .any(|piece| piece.trim().starts_with(STARTS_A_FORMULA));
    if dangerous {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formula_at_the_start_is_neutralised() {
        for dangerous in ["=1+1", "+31 20", "-2", "@SUM(A1)", "\tx", "\rx", " =1"] {
            assert!(neutralise(dangerous).starts_with('\''), "{dangerous:?}");
        }
        assert_eq!(neutralise("Ada"), "Ada");
        assert_eq!(neutralise(""), "");
    }

    #[test]
    fn a_formula_after_any_separator_neutralises_the_whole_cell() {
        for dangerous in [
            "Ada;=cmd|' /C calc'!A0",
            "ok;=2+2",
            "Ada, =1+1",
            "note\n@SUM(A1)",
            "a\t+1",
            "x\r\n-2",
        ] {
            assert_eq!(
                neutralise(dangerous),
                format!("'{dangerous}"),
                "{dangerous:?}"
            );
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
        }
    }
}
