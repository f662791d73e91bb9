"""Programs shipped into the sandbox as files (package data, stdlib only).

``py_serve``: loads one Python module (the candidate) and serves calls on it over
its stdin/stdout; the host runs the tests (see ``..pyremote``).
"""

from __future__ import annotations

from importlib import resources


def source(name: str) -> str:
    """The text of the runner ``name`` (e.g. ``py_serve.py``), to write into a sandbox."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
