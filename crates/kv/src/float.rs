//! `INCRBYFLOAT`'s numbers: parsed and printed as Redis does, added
//! exactly.
//!
//! Redis adds in C's `long double` and prints with `%.17Lf`, trailing zeros
//! removed. A replicated state machine must compute the same bits on every
//! replica and platform, which hardware floating point does not promise,
//! so synod adds in decimal (`rust_decimal`: 96-bit integer mantissa, 28
//! significant digits, more than `long double`'s 19), rounds to 17
//! decimals, and prints the same way. Small decimal numbers, the ones
//! counters hold, come out as Redis prints them (`0.1 + 0.2` is `0.3`);
//! the range is ±7.9 × 10^28 where `long double`'s is far wider
//! (docs/redis-compatibility.md).

pub use rust_decimal::Decimal;

/// Decimals `%.17Lf` prints.
const DECIMALS_PRINTED: u32 = 17;

/// The number a value or increment spells, as Redis's `string2ld`
/// accepts it: no spaces, an optional sign, digits with an optional point,
/// an optional exponent. `None` for anything else ("not a valid float").
pub fn parse(text: &[u8]) -> Option<Decimal> {
    let text = std::str::from_utf8(text).ok()?;
    let valid_bytes = text
        .bytes()
        .all(|byte| byte.is_ascii_digit() || matches!(byte, b'.' | b'-' | b'+' | b'e' | b'E'));
    if text.is_empty() || !valid_bytes {
        return None;
    }
    let (sign, unsigned) = match text.as_bytes()[0] {
        b'-' => ("-", &text[1..]),
        b'+' => ("", &text[1..]),
        _ => ("", text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    if mantissa.is_empty() || mantissa == "." || mantissa.matches('.').count() > 1 {
        return None;
    }
    let mantissa = match (mantissa.starts_with('.'), mantissa.ends_with('.')) {
        (true, _) => format!("0{mantissa}"),
        (_, true) => format!("{mantissa}0"),
        _ => mantissa.to_owned(),
    };
    if mantissa.contains(['+', '-']) {
        return None;
    }
    let number = Decimal::from_str_exact(&format!("{sign}{mantissa}")).ok()?;
    let Some(exponent) = exponent else {
        return Some(number);
    };
    let exponent: i32 = exponent.parse().ok()?;
    let scale = Decimal::from_scientific(&format!("1e{exponent}")).ok()?;
    number.checked_mul(scale)
}

/// `value + increment`, or `None` when it leaves the representable range
/// (Redis: "increment would produce NaN or Infinity").
pub fn add(value: Decimal, increment: Decimal) -> Option<Decimal> {
    value.checked_add(increment)
}

/// The number as Redis prints it: at most 17 decimals, trailing zeros and
/// a trailing point removed, and no negative zero.
pub fn print(number: Decimal) -> String {
    let rounded = number.round_dp(DECIMALS_PRINTED).normalize();
    if rounded.is_zero() {
        return "0".to_owned();
    }
    rounded.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(value: &str, increment: &str) -> Option<String> {
        Some(print(add(
            parse(value.as_bytes())?,
            parse(increment.as_bytes())?,
        )?))
    }

    #[test]
    fn sums_print_as_redis_prints_them() {
        assert_eq!(sum("10.50", "0.1").as_deref(), Some("10.6"));
        assert_eq!(sum("0.1", "0.2").as_deref(), Some("0.3"));
        assert_eq!(sum("5.0e3", "2.0e2").as_deref(), Some("5200"));
        assert_eq!(sum("3", "-3").as_deref(), Some("0"));
        assert_eq!(sum("-0.5", "0.25").as_deref(), Some("-0.25"));
        assert_eq!(sum(".5", "5.").as_deref(), Some("5.5"));
        assert_eq!(sum("+1", "1E1").as_deref(), Some("11"));
    }

    #[test]
    fn what_redis_refuses_is_refused() {
        for text in [
            "", " 1", "1 ", "abc", "1.2.3", "--1", "1e", "e5", ".", "1-2", "nan", "inf",
        ] {
            assert_eq!(parse(text.as_bytes()), None, "{text:?}");
        }
    }
}
