"""Build the Docker sandbox image from the shipped Dockerfile.

When ``debian:bookworm-slim`` is present locally (pulled by a user with a registry) it
is the base; otherwise the base is bootstrapped locally (``debootstrap
--variant=minbase`` + ``docker import``) and its rootfs tarball cached outside the
checkout, so a rebuild skips the bootstrap. Nothing is ever pulled.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._docker_client import HOW_TO, LABEL, _client, default_image
from .interface import SandboxUnavailable

IMAGE_DIR = Path(__file__).parent / "image"
REGISTRY_BASE = "debian:bookworm-slim"
LOCAL_BASE = "llmbench-base:bookworm"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def cache_dir() -> Path:
    return Path(os.environ.get("LLMBENCH_CACHE_DIR") or "/var/cache/llmbench")


def dockerfile_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(IMAGE_DIR.iterdir()):
        if p.is_file():
            h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def apt_mirror() -> str:
    """The Debian mirror apt on this machine uses (deb822 or one-line sources)."""
    env = os.environ.get("LLMBENCH_DEBIAN_MIRROR")
    if env:
        return env
    files = [Path("/etc/apt/sources.list")]
    d = Path("/etc/apt/sources.list.d")
    if d.is_dir():
        files += sorted(d.iterdir())
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            urls = []
            if words[0] == "URIs:":
                urls = words[1:]
            elif words[0] == "deb":
                urls = [w for w in words[1:] if "://" in w][:1]
            for u in urls:
                if u.rstrip("/").endswith("/debian") and "security" not in u:
                    return u.rstrip("/")
    return DEFAULT_MIRROR


def _has_image(client: Any, name: str) -> bool:
    try:
        client.images.get(name)
        return True
    except Exception:
        return False


def bootstrap_base(client: Any, log: Callable[[str], None]) -> str:
    """Import the cached rootfs tarball as LOCAL_BASE, debootstrapping it if needed."""
    cache = cache_dir()
    tarball = cache / f"base-{SUITE}-minbase.tar"
    if not tarball.exists():
        if shutil.which("debootstrap") is None:
            raise SandboxUnavailable(
                "sandbox build: no base image and no debootstrap; apt-get install debootstrap"
            )
        cache.mkdir(parents=True, exist_ok=True)
        root = cache / f"rootfs-{SUITE}.tmp"
        shutil.rmtree(root, ignore_errors=True)
        mirror = apt_mirror()
        log(f"debootstrap --variant=minbase {SUITE} from {mirror} ...")
        t0 = time.monotonic()
        subprocess.run(
            ["debootstrap", "--variant=minbase", SUITE, str(root), mirror],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tmp = tarball.with_suffix(".tar.tmp")
        subprocess.run(
            ["tar", "-C", str(root), "--numeric-owner", "-cf", str(tmp), "."], check=True
        )
        tmp.rename(tarball)
        shutil.rmtree(root, ignore_errors=True)
        log(f"  rootfs cached at {tarball} ({time.monotonic() - t0:.0f} s)")
    log(f"docker import {tarball} {LOCAL_BASE}")
    client.api.import_image(src=str(tarball), repository=LOCAL_BASE.split(":")[0], tag=SUITE)
    return LOCAL_BASE


def build_image(
    image: str | None = None,
    *,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Build the sandbox image if it is missing or its Dockerfile changed."""
    client = _client(timeout=600)
    name = image or default_image()
    digest = dockerfile_digest()
    try:
        current = client.images.get(name)
        if not force and current.labels.get(f"{LABEL}.dockerfile") == digest:
            log(f"{name} is up to date ({current.short_id})")
            return {"image": name, "id": current.id, "built": False, "seconds": 0.0}
    except Exception:
        pass
    t0 = time.monotonic()
    # Never pull: a user with a registry has (or can `docker pull`) the Debian image.
    base_env = os.environ.get("LLMBENCH_SANDBOX_BASE")
    if base_env:
        base = base_env
    elif _has_image(client, REGISTRY_BASE):
        base = REGISTRY_BASE
    elif _has_image(client, LOCAL_BASE):
        base = LOCAL_BASE
    else:
        base = bootstrap_base(client, log)
    log(f"building {name} on {base} (apt inside the build) ...")
    lines = client.api.build(
        path=str(IMAGE_DIR),
        tag=name,
        buildargs={"BASE": base},
        labels={f"{LABEL}.dockerfile": digest},
        rm=True,
        forcerm=True,
        decode=True,
    )
    last = time.monotonic()
    for chunk in lines:
        if "error" in chunk:
            raise SandboxUnavailable(f"sandbox build failed: {chunk['error'].strip()}")
        text = str(chunk.get("stream", "")).strip()
        if text.startswith("Step "):
            log("  " + text[:120])
            last = time.monotonic()
        elif text and time.monotonic() - last > 15:  # a sign of life during apt
            log("    ... " + text.splitlines()[-1][:100])
            last = time.monotonic()
    img = client.images.get(name)
    secs = time.monotonic() - t0
    log(f"built {name} ({img.short_id}) in {secs:.0f} s")
    return {"image": name, "id": img.id, "built": True, "seconds": round(secs, 1)}


def image_status(image: str | None = None) -> dict[str, Any]:
    """What `llmbench sandbox status` reports: daemon, image, bwrap."""
    name = image or default_image()
    info: dict[str, Any] = {"image": name, "docker": None, "image_id": None, "stale": None}
    try:
        client = _client(timeout=10)
        info["docker"] = str(client.version().get("Version", "?"))
        try:
            img = client.images.get(name)
            info["image_id"] = img.short_id
            info["stale"] = img.labels.get(f"{LABEL}.dockerfile") != dockerfile_digest()
        except Exception:
            pass
        client.close()
    except SandboxUnavailable as exc:
        info["docker_error"] = str(exc)
    info["bwrap"] = shutil.which("bwrap")
    info["how_to"] = HOW_TO
    return info
