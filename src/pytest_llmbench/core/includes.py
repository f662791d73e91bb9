"""Long texts of a scenario kept in files beside its YAML (a task folder).

Anywhere in a scenario file, a mapping ``{include: PATH}`` is replaced by the text of
PATH, relative to the folder of the YAML file (and inside it). With ``fence: LANG`` the
text is wrapped in a fenced code block, the shape of a whole-file answer, so a
reference solution can live in a real ``.go``/``.rs``/``.ts`` file that tools check.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

_KEYS = {"include", "fence"}


def resolve_includes(data: Any, base: Path) -> Any:
    """``data`` with every include mapping replaced by its file's text."""
    if isinstance(data, dict):
        if "include" in data and set(data) <= _KEYS:
            return _read(base, data["include"], data.get("fence"))
        return {k: resolve_includes(v, base) for k, v in data.items()}
    if isinstance(data, list):
        return [resolve_includes(x, base) for x in data]
    return data


def _read(base: Path, rel: Any, fence: Any) -> str:
    if not isinstance(rel, str) or not rel:
        raise ValueError(f"include: wants a file name, got {rel!r}")
    parts = PurePosixPath(rel)
    if parts.is_absolute() or ".." in parts.parts:
        raise ValueError(f"include: {rel!r} must name a file inside {base}")
    if fence is not None and not (isinstance(fence, str) and fence.isidentifier()):
        raise ValueError(f"include {rel}: fence must be a language name, got {fence!r}")
    try:
        text = (base / rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or str(exc)
        raise ValueError(f"include: cannot read {base / rel}: {why}") from None
    if fence is None:
        return text
    return f"```{fence}\n{text}{'' if text.endswith(chr(10)) else chr(10)}```\n"
