"""Collection: a pack folder is a pytest Directory; each scenario a Function item."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
from _pytest._code.code import ExceptionInfo, TerminalRepr

from .core.packs import (
    PACK_FILE,
    PackError,
    gc_paused,
    load_meta,
    load_scenario_file,
    scenario_files,
)
from .core.schema import PackMeta, Scenario
from .core.verifiers.base import needs
from .errors import InfraError, ScenarioFailed
from .report.failure import format_failure

if TYPE_CHECKING:
    from .core.responders import Answerer
    from .options import RunConfig
    from .recorder import Recorder
    from .verdicts import Verdicts


class Controller(Protocol):
    """What pack folders and items call on the run's session. The session puts itself
    in the stash under :data:`CONTROLLER_KEY`, so this module never imports it."""

    @property
    def cfg(self) -> RunConfig: ...
    @property
    def verdicts(self) -> Verdicts: ...
    def wants_pack(self, pack_id: str) -> bool: ...
    def pack_clash(self, pack_id: str, path: Path) -> str | None: ...
    def register_pack(self, meta: PackMeta, path: Path) -> None: ...
    def claim_scenario_id(self, pack_id: str, sc: Scenario) -> str | None: ...
    def setup_failed(self, item: ScenarioItem, exc: InfraError) -> None: ...
    def generate(self, item: ScenarioItem, endpoint: Answerer) -> None: ...
    @property
    def recorder(self) -> Recorder: ...


CONTROLLER_KEY = pytest.StashKey[Controller]()


def controller(config: pytest.Config) -> Controller:
    """The run's session; packs are collected only in runs that made one."""
    return config.stash[CONTROLLER_KEY]


TAG_PREFIX = "tag_"
_MARK_WORDS = frozenset({"and", "or", "not"})


def tag_marker(tag: str) -> str:
    """A scenario tag's marker: prefixed, so a tag never selects another pack's
    scenarios through a pack marker of the same name (``-m python``)."""
    return TAG_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", tag)


def registered_markers(config: pytest.Config) -> set[str]:
    lines = config.getini("markers")
    return {str(ln).split(":")[0].split("(")[0].strip() for ln in lines}


def register_builtin_markers(config: pytest.Config) -> None:
    """Every built-in pack's and tag's marker, for ``pytest --markers`` (no collection)."""
    from .core.packs import builtin_packs_dir, iter_pack_dirs

    tags: set[str] = set()
    for d in iter_pack_dirs(builtin_packs_dir()):
        try:
            meta = load_meta(d / PACK_FILE)
            for f in scenario_files(d):
                tags.update(t for sc in load_scenario_file(f, meta) for t in sc.tags)
        except PackError:
            continue
        config.addinivalue_line("markers", f"{meta.marker_name}: scenarios of pack {meta.id}")
    for tag in sorted(tags):
        config.addinivalue_line("markers", f"{tag_marker(tag)}: scenarios tagged {tag}")


def empty_selection_warning(config: pytest.Config, items: list[pytest.Item]) -> str | None:
    """A ``-m`` expression that selected no scenario and names a marker nobody
    registered: say so, with the spelling that exists (``agentedit_stress``)."""
    expr = str(getattr(config.option, "markexpr", "") or "")
    if not expr or any(isinstance(it, ScenarioItem) for it in items):
        return None
    known = registered_markers(config)
    unknown = [
        w
        for w in dict.fromkeys(re.findall(r"[A-Za-z_][\w\-.:]*", expr))
        if w not in _MARK_WORDS and w not in known
    ]
    if not unknown:
        return None
    parts = []
    for w in unknown:
        close = difflib.get_close_matches(w.replace("-", "_"), sorted(known), n=3, cutoff=0.7)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        parts.append(f"{w!r} is not a registered marker{hint}")
    return (
        f"-m {expr!r} selected no llmbench scenario: {'; '.join(parts)}. Pack markers are "
        f"the pack id with '-' written '_'; tag markers are {TAG_PREFIX}<tag>; "
        "`pytest --markers` lists them"
    )


class PackDir(pytest.Directory):
    """A folder with ``pack.yaml``. Its node id is the pack id."""

    meta: PackMeta

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        llm = controller(self.config)
        try:
            self.meta = load_meta(self.path / PACK_FILE)
        except PackError as exc:
            # The pack id is unknown: its folder name stands in for the marker, so
            # `-m <pack>` still shows the error.
            marker = self.path.name.replace("-", "_")
            self.config.addinivalue_line("markers", f"{marker}: scenarios of pack {marker}")
            yield BrokenPackItem.from_parent(self, name=PACK_FILE, error=str(exc), marker=marker)
            return
        if not llm.wants_pack(self.meta.id):
            return
        clash = llm.pack_clash(self.meta.id, self.path)
        if clash:
            yield BrokenPackItem.from_parent(
                self,
                name=PACK_FILE,
                error=f"{self.path / PACK_FILE}: pack id {self.meta.id!r} "
                f"is already used by {clash}",
                marker=self.meta.marker_name,  # `-m <pack>` shows the clash too
            )
            return
        llm.register_pack(self.meta, self.path)
        with gc_paused():  # thousands of items at once: see gc_paused
            items = list(self._items())
        yield from items

    def _items(self) -> Iterator[pytest.Item]:
        """Items sit directly under the pack, so their natural node id is
        ``<pack>::<scenario>`` on every pytest version; a scenario file that does not
        load becomes one ERROR item ``<pack>::<file>`` and the rest still runs."""
        meta = self.meta
        llm = controller(self.config)
        repeat = llm.cfg.repeat
        models: list[str | None] = list(llm.cfg.model_labels) or [None]
        # Shared by the pack's items, as pytest shares them between the parametrized
        # items of one function: fixtures and marker names are resolved once, not once
        # per item (a third of the cost of creating 10k items).
        fixtureinfos: dict[Any, Any] = {}
        marks: dict[str, pytest.MarkDecorator] = {}
        for f in scenario_files(self.path):
            rel = f.relative_to(self.path).as_posix()
            try:
                scenarios = load_scenario_file(f, meta)
            except PackError as exc:
                # The pack's marker too, so `-m <pack>` shows the error (missing data).
                yield BrokenPackItem.from_parent(
                    self, name=rel, path=f, error=str(exc), marker=meta.marker_name
                )
                continue
            clash = next(
                (
                    (sc, where)
                    for sc in scenarios
                    for where in [llm.claim_scenario_id(meta.id, sc)]
                    if where
                ),
                None,
            )
            if clash:
                sc, where = clash
                yield BrokenPackItem.from_parent(
                    self,
                    name=rel,
                    path=f,
                    error=f"{sc.source_file}:{sc.source_line}: duplicate scenario id {sc.id!r} "
                    f"in pack {meta.id!r} (also at {where})",
                    marker=meta.marker_name,
                )
                continue
            for sc in sorted(scenarios, key=lambda s: s.id):
                func = _scenario_function(sc)
                for model in models:
                    for r in range(1, repeat + 1) if repeat > 1 else [None]:
                        parts = [p for p in (model, None if r is None else f"r{r}") if p]
                        name = f"{sc.id}[{'-'.join(parts)}]" if parts else sc.id
                        item = ScenarioItem.from_parent(
                            self,
                            name=name,
                            callobj=func,
                            scenario=sc,
                            pack=meta,
                            repeat=r,
                            model=model,
                            fixtureinfo=fixtureinfos.get(func),
                            marks=marks,
                        )
                        fixtureinfos[func] = item._fixtureinfo
                        yield item


# The item's function: its signature is the fixtures a scenario needs. The work is in
# ScenarioItem.setup/runtest, which skip the pyfunc_call hook and the ``request``
# fixture (a fifth of pytest's own cost per item). Only a verifier that runs code
# gets the sandbox, only a judged one the judge: overriding either fixture in a
# conftest.py takes effect, and a run that needs no sandbox opens none.
def _scenario_test(llm_endpoint: Any) -> None:  # pragma: no cover - never called
    pass


def _sandboxed_scenario_test(  # pragma: no cover - never called
    llm_endpoint: Any, llm_sandbox: Any
) -> None:
    pass


def _judged_scenario_test(llm_endpoint: Any, llm_judge: Any) -> None:  # pragma: no cover
    pass


def _judged_sandboxed_scenario_test(  # pragma: no cover - never called
    llm_endpoint: Any, llm_sandbox: Any, llm_judge: Any
) -> None:
    pass


def _scenario_function(scenario: Scenario) -> Any:
    return {
        (False, False): _scenario_test,
        (True, False): _sandboxed_scenario_test,
        (False, True): _judged_scenario_test,
        (True, True): _judged_sandboxed_scenario_test,
    }[needs(scenario.verifier)]


class ScenarioItem(pytest.Function):
    """One scenario. Setup asks the model and verifies the answer (endpoint, sandbox,
    judge failures are ERRORs there); the call phase reports the verdict (a wrong
    answer is a FAIL)."""

    def __init__(
        self,
        *,
        scenario: Scenario,
        pack: PackMeta,
        repeat: int | None,
        model: str | None = None,
        marks: dict[str, pytest.MarkDecorator] | None = None,
        **kw: Any,
    ):
        super().__init__(**kw)
        self.repeat = repeat
        self.model = model  # the label of a multi-model run
        self.scenario = scenario
        self.pack = pack
        names = ["llmbench", pack.marker_name]
        if needs(scenario.verifier)[0]:
            names.append("sandbox")
        cache = {} if marks is None else marks
        for name in names + [tag_marker(t) for t in scenario.tags]:
            mark = cache.get(name)
            if mark is None:
                mark = cache[name] = getattr(pytest.mark, name)
            self.add_marker(mark)

    def setup(self) -> None:
        from .core.endpoint import Endpoint
        from .core.responders import Responder

        llm = controller(self.config)
        try:
            super().setup()  # the fixtures: endpoint, and sandbox or judge when needed
            ctx = llm.verdicts.context(self)  # what they gave, checked before any request
        except InfraError as exc:
            llm.setup_failed(self, exc)  # e.g. no sandbox here: the item's record says so
            raise
        endpoint = self.funcargs["llm_endpoint"]
        if not isinstance(endpoint, (Endpoint, Responder)):
            raise TypeError(
                "the llm_endpoint fixture must return a pytest_llmbench.Endpoint "
                "(or Responder), "
                f"got {type(endpoint).__name__}"
            )
        llm.generate(self, endpoint)
        llm.verdicts.judge(self, ctx)  # infrastructure problems of verifying are ERRORs too

    def runtest(self) -> None:
        controller(self.config).verdicts.check(self)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = (self.scenario.source_line or 1) - 1
        return Path(self.scenario.source_file or self.path), line, f"{self.pack.id}::{self.name}"

    def repr_failure(
        self, excinfo: ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, ScenarioFailed):
            res = controller(self.config).recorder.result_of(self)
            if res is not None:
                return format_failure(self.scenario, res)
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def _repr_failure_py(
        self, excinfo: ExceptionInfo[BaseException], style: Any = None
    ) -> TerminalRepr:
        if isinstance(excinfo.value, InfraError):
            return _LineRepr(f"{excinfo.value.failure_mode}: {excinfo.value}")
        return super()._repr_failure_py(excinfo, style=style)


class PackFileError(Exception):
    """A pack file failed validation; the message names the file and the line."""


class BrokenPackItem(pytest.Item):
    """Stands in for a pack file that does not load, so it ERRORs on its own while
    every other pack still runs (a collection error would stop the whole session)."""

    def __init__(self, *, error: str, marker: str | None = None, **kw: Any):
        super().__init__(**kw)
        self.error = error
        self.add_marker("llmbench")
        if marker:
            self.add_marker(marker)

    def runtest(self) -> None:  # pragma: no cover - setup raises first
        raise PackFileError(self.error)

    def setup(self) -> None:
        controller(self.config).recorder.store_broken_pack(self, self.error)
        raise PackFileError(self.error)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.nodeid

    def _repr_failure_py(
        self, excinfo: ExceptionInfo[BaseException], style: Any = None
    ) -> TerminalRepr:
        if isinstance(excinfo.value, PackFileError):
            return _LineRepr(f"pack_error: {excinfo.value}")
        return super()._repr_failure_py(excinfo, style=style)


class _LineRepr(TerminalRepr):
    def __init__(self, text: str):
        self.text = text

    def toterminal(self, tw: Any) -> None:
        tw.line(self.text)


def is_pack_dir(path: Path) -> bool:
    return (path / PACK_FILE).is_file()
