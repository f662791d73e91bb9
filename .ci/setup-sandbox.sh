#!/usr/bin/env bash
# Make both sandbox backends ready on a Debian/Ubuntu CI machine (idempotent):
# docker.io + bubblewrap + debootstrap, a running dockerd, and the sandbox image.
# The image's base rootfs is cached under $LLMBENCH_CACHE_DIR (default
# /var/cache/llmbench), outside the repository, so rebuilds skip the bootstrap.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export LLMBENCH_CACHE_DIR="${LLMBENCH_CACHE_DIR:-/var/cache/llmbench}"
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v openssl >/dev/null || missing+=(openssl)  # the TLS test makes a certificate
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (log: /tmp/dockerd.log)"
  $sudo sh -c 'nohup dockerd > /tmp/dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not come up:"; tail -20 /tmp/dockerd.log; exit 1; }
fi

$sudo mkdir -p "$LLMBENCH_CACHE_DIR"
py="${PYTHON:-python3}"
if ! "$py" -c "import pytest_llmbench" 2>/dev/null; then
  export PYTHONPATH="$here/src${PYTHONPATH:+:$PYTHONPATH}"
fi
# Builds only when the image is missing or the shipped Dockerfile changed.
"$py" -m pytest_llmbench.sandbox_cli build
"$py" -m pytest_llmbench.sandbox_cli status
