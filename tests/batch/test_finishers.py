"""The finisher pool: a thread or spawned processes, replaced when a process dies."""

from __future__ import annotations

import os
import signal
from concurrent.futures.process import BrokenProcessPool

import pytest

from dwelltime.batch.finishers import Finishers


def die() -> None:
    os._exit(3)


def test_zero_processes_is_one_thread_of_this_process():
    with Finishers(0) as finishers:
        assert finishers.slots == 1
        assert finishers.submit(os.getpid).result() == os.getpid()


def test_processes_run_elsewhere_and_a_broken_pool_is_replaced():
    with Finishers(1) as finishers:
        assert finishers.slots == 2
        assert finishers.submit(os.getpid).result() != os.getpid()
        with pytest.raises(BrokenProcessPool):
            finishers.submit(die).result()
        assert finishers.submit(abs, -2).result() == 2  # a new pool


def test_processes_are_started_and_ready_before_the_first_scene():
    with Finishers(2) as finishers:
        pids = {p.pid for p in finishers._pool._processes.values()}
        assert len(pids) == 2 and os.getpid() not in pids
        assert all(p.is_alive() for p in finishers._pool._processes.values())


def test_ctrl_c_is_left_to_the_jobs_process(capfd: pytest.CaptureFixture[str]):
    """Ctrl-C in a terminal reaches every process of the job: a finisher process goes on
    (the job's process stops the pool), with no traceback of its own."""
    with Finishers(1) as finishers:
        pid = finishers.submit(os.getpid).result()
        os.kill(pid, signal.SIGINT)
        assert finishers.submit(os.getpid).result() == pid  # the same process, alive
    assert "Traceback" not in capfd.readouterr().err
