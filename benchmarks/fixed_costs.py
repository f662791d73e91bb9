"""Whole-process figures, side by side: this plugin as a user runs it vs a bare loop.

A simulated OpenAI-compatible server on 127.0.0.1 answers each chat request after
``L`` seconds with at most ``C`` requests served at once (the rest queue, like
llama.cpp slots). Against it, each of these runs as a child process, timed from
spawn to exit (wall, and CPU from ``os.wait4``, children included):

- ``floor``: a bare loop, httpx.AsyncClient + asyncio.Semaphore(C), N requests;
- ``plugin``: ``python -m pytest <pack of N scenarios> --llm-endpoint=URL
  --llm-concurrency=C`` (the speed probe on, as by default);
- ``plugin-n2``: the same with ``-n 2 --llm-concurrency=C/2`` (C in flight in all).

Ideal = ceil(N/C) * L. For each run: wall/ideal and, for the plugin, the ratio of its
wall/ideal to the floor's. The server also records when the first request arrived
(the child's CPU time then, from /proc: start-up to first request) and when the
last reply left (exit = process end - last reply).

The machine's load is printed beside every figure: on a shared machine wall times
are noisy, CPU times less so. Last line: one JSON object.

    python benchmarks/fixed_costs.py [--n 30,200,1000] [--reps 1] [--latency 0.5]
                                     [--capacity 8] [--modes floor,plugin,plugin-n2]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")

# The targets (wall/ideal at N; seconds for start-up CPU and exit).
TARGETS = {
    "plugin@30": 1.5,
    "plugin@200": 1.12,
    "plugin-n2@200": 1.3,
    "startup_cpu_s": 0.4,
    "exit_s": 0.3,
}

FLOOR = """
import asyncio, sys
import httpx

async def main(url, n, c):
    sem = asyncio.Semaphore(c)
    async with httpx.AsyncClient(base_url=url, timeout=60, trust_env=False) as client:
        async def one(i):
            async with sem:
                r = await client.post("/v1/chat/completions", json={
                    "messages": [{"role": "user", "content": f"Question {i}: reply ok."}],
                    "temperature": 0, "max_tokens": 64})
                r.raise_for_status()
                return r.json()["choices"][0]["message"]["content"].strip() == "ok"
        ok = await asyncio.gather(*(one(i) for i in range(n)))
    print(sum(ok), "of", n, "ok")

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


class SimServer:
    """L seconds per chat request, C slots; records first arrival and last reply."""

    def __init__(self, latency_s: float, capacity: int):
        self.latency_s = latency_s
        self.slots = threading.Semaphore(capacity)
        self.lock = threading.Lock()
        self.watch_pid: int | None = None
        self.reset()
        outer = self
        reply = json.dumps(
            {
                "id": "chatcmpl-sim",
                "object": "chat.completion",
                "model": "sim-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "ok"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
            }
        ).encode()
        models = json.dumps({"object": "list", "data": [{"id": "sim-model"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # see benchmarks/README.md

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                outer.arrived("get")
                if self.path.rstrip("/") == "/v1/models":
                    self._reply(200, models)
                else:
                    self._reply(404, b'{"error": "not found"}')

            def do_POST(self) -> None:  # noqa: N802
                outer.arrived("chat")
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.slots:
                    time.sleep(outer.latency_s)
                self._reply(200, reply)
                with outer.lock:
                    outer.chats += 1
                    outer.last_reply = time.perf_counter()

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    def reset(self, pid: int | None = None) -> None:
        with self.lock:
            self.watch_pid = pid
            self.first: dict[str, tuple[float, float | None]] = {}
            self.chats = 0
            self.last_reply = 0.0

    def arrived(self, kind: str) -> None:
        with self.lock:
            if kind not in self.first:
                self.first[kind] = (time.perf_counter(), _cpu_of(self.watch_pid))


def _cpu_of(pid: int | None) -> float | None:
    """utime + stime of a live process, from /proc (None where unreadable)."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def make_pack(root: Path, n: int) -> Path:
    d = root / "packs" / f"bench{n}"
    d.mkdir(parents=True)
    (d / "pack.yaml").write_text(
        f"id: bench{n}\ntitle: Benchmark pack\nversion: '1.0.0'\n"
        "generation: {temperature: 0, max_tokens: 64}\n"
    )
    lines = ["scenarios:"]
    for i in range(n):
        lines += [
            f"  - id: q{i:05d}",
            f"    prompt: 'Question {i}: reply with the word ok and nothing else.'",
            "    verifier: {type: exact, value: ok, ignore_case: true}",
            "    reference: ok",
            "    counterexamples: ['no', 'okay then']",
        ]
    (d / "scenarios.yaml").write_text("\n".join(lines) + "\n")
    return d


def spawn(server: SimServer, cmd: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run one child to completion; wall, CPU (wait4: children included), timings."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    server.reset(proc.pid)
    assert proc.stdout is not None
    out = proc.stdout.read()  # until the child (and its workers) close the pipe
    _, status, usage = os.wait4(proc.pid, 0)
    t_end = time.perf_counter()
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... exit {proc.returncode}:\n{text[-3000:]}")
    first = server.first.get("chat")
    first_any = min((v for v in server.first.values()), default=None)
    return {
        "wall_s": t_end - t0,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "chats": server.chats,
        "first_request_s": None if first_any is None else first_any[0] - t0,
        "first_chat_s": None if first is None else first[0] - t0,
        "startup_cpu_s": None if first is None else first[1],
        "exit_s": t_end - server.last_reply if server.last_reply else None,
        "load": round(load, 2),
        "tail": text.strip().splitlines()[-1] if text.strip() else "",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", default="30,200,1000", help="scenario counts (comma-separated)")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--capacity", type=int, default=8)
    ap.add_argument("--modes", default="floor,plugin,plugin-n2")
    ap.add_argument("--extra", default="", help="extra pytest arguments (space-separated)")
    ap.add_argument("--src", default=str(ROOT / "src"), help="the plugin's source tree")
    ap.add_argument(
        "--all-plugins", action="store_true", help="let pytest load every installed plugin"
    )
    args = ap.parse_args()
    ns = [int(x) for x in args.n.split(",") if x]
    modes = [m for m in args.modes.split(",") if m]
    lat, cap = args.latency, args.capacity

    tmp = Path(tempfile.mkdtemp(prefix="llmbench-fixed-"))
    env = {**os.environ, "PYTHONPATH": args.src}
    env.pop("PYTEST_ADDOPTS", None)
    # As in a user's environment: byte code cached (a first run below writes it).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    plugins: list[str] = []
    xdist: list[str] = []
    if not args.all_plugins:
        plugins, xdist = ["-p", "pytest_llmbench.plugin"], ["-p", "xdist.plugin"]
        # Only this plugin (and xdist for -n): other installed plugins' costs are not ours.
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    (tmp / "floor.py").write_text(FLOOR)
    server = SimServer(lat, cap)
    runs: list[dict[str, Any]] = []
    print(f"server L={lat}s C={cap}; cpus={os.cpu_count()}; {_uptime()}", flush=True)
    print(
        f"{'run':<12}{'N':>6}{'wall s':>9}{'ideal':>7}{'ratio':>7}{'/floor':>8}"
        f"{'cpu s':>8}{'1st req':>9}{'st cpu':>8}{'exit s':>8}{'load':>6}",
        flush=True,
    )
    try:
        warm = make_pack(tmp, 2)  # writes byte code; not measured
        spawn(
            server,
            [
                sys.executable,
                "-m",
                "pytest",
                str(warm.relative_to(tmp)),
                *plugins,
                *xdist,
                f"--llm-endpoint={server.url}",
                f"--llm-log={tmp / 'run.json'}",
            ],
            tmp,
            env,
        )
        spawn(server, [sys.executable, str(tmp / "floor.py"), server.url, "2", "2"], tmp, env)
        for n in ns:
            pack = make_pack(tmp, n)
            ideal = math.ceil(n / cap) * lat
            for _ in range(args.reps):
                floor_ratio = None
                for mode in modes:
                    if mode == "floor":
                        cmd = [sys.executable, str(tmp / "floor.py"), server.url, str(n), str(cap)]
                    else:
                        cmd = [
                            sys.executable,
                            "-m",
                            "pytest",
                            str(pack.relative_to(tmp)),
                            *plugins,
                            "-p",
                            "no:cacheprovider",
                            f"--llm-endpoint={server.url}",
                            f"--llm-log={tmp / 'run.json'}",
                        ]
                        if mode == "plugin-n2":
                            cmd += [*xdist, "-n", "2", f"--llm-concurrency={max(1, cap // 2)}"]
                        else:
                            cmd += [f"--llm-concurrency={cap}"]
                        cmd += args.extra.split()
                    r = spawn(server, cmd, tmp, env)
                    r.update(mode=mode, n=n, ideal_s=ideal, ratio=r["wall_s"] / ideal)
                    if mode == "floor":
                        floor_ratio = r["ratio"]
                    r["vs_floor"] = r["ratio"] / floor_ratio if floor_ratio else None
                    runs.append(r)
                    print(_row(r), flush=True)
    finally:
        server.httpd.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)

    figures: dict[str, Any] = {}
    for r in runs:
        key = f"{r['mode']}@{r['n']}"
        figures.setdefault(key, []).append(round(r["ratio"], 3))
    plugin = [r for r in runs if r["mode"] == "plugin"]
    if plugin:
        figures["startup_cpu_s"] = min(r["startup_cpu_s"] or math.inf for r in plugin)
        figures["startup_wall_s"] = round(min(r["first_chat_s"] or math.inf for r in plugin), 3)
        figures["exit_s"] = round(min(r["exit_s"] or math.inf for r in plugin), 3)
    within = {}
    for key, target in TARGETS.items():
        got = figures.get(key)
        if isinstance(got, list):
            got = min(got)
        if got is not None:
            within[key] = got <= target
    print(f"{_uptime()}", flush=True)
    print(
        json.dumps(
            {
                "latency_s": lat,
                "capacity": cap,
                "cpus": os.cpu_count(),
                "figures": figures,
                "targets": TARGETS,
                "within_target": within,
                "runs": [{k: _round(v) for k, v in r.items() if k != "tail"} for r in runs],
            }
        )
    )


def _round(v: Any) -> Any:
    return round(v, 3) if isinstance(v, float) else v


def _uptime() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} {five:.2f}"


def _row(r: dict[str, Any]) -> str:
    def f(v: Any, w: int, p: int = 2) -> str:
        return f"{v:>{w}.{p}f}" if isinstance(v, (int, float)) else f"{'-':>{w}}"

    return (
        f"{r['mode']:<12}{r['n']:>6}{f(r['wall_s'], 9)}{f(r['ideal_s'], 7, 1)}"
        f"{f(r['ratio'], 7)}{f(r['vs_floor'], 8)}{f(r['cpu_s'], 8)}"
        f"{f(r['first_chat_s'], 9)}{f(r['startup_cpu_s'], 8)}{f(r['exit_s'], 8)}"
        f"{f(r['load'], 6)}"
    )


if __name__ == "__main__":
    main()
