//! The one missing-cell rule for text rows, shared by every reader on both sides: the host's
//! CSV readers (`train`, `validate`, `predict`, `parity --vectors`) and the bedside firmware's
//! comma-separated UART lines.

/// Whether a cell of text stands for a missing value: with leading and trailing whitespace
/// removed (Unicode whitespace, as [`str::trim`]), it is empty, `NA` or `NaN`, in any letter
/// case (`na`, `nan`, `NAN`, ...).
///
/// Only these spellings: a signed `-nan` or `+nan` is not a missing cell (the readers parse it,
/// or refuse it, as a number).
///
/// ```
/// use lockstep_protocol::cells::is_missing;
/// assert!(is_missing("") && is_missing("  NA ") && is_missing("nan"));
/// assert!(!is_missing("-nan") && !is_missing("0") && !is_missing("N/A"));
/// ```
pub fn is_missing(text: &str) -> bool {
    let text = text.trim();
    text.is_empty() || text.eq_ignore_ascii_case("na") || text.eq_ignore_ascii_case("nan")
}

#[cfg(test)]
mod tests {
    use super::is_missing;

    #[test]
    fn empty_na_and_nan_in_any_case_and_padding_are_missing() {
        for text in [
            "", " ", "\t", "NA", "na", "Na", "NaN", "nan", "NAN", " nan\t", "\u{a0}NA",
        ] {
            assert!(is_missing(text), "{text:?}");
        }
    }

    #[test]
    fn numbers_signed_nans_and_other_words_are_not_missing() {
        for text in [
            "0", "-0", "1e3", "-nan", "+nan", "N/A", "null", "none", "inf", "n a", "nana",
        ] {
            assert!(!is_missing(text), "{text:?}");
        }
    }
}
