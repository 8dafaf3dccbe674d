//! The text rules of the core as regular-expression classes: what the
//! admin API's OpenAPI document can say of them, built here so that a test
//! holds the document's patterns to the rules themselves.

use api_key_auth_core::text::is_unprintable;

/// The characters of the Basic Multilingual Plane that
/// [`is_unprintable`](api_key_auth_core::text::is_unprintable) holds, as a regular-expression class body
/// (`\u0000-\u001f\u007f-…`): what a JSON Schema `pattern` can say of the
/// rule, for the documents that describe it (the admin API's tests hold its
/// patterns to it).
pub(crate) fn unprintable_class() -> String {
    class_of(is_unprintable)
}

/// The white space of the Basic Multilingual Plane that is not
/// [unprintable](api_key_auth_core::text::is_unprintable) (the space, the no-break spaces, …), as a
/// class body: what a name may not start or end with.
pub(crate) fn printable_space_class() -> String {
    class_of(|c| c.is_whitespace() && !is_unprintable(c))
}

fn class_of(holds: impl Fn(char) -> bool) -> String {
    let mut class = String::new();
    let mut run: Option<(u32, u32)> = None;
    let flush = |run: (u32, u32), class: &mut String| {
        let escape = |n: u32| {
            if n == 0x20 {
                " ".to_owned()
            } else {
                format!("\\u{n:04x}")
            }
        };
        class.push_str(&escape(run.0));
        if run.1 == run.0 + 1 {
            class.push_str(&escape(run.1));
        } else if run.1 > run.0 {
            class.push('-');
            class.push_str(&escape(run.1));
        }
    };
    for n in 0..=0xffff_u32 {
        let held = char::from_u32(n).is_some_and(&holds);
        match (held, run) {
            (true, Some((start, end))) if end + 1 == n => run = Some((start, n)),
            (true, _) => {
                if let Some(done) = run {
                    flush(done, &mut class);
                }
                run = Some((n, n));
            }
            (false, _) => {}
        }
    }
    if let Some(done) = run {
        flush(done, &mut class);
    }
    class
}
