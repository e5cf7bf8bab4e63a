//! JSON text as JavaScript's `JSON.stringify` writes it, for the structured `content`
//! and tool-call `arguments` a cassette may hold as objects: the reference serialises
//! them on load, so a client sees JavaScript's spelling of every number and key order.
//!
//! Differences from serde_json's compact writer, all JavaScript's rules:
//! - every number is a double, written by `Number.prototype.toString`: `1.0` is `1`,
//!   `1e21` is `1e+21`, `1.5e-7` stays exponential, `-0` is `0`, and an integer beyond
//!   2^53 is the nearest double (`12345678901234567890` is `12345678901234567000`);
//! - an object's keys that are array indices (`"0"` to `"4294967294"` in canonical
//!   form) come first, in ascending order, then the others in the order written.
//!
//! Strings are escaped as serde_json escapes them, which is what `JSON.stringify` does
//! for every string a Rust `str` can hold (it has no lone surrogates).
//!
//! Not here: reading JSON, or any text a fixture gives as a string (served as written).

use serde_json::{Map, Number, Value};

/// `JSON.stringify(v)` for a value read from JSON.
pub(crate) fn stringify(v: &Value) -> String {
    let mut out = String::with_capacity(64);
    write_value(v, &mut out);
    out
}

fn write_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => write_object(m, out),
    }
}

fn write_string(s: &str, out: &mut String) {
    // Serialising a `str` cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// The array index a key names, if it is one: canonical decimal below 2^32 - 1.
fn array_index(key: &str) -> Option<u32> {
    let b = key.as_bytes();
    if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if b.len() > 1 && b[0] == b'0' {
        return None;
    }
    let n: u64 = key.parse().ok()?;
    u32::try_from(n).ok().filter(|&n| n != u32::MAX)
}

fn write_object(m: &Map<String, Value>, out: &mut String) {
    let mut indexed: Vec<(u32, &String, &Value)> = m
        .iter()
        .filter_map(|(k, v)| array_index(k).map(|i| (i, k, v)))
        .collect();
    indexed.sort_by_key(|&(i, _, _)| i);
    let named = m.iter().filter(|(k, _)| array_index(k).is_none());
    out.push('{');
    let mut first = true;
    for (k, v) in indexed.into_iter().map(|(_, k, v)| (k, v)).chain(named) {
        if !first {
            out.push(',');
        }
        first = false;
        write_string(k, out);
        out.push(':');
        write_value(v, out);
    }
    out.push('}');
}

fn write_number(n: &Number, out: &mut String) {
    // JavaScript has doubles only; an integer is read as the nearest one, which is
    // what the conversion rounds to.
    let x = if let Some(u) = n.as_u64() {
        u as f64
    } else if let Some(i) = n.as_i64() {
        i as f64
    } else {
        n.as_f64().unwrap_or(0.0)
    };
    write_double(x, out);
}

/// `Number.prototype.toString()` for a finite double (ECMA-262 Number::toString).
pub(crate) fn write_double(x: f64, out: &mut String) {
    if x == 0.0 || !x.is_finite() {
        // -0 is "0"; JSON never holds the others (JSON.stringify writes them as null).
        out.push_str(if x == 0.0 { "0" } else { "null" });
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    // The shortest digits that read back as x, in Rust's exponential form `d.ddde-n`:
    // the same digits JavaScript picks.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    // x = digits × 10^(n − k)
    let n = exp + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        out.push_str(&(n - 1).abs().to_string());
    }
}

/// JavaScript's `Number(s)` for a string: blank is 0; `Infinity` with an optional
/// sign; `0x`/`0o`/`0b` integers without a sign; else a decimal literal; `NaN` for
/// anything else. Surrounding white space (JavaScript's set) is ignored.
pub(crate) fn number_of_string(s: &str) -> f64 {
    let t =
        s.trim_matches(|c: char| matches!(c, '\u{feff}') || (c.is_whitespace() && c != '\u{85}'));
    if t.is_empty() {
        return 0.0;
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    let radix = match t.get(..2) {
        Some("0x" | "0X") => 16,
        Some("0o" | "0O") => 8,
        Some("0b" | "0B") => 2,
        _ => 10,
    };
    if radix != 10 {
        let digits = &t[2..];
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return f64::NAN;
        }
        // Exact below 2^53, the nearest double's neighbourhood above (rare in cassettes).
        return digits.chars().fold(0.0, |acc, c| {
            acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
        });
    }
    // Rust's float syntax is JavaScript's decimal literal, plus `inf`/`nan` words,
    // which the character check keeps out.
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return f64::NAN;
    }
    t.parse().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `JSON.stringify(JSON.parse(text))` as Node 20 printed it (generated once).
    const NODE: &[(&str, &str)] = &[
        ("0", "0"),
        ("-0", "0"),
        ("1", "1"),
        ("-1", "-1"),
        ("1.0", "1"),
        ("129.0", "129"),
        ("1.5", "1.5"),
        ("0.1", "0.1"),
        ("0.2", "0.2"),
        ("0.30000000000000004", "0.30000000000000004"),
        ("100", "100"),
        ("1e21", "1e+21"),
        ("1e20", "100000000000000000000"),
        ("123456789012345678901", "123456789012345680000"),
        ("999999999999999999999", "1e+21"),
        ("1e-6", "0.000001"),
        ("1e-7", "1e-7"),
        ("1.5e-7", "1.5e-7"),
        ("0.000001", "0.000001"),
        ("0.0000015", "0.0000015"),
        ("-0.0000001", "-1e-7"),
        ("123e-20", "1.23e-18"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("5e-324", "5e-324"),
        ("2.2250738585072014e-308", "2.2250738585072014e-308"),
        ("9007199254740993", "9007199254740992"),
        ("12345678901234567890", "12345678901234567000"),
        ("18446744073709551615", "18446744073709552000"),
        ("-9223372036854775808", "-9223372036854776000"),
        ("4.35", "4.35"),
        ("1e300", "1e+300"),
        ("3.14159", "3.14159"),
        ("2.5e+25", "2.5e+25"),
        ("0.00001", "0.00001"),
        ("1234.5678", "1234.5678"),
        ("100000000000000000000", "100000000000000000000"),
        ("1e+21", "1e+21"),
        ("-1.5e21", "-1.5e+21"),
        ("123456789.123456789", "123456789.12345679"),
        ("0.1e1", "1"),
        ("1E2", "100"),
        ("25e-1", "2.5"),
        ("7.000000000000001", "7.000000000000001"),
        ("1.2e-5", "0.000012"),
        ("6.02214076e23", "6.02214076e+23"),
        ("-0.0", "0"),
    ];

    #[test]
    fn strings_read_as_javascripts_number_reads_them() {
        // Node 20: Number(s).
        for (s, want) in [
            ("2", 2.0),
            (" 100 ", 100.0),
            ("", 0.0),
            ("  ", 0.0),
            ("1.0", 1.0),
            ("1e3", 1000.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("+7", 7.0),
            ("-3", -3.0),
            ("0x10", 16.0),
            ("0b101", 5.0),
            ("0o17", 15.0),
            ("\u{feff}\t4\n", 4.0),
            ("-Infinity", f64::NEG_INFINITY),
        ] {
            assert_eq!(number_of_string(s), want, "Number({s:?})");
        }
        for s in [
            "abc", "1_000", "inf", "NaN", "nan", "infinity", "0x", "-0x10", "1e", "e5", ".", "1 2",
            "\u{85}1",
        ] {
            assert!(number_of_string(s).is_nan(), "Number({s:?})");
        }
    }

    #[test]
    fn numbers_are_written_as_javascript_writes_them() {
        for (text, js) in NODE {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(stringify(&v), *js, "JSON.stringify({text})");
        }
    }

    #[test]
    fn index_keys_come_first_ascending_then_the_rest_as_written() {
        let text = r#"{"b":1,"2":2,"1":[1.0,{"x":-0.0,"10":true,"01":null,"4294967294":1,"4294967295":2}],"a":"\u0001\u001f\"\\/é\n\u2028"}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        // Node 20: JSON.stringify(JSON.parse(text)).
        let js = "{\"1\":[1,{\"10\":true,\"4294967294\":1,\"x\":0,\"01\":null,\"4294967295\":2}],\"2\":2,\"b\":1,\"a\":\"\\u0001\\u001f\\\"\\\\/é\\n\u{2028}\"}";
        assert_eq!(stringify(&v), js);
    }

    /// Doubles by bit pattern and what Node 20's `JSON.stringify` wrote for each
    /// (generated once, from a seeded generator, over several magnitudes).
    const NODE_DOUBLES: &[(u64, &str)] = &[
        (0xdc1b77ae0bf34dad, "-4.9911105725155504e+135"),
        (0x407f513c574d49b1, "501.07723169508523"),
        (0x3f5cb40eccda0090, "0.001751913503"),
        (0x305f050c368dcc74, "1.0715660391465826e-75"),
        (0x4077d69885854388, "381.4122367101304"),
        (0x3f7d316146904f60, "0.0071271705465"),
        (0x9ad2e144d6e8f2cf, "-1.81996730402717e-179"),
        (0x408ae03d9ff7c88a, "860.0300902708125"),
        (0x3f7a6e2f886ce8f3, "0.006452737498700001"),
        (0x8f8ea9d349428d8e, "-9.643915712060552e-234"),
        (0x40819d0e1f53734a, "563.6318956870612"),
        (0x3f6f4318ca456e8c, "0.0038161739523"),
        (0x55bc79f8ada711fd, "1.0204796945730538e+105"),
        (0x406b9b4827077243, "220.85255767301905"),
        (0x3f83417bf376f303, "0.0094022449183"),
        (0xc5765079fc5d43ff, "-4.3162252145519944e+26"),
        (0x40888c21e4c847e5, "785.5165496489468"),
        (0x3f82ed6fedbe9b10, "0.0092419380597"),
        (0xfc5639b16b714b4f, "-8.663725837306241e+290"),
        (0x406b8278ae9a9363, "220.07723169508526"),
        (0x3f7d8b4d4bf5d062, "0.0072129268077"),
        (0xbcbb9b7e9a319aef, "-3.831296467316889e-16"),
        (0x4082a48aa7ed8336, "596.567703109328"),
        (0x3f44af8c8e69d1df, "0.0006312786398000001"),
        (0x0e1ecd02ed7c0cbd, "1.1547975125429853e-240"),
        (0x40712130041bbb30, "274.07422266800404"),
        (0x3f778cbf8e033d5e, "0.0057494623763"),
        (0x6d0844c269e7693f, "1.6732138965686944e+217"),
        (0x4086d57afe33de1b, "730.6850551654965"),
        (0x3f657ec5e044df9d, "0.0026239266173"),
        (0x6c716e1e6ced8137, "2.347135155778617e+214"),
        (0x4086edae58d7afe3, "733.7101303911735"),
        (0x3f5a1ff7cbec9870, "0.001594535817"),
        (0xb0ba91e47f6200ec, "-5.874229071700385e-74"),
        (0x406a23d9ff7c889a, "209.12036108324975"),
        (0x3f7899db0636969f, "0.0060061030994"),
        (0x7ac78fb373ffbff6, "2.7371952383912e+283"),
        (0x4065f26c5b6904e1, "175.57572718154464"),
        (0x3f6a2cf0cd7c44db, "0.0031952574899000003"),
        (0xbfcbffff0cbcbf20, "-0.21874988672197393"),
        (0x4085b020ddd97c05, "694.0160481444333"),
        (0x3f700da8cc61364f, "0.003919276589"),
        (0x32b911499417aab9, "2.3803041954013153e-64"),
        (0x4089e6ad102d310b, "828.8345035105316"),
        (0x3f825e27c0416a68, "0.008968649439500001"),
        (0xbc3a5b419a43afd2, "-1.4287870889761718e-18"),
        (0x406306d6257d0c11, "152.2136409227683"),
        (0x3f7924cfd3c7e891, "0.0061386221173"),
        (0x63674cf841ee8ab9, "7.034866163903114e+170"),
        (0x4087dc67bc366f70, "763.5506519558676"),
        (0x3f7008a81220cb51, "0.0039145055071"),
        (0x4efa582ee029dfd9, "2.9091650704676072e+72"),
        (0x407cd329570b8dfe, "461.197592778335"),
        (0x3f80a1bd8124db95, "0.0081209950482"),
        (0xb809d78e2a2f9b10, "-9.49285634690637e-39"),
        (0x408e41864a76a0bd, "968.1905717151454"),
        (0x3f55d4af6e97735a, "0.0013324464038"),
        (0x4a3ae29b2af0cb79, "3.9292734840969675e+49"),
        (0x408e8e1d4595b275, "977.764292878636"),
        (0x3f7333e1595bee56, "0.0046881487558"),
    ];

    #[test]
    fn seeded_doubles_are_written_as_node_wrote_them() {
        for (bits, js) in NODE_DOUBLES {
            let mut out = String::new();
            write_double(f64::from_bits(*bits), &mut out);
            assert_eq!(out, *js, "bits {bits:#x}");
        }
    }

    /// Doubles of every magnitude read back to themselves (the digits are shortest, so
    /// JavaScript, which reads them back the same way, writes these digits too).
    #[test]
    fn written_doubles_read_back_exactly_across_magnitudes() {
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let x = f64::from_bits(s);
            if !x.is_finite() {
                continue;
            }
            let mut out = String::new();
            write_double(x, &mut out);
            let back: f64 = out.parse().unwrap();
            assert!(back == x, "{x:e} written {out}");
        }
    }
}
