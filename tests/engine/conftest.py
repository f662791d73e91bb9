"""A real llama.cpp server for the `engine` tests.

The server binary comes from ``LLMBENCH_LLAMA_SERVER`` or the build cache of
``tools/llama_server.py`` (built here when absent, ~6.5 min on 2 cores; CI builds it
beforehand in ``.ci/setup-llama.sh``). The model is a seeded random-weights GGUF written
at test time, so nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MODEL_ID = "tiny"
# Environment knob: LLMBENCH_LLAMA_BUILD=0 skips instead of building a missing server.
ENV_BUILD = "LLMBENCH_LLAMA_BUILD"


def _tools() -> ModuleType:
    path = REPO / "tools" / "llama_server.py"
    spec = importlib.util.spec_from_file_location("llmbench_llama_server", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LlamaServer:
    url: str
    port: int
    model_id: str
    model_path: Path
    log_path: Path
    proc: subprocess.Popen[bytes]

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


@pytest.fixture(scope="session")
def llama_server_binary() -> Path:
    tools = _tools()
    found = tools.find()
    if found is not None:
        return Path(found)
    if os.environ.get(tools.ENV_BINARY):
        pytest.skip(f"{tools.ENV_BINARY}={os.environ[tools.ENV_BINARY]} is not an executable")
    if os.environ.get(ENV_BUILD) == "0":
        pytest.skip(f"llama-server not built ({tools.cached_binary()}) and {ENV_BUILD}=0")
    if not (shutil.which("cmake") and shutil.which("c++")):
        pytest.skip("llama-server not built and cmake / a C++ compiler are missing")
    t0 = time.monotonic()
    path = Path(tools.build())
    sys.stderr.write(f"\nllama-server built in {time.monotonic() - t0:.0f} s\n")
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gguf_model import write_model

    return write_model(tmp_path_factory.mktemp("gguf") / "tiny.gguf", seed=0)


@pytest.fixture(scope="session")
def llama_server(
    llama_server_binary: Path, tiny_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LlamaServer]:
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    port = _free_port()
    cmd = [
        str(llama_server_binary),
        "-m", str(tiny_model),
        "--host", "127.0.0.1",
        "--port", str(port),
        # Byte-level tokens make prompts long (about one token per character):
        # 8192 tokens per slot keeps every built-in prompt inside the context.
        "-c", "16384",
        "-np", "2",
        # One thread: on a busy 2-core machine (the test suite runs with -n 2) two
        # spinning ggml threads made the same run 2-4x slower than one.
        "-t", "1",
        "--alias", MODEL_ID,
    ]  # fmt: skip
    log = open(log_path, "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = LlamaServer(f"http://127.0.0.1:{port}", port, MODEL_ID, tiny_model, log_path, proc)
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(trust_env=False, timeout=2) as client:
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"llama-server exited with {proc.returncode}:\n{server.log_tail()}")
                try:
                    if client.get(f"{server.url}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"llama-server not healthy after 60 s:\n{server.log_tail()}")
                time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
