#!/usr/bin/env bash
# Installs Debian's source packages of the crates `rustexpert sft-data build` mines by default
# (librust-*-dev → /usr/share/cargo/registry/<crate>-<version>/). Needs root and apt.
set -euo pipefail
crates=(serde serde-json anyhow thiserror regex itertools rand log clap bytes once-cell memchr smallvec either
  bitflags hex base64 semver walkdir lazy-static indexmap crossbeam-channel tokio rayon hashbrown)
pkgs=()
for c in "${crates[@]}"; do pkgs+=("librust-$c-dev"); done
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "run as root on Debian/Ubuntu: apt-get install --no-install-recommends ${pkgs[*]}" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "crate sources in /usr/share/cargo/registry: $(ls /usr/share/cargo/registry | wc -l) crates"
