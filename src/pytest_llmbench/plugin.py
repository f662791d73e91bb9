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

# Any of these (from the command line, addopts or the ini file) makes a run use llmbench.
_ACTIVATING = (
    "llm_endpoint",
    "llm_replay",
    "llm_model",
    "llm_resume",
    "llm_baseline",
    "llm_fail_under",
    "llm_judge_url",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    options.addoption(parser)


def _used(config: pytest.Config) -> bool:
    opt = config.option
    return any(getattr(opt, name, None) for name in _ACTIVATING) or bool(
        config.getini("llm_endpoint")
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "llmbench(pack=None, reference=None): count this test in an llmbench pack"
    )
    config.addinivalue_line("markers", "sandbox: the scenario runs model-written code")
    if getattr(config.option, "markers", False):  # `pytest --markers` collects nothing
        from .collect import register_builtin_markers

        register_builtin_markers(config)
    if not _used(config) and not is_worker(config):
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
