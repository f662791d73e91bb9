"""Session gates: did this run get worse than its baseline, or fall under a floor?

A pure function over the run's summary and records, so the pytest plugin calls it at
session end and tests call it on hand-made dicts. Each returned string is one
violated gate; an empty list means the run passes its gates.

A pack fails against the baseline when its score drops by more than ``max_drop_pp``
points, or by more than its measured noise (``noise_k`` standard deviations of the
baseline runs, never less than ``noise_floor_pp``): the noise gate always applies, and
``max_drop_pp`` caps the allowed drop when the baseline is noisy.

:func:`decide_exit` turns the gates into the session's exit status (the codes are in
the README): with a gate, a scenario the model failed is a result, not a failure.
"""

from __future__ import annotations

from typing import Any

from ..record import RunRecord
from .baseline import baseline_is_canonical, load_baseline
from .records import is_canonical, models_label

__all__ = [
    "EXIT_GATE_FAILED",
    "EXIT_TOO_MANY_ERRORS",
    "decide_exit",
    "evaluate_gates",
    "exit_mode",
    "gate_notes",
    "load_baseline",
]

NOISE_K = 2.0
NOISE_FLOOR_PP = 2.0
MAX_NAMED = 10

# pytest owns 0-5; these two say which gate failed.
EXIT_GATE_FAILED = 6
EXIT_TOO_MANY_ERRORS = 7


def gate_notes(baseline: dict[str, Any] | None, run: dict[str, Any]) -> list[str]:
    """What the user should know about a comparison that is not a violation: a
    baseline measured on another model (Q4 against Q8 is a fair question)."""
    if baseline is None:
        return []
    bm, rm = str(baseline.get("model") or "?"), models_label(run)
    if bm != rm:
        return [f"models differ: the baseline measured {bm}, this run {rm}"]
    return []


def exit_mode(explicit: str | None, *, has_gates: bool) -> str:
    """``scenarios`` (a failed scenario fails the session, pytest's own rule) or
    ``gates`` (only the gates decide); gates by default whenever a gate is given."""
    if explicit:
        return explicit
    return "gates" if has_gates else "scenarios"


def decide_exit(
    pytest_status: int,
    *,
    mode: str,
    gate_messages: list[str],
    errors: int,
    max_errors: int | None,
    other_failures: int,
) -> tuple[int, str | None]:
    """The session's exit status and a one-line reason (None: pytest's status stands).

    Precedence: pytest's own abnormal codes (interrupted, internal, usage, nothing
    collected) stand; then too many infrastructure errors (7: the run measured too
    little to trust its scores); then a failed score gate (6); then, in ``scenarios``
    mode, pytest's status; in ``gates`` mode 1 only for a failure that is not a
    scenario result (a plain test, a teardown), else 0."""
    if pytest_status not in (0, 1):
        return pytest_status, None
    if mode == "gates" and max_errors is None:
        max_errors = 0  # a run that measured nothing must not pass its gates
    if max_errors is not None and errors > max_errors:
        return EXIT_TOO_MANY_ERRORS, (
            f"{errors} infrastructure error(s), more than --llm-max-errors={max_errors}"
        )
    if gate_messages:
        return EXIT_GATE_FAILED, f"{len(gate_messages)} gate(s) failed"
    if mode == "scenarios":
        return pytest_status, None
    if other_failures:
        return 1, f"{other_failures} failure(s) that are not scenario results"
    return 0, "every gate holds (failed scenarios are results, see JUnit)"


def _regressed(pack: str, results: list[RunRecord], scen: dict[str, Any]) -> list[str]:
    out = []
    for rec in results:
        if rec.pack != pack or rec.passed or rec.is_error:
            continue
        base = scen.get(rec.scenario)
        if isinstance(base, dict) and float(base.get("pass_rate") or 0.0) >= 0.5:
            out.append(rec.scenario)
    return sorted(set(out))


def _names(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_NAMED])
    more = f" (+{len(ids) - MAX_NAMED} more)" if len(ids) > MAX_NAMED else ""
    return shown + more


def evaluate_gates(
    summary: dict[str, Any],
    results: list[RunRecord],
    *,
    baseline: dict[str, Any] | None,
    max_drop_pp: float | None,
    fail_under: dict[str, float],
    sampling: dict[str, Any],
    allow_noncanonical: bool,
    noise_k: float = NOISE_K,
    noise_floor_pp: float = NOISE_FLOOR_PP,
) -> list[str]:
    """One message per violated gate, naming the pack and the scenarios that regressed."""
    out: list[str] = []
    packs: dict[str, Any] = summary.get("packs") or {}
    if baseline is not None:
        run_canon, base_canon = is_canonical(sampling), baseline_is_canonical(baseline)
        if run_canon != base_canon and not allow_noncanonical:
            run_tag = "canonical" if run_canon else "non-canonical"
            base_tag = "canonical" if base_canon else "non-canonical"
            out.append(
                f"baseline: refusing to compare a {run_tag} run with a {base_tag} baseline "
                "(sampling differs; allow it explicitly with --llm-allow-noncanonical)"
            )
        else:
            out += _baseline_gates(packs, results, baseline, max_drop_pp, noise_k, noise_floor_pp)
    for pid, floor in sorted(fail_under.items()):
        stats = packs.get(pid)
        pct = stats.get("score_pct") if isinstance(stats, dict) else None
        if stats is None:
            out.append(f"{pid}: fail-under {floor:g}%: the pack did not run")
        elif pct is None:
            out.append(f"{pid}: fail-under {floor:g}%: no scored scenario (all errored)")
        elif pct < floor:
            failed = sorted(
                r.scenario for r in results if r.pack == pid and not r.passed and not r.is_error
            )
            out.append(
                f"{pid}: {pct:.1f}% is under the floor of {floor:g}%"
                + (f"; failed: {_names(failed)}" if failed else "")
            )
    return out


def _baseline_gates(
    packs: dict[str, Any],
    results: list[RunRecord],
    baseline: dict[str, Any],
    max_drop_pp: float | None,
    noise_k: float,
    noise_floor_pp: float,
) -> list[str]:
    out: list[str] = []
    for pid in sorted(packs):
        base = (baseline.get("packs") or {}).get(pid)
        cur = packs[pid]
        if not isinstance(base, dict) or not isinstance(cur, dict):
            continue  # a pack the baseline never measured has no gate
        bver, cver = base.get("version"), cur.get("version")
        if bver is not None and cver is not None and str(bver) != str(cver):
            out.append(
                f"{pid}: version {cver} differs from the baseline's {bver}; "
                "recapture the baseline for this pack version"
            )
            continue
        pct, mean = cur.get("score_pct"), base.get("mean_pct")
        if pct is None or mean is None:
            continue
        drop = float(mean) - float(pct)
        std = float(base.get("std_pct") or 0.0)
        noise = max(noise_k * std, noise_floor_pp)
        reasons = []
        if max_drop_pp is not None and drop > max_drop_pp:
            reasons.append(f"the allowed {max_drop_pp:g} pp")
        if drop > noise:
            reasons.append(
                f"its noise ({noise:.1f} pp = max({noise_k:g} x std {std:.1f}, {noise_floor_pp:g}))"
            )
        if not reasons:
            continue
        reg = _regressed(pid, results, base.get("scenarios") or {})
        msg = (
            f"{pid}: {float(pct):.1f}% vs baseline {float(mean):.1f}%: dropped {drop:.1f} pp, "
            f"more than {' and '.join(reasons)}"
        )
        msg += f"; regressed: {_names(reg)}" if reg else "; no single scenario regressed"
        out.append(msg)
    return out
