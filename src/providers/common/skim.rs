//! Skimming a request body: reading the few fields matching needs straight from the
//! JSON text, for the request shapes nearly every client sends, instead of building a
//! `serde_json::Value` of the whole body first.
//!
//! Scope: the building blocks (values read the way `Value` accessors read them, a value
//! that is parsed and dropped, the driver). Each provider's skim of its own body lives
//! with the provider (`openai_chat::skim`, `anthropic::request`).
//!
//! # Design
//! Parsing the whole body into a `Value` (an ordered map per object, a `String` per
//! string) was the largest part of parsing a request. A skim borrows strings from the
//! body and keeps only what the provider's `Value` path would read.
//!
//! The contract: a skim either builds exactly the [`ChatRequest`] the `Value` path
//! would, or gives up, and the caller then takes the `Value` path. So a skim only has to
//! handle the common shapes; anything else (tool calls, a field it does not model, a
//! missing required field) makes it give up, and every error reply is still the `Value`
//! path's. A skim never accepts a body the `Value` path rejects: a value it does not
//! keep is still parsed as `Value` would parse it (strings decoded and checked, numbers
//! converted, the same depth limit) and only then dropped. Repeated keys follow `Value`:
//! the last one wins.
//!
//! [`ChatRequest`]: crate::request::ChatRequest

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// Run `skim` over `body`: its result when it read the whole body as one JSON value,
/// `None` when it gave up or the body is not JSON (the `Value` path then decides).
pub(crate) fn run<'de, T>(
    body: &'de [u8],
    skim: impl FnOnce(
        &mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
    ) -> Result<T, serde_json::Error>,
) -> Option<T> {
    // `json_body` rejects invalid UTF-8 with its own message before parsing. Checked
    // once for the whole body here, so the reader takes every string as it is (a slice
    // reader checks each string it reads again).
    let text = std::str::from_utf8(body).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let out = skim(&mut de).ok()?;
    de.end().ok()?;
    Some(out)
}

/// The error a skim gives up with; never shown to anyone.
pub(crate) fn give_up<E: de::Error>() -> E {
    E::custom("not a shape the skim reads")
}

/// Any JSON value, parsed as `Value` would parse it, then dropped.
pub(crate) struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_key::<Skip>()?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(Skip)
    }
}

/// A string if the value is one, else `None`: `Value::as_str` on any value.
pub(crate) struct AnyStr<'de>(pub Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for AnyStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AnyStr<'de>, D::Error> {
        d.deserialize_any(AnyStrVisitor)
    }
}

struct AnyStrVisitor;

impl<'de> Visitor<'de> for AnyStrVisitor {
    type Value = AnyStr<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<AnyStr<'de>, E> {
        Ok(AnyStr(Some(Cow::Borrowed(s))))
    }
    fn visit_str<E>(self, s: &str) -> Result<AnyStr<'de>, E> {
        Ok(AnyStr(Some(Cow::Owned(s.to_string()))))
    }
    fn visit_string<E>(self, s: String) -> Result<AnyStr<'de>, E> {
        Ok(AnyStr(Some(Cow::Owned(s))))
    }
    fn visit_bool<E>(self, _: bool) -> Result<AnyStr<'de>, E> {
        Ok(AnyStr(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<AnyStr<'de>, E> {
        Ok(AnyStr(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<AnyStr<'de>, E> {
        Ok(AnyStr(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<AnyStr<'de>, E> {
        Ok(AnyStr(None))
    }
    fn visit_unit<E>(self) -> Result<AnyStr<'de>, E> {
        Ok(AnyStr(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<AnyStr<'de>, A::Error> {
        SkipVisitor.visit_seq(seq).map(|_| AnyStr(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AnyStr<'de>, A::Error> {
        SkipVisitor.visit_map(map).map(|_| AnyStr(None))
    }
}

/// A boolean if the value is one, else `None`: `Value::as_bool` on any value.
pub(crate) struct AnyBool(pub Option<bool>);

impl<'de> Deserialize<'de> for AnyBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AnyBool, D::Error> {
        d.deserialize_any(AnyBoolVisitor)
    }
}

struct AnyBoolVisitor;

impl<'de> Visitor<'de> for AnyBoolVisitor {
    type Value = AnyBool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<AnyBool, E> {
        Ok(AnyBool(Some(b)))
    }
    fn visit_i64<E>(self, _: i64) -> Result<AnyBool, E> {
        Ok(AnyBool(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<AnyBool, E> {
        Ok(AnyBool(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<AnyBool, E> {
        Ok(AnyBool(None))
    }
    fn visit_str<E>(self, _: &str) -> Result<AnyBool, E> {
        Ok(AnyBool(None))
    }
    fn visit_unit<E>(self) -> Result<AnyBool, E> {
        Ok(AnyBool(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<AnyBool, A::Error> {
        SkipVisitor.visit_seq(seq).map(|_| AnyBool(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AnyBool, A::Error> {
        SkipVisitor.visit_map(map).map(|_| AnyBool(None))
    }
}

/// An object key, borrowed when it has no escapes.
pub(crate) struct Key<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        match AnyStr::deserialize(d)? {
            AnyStr(Some(s)) => Ok(Key(s)),
            // JSON object keys are always strings.
            AnyStr(None) => Err(give_up()),
        }
    }
}

/// A visitor for the one shape a caller reads (an object, usually); every other kind of
/// value is parsed, dropped, and reported as `other`.
pub(crate) trait Shape<'de>: Sized {
    /// What a value that is not of the shape reads as.
    fn other() -> Self;
    /// Read an object.
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        SkipVisitor.visit_map(map).map(|_| Self::other())
    }
    /// Read an array.
    fn seq<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        SkipVisitor.visit_seq(seq).map(|_| Self::other())
    }
    /// Read a string.
    fn str(_: Cow<'de, str>) -> Self {
        Self::other()
    }
}

/// Deserialize a [`Shape`] from any JSON value.
pub(crate) struct Shaped<T>(pub T);

impl<'de, T: Shape<'de>> Deserialize<'de> for Shaped<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shaped<T>, D::Error> {
        d.deserialize_any(ShapeVisitor(std::marker::PhantomData))
            .map(Shaped)
    }
}

struct ShapeVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Shape<'de>> Visitor<'de> for ShapeVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::other())
    }
    fn visit_i64<E>(self, _: i64) -> Result<T, E> {
        Ok(T::other())
    }
    fn visit_u64<E>(self, _: u64) -> Result<T, E> {
        Ok(T::other())
    }
    fn visit_f64<E>(self, _: f64) -> Result<T, E> {
        Ok(T::other())
    }
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::other())
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<T, E> {
        Ok(T::str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<T, E> {
        Ok(T::str(Cow::Owned(s.to_string())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::map(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(body: &str) -> bool {
        run(body.as_bytes(), |de| Skip::deserialize(de)).is_some()
    }

    #[test]
    fn skipped_values_are_checked_as_a_value_parse_checks_them() {
        let bodies = [
            r#"{"a":[1,2.5e3,-0,true,null,{"b":"c"}],"d":"\u00e9\ud83c\udf89"}"#,
            r#"{"lone":"\ud800"}"#,
            r#"{"big":1e999}"#,
            r#"{"a":1} trailing"#,
            r#"{"a":1,}"#,
            "[1,2]",
            r#""just a string""#,
            &format!("{}1{}", "[".repeat(200), "]".repeat(200)),
            &format!("{}1{}", "[".repeat(100), "]".repeat(100)),
        ];
        for body in bodies {
            let as_value = serde_json::from_str::<serde_json::Value>(body).is_ok();
            assert_eq!(skip(body), as_value, "{body}");
        }
    }

    #[test]
    fn any_str_and_any_bool_read_like_the_value_accessors() {
        for (body, s, b) in [
            (r#""x""#, Some("x"), None),
            (r#""a\"b""#, Some("a\"b"), None),
            ("true", None, Some(true)),
            ("null", None, None),
            ("3", None, None),
            (r#"{"k":[1]}"#, None, None),
        ] {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(v.as_str(), s);
            assert_eq!(v.as_bool(), b);
            let got = run(body.as_bytes(), |de| AnyStr::deserialize(de)).unwrap();
            assert_eq!(got.0.as_deref(), s, "{body}");
            let got = run(body.as_bytes(), |de| AnyBool::deserialize(de)).unwrap();
            assert_eq!(got.0, b, "{body}");
        }
    }
}
