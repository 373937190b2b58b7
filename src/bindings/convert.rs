//! JsValue ⇄ core values and descriptors. Hand-written on js-sys: these run
//! on every commit and query.

use crate::db::QueryResult;
use crate::error::{Error, Result};
use crate::query::{Bind, ConflictAction, Op, OrderBy, QueryDesc, ResultKind, Where, WriteDesc};
use crate::schema::{ArgSchema, EventDef, Schema};
use crate::value::Val;
use js_sys::{Array, Date, Object, Reflect, Uint8Array};
use serde::Serialize;

use super::rows::rows_to_js;
use wasm_bindgen::{JsCast, JsValue};

/// `obj[key]`; keys are interned, so each is made into a JS string once.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(wasm_bindgen::intern(key))).unwrap_or(JsValue::UNDEFINED)
}

fn get_string(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

fn is_plain_object(v: &JsValue) -> bool {
    v.is_object()
        && !Array::is_array(v)
        && !v.is_instance_of::<Date>()
        && !v.is_instance_of::<Uint8Array>()
        && !v.is_function()
}

/// A JS value as encoded JSON (Dates → epoch ms). `path` names the
/// offending part in the error.
pub fn to_json(v: &JsValue, path: &mut String) -> Result<serde_json::Value, (String, String)> {
    use serde_json::Value as J;
    let fail = |path: &String, m: &str| Err((path.clone(), m.to_string()));
    // Most likely kinds first: each check is a call into JS.
    if let Some(s) = v.as_string() {
        return Ok(J::String(s));
    }
    if let Some(f) = v.as_f64() {
        return number(f).ok_or_else(|| (path.clone(), format!("{f} is not a finite number")));
    }
    if let Some(b) = v.as_bool() {
        return Ok(J::Bool(b));
    }
    if v.is_null() || v.is_undefined() {
        return Ok(J::Null);
    }
    if let Some(d) = v.dyn_ref::<Date>() {
        let ms = d.get_time();
        if ms.is_nan() {
            return fail(path, "is an invalid Date");
        }
        return Ok(J::from(ms as i64));
    }
    if Array::is_array(v) {
        let array: &Array = v.unchecked_ref();
        let mut out = Vec::with_capacity(array.length() as usize);
        for (i, item) in array.iter().enumerate() {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            out.push(to_json(&item, path)?);
            path.truncate(len);
        }
        return Ok(J::Array(out));
    }
    if is_plain_object(v) {
        let mut out = serde_json::Map::new();
        for key in Object::keys(v.unchecked_ref::<Object>()).iter() {
            let item = Reflect::get(v, &key).unwrap_or(JsValue::UNDEFINED);
            if item.is_undefined() {
                continue;
            }
            let key = key.as_string().unwrap_or_default();
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&key);
            let value = to_json(&item, path)?;
            path.truncate(len);
            out.insert(key, value);
        }
        return Ok(J::Object(out));
    }
    fail(path, "is not a JSON value (functions, symbols, bigints and bytes are not allowed)")
}

fn number(f: f64) -> Option<serde_json::Value> {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Some(serde_json::Value::from(f as i64))
    } else {
        serde_json::Number::from_f64(f).map(serde_json::Value::Number)
    }
}

/// A value the app passes for a column, a bind or a comparison.
pub fn to_val(v: &JsValue) -> Result<Val> {
    // Most likely kinds first: each check is a call into JS.
    if let Some(s) = v.as_string() {
        return Ok(Val::Text(s));
    }
    if let Some(f) = v.as_f64() {
        return Ok(if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
            Val::Int(f as i64)
        } else {
            Val::Real(f)
        });
    }
    if let Some(b) = v.as_bool() {
        return Ok(Val::Bool(b));
    }
    if v.is_null() || v.is_undefined() {
        return Ok(Val::Null);
    }
    if let Some(d) = v.dyn_ref::<Date>() {
        return Ok(Val::Date(d.get_time() as i64));
    }
    if let Some(bytes) = v.dyn_ref::<Uint8Array>() {
        return Ok(Val::Blob(bytes.to_vec()));
    }
    to_json(v, &mut String::new()).map(Val::Json).map_err(|(p, m)| Error::InvalidQuery(format!("value {p} {m}")))
}

pub fn from_val(v: &Val) -> JsValue {
    match v {
        Val::Null => JsValue::NULL,
        Val::Bool(b) => JsValue::from_bool(*b),
        Val::Int(i) => JsValue::from_f64(*i as f64),
        Val::Real(f) => JsValue::from_f64(*f),
        Val::Text(s) => JsValue::from_str(s),
        Val::Blob(b) => Uint8Array::from(&b[..]).into(),
        Val::Date(ms) => Date::new(&JsValue::from_f64(*ms as f64)).into(),
        Val::Json(j) => json_to_js(j, None),
    }
}

/// Event args to JS: through `JSON.parse` (one string crossing the
/// boundary, parsed natively) unless the schema has `Date`s to revive.
pub fn args_to_js(args: &crate::event::Args, def: &EventDef) -> JsValue {
    if def.args_have_dates {
        return json_to_js(&args.value(), Some(&def.schema));
    }
    js_sys::JSON::parse(args.text()).unwrap_or_else(|_| json_to_js(&args.value(), Some(&def.schema)))
}

/// Encoded JSON back to JS, with `Date`s where the schema has them.
pub fn json_to_js(v: &serde_json::Value, schema: Option<&ArgSchema>) -> JsValue {
    use serde_json::Value as J;
    let schema = match schema {
        Some(ArgSchema::Optional { inner } | ArgSchema::Nullable { inner }) => Some(&**inner),
        s => s,
    };
    match (v, schema) {
        (J::Number(n), Some(ArgSchema::Date)) => Date::new(&JsValue::from_f64(n.as_f64().unwrap_or(f64::NAN))).into(),
        (J::Array(items), s) => {
            let item_schema = match s {
                Some(ArgSchema::Array { items }) => Some(&**items),
                _ => None,
            };
            items.iter().map(|i| json_to_js(i, item_schema)).collect::<Array>().into()
        }
        (J::Object(map), s) => {
            let fields = match s {
                Some(ArgSchema::Struct { fields }) => Some(fields),
                _ => None,
            };
            let obj = Object::new();
            for (k, item) in map {
                let field = fields.and_then(|f| f.get(k));
                let _ = Reflect::set(&obj, &JsValue::from_str(k), &json_to_js(item, field));
            }
            obj.into()
        }
        (J::Null, _) => JsValue::NULL,
        (J::Bool(b), _) => JsValue::from_bool(*b),
        (J::Number(n), _) => JsValue::from_f64(n.as_f64().unwrap_or(f64::NAN)),
        (J::String(s), _) => JsValue::from_str(s),
    }
}

/// Event records (or what holds them) to JS, through JSON text and
/// `JSON.parse`: their args are JSON text that only serde_json writes out.
pub fn records_to_js<T: Serialize>(v: &T) -> JsValue {
    let text = serde_json::to_string(v).expect("event records serialize");
    js_sys::JSON::parse(&text).expect("serde_json writes JSON")
}

pub fn to_js_serde<T: Serialize>(v: &T) -> JsValue {
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::UNDEFINED)
}

/// Decoded result: rows, one row (or undefined), a count, or a document value.
pub fn result_to_js(r: &QueryResult, schema: &Schema) -> JsValue {
    use crate::query::Shape;
    match &r.shape {
        Shape::Count => JsValue::from_f64(r.count() as f64),
        Shape::Document { table, .. } => {
            let doc = schema.table(table).ok().and_then(|t| t.def.client_document.as_ref());
            json_to_js(&r.document(), doc.map(|d| &d.value_schema))
        }
        Shape::First if r.rows.is_empty() => JsValue::UNDEFINED,
        Shape::First => rows_to_js(r, 0, 1).get(0),
        Shape::Rows => rows_to_js(r, 0, r.rows.len()).into(),
    }
}

fn bind_of(v: &JsValue) -> Result<Bind> {
    if v.is_null() || v.is_undefined() {
        return Ok(Bind::None);
    }
    if Array::is_array(v) {
        let items: &Array = v.unchecked_ref();
        return Ok(Bind::Positional(items.iter().map(|i| to_val(&i)).collect::<Result<_>>()?));
    }
    Ok(Bind::Named(named_vals(v)?))
}

fn named_vals(v: &JsValue) -> Result<Vec<(String, Val)>> {
    if !v.is_object() || Array::is_array(v) {
        return Err(Error::InvalidQuery("expected an object of column values".into()));
    }
    Object::keys(v.unchecked_ref::<Object>())
        .iter()
        .map(|k| {
            let val = to_val(&Reflect::get(v, &k).unwrap_or(JsValue::UNDEFINED))?;
            Ok((k.as_string().unwrap_or_default(), val))
        })
        .collect()
}

fn required_string(obj: &JsValue, key: &str, what: &str) -> Result<String> {
    get_string(obj, key).ok_or_else(|| Error::InvalidQuery(format!("{what} needs a string '{key}'")))
}

/// A builder object or a plain descriptor: builders expose theirs as `desc`.
fn descriptor(v: &JsValue) -> JsValue {
    match get(v, "desc") {
        d if d.is_undefined() => v.clone(),
        d => d,
    }
}

pub fn query_desc(v: &JsValue) -> Result<QueryDesc> {
    let v = descriptor(v);
    match get_string(&v, "kind").as_deref() {
        Some("select") => {
            let table = required_string(&v, "table", "a query")?;
            let select = get(&v, "select");
            let select = if select.is_undefined() || select.is_null() {
                None
            } else {
                let cols: &Array = select
                    .dyn_ref()
                    .ok_or_else(|| Error::InvalidQuery("'select' must be an array of column names".into()))?;
                Some(cols.iter().map(|c| c.as_string().unwrap_or_default()).collect())
            };
            let order = get(&v, "orderBy");
            let mut order_by = Vec::new();
            if let Some(items) = order.dyn_ref::<Array>() {
                for item in items.iter() {
                    order_by.push(OrderBy {
                        column: required_string(&item, "column", "orderBy")?,
                        desc: get_string(&item, "direction").is_some_and(|d| d.eq_ignore_ascii_case("desc")),
                    });
                }
            }
            let int = |key: &str| -> Result<Option<i64>> {
                let x = get(&v, key);
                match x.as_f64() {
                    None if x.is_undefined() || x.is_null() => Ok(None),
                    Some(f) if f >= 0.0 && f.fract() == 0.0 => Ok(Some(f as i64)),
                    _ => Err(Error::InvalidQuery(format!("'{key}' must be a whole number ≥ 0"))),
                }
            };
            let result = match get_string(&v, "result").as_deref() {
                None | Some("rows") => ResultKind::Rows,
                Some("first") => ResultKind::First,
                Some("count") => ResultKind::Count,
                Some(other) => return Err(Error::InvalidQuery(format!("unknown result kind '{other}'"))),
            };
            Ok(QueryDesc::Select {
                table,
                select,
                filter: where_of(&get(&v, "where"))?,
                order_by,
                limit: int("limit")?,
                offset: int("offset")?,
                result,
            })
        }
        Some("sql") => Ok(QueryDesc::Sql {
            sql: required_string(&v, "sql", "a SQL query")?,
            bind: bind_of(&get(&v, "bind"))?,
            first: get_string(&v, "result").as_deref() == Some("first"),
        }),
        Some("document") => Ok(QueryDesc::Document {
            table: required_string(&v, "table", "a document query")?,
            id: get_string(&v, "id").unwrap_or_else(|| crate::query::SESSION_ID_PLACEHOLDER.into()),
        }),
        _ => Err(Error::InvalidQuery(
            "not a query: expected a query builder, queryDb(...) or { query: 'SELECT …' }".into(),
        )),
    }
}

pub fn where_of(v: &JsValue) -> Result<Option<Where>> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    if !is_plain_object(v) {
        return Err(Error::InvalidQuery("'where' must be an object".into()));
    }
    let mut parts = Vec::new();
    for key in Object::keys(v.unchecked_ref::<Object>()).iter() {
        let name = key.as_string().unwrap_or_default();
        let item = Reflect::get(v, &key).unwrap_or(JsValue::UNDEFINED);
        if item.is_undefined() {
            continue;
        }
        if name == "$and" || name == "$or" {
            let list: &Array =
                item.dyn_ref().ok_or_else(|| Error::InvalidQuery(format!("'{name}' must be an array")))?;
            let subs = list
                .iter()
                .map(|w| where_of(&w).map(|o| o.unwrap_or(Where::And(vec![]))))
                .collect::<Result<Vec<_>>>()?;
            parts.push(if name == "$and" { Where::And(subs) } else { Where::Or(subs) });
        } else if is_plain_object(&item) && !get(&item, "op").is_undefined() {
            let op = get_string(&item, "op")
                .ok_or_else(|| Error::InvalidQuery(format!("'op' of '{name}' must be a string")))?;
            parts.push(Where::Cmp { column: name, op: Op::parse(&op)?, value: to_val(&get(&item, "value"))? });
        } else {
            parts.push(Where::Cmp { column: name, op: Op::Eq, value: to_val(&item)? });
        }
    }
    Ok(Some(if parts.len() == 1 { parts.pop().unwrap() } else { Where::And(parts) }))
}

/// What a JS materializer returned: descriptor(s), SQL text, or an array.
pub fn writes_of(v: &JsValue, args: &crate::event::Args, out: &mut Vec<WriteDesc>) -> Result<()> {
    if v.is_undefined() || v.is_null() {
        return Ok(());
    }
    if let Some(sql) = v.as_string() {
        out.push(WriteDesc::Sql { sql, bind: crate::session::named_args(args) });
        return Ok(());
    }
    if let Some(items) = v.dyn_ref::<Array>() {
        for item in items.iter() {
            writes_of(&item, args, out)?;
        }
        return Ok(());
    }
    let d = descriptor(v);
    let table = || required_string(&d, "table", "a write");
    out.push(match get_string(&d, "kind").as_deref() {
        Some("insert") => {
            let oc = get(&d, "onConflict");
            let on_conflict = if oc.is_undefined() || oc.is_null() {
                None
            } else {
                let target = get(&oc, "target");
                let target = match target.as_string() {
                    Some(t) => vec![t],
                    None => target
                        .dyn_ref::<Array>()
                        .map(|a| a.iter().filter_map(|c| c.as_string()).collect())
                        .unwrap_or_default(),
                };
                let action = match get_string(&oc, "action").as_deref() {
                    Some("ignore") => ConflictAction::Ignore,
                    Some("replace") => ConflictAction::Replace,
                    Some("update") => ConflictAction::Update(named_vals(&get(&oc, "update"))?),
                    other => {
                        return Err(Error::InvalidQuery(format!(
                            "onConflict action must be 'ignore', 'replace' or 'update', got {other:?}"
                        )))
                    }
                };
                Some((target, action))
            };
            WriteDesc::Insert { table: table()?, values: named_vals(&get(&d, "values"))?, on_conflict }
        }
        Some("update") => WriteDesc::Update {
            table: table()?,
            set: named_vals(&get(&d, "set"))?,
            filter: where_of(&get(&d, "where"))?,
        },
        Some("delete") => WriteDesc::Delete { table: table()?, filter: where_of(&get(&d, "where"))? },
        Some("sql") => {
            let bind = get(&d, "bind");
            WriteDesc::Sql {
                sql: required_string(&d, "sql", "a SQL write")?,
                bind: if bind.is_undefined() { crate::session::named_args(args) } else { bind_of(&bind)? },
            }
        }
        _ => {
            return Err(Error::InvalidQuery(
                "a materializer must return table.insert/update/delete(...), SQL text, or an array of these".into(),
            ))
        }
    });
    Ok(())
}
