"""The Markdown report: per-pack table, the Quality line and the failure breakdown.

Used by ``llmbench report --md`` and by the plugin's ``--llm-report-md``; it reads only
the run-log dict, so both produce the same text.
"""

from __future__ import annotations

from typing import Any

from ..core.record import records_of
from ..core.workflows.records import run_title, summary_for


def _cell(text: Any, *, markup: bool = True) -> str:
    """Text in a table cell: one line, pipes escaped; ``markup`` also neutralises
    Markdown and HTML (for model text, which is untrusted)."""
    s = str(text).replace("\r", " ").replace("\n", " ")
    chars = ("\\", "|", "`", "*", "_", "<", ">", "[", "]") if markup else ("\\", "|", "<")
    for ch in chars:
        s = s.replace(ch, "\\" + ch)
    return s


def _clip(s: str, n: int = 140) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def render_markdown(runlog: dict[str, Any], *, title: str | None = None, limit: int = 100) -> str:
    results = records_of(runlog)
    s = summary_for(results)
    lines = [f"# {title or 'pytest-llmbench report'}", "", _cell(run_title(runlog)), ""]
    if not results:
        return "\n".join(lines + ["No scenario ran.", ""])
    head = ["pack", "version", "passed", "score", "mean", "errors", "p50 s", "p95 s", "tok/s"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for pid in sorted(s.packs):
        d = s.packs[pid].to_dict()
        row = [
            _cell(pid, markup=False),
            _cell(d["version"] or "-", markup=False),
            f"{d['passed']}/{d['total']}",
            "n/a" if d["score_pct"] is None else f"{d['score_pct']:.1f}%",
            "n/a" if d["mean_score"] is None else f"{d['mean_score']:.2f}",
            str(d["errors"]),
            "-" if d["latency_p50_s"] is None else f"{d['latency_p50_s']:.2f}",
            "-" if d["latency_p95_s"] is None else f"{d['latency_p95_s']:.2f}",
            "-" if d["tokens_per_s"] is None else f"{d['tokens_per_s']:.1f}",
        ]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", f"**{_cell(s.quality_line())}**", ""]
    if s.failures:
        lines += ["## Failure breakdown", ""]
        modes: dict[tuple[str, str], int] = {}
        for f in s.failures:
            key = (str(f["pack"]), str(f["failure_mode"] or "failed"))
            modes[key] = modes.get(key, 0) + 1
        lines += ["| pack | failure mode | count |", "|---|---|---:|"]
        for (pid, mode), n in sorted(modes.items()):
            lines.append(f"| {_cell(pid, markup=False)} | {_cell(mode, markup=False)} | {n} |")
        lines += ["", "| scenario | mode | detail |", "|---|---|---|"]
        fails = sorted(s.failures, key=lambda f: (f["pack"], str(f["scenario"])))
        for f in fails[:limit]:
            mode = str(f["failure_mode"] or "failed")
            if f.get("category"):
                mode += f"[{f['category']}]"
            lines.append(
                f"| {_cell(f['pack'], markup=False)}::{_cell(f['scenario'], markup=False)} | "
                f"{_cell(mode, markup=False)} | "
                f"{_cell(_clip(str(f['detail'])))} |"
            )
        if len(fails) > limit:
            lines.append(f"\n... and {len(fails) - limit} more failures (see the run log)")
        lines.append("")
    return "\n".join(lines)
