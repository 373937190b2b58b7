# Sourced by the scripts in this folder: repo root, PATH, logging.
# shellcheck shell=bash

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

# cargo-installed tools (wasm-bindgen, wasm-bindgen-test-runner) live here.
if [ -d "${CARGO_HOME:-$HOME/.cargo}/bin" ]; then
  PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
export PATH

# Never let a tool download a browser or a driver.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# The Debian chromium and chromedriver (packages `chromium`, `chromium-driver`).
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"

CARGO_TARGET_DIR_RESOLVED="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }
