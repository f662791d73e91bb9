"""Concurrent generation ahead of the item loop, in a bounded window.

pytest runs items one by one; the scheduler keeps up to ``concurrency`` requests
in flight for the items that come next, so a pack of N scenarios against a server
with C slots takes about N/C rounds of latency instead of N. Items still verify
(and report) in pytest's order: each waits only for its own generation.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class DaemonPool:
    """Up to ``workers`` daemon threads over a queue.

    Not ThreadPoolExecutor: the interpreter joins its threads at exit, so after Ctrl-C
    or ``-x`` the process would wait for every request still in flight, minutes against
    a slow model. Daemon threads end with the process (their results were not wanted),
    and the closed connections tell the server to stop generating."""

    def __init__(self, workers: int, name: str = "llmbench-gen"):
        self.workers = workers
        self.name = name
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        fut: Future[T] = Future()
        self._queue.put((fut, fn))
        with self._lock:
            if len(self._threads) < self.workers:
                t = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(t)
                t.start()
        return fut

    def _work(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is None:
                return
            fut, fn = entry
            if not fut.set_running_or_notify_cancel():
                continue  # cancelled while queued
            try:
                result = fn()
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting item
                fut.set_exception(exc)
            else:
                fut.set_result(result)

    def shutdown(self) -> None:
        """Stop the threads once the queue drains; queued jobs should be cancelled first."""
        with self._lock:
            for _ in self._threads:
                self._queue.put(None)
            self._threads = []


class Scheduler(Generic[T]):
    """Runs jobs on a thread pool; ``window`` bounds jobs submitted but not yet
    consumed, so memory stays bounded for 10k scenarios."""

    def __init__(self, concurrency: int, window: int | None = None):
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.concurrency = concurrency
        self.window = window or max(4 * concurrency, 8)
        self._pool: DaemonPool | None = None
        self._futures: dict[Hashable, tuple[object, Future[T]]] = {}
        self._lock = threading.Lock()
        self.submitted = 0

    def _executor(self) -> DaemonPool:
        if self._pool is None:
            self._pool = DaemonPool(self.concurrency)
        return self._pool

    def prefetch(
        self, jobs: Iterable[tuple[Hashable, object, Callable[[], T]]], *, bounded: bool = True
    ) -> None:
        """Submit upcoming jobs (key, tag, fn) until the window is full. ``tag`` is what
        the job was built with (e.g. the endpoint); a later ``take`` with another tag
        discards the prefetched result. ``bounded=False`` lets a caller that
        offers only a few jobs at a time (and checks the window itself) go past it."""
        with self._lock:
            for key, tag, fn in jobs:
                if bounded and len(self._futures) >= self.window:
                    break
                if key in self._futures:
                    continue
                self._futures[key] = (tag, self._executor().submit(fn))
                self.submitted += 1

    def take(self, key: Hashable, tag: object, fn: Callable[[], T]) -> T:
        """The job's result: prefetched if it was, else run now in this thread."""
        with self._lock:
            entry = self._futures.pop(key, None)
        if entry is not None:
            old_tag, fut = entry
            if old_tag is tag:
                return fut.result()
            fut.cancel()
        return fn()

    def pending(self) -> int:
        with self._lock:
            return len(self._futures)

    def close(self) -> None:
        with self._lock:
            futures = list(self._futures.values())
            self._futures.clear()
        for _, fut in futures:
            fut.cancel()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
