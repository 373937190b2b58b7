//! Query and write descriptors (what the query builder produces) and their SQL.

use crate::auto_index::{self, IndexHint};
use crate::error::{Error, Result};
use crate::schema::{quote, ColumnType, Schema, Table};
use crate::value::{encode, SqlValue, Val};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    In,
    NotIn,
    Like,
}

impl Op {
    pub fn parse(s: &str) -> Result<Op> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "=" | "==" => Op::Eq,
            "!=" | "<>" => Op::Ne,
            "<" => Op::Lt,
            ">" => Op::Gt,
            "<=" => Op::Le,
            ">=" => Op::Ge,
            "IN" => Op::In,
            "NOT IN" => Op::NotIn,
            "LIKE" => Op::Like,
            other => return Err(Error::InvalidQuery(format!("unknown operator '{other}'"))),
        })
    }

    fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::In => "IN",
            Op::NotIn => "NOT IN",
            Op::Like => "LIKE",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Where {
    And(Vec<Where>),
    Or(Vec<Where>),
    Cmp { column: String, op: Op, value: Val },
}

impl Where {
    pub fn eq(column: &str, value: Val) -> Where {
        Where::Cmp { column: column.into(), op: Op::Eq, value }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub column: String,
    pub desc: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    Rows,
    First,
    Count,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Bind {
    #[default]
    None,
    Positional(Vec<Val>),
    Named(Vec<(String, Val)>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum QueryDesc {
    Select {
        table: String,
        select: Option<Vec<String>>,
        filter: Option<Where>,
        order_by: Vec<OrderBy>,
        limit: Option<i64>,
        offset: Option<i64>,
        result: ResultKind,
    },
    Sql {
        sql: String,
        bind: Bind,
        first: bool,
    },
    Document {
        table: String,
        id: String,
    },
}

impl QueryDesc {
    /// `SELECT * FROM table` with the given filter, as rows.
    pub fn rows(table: &str, filter: Option<Where>) -> QueryDesc {
        QueryDesc::Select {
            table: table.into(),
            select: None,
            filter,
            order_by: vec![],
            limit: None,
            offset: None,
            result: ResultKind::Rows,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ConflictAction {
    Ignore,
    Replace,
    Update(Vec<(String, Val)>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteDesc {
    Insert { table: String, values: Vec<(String, Val)>, on_conflict: Option<(Vec<String>, ConflictAction)> },
    Update { table: String, set: Vec<(String, Val)>, filter: Option<Where> },
    Delete { table: String, filter: Option<Where> },
    Sql { sql: String, bind: Bind },
}

/// What a compiled query returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Rows,
    First,
    Count,
    /// A client document's value; the default when it has no row.
    Document {
        table: String,
        default: serde_json::Value,
    },
}

/// SQL ready to run: with positional params, or with a bind to resolve by
/// the statement's parameter names.
#[derive(Debug, Clone, PartialEq)]
pub struct Sql {
    pub text: String,
    pub params: Bind,
}

#[derive(Debug, Clone)]
pub struct CompiledQuery {
    pub sql: Sql,
    pub shape: Shape,
    /// Logical types of the result columns, when the builder knows them.
    pub column_types: Option<Vec<Option<ColumnType>>>,
    /// The table a builder query reads (raw SQL: found by running EXPLAIN).
    pub table: Option<String>,
    /// Primary-key filter `pk = value` ANDed at the top: only a change of
    /// that row can change the result.
    pub row_key: Option<String>,
    /// The index that would spare it a full scan (builder queries).
    pub index_hint: Option<IndexHint>,
}

/// A key for a primary-key value, comparable with the keys of row changes.
pub fn row_key(v: &SqlValue) -> String {
    match v {
        SqlValue::Null => "n".into(),
        SqlValue::Integer(i) => format!("i{i}"),
        SqlValue::Real(f) => format!("r{f}"),
        SqlValue::Text(s) => format!("t{s}"),
        SqlValue::Blob(b) => format!("b{b:?}"),
    }
}

pub fn compile_query(schema: &Schema, q: &QueryDesc, session_id: &str) -> Result<CompiledQuery> {
    match q {
        QueryDesc::Select { table, select, filter, order_by, limit, offset, result } => {
            let t = schema.table(table)?;
            let mut params = Vec::new();
            let mut column_types = Vec::new();
            let cols = match (result, select) {
                (ResultKind::Count, _) => "COUNT(*)".to_string(),
                (_, Some(cols)) => {
                    let mut out = Vec::new();
                    for c in cols {
                        column_types.push(Some(t.column(c)?.ty));
                        out.push(quote(c));
                    }
                    out.join(", ")
                }
                (_, None) => {
                    column_types.extend(t.columns().iter().map(|c| Some(c.ty)));
                    t.columns().iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ")
                }
            };
            let mut tail = String::new();
            if let Some(w) = filter {
                tail.push_str(" WHERE ");
                where_sql(t, w, &mut tail, &mut params)?;
            }
            if !order_by.is_empty() {
                let mut parts = Vec::new();
                for o in order_by {
                    t.column(&o.column)?;
                    parts.push(format!("{} {}", quote(&o.column), if o.desc { "DESC" } else { "ASC" }));
                }
                tail.push_str(" ORDER BY ");
                tail.push_str(&parts.join(", "));
            }
            let limit = if *result == ResultKind::First { Some(1) } else { *limit };
            if limit.is_some() || offset.is_some() {
                // The limit is a literal: SQLite plans with a bound LIMIT's value, so
                // binding one (even the same value) re-prepares the statement on every run.
                tail.push_str(&format!(" LIMIT {} OFFSET ?", limit.unwrap_or(-1)));
                params.push(Val::Int(offset.unwrap_or(0)));
            }
            let text = match (result, limit.is_some() || offset.is_some()) {
                (ResultKind::Count, true) => {
                    format!("SELECT COUNT(*) FROM (SELECT 1 FROM {}{tail})", quote(table))
                }
                _ => format!("SELECT {cols} FROM {}{tail}", quote(table)),
            };
            Ok(CompiledQuery {
                sql: Sql { text, params: Bind::Positional(params) },
                shape: match result {
                    ResultKind::Rows => Shape::Rows,
                    ResultKind::First => Shape::First,
                    ResultKind::Count => Shape::Count,
                },
                column_types: (*result != ResultKind::Count).then_some(column_types),
                table: Some(table.clone()),
                row_key: filter.as_ref().and_then(|w| pk_filter(t, w)),
                index_hint: auto_index::hint(t, filter.as_ref(), order_by, limit),
            })
        }
        QueryDesc::Sql { sql, bind, first } => Ok(CompiledQuery {
            sql: Sql { text: sql.clone(), params: bind.clone() },
            shape: if *first { Shape::First } else { Shape::Rows },
            column_types: None,
            table: None,
            row_key: None,
            index_hint: None,
        }),
        QueryDesc::Document { table, id } => {
            let t = schema.table(table)?;
            let Some(doc) = &t.def.client_document else {
                return Err(Error::InvalidQuery(format!("table '{table}' is not a client document")));
            };
            let id = resolve_session(id, session_id);
            Ok(CompiledQuery {
                sql: Sql {
                    text: format!("SELECT \"value\" FROM {} WHERE \"id\" = ?", quote(table)),
                    params: Bind::Positional(vec![Val::Text(id.to_string())]),
                },
                shape: Shape::Document { table: table.clone(), default: doc.default.clone() },
                column_types: Some(vec![Some(ColumnType::Json)]),
                table: Some(table.clone()),
                row_key: Some(row_key(&SqlValue::Text(id.to_string()))),
                index_hint: None,
            })
        }
    }
}

/// The id that stands for "this session's own document".
pub const SESSION_ID_PLACEHOLDER: &str = "__session__";

pub fn resolve_session<'a>(id: &'a str, session_id: &'a str) -> &'a str {
    if id == SESSION_ID_PLACEHOLDER {
        session_id
    } else {
        id
    }
}

/// Appends the SQL of `w` to `out`, its values to `params`.
pub(crate) fn where_sql(t: &Table, w: &Where, out: &mut String, params: &mut Vec<Val>) -> Result<()> {
    match w {
        Where::And(parts) | Where::Or(parts) if parts.is_empty() => {
            out.push_str(if matches!(w, Where::And(_)) { "1" } else { "0" });
        }
        Where::And(parts) | Where::Or(parts) => {
            let joiner = if matches!(w, Where::And(_)) { " AND " } else { " OR " };
            out.push('(');
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(joiner);
                }
                where_sql(t, p, out, params)?;
            }
            out.push(')');
        }
        Where::Cmp { column, op, value } => {
            let col = t.column(column)?;
            let name = quote(column);
            match (op, value) {
                (Op::Eq, Val::Null) => out.push_str(&format!("{name} IS NULL")),
                (Op::Ne, Val::Null) => out.push_str(&format!("{name} IS NOT NULL")),
                (Op::In | Op::NotIn, Val::Json(serde_json::Value::Array(items))) => {
                    if items.is_empty() {
                        out.push_str(if *op == Op::In { "0" } else { "1" });
                        return Ok(());
                    }
                    for item in items {
                        params.push(Val::from_sql(encode(t.name(), col, &Val::from_json(item))?));
                    }
                    let marks = vec!["?"; items.len()].join(", ");
                    out.push_str(&format!("{name} {} ({marks})", op.sql()));
                }
                (Op::In | Op::NotIn, _) => {
                    return Err(Error::InvalidQuery(format!("{} on '{column}' needs an array of values", op.sql())))
                }
                (Op::Like, Val::Text(pattern)) => {
                    params.push(Val::Text(pattern.clone()));
                    out.push_str(&format!("{name} LIKE ?"));
                }
                (Op::Like, _) => return Err(Error::InvalidQuery(format!("LIKE on '{column}' needs a text pattern"))),
                (op, v) => {
                    params.push(Val::from_sql(encode(t.name(), col, v)?));
                    out.push_str(&format!("{name} {} ?", op.sql()));
                }
            }
        }
    }
    Ok(())
}

/// The row key of a top-level `pk = value` conjunct, if any.
fn pk_filter(t: &Table, w: &Where) -> Option<String> {
    let pk = &t.columns()[t.single_pk?];
    match w {
        Where::Cmp { column, op: Op::Eq, value } if *column == pk.name && *value != Val::Null => {
            encode(t.name(), pk, value).ok().map(|v| row_key(&v))
        }
        Where::And(parts) => parts.iter().find_map(|p| pk_filter(t, p)),
        _ => None,
    }
}
