"""`llmbench sandbox build|status`: plain functions the CLI calls (no argparse here)."""

from __future__ import annotations

import json
import sys
from typing import Any


def build_image(image: str | None = None, force: bool = False) -> int:
    """Build the Docker sandbox image (bootstrapping a base where no registry answers)."""
    from .core.sandbox import SandboxUnavailable
    from .core.sandbox.build import build_image as _build

    try:
        _build(image, force=force, log=lambda s: print(s, flush=True))
    except SandboxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def status(image: str | None = None) -> int:
    """Print which backends work here; exit 0 when at least one does."""
    from .core.sandbox import SandboxUnavailable, open_sandbox
    from .core.sandbox.build import image_status

    info: dict[str, Any] = image_status(image)
    print(f"docker daemon : {info['docker'] or 'not answering'}")
    if info.get("docker_error"):
        print(f"                {info['docker_error']}")
    img = info["image_id"] or "missing (run `llmbench sandbox build`)"
    stale = " (Dockerfile changed: rebuild)" if info["stale"] else ""
    print(f"image         : {info['image']} {img}{stale}")
    print(f"bwrap         : {info['bwrap'] or 'not installed (apt-get install bubblewrap)'}")
    try:
        sb = open_sandbox("auto", image=image)
    except SandboxUnavailable as exc:
        print(f"auto          : {exc}")
        return 1
    with sb:
        print(f"auto          : {sb.name}")
        print(json.dumps(sb.describe(), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m pytest_llmbench.sandbox_cli build [--force] | status`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["build"]:
        return build_image(force="--force" in args)
    if args[:1] == ["status"]:
        return status()
    print("usage: python -m pytest_llmbench.sandbox_cli build [--force] | status", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
