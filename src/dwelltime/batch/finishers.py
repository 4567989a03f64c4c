"""Where a batch job turns predictions into map rows and commits them.

A thread of the job's process, or a pool of processes. Processes keep that Python work, which
holds the interpreter lock for milliseconds at a time in pandas, geopandas and shapely, away
from the thread that launches the network's kernels. They are spawned (the job's process may
hold CUDA and threads), exit when the job's process is killed, and a pool broken by a process
that died (killed for memory, crashed in a library) is replaced, so the job goes on.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool


class Finishers:
    """``processes`` finisher processes, or with 0 one thread of this process; ``slots``:
    how many scenes the job keeps in flight with them (two per process: one at work, one
    waiting, so that a process never idles while the job's thread is busy with the GPU).
    Processes are started, and have imported what finishing a scene needs, before the
    constructor returns (on a busy 16-core GPU box that took seconds, which would otherwise
    stall the first scenes)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.slots = max(1, 2 * processes)
        self._pool = self._start()

    def _start(self) -> Executor:
        if self.processes == 0:
            return ThreadPoolExecutor(max_workers=1)
        pool = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_finisher,
        )
        # each submission to a pool without an idle process starts one: all of them, now
        for ready in [pool.submit(os.getpid) for _ in range(self.processes)]:
            ready.result()
        return pool

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


def _start_finisher() -> None:
    """In a new finisher process: leave Ctrl-C to the job's process (a terminal sends it to
    every process of the job: a finisher would die with a traceback; the job's process stops
    the pool, letting the scenes it holds commit), watch the job's process
    (:func:`_exit_with_parent`) and import the code that finishes a scene (post-processing,
    commit) and what it imports."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    import dwelltime.batch.runner
    import dwelltime.detector.predict  # noqa: F401


def _exit_with_parent() -> None:
    """In a finisher process: exit as soon as the job's process is gone (killed), rather than
    wait forever on a queue whose other end this process holds too. Commits are atomic, so
    one cut short leaves nothing behind."""
    import threading
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(1)

    if parent is not None:
        threading.Thread(target=watch, daemon=True).start()
