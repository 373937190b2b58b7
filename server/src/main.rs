//! `livestore-rs-server`: the sync server's command line.
//!
//! ```text
//! livestore-rs-server [--port 8787] [--data ./data/sync.db]      serve (the default)
//! livestore-rs-server token --store-id todos [--ttl 86400]        mint a token (needs the secret)
//! livestore-rs-server reset --data ./data/sync.db --yes           delete all events, new backend id
//! ```
//!
//! The secret comes from `--secret` or, better (not visible in `ps`), the
//! environment variable `LIVESTORE_RS_SECRET`. Without one the server runs
//! open (development only). Logs go to stderr; `RUST_LOG` filters them
//! (default `info`).

use clap::{Args, Parser, Subcommand};
use livestore_rs_server::{
    mint_token, Claims, Config, MemoryStorage, Server, SharedSecretAuth, SqliteStorage, Storage,
};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "livestore-rs-server",
    version,
    about = "The livestore-rs sync server",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Serve (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Mint a shared-secret token for one store (prints it on stdout).
    Token {
        /// The store the token opens.
        #[arg(long)]
        store_id: String,
        /// Lifetime in seconds; no expiry if absent.
        #[arg(long)]
        ttl: Option<u64>,
        #[arg(long, env = "LIVESTORE_RS_SECRET", hide_env_values = true)]
        secret: String,
    },
    /// Delete every store's events and make a new backend id (the server must be stopped).
    Reset {
        #[arg(long, default_value = "./data/sync.db")]
        data: PathBuf,
        /// Confirm.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port (0 picks a free one; the log says which).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// The SQLite file holding every store (created if missing).
    #[arg(long, default_value = "./data/sync.db", conflicts_with = "memory")]
    data: PathBuf,
    /// Keep everything in memory instead (lost when the server stops).
    #[arg(long)]
    memory: bool,
    /// Shared secret for tokens (at least 16 bytes); without one the server runs open.
    #[arg(long, env = "LIVESTORE_RS_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// Largest incoming message, in bytes.
    #[arg(long, default_value_t = Config::default().max_message_bytes)]
    max_message_bytes: usize,
    /// Most events in one push.
    #[arg(long, default_value_t = Config::default().max_batch_events)]
    max_batch_events: usize,
    /// Most events in one page of a pull.
    #[arg(long, default_value_t = Config::default().max_pull_limit)]
    max_pull_limit: usize,
    /// Most connections open at once.
    #[arg(long, default_value_t = Config::default().max_connections)]
    max_connections: usize,
    /// Live messages that may wait for one connection before it is closed as lagging.
    #[arg(long, default_value_t = Config::default().conn_queue)]
    conn_queue: usize,
    /// Seconds a new connection has to send its hello.
    #[arg(long, default_value_t = Config::default().hello_timeout.as_secs())]
    hello_timeout: u64,
    /// Seconds of silence (no message, no pong) after which a connection is closed.
    #[arg(long, default_value_t = Config::default().idle_timeout.as_secs())]
    idle_timeout: u64,
    /// Seconds a client has to read one message before it is disconnected.
    #[arg(long, default_value_t = Config::default().send_timeout.as_secs())]
    send_timeout: u64,
    /// Seconds to wait for connections to close on shutdown.
    #[arg(long, default_value_t = Config::default().shutdown_grace.as_secs())]
    shutdown_grace: u64,
}

impl ServeArgs {
    fn config(&self) -> Config {
        Config {
            addr: SocketAddr::new(self.host, self.port),
            max_message_bytes: self.max_message_bytes,
            max_batch_events: self.max_batch_events,
            max_pull_limit: self.max_pull_limit,
            max_connections: self.max_connections,
            conn_queue: self.conn_queue,
            hello_timeout: Duration::from_secs(self.hello_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            send_timeout: Duration::from_secs(self.send_timeout),
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Token { store_id, ttl, secret }) => {
            if let Err(e) = SharedSecretAuth::new(secret.as_bytes()) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            let exp = ttl.map(|ttl| {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
                now + ttl
            });
            println!("{}", mint_token(secret.as_bytes(), &Claims { store_id, exp }));
            ExitCode::SUCCESS
        }
        Some(Command::Reset { data, yes }) => {
            if !yes {
                eprintln!("error: this deletes every event in {}: add --yes to confirm", data.display());
                return ExitCode::from(2);
            }
            match SqliteStorage::open(&data).and_then(|s| s.reset().map(|()| s.backend_id())) {
                Ok(id) => {
                    eprintln!("reset {}: new backend id {id}", data.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Serve(args)) => serve(args),
        None => serve(cli.serve),
    }
}

fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn serve(args: ServeArgs) -> ExitCode {
    init_logging();
    let config = args.config();
    if let Err(e) = config.validate() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let storage: Arc<dyn Storage> = if args.memory {
        Arc::new(MemoryStorage::new())
    } else {
        match SqliteStorage::open(&args.data) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                eprintln!("error: cannot open {}: {e}", args.data.display());
                return ExitCode::FAILURE;
            }
        }
    };
    tracing::info!(backend_id = %storage.backend_id(), "storage: {}", storage.describe());
    let server = Server::new(config.clone(), storage);
    let server = match args.secret {
        Some(secret) => match SharedSecretAuth::new(secret.into_bytes()) {
            Ok(auth) => {
                tracing::info!("auth: shared-secret tokens (HMAC-SHA256)");
                server.auth(auth)
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => {
            tracing::warn!("!!! auth: OPEN — no secret configured (LIVESTORE_RS_SECRET / --secret): any client may read and write any store. For local development only. !!!");
            server
        }
    };
    tracing::info!(
        max_message_bytes = config.max_message_bytes,
        max_batch_events = config.max_batch_events,
        max_pull_limit = config.max_pull_limit,
        max_connections = config.max_connections,
        conn_queue = config.conn_queue,
        "limits"
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
        server.serve(listener, shutdown_signal()).await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}
