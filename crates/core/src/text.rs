//! Text from a store or a client, made safe to print.
//!
//! A key's name, id, owner or metadata may hold characters that do not show
//! as themselves: control characters (C0 and C1, which drive a terminal:
//! `ESC ] 52` writes its clipboard), format characters (bidi overrides
//! such as U+202E that reorder what follows, zero-width ones that hide
//! text) and the line and paragraph separators. [`printable`] shows each
//! of them as an escape, `\u{202e}`, and leaves everything else as it is.
//!
//! ```
//! use api_key_auth::text::printable;
//!
//! assert_eq!(printable("billing"), "billing");
//! assert_eq!(printable("evil\u{202e}gnp.exe"), "evil\\u{202e}gnp.exe");
//! assert_eq!(printable("\u{1b}]52;c;aGk=\u{7}"), "\\u{1b}]52;c;aGk=\\u{7}");
//! ```

use std::{borrow::Cow, fmt::Write as _};

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};

/// Whether `c` does not show as itself, and so can hide text.
///
/// That is a control character (`Cc`: C0, DEL and C1), a format character
/// (`Cf`: bidi controls, zero-width joiners and spaces, the soft hyphen,
/// tags), a line or paragraph separator, or one of the letters and marks
/// that are drawn as nothing (the Hangul fillers, the combining grapheme
/// joiner, variation selectors).
pub fn is_unprintable(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    matches!(
        c,
        '\u{34f}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{ffa0}'
            | '\u{e0100}'..='\u{e01ef}'
    ) || matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// `text` with every [unprintable](is_unprintable) character shown as a
/// `\u{…}` escape, and each backslash doubled, so that no text can pass
/// for an escape; borrowed when there is neither.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || is_unprintable(c)) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\\' {
            shown.push_str("\\\\");
        } else if is_unprintable(c) {
            let _ = write!(shown, "\\u{{{:x}}}", u32::from(c));
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// JSON text (as `serde_json` writes it) with every unprintable character in
/// its strings written as a `\uXXXX` escape: the same JSON value, safe for a
/// terminal.
///
/// `serde_json` escapes C0 only; C1 and format characters it writes as they
/// are. Outside strings JSON holds only ASCII, so every such character is
/// inside one.
pub fn json_printable(json: &str) -> Cow<'_, str> {
    if !json.chars().any(is_unprintable) {
        return Cow::Borrowed(json);
    }
    let mut shown = String::with_capacity(json.len() + 12);
    for c in json.chars() {
        if is_unprintable(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(shown, "\\u{unit:04x}");
            }
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// The first [unprintable](is_unprintable) character of `text`, if any.
pub fn first_unprintable(text: &str) -> Option<char> {
    text.chars().find(|c| is_unprintable(*c))
}

/// A scope as RFC 6750 allows it: printable ASCII but for space, `"` and `\`.
#[doc(hidden)]
pub fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_formats_and_separators_are_escaped_and_the_rest_kept() {
        for (text, shown) in [
            ("plain", "plain"),
            ("café ☕ 日本", "café ☕ 日本"),
            ("a\u{1b}[31mred", "a\\u{1b}[31mred"),
            ("c1\u{9b}31m", "c1\\u{9b}31m"),
            ("rtl\u{202e}txt", "rtl\\u{202e}txt"),
            ("zero\u{200b}width", "zero\\u{200b}width"),
            ("tag\u{e0041}", "tag\\u{e0041}"),
            ("line\u{2028}sep", "line\\u{2028}sep"),
            ("del\u{7f}", "del\\u{7f}"),
            ("hangul\u{3164}filler", "hangul\\u{3164}filler"),
            ("selector\u{fe0f}", "selector\\u{fe0f}"),
        ] {
            assert_eq!(printable(text), shown, "{text:?}");
        }
        // A combining accent shows, with the letter before it.
        assert_eq!(printable("e\u{301}"), "e\u{301}");
        // A name that spells an escape does not pass for one.
        assert_eq!(printable(r"a\u{202e}b"), r"a\\u{202e}b");
    }

    #[test]
    fn json_keeps_its_value_and_loses_its_unprintables() {
        let value = serde_json::json!({"name": "a\u{9b}b\u{202e}c\u{e0001}", "n": 1});
        let text = serde_json::to_string(&value).unwrap();
        let shown = json_printable(&text);
        assert!(!shown.chars().any(is_unprintable), "{shown}");
        assert!(
            shown.contains(r"\u009b") && shown.contains(r"\u202e"),
            "{shown}"
        );
        assert!(shown.contains(r"\udb40\udc01"), "{shown}");
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back, value);
    }
}
