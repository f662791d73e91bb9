"""pytest-xdist awareness: which items this process will run next."""

from __future__ import annotations

from typing import Any

import pytest


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _interactor(config: pytest.Config) -> Any:
    for plugin in config.pluginmanager.get_plugins():
        if type(plugin).__name__ == "WorkerInteractor" and hasattr(plugin, "torun"):
            return plugin
    return None


def upcoming_items(
    item: pytest.Item, limit: int, index: dict[int, int] | None = None
) -> list[pytest.Item]:
    """``item`` and the items this process runs after it, at most ``limit``.

    Without xdist that is pytest's item order. On an xdist worker it is the worker's
    own queue (what the controller has handed it so far); anything unexpected in
    xdist's internals degrades to just ``item``."""
    items = item.session.items
    if not is_worker(item.config):
        start = index.get(id(item)) if index is not None else None
        if start is None or start >= len(items) or items[start] is not item:
            return [item]
        return items[start : start + limit]
    wi = _interactor(item.config)
    if wi is None:
        return [item]
    try:
        indices: list[int] = []
        nxt = getattr(wi, "nextitem_index", None)
        if isinstance(nxt, int):
            indices.append(nxt)
        with wi.torun.lock() as queue:
            indices.extend(i for i in list(queue)[:limit] if isinstance(i, int))
        return [item] + [items[i] for i in indices[: limit - 1]]
    except Exception:  # noqa: BLE001 - private API of xdist; never break the run for it
        return [item]


def prefetch_scheduling(config: pytest.Config, log: Any, reserve: int) -> Any:
    """xdist's work stealing, for ``-n N`` runs of llmbench (xdist's default ``load``
    hands a worker two items at a time, so it can prefetch two: 8 server slots stay
    half empty). Each worker gets its share at the start and keeps ``reserve`` items
    (what it may have prefetched, see ``Prefetcher.reserve``) when another
    worker runs dry and steals from it: a stolen item was never sent to the server,
    so nothing is generated twice."""
    from xdist.scheduler.worksteal import MIN_PENDING, WorkStealingScheduling

    class PrefetchScheduling(WorkStealingScheduling):  # type: ignore[misc]
        def check_schedule(self) -> None:
            nodes = [(n, p) for n, p in self.node2pending.items() if not n.shutting_down]

            def idle() -> list[Any]:
                return [n for n, p in nodes if len(p) < MIN_PENDING]

            if not idle():
                return
            if self.pending:  # the start: an equal share each
                todo = idle()
                for i, node in enumerate(todo):
                    self._send_tests(node, len(self.pending) // (len(todo) - i))
                if not idle():
                    return
            if getattr(self, "steal_requested_from_node", None) is not None:
                return
            victim, pending = max(nodes, key=lambda np: len(np[1]), default=(None, []))
            num = min(len(pending) // 2, len(pending) - reserve)
            if victim is None or num <= 0:
                for node in idle():
                    node.shutdown()
                return
            victim.send_steal(pending[-num:])
            self.steal_requested_from_node = victim

    return PrefetchScheduling(config, log)
