"""Scheduler and harness figures, through real pytest against a simulated server.

A loopback OpenAI-compatible server (tests/fakeserver.py) answers every chat request
with "ok" after ``L`` seconds and handles at most ``C`` requests at once (the rest
queue, like llama.cpp slots). Generated packs run in a ``python -m pytest``
subprocess; a tiny plugin in the temp dir times the test phase (collection finish ->
session finish, the run log included) and the collection (session start ->
collection finish), and records the child's peak RSS, so interpreter start-up is
not counted.

Figures (medians over ``LLMBENCH_BENCH_REPS`` runs, default 3):
- ratio_concurrent / ratio_sequential: test-phase wall time / (ceil(N/C) * L) for
  N=200, C=8, L=0.1 s, with --llm-concurrency=8 and =1 (target <= 1.15 concurrent);
- overhead_ms: test-phase wall time / N against an instant server (N=1000,
  --llm-probe=no, default concurrency), target < 2 ms; also with concurrency 1, and
  the CPU time of the pytest process per scenario, which the machine's load inflates
  less than wall time;
- collect_10k_s: `pytest --collect-only -q` of 10,000 scenarios, target < 3 s;
- peak_rss_mb: peak RSS of the pytest process running 10,000 scenarios against the
  instant server.
Last line: one JSON object.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fakeserver import FakeServer, chat_reply  # noqa: E402

REPS = int(os.environ.get("LLMBENCH_BENCH_REPS", "3"))
LATENCY_S = float(os.environ.get("LLMBENCH_BENCH_LATENCY", "0.1"))
CAPACITY = 8
N_RATIO = 200
N_OVERHEAD = int(os.environ.get("LLMBENCH_BENCH_N_OVERHEAD", "1000"))
N_BIG = int(os.environ.get("LLMBENCH_BENCH_N_BIG", "10000"))

TARGETS = {"ratio_concurrent": 1.15, "overhead_ms": 2.0, "collect_10k_s": 3.0}

# Loaded in the child with -p: times the phases, records peak RSS.
TIMING_PLUGIN = """
import json, os, resource, time
import pytest

_T = {}

def pytest_sessionstart(session):
    _T["start"] = time.perf_counter()
    _T["start_cpu"] = time.process_time()

@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session):
    _T["collected"] = time.perf_counter()
    _T["collected_cpu"] = time.process_time()
    _T["items"] = len(session.items)

@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    _T["finished"] = time.perf_counter()
    _T["finished_cpu"] = time.process_time()
    _T["exitstatus"] = int(exitstatus)

def pytest_unconfigure(config):
    _T["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(os.environ["LLMBENCH_BENCH_TIMES"], "w") as fh:
        json.dump(_T, fh)
"""

VERIFIERS = [
    "{type: exact, value: ok, ignore_case: true, strip_punct: true}",
    "{type: contains, all: [ok], none: [okay]}",
    "{type: regex, pattern: '^ok$'}",
]


def make_pack(root: Path, n: int) -> Path:
    """A pack of ``n`` single-turn scenarios that an "ok" answer passes."""
    d = root / f"bench{n}"
    d.mkdir()
    (d / "pack.yaml").write_text(
        f"id: bench{n}\ntitle: Benchmark pack\nversion: '1.0.0'\n"
        "generation: {temperature: 0, max_tokens: 64}\n"
    )
    lines = ["scenarios:"]
    for i in range(n):
        lines += [
            f"  - id: q{i:05d}",
            "    prompt: |",
            f"      Question {i}: this line stands in for a real prompt of a few lines.",
            "      Reply with the word ok and nothing else.",
            f"    verifier: {VERIFIERS[i % len(VERIFIERS)]}",
            f"    tags: [bench, t{i % 5}]",
            "    reference: ok",
            "    counterexamples: ['no', 'okay then']",
        ]
    (d / "scenarios.yaml").write_text("\n".join(lines) + "\n")
    return d


def run_pytest(tmp: Path, pack: Path, *args: str) -> dict[str, Any]:
    times = tmp / "times.json"
    if times.exists():
        times.unlink()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp), os.environ.get("PYTHONPATH", "")]),
        "LLMBENCH_BENCH_TIMES": str(times),
    }
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(pack),
        "-p",
        "benchtiming",
        "-p",
        "no:cacheprovider",
        "-q",
        "--rootdir",
        str(tmp),
        f"--llm-log={tmp / 'run.json'}",
        *args,
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if not times.exists():
        raise RuntimeError(f"pytest failed (rc {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    t = json.loads(times.read_text())
    if t.get("exitstatus") not in (0, None) or proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-15:])
        raise RuntimeError(f"pytest exit {proc.returncode}:\n{tail}\n{proc.stderr[-2000:]}")
    out = {
        "wall_s": wall,
        "collect_s": t["collected"] - t["start"],
        "items": t["items"],
        "rss_mb": t["maxrss_kb"] / 1024,
    }
    if "finished" in t:
        out["test_s"] = t["finished"] - t["collected"]
        out["test_cpu_s"] = t["finished_cpu"] - t["collected_cpu"]
    out["collect_cpu_s"] = t["collected_cpu"] - t["start_cpu"]
    return out


def serve(latency_s: float, capacity: int | None) -> FakeServer:
    srv = FakeServer()
    # http.server writes headers and body separately; with Nagle on, the body waits
    # for the client's delayed ACK: ~40 ms per request on loopback, which would be
    # measured as harness overhead. Real servers send the reply in one go.
    srv.httpd.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
    srv.delay_s = latency_s
    srv.capacity = capacity
    reply = chat_reply("ok")
    srv.script = lambda body: (200, reply, {})
    return srv


def main() -> None:
    tmp_root = Path(tempfile.mkdtemp(prefix="llmbench-bench-"))
    try:
        _run(tmp_root)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)


def _run(tmp_root: Path) -> None:
    (tmp_root / "benchtiming.py").write_text(TIMING_PLUGIN)
    load_before = os.getloadavg()
    pack200 = make_pack(tmp_root, N_RATIO)
    pack_ov = make_pack(tmp_root, N_OVERHEAD) if N_OVERHEAD != N_RATIO else pack200
    pack_big = make_pack(tmp_root, N_BIG)
    ideal = math.ceil(N_RATIO / CAPACITY) * LATENCY_S
    xs: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        xs.setdefault(key, []).append(value)

    with serve(LATENCY_S, CAPACITY) as slow:
        url = f"--llm-endpoint={slow.url}"
        for _ in range(REPS):
            r = run_pytest(tmp_root, pack200, url, "--llm-concurrency=8")
            add("ratio_concurrent", r["test_s"] / ideal)
            r = run_pytest(tmp_root, pack200, url, "--llm-concurrency=8", "--llm-probe=no")
            add("ratio_concurrent_noprobe", r["test_s"] / ideal)
            r = run_pytest(tmp_root, pack200, url, "--llm-concurrency=1")
            add("ratio_sequential", r["test_s"] / ideal)
        peak_in_flight = slow.peak_in_flight
    with serve(0.0, None) as fast:
        url = f"--llm-endpoint={fast.url}"
        for _ in range(REPS):
            c0 = time.process_time()
            r = run_pytest(tmp_root, pack_ov, url, "--llm-probe=no")
            add("server_cpu_ms", (time.process_time() - c0) * 1000 / N_OVERHEAD)
            add("overhead_ms", r["test_s"] * 1000 / N_OVERHEAD)
            add("overhead_cpu_ms", r["test_cpu_s"] * 1000 / N_OVERHEAD)
            r = run_pytest(tmp_root, pack_ov, url, "--llm-probe=no", "--llm-concurrency=1")
            add("overhead_seq_ms", r["test_s"] * 1000 / N_OVERHEAD)
            add("overhead_seq_cpu_ms", r["test_cpu_s"] * 1000 / N_OVERHEAD)
            r = run_pytest(tmp_root, pack_big, url, "--collect-only")
            add("collect_10k_s", r["collect_s"])
            add("collect_10k_cpu_s", r["collect_cpu_s"])
            add("collect_10k_process_s", r["wall_s"])
            r = run_pytest(tmp_root, pack_big, url, "--llm-probe=no")
            add("overhead_10k_ms", r["test_s"] * 1000 / N_BIG)
            add("peak_rss_mb", r["rss_mb"])
    load_after = os.getloadavg()

    figures: dict[str, Any] = {k: round(statistics.median(v), 3) for k, v in xs.items()}
    figures.update(
        {
            "peak_in_flight": peak_in_flight,
            "latency_s": LATENCY_S,
            "capacity": CAPACITY,
            "reps": REPS,
            "load": [round(load_before[0], 2), round(load_after[0], 2)],
            "cpus": os.cpu_count(),
        }
    )
    figures["within_target"] = all(figures[k] <= v for k, v in TARGETS.items())

    def row(key: str, name: str, unit: str) -> None:
        tgt = TARGETS.get(key)
        t = f"<= {tgt}" if key == "ratio_concurrent" else (f"< {tgt}" if tgt else "-")
        runs = " ".join(f"{x:.3f}" for x in xs[key])
        print(f"{name:50} {figures[key]:9.3f} {unit:5} {t:>8}   [{runs}]")

    print(
        f"pytest-llmbench scheduler benchmark: L={LATENCY_S}s C={CAPACITY} reps={REPS} "
        f"load {load_before[0]:.2f} -> {load_after[0]:.2f} on {os.cpu_count()} cpus"
    )
    print(f"{'figure (median of reps)':50} {'value':>9} {'unit':5} {'target':>8}   [runs]")
    n, c = N_RATIO, CAPACITY
    row("ratio_concurrent", f"N={n} concurrency={c}: wall / (ceil(N/C)*L)", "ratio")
    row("ratio_concurrent_noprobe", "  same, --llm-probe=no", "ratio")
    row("ratio_sequential", f"N={n} concurrency=1: wall / (ceil(N/C)*L)", "ratio")
    row("overhead_ms", f"overhead/scenario, instant server, N={N_OVERHEAD}", "ms")
    row("overhead_cpu_ms", "  CPU time of the pytest process / scenario", "ms")
    row("overhead_seq_ms", "  same run with --llm-concurrency=1", "ms")
    row("overhead_seq_cpu_ms", "  its CPU time / scenario", "ms")
    row("overhead_10k_ms", f"overhead/scenario, instant server, N={N_BIG}", "ms")
    row("collect_10k_s", f"--collect-only N={N_BIG}: collection phase", "s")
    row("collect_10k_cpu_s", "  its CPU time", "s")
    row("collect_10k_process_s", "  whole process (start-up, plugins, output)", "s")
    row("peak_rss_mb", f"peak RSS of the pytest process, run of N={N_BIG}", "MB")
    row("server_cpu_ms", "fake server CPU per request (other process)", "ms")
    print(f"(peak requests in flight at the server: {peak_in_flight}; ideal {ideal:.2f} s)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
