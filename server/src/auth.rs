//! Who may connect to which store: the [`Auth`] check run on each `hello`,
//! and the shipped checks: [`SharedSecretAuth`] (HMAC-SHA256 signed tokens)
//! and [`OpenAuth`] (anyone, for local development).
//!
//! Token format: `base64url(claims JSON) "." base64url(HMAC-SHA256(secret,
//! first part))`, base64url without padding, claims `{ "storeId": string,
//! "exp"?: unix seconds }`. [`mint_token`] (or `livestore-rs-server token`)
//! makes one.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use livestore_rs::protocol::ErrorCode;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a client presents in its `hello`.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    pub store_id: &'a str,
    pub client_id: &'a str,
    pub token: Option<&'a str>,
}

/// Why a `hello` was refused; `code` is sent to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AuthError {
    pub code: ErrorCode,
    pub message: String,
}

impl AuthError {
    pub fn unauthorized(message: impl Into<String>) -> AuthError {
        AuthError { code: ErrorCode::Unauthorized, message: message.into() }
    }

    pub fn store_mismatch(message: impl Into<String>) -> AuthError {
        AuthError { code: ErrorCode::StoreMismatch, message: message.into() }
    }
}

/// The check run on every `hello`. Keep it quick (it runs on the async
/// runtime); a check that needs I/O should cache.
pub trait Auth: Send + Sync + 'static {
    fn check(&self, request: &AuthRequest<'_>) -> Result<(), AuthError>;

    /// A short description for the start-up log.
    fn describe(&self) -> String;
}

/// Accepts everyone, for local development only.
pub struct OpenAuth;

impl Auth for OpenAuth {
    fn check(&self, _request: &AuthRequest<'_>) -> Result<(), AuthError> {
        Ok(())
    }

    fn describe(&self) -> String {
        "OPEN: no auth, any client may read and write any store (development only; set a secret to require tokens)"
            .into()
    }
}

/// The claims of a shared-secret token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// The one store the token opens.
    pub store_id: String,
    /// Expiry, in seconds since the Unix epoch; no expiry if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
}

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// A token for `claims`, signed with `secret`.
pub fn mint_token(secret: &[u8], claims: &Claims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let mut m = mac(secret);
    m.update(payload.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{payload}.{sig}")
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Tokens signed with one shared secret (see the module docs).
pub struct SharedSecretAuth {
    secret: Vec<u8>,
}

impl SharedSecretAuth {
    /// Fails if the secret is shorter than [`MIN_SECRET_BYTES`].
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<SharedSecretAuth, String> {
        let secret = secret.into();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!("the secret must have at least {MIN_SECRET_BYTES} bytes (got {})", secret.len()));
        }
        Ok(SharedSecretAuth { secret })
    }

    /// The claims of a well-signed, unexpired token.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, AuthError> {
        let (payload, sig) =
            token.split_once('.').ok_or_else(|| AuthError::unauthorized("malformed token (expected two parts)"))?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| AuthError::unauthorized("malformed token signature"))?;
        let mut m = mac(&self.secret);
        m.update(payload.as_bytes());
        // Constant-time comparison.
        m.verify_slice(&sig).map_err(|_| AuthError::unauthorized("bad token signature"))?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(payload)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| AuthError::unauthorized("malformed token claims"))?;
        if let Some(exp) = claims.exp {
            if now >= exp {
                return Err(AuthError::unauthorized(format!("the token expired at {exp} (now {now})")));
            }
        }
        Ok(claims)
    }
}

impl Auth for SharedSecretAuth {
    fn check(&self, request: &AuthRequest<'_>) -> Result<(), AuthError> {
        let token = request.token.ok_or_else(|| AuthError::unauthorized("a token is required"))?;
        let claims = self.verify(token, now_secs())?;
        if claims.store_id != request.store_id {
            return Err(AuthError::store_mismatch(format!(
                "the token is for store '{}', not '{}'",
                claims.store_id, request.store_id
            )));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        "shared-secret tokens (HMAC-SHA256)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn req<'a>(store: &'a str, token: Option<&'a str>) -> AuthRequest<'a> {
        AuthRequest { store_id: store, client_id: "c", token }
    }

    #[test]
    fn tokens_round_trip_and_are_checked() {
        let auth = SharedSecretAuth::new(SECRET).unwrap();
        let token = mint_token(SECRET, &Claims { store_id: "s".into(), exp: None });
        auth.check(&req("s", Some(&token))).unwrap();
        assert_eq!(auth.check(&req("other", Some(&token))).unwrap_err().code, ErrorCode::StoreMismatch);
        assert_eq!(auth.check(&req("s", None)).unwrap_err().code, ErrorCode::Unauthorized);
        assert_eq!(auth.check(&req("s", Some("garbage"))).unwrap_err().code, ErrorCode::Unauthorized);
        let forged = mint_token(b"another secret, just as long....", &Claims { store_id: "s".into(), exp: None });
        assert!(auth.check(&req("s", Some(&forged))).unwrap_err().message.contains("signature"));
        let expired = mint_token(SECRET, &Claims { store_id: "s".into(), exp: Some(100) });
        assert!(auth.verify(&expired, 100).unwrap_err().message.contains("expired"));
        assert!(auth.verify(&expired, 99).is_ok());
        // Tampered claims keep the old signature: refused.
        let (_, sig) = token.split_once('.').unwrap();
        let other = URL_SAFE_NO_PAD.encode(br#"{"storeId":"x"}"#);
        assert_eq!(auth.check(&req("x", Some(&format!("{other}.{sig}")))).unwrap_err().code, ErrorCode::Unauthorized);
        assert!(SharedSecretAuth::new(b"short".to_vec()).is_err());
    }
}
