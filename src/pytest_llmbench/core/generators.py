"""Scenario generators, expanded at load time from a top-level ``generators:`` list.

Kinds: ``humaneval`` (core.humaneval: one scenario per HumanEval problem), ``bfcl``
(core.bfcl: BFCL's single-turn categories from the fetched bfcl-eval wheel) and
``needle`` (needle in a haystack)::

    generators:
      - kind: needle
        id: nih                    # ids: nih-<length>-d<depth>-<variant>, e.g. nih-16k-d50-multi
        seed: 11                   # same seed -> same text on every machine
        lengths: {4k: 4000, 16k: 16000, 32k: 32000}   # label -> prompt size in tokens
        depths: [10, 50, 90]       # where the needle sits, in % of the document
        variants: [single, multi, distractor]

Prompt sizes are estimated as characters / 4 (no tokenizer is loaded); real
tokenizers give about 4-4.5 characters per token on this kind of English prose, so
the prompts land at or a little under the nominal size. Every scenario is tagged
``ctx<label>`` (``ctx4k``...) so ``-m "longctx and not ctx32k"`` deselects what a
small context cannot hold.

The haystack is composed from word lists in this module by a seeded RNG: plausible,
repetitive town-chronicle sentences that never contain digits, so no needle value
can appear by chance. Each scenario's RNG is seeded from ``seed`` and its own id, so
adding a length or depth never changes existing scenarios.

The ``needle`` verifier that grades these scenarios is ``verifiers/needle.py``.
"""

from __future__ import annotations

import bisect
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import registry
from .bfcl import BfclSpec, DataMissing, expand_bfcl
from .humaneval import HumanEvalSpec, expand_humaneval
from .pack_errors import PackError, line_of
from .schema import ID_RE, Generation, Scenario

CHARS_PER_TOKEN = 4


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- haystack


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


_WHO = _split(
    "the harbour clerk|the old ferryman|a young apprentice|the baker's daughter|"
    "the night watchman|a travelling tinsmith|the schoolmistress|the miller|"
    "a retired sailor|the postmistress|the blacksmith|two fishermen|the innkeeper|"
    "a weaver from the hills|the choir master|the lamplighter|the town surveyor|"
    "a shepherd|the chemist|the ropemaker's son"
)
_DID = _split(
    "repaired|counted|painted|carried|inspected|sorted|cleaned|measured|mended|stacked|"
    "polished|described|sketched|weighed|wrapped|delivered|examined|gathered|labelled|"
    "rearranged"
)
_WHAT = _split(
    "the fishing nets|a crate of apples|the chapel bell|the grain sacks|"
    "an old brass compass|the wool bales|the market awnings|a basket of eggs|"
    "the lantern glass|the garden fence|a roll of sailcloth|the ledger books|"
    "the stone steps|a cart wheel|the bread ovens|the harbour chains|"
    "a bundle of letters|the copper kettles|the orchard ladders|the loom"
)
_WHEN = _split(
    "before the tide turned|after the morning rain|while the gulls circled|"
    "as the fog lifted|late in the afternoon|under a grey sky|before supper|"
    "during the long winter|at first light|when the market closed|"
    "while the kettle boiled|after the church bells rang|on a windy evening|"
    "as the snow melted|before the carts arrived|in the quiet hour after noon"
)
_WHERE = _split(
    "near the north pier|behind the tannery|on the chapel hill|by the mill race|"
    "in the covered market|along the sea wall|beside the old granary|"
    "at the crossroads inn|under the willow trees|in the school yard|"
    "past the lighthouse|by the village green|in the cooper's yard|along the towpath|"
    "at the foot of the bridge|inside the boathouse"
)
_FEEL = _split(
    "Nobody thought it unusual|It was slow work|The neighbours hardly noticed|"
    "Everyone agreed it had been a long day|The air smelled of salt and tar|"
    "A dog barked somewhere in the lanes|The wind kept changing its mind|"
    "The work went on without complaint|Children watched from a low wall|"
    "Most of the town was already asleep|The smoke from the chimneys drifted east|"
    "It rained again soon afterwards"
)
_THEN = _split(
    "then walked home along the shore|and then rested on a bench|"
    "before joining the others at the inn|and hummed an old song while working|"
    "and wrote a short note about it|and left the gate open by mistake|"
    "then shared a loaf of bread with a friend|and promised to return in spring"
)


def _sentence(rng: random.Random) -> str:
    c = rng.choice
    form = rng.randrange(5)
    if form == 0:
        s = f"{c(_WHO)} {c(_DID)} {c(_WHAT)} {c(_WHERE)} {c(_WHEN)}."
    elif form == 1:
        s = f"{c(_WHEN)}, {c(_WHO)} {c(_DID)} {c(_WHAT)} {c(_THEN)}."
    elif form == 2:
        s = f"{c(_FEEL)} when {c(_WHO)} {c(_DID)} {c(_WHAT)}."
    elif form == 3:
        s = f"{c(_WHERE)}, {c(_WHO)} and {c(_WHO)} {c(_DID)} {c(_WHAT)}."
    else:
        s = f"{c(_FEEL)}; {c(_WHO)} {c(_DID)} {c(_WHAT)} {c(_WHEN)}."
    return s[0].upper() + s[1:]


def haystack(rng: random.Random, n_chars: int) -> list[str]:
    """Sentences until their joined length reaches ``n_chars``, in paragraphs of
    four to seven sentences (a paragraph break is an empty string)."""
    out: list[str] = []
    total = 0
    left_in_para = rng.randint(4, 7)
    while total < n_chars:
        s = _sentence(rng)
        out.append(s)
        total += len(s) + 1
        left_in_para -= 1
        if left_in_para == 0:
            out.append("")
            left_in_para = rng.randint(4, 7)
    return out


def _join(sentences: list[str]) -> str:
    paras: list[list[str]] = [[]]
    for s in sentences:
        if s:
            paras[-1].append(s)
        elif paras[-1]:
            paras.append([])
    return "\n\n".join(" ".join(p) for p in paras if p)


# ---------------------------------------------------------------- needles

_PLACES = _split(
    "archive|boathouse|granary|signal tower|cellar|chart room|greenhouse|pump house|"
    "bell tower|workshop|vault|library annex"
)
_SIDES = ("north", "south", "east", "west", "upper", "lower")
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I/O: easily misread as 1/0


def _code(rng: random.Random) -> str:
    return f"{rng.choice(_LETTERS)}{rng.choice(_LETTERS)}-{rng.randint(1000, 9999)}"


def _near(code: str, rng: random.Random) -> str:
    """A near-duplicate code: two digits swapped (or one changed if they are equal)."""
    head, digits = code.split("-")
    d = list(digits)
    i = rng.randrange(3)
    if d[i] != d[i + 1]:
        d[i], d[i + 1] = d[i + 1], d[i]
    else:
        d[i + 1] = str((int(d[i + 1]) + 3) % 10)
    return f"{head}-{''.join(d)}"


def _needle_sentence(key: str, value: str) -> str:
    return f"The access code for the {key} is {value}."


Variant = Literal["single", "multi", "distractor"]


class NeedleSpec(_Strict):
    kind: Literal["needle"]
    id: str
    seed: int
    lengths: dict[str, int] = Field(min_length=1)
    depths: list[int] = Field(min_length=1)
    variants: list[Variant] = Field(default=["single", "multi", "distractor"], min_length=1)
    needles: int = Field(default=3, ge=2, le=6, description="needles in the multi variant")
    max_chars: int = Field(default=400, ge=40)
    tags: list[str] = Field(default_factory=list)
    generation: Generation | None = None

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError(f"generator id {v!r} must match {ID_RE.pattern}")
        return v

    @field_validator("lengths")
    @classmethod
    def _check_lengths(cls, v: dict[str, int]) -> dict[str, int]:
        for label, tokens in v.items():
            if not re.fullmatch(r"[a-z0-9]+", label):
                raise ValueError(f"length label {label!r} must be lower-case letters/digits")
            if not 500 <= tokens <= 1_000_000:
                raise ValueError(f"length {label!r}: {tokens} tokens is out of 500..1000000")
        return v

    @field_validator("depths")
    @classmethod
    def _check_depths(cls, v: list[int]) -> list[int]:
        if any(not 0 <= d <= 100 for d in v) or len(set(v)) != len(v):
            raise ValueError("depths must be distinct percentages in 0..100")
        return v


def _insert(sentences: list[str], placed: list[tuple[int, str]]) -> list[str]:
    """Insert each (depth %, sentence) at the sentence boundary nearest that depth of
    the text (by characters)."""
    offsets = [0]
    for s in sentences:
        offsets.append(offsets[-1] + len(s) + 1)
    total = offsets[-1]
    at: dict[int, list[str]] = {}
    for depth, text in placed:
        target = total * depth / 100
        j = bisect.bisect_left(offsets, target)
        if j > 0 and (j == len(offsets) or target - offsets[j - 1] <= offsets[j] - target):
            j -= 1
        at.setdefault(j, []).append(text)
    out: list[str] = []
    for k, s in enumerate(sentences):
        out.extend(at.get(k, []))
        out.append(s)
    out.extend(at.get(len(sentences), []))
    return out


def _spread(depth: int, n: int) -> list[int]:
    """The first needle at ``depth``, the others evenly spread over the document."""
    return [depth] + [5 + (depth - 5 + k * 90 // n) % 90 for k in range(1, n)]


def _needle_scenario(
    spec: NeedleSpec, label: str, tokens: int, depth: int, variant: Variant
) -> Scenario:
    sid = f"{spec.id}-{label}-d{depth}-{variant}"
    # String seeds are hashed with SHA-512: stable across runs and machines.
    rng = random.Random(f"{spec.seed}:{sid}")
    n = spec.needles if variant == "multi" else 1
    keys: list[str] = []
    while len(keys) < n:
        k = f"{rng.choice(_SIDES)} {rng.choice(_PLACES)}"
        if all(k.split()[1:] != x.split()[1:] for x in keys):  # distinct places
            keys.append(k)
    values = [_code(rng) for _ in keys]
    near = [_near(v, rng) for v in values]
    depths = _spread(depth, n) if variant == "multi" else [depth]
    placed = [(d, _needle_sentence(k, v)) for d, k, v in zip(depths, keys, values, strict=True)]
    forbidden = list(near)
    distractor_key = ""
    if variant == "distractor":
        side, place = keys[0].split(" ", 1)
        distractor_key = f"{rng.choice([s for s in _SIDES if s != side])} {place}"
        placed.append((5 + (depth + 40) % 90, _needle_sentence(distractor_key, near[0])))

    if len(keys) == 1:
        question = f"What is the access code for the {keys[0]}? Reply with the code."
    else:
        listed = ", ".join(f"the {k}" for k in keys[:-1]) + f" and the {keys[-1]}"
        question = f"What are the access codes for {listed}? Reply with each place and its code."
    head = (
        "Below is a long chronicle of a harbour town. Somewhere in it is the information "
        "needed to answer the question that follows it.\n\n<document>\n"
    )
    tail = f"\n</document>\n\n{question}"
    budget = max(200, tokens * CHARS_PER_TOKEN - len(head) - len(tail))
    body = _join(_insert(haystack(rng, budget), placed))
    prompt = head + body + tail

    def said(pairs: list[tuple[str, str]]) -> str:
        text = "; ".join(f"the {k}: {v}" for k, v in pairs) + "."
        return text[0].upper() + text[1:]

    pairs = list(zip(keys, values, strict=True))
    reference = said(pairs) if n > 1 else f"The access code for the {keys[0]} is {values[0]}."
    counter: list[str] = [
        # the near-duplicate (the distractor's value in the distractor variant)
        said([(keys[0], near[0]), *pairs[1:]]) if n > 1 else f"It is {near[0]}.",
        # hedging between the right value and its near-duplicate
        f"It is either {values[0]} or {near[0]}; the document is not clear.",
        # a dump of the document: contains the value, but is no retrieval
        body[: spec.max_chars * 2] + "\n" + reference,
    ]
    if n > 1:
        counter.insert(1, said(pairs[:-1]) + " I could not find the last one.")
    if variant == "distractor":
        counter.insert(1, f"The access code for the {distractor_key} is {near[0]}.")
    approx = f"~{len(prompt) // CHARS_PER_TOKEN} tokens (chars/4)"
    data: dict[str, Any] = {
        "id": sid,
        "title": f"needle, {label} {approx}, depth {depth}%, {variant}",
        "prompt": prompt,
        "verifier": {
            "type": "needle",
            "values": values,
            "forbidden": forbidden,
            "max_chars": spec.max_chars,
            "context_tokens": len(prompt) // CHARS_PER_TOKEN,
            "depths": depths,
        },
        "tags": [*spec.tags, f"ctx{label}", variant],
        "reference": reference,
        "counterexamples": counter,
    }
    if spec.generation is not None:
        data["generation"] = spec.generation
    return Scenario.model_validate(data)


def _expand_needle(spec: NeedleSpec) -> list[Scenario]:
    return [
        _needle_scenario(spec, label, tokens, depth, variant)
        for label, tokens in spec.lengths.items()
        for depth in spec.depths
        for variant in spec.variants
    ]


# ---------------------------------------------------------------- registry, expansion

Expander = Callable[[Any], list[Scenario]]
Generator = tuple[type[BaseModel], Expander]
# Named in core.registry; other kinds come from ``pytest_llmbench.generators`` entry points.
NEEDLE: Generator = (NeedleSpec, _expand_needle)
HUMANEVAL: Generator = (HumanEvalSpec, expand_humaneval)
BFCL: Generator = (BfclSpec, expand_bfcl)


def expand_generators(
    raw: list[dict[str, Any]], path: Path, root: yaml.Node | None
) -> list[Scenario]:
    """Expand each generator entry into its scenarios; errors name file and line."""
    out: list[Scenario] = []
    for i, item in enumerate(raw):
        line = line_of(root, ("generators", i))
        kind = item.get("kind") if isinstance(item, dict) else None
        if not isinstance(kind, str) or not registry.known(registry.GENERATORS, kind):
            known = ", ".join(registry.names(registry.GENERATORS))
            raise PackError(
                path, line, f"generators.{i}.kind: unknown generator {kind!r} (known: {known})"
            )
        try:
            spec_cls, expand = registry.load(registry.GENERATORS, kind)
        except (registry.ExtensionError, TypeError, ValueError) as exc:
            raise PackError(path, line, f"generators.{i}.kind: {exc}") from None
        try:
            spec = spec_cls.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ("generators", i, *first["loc"])
            where = ".".join(str(p) for p in loc)
            raise PackError(path, line_of(root, loc), f"{where}: {first['msg']}") from None
        try:
            made = expand(spec)
        except DataMissing as exc:
            raise PackError(path, line, str(exc)) from exc
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise PackError(path, line, f"generator {kind!r}: {field}: {first['msg']}") from None
        for sc in made:
            sc.source_file = str(path)
            sc.source_line = line
        out += made
    return out


__all__ = [
    "BFCL",
    "CHARS_PER_TOKEN",
    "HUMANEVAL",
    "NEEDLE",
    "NeedleSpec",
    "expand_generators",
    "haystack",
]
