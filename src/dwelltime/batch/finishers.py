"""Where a batch job turns predictions into map rows and commits them.

A thread of the job's process, or a pool of processes. Processes keep that Python work, which
holds the interpreter lock for milliseconds at a time in pandas, geopandas and shapely, away
from the thread that launches the network's kernels. They are spawned (the job's process may
hold CUDA and threads), exit when the job's process is killed, and a pool broken by a process
that died (killed for memory, crashed in a library) is replaced, so the job goes on.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool


class Finishers:
    """``processes`` finisher processes, or with 0 one thread of this process; ``slots``:
    how many scenes the job keeps in flight with them."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.slots = max(1, processes)
        self._pool = self._start()

    def _start(self) -> Executor:
        if self.processes == 0:
            return ThreadPoolExecutor(max_workers=1)
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_exit_with_parent,
        )

    def submit(self, fn: Callable, /, *args: object) -> Future:
        """``fn(*args)`` on a finisher; a broken pool is replaced first (the scenes it held
        fail with :class:`~concurrent.futures.process.BrokenProcessPool`)."""
        try:
            return self._pool.submit(fn, *args)
        except BrokenProcessPool:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
            return self._pool.submit(fn, *args)

    def __enter__(self) -> Finishers:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True)


def _exit_with_parent() -> None:
    """In a finisher process: exit as soon as the job's process is gone (killed), rather than
    wait forever on a queue whose other end this process holds too. Commits are atomic, so
    one cut short leaves nothing behind."""
    import os
    import threading
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(1)

    if parent is not None:
        threading.Thread(target=watch, daemon=True).start()
