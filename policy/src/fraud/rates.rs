//! The rate table the spend rules price calls with (#15): what a minute to a destination
//! costs, as the administrator uploads it (CSV, `prefix,per_minute`, the longest prefix
//! wins). Amounts are kept in millionths of the currency unit, so sums are exact integers;
//! the table does not know the currency, the limits are in the same one.

use std::collections::HashMap;

/// Most rows a table may have.
pub const MAX_RATES: usize = 100_000;
/// Highest price per minute (in currency units) a row may give.
pub const MAX_PER_MINUTE: u64 = 1000;
/// Millionths per currency unit.
pub const MICROS: u64 = 1_000_000;

/// Why a rate table was refused: the first bad line, by number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct RatesError {
    pub line: usize,
    pub reason: String,
}

/// Prices per minute by E.164 prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateTable {
    by_prefix: HashMap<String, u64>,
    longest: usize,
}

/// `12.3456` as millionths; `None` unless it is a plain decimal with at most 6 places.
fn micros(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty()
        || whole.len() > 6
        || fraction.len() > 6
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut fraction_micros: u64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    for _ in fraction.len()..6 {
        fraction_micros *= 10;
    }
    whole.checked_mul(MICROS)?.checked_add(fraction_micros)
}

impl RateTable {
    /// Reads `prefix,per_minute` lines: an optional header line, `#` comments and blank
    /// lines are skipped; a prefix is 1 to 15 digits (a leading `+` is allowed), a price a
    /// decimal from 0 to [`MAX_PER_MINUTE`] with at most 6 places. A prefix listed twice,
    /// or anything else, refuses the whole table.
    pub fn parse(csv: &str) -> Result<Self, RatesError> {
        let mut table = Self::default();
        for (i, raw) in csv.lines().enumerate() {
            let line = i + 1;
            let text = raw.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| RatesError {
                line,
                reason: reason.to_owned(),
            };
            let Some((prefix, price)) = text.split_once(',') else {
                return Err(bad("is not `prefix,per_minute`"));
            };
            let (prefix, price) = (prefix.trim(), price.trim());
            if table.by_prefix.is_empty() && prefix.eq_ignore_ascii_case("prefix") {
                continue;
            }
            let digits = prefix.strip_prefix('+').unwrap_or(prefix);
            if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad("the prefix must be 1 to 15 digits"));
            }
            let per_minute = micros(price)
                .filter(|m| *m <= MAX_PER_MINUTE * MICROS)
                .ok_or_else(|| {
                    bad(&format!(
                        "the price per minute must be a decimal from 0 to {MAX_PER_MINUTE} with at most 6 places"
                    ))
                })?;
            if table.by_prefix.len() >= MAX_RATES {
                return Err(bad(&format!("a table has at most {MAX_RATES} rows")));
            }
            if table
                .by_prefix
                .insert(digits.to_owned(), per_minute)
                .is_some()
            {
                return Err(bad("the prefix is listed twice"));
            }
            table.longest = table.longest.max(digits.len());
        }
        Ok(table)
    }

    /// The price per minute (millionths) of the longest prefix of `e164`, if any.
    #[must_use]
    pub fn per_minute(&self, e164: &str) -> Option<u64> {
        (1..=self.longest.min(e164.len()))
            .rev()
            .find_map(|n| self.by_prefix.get(&e164[..n]).copied())
    }

    /// How many prefixes it prices.
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_prefix.len()
    }

    /// Whether it prices nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_prefix.is_empty()
    }
}

/// What `elapsed_ms` at `per_minute` (millionths) costs, in millionths.
#[must_use]
pub fn cost(per_minute: u64, elapsed_ms: u64) -> u64 {
    u64::try_from(u128::from(per_minute) * u128::from(elapsed_ms) / 60_000).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_longest_prefix_prices_a_number() {
        let t =
            RateTable::parse("prefix,per_minute\n# UK\n44,0.02\n447,0.15\n+4470,1.5\n\n1,0.01\n")
                .unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t.per_minute("442079460000"), Some(20_000));
        assert_eq!(t.per_minute("447911123456"), Some(150_000));
        assert_eq!(t.per_minute("447011123456"), Some(1_500_000));
        assert_eq!(
            t.per_minute("33140000000"),
            None,
            "unknown prefixes are the caller's to price"
        );
        assert_eq!(cost(1_500_000, 90_000), 2_250_000, "90 s at 1.50 a minute");
    }

    #[test]
    fn a_bad_line_refuses_the_table_naming_it() {
        for (csv, line) in [
            ("44,0.02\n44,0.03", 2),
            ("44;0.02", 1),
            ("44,-1", 1),
            ("44,1e3", 1),
            ("4x,1", 1),
            ("44,1001", 1),
            ("44,0.0000001", 1),
            ("1234567890123456,1", 1),
            ("44,", 1),
        ] {
            let e = RateTable::parse(csv).unwrap_err();
            assert_eq!(e.line, line, "{csv}: {e}");
        }
    }

    proptest! {
        #[test]
        fn parsing_never_panics(csv in "\\PC{0,200}") {
            let _ = RateTable::parse(&csv);
        }

        #[test]
        fn a_written_price_reads_back(whole in 0u64..1000, fraction in 0u64..1_000_000) {
            let t = RateTable::parse(&format!("49,{whole}.{fraction:06}")).unwrap();
            prop_assert_eq!(t.per_minute("4930"), Some(whole * MICROS + fraction));
        }
    }
}
