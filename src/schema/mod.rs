//! The schema: tables (the state), event definitions (the write model) and
//! how each event is materialized. Built once from the app's descriptor.

mod args;
mod table;

pub use args::{ArgSchema, Mismatch};
pub use table::{quote, ClientDocumentDef, ColumnDef, ColumnType, IndexDef, Table, TableDef};

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// The schema as the app describes it (produced by the JS DSL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaDesc {
    pub tables: Vec<TableDef>,
    pub events: Vec<EventDesc>,
    #[serde(default)]
    pub materializers: BTreeMap<String, MaterializerDesc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDesc {
    pub name: String,
    #[serde(default)]
    pub client_only: bool,
    pub schema: ArgSchema,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MaterializerDesc {
    /// Raw SQL whose named parameters are bound from the event's args.
    Sql { sql: String },
    /// A function of the app's (called through `Materialize`); its source
    /// text only feeds the schema hash.
    Source { source: String },
}

/// How an event becomes SQL writes.
#[derive(Debug, Clone, PartialEq)]
pub enum Materializer {
    Sql(String),
    /// The app's function, called through the `Materialize` trait.
    External,
    /// The generated `set` event of a client document: merge into its value.
    ClientDocumentSet {
        table: String,
    },
}

#[derive(Debug, Clone)]
pub struct EventDef {
    pub name: String,
    pub client_only: bool,
    pub schema: ArgSchema,
    pub materializer: Materializer,
    /// `schema.has_date()`, asked once per event materialized.
    pub args_have_dates: bool,
}

#[derive(Debug, Clone)]
pub struct Schema {
    desc: SchemaDesc,
    tables: Vec<Table>,
    table_index: HashMap<String, usize>,
    events: HashMap<String, EventDef>,
    hash: String,
}

/// Name of the generated set event of a client document table.
pub fn client_document_event(table: &str) -> String {
    format!("{table}Set")
}

impl Schema {
    pub fn new(desc: SchemaDesc) -> Result<Schema> {
        let mut tables = Vec::new();
        let mut table_index = HashMap::new();
        for def in &desc.tables {
            let def = match &def.client_document {
                Some(_) => client_document_table(def)?,
                None => def.clone(),
            };
            if table_index.insert(def.name.clone(), tables.len()).is_some() {
                return Err(Error::InvalidSchema(format!("table '{}' is defined twice", def.name)));
            }
            tables.push(Table::new(def)?);
        }

        let mut events = HashMap::new();
        for e in &desc.events {
            let materializer = match desc.materializers.get(&e.name) {
                Some(MaterializerDesc::Sql { sql }) => Materializer::Sql(sql.clone()),
                Some(MaterializerDesc::Source { .. }) => Materializer::External,
                None => match client_document_of_event(&desc, &e.name) {
                    Some(table) => Materializer::ClientDocumentSet { table },
                    None => return Err(Error::InvalidSchema(format!("event '{}' has no materializer", e.name))),
                },
            };
            let def = EventDef {
                name: e.name.clone(),
                client_only: e.client_only,
                schema: e.schema.clone(),
                materializer,
                args_have_dates: e.schema.has_date(),
            };
            if events.insert(e.name.clone(), def).is_some() {
                return Err(Error::InvalidSchema(format!("event '{}' is defined twice", e.name)));
            }
        }
        // Client documents get their set event even when the app did not list it.
        for t in desc.tables.iter() {
            if let Some(doc) = &t.client_document {
                let name = client_document_event(&t.name);
                events.entry(name.clone()).or_insert_with(|| EventDef {
                    name,
                    client_only: true,
                    schema: client_document_set_args(doc),
                    materializer: Materializer::ClientDocumentSet { table: t.name.clone() },
                    args_have_dates: client_document_set_args(doc).has_date(),
                });
            }
        }
        if let Some(name) = desc.materializers.keys().find(|n| !events.contains_key(*n)) {
            return Err(Error::InvalidSchema(format!("materializer for unknown event '{name}'")));
        }

        let hash = hash_of(&desc);
        Ok(Schema { desc, tables, table_index, events, hash })
    }

    pub fn desc(&self) -> &SchemaDesc {
        &self.desc
    }

    /// Stable hash of tables, events and materializers: changes whenever the
    /// state would be materialized differently.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    pub fn table(&self, name: &str) -> Result<&Table> {
        self.table_index.get(name).map(|&i| &self.tables[i]).ok_or_else(|| Error::UnknownTable(name.to_string()))
    }

    pub fn event(&self, name: &str) -> Result<&EventDef> {
        self.events.get(name).ok_or_else(|| Error::UnknownEvent(name.to_string()))
    }

    /// All `CREATE` statements of the state.
    pub fn create_sql(&self) -> String {
        self.tables.iter().map(Table::create_sql).collect()
    }
}

fn client_document_of_event(desc: &SchemaDesc, event: &str) -> Option<String> {
    desc.tables
        .iter()
        .find(|t| t.client_document.is_some() && client_document_event(&t.name) == event)
        .map(|t| t.name.clone())
}

fn client_document_set_args(doc: &ClientDocumentDef) -> ArgSchema {
    ArgSchema::Struct {
        fields: BTreeMap::from([
            ("id".to_string(), ArgSchema::String),
            ("value".to_string(), doc.value_schema.partial()),
        ]),
    }
}

/// A client document is stored as `(id TEXT PRIMARY KEY, value JSON)`.
fn client_document_table(def: &TableDef) -> Result<TableDef> {
    let doc = def.client_document.as_ref().expect("client document");
    doc.value_schema.validate(&doc.default).map_err(|m| {
        Error::InvalidSchema(format!(
            "default of client document '{}' does not fit its schema{}: {}",
            def.name,
            if m.path.is_empty() { String::new() } else { format!(" at '{}'", m.path) },
            m.message
        ))
    })?;
    Ok(TableDef {
        name: def.name.clone(),
        columns: vec![
            ColumnDef { name: "id".into(), ty: ColumnType::Text, primary_key: true, nullable: false, default: None },
            ColumnDef {
                name: "value".into(),
                ty: ColumnType::Json,
                primary_key: false,
                nullable: false,
                default: None,
            },
        ],
        indexes: vec![],
        client_document: def.client_document.clone(),
    })
}

fn hash_of(desc: &SchemaDesc) -> String {
    let canonical = serde_json::to_vec(desc).expect("schema serializes");
    let digest = Sha256::digest(&canonical);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}
