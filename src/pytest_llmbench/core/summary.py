"""Per-pack aggregation of scenario records, built incrementally, and its text forms."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from .record import ERROR_MODES, RunRecord

__all__ = ["ERROR_MODES", "PackStats", "Summary"]


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q * (len(s) - 1))))
    return s[k]


@dataclass
class PackStats:
    pack: str
    version: str | None = None
    total: int = 0
    passed: int = 0
    errors: int = 0
    score_sum: float = 0.0
    latencies: list[float] = field(default_factory=list)
    tokens: int = 0
    token_time: float = 0.0
    # --llm-stream: time to first token per scenario, decode speed per call
    ttfts: list[float] = field(default_factory=list)
    decode_tps: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    # repeat index -> [passed, scored]; scenario -> outcomes over repeats
    by_repeat: dict[int, list[int]] = field(default_factory=dict)
    by_scenario: dict[str, list[bool]] = field(default_factory=dict)

    @property
    def scored(self) -> int:
        return self.total - self.errors

    @property
    def score_pct(self) -> float | None:
        return 100.0 * self.passed / self.scored if self.scored else None

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None

    def add(self, rec: RunRecord) -> None:
        self.total += 1
        self.version = self.version or rec.pack_version
        mode = rec.failure_mode
        if mode:
            self.modes[mode] = self.modes.get(mode, 0) + 1
        if rec.is_error:
            self.errors += 1
            return
        if rec.passed:
            self.passed += 1
        if rec.repeat is not None:
            acc_r = self.by_repeat.setdefault(rec.repeat, [0, 0])
            acc_r[0] += rec.passed
            acc_r[1] += 1
            self.by_scenario.setdefault(rec.scenario, []).append(rec.passed)
        self.score_sum += rec.score
        lat = rec.latency_s
        if lat > 0:
            self.latencies.append(lat)
        if rec.completion_tokens is not None:
            self.tokens += rec.completion_tokens
            if lat > 0:
                self.token_time += lat
        first = True
        for call in rec.calls:
            st = call.get("stream")
            if not isinstance(st, dict):
                continue
            ttft, tps = st.get("ttft_s"), st.get("decode_tokens_per_s")
            if first and isinstance(ttft, (int, float)) and ttft > 0:
                self.ttfts.append(float(ttft))
                first = False
            if isinstance(tps, (int, float)) and tps > 0:
                self.decode_tps.append(float(tps))
        for name, pair in rec.metrics.items():
            acc = self.metrics.setdefault(name, [0.0, 0.0])
            acc[0] += float(pair[0])
            acc[1] += float(pair[1])

    def repeat_stats(self) -> dict[str, Any] | None:
        """pass@k (any of k passed), pass^k (all k passed) per scenario, and the
        spread of the pack's pass rate across repeats (mean, std, CV)."""
        if not self.by_repeat:
            return None
        k = min(len(v) for v in self.by_scenario.values()) if self.by_scenario else 0
        n = len(self.by_scenario)
        rates = [100.0 * p / s for p, s in (self.by_repeat[r] for r in sorted(self.by_repeat)) if s]
        mean = statistics.fmean(rates) if rates else 0.0
        std = statistics.pstdev(rates) if len(rates) > 1 else 0.0
        return {
            "k": k,
            "repeats": len(self.by_repeat),
            "pass_at_k_pct": round(100.0 * sum(any(v) for v in self.by_scenario.values()) / n, 3)
            if n
            else None,
            "pass_hat_k_pct": round(100.0 * sum(all(v) for v in self.by_scenario.values()) / n, 3)
            if n
            else None,
            "mean_pct": round(mean, 3),
            "std_pct": round(std, 3),
            "cv": round(std / mean, 4) if mean else None,
        }

    def to_dict(self) -> dict[str, Any]:
        out = self._to_dict()
        if any(k.startswith("bfcl:") for k in self.metrics):
            from .bfcl import aggregates_as_bfcl

            out["bfcl_aggregates"] = aggregates_as_bfcl(self.metrics)
        return out

    def _to_dict(self) -> dict[str, Any]:
        return {
            "repeat_stats": self.repeat_stats(),
            "pack": self.pack,
            "version": self.version,
            "total": self.total,
            "passed": self.passed,
            "failed": self.scored - self.passed,
            "errors": self.errors,
            "score_pct": None if self.score_pct is None else round(self.score_pct, 3),
            "mean_score": None if self.mean_score is None else round(self.mean_score, 4),
            "latency_p50_s": _pct(self.latencies, 0.5),
            "latency_p95_s": _pct(self.latencies, 0.95),
            "completion_tokens": self.tokens,
            "tokens_per_s": round(self.tokens / self.token_time, 2) if self.token_time else None,
            "ttft_p50_s": _pct(self.ttfts, 0.5),
            "decode_tokens_per_s_p50": _pct(self.decode_tps, 0.5),
            "metrics": {
                k: {"num": v[0], "den": v[1], "pct": round(100 * v[0] / v[1], 3) if v[1] else None}
                for k, v in self.metrics.items()
            },
            "failure_modes": dict(sorted(self.modes.items())),
        }


def _thinking_leak(rec: RunRecord) -> bool:
    """Reasoning came back although the request switched thinking off."""
    for call in rec.calls:
        req = call.get("request") or {}
        kw = req.get("chat_template_kwargs") or {}
        if kw.get("enable_thinking") is not False:
            continue
        for choice in (call.get("response") or {}).get("choices") or []:
            msg = choice.get("message") or {}
            content = msg.get("content") or ""
            if msg.get("reasoning_content") or msg.get("reasoning") or "<think>" in str(content):
                return True
    return False


@dataclass
class Summary:
    packs: dict[str, PackStats] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    thinking_leaks: list[str] = field(default_factory=list)
    retries: int = 0
    # multi-model runs: label -> totals for the side-by-side table
    models: dict[str, dict[str, float]] = field(default_factory=dict)
    model_sizes: dict[str, float] = field(default_factory=dict)  # GB, for score per GB

    def add(self, rec: RunRecord) -> None:
        label = rec.model_label
        pack = rec.pack or "?"
        if label:
            pack = f"{pack} [{label}]"
            m = self.models.setdefault(
                label,
                {
                    "total": 0,
                    "passed": 0,
                    "errors": 0,
                    "latency_s": 0.0,
                    "wall_s": 0.0,
                    "tokens": 0,
                    "token_time": 0.0,
                },
            )
            m["total"] += 1
            if rec.is_error:
                m["errors"] += 1
            elif rec.passed:
                m["passed"] += 1
            m["latency_s"] += rec.latency_s
            m["wall_s"] += rec.wall_s
            if rec.completion_tokens is not None:
                m["tokens"] += rec.completion_tokens
                m["token_time"] += rec.latency_s
        self.packs.setdefault(pack, PackStats(pack)).add(rec)
        self.retries += rec.retries
        if _thinking_leak(rec):
            self.thinking_leaks.append(f"{pack}::{rec.scenario}")
        if not rec.passed:
            self.failures.append(
                {
                    "pack": pack,
                    "scenario": rec.scenario,
                    "failure_mode": rec.failure_mode,
                    "category": rec.category,
                    "score": rec.score,
                    "detail": rec.reason,
                }
            )

    @property
    def total(self) -> int:
        return sum(p.total for p in self.packs.values())

    @property
    def passed(self) -> int:
        return sum(p.passed for p in self.packs.values())

    @property
    def errors(self) -> int:
        return sum(p.errors for p in self.packs.values())

    def overall_pct(self) -> float | None:
        scored = self.total - self.errors
        return 100.0 * self.passed / scored if scored else None

    def to_dict(self) -> dict[str, Any]:
        pct = self.overall_pct()
        return {
            "total": self.total,
            "passed": self.passed,
            "errors": self.errors,
            "score_pct": None if pct is None else round(pct, 3),
            "packs": {k: self.packs[k].to_dict() for k in sorted(self.packs)},
            "failures": sorted(self.failures, key=lambda f: (f["pack"], str(f["scenario"]))),
            "quality": self.quality_line(),
            "thinking_leaks": sorted(self.thinking_leaks),
            "retries": self.retries,
            "models": {k: self.model_row(k, self.model_sizes.get(k)) for k in sorted(self.models)}
            or None,
        }

    def model_row(self, label: str, size_gb: float | None = None) -> dict[str, Any]:
        m = self.models[label]
        scored = m["total"] - m["errors"]
        pct = 100.0 * m["passed"] / scored if scored else None
        minutes = m["wall_s"] / 60.0
        return {
            "passed": int(m["passed"]),
            "scored": int(scored),
            "errors": int(m["errors"]),
            "score_pct": None if pct is None else round(pct, 3),
            "generation_s": round(m["wall_s"], 3),
            "tokens_per_s": round(m["tokens"] / m["token_time"], 2) if m["token_time"] else None,
            "passed_per_min": round(m["passed"] / minutes, 2) if minutes > 0 else None,
            "score_per_gb": round(pct / size_gb, 3) if pct is not None and size_gb else None,
        }

    def model_table_lines(self, sizes: dict[str, float]) -> list[str]:
        if not self.models:
            return []
        head = ["model", "passed", "score", "gen s", "tok/s", "passed/min", "score/GB"]
        rows = [head]
        for label in sorted(self.models):
            r = self.model_row(label, sizes.get(label))
            rows.append(
                [
                    label,
                    f"{r['passed']}/{r['scored']}",
                    "n/a" if r["score_pct"] is None else f"{r['score_pct']:.1f}%",
                    f"{r['generation_s']:.1f}",
                    "-" if r["tokens_per_s"] is None else f"{r['tokens_per_s']:.1f}",
                    "-" if r["passed_per_min"] is None else f"{r['passed_per_min']:.1f}",
                    "-" if r["score_per_gb"] is None else f"{r['score_per_gb']:.1f}",
                ]
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        out = []
        for n, row in enumerate(rows):
            cells = [row[0].ljust(widths[0])]
            cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
            out.append("  ".join(cells))
            if n == 0:
                out.append("  ".join("-" * w for w in widths))
        return out

    def suspects(self, oracle: str) -> list[str]:
        """Scenarios the oracle model failed: likely broken scenarios, not weak models."""
        tag = f" [{oracle}]"
        return sorted(
            f"{str(f['pack'])[: -len(tag)]}::{f['scenario']}"
            for f in self.failures
            if str(f["pack"]).endswith(tag)
        )

    def quality_line(self) -> str:
        parts = []
        for k in sorted(self.packs):
            p = self.packs[k]
            pct = "n/a" if p.score_pct is None else f"{p.score_pct:.1f}%"
            parts.append(f"{k} {p.passed}/{p.scored} {pct}")
        pct_all = self.overall_pct()
        overall = "n/a" if pct_all is None else f"{pct_all:.1f}%"
        scored = self.total - self.errors
        tail = f"overall {self.passed}/{scored} {overall}, {self.errors} error(s)"
        return "Quality: " + " | ".join(parts + [tail])

    def table_lines(self) -> list[str]:
        head = ["pack", "passed", "score", "mean", "errors", "p50 s", "p95 s", "tokens", "tok/s"]
        streamed = any(p.ttfts or p.decode_tps for p in self.packs.values())
        if streamed:  # the figures local-model users compare
            head += ["ttft p50 s", "decode tok/s"]
        rows = [head]
        for k in sorted(self.packs):
            p = self.packs[k]
            d = p.to_dict()
            row = [
                k,
                f"{p.passed}/{p.total}",
                "n/a" if p.score_pct is None else f"{p.score_pct:.1f}%",
                "n/a" if p.mean_score is None else f"{p.mean_score:.2f}",
                str(p.errors),
                _fmt_s(d["latency_p50_s"]),
                _fmt_s(d["latency_p95_s"]),
                str(p.tokens),
                "-" if d["tokens_per_s"] is None else f"{d['tokens_per_s']:.1f}",
            ]
            if streamed:
                tps = d["decode_tokens_per_s_p50"]
                row += [_fmt_s(d["ttft_p50_s"]), "-" if tps is None else f"{tps:.1f}"]
            rows.append(row)
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = []
        for n, r in enumerate(rows):
            cells = [r[0].ljust(widths[0])] + [
                c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
            ]
            lines.append("  ".join(cells))
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        for k in sorted(self.packs):
            p = self.packs[k]
            rs = p.repeat_stats()
            if rs:
                cv = "n/a" if rs["cv"] is None else f"{rs['cv']:.3f}"
                lines.append(
                    f"{k}: repeats k={rs['k']}: pass@k {rs['pass_at_k_pct']:.1f}%, "
                    f"pass^k {rs['pass_hat_k_pct']:.1f}%, mean {rs['mean_pct']:.1f}% "
                    f"± {rs['std_pct']:.1f} (CV {cv})"
                )
            # BFCL's per-category figures get a table of their own (core.bfcl)
            plain = {n: v for n, v in p.metrics.items() if not n.startswith("bfcl")}
            if plain:
                shown = ", ".join(
                    f"{name} {100 * v[0] / v[1]:.1f}% ({v[0]:g}/{v[1]:g})"
                    if v[1]
                    else f"{name} n/a"
                    for name, v in plain.items()
                )
                lines.append(f"{k}: {shown}")
            if len(plain) < len(p.metrics):
                lines += bfcl_summary_lines(k, p.metrics)
        return lines

    def failure_lines(self, limit: int = 50) -> list[str]:
        out = []
        for f in sorted(self.failures, key=lambda f: (f["pack"], str(f["scenario"])))[:limit]:
            mode = f["failure_mode"] or "failed"
            if f.get("category"):
                mode += f"[{f['category']}]"
            detail = str(f["detail"]).replace("\n", " ")
            if len(detail) > 160:
                detail = detail[:157] + "..."
            out.append(f"{f['pack']} {f['scenario']}: {mode} ({detail})")
        if len(self.failures) > limit:
            out.append(f"... and {len(self.failures) - limit} more (see the run log)")
        return out


def bfcl_summary_lines(pack: str, metrics: dict[str, list[float]]) -> list[str]:
    from .bfcl import summary_lines

    return summary_lines(pack, metrics)


def _fmt_s(v: Any) -> str:
    return "-" if v is None else f"{v:.2f}"
