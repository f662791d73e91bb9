"""Real run logs for tests of the workflows: a pytest run in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def make_log(tmp: Path, endpoint: str, name: str, *extra: str) -> Path:
    """Run the smoke pack against ``endpoint`` in ``tmp``; return the run log's path."""
    log = tmp / name
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--llm-endpoint={endpoint}",
            f"--llm-log={log}",
            "-q",
            "-p",
            "no:cacheprovider",
            "--llm-pack",
            "smoke",
            *extra,
        ],
        cwd=tmp,
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert log.is_file(), f"no run log from the {endpoint} endpoint"
    return log
