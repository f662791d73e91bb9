"""``llmbench diff A B``: per-pack deltas and the scenarios that flipped, both ways.

Scores are compared over the scenarios both runs have, so two runs of different pack
versions (or different selections) still compare like with like; the notes say so.
When the runs differ in thinking, a wall-time table answers "is thinking worth it".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..record import RunHeader, RunRecord, records_of
from .records import (
    Key,
    is_multi_model,
    key_of,
    label_of,
    models_label,
    pack_versions,
    run_title,
)


@dataclass
class PackDelta:
    pack: str
    model: str
    version_a: str | None
    version_b: str | None
    common: int = 0
    only_a: int = 0
    only_b: int = 0
    passed_a: int = 0
    passed_b: int = 0
    scored_a: int = 0
    scored_b: int = 0
    errors_a: int = 0
    errors_b: int = 0
    wall_a: float = 0.0
    wall_b: float = 0.0
    tokens_a: int = 0
    tokens_b: int = 0

    @property
    def name(self) -> str:
        return self.pack + (f" [{self.model}]" if self.model else "")

    @property
    def pct_a(self) -> float | None:
        return 100.0 * self.passed_a / self.scored_a if self.scored_a else None

    @property
    def pct_b(self) -> float | None:
        return 100.0 * self.passed_b / self.scored_b if self.scored_b else None

    @property
    def delta_pp(self) -> float | None:
        a, b = self.pct_a, self.pct_b
        return None if a is None or b is None else b - a

    def to_dict(self) -> dict[str, Any]:
        return {
            "pack": self.pack,
            "model": self.model or None,
            "version_a": self.version_a,
            "version_b": self.version_b,
            "common": self.common,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "passed_a": self.passed_a,
            "scored_a": self.scored_a,
            "passed_b": self.passed_b,
            "scored_b": self.scored_b,
            "score_pct_a": self.pct_a,
            "score_pct_b": self.pct_b,
            "delta_pp": self.delta_pp,
            "wall_s_a": round(self.wall_a, 3),
            "wall_s_b": round(self.wall_b, 3),
            "tokens_a": self.tokens_a,
            "tokens_b": self.tokens_b,
        }


@dataclass
class Flip:
    key: Key
    before: str  # passed / failed / error
    after: str
    detail: str

    def line(self) -> str:
        return f"  {label_of(self.key)}: {self.before} -> {self.after}  {self.detail}"


@dataclass
class DiffResult:
    title_a: str
    title_b: str
    packs: list[PackDelta] = field(default_factory=list)
    regressed: list[Flip] = field(default_factory=list)
    fixed: list[Flip] = field(default_factory=list)
    errors: list[Flip] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    thinking: tuple[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        def flips(fs: list[Flip]) -> list[dict[str, Any]]:
            return [{"scenario": label_of(f.key), "before": f.before, "after": f.after} for f in fs]

        return {
            "a": self.title_a,
            "b": self.title_b,
            "packs": [p.to_dict() for p in self.packs],
            "regressed": flips(self.regressed),
            "fixed": flips(self.fixed),
            "errors": flips(self.errors),
            "notes": self.notes,
            "thinking": list(self.thinking) if self.thinking else None,
        }

    def lines(self) -> list[str]:
        out = [f"A: {self.title_a}", f"B: {self.title_b}"]
        out += [f"note: {n}" for n in self.notes]
        out.append("")
        out += _table(
            ["pack", "A passed", "A score", "B passed", "B score", "delta"],
            [
                [
                    p.name,
                    f"{p.passed_a}/{p.scored_a}",
                    _pct(p.pct_a),
                    f"{p.passed_b}/{p.scored_b}",
                    _pct(p.pct_b),
                    _pp(p.delta_pp),
                ]
                for p in self.packs
            ],
        )
        if self.thinking is not None:
            ta, tb = self.thinking
            out += ["", f"thinking {ta} (A) vs {tb} (B): score and time per pack"]
            out += _table(
                ["pack", "score delta", "wall A s", "wall B s", "wall x", "tokens A", "tokens B"],
                [
                    [
                        p.name,
                        _pp(p.delta_pp),
                        f"{p.wall_a:.2f}",
                        f"{p.wall_b:.2f}",
                        f"{p.wall_b / p.wall_a:.2f}" if p.wall_a > 0 else "-",
                        str(p.tokens_a),
                        str(p.tokens_b),
                    ]
                    for p in self.packs
                ],
            )
        for title, flips in (
            ("regressed (passed in A, failed in B)", self.regressed),
            ("fixed (failed in A, passed in B)", self.fixed),
            ("errors (infrastructure, no verdict on one side)", self.errors),
        ):
            out += ["", f"{title}: {len(flips)}"]
            out += [f.line() for f in flips]
        return out


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1f}%"


def _pp(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.1f} pp"


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    rows = [head] + rows
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out = []
    for n, r in enumerate(rows):
        out.append(
            "  ".join(
                [r[0].ljust(widths[0])]
                + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
            )
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def _state(recs: list[RunRecord]) -> str:
    """passed / failed / error; repeats of one scenario decide by majority."""
    scored = [r for r in recs if not r.is_error]
    if not scored:
        return "error"
    return "passed" if sum(r.passed for r in scored) * 2 > len(scored) else "failed"


def _group(run: dict[str, Any]) -> dict[Key, list[RunRecord]]:
    out: dict[Key, list[RunRecord]] = {}
    multi = is_multi_model(run)
    for rec in records_of(run):
        out.setdefault(key_of(rec, multi), []).append(rec)
    return out


def _detail(recs: list[RunRecord]) -> str:
    for r in recs:
        if not r.passed:
            text = r.reason.replace("\n", " ")
            mode = r.failure_mode or "failed"
            return f"({mode}: {text[:120]}{'...' if len(text) > 120 else ''})"
    return ""


def diff_runs(a: dict[str, Any], b: dict[str, Any]) -> DiffResult:
    res = DiffResult(run_title(a), run_title(b))
    ga, gb = _group(a), _group(b)
    va, vb = pack_versions(a), pack_versions(b)
    packs: dict[tuple[str, str], PackDelta] = {}

    def delta(key: Key) -> PackDelta:
        model, pack, _ = key
        if (model, pack) not in packs:
            packs[(model, pack)] = PackDelta(pack, model, va.get(pack), vb.get(pack))
        return packs[(model, pack)]

    for key in ga.keys() - gb.keys():
        delta(key).only_a += 1
    for key in gb.keys() - ga.keys():
        delta(key).only_b += 1
    for key in sorted(ga.keys() & gb.keys()):
        d = delta(key)
        d.common += 1
        ra, rb = ga[key], gb[key]
        sa, sb = _state(ra), _state(rb)
        for recs, side in ((ra, "a"), (rb, "b")):
            st = _state(recs)
            if st == "error":
                setattr(d, f"errors_{side}", getattr(d, f"errors_{side}") + 1)
            else:
                setattr(d, f"scored_{side}", getattr(d, f"scored_{side}") + 1)
                if st == "passed":
                    setattr(d, f"passed_{side}", getattr(d, f"passed_{side}") + 1)
            wall = sum(r.wall_s or r.latency_s for r in recs)
            toks = sum(r.completion_tokens or 0 for r in recs)
            setattr(d, f"wall_{side}", getattr(d, f"wall_{side}") + wall)
            setattr(d, f"tokens_{side}", getattr(d, f"tokens_{side}") + toks)
        if sa == sb:
            continue
        if "error" in (sa, sb):
            res.errors.append(Flip(key, sa, sb, _detail(rb if sb == "error" else ra)))
        elif sa == "passed":
            res.regressed.append(Flip(key, sa, sb, _detail(rb)))
        else:
            res.fixed.append(Flip(key, sa, sb, ""))
    res.packs = [packs[k] for k in sorted(packs, key=lambda k: (k[1], k[0]))]
    for d in res.packs:
        if d.common == 0:
            side = "A" if d.only_a else "B"
            res.notes.append(f"{d.name}: only in {side}, not compared")
            continue
        if d.version_a != d.version_b:
            res.notes.append(
                f"{d.name}: pack versions differ ({d.version_a} in A, {d.version_b} in B); "
                f"comparing the {d.common} common scenario(s)"
                + (f" ({d.only_a} only in A, {d.only_b} only in B)" if d.only_a or d.only_b else "")
            )
        elif d.only_a or d.only_b:
            res.notes.append(
                f"{d.name}: {d.only_a} scenario(s) only in A, {d.only_b} only in B; "
                f"comparing the {d.common} common scenario(s)"
            )
    res.packs = [d for d in res.packs if d.common]
    if not res.packs:
        res.notes.append("the two runs have no scenario in common")
    ta = RunHeader.from_json(a).thinking or "pack"
    tb = RunHeader.from_json(b).thinking or "pack"
    if ta != tb:
        res.thinking = (ta, tb)
    ma, mb = models_label(a), models_label(b)
    if ma != mb:
        res.notes.insert(
            0,
            f"models differ: {ma} (A) vs {mb} (B); scenarios are compared by pack::scenario",
        )
    return res
