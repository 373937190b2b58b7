//! Argument schemas of events and their validation.
//!
//! Args travel in their encoded JSON form: a `Date` is an integer of epoch
//! milliseconds, everything else is plain JSON.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ArgSchema {
    String,
    Number,
    Boolean,
    Date,
    Json,
    Literal {
        values: Vec<Value>,
    },
    Array {
        items: Box<ArgSchema>,
    },
    Struct {
        fields: BTreeMap<String, ArgSchema>,
    },
    /// A struct field that may be absent.
    Optional {
        inner: Box<ArgSchema>,
    },
    /// A value that may be `null`.
    Nullable {
        inner: Box<ArgSchema>,
    },
}

/// Where and why a value does not fit its schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    pub path: String,
    pub message: String,
}

impl Mismatch {
    /// The mismatch as seen from the value holding it under `part` (a field
    /// name or an `[index]`): `a.b`, `a[1]`, `[1].b`, `[1][2]`.
    fn within(mut self, part: &str) -> Mismatch {
        let dot = !self.path.is_empty() && !self.path.starts_with('[');
        self.path.insert_str(0, &format!("{part}{}", if dot { "." } else { "" }));
        self
    }
}

impl ArgSchema {
    pub fn validate(&self, value: &Value) -> Result<(), Mismatch> {
        self.check(value)
    }

    /// `validate` of JSON text, checked as it is read: no value tree is built
    /// for args that fit (a batch's thousands of items). Only when they do not
    /// is the text parsed, for `validate` to say where and why.
    pub fn validate_json(&self, text: &str) -> Result<(), Mismatch> {
        let mut de = serde_json::Deserializer::from_str(text);
        if self.deserialize(&mut de).and_then(|()| de.end()).is_ok() {
            return Ok(());
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Mismatch { path: String::new(), message: format!("not JSON: {e}") })?;
        self.validate(&value)
    }

    /// Whether a value of this schema holds a `Date` somewhere (JSON has none).
    pub fn has_date(&self) -> bool {
        match self {
            ArgSchema::Date => true,
            ArgSchema::Array { items: inner } | ArgSchema::Optional { inner } | ArgSchema::Nullable { inner } => {
                inner.has_date()
            }
            ArgSchema::Struct { fields } => fields.values().any(ArgSchema::has_date),
            ArgSchema::String
            | ArgSchema::Number
            | ArgSchema::Boolean
            | ArgSchema::Json
            | ArgSchema::Literal { .. } => false,
        }
    }

    /// The same struct with every field optional: the schema of a partial update.
    pub fn partial(&self) -> ArgSchema {
        match self {
            ArgSchema::Struct { fields } => ArgSchema::Struct {
                fields: fields.iter().map(|(k, s)| (k.clone(), s.clone().into_optional())).collect(),
            },
            other => other.clone(),
        }
    }

    fn into_optional(self) -> ArgSchema {
        match self {
            ArgSchema::Optional { .. } => self,
            other => ArgSchema::Optional { inner: Box::new(other) },
        }
    }

    /// Checks `value`; a mismatch's path is relative to it. Paths are built
    /// only on a mismatch, each level prefixing its part on the way out (no
    /// formatting per valid field or item).
    fn check(&self, value: &Value) -> Result<(), Mismatch> {
        let fail = |message: String| Err(Mismatch { path: String::new(), message });
        match self {
            ArgSchema::String if value.is_string() => Ok(()),
            ArgSchema::Number if value.is_number() => Ok(()),
            ArgSchema::Boolean if value.is_boolean() => Ok(()),
            ArgSchema::Date if value.is_i64() || value.is_u64() => Ok(()),
            ArgSchema::Json => Ok(()),
            ArgSchema::Literal { values } => {
                if values.contains(value) {
                    Ok(())
                } else {
                    let allowed: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                    fail(format!("expected one of {}, got {}", allowed.join(", "), describe(value)))
                }
            }
            ArgSchema::Nullable { inner } => {
                if value.is_null() {
                    Ok(())
                } else {
                    inner.check(value)
                }
            }
            ArgSchema::Optional { inner } => inner.check(value),
            ArgSchema::Array { items } => {
                let Some(array) = value.as_array() else {
                    return fail(format!("expected an array, got {}", describe(value)));
                };
                for (i, item) in array.iter().enumerate() {
                    items.check(item).map_err(|m| m.within(&format!("[{i}]")))?;
                }
                Ok(())
            }
            ArgSchema::Struct { fields } => {
                let Some(object) = value.as_object() else {
                    return fail(format!("expected an object, got {}", describe(value)));
                };
                let mut present = 0;
                for (name, schema) in fields {
                    match object.get(name) {
                        Some(v) => {
                            present += 1;
                            schema.check(v).map_err(|m| m.within(name))?
                        }
                        None if matches!(schema, ArgSchema::Optional { .. }) => {}
                        None => return Err(Mismatch { path: name.clone(), message: "is missing".into() }),
                    }
                }
                // Every key is a field when as many keys as fields were found.
                if object.len() > present {
                    if let Some(extra) = object.keys().find(|k| !fields.contains_key(*k)) {
                        return Err(Mismatch { path: extra.clone(), message: "is not a field of this event".into() });
                    }
                }
                Ok(())
            }
            expected => fail(format!("expected {}, got {}", expected.name(), describe(value))),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            ArgSchema::String => "a string",
            ArgSchema::Number => "a number",
            ArgSchema::Boolean => "a boolean",
            ArgSchema::Date => "a Date",
            _ => "a value",
        }
    }
}

/// Reading JSON against a schema: fails at the first value that does not fit,
/// with no message (`validate` makes it). A repeated struct field also fails
/// here, to be judged on the parsed value (where the last one counts).
impl<'de> DeserializeSeed<'de> for &ArgSchema {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self {
            ArgSchema::Json => IgnoredAny::deserialize(d).map(drop),
            ArgSchema::Literal { values } => {
                let v = Value::deserialize(d)?;
                if values.contains(&v) {
                    Ok(())
                } else {
                    Err(de::Error::custom("not one of the literals"))
                }
            }
            ArgSchema::Optional { inner } => inner.as_ref().deserialize(d),
            ArgSchema::Nullable { inner } => d.deserialize_option(Fits(inner)),
            _ => d.deserialize_any(Fits(self)),
        }
    }
}

/// Accepts the JSON values `self.0` describes (a `Nullable`'s inner schema
/// when given through `deserialize_option`).
struct Fits<'s>(&'s ArgSchema);

impl<'de> Visitor<'de> for Fits<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(()) // only reached through deserialize_option: a Nullable's null
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.deserialize(d)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.fits(matches!(self.0, ArgSchema::Boolean))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.fits(matches!(self.0, ArgSchema::Number | ArgSchema::Date))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.fits(matches!(self.0, ArgSchema::Number | ArgSchema::Date))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.fits(matches!(self.0, ArgSchema::Number))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.fits(matches!(self.0, ArgSchema::String))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ArgSchema::Array { items } = self.0 else {
            return Err(de::Error::custom("not an array"));
        };
        while seq.next_element_seed(items.as_ref())?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ArgSchema::Struct { fields } = self.0 else {
            return Err(de::Error::custom("not an object"));
        };
        if fields.len() > 64 {
            return Err(de::Error::custom("too many fields to track")); // left to validate
        }
        let mut seen = 0u64;
        while let Some((i, schema)) = map.next_key_seed(FieldIndex(fields))? {
            if seen & (1 << i) != 0 {
                return Err(de::Error::custom("a repeated field"));
            }
            seen |= 1 << i;
            map.next_value_seed(schema)?;
        }
        let missing =
            fields.values().enumerate().any(|(i, s)| seen & (1 << i) == 0 && !matches!(s, ArgSchema::Optional { .. }));
        self.fits(!missing)
    }
}

impl Fits<'_> {
    fn fits<E: de::Error>(&self, ok: bool) -> Result<(), E> {
        if ok {
            Ok(())
        } else {
            Err(E::custom("does not fit"))
        }
    }
}

/// A struct's key as the position and schema of its field; an unknown key fails.
struct FieldIndex<'s>(&'s BTreeMap<String, ArgSchema>);

impl<'de, 's> DeserializeSeed<'de> for FieldIndex<'s> {
    type Value = (usize, &'s ArgSchema);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 's> Visitor<'de> for FieldIndex<'s> {
    type Value = (usize, &'s ArgSchema);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        let mut fields = self.0.iter().enumerate();
        fields.find(|(_, (k, _))| *k == key).map(|(i, (_, s))| (i, s)).ok_or_else(|| E::custom("not a field"))
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.len() > 40 => {
            // The first 40 bytes, back to a char boundary (`floor_char_boundary` needs Rust 1.91).
            let end = (0..=40).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
            format!("string \"{}…\"", &s[..end])
        }
        Value::String(s) => format!("string \"{s}\""),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_long_string_is_described_by_its_start_cut_at_a_char_boundary() {
        // 'é' is two bytes: 40 bytes would cut the 21st in half.
        let text = "x".to_string() + &"é".repeat(30);
        assert_eq!(describe(&json!(text)), format!("string \"x{}…\"", "é".repeat(19)));
        assert_eq!(describe(&json!("short")), "string \"short\"");
    }

    fn todo_schema() -> ArgSchema {
        serde_json::from_value(json!({
            "type": "struct",
            "fields": {
                "id": { "type": "string" },
                "tags": { "type": "array", "items": { "type": "string" } },
                "due": { "type": "optional", "inner": { "type": "date" } },
                "note": { "type": "nullable", "inner": { "type": "string" } },
                "prio": { "type": "literal", "values": ["low", "high"] }
            }
        }))
        .unwrap()
    }

    #[test]
    fn accepts_valid_args() {
        let s = todo_schema();
        s.validate(&json!({"id": "a", "tags": [], "note": null, "prio": "low"})).unwrap();
        s.validate(&json!({"id": "a", "tags": ["x"], "due": 1700000000000i64, "note": "n", "prio": "high"})).unwrap();
    }

    #[test]
    fn names_the_field_and_the_cause() {
        let s = todo_schema();
        let e = s.validate(&json!({"id": 1, "tags": [], "note": null, "prio": "low"})).unwrap_err();
        assert_eq!(e.path, "id");
        assert_eq!(e.message, "expected a string, got number 1");
        let e = s.validate(&json!({"id": "a", "tags": ["x", 2], "note": null, "prio": "low"})).unwrap_err();
        assert_eq!(e.path, "tags[1]");
        let e = s.validate(&json!({"id": "a", "tags": [], "prio": "low"})).unwrap_err();
        assert_eq!((e.path.as_str(), e.message.as_str()), ("note", "is missing"));
        let e = s.validate(&json!({"id": "a", "tags": [], "note": null, "prio": "mid"})).unwrap_err();
        assert!(e.message.contains("one of \"low\", \"high\""), "{}", e.message);
        let e = s.validate(&json!({"id": "a", "tags": [], "note": null, "prio": "low", "x": 1})).unwrap_err();
        assert_eq!(e.path, "x");
        let e = s.validate(&json!({"id": "a", "tags": [], "note": null, "prio": "low", "due": 1.5})).unwrap_err();
        assert_eq!((e.path.as_str(), e.message.as_str()), ("due", "expected a Date, got number 1.5"));
        // Indexes of (nested) arrays, at the top level too.
        let item = ArgSchema::Struct { fields: [("text".to_string(), ArgSchema::String)].into_iter().collect() };
        let items = ArgSchema::Array { items: Box::new(ArgSchema::Array { items: Box::new(item) }) };
        let e = items.validate(&json!([[{ "text": "a" }], [{ "text": "b" }, { "text": 3 }]])).unwrap_err();
        assert_eq!(e.path, "[1][1].text");
        let batch = ArgSchema::Struct { fields: [("items".to_string(), items)].into_iter().collect() };
        let e = batch.validate(&json!({ "items": [[], [{}]] })).unwrap_err();
        assert_eq!((e.path.as_str(), e.message.as_str()), ("items[1][0].text", "is missing"));
    }

    /// Whether the reading check alone (no value tree) accepts `text`.
    fn fits(s: &ArgSchema, text: &str) -> bool {
        let mut de = serde_json::Deserializer::from_str(text);
        s.deserialize(&mut de).and_then(|()| de.end()).is_ok()
    }

    #[test]
    fn checking_the_text_agrees_with_checking_the_value() {
        let s = ArgSchema::Struct {
            fields: [
                ("todo".to_string(), todo_schema()),
                ("any".to_string(), ArgSchema::Optional { inner: Box::new(ArgSchema::Json) }),
                ("n".to_string(), ArgSchema::Optional { inner: Box::new(ArgSchema::Number) }),
                ("ok".to_string(), ArgSchema::Optional { inner: Box::new(ArgSchema::Boolean) }),
            ]
            .into_iter()
            .collect(),
        };
        let todo = r#""id":"a","tags":["x"],"note":null,"prio":"low""#;
        let cases = [
            format!(r#"{{"todo":{{{todo}}}}}"#),
            format!(r#"{{"todo":{{{todo},"due":1700000000000}},"any":{{"x":[1,null,{{}}]}},"n":-0.5,"ok":true}}"#),
            format!(r#"{{"todo":{{{todo},"due":-1}},"n":18446744073709551615}}"#),
            format!(r#"{{"todo":{{{todo},"due":1.0}}}}"#),
            format!(r#"{{"todo":{{{todo},"due":1e3}}}}"#),
            format!(r#"{{"todo":{{{todo},"due":null}}}}"#),
            format!(r#"{{"todo":{{{todo}}},"n":"1"}}"#),
            format!(r#"{{"todo":{{{todo}}},"ok":1}}"#),
            format!(r#"{{"todo":{{{todo}}},"x":1}}"#),
            format!(r#"{{"todo":{{{todo},"x":1}}}}"#),
            r#"{"todo":{"id":"a","tags":[],"note":"é","prio":"high"}}"#.into(),
            r#"{"todo":{"id":"a","tags":[],"note":null}}"#.into(),
            r#"{"todo":{"id":"a","tags":[],"note":null,"prio":"mid"}}"#.into(),
            r#"{"todo":{"id":"a","tags":[1],"note":null,"prio":"low"}}"#.into(),
            r#"{"todo":{"id":"a","tags":{},"note":null,"prio":"low"}}"#.into(),
            r#"{"todo":{"id":"a","tags":[],"note":null,"prio":"low"},"any":null}"#.into(),
            r#"{"todo":[]}"#.into(),
            r#"{}"#.into(),
            r#"[]"#.into(),
            r#"null"#.into(),
        ];
        for text in &cases {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(s.validate_json(text), s.validate(&value), "{text}");
            assert_eq!(fits(&s, text), s.validate(&value).is_ok(), "{text}");
        }
        // A repeated field: the last one counts, as when parsed (and in JS).
        let twice = r#"{"todo":{"id":1,"id":"a","tags":[],"note":null,"prio":"low"}}"#;
        assert!(!fits(&s, twice));
        assert_eq!(s.validate_json(twice), Ok(()));
        let twice = r#"{"todo":{"id":"a","id":1,"tags":[],"note":null,"prio":"low"}}"#;
        assert_eq!(s.validate_json(twice).unwrap_err().path, "todo.id");
    }

    #[test]
    fn partial_makes_every_field_optional() {
        let p = todo_schema().partial();
        p.validate(&json!({})).unwrap();
        p.validate(&json!({"prio": "high"})).unwrap();
        assert!(p.validate(&json!({"prio": "mid"})).is_err());
    }
}
