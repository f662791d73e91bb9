"""Applying a model's edit to source files: whole file, SEARCH/REPLACE blocks, unified diff.

Pure functions over ``{path: text}`` mappings. Anything that does not apply cleanly
raises :class:`EditApplyError` with a message that says which block or hunk and why;
an answer with no edit at all raises :class:`NoEdit`.

Tolerances are the ones models need and no more: trailing whitespace is ignored when
an exact match fails, a diff hunk may sit at another line than its header says, and a
blank line inside a hunk counts as blank context. Ambiguous matches are errors.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .verifiers._code import NoCode, code_blocks, extract_code

EditFormat = Literal["whole", "search_replace", "diff"]
EDIT_FORMATS: tuple[str, ...] = ("whole", "search_replace", "diff")


class EditApplyError(ValueError):
    """An edit was given but cannot be applied (failure category ``edit_apply_error``)."""


class NoEdit(NoCode):
    """The answer holds no edit of the wanted format (failure category ``no_code``)."""


# ---------------------------------------------------------------- paths


def _resolve(path: str | None, files: Mapping[str, str], default: str) -> str:
    """Map a path named in an edit onto one of ``files`` (``a/``/``b/`` prefixes and
    leading ``./`` dropped, a unique basename accepted)."""
    if not path:
        return default
    p = path.strip().strip("`*\"'")
    for prefix in ("a/", "b/", "./"):
        if p.startswith(prefix) and p not in files:
            p = p[len(prefix) :]
    if p in files:
        return p
    base = posixpath.basename(p)
    hits = [f for f in files if posixpath.basename(f) == base]
    if len(hits) == 1:
        return hits[0]
    known = ", ".join(sorted(files)) or "none"
    raise EditApplyError(f"the edit names file {path!r}, which is not one of: {known}")


def _lines(text: str) -> tuple[list[str], bool]:
    if not text:
        return [], False
    nl = text.endswith("\n")
    return (text[:-1] if nl else text).split("\n"), nl


def _join(lines: list[str], newline_at_end: bool) -> str:
    return "\n".join(lines) + ("\n" if newline_at_end and lines else "")


# ---------------------------------------------------------------- whole file


def whole_file(answer: str, language: str) -> str:
    """The complete file from an answer: its longest code block of ``language``."""
    try:
        return extract_code(answer, language)
    except NoCode as exc:
        raise NoEdit(str(exc)) from None


# ---------------------------------------------------------------- search/replace

_SR_START = re.compile(r"^\s*<{5,9}\s*SEARCH\b.*$")
_SR_MID = re.compile(r"^\s*={5,9}\s*$")
_SR_END = re.compile(r"^\s*>{5,9}\s*REPLACE\b.*$")
_FENCE_LINE = re.compile(r"^\s*(```|~~~)")
_PATHLIKE = re.compile(r"^[\w./\\-]+\.[A-Za-z0-9]+$")


@dataclass(frozen=True)
class SearchReplace:
    path: str | None
    search: str
    replace: str
    index: int  # 1-based, for messages


def _path_before(lines: list[str], i: int) -> str | None:
    """The file name written just above a SEARCH marker (skipping a fence line)."""
    j = i - 1
    while j >= 0 and (not lines[j].strip() or _FENCE_LINE.match(lines[j])):
        if _FENCE_LINE.match(lines[j]) and lines[j].strip().strip("`~").strip():
            # "```python path/to/file.py" names the file in the info string.
            info = lines[j].strip().strip("`~").split()
            if len(info) > 1 and _PATHLIKE.match(info[-1]):
                return info[-1]
        j -= 1
    if j < 0:
        return None
    cand = lines[j].strip().strip("`*:").strip()
    cand = re.sub(r"^(file|path)\s*:\s*", "", cand, flags=re.IGNORECASE)
    return cand if _PATHLIKE.match(cand) else None


def parse_search_replace(text: str) -> list[SearchReplace]:
    """Every ``<<<<<<< SEARCH / ======= / >>>>>>> REPLACE`` block, in order."""
    lines = (text or "").split("\n")
    blocks: list[SearchReplace] = []
    i = 0
    while i < len(lines):
        if not _SR_START.match(lines[i]):
            if _SR_MID.match(lines[i]) or _SR_END.match(lines[i]):
                raise EditApplyError(
                    f"line {i + 1}: {lines[i].strip()!r} without an opening '<<<<<<< SEARCH' line"
                )
            i += 1
            continue
        n = len(blocks) + 1
        path = _path_before(lines, i)
        j = i + 1
        while j < len(lines) and not _SR_MID.match(lines[j]):
            if _SR_START.match(lines[j]) or _SR_END.match(lines[j]):
                raise EditApplyError(f"block {n}: no '=======' line between SEARCH and REPLACE")
            j += 1
        if j >= len(lines):
            raise EditApplyError(f"block {n}: no '=======' line after '<<<<<<< SEARCH'")
        k = j + 1
        while k < len(lines) and not _SR_END.match(lines[k]):
            if _SR_START.match(lines[k]) or _SR_MID.match(lines[k]):
                raise EditApplyError(f"block {n}: no '>>>>>>> REPLACE' line closing it")
            k += 1
        if k >= len(lines):
            raise EditApplyError(f"block {n}: no '>>>>>>> REPLACE' line closing it")
        blocks.append(
            SearchReplace(path, "\n".join(lines[i + 1 : j]), "\n".join(lines[j + 1 : k]), n)
        )
        i = k + 1
    return blocks


def _find_lines(hay: list[str], needle: list[str], loose: bool) -> list[int]:
    if not needle:
        return []

    def norm(s: str) -> str:
        return s.rstrip() if loose else s

    want = [norm(x) for x in needle]
    first = want[0]
    return [
        s
        for s in range(len(hay) - len(want) + 1)
        if norm(hay[s]) == first and [norm(x) for x in hay[s : s + len(want)]] == want
    ]


def _apply_one(content: str, block: SearchReplace, path: str) -> str:
    if not block.search.strip():
        if content.strip():
            raise EditApplyError(
                f"block {block.index}: empty SEARCH section, but {path} is not empty "
                "(an empty SEARCH only creates a new file)"
            )
        return block.replace + ("\n" if block.replace and not block.replace.endswith("\n") else "")
    hay, nl = _lines(content)
    needle = block.search.split("\n")
    for loose in (False, True):
        hits = _find_lines(hay, needle, loose)
        if len(hits) > 1:
            raise EditApplyError(
                f"block {block.index}: the SEARCH text matches {len(hits)} places in {path} "
                f"(lines {', '.join(str(h + 1) for h in hits[:5])}); add context to make it unique"
            )
        if hits:
            s = hits[0]
            new = block.replace.split("\n") if block.replace else []
            return _join(hay[:s] + new + hay[s + len(needle) :], nl or not hay)
    first = next((ln for ln in needle if ln.strip()), needle[0])
    raise EditApplyError(
        f"block {block.index}: the SEARCH text is not in {path} "
        f"(first line {first.strip()[:80]!r}); SEARCH must copy the current code exactly"
    )


def apply_search_replace(
    files: Mapping[str, str], blocks: list[SearchReplace], default: str
) -> dict[str, str]:
    """Apply blocks in order; each SEARCH must match exactly one place."""
    if not blocks:
        raise NoEdit("no '<<<<<<< SEARCH' ... '>>>>>>> REPLACE' block in the answer")
    out = dict(files)
    for b in blocks:
        path = _resolve(b.path, out, default) if b.path else default
        out[path] = _apply_one(out.get(path, ""), b, path)
    return out


# ---------------------------------------------------------------- unified diff

_HUNK = re.compile(r"^@@\s*(?:-(\d+)(?:,(\d+))?\s+\+(\d+)(?:,(\d+))?\s*)?@@.*$")


@dataclass
class Hunk:
    old_start: int | None  # 1-based line of the header, None for a bare "@@ @@"
    lines: list[tuple[str, str]] = field(default_factory=list)  # (' ' | '-' | '+', text)
    index: int = 0

    @property
    def old(self) -> list[str]:
        return [t for k, t in self.lines if k != "+"]

    @property
    def new(self) -> list[str]:
        return [t for k, t in self.lines if k != "-"]


@dataclass
class FilePatch:
    old_path: str | None
    new_path: str | None
    hunks: list[Hunk] = field(default_factory=list)
    no_newline_at_end: bool = False


def _diff_path(raw: str) -> str | None:
    p = raw.strip().split("\t")[0].strip()
    if p == "/dev/null":
        return None
    return p


def diff_text(answer: str) -> str:
    """The diff in an answer: its ``diff`` fenced blocks (or any fenced block that holds
    one), else the bare answer when it reads as a diff."""
    blocks = code_blocks(answer)
    tagged = [b.code for b in blocks if b.language == "diff"]
    if not tagged:
        tagged = [b.code for b in blocks if re.search(r"(?m)^(@@|--- |\+\+\+ )", b.code)]
    if tagged:
        return "\n".join(tagged)
    if re.search(r"(?m)^@@.*@@", answer or "") or re.search(r"(?m)^\+\+\+ ", answer or ""):
        return answer
    raise NoEdit("no unified diff in the answer (no ```diff block and no @@ hunk)")


def parse_unified_diff(text: str) -> list[FilePatch]:
    lines = text.split("\n")
    patches: list[FilePatch] = []
    cur: FilePatch | None = None
    hunk: Hunk | None = None
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            cur = FilePatch(_diff_path(ln[4:]), _diff_path(lines[i + 1][4:]))
            patches.append(cur)
            hunk = None
            i += 2
            continue
        m = _HUNK.match(ln)
        if m:
            if cur is None:
                cur = FilePatch(None, None)
                patches.append(cur)
            hunk = Hunk(int(m.group(1)) if m.group(1) else None, index=len(cur.hunks) + 1)
            cur.hunks.append(hunk)
            i += 1
            continue
        if hunk is not None:
            if ln.startswith("\\"):
                if hunk.lines and hunk.lines[-1][0] != "-":
                    assert cur is not None
                    cur.no_newline_at_end = True
            elif ln[:1] in (" ", "-", "+"):
                hunk.lines.append((ln[0], ln[1:]))
            elif ln == "":
                hunk.lines.append((" ", ""))
            else:
                hunk = None
        i += 1
    for p in patches:
        for h in p.hunks:
            while h.lines and h.lines[-1] == (" ", ""):
                # Trailing blank lines are usually the fence's, not context.
                h.lines.pop()
            if not any(k in "+-" for k, _ in h.lines):
                raise EditApplyError(f"hunk {h.index} changes nothing (no '+' or '-' lines)")
    if not any(p.hunks for p in patches):
        raise EditApplyError("the diff has file headers but no '@@' hunk")
    return patches


def _apply_hunks(content: str, patch: FilePatch, path: str) -> str:
    lines, nl = _lines(content)
    delta = 0
    for h in patch.hunks:
        old, new = h.old, h.new
        if not old:
            at = (h.old_start or 0) + delta if h.old_start is not None else len(lines)
            at = max(0, min(len(lines), at))
            lines[at:at] = new
            delta += len(new)
            continue
        hits: list[int] = []
        for loose in (False, True):
            hits = _find_lines(lines, old, loose)
            if hits:
                break
        if not hits:
            first = next((t for t in old if t.strip()), old[0])
            raise EditApplyError(
                f"hunk {h.index} of {path} does not apply: its context and '-' lines are "
                f"not in the file (first line {first.strip()[:80]!r})"
            )
        want = (h.old_start - 1 + delta) if h.old_start else 0
        s = min(hits, key=lambda x: (abs(x - want), x))
        lines[s : s + len(old)] = new
        delta += len(new) - len(old)
    return _join(lines, (nl or not content) and not patch.no_newline_at_end)


def apply_unified_diff(
    files: Mapping[str, str], patches: list[FilePatch], default: str
) -> dict[str, str]:
    out = dict(files)
    for p in patches:
        if p.new_path is None and p.old_path is not None:
            del out[_resolve(p.old_path, out, default)]
            continue
        name = p.new_path or p.old_path
        if p.old_path is None and name is not None and p.new_path is not None:
            path = _resolve(name, out, default) if name in out else name.removeprefix("b/")
            out[path] = _apply_hunks("", p, path)
            continue
        path = _resolve(name, out, default)
        if path not in out:
            raise EditApplyError(f"the diff edits {path!r}, which does not exist")
        out[path] = _apply_hunks(out[path], p, path)
    return out


# ---------------------------------------------------------------- dispatch


def apply_edit(
    fmt: str, files: Mapping[str, str], answer: str, *, target: str, language: str
) -> dict[str, str]:
    """The files after applying ``answer`` in format ``fmt``. ``target`` is the file a
    whole-file answer replaces and the default for edits that name no file."""
    if fmt == "whole":
        out = dict(files)
        out[target] = whole_file(answer, language)
        if not out[target].endswith("\n"):
            out[target] += "\n"
        return out
    if fmt == "search_replace":
        return apply_search_replace(files, parse_search_replace(answer), target)
    if fmt == "diff":
        return apply_unified_diff(files, parse_unified_diff(diff_text(answer)), target)
    raise ValueError(f"unknown edit format {fmt!r} (known: {', '.join(EDIT_FORMATS)})")


def describe_format(fmt: str) -> str:
    return {
        "whole": "whole file in one fenced code block",
        "search_replace": "SEARCH/REPLACE blocks",
        "diff": "a unified diff",
    }[fmt]
