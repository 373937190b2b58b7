//! Core errors as JS `Error` objects with a stable `code`.

use crate::error::Error;
use js_sys::Reflect;
use wasm_bindgen::JsValue;

pub fn to_js(e: &Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name("LiveStoreError");
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&err, &JsValue::from_str(k), &v);
    };
    set("code", JsValue::from_str(e.code()));
    if let Some(event) = e.event() {
        set("event", JsValue::from_str(event));
    }
    if let Error::InvalidEventArgs { path, .. } = e {
        set("field", JsValue::from_str(path));
    }
    err.into()
}

/// Converts a core result for returning across the boundary.
pub trait IntoJs<T> {
    fn js(self) -> Result<T, JsValue>;
}

impl<T> IntoJs<T> for crate::error::Result<T> {
    fn js(self) -> Result<T, JsValue> {
        self.map_err(|e| to_js(&e))
    }
}
