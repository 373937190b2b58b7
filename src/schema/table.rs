//! Tables, columns and their SQL.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use super::args::ArgSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    Text,
    Integer,
    Real,
    Blob,
    Boolean,
    Json,
    Datetime,
}

impl ColumnType {
    /// The declared SQL type: it gives SQLite the right affinity and lets a
    /// raw SQL result column be decoded by its declared type.
    pub fn decl(self) -> &'static str {
        match self {
            ColumnType::Text => "TEXT",
            ColumnType::Integer => "INTEGER",
            ColumnType::Real => "REAL",
            ColumnType::Blob => "BLOB",
            ColumnType::Boolean => "BOOLEAN",
            ColumnType::Json => "JSON_TEXT",
            ColumnType::Datetime => "DATETIME",
        }
    }

    pub fn from_decl(decl: &str) -> Option<ColumnType> {
        Some(match decl {
            "BOOLEAN" => ColumnType::Boolean,
            "JSON_TEXT" => ColumnType::Json,
            "DATETIME" => ColumnType::Datetime,
            _ => return None,
        })
    }

    pub fn describe(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Integer => "an integer",
            ColumnType::Real => "a number",
            ColumnType::Blob => "bytes",
            ColumnType::Boolean => "a boolean",
            ColumnType::Json => "JSON",
            ColumnType::Datetime => "a Date",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnDef {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    #[serde(default)]
    pub primary_key: bool,
    #[serde(default)]
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexDef {
    pub name: String,
    pub columns: Vec<String>,
    #[serde(default)]
    pub unique: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientDocumentDef {
    pub default: serde_json::Value,
    pub value_schema: ArgSchema,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    #[serde(default)]
    pub indexes: Vec<IndexDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_document: Option<ClientDocumentDef>,
}

/// A checked table definition with its column lookup.
#[derive(Debug, Clone)]
pub struct Table {
    pub def: TableDef,
    by_name: HashMap<String, usize>,
    /// Index of the single primary-key column, if the key has one column.
    pub single_pk: Option<usize>,
}

pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

impl Table {
    pub fn new(def: TableDef) -> Result<Table> {
        let bad = |m: String| Err(Error::InvalidSchema(format!("table '{}': {m}", def.name)));
        if def.name.is_empty() {
            return Err(Error::InvalidSchema("a table needs a name".into()));
        }
        if def.name.starts_with("__livestore") || def.name.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("sqlite_")) {
            return bad("names starting with '__livestore' or 'sqlite_' are reserved".into());
        }
        let mut by_name = HashMap::new();
        for (i, c) in def.columns.iter().enumerate() {
            if by_name.insert(c.name.clone(), i).is_some() {
                return bad(format!("column '{}' is defined twice", c.name));
            }
            if let Some(d) = &c.default {
                if default_literal(c.ty, d).is_none() {
                    return bad(format!("default of column '{}' is not {}", c.name, c.ty.describe()));
                }
            }
        }
        let pks: Vec<usize> = (0..def.columns.len()).filter(|&i| def.columns[i].primary_key).collect();
        if pks.is_empty() {
            return bad("needs a primary key column (rows are tracked by key for rollback and sync)".into());
        }
        for index in &def.indexes {
            if let Some(c) = index.columns.iter().find(|c| !by_name.contains_key(*c)) {
                return bad(format!("index '{}' names unknown column '{c}'", index.name));
            }
        }
        let single_pk = (pks.len() == 1).then(|| pks[0]);
        Ok(Table { def, by_name, single_pk })
    }

    pub fn name(&self) -> &str {
        &self.def.name
    }

    pub fn column(&self, name: &str) -> Result<&ColumnDef> {
        self.by_name
            .get(name)
            .map(|&i| &self.def.columns[i])
            .ok_or_else(|| Error::UnknownColumn { table: self.def.name.clone(), column: name.to_string() })
    }

    pub fn columns(&self) -> &[ColumnDef] {
        &self.def.columns
    }

    /// `CREATE TABLE` and `CREATE INDEX` statements.
    pub fn create_sql(&self) -> String {
        let mut cols: Vec<String> = self
            .def
            .columns
            .iter()
            .map(|c| {
                let mut s = format!("{} {}", quote(&c.name), c.ty.decl());
                if !c.nullable && !c.primary_key {
                    s.push_str(" NOT NULL");
                }
                if let Some(lit) = c.default.as_ref().and_then(|d| default_literal(c.ty, d)) {
                    s.push_str(" DEFAULT ");
                    s.push_str(&lit);
                }
                s
            })
            .collect();
        let pk: Vec<String> = self.def.columns.iter().filter(|c| c.primary_key).map(|c| quote(&c.name)).collect();
        cols.push(format!("PRIMARY KEY ({})", pk.join(", ")));
        let mut sql = format!("CREATE TABLE {} ({});", quote(&self.def.name), cols.join(", "));
        for index in &self.def.indexes {
            let cols: Vec<String> = index.columns.iter().map(|c| quote(c)).collect();
            sql.push_str(&format!(
                "CREATE {}INDEX {} ON {} ({});",
                if index.unique { "UNIQUE " } else { "" },
                quote(&index.name),
                quote(&self.def.name),
                cols.join(", ")
            ));
        }
        sql
    }
}

/// The SQL literal of a column default, or `None` if it does not fit the type.
fn default_literal(ty: ColumnType, v: &serde_json::Value) -> Option<String> {
    use serde_json::Value as J;
    let text = |s: &str| format!("'{}'", s.replace('\'', "''"));
    Some(match (ty, v) {
        (_, J::Null) => "NULL".into(),
        (ColumnType::Json, v) => text(&v.to_string()),
        (ColumnType::Text, J::String(s)) => text(s),
        (ColumnType::Boolean, J::Bool(b)) => (*b as i64).to_string(),
        (ColumnType::Integer | ColumnType::Datetime, J::Number(n)) => n.as_i64()?.to_string(),
        (ColumnType::Real, J::Number(n)) => n.to_string(),
        _ => return None,
    })
}
