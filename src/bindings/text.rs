//! Long JS strings into Rust with one `TextEncoder.encodeInto` call.
//!
//! wasm-bindgen's own conversion copies the ASCII prefix of a string into wasm
//! memory a character at a time in JS: right for the short strings of most
//! calls, slow for a batch's JSON (a megabyte for W3's 10,000 writes). Past
//! `LONG` code units, the native encoder writes straight into the string's
//! buffer instead.

use js_sys::{JsString, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// From this many UTF-16 code units, a string is encoded natively.
const LONG: u32 = 4096;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = TextEncoder)]
    type Encoder;

    #[wasm_bindgen(constructor, js_class = "TextEncoder")]
    fn new() -> Encoder;

    #[wasm_bindgen(method, js_class = "TextEncoder", js_name = encodeInto)]
    fn encode_into(this: &Encoder, source: &JsString, destination: &Uint8Array) -> Encoded;

    type Encoded;

    #[wasm_bindgen(method, getter)]
    fn written(this: &Encoded) -> u32;
}

thread_local! {
    static ENCODER: Encoder = Encoder::new();
}

/// `v` as a Rust string, if it is a JS string (a lone surrogate becomes
/// U+FFFD, as with `JsValue::as_string`).
pub fn string_of(v: &JsValue) -> Option<String> {
    let s = v.dyn_ref::<JsString>()?;
    if s.length() < LONG {
        return v.as_string();
    }
    // At most 3 bytes of UTF-8 per UTF-16 code unit.
    let mut bytes = Vec::<u8>::with_capacity(s.length() as usize * 3);
    let written = ENCODER.with(|encoder| {
        // SAFETY: the view covers the vector's spare capacity and is used only
        // by this call, during which nothing allocates in wasm memory (so the
        // memory cannot grow and move under it).
        let view = unsafe { Uint8Array::view_mut_raw(bytes.as_mut_ptr(), bytes.capacity()) };
        encoder.encode_into(s, &view).written()
    });
    // SAFETY: the encoder wrote `written` bytes of UTF-8 at the start of the buffer.
    unsafe {
        bytes.set_len(written as usize);
        Some(String::from_utf8_unchecked(bytes))
    }
}
