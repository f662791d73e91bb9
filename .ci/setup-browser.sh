#!/usr/bin/env bash
# Headless Chromium for the HTML report test (Debian's package; no browser download).
set -euo pipefail
if ! command -v chromium >/dev/null; then
  sudo=""; [ "$(id -u)" != 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium
fi
chromium --version
