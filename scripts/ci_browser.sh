#!/usr/bin/env bash
# Make Debian's Chromium available for the web tests (Playwright drives /usr/bin/chromium; it
# never downloads a browser). Idempotent: does nothing when chromium is already installed.
#   scripts/ci_browser.sh && .venv/bin/python -m pytest tests/web -q
set -euo pipefail
log() { echo "ci_browser: $*" >&2; }

if [ -x /usr/bin/chromium ] && command -v chromedriver >/dev/null 2>&1; then
    log "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo unknown version)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    log "chromium missing and not root: apt-get install chromium chromium-driver"; exit 1
fi
log "installing chromium and chromium-driver (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-noto-cjk >&2
/usr/bin/chromium --version >&2 || true
