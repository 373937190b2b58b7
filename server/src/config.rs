//! Server settings with defaults, validated once at start.

use livestore_rs::protocol::Limits;
use std::net::SocketAddr;
use std::time::Duration;

/// What the server accepts and how long it waits. `Config::default()` is the
/// shipped default; [`Config::validate`] is called by the server at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen (default `127.0.0.1:8787`; port 0 picks a free one).
    pub addr: SocketAddr,
    /// Largest incoming message (one text frame), in bytes (default 1 MiB).
    pub max_message_bytes: usize,
    /// Most events in one push (default 1,000).
    pub max_batch_events: usize,
    /// Most events in one `events` page (default 1,000).
    pub max_pull_limit: usize,
    /// Most WebSocket connections open at once (default 1,000); the next one
    /// is closed with `SERVER_FULL`.
    pub max_connections: usize,
    /// Live `events` messages that may wait for one connection (default
    /// 1,024); a connection with more is closed as lagging.
    pub conn_queue: usize,
    /// Time a new connection has to send its `hello` (default 10 s).
    pub hello_timeout: Duration,
    /// A connection that sends nothing (not even a pong to the server's
    /// pings, sent every third of this) for this long is closed (default 60 s).
    pub idle_timeout: Duration,
    /// Longest wait for one message to be written to a client (default 10 s);
    /// a client that does not read is disconnected.
    pub send_timeout: Duration,
    /// On shutdown, how long to wait for connections to finish what they are
    /// doing and close (default 10 s).
    pub shutdown_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8787)),
            max_message_bytes: 1 << 20,
            max_batch_events: 1_000,
            max_pull_limit: 1_000,
            max_connections: 1_000,
            conn_queue: 1_024,
            hello_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            send_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

fn range(name: &str, value: usize, min: usize, max: usize) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError(format!("{name} must be between {min} and {max} (got {value})")));
    }
    Ok(())
}

fn duration(name: &str, value: Duration, min: Duration, max: Duration) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError(format!("{name} must be between {min:?} and {max:?} (got {value:?})")));
    }
    Ok(())
}

impl Config {
    /// Checks every setting; the error names the setting and its range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        range("max_message_bytes", self.max_message_bytes, 1024, 256 << 20)?;
        range("max_batch_events", self.max_batch_events, 1, 100_000)?;
        range("max_pull_limit", self.max_pull_limit, 1, 100_000)?;
        range("max_connections", self.max_connections, 1, 1_000_000)?;
        range("conn_queue", self.conn_queue, 1, 1_000_000)?;
        let ms = Duration::from_millis;
        let hour = Duration::from_secs(3600);
        duration("hello_timeout", self.hello_timeout, ms(10), hour)?;
        duration("idle_timeout", self.idle_timeout, ms(30), 24 * hour)?;
        duration("send_timeout", self.send_timeout, ms(10), hour)?;
        duration("shutdown_grace", self.shutdown_grace, Duration::ZERO, hour)?;
        Ok(())
    }

    /// The limits announced in `welcome`.
    pub fn limits(&self) -> Limits {
        Limits {
            max_message_bytes: self.max_message_bytes as u64,
            max_batch_events: self.max_batch_events as u32,
            max_pull_limit: self.max_pull_limit as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        Config::default().validate().unwrap();
        let bad = Config { max_batch_events: 0, ..Config::default() };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("max_batch_events") && err.contains("got 0"), "{err}");
        let bad = Config { idle_timeout: Duration::ZERO, ..Config::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("idle_timeout"));
    }
}
