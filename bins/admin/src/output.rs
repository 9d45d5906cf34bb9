//! Writing results: plain text tables for people, JSON documents for `--json`, and the
//! small formatting helpers both need.

use crate::error::Result;
use serde_json::Value;
use std::io::Write as _;

/// Writes `text` and a newline to stdout.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Writes a JSON document on one line.
pub fn print_json(value: &Value) -> Result<()> {
    print(&value.to_string())
}

/// A text cell from a JSON value: strings as is, numbers and booleans printed, absent
/// and `null` as `-`.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) if s.is_empty() => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "yes".to_owned(),
        Some(Value::Bool(false)) => "no".to_owned(),
        Some(other) => other.to_string(),
    }
}

/// `cell(value.get(key))`.
pub fn field(value: &Value, key: &str) -> String {
    cell(value.get(key))
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = width.saturating_sub(cell.chars().count());
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `key  value` lines with the keys padded to one width.
pub fn facts(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("  {k:<width$}  {v}\n"))
        .collect()
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A JSON millisecond timestamp as [`utc`], or `-`.
pub fn time_cell(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_i64)
        .map(utc)
        .unwrap_or_else(|| "-".to_owned())
}

/// Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(0),
        u32::try_from(day).unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align() {
        let t = table(
            &["TOKEN", "STATE"],
            &[
                vec!["abc".into(), "updated".into()],
                vec!["abcdefgh".into(), "-".into()],
            ],
        );
        assert_eq!(t, "TOKEN     STATE\nabc       updated\nabcdefgh  -\n");
        assert_eq!(
            facts(&[("a", "1".into()), ("bcd", "2".into())]),
            "  a    1\n  bcd  2\n"
        );
    }

    #[test]
    fn cells() {
        let v = json!({"s": "x", "e": "", "n": 3, "b": true, "z": null});
        assert_eq!(field(&v, "s"), "x");
        assert_eq!(field(&v, "e"), "-");
        assert_eq!(field(&v, "n"), "3");
        assert_eq!(field(&v, "b"), "yes");
        assert_eq!(field(&v, "z"), "-");
        assert_eq!(field(&v, "missing"), "-");
    }

    #[test]
    fn times() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_764_859_872_000), "2025-12-04 14:51:12 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(-1000), "1969-12-31 23:59:59 UTC");
        assert_eq!(time_cell(Some(&json!(null))), "-");
    }
}
