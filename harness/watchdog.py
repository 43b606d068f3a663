"""Per-cell time limits, signals the harness handles, and children that die with their parent.

**Time limit.** Each cell (one entrant in one contest) may spend ``timing.cell_timeout_seconds``
in its strategy's code, all its calls together.  :func:`deadline` arms the process's
interval timer for what the cell has left; when it fires, :class:`CellTimeout` is raised
in the main thread, wherever the strategy is (a Python loop, a sleep, a lock wait), and the
cell becomes an ``error`` row "timeout after N s".  This runs in the process that measures
the contest, at the cost of one ``setitimer`` call per step (measured: ~1 us), so the
default in-process run keeps its allocator regime and its speed.  Code stuck inside one C
call never returns to Python for the signal to act: a process measuring contests in a child
(``timing.processes``, or a contest that killed the harness last time: see
:mod:`harness.isolation`) is also watched from outside and killed, and the rest of its
contest goes on in a fresh child.

``CellTimeout`` derives from ``BaseException`` so that a strategy's own ``except Exception``
cannot swallow it.  SIGTERM is handled like Ctrl-C (:func:`terminate_like_interrupt`).
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1


class CellTimeout(BaseException):
    """A cell ran past its time limit (raised in the main thread by the interval timer)."""


def _raise_timeout(signum, frame):
    raise CellTimeout()


def _can_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def deadline(seconds: float):
    """Raise :class:`CellTimeout` in this block after ``seconds`` (no limit where the OS has no timer)."""
    if not _can_alarm() or seconds == float("inf"):
        yield
        return
    if seconds <= 0:
        raise CellTimeout()
    previous = signal.signal(signal.SIGALRM, _raise_timeout)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


@contextlib.contextmanager
def terminate_like_interrupt():
    """Within this block SIGTERM raises KeyboardInterrupt, so a killed run leaves the same hint as Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def die_with_parent() -> None:
    """In a child process: be killed when the parent dies (Linux's PR_SET_PDEATHSIG), and check it now."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:   # the parent died before the request was made
        os._exit(1)
