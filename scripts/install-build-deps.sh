#!/usr/bin/env bash
# Installs what building needs beyond Go: a C compiler for SQLite (cgo). Safe to run again.
set -euo pipefail
if command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "a C compiler is needed to build SQLite support (cgo): install gcc (Debian: apt-get install gcc libc6-dev)" >&2
  exit 1
fi
echo "installing gcc for SQLite support (cgo)" >&2
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null
