"""One self-contained HTML report over one or more run logs.

Everything is inline (CSS, a little JS, SVG charts) and a Content-Security-Policy
forbids any network fetch, so the file reads the same offline. Every string that
came from a model, a pack or a file is escaped: model output is untrusted.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from html import escape
from typing import Any

from ..core.record import RunHeader, RunRecord, records_of
from ..core.workflows.records import reasoning_of, sampling_tag, summary_for
from .html_assets import CSS, JS

PALETTE = ["#3b6fd8", "#e07b1a", "#2a9d5b", "#c2410c", "#7c3aed", "#0e7490", "#be185d", "#65a30d"]
CLIP = 20_000  # characters of one text block; the run log keeps the rest


def e(value: Any) -> str:
    return escape(str(value), quote=True)


def _clip(text: str) -> str:
    if len(text) <= CLIP:
        return text
    return text[:CLIP] + f"\n... [{len(text) - CLIP} more characters in the run log]"


@dataclass
class Series:
    """One model in one run: a bar in every chart and a column in the matrix."""

    label: str
    source: str
    runlog: dict[str, Any]
    model: str | None
    results: list[RunRecord] = field(default_factory=list)
    color: str = PALETTE[0]


def _series(runs: list[tuple[str, dict[str, Any]]]) -> list[Series]:
    out: list[Series] = []
    for source, data in runs:
        head = RunHeader.from_json(data)
        results = records_of(data)
        models = sorted({r.model for r in results if r.model})
        groups: list[tuple[str | None, list[RunRecord]]]
        if models:
            groups = [(m, [r for r in results if r.model == m]) for m in models]
        else:
            groups = [(head.model, results)]
        for model, group in groups:
            # a series is one model: its records count under their pack, not "pack [model]"
            recs = [r.replace(model_label=None) for r in group]
            label = str(model or head.endpoint or "run")
            if head.thinking not in (None, "pack"):
                label += f" (thinking {head.thinking})"
            if len(runs) > 1:
                label = f"{source}: {label}"
            out.append(Series(label, source, data, model, recs))
    seen: dict[str, int] = {}
    for i, s in enumerate(out):
        s.color = PALETTE[i % len(PALETTE)]
        n = seen.get(s.label, 0)
        seen[s.label] = n + 1
        if n:
            s.label += f" #{n + 1}"
    return out


def _status(rec: RunRecord | None) -> str:
    if rec is None:
        return "missing"
    if rec.is_error:
        return "error"
    return "passed" if rec.passed else "failed"


def _badge(status: str) -> str:
    text = {"passed": "PASS", "failed": "FAIL", "error": "ERROR", "missing": "-"}[status]
    return f'<span class="badge {status}">{text}</span>'


def _runs_section(series: list[Series]) -> str:
    rows = []
    for s in series:
        run = RunHeader.from_json(s.runlog)
        summ = summary_for(s.results)
        rows.append(
            "<tr>"
            f'<td><span class="sw" style="background:{s.color}"></span>{e(s.label)}</td>'
            f"<td>{e(s.model or '-')}</td>"
            f"<td>{e(run.endpoint)}</td>"
            f"<td>{e(run.thinking or 'pack')}</td>"
            f"<td>{e(sampling_tag(run.sampling))}</td>"
            f"<td>{e(run.started_at or '-')}</td>"
            f'<td class="num">{e(_or_dash(run.duration_s))}</td>'
            f"<td>{e(_overall(summ))}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>run</th><th>model</th><th>endpoint</th><th>thinking</th><th>sampling</th>"
        '<th>started</th><th class="num">duration s</th><th>overall</th></tr>'
    )
    return f'<section id="runs"><h2>Runs</h2><table>{head}{"".join(rows)}</table></section>'


def _or_dash(v: Any) -> Any:
    return "-" if v is None else v


def _overall(summ: Any) -> str:
    scored = summ.total - summ.errors
    pct = summ.overall_pct()
    shown = "n/a" if pct is None else f"{pct:.1f}%"
    return f"{summ.passed}/{scored} passed, {shown}, {summ.errors} error(s)"


def _scores_section(series: list[Series], packs: list[str]) -> str:
    sums = [summary_for(s.results) for s in series]
    blocks = []
    for pid in packs:
        rows = []
        version = next(
            (sm.packs[pid].version for sm in sums if pid in sm.packs and sm.packs[pid].version),
            None,
        )
        for s, sm in zip(series, sums, strict=True):
            st = sm.packs.get(pid)
            if st is None:
                rows.append(
                    f'<div class="bar-row"><span class="lbl">{e(s.label)}</span>'
                    '<div class="bar"></div><span class="val">not run</span></div>'
                )
                continue
            pct = st.score_pct
            width = 0.0 if pct is None else max(0.0, min(100.0, pct))
            val = "n/a" if pct is None else f"{pct:.1f}%"
            rows.append(
                f'<div class="bar-row" data-pack="{e(pid)}"><span class="lbl" title="{e(s.label)}">'
                f"{e(s.label)}</span>"
                f'<div class="bar"><div class="fill" style="width:{width:.2f}%;'
                f'background:{s.color}"></div></div>'
                f'<span class="val">{val} ({st.passed}/{st.scored})</span></div>'
            )
        ver = f" <small class='det'>v{e(version)}</small>" if version else ""
        blocks.append(f'<div class="pack"><h3>{e(pid)}{ver}</h3>{"".join(rows)}</div>')
    legend = "".join(
        f'<span><span class="sw" style="background:{s.color}"></span>{e(s.label)}</span>'
        for s in series
    )
    return (
        '<section id="scores"><h2>Score per pack</h2>'
        f'<div class="legend">{legend}</div><div class="packs">{"".join(blocks)}</div></section>'
    )


def _latency(rec: RunRecord) -> float | None:
    for v in (rec.latency_s, rec.wall_s):
        if v > 0:
            return v
    return None


def _latency_section(series: list[Series]) -> str:
    # errored scenarios are left out, as in the terminal summary's percentiles
    values = [
        [v for r in s.results if not r.is_error and (v := _latency(r)) is not None] for s in series
    ]
    flat = [v for vs in values for v in vs]
    if not flat:
        return (
            '<section id="latency"><h2>Latency distribution</h2>'
            "<p>No latencies recorded.</p></section>"
        )
    lo, hi = min(flat), max(flat)
    # log-spaced bins when latencies span more than a decade (a few slow outliers)
    use_log = lo > 0 and hi / lo > 10
    nb = 16
    if use_log:
        a, b = math.log10(lo), math.log10(hi)
        edges = [10 ** (a + (b - a) * i / nb) for i in range(nb + 1)]
    else:
        edges = [lo + (hi - lo) * i / nb for i in range(nb + 1)]
    if edges[-1] == edges[0]:
        edges = [edges[0] * (1 + i / nb) + i * 1e-9 for i in range(nb + 1)]

    def bin_of(v: float) -> int:
        for i in range(nb):
            if v <= edges[i + 1]:
                return i
        return nb - 1

    counts = [[0] * nb for _ in series]
    for si, vs in enumerate(values):
        for v in vs:
            counts[si][bin_of(v)] += 1
    top = max(max(c) for c in counts) or 1
    W, H, L, B = 1100, 230, 40, 36
    bw = (W - L - 10) / nb
    inner = bw * 0.85 / max(1, len(series))
    parts = [f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="latency histogram">']
    parts.append(f'<line x1="{L}" y1="{H - B}" x2="{W - 10}" y2="{H - B}" stroke="#9aa4b2"/>')
    for si, s in enumerate(series):
        for i, c in enumerate(counts[si]):
            if not c:
                continue
            h = (H - B - 10) * c / top
            x = L + i * bw + bw * 0.075 + si * inner
            parts.append(
                f'<rect x="{x:.1f}" y="{H - B - h:.1f}" width="{inner:.1f}" height="{h:.1f}" '
                f'fill="{s.color}"><title>{e(s.label)}: {c} scenario(s) '
                f"{_fmt_s(edges[i])}-{_fmt_s(edges[i + 1])}</title></rect>"
            )
    for i in range(0, nb + 1, 2):
        x = L + i * bw
        anchor = "end" if i == nb else "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{H - B + 16}" text-anchor="{anchor}">{_fmt_s(edges[i])}</text>'
        )
    parts.append(f'<text x="{L - 6}" y="16" text-anchor="end">{top}</text>')
    parts.append(
        f'<text x="{W / 2:.0f}" y="{H - 4}" text-anchor="middle">seconds per scenario'
        f"{' (log scale)' if use_log else ''}</text>"
    )
    parts.append("</svg>")
    rows = []
    for s, vs in zip(series, values, strict=True):
        sv = sorted(vs)

        def q(p: float, sv: list[float] = sv) -> str:
            return _fmt_s(sv[round(p * (len(sv) - 1))]) if sv else "-"

        rows.append(
            f'<tr><td><span class="sw" style="background:{s.color}"></span>{e(s.label)}</td>'
            f'<td class="num">{len(sv)}</td><td class="num">{q(0.5)}</td>'
            f'<td class="num">{q(0.95)}</td><td class="num">{q(1.0)}</td></tr>'
        )
    table = (
        '<table><tr><th>run</th><th class="num">n</th><th class="num">p50</th>'
        f'<th class="num">p95</th><th class="num">max</th></tr>{"".join(rows)}</table>'
    )
    return f'<section id="latency"><h2>Latency distribution</h2>{"".join(parts)}{table}</section>'


def _fmt_s(v: float) -> str:
    if v >= 10:
        return f"{v:.0f}s"
    if v >= 0.1:
        return f"{v:.2f}s"
    if v >= 0.001:
        return f"{v * 1000:.1f}ms"
    return f"{v * 1e6:.0f}µs"


def _failures_section(series: list[Series], packs: list[str]) -> str:
    counts: dict[tuple[str, str], list[int]] = {}
    for si, s in enumerate(series):
        for r in s.results:
            if r.passed:
                continue
            mode = r.failure_mode or "failed"
            key = (r.pack, mode + (f" [{r.category}]" if r.category else ""))
            counts.setdefault(key, [0] * len(series))[si] += 1
    if not counts:
        return '<section id="failures"><h2>Failures by mode</h2><p>No failures.</p></section>'
    top = max(max(v) for v in counts.values()) or 1
    head = (
        "<tr><th>pack</th><th>failure mode</th>"
        + "".join(
            f'<th class="num"><span class="sw" style="background:{s.color}"></span>'
            f"{e(s.label)}</th>"
            for s in series
        )
        + "</tr>"
    )
    rows = []
    for (pid, mode), vals in sorted(counts.items()):
        cells = "".join(
            f'<td class="num">{v} <span class="sw" style="background:{s.color};opacity:.85;'
            f'width:{4 + 60 * v / top:.0f}px"></span></td>'
            if v
            else '<td class="num">0</td>'
            for v, s in zip(vals, series, strict=True)
        )
        rows.append(f"<tr><td>{e(pid)}</td><td>{e(mode)}</td>{cells}</tr>")
    return (
        '<section id="failures"><h2>Failures by mode</h2>'
        f"<table>{head}{''.join(rows)}</table></section>"
    )


def _message_html(msg: dict[str, Any]) -> str:
    role = e(msg.get("role", "?"))
    content = msg.get("content")
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    parts = [f'<div class="role">{role}</div>']
    if content is not None and text:
        parts.append(f"<pre>{e(_clip(text))}</pre>")
    calls = msg.get("tool_calls") or []
    if calls:
        lines = []
        for tc in calls:
            fn = (tc.get("function") or {}) if isinstance(tc, dict) else {}
            lines.append(f"-> {fn.get('name')}({fn.get('arguments')})")
        parts.append(f"<pre>{e(_clip(chr(10).join(lines)))}</pre>")
    if content is None and not calls:
        parts.append("<pre>(empty)</pre>")
    return "".join(parts)


def _scenario_html(rec: RunRecord, anchor: str) -> str:
    status = _status(rec)
    name = f"{rec.pack}::{rec.scenario}"
    mode = "" if status == "passed" else rec.failure_mode or "failed"
    if rec.category and status != "passed":
        mode += f"[{rec.category}]"
    detail = rec.reason
    body = [
        f'<div class="det">score {rec.score:.2f} · latency {e(rec.latency_s)} s · '
        f"tokens {e(rec.completion_tokens)} · node {e(rec.nodeid or name)}</div>"
    ]
    if detail:
        body.append(f"<h3>Verdict</h3><pre>{e(_clip(detail))}</pre>")
    if rec.trace:
        body.append(f"<h3>Verifier trace</h3><pre>{e(_clip(chr(10).join(rec.trace)))}</pre>")
    msgs = [m for m in rec.messages or [] if isinstance(m, dict)]
    if msgs:
        body.append("<h3>Exchange</h3>" + "".join(_message_html(m) for m in msgs))
    for n, call in enumerate(rec.calls, 1):
        resp = call.get("response")
        reasoning = reasoning_of(resp)
        if reasoning:
            body.append(f"<h3>Reasoning (call {n})</h3><pre>{e(_clip(reasoning))}</pre>")
        raw = json.dumps(resp, indent=1, ensure_ascii=False)
        body.append(f"<h3>Raw response (call {n})</h3><pre>{e(_clip(raw))}</pre>")
    summary = f"{_badge(status)} <b>{e(name)}</b> " + (
        f'<span class="det">{e(mode)}: {e(detail[:160])}</span>' if mode else ""
    )
    return (
        f'<details class="sc" id="{anchor}" data-status="{status}" '
        f'data-name="{e(name.lower())}"><summary>{summary}</summary>'
        f'<div class="body">{"".join(body)}</div></details>'
    )


def _scenarios_section(series: list[Series]) -> str:
    keys: dict[tuple[str, str], None] = {}
    index: list[dict[tuple[str, str], tuple[str, RunRecord]]] = []
    for si, s in enumerate(series):
        idx: dict[tuple[str, str], tuple[str, RunRecord]] = {}
        for ri, r in enumerate(s.results):
            k = (r.pack, r.scenario)
            keys.setdefault(k, None)
            idx.setdefault(k, (f"s{si}-r{ri}", r))
        index.append(idx)
    order = sorted(keys)
    head = (
        "<tr><th>scenario</th>"
        + "".join(
            f'<th><span class="sw" style="background:{s.color}"></span>{e(s.label)}</th>'
            for s in series
        )
        + "</tr>"
    )
    rows = []
    for k in order:
        cells, all_pass = [], True
        for idx in index:
            hit = idx.get(k)
            st = _status(hit[1] if hit else None)
            all_pass &= st == "passed"
            cell = f'<a href="#{hit[0]}">{_badge(st)}</a>' if hit else _badge(st)
            cells.append(f"<td>{cell}</td>")
        name = f"{k[0]}::{k[1]}"
        rows.append(
            f'<tr class="mrow" data-name="{e(name.lower())}" data-allpass="{int(all_pass)}">'
            f"<td>{e(name)}</td>{''.join(cells)}</tr>"
        )
    runs = []
    for si, s in enumerate(series):
        by_pack: dict[str, list[str]] = {}
        for ri, r in enumerate(s.results):
            by_pack.setdefault(r.pack, []).append(_scenario_html(r, f"s{si}-r{ri}"))
        packs = "".join(
            f"<h3>{e(pid)}</h3>{''.join(items)}" for pid, items in sorted(by_pack.items())
        )
        runs.append(
            f'<details class="run"{" open" if len(series) == 1 else ""}><summary>'
            f'<span class="sw" style="background:{s.color}"></span>{e(s.label)}: '
            f"{len(s.results)} scenario(s)</summary>{packs}</details>"
        )
    controls = (
        '<div class="controls"><input id="q" type="search" placeholder="filter scenarios...">'
        '<label><input id="failedonly" type="checkbox"> failed or errored only</label></div>'
    )
    return (
        f'<section id="scenarios"><h2>Scenarios</h2>{controls}'
        f'<table class="matrix">{head}{"".join(rows)}</table>'
        f'<h2 style="margin-top:18px">Exchanges</h2>{"".join(runs)}</section>'
    )


def render_html(runs: list[tuple[str, dict[str, Any]]], *, title: str | None = None) -> str:
    """``runs`` are ``(label, run-log dict)`` pairs; returns the whole HTML document."""
    series = _series(runs)
    packs = sorted({r.pack for s in series for r in s.results})
    title = title or "pytest-llmbench report"
    csp = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    n_sc = sum(len(s.results) for s in series)
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
            f"<header><h1>{e(title)}</h1><p>{len(series)} run(s) · {len(packs)} pack(s) · "
            f"{n_sc} scenario result(s) · generated {e(stamp)}</p></header><main>",
            _runs_section(series),
            _scores_section(series, packs),
            _latency_section(series),
            _failures_section(series, packs),
            _scenarios_section(series),
            f"</main><script>{JS}</script></body></html>\n",
        ]
    )
