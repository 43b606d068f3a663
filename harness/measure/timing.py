"""Honest timing primitives: the thread budget, one sample, and the statistics of many.

Why these choices (after torch.utils.benchmark and pyperf):

* **One thread by default.** A single core shows algorithmic efficiency; more threads mix
  in the libraries' parallel scaling.  The budget is applied in one context
  (:func:`thread_budget`) around every call the harness makes: ``threadpoolctl`` for
  BLAS/OpenMP, ``scipy.fft.set_workers`` for scipy.fft (which threadpoolctl does not reach),
  and ``torch.set_num_threads`` when the torch peer is loaded.  Strategies set no threads
  themselves; the parallel wrapper, whose algorithm is the split over workers, limits its
  own workers only.
* **Blocks for short calls**: a sample is the mean of ``k`` back-to-back calls, ``k`` chosen
  so a block lasts about ``block_seconds`` (1 for longer calls, which are timed one by one).
  One millisecond call is at the mercy of every timer tick and page fault; the mean of a
  block is not (torch.utils.benchmark does the same).
* **Garbage collector off** inside a sample, so a collection triggered by someone else's
  garbage is not charged to the call.
* **Medians and IQR, not means**: timing noise on a shared VM is one-sided and heavy-tailed.

The order samples are taken in (contests measured in rounds) is the contest's business:
see :mod:`harness.contest`.
"""
from __future__ import annotations

import contextlib
import gc
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import scipy.fft
from threadpoolctl import threadpool_limits


@contextlib.contextmanager
def thread_budget(threads: int):
    """Limit BLAS/OpenMP, scipy.fft and (when loaded) torch's intra-op pool to ``threads``."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=threads), scipy.fft.set_workers(threads):
        if torch is not None:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)


@contextlib.contextmanager
def gc_disabled():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def seconds_of(fn: Callable[[], object]) -> float:
    """Wall seconds of one call of ``fn`` (its result is dropped at once)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def block_size(one_call: float, block_seconds: float) -> int:
    """Calls per sample so that a block lasts about ``block_seconds`` (1 for calls longer than that)."""
    return max(1, min(1000, round(block_seconds / max(one_call, 1e-9))))


def time_block(fn: Callable[[], object], calls: int) -> float:
    """Per-call seconds of ``calls`` back-to-back calls of ``fn``, garbage collector off."""
    with gc_disabled():
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - t0) / calls


@dataclass
class Timing:
    """One cell's timing: the cold call apart, then samples (per-call seconds of a block each)."""

    cold_seconds: float
    block_calls: int
    seconds: list[float] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)   # the contest round each sample was taken in

    @property
    def median(self) -> float:
        return float(np.median(self.seconds))

    @property
    def iqr(self) -> float:
        q1, q3 = np.percentile(self.seconds, [25, 75])
        return float(q3 - q1)

    @property
    def spent(self) -> float:
        """Seconds the samples took (every call of every block)."""
        return float(sum(self.seconds)) * self.block_calls
