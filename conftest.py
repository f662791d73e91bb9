"""Checkout-level conftest: running from a checkout, its packs/ are the built-in packs
(even when an installed wheel carries an older copy)."""

import os
from pathlib import Path

os.environ.setdefault("LLMBENCH_BUILTIN_PACKS", str(Path(__file__).parent / "packs"))

# The examples are run by tests/examples through pytester, not collected directly.
collect_ignore = ["examples"]
