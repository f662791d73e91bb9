"""pytest entry point: options, fixtures and the session's creation.

Importing this module is cheap and has no side effects: a suite that does not use
llmbench pays for argparse options and three fixture definitions, nothing more. The
per-run hooks (:mod:`pytest_llmbench.hooks`) are registered only when an ``--llm-*``
option or the ``llm_endpoint`` ini key is given.
"""

from __future__ import annotations

import sys

import pytest

from . import options
from .fixtures import llm, llm_endpoint, llm_judge, llm_sandbox  # noqa: F401  (plugin fixtures)
from .xdist import is_worker


def pytest_addoption(parser: pytest.Parser) -> None:
    options.addoption(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "llmbench(pack=None, reference=None): count this test in an llmbench pack"
    )
    config.addinivalue_line("markers", "sandbox: the scenario runs model-written code")
    if config.getoption("markers", False):  # `pytest --markers` collects nothing
        from .collect import register_builtin_markers

        register_builtin_markers(config)
    if not options.llmbench_used(config) and not is_worker(config):
        return
    from .hooks import LLMBenchPlugin
    from .session import get_session

    session = get_session(config)
    session.add_builtin_args()
    config.pluginmanager.register(LLMBenchPlugin(session), "llmbench-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    session_mod = sys.modules.get("pytest_llmbench.session")
    if session_mod is None:  # never used in this run
        return
    llm_session = config.stash.get(session_mod.SESSION_KEY, None)
    if llm_session is not None:
        llm_session.close()
