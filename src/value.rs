//! Values that cross between the app and SQLite, and their encoding by
//! column type (booleans as 0/1, json as text, datetimes as epoch ms).

use crate::error::{Error, Result};
use crate::schema::{ColumnDef, ColumnType};
pub use rusqlite::types::Value as SqlValue;
use rusqlite::types::ValueRef;

/// An owned copy of a value SQLite handed out (text that is not UTF-8 is
/// decoded lossily rather than failing the query).
pub fn owned(v: ValueRef<'_>) -> SqlValue {
    match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        // Valid UTF-8 (the rule) is checked on the fast path, then copied.
        ValueRef::Text(t) => SqlValue::Text(match std::str::from_utf8(t) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(t).into_owned(),
        }),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

/// A value given by the app (write values, where values, bind values) or
/// returned to it (decoded result cells).
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    /// Epoch milliseconds (a JS `Date`).
    Date(i64),
    /// Arrays and objects (and any parsed JSON column value).
    Json(serde_json::Value),
}

impl Val {
    pub fn from_json(v: &serde_json::Value) -> Val {
        use serde_json::Value as J;
        match v {
            J::Null => Val::Null,
            J::Bool(b) => Val::Bool(*b),
            J::Number(n) => match n.as_i64() {
                Some(i) => Val::Int(i),
                None => Val::Real(n.as_f64().unwrap_or(f64::NAN)),
            },
            J::String(s) => Val::Text(s.clone()),
            other => Val::Json(other.clone()),
        }
    }

    /// As `from_json`, taking the value (its text and structure are moved, not copied).
    pub fn from_json_owned(v: serde_json::Value) -> Val {
        match v {
            serde_json::Value::String(s) => Val::Text(s),
            v @ (serde_json::Value::Array(_) | serde_json::Value::Object(_)) => Val::Json(v),
            v => Val::from_json(&v),
        }
    }

    pub fn from_sql(v: SqlValue) -> Val {
        match v {
            SqlValue::Null => Val::Null,
            SqlValue::Integer(i) => Val::Int(i),
            SqlValue::Real(f) => Val::Real(f),
            SqlValue::Text(s) => Val::Text(s),
            SqlValue::Blob(b) => Val::Blob(b),
        }
    }

    /// The value as SQLite stores it when no column type says otherwise
    /// (raw SQL bind values, SQL materializer parameters).
    pub fn to_sql(&self) -> SqlValue {
        match self {
            Val::Null => SqlValue::Null,
            Val::Bool(b) => SqlValue::Integer(*b as i64),
            Val::Int(i) | Val::Date(i) => SqlValue::Integer(*i),
            Val::Real(f) => SqlValue::Real(*f),
            Val::Text(s) => SqlValue::Text(s.clone()),
            Val::Blob(b) => SqlValue::Blob(b.clone()),
            Val::Json(j) => SqlValue::Text(j.to_string()),
        }
    }

    fn to_json_text(&self) -> Option<String> {
        Some(match self {
            Val::Null => "null".into(),
            Val::Bool(b) => b.to_string(),
            Val::Int(i) | Val::Date(i) => i.to_string(),
            Val::Real(f) => serde_json::Number::from_f64(*f)?.to_string(),
            Val::Text(s) => serde_json::Value::String(s.clone()).to_string(),
            Val::Json(j) => j.to_string(),
            Val::Blob(_) => return None,
        })
    }

    fn describe(&self) -> String {
        match self {
            Val::Null => "null".into(),
            Val::Bool(b) => format!("boolean {b}"),
            Val::Int(i) => format!("integer {i}"),
            Val::Real(f) => format!("number {f}"),
            Val::Text(s) => format!("text {s:?}"),
            Val::Blob(_) => "bytes".into(),
            Val::Date(_) => "a Date".into(),
            Val::Json(_) => "an array or object".into(),
        }
    }
}

/// Encodes `val` for storage in `column` of `table`.
pub fn encode(table: &str, column: &ColumnDef, val: &Val) -> Result<SqlValue> {
    use ColumnType as T;
    let ok = |v| Ok(v);
    match (column.ty, val) {
        (_, Val::Null) => ok(SqlValue::Null),
        (T::Text, Val::Text(s)) => ok(SqlValue::Text(s.clone())),
        (T::Integer | T::Datetime, Val::Int(i) | Val::Date(i)) => ok(SqlValue::Integer(*i)),
        (T::Integer | T::Datetime, Val::Real(f)) if f.fract() == 0.0 => ok(SqlValue::Integer(*f as i64)),
        (T::Integer, Val::Bool(b)) => ok(SqlValue::Integer(*b as i64)),
        (T::Real, Val::Int(i)) => ok(SqlValue::Real(*i as f64)),
        (T::Real, Val::Real(f)) => ok(SqlValue::Real(*f)),
        (T::Boolean, Val::Bool(b)) => ok(SqlValue::Integer(*b as i64)),
        (T::Boolean, Val::Int(i @ (0 | 1))) => ok(SqlValue::Integer(*i)),
        (T::Blob, Val::Blob(b)) => ok(SqlValue::Blob(b.clone())),
        (T::Json, v) => match v.to_json_text() {
            Some(text) => ok(SqlValue::Text(text)),
            None => Err(invalid(table, column, v)),
        },
        (_, v) => Err(invalid(table, column, v)),
    }
}

fn invalid(table: &str, column: &ColumnDef, v: &Val) -> Error {
    Error::InvalidValue {
        table: table.to_string(),
        column: column.name.clone(),
        message: format!("expected {}, got {}", column.ty.describe(), v.describe()),
    }
}

/// Decodes a stored value by its column type (`None`: an expression, as is).
pub fn decode(ty: Option<ColumnType>, v: &SqlValue) -> Val {
    match (ty, v) {
        (_, SqlValue::Null) => Val::Null,
        (Some(ColumnType::Boolean), SqlValue::Integer(i)) => Val::Bool(*i != 0),
        (Some(ColumnType::Datetime), SqlValue::Integer(i)) => Val::Date(*i),
        (Some(ColumnType::Datetime), SqlValue::Real(f)) => Val::Date(*f as i64),
        (Some(ColumnType::Json), SqlValue::Text(s)) => match serde_json::from_str(s) {
            Ok(j) => Val::Json(j),
            Err(_) => Val::Text(s.clone()),
        },
        (_, SqlValue::Integer(i)) => Val::Int(*i),
        (_, SqlValue::Real(f)) => Val::Real(*f),
        (_, SqlValue::Text(s)) => Val::Text(s.clone()),
        (_, SqlValue::Blob(b)) => Val::Blob(b.clone()),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use serde_json::json;

    fn col(ty: ColumnType) -> ColumnDef {
        ColumnDef { name: "c".into(), ty, primary_key: false, nullable: true, default: None }
    }

    #[test]
    fn round_trips_by_column_type() {
        let cases = [
            (ColumnType::Boolean, Val::Bool(true)),
            (ColumnType::Datetime, Val::Date(1_700_000_000_123)),
            (ColumnType::Json, Val::Json(json!({"a": [1, 2]}))),
            (ColumnType::Text, Val::Text("x".into())),
            (ColumnType::Real, Val::Real(1.5)),
            (ColumnType::Blob, Val::Blob(vec![1, 2])),
            (ColumnType::Integer, Val::Null),
        ];
        for (ty, v) in cases {
            let stored = encode("t", &col(ty), &v).unwrap();
            assert_eq!(decode(Some(ty), &stored), v, "{ty:?}");
        }
    }

    #[test]
    fn rejects_a_value_of_the_wrong_type() {
        let e = encode("todos", &col(ColumnType::Boolean), &Val::Text("yes".into())).unwrap_err();
        assert_eq!(e.to_string(), "invalid value for todos.c: expected a boolean, got text \"yes\"");
        assert!(encode("t", &col(ColumnType::Integer), &Val::Real(1.5)).is_err());
    }
}
