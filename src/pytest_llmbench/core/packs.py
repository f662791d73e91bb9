"""Loading packs from folders: YAML -> pydantic, errors that name file and line."""

from __future__ import annotations

import gc
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .includes import resolve_includes
from .pack_errors import PackError as PackError  # re-exported: the loaders' error
from .pack_errors import line_of
from .schema import PackMeta, Scenario, ScenarioFile
from .verifiers.base import VerifierConfigError, build_verifier

PACK_FILE = "pack.yaml"


_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_ODD_KEYS = ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")


# Bounds on what a pack file may make the loader build: a ~700-byte YAML "alias
# bomb" expands to billions of values, and 20,000 nested brackets exhaust the stack.
MAX_EXPANDED_NODES = 2_000_000
MAX_DEPTH = 100
_ALIAS_RE = re.compile(r"(?:^|[\s\[{,:?-])\*[^\s,\[\]{}]", re.MULTILINE)


class _TooBig(Exception):
    """A document past the load bounds; ``line`` is where."""

    def __init__(self, line: int | None, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


def _check_bounds(root: yaml.Node) -> None:
    """Count values as aliases expand them (each distinct node once: linear in the
    file) and measure nesting depth, without building anything."""
    sizes: dict[int, tuple[int, int]] = {}  # id -> (expanded values, depth)
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = (1, 0)
            continue
        if isinstance(node, yaml.MappingNode):
            children = [n for kv in node.value for n in kv]
        else:
            children = list(node.value)
        if not done:
            if key in open_:
                raise _TooBig(node.start_mark.line + 1, "a YAML alias refers to itself")
            open_.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        open_.discard(key)
        total = 1 + sum(sizes[id(c)][0] for c in children)
        depth = 1 + max((sizes[id(c)][1] for c in children), default=0)
        if total > MAX_EXPANDED_NODES:
            raise _TooBig(
                node.start_mark.line + 1,
                f"YAML aliases expand this to more than {MAX_EXPANDED_NODES:,} values "
                "(an alias bomb?)",
            )
        if depth > MAX_DEPTH:
            raise _TooBig(node.start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
        sizes[key] = (total, depth)


def _deep_line(loader_cls: Any, text: str) -> int | None:
    """Where nesting passes MAX_DEPTH, from the parser's events (no recursion)."""
    depth = 0
    try:
        for ev in yaml.parse(text, Loader=loader_cls):
            if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    return None if ev.start_mark is None else int(ev.start_mark.line) + 1
            elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return None
    return None


class _Unusual(Exception):
    """The document needs the full constructor (merge keys, sets, unhashable keys...)."""


def _construct(loader: Any, root: yaml.Node) -> Any:
    """Plain data from composed nodes, as ``SafeConstructor`` would build it.

    Strings, lists and mappings (nearly every node of a pack) are built here, about
    3x faster than the generic constructor; other scalars go to the loader's own
    constructor, and anything unusual raises ``_Unusual``."""
    built: dict[int, Any] = {}

    def build(node: yaml.Node) -> Any:
        tag = node.tag
        if isinstance(node, yaml.ScalarNode):
            return node.value if tag == _STR else loader.construct_object(node)
        done = built.get(id(node))
        if done is not None:
            return done  # an alias
        if tag == _SEQ and isinstance(node, yaml.SequenceNode):
            seq: list[Any] = []
            built[id(node)] = seq
            for item in node.value:
                seq.append(build(item))
            return seq
        if tag == _MAP and isinstance(node, yaml.MappingNode):
            mapping: dict[Any, Any] = {}
            built[id(node)] = mapping
            for key_node, value_node in node.value:
                if key_node.tag in _ODD_KEYS:
                    raise _Unusual
                key = build(key_node)
                try:
                    mapping[key] = build(value_node)
                except TypeError:  # unhashable key: the constructor words the error
                    raise _Unusual from None
            return mapping
        raise _Unusual

    return build(root)


def _load_with(loader_cls: Any, text: str) -> tuple[Any, yaml.Node | None]:
    """Compose once and construct from the same nodes (the nodes give line numbers)."""
    loader = loader_cls(text)
    try:
        try:
            root = loader.get_single_node()
            if root is None:
                return None, None
            if _ALIAS_RE.search(text):
                _check_bounds(root)  # before anything is built from it
            try:
                return _construct(loader, root), root
            except _Unusual:
                return loader.construct_document(root), root
        except RecursionError:
            line = _deep_line(loader_cls, text)
            raise _TooBig(line, f"nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(path, None, f"cannot read: {exc}") from None
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        # libyaml parses ~10x faster; on any error the pure-Python loader runs again
        # so messages (problem and line) stay exactly what they were.
        try:
            return _load_with(fast, text)
        except _TooBig as exc:
            raise PackError(path, exc.line, exc.message) from None
        except Exception:  # noqa: BLE001, S110
            # yaml.YAMLError, or its twin from a yaml package imported a second time
            # (pytester): libyaml's compiled module keeps raising the first one's classes
            pass
    try:
        return _load_with(yaml.SafeLoader, text)
    except _TooBig as exc:
        raise PackError(path, exc.line, exc.message) from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise PackError(path, line, f"invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise PackError(path, None, f"invalid YAML: {exc}") from None


def _validation_error(path: Path, root: yaml.Node | None, exc: ValidationError) -> PackError:
    errs = exc.errors()
    first = errs[0]
    loc = tuple(first["loc"])
    msg = f"{'.'.join(str(p) for p in loc) or '<root>'}: {first['msg']}"
    if len(errs) > 1:
        msg += f" (and {len(errs) - 1} more error(s))"
    return PackError(path, line_of(root, loc), msg)


def load_meta(pack_file: Path) -> PackMeta:
    data, root = _read_yaml(pack_file)
    try:
        return PackMeta.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(pack_file, root, exc) from None


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a block builds many objects that hold no
    cycles: loading 10k scenarios otherwise spends more time in the collector's
    repeated passes over the growing heap than in parsing (measured ~2.5x)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_scenario_file(path: Path, meta: PackMeta | None = None) -> list[Scenario]:
    """Validate one scenario file; check verifier types and arguments too."""
    with gc_paused():
        try:
            return _load_scenario_file(path, meta)
        except RecursionError:
            raise PackError(path, None, "nested too deep to load") from None


def _load_scenario_file(path: Path, meta: PackMeta | None) -> list[Scenario]:
    data, root = _read_yaml(path)
    try:
        data = resolve_includes(data, path.parent)
    except ValueError as exc:
        raise PackError(path, None, str(exc)) from None
    try:
        parsed = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(path, root, exc) from None
    for i, sc in enumerate(parsed.scenarios):
        sc.source_file = str(path)
        sc.source_line = line_of(root, ("scenarios", i))
    scenarios = list(parsed.scenarios)
    # templates, generators, agent environments: imported by the packs that use them
    if parsed.templates:
        from .templates import expand_templates

        scenarios += expand_templates(parsed.templates, path, root)
    if parsed.generators:
        from .generators import expand_generators

        scenarios += expand_generators(parsed.generators, path, root)
    seen: dict[str, int] = {}
    for sc in scenarios:
        line = sc.source_line
        if sc.id in seen:
            raise PackError(
                path, line, f"duplicate scenario id {sc.id!r} (first at line {seen[sc.id]})"
            )
        seen[sc.id] = line or 0
        try:
            if sc.environment is not None:
                from .loop import validate_environment

                validate_environment(sc)
            build_verifier(sc.verifier, sc, meta)
        except (VerifierConfigError, ValueError) as exc:
            raise PackError(path, line, str(exc)) from None
    return scenarios


def scenario_files(pack_dir: Path) -> list[Path]:
    """Scenario files of a pack, sorted so ids and order are stable everywhere."""
    out = []
    for p in sorted(pack_dir.rglob("*")):
        if p.suffix in (".yaml", ".yml") and p.name != PACK_FILE and p.is_file():
            out.append(p)
    return out


@dataclass
class Pack:
    meta: PackMeta
    path: Path
    scenarios: list[Scenario] = field(default_factory=list)

    def scenario(self, sid: str) -> Scenario:
        for sc in self.scenarios:
            if sc.id == sid:
                return sc
        raise KeyError(sid)


def load_pack(pack_dir: Path | str) -> Pack:
    """Load a whole pack strictly (first error raises). Used by the CLI and tests."""
    pack_dir = Path(pack_dir)
    meta = load_meta(pack_dir / PACK_FILE)
    pack = Pack(meta, pack_dir)
    where: dict[str, str] = {}
    for f in scenario_files(pack_dir):
        for sc in load_scenario_file(f, meta):
            if sc.id in where:
                raise PackError(
                    f, sc.source_line, f"duplicate scenario id {sc.id!r} (also in {where[sc.id]})"
                )
            where[sc.id] = f"{f.name}:{sc.source_line}"
            pack.scenarios.append(sc)
    pack.scenarios.sort(key=lambda s: s.id)
    return pack


def builtin_packs_dir() -> Path:
    """Built-in packs: inside the wheel, or the checkout's top-level ``packs/``."""
    env = os.environ.get("LLMBENCH_BUILTIN_PACKS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent.parent
    installed = here / "packs"
    if installed.is_dir():
        return installed
    return here.parent.parent / "packs"


def iter_pack_dirs(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for p in sorted(root.iterdir()):
        if (p / PACK_FILE).is_file():
            yield p
