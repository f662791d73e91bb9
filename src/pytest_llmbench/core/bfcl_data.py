"""BFCL's data: the release and categories used, fetching the ``bfcl-eval`` wheel into the
data cache, reading its entries and possible answers (see core.bfcl)."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Literal

# The release the fidelity corpus (tests/data/bfcl_corpus.json) was labelled with.
BFCL_VERSION = "2026.3.23"
FETCH_HINT = "llmbench datasets fetch bfcl"
ENV_DIR = "LLMBENCH_DATA_DIR"

# BFCL's single-turn categories: (name, live?)
CATEGORIES: dict[str, bool] = {
    "simple_python": False,
    "simple_java": False,
    "simple_javascript": False,
    "multiple": False,
    "parallel": False,
    "parallel_multiple": False,
    "irrelevance": False,
    "live_simple": True,
    "live_multiple": True,
    "live_parallel": True,
    "live_parallel_multiple": True,
    "live_irrelevance": True,
    "live_relevance": True,
}
Category = Literal[
    "simple_python",
    "simple_java",
    "simple_javascript",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
    "live_relevance",
]


# Entries of BFCL_VERSION for which no answer built from the possible answers passes,
# in BFCL's checker as in ours, nor any of the corpus's near misses (a required
# parameter whose only possible answer is "omit" or an empty list, a parameter the
# function does not declare, a list of Java strings holding numbers or booleans). The
# pack leaves them out; BFCL's aggregates in the summary count them as failed, as the
# leaderboard does. tests/unit/test_bfcl_pack.py checks this list against the data,
# tests/unit/test_bfcl_fidelity.py against the official verdicts.
UNSATISFIABLE: dict[str, tuple[str, ...]] = {
    "simple_java": ("simple_java_36", "simple_java_65"),
    "live_simple": ("live_simple_106-63-0", "live_simple_112-68-0"),
    "live_multiple": (
        "live_multiple_507-149-4",
        "live_multiple_862-181-3",
        "live_multiple_964-207-0",
    ),
}


class DataMissing(Exception):  # noqa: N818 - reads better in messages
    """The dataset has not been fetched (or the cache holds something unreadable)."""


# --------------------------------------------------------------------------- cache, fetch


def data_dir() -> Path:
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-llmbench" / "datasets"


def wheel_path(root: Path | None = None) -> Path | None:
    """The newest fetched bfcl-eval wheel, if any."""
    d = (root or data_dir()) / "bfcl"
    wheels = sorted(d.glob("bfcl_eval-*.whl"), key=lambda p: _version_key(p.name))
    return wheels[-1] if wheels else None


def _version_key(name: str) -> tuple[int, ...]:
    m = re.match(r"bfcl_eval-([0-9.]+)-", name)
    return tuple(int(x) for x in m.group(1).split(".") if x) if m else ()


def fetch(root: Path | None = None, version: str = BFCL_VERSION) -> Path:
    """Download the bfcl-eval wheel, without dependencies, into the cache (pip's own
    download, so its index settings, proxies and certificates apply)."""
    dest = (root or data_dir()) / "bfcl"
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--quiet",
            "--dest",
            tmp,
            f"bfcl-eval=={version}" if version else "bfcl-eval",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DataMissing(f"pip download bfcl-eval failed: {last[0]}")
        got = sorted(Path(tmp).glob("bfcl_eval-*.whl"))
        if not got:
            raise DataMissing("pip download left no bfcl_eval wheel")
        target = dest / got[0].name
        shutil.move(str(got[0]), target)
    _index(target)  # fails now rather than at collection when the wheel is unusable
    return target


# --------------------------------------------------------------------------- reading


@functools.lru_cache(maxsize=4)
def _read(path: str, mtime: float) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    """category -> (entries, possible answers by id)."""
    out: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            for cat in CATEGORIES:
                data = _pick(names, rf"bfcl_eval/data/BFCL_v(\d+)_{cat}\.json")
                if data is None:
                    raise DataMissing(f"{path}: no data file for category {cat!r}")
                entries = _jsonl(zf.read(data).decode("utf-8"))
                answers: dict[str, Any] = {}
                ans = _pick(names, rf"bfcl_eval/data/possible_answer/BFCL_v(\d+)_{cat}\.json")
                if ans is not None:
                    answers = {a["id"]: a["ground_truth"] for a in _jsonl(zf.read(ans).decode())}
                out[cat] = (entries, answers)
    except (OSError, zipfile.BadZipFile, ValueError, KeyError) as exc:
        raise DataMissing(f"{path}: unreadable ({exc}); run {FETCH_HINT} again") from None
    return out


def _pick(names: list[str], pattern: str) -> str | None:
    found = [(int(m.group(1)), n) for n in names for m in [re.fullmatch(pattern, n)] if m]
    return max(found)[1] if found else None


def _jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _index(path: Path) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    return _read(str(path), path.stat().st_mtime)


def load(root: Path | None = None) -> dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]:
    path = wheel_path(root)
    if path is None:
        where = (root or data_dir()) / "bfcl"
        raise DataMissing(
            f"BFCL data not fetched (nothing in {where}): run `{FETCH_HINT}` "
            f"(or set {ENV_DIR} to where it was fetched)"
        )
    return _index(path)
