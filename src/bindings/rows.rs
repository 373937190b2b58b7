//! Query result rows to JS in one call: the cells go over as flat arrays
//! (a kind per cell, the numbers, all text in one string) that
//! `js/rows.js` turns into row objects. Setting each cell from Rust was a
//! call into JS and a string decode per cell: most of a query's time once
//! SQLite reads only the rows it returns.

use crate::db::QueryResult;
use crate::schema::ColumnType;
use crate::value::SqlValue;
use js_sys::Array;
use wasm_bindgen::prelude::*;

use super::convert::from_val;

#[wasm_bindgen(module = "/js/rows.js")]
extern "C" {
    /// See js/rows.js: `text` holds the column names, then the text cells;
    /// `ends` their end offsets (UTF-16); `others` the cells decoded here.
    #[wasm_bindgen(js_name = buildRows)]
    fn build_rows(width: u32, kinds: &[u8], numbers: &[f64], text: &str, ends: &[u32], others: &JsValue) -> Array;
}

/// A cell's kind, as js/rows.js reads it.
#[repr(u8)]
enum Kind {
    Null = 0,
    Number = 1,
    True = 2,
    False = 3,
    Text = 4,
    /// In `others`, decoded here (blobs, unusual values).
    Other = 5,
    /// JSON text, parsed in JS.
    Json = 6,
    /// Epoch milliseconds, a `Date` in JS.
    Date = 7,
}

#[derive(Default)]
struct Cells {
    kinds: Vec<u8>,
    numbers: Vec<f64>,
    text: String,
    ends: Vec<u32>,
    /// UTF-16 length of `text`.
    text_len: u32,
    others: Option<Array>,
}

impl Cells {
    fn text(&mut self, s: &str) {
        self.text.push_str(s);
        self.text_len += if s.is_ascii() { s.len() } else { s.encode_utf16().count() } as u32;
        self.ends.push(self.text_len);
    }

    fn number(&mut self, kind: Kind, n: f64) {
        self.kinds.push(kind as u8);
        self.numbers.push(n);
    }

    fn cell(&mut self, ty: Option<ColumnType>, v: &SqlValue) {
        use ColumnType as T;
        match (ty, v) {
            (_, SqlValue::Null) => self.kinds.push(Kind::Null as u8),
            (Some(T::Boolean), SqlValue::Integer(i)) => {
                self.kinds.push(if *i != 0 { Kind::True } else { Kind::False } as u8)
            }
            (Some(T::Datetime), SqlValue::Integer(i)) => self.number(Kind::Date, *i as f64),
            (Some(T::Datetime), SqlValue::Real(f)) => self.number(Kind::Date, (*f as i64) as f64),
            (_, SqlValue::Integer(i)) => self.number(Kind::Number, *i as f64),
            (_, SqlValue::Real(f)) => self.number(Kind::Number, *f),
            (Some(T::Json), SqlValue::Text(s)) => {
                self.kinds.push(Kind::Json as u8);
                self.text(s);
            }
            (_, SqlValue::Text(s)) => {
                self.kinds.push(Kind::Text as u8);
                self.text(s);
            }
            (_, v) => {
                self.kinds.push(Kind::Other as u8);
                self.others.get_or_insert_with(Array::new).push(&from_val(&crate::value::decode(ty, v)));
            }
        }
    }
}

/// The rows `from..to` of `r` as an array of objects keyed by column name.
pub fn rows_to_js(r: &QueryResult, from: usize, to: usize) -> Array {
    let rows = &r.rows[from..to];
    let width = r.columns.len();
    let mut cells = Cells {
        kinds: Vec::with_capacity(rows.len() * width),
        ends: Vec::with_capacity(width + rows.len() * width),
        ..Cells::default()
    };
    for c in r.columns.iter() {
        cells.text(&c.name);
    }
    for row in rows {
        for (col, v) in r.columns.iter().zip(row) {
            cells.cell(col.ty, v);
        }
    }
    let others = cells.others.map_or(JsValue::UNDEFINED, JsValue::from);
    build_rows(width as u32, &cells.kinds, &cells.numbers, &cells.text, &cells.ends, &others)
}
