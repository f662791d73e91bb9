#!/usr/bin/env bash
# Build llama.cpp's llama-server once per machine (cached outside the repository) for
# the `engine` tests. Idempotent: a cached binary makes this a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cmake >/dev/null || ! command -v c++ >/dev/null; then
  echo "installing cmake and a C++ compiler"
  apt-get update -q >/dev/null && apt-get install -y -q cmake g++ >/dev/null
fi
start=$(date +%s)
python tools/llama_server.py build -j "$(nproc)"
echo "llama-server ready in $(( $(date +%s) - start )) s"
