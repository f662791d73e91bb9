"""Parametric scenario templates (GSM-Symbolic style), expanded at load time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .schema import Scenario


def expand_templates(raw: list[dict[str, Any]], path: Path, root: yaml.Node | None) -> list[Scenario]:
    """Expand each template into seeded instances, each with its own id."""
    from .packs import PackError

    raise PackError(path, None, "templates are not supported yet")
