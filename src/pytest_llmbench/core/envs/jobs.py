"""A scheduler: one-off jobs at a date-time and recurring cron jobs."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .service import Handler, Service, ToolError, need_str, opt_str

_CRON_FIELD = re.compile(r"^[\d*/,\-]+$")
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def check_cron(expr: str) -> str:
    """A five-field cron expression, normalised to single spaces."""
    fields = expr.split()
    if len(fields) != 5:
        raise ToolError(f"cron {expr!r}: needs 5 fields (minute hour day month weekday)")
    for f, (lo, hi) in zip(fields, _RANGES, strict=True):
        if not _CRON_FIELD.match(f):
            raise ToolError(f"cron {expr!r}: bad field {f!r}")
        for num in re.findall(r"\d+", f.split("/")[0]):
            if not lo <= int(num) <= hi:
                raise ToolError(f"cron {expr!r}: {num} is outside {lo}-{hi}")
    return " ".join(fields)


def check_at(text: str) -> str:
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ToolError(f"at {text!r}: use ISO format YYYY-MM-DDTHH:MM") from None
    return when.strftime("%Y-%m-%dT%H:%M")


class Scheduler(Service):
    name = "scheduler"

    def __init__(self, jobs: list[dict[str, Any]], now: str | None = None):
        self.jobs = [dict(j) for j in jobs]
        for i, j in enumerate(self.jobs, start=1):
            j.setdefault("id", f"job-{i}")
        self.next_id = len(self.jobs) + 1
        self.now = now

    def handlers(self) -> dict[str, Handler]:
        return {
            "schedule_job": self.schedule,
            "list_jobs": self.list,
            "cancel_job": self.cancel,
        }

    def snapshot(self) -> list[dict[str, Any]]:
        return [dict(j) for j in self.jobs]

    def schedule(self, args: dict[str, Any]) -> Any:
        name = need_str(args, "name")
        action = need_str(args, "action")
        cron, at = opt_str(args, "cron"), opt_str(args, "at")
        if (cron is None) == (at is None):
            raise ToolError("give exactly one of 'cron' (recurring) or 'at' (one-off)")
        job: dict[str, Any] = {"id": f"job-{self.next_id}", "name": name, "action": action}
        if cron is not None:
            job["cron"] = check_cron(cron)
        else:
            job["at"] = check_at(at or "")
            if self.now and job["at"] <= self.now:
                raise ToolError(f"at {job['at']} is in the past (now is {self.now})")
        self.next_id += 1
        self.jobs.append(job)
        return {"ok": True, **job}

    def list(self, args: dict[str, Any]) -> Any:
        return {"jobs": self.snapshot(), "now": self.now}

    def cancel(self, args: dict[str, Any]) -> Any:
        jid = need_str(args, "id").strip()
        for j in self.jobs:
            if j["id"] == jid:
                self.jobs.remove(j)
                return {"ok": True, "cancelled": jid}
        raise ToolError(f"no job with id {jid!r}")
