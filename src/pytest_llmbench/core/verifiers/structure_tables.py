"""Structured output, tables: ``csv`` and ``markdown_table`` (header, column types, row
count, expected cells).

The format/structure/content split and the shared checks are structure.py's."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..output import Output
from ._text import short, strip_fence
from .base import Check, Verdict, Verifier, register
from .context import VerifierContext
from .structure import _Args, _fence_or_prose, _Result, show

# --------------------------------------------------------------------------- tables

_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


class ColumnSpec(_Args):
    type: Literal["str", "int", "float", "date"] = "str"
    date_format: str = "%Y-%m-%d"
    pattern: str | None = None
    values: list[str] | None = None
    unique: bool = False
    nonempty: bool = True

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"bad pattern {v!r}: {exc}") from None
        return v


def _type_ok(cell: str, spec: ColumnSpec) -> bool:
    if spec.type == "int":
        return _INT.fullmatch(cell) is not None
    if spec.type == "float":
        return _FLOAT.fullmatch(cell) is not None
    if spec.type == "date":
        try:
            dt.datetime.strptime(cell, spec.date_format)
        except ValueError:
            return False
        return True
    return True


def cell_equal(got: str, want: Any, ignore_case: bool) -> bool:
    """A text cell against an expected value: numbers compare as numbers."""
    got = got.strip()
    if isinstance(want, bool):
        return got.casefold() == str(want).casefold()
    if isinstance(want, (int, float)):
        if _FLOAT.fullmatch(got) is None:
            return False
        return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9)
    w = str(want).strip()
    return got.casefold() == w.casefold() if ignore_case else got == w


class TableArgs(_Args):
    header: list[str] = Field(min_length=1)
    rows: int | None = Field(default=None, ge=0)
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    cells: dict[str, Any] = Field(default_factory=dict)
    contains_rows: list[dict[str, Any]] = Field(default_factory=list)
    ignore_case: bool = False

    @model_validator(mode="after")
    def _names_known(self) -> TableArgs:
        cols = set(self.header)
        if len(cols) != len(self.header):
            raise ValueError("header has duplicate column names")
        for name in self.columns:
            if name not in cols:
                raise ValueError(f"columns: {name!r} is not in header")
        for key in self.cells:
            row, _, col = key.partition(".")
            if not row.isdigit() or int(row) < 1 or col not in cols:
                raise ValueError(f"cells: key {key!r} must be '<row from 1>.<header column>'")
            if self.rows is not None and int(row) > self.rows:
                raise ValueError(f"cells: row {row} is beyond rows={self.rows}")
        for partial in self.contains_rows:
            bad = [k for k in partial if k not in cols]
            if bad or not partial:
                raise ValueError(f"contains_rows: {partial!r} needs header columns only")
        return self


def _table_checks(a: TableArgs, header: list[str], rows: list[list[str]], res: _Result) -> None:
    """Header, row count, widths, column rules, expected cells and rows."""
    res.struct.append(Check("header", header == a.header, show(header, 100), show(a.header, 100)))
    if a.rows is not None:
        res.struct.append(Check("rows", len(rows) == a.rows, str(len(rows)), str(a.rows)))
    width = len(a.header)
    ragged = [(i + 1, len(r)) for i, r in enumerate(rows) if len(r) != width]
    if ragged:
        i, n = ragged[0]
        more = f" (+{len(ragged) - 1} more rows)" if len(ragged) > 1 else ""
        res.struct.append(Check("fields per row", False, f"row {i} has {n}{more}", str(width)))
    elif rows:
        res.struct.append(Check("fields per row", True, str(width), str(width)))

    def col_index(name: str) -> int | None:
        if name in header:
            return header.index(name)
        return None

    def column(name: str) -> list[tuple[int, str]] | None:
        idx = col_index(name)
        if idx is None:
            return None
        return [(i + 1, r[idx].strip() if idx < len(r) else "") for i, r in enumerate(rows)]

    for name, spec in a.columns.items():
        vals = column(name)
        if vals is None:
            res.struct.append(Check(f"column {name!r}", False, "missing", "present"))
            continue
        if spec.nonempty:
            bad: list[tuple[int, str]] = [(i, v) for i, v in vals if not v]
            res.struct.append(
                Check(
                    f"column {name!r} filled",
                    not bad,
                    f"row {bad[0][0]} empty" if bad else "all filled",
                    "no empty cells",
                )
            )
        if spec.type != "str":
            bad = [(i, v) for i, v in vals if v and not _type_ok(v, spec)]
            wanted = spec.type if spec.type != "date" else f"date {spec.date_format}"
            res.struct.append(
                Check(
                    f"column {name!r} type",
                    not bad,
                    f"row {bad[0][0]}: {show(bad[0][1])}" if bad else f"all {spec.type}",
                    wanted,
                )
            )
        if spec.pattern is not None:
            pat = re.compile(spec.pattern)
            bad = [(i, v) for i, v in vals if v and not pat.fullmatch(v)]
            res.struct.append(
                Check(
                    f"column {name!r} pattern",
                    not bad,
                    f"row {bad[0][0]}: {show(bad[0][1])}" if bad else "all match",
                    f"match /{spec.pattern}/",
                )
            )
        if spec.values is not None:
            allowed = spec.values

            def allowed_ok(v: str, allowed: list[str] = allowed) -> bool:
                return any(cell_equal(v, w, a.ignore_case) for w in allowed)

            bad = [(i, v) for i, v in vals if v and not allowed_ok(v)]
            res.struct.append(
                Check(
                    f"column {name!r} values",
                    not bad,
                    f"row {bad[0][0]}: {show(bad[0][1])}" if bad else "all allowed",
                    "one of " + ", ".join(show(w) for w in allowed),
                )
            )
        if spec.unique:
            seen: dict[str, int] = {}
            dup = None
            for i, v in vals:
                key = v.casefold() if a.ignore_case else v
                if key in seen:
                    dup = (seen[key], i, v)
                    break
                seen[key] = i
            res.struct.append(
                Check(
                    f"column {name!r} unique",
                    dup is None,
                    f"rows {dup[0]} and {dup[1]}: {show(dup[2])}" if dup else "all unique",
                    "unique values",
                )
            )

    for key, want in a.cells.items():
        row_s, _, name = key.partition(".")
        r = int(row_s)
        vals = column(name)
        if vals is None:
            res.content.append(Check(f"cell {key}", False, f"no column {name!r}", show(want)))
        elif r > len(vals):
            res.content.append(Check(f"cell {key}", False, f"no row {r}", show(want)))
        else:
            got = vals[r - 1][1]
            res.content.append(
                Check(f"cell {key}", cell_equal(got, want, a.ignore_case), show(got), show(want))
            )

    for partial in a.contains_rows:
        cols = {k: column(k) for k in partial}
        hit = None
        if all(v is not None for v in cols.values()):
            for i in range(len(rows)):
                if all(
                    cell_equal(cols[k][i][1], w, a.ignore_case)  # type: ignore[index]
                    for k, w in partial.items()
                ):
                    hit = i + 1
                    break
        desc = ", ".join(f"{k}={show(w, 30)}" for k, w in partial.items())
        res.content.append(
            Check(f"row with {desc}", hit is not None, f"row {hit}" if hit else "none", "a row")
        )


# --------------------------------------------------------------------------- CSV


class CsvArgs(TableArgs):
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    strict: bool = True


@register("csv")
class Csv(Verifier):
    """CSV with an exact ``header``, exact ``rows`` count, per-column rules and
    expected ``cells`` (``"<row>.<column>"``, rows from 1). ``strict``: the CSV and
    nothing else (no fence, no prose, no blank lines)."""

    Args = CsvArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: CsvArgs = self.args  # type: ignore[assignment]
        res = _Result("csv", a.strict)
        body, fenced = strip_fence(output.text.strip())
        records = [
            [c.strip() for c in rec]
            for rec in csv.reader(io.StringIO(body), delimiter=a.delimiter, skipinitialspace=True)
        ]
        lines = body.splitlines()
        nonempty = [(i, r) for i, r in enumerate(records) if any(c for c in r)]
        if not nonempty:
            res.fmt.append(_fence_or_prose(fenced, "", "", "CSV"))
            res.parsed = False
            res.struct.append(Check("header", False, "empty answer", show(a.header, 100)))
            return res.verdict()
        # The header is where the required header is; anything above it is prose.
        start = next((k for k, (_, r) in enumerate(nonempty) if r == a.header), 0)
        before = [r for _, r in nonempty[:start]]
        header = nonempty[start][1]
        tail = nonempty[start + 1 :]
        after: list[list[str]] = []
        if len(a.header) > 1:
            # trailing one-field records are prose ("Hope this helps!"), not rows
            while tail and len(tail[-1][1]) == 1:
                after.insert(0, tail.pop()[1])
        rows = [r for _, r in tail]
        first, last = nonempty[start][0], (tail[-1][0] if tail else nonempty[start][0])
        blank_inside = any(not any(c for c in records[k]) for k in range(first, last))
        before_text = (lines[0] if lines else "") if before else ""
        after_text = ",".join(after[0]) if after else ""
        fmt = _fence_or_prose(fenced, before_text, after_text, "CSV")
        if fmt.passed and blank_inside:
            fmt = Check("CSV only", False, "blank line inside the table", "CSV only")
        res.fmt.append(fmt)
        _table_checks(a, header, rows, res)
        return res.verdict()


# --------------------------------------------------------------------------- markdown

_SEP_CELL = re.compile(r":?-+:?")
_MARKUP = re.compile(r"(\*\*|__|\*|_|`)(.+)\1", re.DOTALL)


def _md_cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", s)]


def _unmark(cell: str) -> str:
    """Drop emphasis/code markup wrapped around a whole cell (**x**, `x`)."""
    while True:
        m = _MARKUP.fullmatch(cell)
        if not m:
            return cell
        cell = m.group(2).strip()


class MarkdownTableArgs(TableArgs):
    strict: bool = False
    strip_markup: bool = True


@register("markdown_table")
class MarkdownTable(Verifier):
    """A GitHub markdown table: exact ``header``, a separator row, exact ``rows``,
    column rules and expected ``cells``. ``strict``: the table and nothing else."""

    Args = MarkdownTableArgs

    def check(self, output: Output, ctx: VerifierContext) -> Verdict:
        a: MarkdownTableArgs = self.args  # type: ignore[assignment]
        res = _Result("md_table", a.strict)
        body, fenced = strip_fence(output.text.strip())
        lines = body.splitlines()
        blocks: list[tuple[int, int]] = []
        i = 0
        while i < len(lines):
            if "|" in lines[i]:
                j = i
                while j < len(lines) and "|" in lines[j]:
                    j += 1
                blocks.append((i, j))
                i = j
            else:
                i += 1
        if not blocks:
            res.fmt.append(_fence_or_prose(fenced, body, "", "table"))
            res.parsed = False
            res.struct.append(
                Check("markdown table", False, "no table lines", f"a table with header {a.header}")
            )
            return res.verdict()

        def clean(cells: list[str]) -> list[str]:
            return [_unmark(c) for c in cells] if a.strip_markup else cells

        start, end = next(
            (b for b in blocks if clean(_md_cells(lines[b[0]])) == a.header), blocks[0]
        )
        block = lines[start:end]
        header = clean(_md_cells(block[0]))
        sep = _md_cells(block[1]) if len(block) > 1 else None
        sep_ok = sep is not None and all(_SEP_CELL.fullmatch(c) for c in sep)
        wanted_sep = "|" + "---|" * len(a.header)
        if sep is not None and sep_ok and len(sep) != len(header):
            res.struct.append(
                Check("separator row", False, f"{len(sep)} cells", f"{len(header)} cells")
            )
        else:
            res.struct.append(
                Check(
                    "separator row",
                    sep_ok,
                    short(block[1].strip(), 50) if len(block) > 1 else "none",
                    wanted_sep,
                )
            )
        data = block[2:] if sep_ok else block[1:]
        rows = [clean(_md_cells(ln)) for ln in data]
        before = "\n".join(ln for ln in lines[:start] if ln.strip())
        after = "\n".join(ln for ln in lines[end:] if ln.strip())
        res.fmt.append(_fence_or_prose(fenced, before, after, "table"))
        _table_checks(a, header, rows, res)
        return res.verdict()
