//! Load generator for the sync server, used by the benchmark (`bench/`, W8):
//! `clients` WebSocket clients spread over `stores` stores, each speaking the
//! protocol of `livestore_rs::protocol` as a browser's leader does (hello,
//! live pull, then pushes on top of the head it knows), for `seconds`.
//!
//! ```text
//! cargo run --profile server -p livestore-rs-server --features loadgen --example loadgen -- \
//!     --url ws://127.0.0.1:8787 [--clients 100] [--stores 10] [--batch 1] [--seconds 5] [--warmup 1]
//! ```
//!
//! Every client keeps one push in flight: a batch of `batch` `v1.TodoCreated`
//! events numbered after the last event it has seen of its store. The server
//! appends a batch only on top of the store's head (compare-and-append), so
//! the clients of one store race: the winner gets `pushAck`, the others
//! `pushRejected` and push again on the new head, which the live pull has
//! already brought them (the protocol sends every event up to the rejection's
//! head before the rejection). Each client also receives every event of its
//! store, as a real client does.
//!
//! Prints one JSON object on stdout: events acknowledged per second over the
//! measured window (after `warmup` seconds), pushes acknowledged and
//! rejected, the time from sending a push to its `pushAck` (p50, p99), and
//! the events the clients received. Runs on one thread, so that it takes at
//! most one core from the server.

use futures_util::{SinkExt, StreamExt};
use livestore_rs::protocol::{ClientMessage, ServerMessage};
use livestore_rs::{EventRecord, SeqNum};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

struct Options {
    url: String,
    clients: usize,
    stores: usize,
    batch: u64,
    seconds: f64,
    warmup: f64,
    prefix: String,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        url: String::new(),
        clients: 100,
        stores: 10,
        batch: 1,
        seconds: 5.0,
        warmup: 1.0,
        prefix: format!("load-{}", std::process::id()),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--url" => o.url = value()?,
            "--clients" => o.clients = value()?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--stores" => o.stores = value()?.parse().map_err(|e| format!("--stores: {e}"))?,
            "--batch" => o.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--seconds" => o.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--warmup" => o.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--store-prefix" => o.prefix = value()?,
            "-h" | "--help" => {
                println!("loadgen --url ws://127.0.0.1:8787 [--clients 100] [--stores 10] [--batch 1] [--seconds 5] [--warmup 1] [--store-prefix load]");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if o.url.is_empty() {
        return Err("--url is required".into());
    }
    if o.clients == 0 || o.stores == 0 || o.batch == 0 || o.seconds <= 0.0 || o.warmup < 0.0 {
        return Err("--clients, --stores, --batch and --seconds must be positive".into());
    }
    Ok(o)
}

#[derive(Default)]
struct Tally {
    acked_events: u64,
    acked_pushes: u64,
    rejected_pushes: u64,
    received_events: u64,
    ack_latencies_us: Vec<u64>,
    errors: Vec<String>,
}

fn event(global: u64, client: &str, i: u64) -> EventRecord {
    EventRecord {
        seq_num: SeqNum { global, client: 0, rebase_generation: 0 },
        parent_seq_num: SeqNum { global: global - 1, client: 0, rebase_generation: 0 },
        name: "v1.TodoCreated".into(),
        args: serde_json::json!({ "id": format!("{client}-{i}"), "text": "todo loadgenload" }).into(),
        client_id: client.into(),
        session_id: format!("{client}-s"),
        client_only: false,
    }
}

/// One client: connects, says hello, pulls live, then pushes until `stop`;
/// counts only what happens while `measuring` is set.
async fn client(
    url: String,
    store: String,
    id: String,
    batch: u64,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Result<Tally, String> {
    let (mut ws, _) =
        tokio_tungstenite::connect_async(url.as_str()).await.map_err(|e| format!("{id}: connect: {e}"))?;
    let send = |m: &ClientMessage| Message::Text(serde_json::to_string(m).expect("serializes").into());
    ws.send(send(&ClientMessage::Hello {
        store_id: store.clone(),
        client_id: id.clone(),
        token: None,
        session_id: None,
        protocol_version: None,
    }))
    .await
    .map_err(|e| format!("{id}: send: {e}"))?;
    let mut t = Tally::default();
    let mut head = 0u64; // the last global of this store this client has seen
    let mut counter = 0u64;
    let mut in_flight: Option<Instant> = None;
    let mut welcomed = false;
    let mut live = false; // the catch-up pull answered (more: false)
    loop {
        if live && in_flight.is_none() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let events: Vec<EventRecord> = (0..batch)
                .map(|k| {
                    counter += 1;
                    event(head + 1 + k, &id, counter)
                })
                .collect();
            ws.send(send(&ClientMessage::Push { batch: events })).await.map_err(|e| format!("{id}: send: {e}"))?;
            in_flight = Some(Instant::now());
        }
        let msg = match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Err(_) => return Err(format!("{id}: no message for 30 s")),
            Ok(None) => return Err(format!("{id}: the server closed the connection")),
            Ok(Some(Err(e))) => return Err(format!("{id}: {e}")),
            Ok(Some(Ok(m))) => m,
        };
        let text = match msg {
            Message::Text(text) => text,
            Message::Close(frame) => return Err(format!("{id}: closed by the server: {frame:?}")),
            _ => continue,
        };
        let m: ServerMessage = serde_json::from_str(&text).map_err(|e| format!("{id}: bad message {text}: {e}"))?;
        let counting = measuring.load(Ordering::Relaxed);
        match m {
            ServerMessage::Welcome { head: h, .. } if !welcomed => {
                welcomed = true;
                head = h;
                ws.send(send(&ClientMessage::Pull { after: h, limit: None, live: true }))
                    .await
                    .map_err(|e| format!("{id}: send: {e}"))?;
            }
            ServerMessage::Events { events, more, .. } => {
                if let Some(last) = events.last() {
                    head = head.max(last.seq_num.global);
                }
                if counting {
                    t.received_events += events.len() as u64;
                }
                if !more {
                    live = true;
                }
            }
            ServerMessage::PushAck { head: h } => {
                let sent = in_flight.take().ok_or_else(|| format!("{id}: pushAck without a push"))?;
                head = head.max(h);
                if counting {
                    t.acked_events += batch;
                    t.acked_pushes += 1;
                    t.ack_latencies_us.push(sent.elapsed().as_micros() as u64);
                }
            }
            ServerMessage::PushRejected { head: h } => {
                in_flight.take().ok_or_else(|| format!("{id}: pushRejected without a push"))?;
                // Every event up to `h` came before this answer (protocol rule).
                if head < h {
                    return Err(format!("{id}: rejected at head {h} but only saw {head}"));
                }
                if counting {
                    t.rejected_pushes += 1;
                }
            }
            ServerMessage::Error { code, message, .. } => {
                return Err(format!("{id}: server error {code}: {message}"));
            }
            other => return Err(format!("{id}: unexpected {other:?}")),
        }
    }
    let _ = ws.close(None).await;
    Ok(t)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

fn main() -> std::process::ExitCode {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let measuring = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for i in 0..o.clients {
            let store = format!("{}-{}", o.prefix, i % o.stores);
            tasks.push(tokio::spawn(client(
                o.url.clone(),
                store,
                format!("c{i}"),
                o.batch,
                measuring.clone(),
                stop.clone(),
            )));
        }
        tokio::time::sleep(Duration::from_secs_f64(o.warmup)).await;
        measuring.store(true, Ordering::Relaxed);
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(o.seconds)).await;
        measuring.store(false, Ordering::Relaxed);
        let elapsed = t0.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let mut all = Tally::default();
        for task in tasks {
            match task.await {
                Ok(Ok(t)) => {
                    all.acked_events += t.acked_events;
                    all.acked_pushes += t.acked_pushes;
                    all.rejected_pushes += t.rejected_pushes;
                    all.received_events += t.received_events;
                    all.ack_latencies_us.extend(t.ack_latencies_us);
                }
                Ok(Err(e)) => all.errors.push(e),
                Err(e) => all.errors.push(format!("task: {e}")),
            }
        }
        all.ack_latencies_us.sort_unstable();
        let out = serde_json::json!({
            "clients": o.clients,
            "stores": o.stores,
            "batch": o.batch,
            "seconds": elapsed,
            "ackedEvents": all.acked_events,
            "ackedEventsPerS": all.acked_events as f64 / elapsed,
            "ackedPushes": all.acked_pushes,
            "rejectedPushes": all.rejected_pushes,
            "receivedEventsPerS": all.received_events as f64 / elapsed,
            "ackLatencyP50Ms": percentile(&all.ack_latencies_us, 50.0) / 1000.0,
            "ackLatencyP99Ms": percentile(&all.ack_latencies_us, 99.0) / 1000.0,
            "errors": all.errors,
        });
        println!("{out}");
        if out["errors"].as_array().is_some_and(|e| !e.is_empty()) {
            std::process::ExitCode::FAILURE
        } else {
            std::process::ExitCode::SUCCESS
        }
    })
}
