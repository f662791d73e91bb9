"""Build (once per machine) and locate llama.cpp's `llama-server`.

The sources come from the `llama-cpp-python` sdist on PyPI, which vendors llama.cpp
(`vendor/llama.cpp`, server included). The binary is cached outside the repository:

    $LLMBENCH_LLAMA_CACHE (default /var/cache/llmbench)/llama.cpp-<version>/bin/llama-server

Usage:
    python tools/llama_server.py build [--sdist FILE]   # build unless cached; prints the path
    python tools/llama_server.py path                   # prints the cached path or exits 1

`LLMBENCH_LLAMA_SERVER=/path/to/llama-server` bypasses the cache entirely.
Stdlib only: the test conftest imports this file by path.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# Pinned so the cache key is stable and CI builds the same server everywhere.
VERSION = "0.3.36"
ENV_BINARY = "LLMBENCH_LLAMA_SERVER"
ENV_CACHE = "LLMBENCH_LLAMA_CACHE"
CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    # A static binary can be copied into the cache without its build tree.
    "-DBUILD_SHARED_LIBS=OFF",
]


def cache_root() -> Path:
    return Path(os.environ.get(ENV_CACHE, "/var/cache/llmbench"))


def cached_binary(version: str = VERSION) -> Path:
    return cache_root() / f"llama.cpp-{version}" / "bin" / "llama-server"


def find() -> Path | None:
    """The server binary from the env var or the cache, or None when neither has it."""
    env = os.environ.get(ENV_BINARY)
    if env:
        p = Path(env)
        return p if p.is_file() and os.access(p, os.X_OK) else None
    p = cached_binary()
    return p if p.is_file() and os.access(p, os.X_OK) else None


def _log(msg: str) -> None:
    print(f"[llama-server] {msg}", file=sys.stderr, flush=True)


def _download_sdist(dest: Path, version: str) -> Path:
    subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            "--dest", str(dest), f"llama-cpp-python=={version}",
        ],
        check=True,
    )  # fmt: skip
    found = sorted(dest.glob("llama_cpp_python-*.tar.gz"))
    if not found:
        raise RuntimeError(f"pip download left no sdist in {dest}")
    return found[0]


@contextlib.contextmanager
def _build_lock(version: str) -> Iterator[None]:
    """One build per machine: parallel test workers wait for the first one."""
    lock = cache_root() / f"llama.cpp-{version}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build(sdist: Path | None = None, version: str = VERSION, jobs: int = 2) -> Path:
    """Build llama-server into the cache unless it is already there; return its path."""
    with _build_lock(version):
        return _build_locked(sdist, version, jobs)


def _build_locked(sdist: Path | None, version: str, jobs: int) -> Path:
    target = cached_binary(version)
    if target.is_file():
        _log(f"cached: {target}")
        return target
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="llama-build-") as tmp:
        work = Path(tmp)
        if sdist is None:
            _log(f"downloading llama-cpp-python=={version} sdist")
            sdist = _download_sdist(work, version)
        _log(f"unpacking {sdist.name}")
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if "/vendor/llama.cpp/" in m.name]
            if hasattr(tarfile, "data_filter"):
                tar.extractall(work, members=members, filter="data")
            else:  # Python < 3.10.12 / 3.11.4
                tar.extractall(work, members=members)
        (src,) = work.glob("llama_cpp_python-*/vendor/llama.cpp")
        build_dir = work / "build"
        _log("configuring")
        subprocess.run(["cmake", "-S", str(src), "-B", str(build_dir), *CMAKE_FLAGS], check=True)
        _log(f"compiling with -j{jobs}")
        subprocess.run(
            ["cmake", "--build", str(build_dir), "--target", "llama-server", f"-j{jobs}"],
            check=True,
        )
        (built,) = build_dir.glob("bin/llama-server")
        # Copy to a temporary name first so a concurrent reader never sees half a file.
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        shutil.copy2(built, partial)
        partial.replace(target)
    _log(f"built {target} in {time.monotonic() - start:.0f} s")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build llama-server unless cached")
    b.add_argument("--sdist", type=Path, help="use this llama-cpp-python sdist, skip download")
    b.add_argument("-j", "--jobs", type=int, default=2)
    sub.add_parser("path", help="print the server path, exit 1 if absent")
    args = ap.parse_args(argv)
    if args.cmd == "path":
        found = find()
        if found is None:
            return 1
        print(found)
        return 0
    if os.environ.get(ENV_BINARY):
        found = find()
        if found is None:
            _log(f"{ENV_BINARY}={os.environ[ENV_BINARY]} is not an executable file")
            return 1
        print(found)
        return 0
    print(build(args.sdist, jobs=args.jobs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
