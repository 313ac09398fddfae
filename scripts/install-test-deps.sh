#!/usr/bin/env bash
# Installs what the test suite needs beyond Go: Node packages from the lockfile (playwright-core,
# htmx) and Debian's Chromium, which the browser test drives. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "installing Node.js and npm from Debian" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if ! command -v chromium >/dev/null; then
  echo "installing Debian's chromium for the browser test" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v rustc >/dev/null; then
  echo "rustc is missing: the starter-sheet test compiles its snippets with it; install Rust (rustup or Debian's rustc)" >&2
  exit 1
fi
