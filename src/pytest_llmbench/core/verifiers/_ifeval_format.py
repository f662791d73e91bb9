"""Instructions about form: lists, sections, JSON, quoting, case, punctuation."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from . import ifeval_exact
from ._ifeval_content import (
    Official,
    Relation,
    Result,
    _Counted,
    _Instr,
    _non_blank,
)
from ._ifeval_text import (
    _BULLET,
    _HIGHLIGHT,
    _NUMBERED,
    _TITLE,
    _fold,
    has_content,
    words,
)
from ._text import short, strip_fence

# --------------------------------------------------------------------------- format


class BulletCount(_Counted):
    """Markdown bullets: lines starting with ``*``, ``-`` or ``+`` and a space."""

    kind: Literal["bullet_count"]
    label = "bullet count"

    def evaluate(self, text: str) -> Result:
        return self.counted(len(_BULLET.findall(text)))

    def official(self) -> Official:
        n = self.official_exactly()
        return "detectable_format:number_bullet_lists", {"num_bullets": n}


class NumberedListCount(_Counted):
    kind: Literal["numbered_list_count"]
    label = "numbered items"

    def evaluate(self, text: str) -> Result:
        return self.counted(len(_NUMBERED.findall(text)))


class ConstrainedResponse(_Instr):
    """Exactly one of the options appears verbatim (an answer listing every
    option, like an echo of the question, does not count)."""

    kind: Literal["constrained_response"]
    options: list[str] = Field(min_length=2)
    label = "constrained response"
    _v = field_validator("options")(_non_blank)

    def evaluate(self, text: str) -> Result:
        hit = [o for o in self.options if o in text]
        return Result(len(hit) == 1, repr(hit), f"exactly one of {self.options!r}")

    def official(self) -> Official:
        if tuple(self.options) != ifeval_exact.CONSTRAINED_OPTIONS:
            raise ValueError(
                "constrained_response: IFEval's options are fixed: "
                f"{list(ifeval_exact.CONSTRAINED_OPTIONS)!r}"
            )
        return "detectable_format:constrained_response", {}


class HighlightedSections(_Counted):
    kind: Literal["highlighted_sections"]
    relation: Relation = "at_least"
    label = "*highlighted* sections"

    def evaluate(self, text: str) -> Result:
        n = sum(1 for m in _HIGHLIGHT.finditer(text) if (m.group(1) or m.group(2) or "").strip())
        return self.counted(n)

    def official(self) -> Official:
        n = self.official_at_least()
        return "detectable_format:number_highlighted_sections", {"num_highlights": n}


class MultipleSections(_Instr):
    """Exactly ``n`` sections headed ``<splitter> 1`` .. ``<splitter> n`` in order, each
    at the start of a line."""

    kind: Literal["multiple_sections"]
    n: int = Field(ge=1)
    splitter: str = Field(default="SECTION", min_length=1)

    def name(self) -> str:
        return f"{self.splitter} headers"

    def evaluate(self, text: str) -> Result:
        pat = re.compile(rf"(?m)^[ \t]*[#*_ ]*{re.escape(self.splitter)}[ \t]+(\d+)\b")
        nums = [int(m.group(1)) for m in pat.finditer(text)]
        want = f"{self.splitter} 1..{self.n} in order"
        ok = nums == list(range(1, self.n + 1))
        return Result(ok, f"{len(nums)} headers {nums}", want)

    def official(self) -> Official:
        # IFEval: at least n splits on "<splitter> <digits>" anywhere, in any order.
        kw = {"section_spliter": self.splitter, "num_sections": self.n}
        return "detectable_format:multiple_sections", kw


class JsonFormat(_Instr):
    """The whole answer is JSON (one enclosing code fence allowed, as in IFEval);
    ``required_keys`` makes it an object holding those keys."""

    kind: Literal["json_format"]
    required_keys: list[str] = Field(default_factory=list)
    label = "JSON only"

    def evaluate(self, text: str) -> Result:
        body, _ = strip_fence(text.strip())
        want = "JSON" + (f" object with keys {self.required_keys!r}" if self.required_keys else "")
        try:
            value: Any = json.loads(body)
        except ValueError as exc:
            msg = exc.args[0] if exc.args else str(exc)
            return Result(False, f"not JSON ({short(str(msg), 60)})", want)
        if not self.required_keys:
            return Result(True, "JSON", want)
        if not isinstance(value, dict):
            return Result(False, type(value).__name__, want)
        missing = [k for k in self.required_keys if k not in value]
        return Result(not missing, f"missing {missing!r}" if missing else "all keys", want)

    def official(self) -> Official:
        if self.required_keys:
            raise ValueError("json_format: IFEval checks only that the answer is JSON")
        return "detectable_format:json_format", {}


class Title(_Instr):
    kind: Literal["title"]
    label = "<<title>>"

    def evaluate(self, text: str) -> Result:
        hit = [t for t in _TITLE.findall(text) if has_content(t)]
        return Result(bool(hit), short(hit[0]) if hit else "none", "a title in <<...>>")

    def official(self) -> Official:
        return "detectable_format:title", {}


class TwoResponses(_Instr):
    kind: Literal["two_responses"]
    label = "two responses split by ******"

    def evaluate(self, text: str) -> Result:
        parts = text.split("******")
        valid: list[str] = []
        for i, p in enumerate(parts):
            if not has_content(p):
                if 0 < i < len(parts) - 1:
                    return Result(False, "an empty response between separators", "2 responses")
                continue
            valid.append(p.strip())
        if len(valid) != 2:
            return Result(False, f"{len(valid)} part(s)", "2 different responses")
        same = _fold(valid[0]) == _fold(valid[1])
        return Result(not same, "2 identical" if same else "2 different", "2 different responses")

    def official(self) -> Official:
        return "combination:two_responses", {}


class RepeatPrompt(_Instr):
    """The answer starts with the request repeated verbatim (case and spacing
    ignored), followed by an actual answer."""

    kind: Literal["repeat_prompt"]
    prompt_to_repeat: str = Field(min_length=1)
    label = "repeats the request first"

    def evaluate(self, text: str) -> Result:
        want = _fold(self.prompt_to_repeat)
        got = _fold(text)
        if not got.startswith(want):
            # Show where the answer departs from the request, not just its start.
            i = next(
                (k for k, (x, y) in enumerate(zip(got, want, strict=False)) if x != y), len(got)
            )
            lo = max(0, i - 20)
            return Result(
                False, f"...{short(got[lo : i + 20], 50)}", f"...{short(want[lo : i + 20], 50)}"
            )
        rest = got[len(want) :]
        return Result(
            has_content(rest),
            "answer follows" if has_content(rest) else "nothing after the repeat",
            "the request, then an answer",
        )

    def official(self) -> Official:
        return "combination:repeat_prompt", {"prompt_to_repeat": self.prompt_to_repeat}


class StartsWith(_Instr):
    kind: Literal["starts_with"]
    phrase: str = Field(min_length=1)

    def name(self) -> str:
        return "starts with"

    def evaluate(self, text: str) -> Result:
        got, want = _fold(text), _fold(self.phrase)
        ok = got.startswith(want) and has_content(got[len(want) :])
        return Result(ok, short(text.strip()[: len(self.phrase) + 10], 50), f"{want!r} then more")


class EndPhrase(_Instr):
    kind: Literal["end_phrase"]
    phrase: str = Field(min_length=1)

    def name(self) -> str:
        return "ends with"

    def evaluate(self, text: str) -> Result:
        got, want = _fold(text), _fold(self.phrase)
        ok = got.endswith(want) and has_content(got[: len(got) - len(want)])
        tail = text.strip()[-(len(self.phrase) + 10) :]
        return Result(ok, short(tail, 50), f"{want!r} as the last words")

    def official(self) -> Official:
        return "startend:end_checker", {"end_phrase": self.phrase}


class Quotation(_Instr):
    kind: Literal["quotation"]
    label = "wrapped in double quotes"

    def evaluate(self, text: str) -> Result:
        s = text.strip()
        ok = len(s) >= 2 and s[0] in '"“' and s[-1] in '"”' and has_content(s[1:-1])
        return Result(ok, repr(s[:1] + "..." + s[-1:]), '"..."')

    def official(self) -> Official:
        return "startend:quotation", {}


# --------------------------------------------------------------------------- case, punctuation


class AllUppercase(_Instr):
    kind: Literal["all_uppercase"]
    label = "all capitals"

    def evaluate(self, text: str) -> Result:
        bad = [w for w in words(text) if w != w.upper()]
        return Result(
            not bad,
            f"lower-case {short(' '.join(bad[:3]), 40)}" if bad else "ok",
            "no lower-case letters",
        )

    def official(self) -> Official:
        return "change_case:english_capital", {}


class AllLowercase(_Instr):
    kind: Literal["all_lowercase"]
    label = "all lower-case"

    def evaluate(self, text: str) -> Result:
        bad = [w for w in words(text) if w != w.lower()]
        return Result(
            not bad,
            f"capitals in {short(' '.join(bad[:3]), 40)}" if bad else "ok",
            "no capital letters",
        )

    def official(self) -> Official:
        return "change_case:english_lowercase", {}


class CapitalWordFrequency(_Counted):
    """Words of two or more letters written in capitals ("NEVER", "FAQ")."""

    kind: Literal["capital_word_frequency"]
    relation: Relation = "at_least"
    label = "ALL-CAPS words"

    def evaluate(self, text: str) -> Result:
        caps = [w for w in words(text) if sum(c.isalpha() for c in w) >= 2 and w.isupper()]
        return self.counted(len(caps))

    def official(self) -> Official:
        rel, n = self.official_relation()
        kw = {"capital_frequency": n, "capital_relation": rel}
        return "change_case:capital_word_frequency", kw


class NoCommas(_Instr):
    kind: Literal["no_commas"]
    label = "no commas"

    def evaluate(self, text: str) -> Result:
        n = sum(text.count(c) for c in ",，、")
        if not n:
            return Result(True, "0 commas", "0")
        at = min(i for i in (text.find(","), text.find("，"), text.find("、")) if i >= 0)
        return Result(False, f"{n} (first: {short(text[max(0, at - 20) : at + 5], 40)})", "0")

    def official(self) -> Official:
        return "punctuation:no_comma", {}
