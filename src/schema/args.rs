//! Argument schemas of events and their validation.
//!
//! Args travel in their encoded JSON form: a `Date` is an integer of epoch
//! milliseconds, everything else is plain JSON.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

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

    #[test]
    fn partial_makes_every_field_optional() {
        let p = todo_schema().partial();
        p.validate(&json!({})).unwrap();
        p.validate(&json!({"prio": "high"})).unwrap();
        assert!(p.validate(&json!({"prio": "mid"})).is_err());
    }
}
