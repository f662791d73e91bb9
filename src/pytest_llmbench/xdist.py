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
