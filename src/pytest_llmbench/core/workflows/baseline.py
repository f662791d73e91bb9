"""Baselines: several runs of one setup folded into per-pack mean and noise.

``llmbench baseline capture RUN... -o FILE`` writes one; the pytest plugin reads it with
:func:`load_baseline` and judges a run against it with ``gates.evaluate_gates``.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any

from ..record import records_of
from .records import is_canonical, models_of, pack_versions, sampling_tag, summary_for

BASELINE_FORMAT = "pytest-llmbench/baseline@1"
MIN_RUNS = 3


class BaselineError(ValueError):
    """A baseline cannot be captured or read; ``str()`` is a one-line message."""


def _std(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    m = sum(values) / len(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def capture_baseline(
    runs: list[tuple[str, dict[str, Any]]], *, min_runs: int = MIN_RUNS
) -> dict[str, Any]:
    """Aggregate run logs (``(path, data)`` pairs) into a baseline dict."""
    if len(runs) < min_runs:
        raise BaselineError(
            f"a baseline needs at least {min_runs} runs to measure noise, got {len(runs)}"
        )
    tags = {sampling_tag(d.get("sampling")) for _, d in runs}
    if len(tags) > 1:
        mixed = ", ".join(f"{p}: {sampling_tag(d.get('sampling'))}" for p, d in runs)
        raise BaselineError(f"runs mix canonical and non-canonical sampling ({mixed})")
    for p, d in runs:
        if len(models_of(d)) > 1:
            raise BaselineError(
                f"{p}: a multi-model run; capture one baseline per model from single-model runs"
            )
    versions: dict[str, str | None] = {}
    for p, d in runs:
        for pid, ver in pack_versions(d).items():
            if pid in versions and versions[pid] != ver:
                raise BaselineError(
                    f"pack {pid}: runs use different versions ({versions[pid]} and {ver} in {p}); "
                    "a baseline is for one pack version"
                )
            versions[pid] = ver
    packs: dict[str, dict[str, Any]] = {}
    for _, d in runs:
        results = records_of(d)
        summary = summary_for(results)
        for pid, stats in summary.packs.items():
            entry = packs.setdefault(
                pid,
                {"version": versions.get(pid), "score_pct": [], "scenarios": {}, "errors": 0},
            )
            if stats.score_pct is not None:
                entry["score_pct"].append(round(stats.score_pct, 4))
            entry["errors"] += stats.errors
        for rec in results:
            if rec.is_error:
                continue
            sc = packs[rec.pack or "?"]["scenarios"].setdefault(rec.scenario, [0, 0])
            sc[0] += 1 if rec.passed else 0
            sc[1] += 1
    out_packs: dict[str, Any] = {}
    for pid in sorted(packs):
        e = packs[pid]
        pcts: list[float] = e["score_pct"]
        out_packs[pid] = {
            "version": e["version"],
            "runs": len(pcts),
            "score_pct": pcts,
            "mean_pct": round(sum(pcts) / len(pcts), 4) if pcts else None,
            "std_pct": round(_std(pcts), 4),
            "errors": e["errors"],
            "scenarios": {
                sid: {"pass_rate": round(v[0] / v[1], 4), "runs": v[1]}
                for sid, v in sorted(e["scenarios"].items())
            },
        }
    first = runs[0][1]
    models = {str(d.get("model") or "") for _, d in runs}
    return {
        "format": BASELINE_FORMAT,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": first.get("model") if len(models) == 1 else None,
        "thinking": first.get("thinking"),
        "sampling": {"tag": tags.pop(), **(first.get("sampling") or {})},
        "runs": [
            {
                "path": p,
                "started_at": d.get("started_at"),
                "model": d.get("model"),
                "endpoint": (d.get("endpoint") or {}).get("name")
                if isinstance(d.get("endpoint"), dict)
                else d.get("endpoint"),
                "thinking": d.get("thinking"),
            }
            for p, d in runs
        ],
        "packs": out_packs,
    }


def baseline_lines(b: dict[str, Any]) -> list[str]:
    lines = [
        f"baseline of {len(b.get('runs') or [])} runs, model {b.get('model') or '?'}, "
        f"sampling {b['sampling'].get('tag')}"
    ]
    for pid, p in b["packs"].items():
        mean = "n/a" if p["mean_pct"] is None else f"{p['mean_pct']:.1f}%"
        unstable = sum(1 for s in p["scenarios"].values() if 0 < s["pass_rate"] < 1)
        lines.append(
            f"  {pid} {p['version']}: mean {mean}, std {p['std_pct']:.2f} pp over {p['runs']} "
            f"run(s), {len(p['scenarios'])} scenarios ({unstable} unstable)"
        )
    return lines


def load_baseline(path: Path | str) -> dict[str, Any]:
    """Read and check a baseline file; every problem is a one-line :class:`BaselineError`."""
    p = Path(path)
    if not p.is_file():
        raise BaselineError(f"baseline {p}: no such file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"baseline {p}: cannot read: {exc}") from None
    except ValueError as exc:
        raise BaselineError(f"baseline {p}: not valid JSON (truncated?): {exc}") from None
    if not isinstance(data, dict):
        raise BaselineError(f"baseline {p}: not a pytest-llmbench baseline")
    fmt = str(data.get("format", ""))
    if fmt.startswith("pytest-llmbench/runlog@"):
        raise BaselineError(
            f"baseline {p}: this is a run log; make a baseline with "
            "'llmbench baseline capture RUN RUN RUN -o FILE'"
        )
    m = re.match(r"^pytest-llmbench/baseline@(\d+)$", fmt)
    if not m:
        raise BaselineError(f"baseline {p}: not a pytest-llmbench baseline (format {fmt!r})")
    if int(m.group(1)) != 1:
        raise BaselineError(
            f"baseline {p}: format baseline@{m.group(1)}; this version reads {BASELINE_FORMAT} "
            "(recapture the baseline or upgrade pytest-llmbench)"
        )
    packs = data.get("packs")
    if not isinstance(packs, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("scenarios"), dict) for v in packs.values()
    ):
        raise BaselineError(f"baseline {p}: damaged (no per-pack statistics)")
    if not isinstance(data.get("sampling"), dict):
        data["sampling"] = {"tag": "canonical"}
    return data


def baseline_is_canonical(b: dict[str, Any]) -> bool:
    s = b.get("sampling") or {}
    if "tag" in s:
        return bool(s["tag"] == "canonical")
    return is_canonical(s)
