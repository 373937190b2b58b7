//! The livestore-rs sync server: many stores, each one total order of events;
//! clients push (compare-and-append on the global sequence numbers) and pull
//! (paged, and live) over one WebSocket each. The wire protocol is
//! [`livestore_rs::protocol`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use livestore_rs_server::{Config, Server, SqliteStorage};
//! use std::sync::Arc;
//!
//! let storage = Arc::new(SqliteStorage::open("./data/sync.db")?);
//! let server = Server::new(Config::default(), storage).bind().await?;
//! println!("listening on {}", server.local_addr());
//! server.shutdown().await?; // or wait for a signal first
//! # Ok(()) }
//! ```
//!
//! HTTP routes: `GET /` is the WebSocket endpoint; `GET /health` answers
//! `ok` (for load balancers and scripts).

pub mod auth;
pub mod config;
mod conn;
mod hub;
pub mod storage;
pub mod validate;

pub use auth::{mint_token, Auth, AuthError, AuthRequest, Claims, OpenAuth, SharedSecretAuth};
pub use config::{Config, ConfigError};
pub use storage::{Append, MemoryStorage, SqliteStorage, Storage, StorageError};
pub use validate::{AcceptAll, EventValidator, PushContext};

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use hub::Hub;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// What every connection shares.
pub(crate) struct Shared {
    pub config: Config,
    pub hub: Hub,
    pub auth: Arc<dyn Auth>,
    pub validator: Arc<dyn EventValidator>,
    pub backend_id: String,
    pub conns: Arc<Semaphore>,
    pub shutdown: watch::Sender<bool>,
}

/// A server to start: settings, storage, auth check and validation hook.
pub struct Server {
    config: Config,
    storage: Arc<dyn Storage>,
    auth: Arc<dyn Auth>,
    validator: Arc<dyn EventValidator>,
}

impl Server {
    /// A server with open auth (anyone may connect) and no event validation.
    pub fn new(config: Config, storage: Arc<dyn Storage>) -> Server {
        Server { config, storage, auth: Arc::new(OpenAuth), validator: Arc::new(AcceptAll) }
    }

    /// The check run on each `hello`.
    pub fn auth(mut self, auth: impl Auth) -> Server {
        self.auth = Arc::new(auth);
        self
    }

    /// The hook run on each pushed event.
    pub fn validator(mut self, validator: impl EventValidator) -> Server {
        self.validator = Arc::new(validator);
        self
    }

    /// Validates the settings, binds `config.addr` and serves in a spawned
    /// task until [`RunningServer::shutdown`].
    pub async fn bind(self) -> Result<RunningServer, ServerError> {
        self.config.validate()?;
        let addr = self.config.addr;
        let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener.local_addr()?;
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let task = tokio::spawn(self.serve(listener, async move {
            let _ = stop_rx.wait_for(|&stop| stop).await;
        }));
        Ok(RunningServer { local_addr, stop: stop_tx, task })
    }

    /// Serves on `listener` until `shutdown` completes, then shuts down
    /// gracefully: stops accepting, lets every connection finish the request
    /// it is handling (a push in flight is stored and acknowledged), closes
    /// the connections with `GOING_AWAY` and waits for them (at most
    /// `config.shutdown_grace`).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        self.config.validate()?;
        let config = self.config;
        let max = config.max_connections;
        let shared = Arc::new(Shared {
            backend_id: self.storage.backend_id(),
            hub: Hub::new(self.storage),
            auth: self.auth,
            validator: self.validator,
            conns: Arc::new(Semaphore::new(max)),
            shutdown: watch::channel(false).0,
            config,
        });
        let app = Router::new()
            .route("/", get(ws_handler))
            .route("/health", get(|| async { "ok" }))
            .with_state(shared.clone());
        let addr = listener.local_addr()?;
        tracing::info!(%addr, backend_id = %shared.backend_id, "listening on {addr}");
        let signal_shared = shared.clone();
        // TCP_NODELAY: a connection's replies are small messages written one
        // after the other (live `events`, then `pushAck`); with Nagle's
        // algorithm the second waits for the client's delayed ACK (~40 ms on
        // Linux), which held every push's acknowledgment back by that much.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY: {e}");
            }
        });
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down: no new connections; finishing in-flight requests");
                signal_shared.shutdown.send_replace(true);
            })
            .await?;
        // Upgraded WebSocket connections are not tracked by axum: wait for
        // ours (each holds a permit until it has closed).
        let grace = shared.config.shutdown_grace;
        let all = u32::try_from(max).unwrap_or(u32::MAX);
        match tokio::time::timeout(grace, shared.conns.acquire_many(all)).await {
            Ok(_) => tracing::info!("all connections closed"),
            Err(_) => tracing::warn!(
                open = max - shared.conns.available_permits(),
                "connections still open after {grace:?}; stopping anyway"
            ),
        }
        Ok(())
    }
}

async fn ws_handler(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    let permit = shared.conns.clone().try_acquire_owned().ok();
    let max = shared.config.max_message_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_failed_upgrade(move |e| tracing::debug!(%peer, "WebSocket upgrade failed: {e}"))
        .on_upgrade(move |socket| conn::run(shared, socket, peer, permit))
}

/// A server serving in the background.
pub struct RunningServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl RunningServer {
    /// Where it listens (with the real port when `config.addr` had port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The WebSocket URL, `ws://ADDR/`.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.local_addr)
    }

    /// Shuts down gracefully (see [`Server::serve`]) and waits for it.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        self.stop.send_replace(true);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(ServerError::Io(std::io::Error::other(e))),
        }
    }
}
