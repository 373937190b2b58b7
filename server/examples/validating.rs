//! A sync server with an event validation hook: it refuses any event whose
//! `text` argument contains "forbidden". The refusal reaches the committing
//! app as an `EVENT_REJECTED` error and the event is rolled back there.
//!
//! ```text
//! cargo run -p livestore-rs-server --example validating -- 8787
//! ```

use livestore_rs_server::{Config, MemoryStorage, PushContext, Server};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map(|p| p.parse()).transpose()?.unwrap_or(8787);
    let config = Config { addr: ([127, 0, 0, 1], port).into(), ..Config::default() };
    let server = Server::new(config, Arc::new(MemoryStorage::new()))
        .validator(|_: &PushContext<'_>, event: &livestore_rs::EventRecord| {
            // Args are kept as JSON text; `value()` parses them.
            match event.args.value().get("text").and_then(|t| t.as_str()) {
                Some(text) if text.contains("forbidden") => Err(format!("'{text}' is not allowed here")),
                _ => Ok(()),
            }
        })
        .bind()
        .await?;
    println!("listening on ws://{}", server.local_addr());
    tokio::signal::ctrl_c().await?;
    server.shutdown().await?;
    Ok(())
}
