//! Reader of Java `.properties` text (the syntax of the legacy `server.properties`).
//!
//! Supported: `#` and `!` comment lines, `key=value`, `key:value` and `key value`
//! separators, whitespace around separators, backslash line continuation, and the
//! escapes `\t \n \r \f \\ \= \: \# \! \<space>` and `\uXXXX`. Later duplicates win.

/// One `key = value` pair with the 1-based line it started on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The key, unescaped.
    pub key: String,
    /// The value, unescaped.
    pub value: String,
    /// Line number (1-based) where the entry starts.
    pub line: usize,
}

/// Parses properties text into its entries, in file order (duplicates kept).
///
/// Never fails: a malformed escape is kept literally, as Java does for unknown escapes.
pub fn parse(text: &str) -> Vec<Property> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((index, raw)) = lines.next() {
        let first = raw.trim_start_matches([' ', '\t', '\x0c']);
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        // Join continuation lines (an odd number of trailing backslashes).
        let mut logical = String::from(first);
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start_matches([' ', '\t', '\x0c'])),
                None => break,
            }
        }
        let (key, value) = split_entry(&logical);
        out.push(Property {
            key: unescape(key),
            value: unescape(value),
            line: index + 1,
        });
    }
    out
}

fn ends_with_continuation(line: &str) -> bool {
    line.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// Splits a logical line at the first unescaped separator (`=`, `:` or whitespace).
fn split_entry(line: &str) -> (&str, &str) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'=' | b':' | b' ' | b'\t' | b'\x0c' => break,
            _ => i += 1,
        }
    }
    let key_end = i.min(bytes.len());
    let key = &line[..key_end];
    let mut rest = line[key_end..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(stripped) = rest.strip_prefix(['=', ':']) {
        rest = stripped.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32)
                {
                    Some(decoded) => {
                        out.push(decoded);
                        for _ in 0..4 {
                            chars.next();
                        }
                    }
                    None => out.push('u'),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).into_iter().map(|p| (p.key, p.value)).collect()
    }

    #[test]
    fn separators_and_comments() {
        let text = "# comment\n! also\n\na=1\nb : 2\nc 3\n  d=\ne=x=y\n";
        assert_eq!(
            pairs(text),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c".into(), "3".into()),
                ("d".into(), "".into()),
                ("e".into(), "x=y".into()),
            ]
        );
    }

    #[test]
    fn continuation_and_escapes() {
        let text =
            "list=a,\\\n    b,\\\n    c\nkey\\ with\\=eq=v\\tx\\u0041\nback=end\\\\\nnext=1\n";
        assert_eq!(
            pairs(text),
            vec![
                ("list".into(), "a,b,c".into()),
                ("key with=eq".into(), "v\txA".into()),
                ("back".into(), "end\\".into()),
                ("next".into(), "1".into()),
            ]
        );
    }

    #[test]
    fn line_numbers() {
        let props = parse("\n# x\nhttp.port=1\n\nhttps.port = 2\n");
        assert_eq!(props[0].line, 3);
        assert_eq!(props[1].line, 5);
    }

    #[test]
    fn bad_unicode_escape_is_kept() {
        assert_eq!(pairs("a=\\uZZ"), vec![("a".into(), "uZZ".into())]);
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC*") {
            let _ = parse(&text);
        }

        #[test]
        fn simple_pairs_round_trip(key in "[a-z][a-z0-9.]{0,20}", value in "[A-Za-z0-9.,/_-]{0,30}") {
            let text = format!("{key}={value}\n");
            prop_assert_eq!(pairs(&text), vec![(key, value)]);
        }
    }
}
