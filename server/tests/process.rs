//! The real binary: kill -9 in the middle of pushes and restart (nothing
//! acknowledged is lost, the log stays contiguous), SIGTERM (going-away
//! close, exit 0), the `token` subcommand, configuration errors.

mod common;

use common::*;
use livestore_rs::protocol::{close, ClientMessage, ServerMessage};
use livestore_rs::EventRecord;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_livestore-rs-server");

struct Proc {
    child: Child,
    url: String,
}

/// Starts the binary on an ephemeral port; the port is read from its log.
fn spawn(data: &Path, extra: &[&str]) -> Proc {
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--data"])
        .arg(data)
        .args(extra)
        .env("RUST_LOG", "info")
        .env_remove("LIVESTORE_RS_SECRET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the server binary starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining the log so the server never blocks on it.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or_default().to_string();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(20)).expect("the server logs its address");
    Proc { child, url: format!("ws://{addr}/") }
}

/// A small deterministic PRNG (xorshift), seeded per run and printed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_and_restart_mid_push_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sync.db");
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);
    // Every event ever pushed, by global (a batch in flight may or may not be stored).
    let mut pushed: HashMap<u64, EventRecord> = HashMap::new();
    let mut acked = 0u64;
    let mut backend = None;
    let rounds = 6;
    for round in 0..rounds {
        let mut proc = spawn(&data, &[]);
        let (mut c, welcome) = Client::hello(&proc.url, "crash", &format!("round{round}"), None).await;
        let head = head_of(&welcome);
        let id = backend_of(&welcome);
        assert_eq!(backend.get_or_insert(id.clone()), &id, "the backend id survives restarts");

        // Everything acknowledged is there, contiguous, as pushed.
        let log = c.pull_all(0).await;
        assert_eq!(globals(&log), (1..=head).collect::<Vec<_>>(), "contiguous log");
        assert!(head >= acked, "round {round}: head {head} < acknowledged {acked}");
        for e in &log {
            assert_eq!(Some(e), pushed.get(&e.seq_num.global), "stored as pushed");
        }
        if round > 0 {
            eprintln!("round {round}: restarted with head {head}");
        }
        pushed.retain(|g, _| *g <= head);
        acked = head;
        if round == rounds - 1 {
            let _ = proc.child.kill();
            break;
        }

        // Push batches back to back; kill -9 at a random moment.
        let kill_after = Duration::from_millis(50 + rng.below(250));
        let started = Instant::now();
        let mut next = head + 1;
        let mut in_flight = 0;
        loop {
            if started.elapsed() >= kill_after && in_flight == 0 {
                // Kill with a push in flight.
                let n = 1 + rng.below(20);
                let b = batch(next, n, &format!("round{round}"));
                pushed.extend(b.iter().map(|e| (e.seq_num.global, e.clone())));
                c.send(&ClientMessage::Push { batch: b }).await;
                in_flight = n;
                tokio::time::sleep(Duration::from_micros(rng.below(3000))).await;
                proc.child.kill().unwrap();
                proc.child.wait().unwrap();
                break;
            }
            let n = 1 + rng.below(20);
            let b = batch(next, n, &format!("round{round}"));
            pushed.extend(b.iter().map(|e| (e.seq_num.global, e.clone())));
            match c.push(b).await {
                ServerMessage::PushAck { head } => {
                    assert_eq!(head, next + n - 1);
                    acked = head;
                    next = head + 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // An answer may or may not have made it out before the kill.
        if let Got::Msg(ServerMessage::PushAck { head }) = c.next().await {
            acked = head;
        }
        eprintln!("round {round}: acknowledged up to {acked} (killed after {kill_after:?}, {in_flight} in flight)");
    }
    assert!(acked > 0);
}

#[tokio::test]
async fn sigterm_closes_connections_with_going_away_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sync.db");
    let mut proc = spawn(&data, &[]);
    let (mut c, _) = Client::hello(&proc.url, "s", "c", None).await;
    assert_eq!(c.push(batch(1, 2, "c")).await, ServerMessage::PushAck { head: 2 });
    let status = Command::new("kill").args(["-TERM", &proc.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert_eq!(c.closed(close::GOING_AWAY).await, "server shutting down");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = proc.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");

    // And the data is there after a restart.
    let mut proc = spawn(&data, &[]);
    let (mut c, welcome) = Client::hello(&proc.url, "s", "c", None).await;
    assert_eq!(head_of(&welcome), 2);
    assert_eq!(c.pull_all(0).await, batch(1, 2, "c"));
    let _ = proc.child.kill();
}

#[tokio::test]
async fn minted_tokens_open_a_server_started_with_the_secret() {
    let secret = "0123456789abcdef-test-secret";
    let out = Command::new(BIN)
        .args(["token", "--store-id", "todos", "--ttl", "600"])
        .env("LIVESTORE_RS_SECRET", secret)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();

    let dir = tempfile::tempdir().unwrap();
    let mut proc = spawn(&dir.path().join("sync.db"), &["--secret", secret]);
    let (mut c, _) = Client::hello(&proc.url, "todos", "c", Some(&token)).await;
    assert_eq!(c.push(batch(1, 1, "c")).await, ServerMessage::PushAck { head: 1 });
    let mut bad = Client::connect(&proc.url).await;
    bad.send(&hello("todos", "c", Some("x.y"))).await;
    bad.refused(livestore_rs::protocol::ErrorCode::Unauthorized, close::POLICY).await;
    let _ = proc.child.kill();
}

#[test]
fn bad_settings_are_refused_at_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["--port", "0", "--max-batch-events", "0", "--data"])
        .arg(dir.path().join("x.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("max_batch_events must be between 1 and 100000 (got 0)"), "{stderr}");

    let out = Command::new(BIN).args(["--port", "0", "--secret", "short", "--memory"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 16 bytes"));

    let out = Command::new(BIN).args(["reset", "--data"]).arg(dir.path().join("x.db")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
}
