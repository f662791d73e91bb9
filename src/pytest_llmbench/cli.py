"""The ``llmbench`` command: packs, run logs and reports without pytest.

Exit codes: 0 done, 1 the command found problems (``check``, broken packs), 2 bad input
(a one-line message on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .core.runlog import JOURNAL_SUFFIX, RunLogError, load_runlog, save_runlog
from .core.workflows.baseline import BaselineError
from .core.workflows.records import WorkflowError


class CLIError(Exception):
    """Bad input: printed as one line, exit status 2."""


def _load(path: str) -> dict[str, Any]:
    return load_runlog(path, warn=lambda line: print(f"warning: {line}", file=sys.stderr))


# -- packs -------------------------------------------------------------------------
def cmd_schema(args: argparse.Namespace) -> int:
    from .core.verifier_docs import full_schema

    print(json.dumps(full_schema(), indent=2))
    return 0


def cmd_verifiers(args: argparse.Namespace) -> int:
    from .core import verifier_docs

    if args.markdown:
        sys.stdout.write(verifier_docs.render_markdown())
        return 0
    if args.json:
        print(json.dumps(verifier_docs.rows(), indent=1))
        return 0
    for r in verifier_docs.rows():
        sandbox = " [sandbox]" if r["sandbox"] else ""
        print(f"{r['type']}{sandbox}: {r['summary']}")
        req = ", ".join(r["required"]) or "-"
        print(f"    required: {req}; arguments: {', '.join(r['arguments']) or '-'}")
    print("(`llmbench schema` has the typed arguments; docs/verifiers.md has examples)")
    return 0


def _pack_dirs(root: Path) -> list[Path]:
    from .core.packs import PACK_FILE, iter_pack_dirs

    if not root.is_dir():
        raise CLIError(f"{root}: no such directory")
    if (root / PACK_FILE).is_file():
        return [root]
    dirs = list(iter_pack_dirs(root))
    if not dirs:
        raise CLIError(f"{root}: no pack here (no {PACK_FILE} in it or its subfolders)")
    return dirs


FETCH_NOTE = "data not fetched: llmbench datasets fetch"


def cmd_packs(args: argparse.Namespace) -> int:
    from .core.bfcl import DataMissing
    from .core.packs import PACK_FILE, PackError, builtin_packs_dir, load_meta, load_pack

    if args.path:  # for scripts: collect the built-in packs and nothing else
        print(builtin_packs_dir())
        return 0
    roots = [Path(d) for d in args.dir] if args.dir else [builtin_packs_dir()]
    rows, bad = [], 0
    for root in roots:
        for d in _pack_dirs(root):
            try:
                p = load_pack(d)
            except PackError as exc:
                if isinstance(exc.__cause__, DataMissing):  # not broken: not fetched yet
                    meta = load_meta(d / PACK_FILE)
                    rows.append([meta.id, meta.version, "-", f"{meta.title} ({FETCH_NOTE})"])
                    continue
                print(f"BROKEN {d}: {exc}")
                bad += 1
                continue
            rows.append([p.meta.id, p.meta.version, str(len(p.scenarios)), p.meta.title])
    if rows:
        head = ["id", "version", "scenarios", "title"]
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
        for r in [head, *rows]:
            print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}")
    return 1 if bad else 0


def cmd_check(args: argparse.Namespace) -> int:
    from .core.packs import PackError, load_pack
    from .core.selfcheck import check_pack

    bad = 0
    for root in args.pack_dirs:
        for d in _pack_dirs(Path(root)):
            try:
                pack = load_pack(d)
            except PackError as exc:
                print(f"BROKEN {exc}")
                bad += 1
                continue
            found = check_pack(pack)
            for p in found:
                print(p)
            problems = [p for p in found if not p.skipped]
            skipped = len(found) - len(problems)
            bad += len(problems)
            print(
                f"{pack.meta.id}: {len(pack.scenarios)} scenarios, {len(problems)} problem(s)"
                + (f", {skipped} not checked (no judge)" if skipped else "")
            )
    return 1 if bad else 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from .core import bfcl

    root = Path(args.dir).expanduser() if args.dir else None
    if args.action == "status":
        path = bfcl.wheel_path(root)
        print(f"bfcl: {path}" if path else f"bfcl: not fetched ({bfcl.FETCH_HINT})")
        return 0 if path else 1
    try:
        path = bfcl.fetch(root, version=args.version or bfcl.BFCL_VERSION)
        data = bfcl.load(root)
    except bfcl.DataMissing as exc:
        raise CLIError(str(exc)) from None
    sizes = ", ".join(f"{c} {len(data[c][0])}" for c in bfcl.CATEGORIES)
    print(f"bfcl: {path}\n  {sizes}")
    return 0


# -- run logs ------------------------------------------------------------------------
def cmd_inspect(args: argparse.Namespace) -> int:
    from .core.workflows import inspect as ins

    data = _load(args.runlog)
    if args.scenario:
        rec = ins.find_record(data, args.scenario)
        print("\n".join(ins.detail_lines(rec, full=args.full)))
        return 0
    if args.full:
        raise CLIError("--full goes with --scenario ID")
    if args.failed or args.mode:
        print("\n".join(ins.list_lines(data, failed=args.failed, mode=args.mode)))
        return 0
    print("\n".join(ins.summary_lines(data)))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from .core.workflows.diff import diff_runs

    res = diff_runs(_load(args.a), _load(args.b))
    if args.json:
        print(json.dumps(res.to_dict(), indent=1))
    else:
        print("\n".join(res.lines()))
    return 0


def cmd_rescore(args: argparse.Namespace) -> int:
    from .core.workflows.rescore import rescore

    if args.output and args.in_place:
        raise CLIError("give --output NEW or --in-place, not both")
    data = _load(args.runlog)
    if data.get("incomplete"):
        n = len(data.get("results") or [])
        print(f"note: {args.runlog}: an unfinished run, {n} scenario(s) read from its journal")
    res = rescore(
        data,
        pack_dirs=[Path(p) for p in args.packs],
        sandbox=args.sandbox,
        plugin_version=__version__,
    )
    print("\n".join(res.lines()))
    target = Path(args.output) if args.output else None
    if args.in_place:  # a journal given directly: the run log it stands for
        target = Path(args.runlog.removesuffix(JOURNAL_SUFFIX))
    if target is not None:
        save_runlog(target, data)
        print(f"written: {target}")
    else:
        print("(dry run: give --output NEW or --in-place to save)")
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from .core.runlog import atomic_write_json
    from .core.workflows.baseline import baseline_lines, capture_baseline, load_baseline

    if args.action == "show":
        print("\n".join(baseline_lines(load_baseline(args.runs[0]))))
        return 0
    if not args.output:
        raise CLIError("baseline capture needs -o FILE")
    runs = [(p, _load(p)) for p in args.runs]
    base = capture_baseline(runs)
    atomic_write_json(Path(args.output), base)
    print("\n".join(baseline_lines(base)))
    print(f"written: {args.output}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    if not args.output and not args.md:
        raise CLIError("give -o report.html and/or --md report.md")
    runs = [(Path(p).name, _load(p)) for p in args.runlogs]
    if args.output:
        from .report.html import render_html

        Path(args.output).write_text(render_html(runs, title=args.title), encoding="utf-8")
        print(f"written: {args.output}")
    if args.md:
        from .report.markdown import render_markdown

        parts = [
            render_markdown(d, title=args.title or f"pytest-llmbench: {name}") for name, d in runs
        ]
        Path(args.md).write_text("\n\n".join(parts), encoding="utf-8")
        print(f"written: {args.md}")
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    try:
        from . import sandbox_cli  # type: ignore[attr-defined,unused-ignore]
    except ImportError as exc:
        raise CLIError(f"sandbox commands are not available in this installation ({exc})") from None
    name = "build_image" if args.action == "build" else "status"
    fn: Callable[..., Any] | None = getattr(sandbox_cli, name, None)
    if fn is None:
        raise CLIError(f"sandbox {args.action}: not available in this installation")
    kw: dict[str, Any] = {}
    if args.image:
        kw["image"] = args.image
    if args.force:
        if args.action != "build":
            raise CLIError("--force goes with 'sandbox build'")
        kw["force"] = True
    rv = fn(**kw)
    if isinstance(rv, bool):
        return 0 if rv else 1
    if isinstance(rv, int):
        return rv
    if isinstance(rv, str):
        print(rv)
    elif isinstance(rv, dict):
        print(json.dumps(rv, indent=1, default=str))
    return 0


# -- parser --------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="llmbench",
        description="pytest-llmbench: packs, run logs, baselines and reports.",
    )
    p.add_argument("--version", action="version", version=f"pytest-llmbench {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("schema", help="print the JSON Schema of pack files (typed verifiers)")
    s.set_defaults(func=cmd_schema)

    s = sub.add_parser("verifiers", help="list the verifier types and their arguments")
    s.add_argument("--markdown", action="store_true", help="print docs/verifiers.md")
    s.add_argument("--json", action="store_true", help="machine-readable list")
    s.set_defaults(func=cmd_verifiers)

    s = sub.add_parser("packs", help="list built-in packs (or those under --dir)")
    s.add_argument("--dir", action="append", default=[], metavar="DIR")
    s.add_argument("--path", action="store_true", help="print the built-in packs' folder")
    s.set_defaults(func=cmd_packs)

    s = sub.add_parser("check", help="self-check packs: references pass, counterexamples fail")
    s.add_argument("pack_dirs", nargs="+", metavar="PACK_DIR")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("datasets", help="fetch benchmark data some packs are built from")
    s.add_argument("action", choices=["fetch", "status"])
    s.add_argument("name", choices=["bfcl"])
    s.add_argument(
        "--dir", metavar="DIR", help="data cache (default: $LLMBENCH_DATA_DIR or ~/.cache)"
    )
    s.add_argument("--version", default=None, metavar="V", help="bfcl-eval release to fetch")
    s.set_defaults(func=cmd_datasets)

    s = sub.add_parser("inspect", help="summary, failures or one exchange of a run log")
    s.add_argument("runlog", metavar="RUNLOG")
    s.add_argument("--failed", action="store_true", help="list failed scenarios")
    s.add_argument("--mode", metavar="MODE", help="only this failure mode or category")
    s.add_argument("--scenario", metavar="ID", help="one scenario (id, pack::id or node id)")
    s.add_argument("--full", action="store_true", help="with --scenario: raw requests, responses")
    s.set_defaults(func=cmd_inspect)

    s = sub.add_parser("diff", help="compare two run logs: per-pack deltas and flips")
    s.add_argument("a", metavar="A")
    s.add_argument("b", metavar="B")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_diff)

    s = sub.add_parser("rescore", help="re-run verifiers on the saved responses")
    s.add_argument("runlog", metavar="RUNLOG")
    s.add_argument("--output", "-o", metavar="NEW")
    s.add_argument("--in-place", action="store_true")
    s.add_argument(
        "--packs",
        action="append",
        default=[],
        metavar="DIR",
        help="look packs up here first (repeatable)",
    )
    s.add_argument("--sandbox", metavar="NAME", help="sandbox for verifiers that run code")
    s.set_defaults(func=cmd_rescore)

    s = sub.add_parser("baseline", help="capture (or show) a baseline from >= 3 runs")
    s.add_argument("action", choices=["capture", "show"])
    s.add_argument("runs", nargs="+", metavar="RUN")
    s.add_argument("-o", "--output", metavar="FILE")
    s.set_defaults(func=cmd_baseline)

    s = sub.add_parser("report", help="HTML (and Markdown) report over run logs")
    s.add_argument("runlogs", nargs="+", metavar="RUNLOG")
    s.add_argument("-o", "--output", metavar="HTML")
    s.add_argument("--md", metavar="PATH")
    s.add_argument("--title")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("sandbox", help="build or check the sandbox image")
    s.add_argument("action", choices=["build", "status"])
    s.add_argument("--image", metavar="NAME", help="image name (default: the project's)")
    s.add_argument("--force", action="store_true", help="build: rebuild even if up to date")
    s.set_defaults(func=cmd_sandbox)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse printed its usage message
        return int(exc.code) if isinstance(exc.code, int) else 2
    try:
        return int(args.func(args))
    except (CLIError, RunLogError, BaselineError, WorkflowError) as exc:
        print(f"llmbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"llmbench {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
